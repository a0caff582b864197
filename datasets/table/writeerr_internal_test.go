package table

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type errRow struct {
	ID   int64     `parquet:"id"`
	Vals []float32 `parquet:"vals,list"`
}

// errRows returns n rows of incompressible values, large enough that the
// writer's buffer spills into the file within a row group.
func errRows(n int) []errRow {
	rows := make([]errRow, n)
	x := uint64(n)
	for i := range rows {
		v := make([]float32, 4096)
		for j := range v {
			x = x*6364136223846793005 + 1442695040888963407
			v[j] = float32(x>>40) / (1 << 24)
		}
		rows[i] = errRow{ID: int64(i), Vals: v}
	}
	return rows
}

// TestCloseAfterWriteError makes one Write fail after some rows are in the
// file, then calls Close (as a stage that ignores or logs the error would):
// Close must return an error and commit nothing, since the file lacks rows
// the caller wrote; a later Write fails too. The failures:
//   - "file": the file's descriptor is swapped for a closed one while
//     Write runs (parquet-go's writer keeps that error);
//   - "splice": a row group's encoder writes another schema, so splicing
//     the group into the file fails, and the encoder is fixed afterwards.
//     Close committed the file without that row group.
func TestCloseAfterWriteError(t *testing.T) {
	for _, tc := range []struct {
		fail    string
		workers int
	}{
		{"file", 0}, {"file", 1}, {"file", 2},
		{"splice", 1},
	} {
		t.Run(fmt.Sprintf("%s,workers=%d", tc.fail, tc.workers), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.parquet")
			w, err := Create[errRow](p, nil, "x", Options{Workers: tc.workers, RowGroupRows: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			if err := w.Write(errRows(8)); err != nil {
				t.Fatal(err)
			}
			if w.g != nil {
				for len(w.g.pending) > 0 { // the 8 rows are in the file
					if err := w.g.spliceOldest(); err != nil {
						t.Fatal(err)
					}
				}
			}
			var werr error
			switch tc.fail {
			case "file":
				real := w.f.File
				closed, err := os.Open(os.DevNull)
				if err != nil {
					t.Fatal(err)
				}
				closed.Close()
				w.f.File = closed
				werr = w.Write(errRows(40))
				w.f.File = real
			case "splice":
				<-w.g.encs
				w.g.encs <- parquet.NewGenericWriter[errRow](io.Discard,
					parquet.NewSchema("other", parquet.Group{"id": parquet.Leaf(parquet.ByteArrayType)}))
				werr = w.Write(errRows(4))
				<-w.g.encs
				w.g.encs <- nil // a fresh encoder from now on
			}
			if werr == nil || !strings.Contains(werr.Error(), p) {
				t.Fatalf("the injected failure: Write returned %v, want an error naming the file", werr)
			}
			if err := w.Write(errRows(4)); err == nil {
				t.Errorf("Write after a failed Write succeeded")
			}
			cerr := w.Close()
			if cerr == nil || !strings.Contains(cerr.Error(), p) {
				t.Errorf("Close after a failed Write returned %v, want an error naming the file", cerr)
			}
			if _, err := os.Stat(p); err == nil {
				rows, _ := ReadAll[errRow](t.Context(), p)
				t.Errorf("Close after a failed Write committed %s with %d rows", p, len(rows))
			}
			if m, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*tmp-*")); len(m) > 0 {
				t.Errorf("temporary files left: %v", m)
			}
		})
	}
}
