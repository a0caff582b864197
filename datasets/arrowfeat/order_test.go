package arrowfeat_test

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"coderflow/datasets/arrowfeat"
	"coderflow/datasets/table"
)

// reordered is a features table with its columns in another order and an
// extra column, as a hand-made or DuckDB-written shard may have them.
type reordered struct {
	Feats    []float32 `parquet:"feats,list"`
	Extra    string    `parquet:"extra"`
	Dim      int32     `parquet:"dim"`
	ImageID  int64     `parquet:"image_id"`
	Boxes    []float32 `parquet:"boxes,list"`
	NRegions int32     `parquet:"n_regions"`
}

// doubleFeats has float64 feature values.
type doubleFeats struct {
	ImageID  int64     `parquet:"image_id"`
	NRegions int32     `parquet:"n_regions"`
	Dim      int32     `parquet:"dim"`
	Boxes    []float32 `parquet:"boxes,list"`
	Feats    []float64 `parquet:"feats,list"`
}

// TestReaderColumnOrder reads shards whose columns are in another order
// than the canonical one (alone, and after a canonical shard): table.Scan
// reads them, so the Reader must too, with the batch columns in the order
// of arrowfeat.Columns and the right values under each name. The Reader
// refused them ("column 0 is "feats", want "image_id""). A shard with a
// wrong type stays an error naming the file and the column.
func TestReaderColumnOrder(t *testing.T) {
	dir := t.TempDir()
	canon := writeShards(t, dir, []int{5}, 2, 3, 2)[0]
	re := filepath.Join(dir, "reordered.parquet")
	var rows []reordered
	for id := int64(5); id < 12; id++ {
		f := featRow(id, 2, 3)
		rows = append(rows, reordered{Feats: f.Feats, Extra: "x", Dim: f.Dim, ImageID: id, Boxes: f.Boxes, NRegions: f.NRegions})
	}
	if err := table.WriteFile(re, nil, table.Features, table.Options{RowGroupRows: 3}, rows); err != nil {
		t.Fatal(err)
	}
	dbl := filepath.Join(dir, "double.parquet")
	if err := table.WriteFile(dbl, nil, table.Features, table.Options{}, []doubleFeats{{ImageID: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		files   []string
		first   int64 // image_id of the first row
		rows    int
		wantErr []string // substrings of the error; nil for none
	}{
		{"reordered", []string{re}, 5, 7, nil},
		{"canonical then reordered", []string{canon, re}, 0, 12, nil},
		{"double feats", []string{dbl}, 0, 0, []string{dbl, `column "feats"`}},
		{"canonical then double feats", []string{canon, dbl}, 0, 5, []string{dbl, `column "feats"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			n, err := func() (int, error) {
				r, err := arrowfeat.NewReader(mem, tc.files, arrowfeat.Options{BatchRows: 2, Workers: 2})
				if err != nil {
					return 0, err
				}
				defer r.Close()
				n := 0
				for {
					rec, err := r.Next(t.Context())
					if errors.Is(err, io.EOF) {
						return n, nil
					}
					if err != nil {
						return n, err
					}
					if got := fieldNames(rec.Schema()); got != strings.Join(arrowfeat.Columns, ",") {
						rec.Release()
						return n, errors.New("batch columns " + got)
					}
					checkBatch(t, rec, 2, 3) // values match their image_id
					for i, id := range rec.Column(0).(*array.Int64).Int64Values() {
						if want := tc.first + int64(n+i); id != want {
							rec.Release()
							return n, fmt.Errorf("row %d has image_id %d, want %d", n+i, id, want)
						}
					}
					n += int(rec.NumRows())
					rec.Release()
				}
			}()
			if tc.wantErr == nil {
				if err != nil || n != tc.rows {
					t.Fatalf("read %d rows, %v; want %d", n, err, tc.rows)
				}
				return
			}
			if err == nil {
				t.Fatalf("read %d rows, no error; want one naming %q", n, tc.wantErr)
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
}
