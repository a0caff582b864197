package arrowfeat_test

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"coderflow/datasets/arrowfeat"
)

// rewriteFooter returns the Parquet file b with its footer changed by edit.
func rewriteFooter(t *testing.T, b []byte, edit func(*format.FileMetaData)) []byte {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	body, footer := b[:len(b)-8-n], b[len(b)-8-n:len(b)-8]
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &md); err != nil {
		t.Fatal(err)
	}
	edit(&md)
	nf, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	if err != nil {
		t.Fatal(err)
	}
	out := append(append([]byte(nil), body...), nf...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(nf)))
	return append(out, "PAR1"...)
}

// TestReaderChunkOffsetOverflow: a footer whose column chunk starts near
// the largest int64 passed the check that chunks lie within the file,
// because offset + size wrapped around to a negative number; the chunk
// was then handed to arrow-go, whose decoding goroutines are outside the
// reader's panic recovery. Now it is refused as outside the file, by the
// Reader and by ImageIDs.
func TestReaderChunkOffsetOverflow(t *testing.T) {
	dir := t.TempDir()
	good := writeShards(t, dir, []int{6}, 2, 3, 4)[0]
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []int{0, 4} { // image_id (read by ImageIDs too), feats
		p := filepath.Join(dir, "overflow.parquet")
		bad := rewriteFooter(t, b, func(md *format.FileMetaData) {
			cc := &md.RowGroups[0].Columns[col].MetaData
			cc.DataPageOffset = math.MaxInt64 - 10
			if cc.DictionaryPageOffset != 0 {
				cc.DictionaryPageOffset = math.MaxInt64 - 10
			}
		})
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		rows := 0
		err := func() error {
			r, err := arrowfeat.NewReader(memory.NewGoAllocator(), []string{p}, arrowfeat.Options{Workers: 1})
			if err != nil {
				return err
			}
			defer r.Close()
			for {
				rec, err := r.Next(t.Context())
				if err != nil {
					return err
				}
				rows += int(rec.NumRows())
				rec.Release()
			}
		}()
		if errors.Is(err, io.EOF) || err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "outside the") {
			t.Errorf("column %d: reader error %v after %d of 6 rows; want one naming %s: chunk outside the file", col, err, rows, p)
		}
		if col == 0 {
			err := arrowfeat.ImageIDs(t.Context(), []string{p}, func(int64) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "outside the") {
				t.Errorf("ImageIDs: %v; want a chunk outside the file", err)
			}
		}
	}
}

// openFDs counts this process's open file descriptors (Linux).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestReaderClosesDamagedFiles (found by FuzzReader: "too many open
// files"): a shard whose footer does not parse was left open by arrow-go's
// OpenParquetFile until the garbage collector closed it, by NewReader and
// by ImageIDs; a run over many damaged files ran out of descriptors.
func TestReaderClosesDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	garbage, _ := badFiles(t, dir)
	trailer := filepath.Join(dir, "trailer.parquet") // magic at both ends, a footer length too large
	if err := os.WriteFile(trailer, []byte("PAR1\x00\x00\x00\x00\xff\xff\x00\x00PAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no finalizer closes them meanwhile
	before := openFDs(t)
	for range 50 {
		for _, p := range []string{garbage, trailer} {
			if r, err := arrowfeat.NewReader(memory.NewGoAllocator(), []string{p}, arrowfeat.Options{}); err == nil {
				r.Close()
				t.Fatalf("%s: no error", p)
			}
			if err := arrowfeat.ImageIDs(t.Context(), []string{p}, func(int64) error { return nil }); err == nil {
				t.Fatalf("%s: ImageIDs: no error", p)
			}
		}
	}
	if after := openFDs(t); after > before+10 {
		t.Fatalf("%d files open before, %d after reading damaged files 200 times", before, after)
	}
}
