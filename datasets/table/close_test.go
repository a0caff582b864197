package table_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coderflow/datasets/table"
)

// TestCloseTwice closes a writer twice and writes after Close, with every
// write path: the second Close reports the first one's result (nil), the
// write an error naming the file, and neither hangs (the Workers writer
// with a Reuse waited forever for encoders already handed back).
func TestCloseTwice(t *testing.T) {
	for _, workers := range []int{0, 1, 2} {
		for _, reuse := range []*table.Reuse{nil, new(table.Reuse)} {
			name := fmt.Sprintf("workers=%d,reuse=%v", workers, reuse != nil)
			p := filepath.Join(t.TempDir(), "x.parquet")
			w, err := table.Create[table.FeatureRow](p, nil, table.Features, table.Options{Workers: workers, Reuse: reuse, RowGroupRows: 3})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(featureRows(10)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			wait := func(what string) error {
				select {
				case err := <-done:
					return err
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: %s hangs", name, what)
					return nil
				}
			}
			go func() { done <- w.Close() }()
			if err := wait("second Close"); err != nil {
				t.Errorf("%s: second Close: %v", name, err)
			}
			go func() { done <- w.Write(featureRows(2)) }()
			if err := wait("Write after Close"); err == nil || !strings.Contains(err.Error(), p) {
				t.Errorf("%s: Write after Close: %v", name, err)
			}
			w.Abort() // a no-op after Close: the file stays
			rows, err := table.ReadAll[table.FeatureRow](t.Context(), p)
			if err != nil || len(rows) != 10 {
				t.Errorf("%s: read back %d rows, %v", name, len(rows), err)
			}
		}
	}
}

// TestHugeRowGroupRows asks for one row group per file with a RowGroupRows
// far above the rows written, with and without ExpectedRows: the writer
// must not allocate for the rows that never come (it made a []T of
// RowGroupRows capacity per row group and died out of memory).
func TestHugeRowGroupRows(t *testing.T) {
	for _, workers := range []int{0, 1, 2} {
		for _, expected := range []int64{0, 10} {
			p := filepath.Join(t.TempDir(), "x.parquet")
			w, err := table.Create[table.FeatureRow](p, nil, table.Features,
				table.Options{Workers: workers, RowGroupRows: 1 << 40, ExpectedRows: expected})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(featureRows(10)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if n := len(openFile(t, p).RowGroups()); n != 1 {
				t.Errorf("workers %d, expected %d: %d row groups, want 1", workers, expected, n)
			}
		}
	}
}
