package arrowfeat_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"coderflow/datasets/arrowfeat"
	"coderflow/datasets/table"
)

// featRow builds a deterministic row: values encode (id, region, index).
func featRow(id int64, n, dim int) table.FeatureRow {
	r := table.FeatureRow{ImageID: id, NRegions: int32(n), Dim: int32(dim),
		Boxes: make([]float32, n*4), Feats: make([]float32, n*dim)}
	for i := range r.Boxes {
		r.Boxes[i] = float32(id) + float32(i)/1000
	}
	for i := range r.Feats {
		r.Feats[i] = float32(id)*0.5 + float32(i)
	}
	return r
}

// writeShards writes len(sizes) shards with the given row counts.
func writeShards(t *testing.T, dir string, sizes []int, n, dim int, rowGroup int64) []string {
	t.Helper()
	var files []string
	id := int64(0)
	for s, size := range sizes {
		p := filepath.Join(dir, fmt.Sprintf("part-%05d.parquet", s))
		rows := make([]table.FeatureRow, size)
		for i := range rows {
			rows[i] = featRow(id, n, dim)
			id++
		}
		if err := table.WriteFile(p, nil, table.Features, table.Options{RowGroupRows: rowGroup}, rows); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	return files
}

func TestReaderStreamsAllRows(t *testing.T) {
	const n, dim = 3, 5
	tests := []struct {
		name      string
		sizes     []int
		rowGroup  int64
		opt       arrowfeat.Options
		maxBatch  int64
		wantTotal int
	}{
		{"defaults", []int{10, 7}, 4, arrowfeat.Options{}, 256, 17},
		{"one worker", []int{10, 7}, 4, arrowfeat.Options{Workers: 1}, 256, 17},
		{"more workers than row groups", []int{9, 1, 30}, 2, arrowfeat.Options{Workers: 5, BatchRows: 3}, 3, 40},
		{"small batches", []int{10, 0, 7}, 3, arrowfeat.Options{BatchRows: 4}, 4, 17},
		// Row groups of 5, 5 and 4, 3 rows: batches of 3, 2, 3, 2, 3, 1, 3.
		{"batches not dividing row groups", []int{10, 7}, 5, arrowfeat.Options{BatchRows: 3, Workers: 2}, 3, 17},
		{"empty first shard", []int{0, 7}, 5, arrowfeat.Options{BatchRows: 3}, 3, 7},
		// Each row decodes to ≈ (8+4+4+12*4+15*4)+slack bytes; a 1 KiB budget
		// over the batches in flight allows only a few rows per batch.
		{"tight budget", []int{20}, 8, arrowfeat.Options{BatchRows: 256, MemoryBudget: 1 << 10}, 8, 20},
		{"no files", nil, 4, arrowfeat.Options{}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			files := writeShards(t, t.TempDir(), tc.sizes, n, dim, tc.rowGroup)
			r, err := arrowfeat.NewReader(mem, files, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := fieldNames(r.Schema()); got != strings.Join(arrowfeat.Columns, ",") {
				t.Fatalf("schema %s", got)
			}
			total := 0
			next := int64(0) // rows come out in file and row order
			for {
				rec, err := r.Next(t.Context())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if rec.NumRows() > tc.maxBatch {
					t.Errorf("batch of %d rows, want ≤ %d", rec.NumRows(), tc.maxBatch)
				}
				checkBatch(t, rec, n, dim)
				for _, id := range rec.Column(0).(*array.Int64).Int64Values() {
					if id != next {
						t.Fatalf("row %d has image_id %d: out of order", next, id)
					}
					next++
				}
				total += int(rec.NumRows())
				rec.Release()
			}
			if total != tc.wantTotal {
				t.Fatalf("read %d rows, want %d", total, tc.wantTotal)
			}
			if _, err := r.Next(t.Context()); !errors.Is(err, io.EOF) {
				t.Fatalf("after EOF: %v", err)
			}
		})
	}
}

func fieldNames(s *arrow.Schema) string {
	var names []string
	for _, f := range s.Fields() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ",")
}

// checkBatch verifies every value of a batch against featRow, through the
// raw arrays and through a View.
func checkBatch(t *testing.T, rec arrow.Record, n, dim int) {
	t.Helper()
	v, err := arrowfeat.NewView(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < v.Len(); i++ {
		want := featRow(v.IDs[i], n, dim)
		if v.NRegions[i] != want.NRegions || v.Dim[i] != want.Dim || !slices.Equal(v.Boxes(i), want.Boxes) || !slices.Equal(v.Feats(i), want.Feats) {
			t.Fatalf("view row %d differs", i)
		}
	}
	ids := rec.Column(0).(*array.Int64)
	nr := rec.Column(1).(*array.Int32)
	dm := rec.Column(2).(*array.Int32)
	boxes := rec.Column(3).(*array.List)
	feats := rec.Column(4).(*array.List)
	bv := boxes.ListValues().(*array.Float32)
	fv := feats.ListValues().(*array.Float32)
	for i := 0; i < int(rec.NumRows()); i++ {
		want := featRow(ids.Value(i), n, dim)
		if nr.Value(i) != want.NRegions || dm.Value(i) != want.Dim {
			t.Fatalf("row %d: n=%d dim=%d", i, nr.Value(i), dm.Value(i))
		}
		s, e := boxes.ValueOffsets(i)
		if int(e-s) != len(want.Boxes) {
			t.Fatalf("row %d: %d box values", i, e-s)
		}
		for k := s; k < e; k++ {
			if bv.Value(int(k)) != want.Boxes[k-s] {
				t.Fatalf("row %d box %d: %v want %v", i, k-s, bv.Value(int(k)), want.Boxes[k-s])
			}
		}
		s, e = feats.ValueOffsets(i)
		if int(e-s) != len(want.Feats) {
			t.Fatalf("row %d: %d feat values", i, e-s)
		}
		for k := s; k < e; k++ {
			if fv.Value(int(k)) != want.Feats[k-s] {
				t.Fatalf("row %d feat %d: %v want %v", i, k-s, fv.Value(int(k)), want.Feats[k-s])
			}
		}
	}
}

func TestReaderEarlyCloseReleasesEverything(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	files := writeShards(t, t.TempDir(), []int{50, 50}, 4, 8, 10)
	r, err := arrowfeat.NewReader(mem, files, arrowfeat.Options{BatchRows: 5})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.Next(t.Context()); err == nil {
		t.Fatal("Next after Close succeeded")
	}
}

func TestReaderCancelledContext(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	files := writeShards(t, t.TempDir(), []int{10}, 2, 2, 5)
	r, err := arrowfeat.NewReader(mem, files, arrowfeat.Options{BatchRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Take a batch, so the next ones are decoded and waiting.
	rec, err := r.Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// The cancelled context wins over the ready batches, every time, and
	// no batch leaks.
	for i := 0; i < 20; i++ {
		rec, err := r.Next(ctx)
		if err == nil {
			rec.Release()
			t.Fatalf("Next %d with a cancelled context returned a batch", i)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
	}
	// The error is not sticky: the reader goes on with a live context.
	rec, err = r.Next(t.Context())
	if err != nil {
		t.Fatalf("after the cancelled Next: %v", err)
	}
	rec.Release()
}

// badFiles writes two files in dir that are no feature shards: one not
// Parquet at all, one a captions table.
func badFiles(t *testing.T, dir string) (garbage, captions string) {
	t.Helper()
	garbage = filepath.Join(dir, "garbage.parquet")
	if err := os.WriteFile(garbage, []byte("not a parquet file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	captions = filepath.Join(dir, "captions.parquet")
	if err := table.WriteFile(captions, nil, table.Captions, table.Options{}, []table.CaptionRow{{CaptionID: 1, Text: "a"}}); err != nil {
		t.Fatal(err)
	}
	return garbage, captions
}

func TestReaderBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := writeShards(t, dir, []int{3}, 1, 2, 3)[0]
	garbage, captions := badFiles(t, dir)
	missing := filepath.Join(dir, "missing.parquet")
	tests := []struct {
		name  string
		files []string
		want  string // substring of the error
		late  bool   // error reported by Next rather than NewReader
	}{
		{"missing first", []string{missing}, "missing.parquet", false},
		{"garbage first", []string{garbage}, "garbage.parquet", false},
		{"wrong table", []string{captions}, `no column "n_regions"`, false},
		{"missing later", []string{good, missing}, "missing.parquet", true},
		{"wrong table later", []string{good, captions}, "captions.parquet", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r, err := arrowfeat.NewReader(mem, tc.files, arrowfeat.Options{})
			if !tc.late {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					if r != nil {
						r.Close()
					}
					t.Fatalf("NewReader error %v, want it to mention %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for {
				rec, err := r.Next(t.Context())
				if err == nil {
					rec.Release()
					continue
				}
				if errors.Is(err, io.EOF) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Next error %v, want it to mention %q", err, tc.want)
				}
				if _, again := r.Next(t.Context()); again == nil || again.Error() != err.Error() {
					t.Fatalf("error not sticky: %v", again)
				}
				return
			}
		})
	}
}
