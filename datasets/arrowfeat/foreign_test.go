package arrowfeat_test

import (
	"coderflow/internal/testenv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"coderflow/datasets/arrowfeat"
)

// arrowShard writes rows with Arrow's Parquet writer (dictionary encoding
// on, its default) in row groups of rowGroup rows. With nullable every
// column and list element is nullable, as Arrow and DuckDB write them, and
// null(row, column, k) makes value k of a column NULL (k -1: the whole
// value).
func arrowShard(t *testing.T, path string, ids []int64, n, dim int, rowGroup int64, nullable bool, null func(row int, col string, k int) bool, value func(row, k int) float32) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	list := arrow.ListOfNonNullable(arrow.PrimitiveTypes.Float32)
	if nullable {
		list = arrow.ListOf(arrow.PrimitiveTypes.Float32)
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "image_id", Type: arrow.PrimitiveTypes.Int64, Nullable: nullable},
		{Name: "n_regions", Type: arrow.PrimitiveTypes.Int32, Nullable: nullable},
		{Name: "dim", Type: arrow.PrimitiveTypes.Int32, Nullable: nullable},
		{Name: "boxes", Type: list, Nullable: nullable},
		{Name: "feats", Type: list, Nullable: nullable},
	}, nil)
	if null == nil {
		null = func(int, string, int) bool { return false }
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i, id := range ids {
		if null(i, "image_id", -1) {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(id)
		}
		if null(i, "n_regions", -1) {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Int32Builder).Append(int32(n))
		}
		b.Field(2).(*array.Int32Builder).Append(int32(dim))
		for c, col := range []string{"boxes", "feats"} {
			lb := b.Field(3 + c).(*array.ListBuilder)
			if null(i, col, -1) {
				lb.AppendNull()
				continue
			}
			lb.Append(true)
			vb := lb.ValueBuilder().(*array.Float32Builder)
			m := n * 4
			if col == "feats" {
				m = n * dim
			}
			for k := range m {
				switch {
				case null(i, col, k):
					vb.AppendNull()
				case col == "feats" && value != nil:
					vb.Append(value(i, k))
				default:
					vb.Append(float32(id) + float32(k)/1000)
				}
			}
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem))
	testenv.WriteArrowParquet(t, path, rec, parquet.NewWriterProperties(parquet.WithAllocator(mem), parquet.WithMaxRowGroupLength(rowGroup), parquet.WithDictionaryDefault(true)), &aprops)
}

func seq(n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(100 + i)
	}
	return ids
}

// readAll reads files to the end and returns the image ids and the error
// that ended the reading (nil at io.EOF).
func readAll(t *testing.T, mem memory.Allocator, files []string, opt arrowfeat.Options) ([]int64, error) {
	t.Helper()
	r, err := arrowfeat.NewReader(mem, files, opt)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var ids []int64
	for {
		rec, err := r.Next(t.Context())
		if errors.Is(err, io.EOF) {
			return ids, nil
		}
		if err != nil {
			return ids, err
		}
		v, err := arrowfeat.NewView(rec)
		if err != nil {
			rec.Release()
			return ids, err
		}
		ids = append(ids, v.IDs...)
		rec.Release()
	}
}

// TestReaderNulls reads shards with nullable columns. Without a NULL they
// read as parquet-go's do; a NULL image_id (it came through as the next
// row's id), n_regions, box list or feature value (it read as whatever the
// buffer held) is an error naming the file, the column and the row.
func TestReaderNulls(t *testing.T) {
	t.Parallel()
	const n, dim = 2, 3
	dir := t.TempDir()
	ok := filepath.Join(dir, "nullable.parquet")
	arrowShard(t, ok, seq(10), n, dim, 4, true, nil, nil)
	t.Run("no NULL", func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		ids, err := readAll(t, mem, []string{ok}, arrowfeat.Options{BatchRows: 3})
		if err != nil || fmt.Sprint(ids) != fmt.Sprint(seq(10)) {
			t.Fatalf("ids %v, %v", ids, err)
		}
	})
	for _, tc := range []struct {
		col  string
		row  int
		k    int
		want string
	}{
		{"image_id", 6, -1, `column "image_id"`},
		{"n_regions", 2, -1, `column "n_regions"`},
		{"boxes", 9, -1, `column "boxes"`},
		{"feats", 5, 4, `column "feats"`},
		{"feats", 0, 0, `column "feats"`},
	} {
		t.Run(fmt.Sprintf("NULL %s %d %d", tc.col, tc.row, tc.k), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "part-00000.parquet")
			arrowShard(t, p, seq(10), n, dim, 4, true, func(row int, col string, k int) bool {
				return row == tc.row && col == tc.col && k == tc.k
			}, nil)
			for _, w := range []int{1, 3} {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				ids, err := readAll(t, mem, []string{ok, p}, arrowfeat.Options{BatchRows: 3, Workers: w})
				mem.AssertSize(t, 0)
				if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), fmt.Sprintf("row %d", tc.row)) {
					t.Fatalf("workers %d: ids %v, error %v; want one naming %s, %s and row %d", w, ids, err, p, tc.want, tc.row)
				}
				if len(ids) > 10+tc.row {
					t.Fatalf("workers %d: %d rows handed out, the NULL is in row %d of the second file", w, len(ids), tc.row)
				}
			}
		})
	}
}

// peakAllocator records the largest number of bytes allocated at once.
type peakAllocator struct {
	*memory.CheckedAllocator
	mu   sync.Mutex
	peak int
}

func (a *peakAllocator) Allocate(size int) []byte {
	b := a.CheckedAllocator.Allocate(size)
	a.note()
	return b
}

func (a *peakAllocator) Reallocate(size int, b []byte) []byte {
	b = a.CheckedAllocator.Reallocate(size, b)
	a.note()
	return b
}

func (a *peakAllocator) note() {
	a.mu.Lock()
	a.peak = max(a.peak, a.CheckedAllocator.CurrentAlloc())
	a.mu.Unlock()
}

// TestReaderBudgetDictionaryShard reads a shard whose feature values are
// dictionary-encoded (few distinct values: a 64-KB row is a few hundred
// bytes in the file). The batch size follows the decoded size of a row, not
// the encoded one, so the batches in flight fit the memory budget (a 16 MB
// budget peaked at 68 MB).
func TestReaderBudgetDictionaryShard(t *testing.T) {
	t.Parallel()
	const n, dim, rows = 16, 1024, 96
	const rowBytes = 8 + 4 + 4 + 4*(n*4) + 4*(n*dim) // decoded values of a row
	p := filepath.Join(t.TempDir(), "part-00000.parquet")
	arrowShard(t, p, seq(rows), n, dim, rows, false, nil, func(row, k int) float32 { return float32(k / 512 % 4) })
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > rows*rowBytes/20 {
		t.Fatalf("fixture: %d bytes for %d decoded bytes, not dictionary-encoded", st.Size(), rows*rowBytes)
	}
	const budget = 4 << 20
	for _, workers := range []int{1, 2} {
		opt := arrowfeat.Options{BatchRows: 256, MemoryBudget: budget, Workers: workers}
		inFlight := int64(2*workers + 2)
		mem := &peakAllocator{CheckedAllocator: memory.NewCheckedAllocator(memory.NewGoAllocator())}
		r, err := arrowfeat.NewReader(mem, []string{p}, opt)
		if err != nil {
			t.Fatal(err)
		}
		var biggest int64
		total := 0
		for {
			rec, err := r.Next(t.Context())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			biggest = max(biggest, rec.NumRows())
			total += int(rec.NumRows())
			rec.Release()
		}
		r.Close()
		mem.AssertSize(t, 0)
		if total != rows {
			t.Fatalf("workers %d: %d rows, want %d", workers, total, rows)
		}
		t.Logf("workers %d: batches of up to %d rows (%d KB each), peak allocation %d KB, budget %d KB",
			workers, biggest, biggest*rowBytes>>10, mem.peak>>10, budget>>10)
		if biggest*rowBytes*inFlight > budget {
			t.Errorf("workers %d: batches of %d rows: %d in flight hold %d KB, over the %d KB budget",
				workers, biggest, inFlight, biggest*rowBytes*inFlight>>10, budget>>10)
		}
		// The decoders' own buffers come on top of the batches: allow half
		// the budget for them.
		if mem.peak > budget*3/2 {
			t.Errorf("workers %d: peak allocation %d KB, budget %d KB", workers, mem.peak>>10, budget>>10)
		}
	}
}
