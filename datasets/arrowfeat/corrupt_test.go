package arrowfeat_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/memory"

	"coderflow/datasets/arrowfeat"
)

// TestReaderCorruptShards damages a shard byte by byte. Every read must end
// in io.EOF or an error naming the file: arrow-go panics on some damaged
// footers and pages, and a panic on one of its or the reader's goroutines
// would end the whole process.
func TestReaderCorruptShards(t *testing.T) {
	dir := t.TempDir()
	good := writeShards(t, dir, []int{20}, 3, 4, 7)[0]
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "damaged.parquet")
	failed := 0
	// The first column's page headers and the footer (the column-chunk
	// metadata): damage there made arrow-go panic.
	footer := len(b) - 8 - int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	var offsets []int
	for off := range len(b) {
		if off < 64 || off >= footer {
			offsets = append(offsets, off)
		}
	}
	for _, off := range offsets {
		c := append([]byte(nil), b...)
		c[off] ^= 0x55
		if err := os.WriteFile(p, c, 0o644); err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("byte %d of %d", off, len(b))
		r, err := arrowfeat.NewReader(memory.NewGoAllocator(), []string{p}, arrowfeat.Options{Workers: 1 + off%2})
		if err != nil {
			failed++
			if !strings.Contains(err.Error(), p) {
				t.Errorf("%s: error does not name the file: %v", what, err)
			}
			continue
		}
		for {
			rec, err := r.Next(t.Context())
			if err == nil {
				rec.Release()
				continue
			}
			if !errors.Is(err, io.EOF) {
				failed++
				if !strings.Contains(err.Error(), p) {
					t.Errorf("%s: error does not name the file: %v", what, err)
				}
			}
			break
		}
		r.Close()
	}
	if failed == 0 {
		t.Fatal("no damaged file was reported")
	}
}
