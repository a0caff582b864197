package table_test

import (
	"coderflow/internal/pqcheck/pqchecktest"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"coderflow/datasets/table"
)

// fuzzTables returns small valid table files whose mutations FuzzReadAll
// reads: captions in three row groups (zstd), features with lists (snappy,
// written by the Workers path), a dictionary-encoded column, a tokens file
// written by Arrow (nullable columns, v1 pages, read through checkNulls)
// and captions with nullable columns written by parquet-go (v1 pages).
func fuzzTables(t testing.TB) map[string][]byte {
	files := pqchecktest.NewFiles(t)
	write := files.Write
	write("captions.parquet", func(p string) error {
		return table.WriteFile(p, nil, table.Captions, table.Options{RowGroupRows: 16}, captionRows(40))
	})
	write("features.parquet", func(p string) error {
		rows := []table.FeatureRow{
			{ImageID: 1, NRegions: 2, Dim: 3, Boxes: make([]float32, 8), Feats: []float32{1, 2, 3, 4, 5, 6}},
			{ImageID: 2},
			{ImageID: 3, NRegions: 1, Dim: 2, Boxes: []float32{0, 0, 1, 1}, Feats: []float32{-1, 0.5}},
		}
		return table.WriteFile(p, nil, table.Features, table.Options{Compression: "snappy", RowGroupRows: 2, Workers: 1}, rows)
	})
	write("dict.parquet", func(p string) error {
		return table.WriteFile(p, nil, "dict", table.Options{Compression: "none"}, []dictRow{{1, "a"}, {2, "b"}, {3, "a"}})
	})
	write("tokens-arrow.parquet", func(p string) error {
		writeTokens(t, p, [][]int32{{1, 2, 3}, {}, {4}}, nil)
		return nil
	})
	write("captions-nullable.parquet", func(p string) error {
		return parquet.WriteFile(p, optCaptions(6), parquet.DataPageVersion(1))
	})
	return files.Data
}

// readAs reads path as rows of T with Scan in batches of 3, returning the
// number of rows and the error.
func readAs[T any](ctx context.Context, path string) (int, error) {
	n := 0
	err := table.Scan(ctx, []string{path}, 3, func(b []T) error { n += len(b); return nil })
	return n, err
}

// FuzzReadAll: Scan (as each fixture's row type) and ReadMeta on any bytes
// (mutations of small valid table files) return rows or an error naming
// the file, never panic, and allocate memory bounded by a constant for
// such tiny inputs (a damaged length or count must not make parquet-go
// allocate gigabytes, which for 2^31-element lists was a fatal crash).
//
// Run it with a bounded minimization, which otherwise takes most of the
// time (a minute for each new input, at a few ms an execution):
//
//	go test ./datasets/table -run '^$' -fuzz '^FuzzReadAll$' -fuzztime 2m -fuzzminimizetime 100x -parallel 1
func FuzzReadAll(f *testing.F) {
	for _, data := range fuzzTables(f) {
		f.Add(data)
	}
	p := filepath.Join(f.TempDir(), "fuzz.parquet")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				panic("table: reading a 64 KB input took more than 20 s")
			}
		}()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ctx := t.Context()
		var errs []error
		var rows int
		for _, read := range []func(context.Context, string) (int, error){
			readAs[table.CaptionRow], readAs[table.FeatureRow], readAs[dictRow], readAs[table.TokenRow],
		} {
			n, err := read(ctx, p)
			rows += n
			errs = append(errs, err)
		}
		_, err := table.ReadMeta(p)
		errs = append(errs, err)
		runtime.ReadMemStats(&after)
		close(done)
		if a := after.TotalAlloc - before.TotalAlloc; a > 256<<20 {
			t.Errorf("reading %d bytes allocated %d MB", len(data), a>>20)
		}
		for _, err := range errs {
			if err != nil && !strings.Contains(err.Error(), p) {
				t.Errorf("error does not name the file: %v", err)
			}
		}
		// A page holds at most 16M values (pqcheck): a 64 KB file
		// cannot hold more rows than its pages, 4 reads of them.
		if rows > 4*(64<<10)*8 && rows > 4<<24 {
			t.Errorf("%d rows from %d bytes", rows, len(data))
		}
	})
}
