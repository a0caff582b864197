package pqcheck_test

import (
	"bytes"
	"coderflow/internal/pqcheck/pqchecktest"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	apq "github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"coderflow/internal/pqcheck"
	"coderflow/internal/testenv"
)

// the shared damage helpers (internal/pqcheck/pqchecktest)
func footerOf(t *testing.T, data []byte) format.FileMetaData { return pqchecktest.FooterOf(t, data) }

func withFooter(t *testing.T, data []byte, md *format.FileMetaData) []byte {
	return pqchecktest.WithFooter(t, data, md)
}

// checkAll runs Footer and PagesAndCounts on every row group of data.
func checkAll(t *testing.T, data []byte) error {
	t.Helper()
	r := bytes.NewReader(data)
	if err := pqcheck.Footer(r, int64(len(data))); err != nil {
		return err
	}
	md := footerOf(t, data)
	for g := range md.RowGroups {
		if err := pqcheck.PagesAndCounts(r, int64(len(data)), &md.RowGroups[g]); err != nil {
			return fmt.Errorf("row group %d: %w", g, err)
		}
	}
	return nil
}

// TestWellFormed: files of parquet-go and Arrow, v1 and v2 data pages,
// optional, repeated and nested columns, NULLs, empty lists, dictionaries,
// several pages per column chunk and several row groups pass every check:
// the counts PagesAndCounts compares agree in files that are not damaged.
func TestWellFormed(t *testing.T) {
	type inner struct {
		A int32   `parquet:"a"`
		B *string `parquet:"b,optional"`
	}
	type row struct {
		ID    int64            `parquet:"id"`
		Opt   *int64           `parquet:"opt,optional"`
		S     string           `parquet:"s,dict"`
		L     []int32          `parquet:"l,list"`
		Items []inner          `parquet:"items,list"`
		Tags  map[string]int32 `parquet:"tags"`
		Rep   []string         `parquet:"rep"`
	}
	var rows []row
	for i := range 3000 {
		r := row{ID: int64(i), S: fmt.Sprint(i % 7)}
		if i%3 == 0 {
			v := int64(i)
			r.Opt = &v
		}
		for k := range i % 5 {
			r.L = append(r.L, int32(k))
			r.Rep = append(r.Rep, "x")
		}
		if i%4 == 1 {
			s := "b"
			r.Items = []inner{{1, &s}, {2, nil}}
			r.Tags = map[string]int32{"k": int32(i)}
		}
		rows = append(rows, r)
	}
	dir := t.TempDir()
	files := map[string]string{}
	for _, v := range []int{1, 2} {
		p := filepath.Join(dir, fmt.Sprintf("parquet-go-v%d.parquet", v))
		if err := pq.WriteFile(p, rows, pq.DataPageVersion(v), pq.PageBufferSize(1024), pq.MaxRowsPerRowGroup(1000)); err != nil {
			t.Fatal(err)
		}
		files[fmt.Sprintf("parquet-go v%d", v)] = p
	}
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "ids", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	lb := b.Field(1).(*array.ListBuilder)
	vb := lb.ValueBuilder().(*array.Int32Builder)
	for i := range 3000 {
		if i%5 == 0 {
			b.Field(0).(*array.Int64Builder).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
		}
		switch i % 3 {
		case 0:
			lb.AppendNull()
		case 1:
			lb.Append(true) // empty
		default:
			lb.Append(true)
			vb.AppendValues([]int32{1, 2, 3}, []bool{true, false, true})
		}
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprint("caption ", i))
	}
	rec := b.NewRecord()
	defer rec.Release()
	for _, v := range []apq.DataPageVersion{apq.DataPageV1, apq.DataPageV2} {
		p := filepath.Join(dir, fmt.Sprintf("arrow-v%d.parquet", v+1))
		props := apq.NewWriterProperties(apq.WithDataPageVersion(v), apq.WithDataPageSize(1024), apq.WithMaxRowGroupLength(1000))
		testenv.WriteArrowParquet(t, p, rec, props, nil)
		files[fmt.Sprintf("arrow v%d", v+1)] = p
	}
	// Arrow writes a row group for a record of no rows
	empty := filepath.Join(dir, "arrow-empty-groups.parquet")
	f, err := os.Create(empty)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, apq.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []arrow.Record{rec.NewSlice(0, 0), rec.NewSlice(0, 10), rec.NewSlice(0, 0)} {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
		r.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files["arrow empty row groups"] = empty
	for name, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if md := footerOf(t, data); len(md.RowGroups) < 2 {
			t.Errorf("%s: %d row groups, want several", name, len(md.RowGroups))
		}
		if err := checkAll(t, data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestDamagedCounts: a footer or page header count that disagrees with
// the others is an error naming the column and the chunk's offset
// (parquet-go read one row more, or one fewer, without an error).
func TestDamagedCounts(t *testing.T) {
	type row struct {
		ID int64   `parquet:"id"`
		L  []int32 `parquet:"l,list"`
	}
	rows := []row{{1, []int32{1, 2}}, {2, nil}, {3, []int32{3}}}
	for _, v := range []int{1, 2} {
		p := filepath.Join(t.TempDir(), "f.parquet")
		if err := pq.WriteFile(p, rows, pq.DataPageVersion(v)); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			edit func(*format.FileMetaData)
			want string
		}{
			{"chunk of one value more", func(md *format.FileMetaData) { md.RowGroups[0].Columns[0].MetaData.NumValues++ }, "column id: the pages of the column chunk at offset 4 hold 3 values, the footer says 4"},
			{"chunk without its pages", func(md *format.FileMetaData) { md.RowGroups[0].Columns[1].MetaData.TotalCompressedSize = 0 },
				"column l.list.element: the pages of the column chunk at offset"},
			{"row group of one row more", func(md *format.FileMetaData) { md.RowGroups[0].NumRows++ },
				"column id: the column chunk at offset 4 holds 3 values, fewer than the row group's 4 rows"},
			{"row group of one row fewer", func(md *format.FileMetaData) { md.RowGroups[0].NumRows-- },
				map[int]string{1: "", 2: "column id: the pages of the column chunk at offset 4 hold 3 rows, the footer says the row group has 2"}[v]},
		} {
			t.Run(fmt.Sprintf("v%d %s", v, tc.name), func(t *testing.T) {
				md := footerOf(t, data)
				tc.edit(&md)
				err := checkAll(t, withFooter(t, data, &md))
				if tc.want == "" { // v1 pages do not count rows: parquet-go reads the 3 rows
					if err != nil {
						t.Errorf("error %v", err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want one saying %q", err, tc.want)
				}
			})
		}
	}
}

// TestHugeFooterCount: a 22-byte file whose schema list claims 2^31-1
// elements (parquet-go allocated them, a fatal out-of-memory crash) is an
// error.
func TestHugeFooterCount(t *testing.T) {
	footer := []byte{0x15, 0x02, 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00}
	data := append([]byte("PAR1"), footer...)
	data = binary.LittleEndian.AppendUint32(data, uint32(len(footer)))
	data = append(data, "PAR1"...)
	err := pqcheck.Footer(bytes.NewReader(data), int64(len(data)))
	if err == nil || !strings.Contains(err.Error(), "list size 2147483647, but only") {
		t.Errorf("error %v, want one about the list's size", err)
	}
}
