package table_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	apq "github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/parquet-go/parquet-go"

	"coderflow/datasets/table"
	"coderflow/internal/testenv"
)

// optCaption is a captions row as a writer with nullable columns (DuckDB,
// Arrow, Spark) stores it.
type optCaption struct {
	CaptionID int64   `parquet:"caption_id"`
	ImageID   int64   `parquet:"image_id"`
	Split     *string `parquet:"split"`
	Ordinal   *int32  `parquet:"ordinal"`
	Text      *string `parquet:"text"`
}

func optCaptions(n int) []optCaption {
	rows := make([]optCaption, n)
	for i, c := range captionRows(n) {
		rows[i] = optCaption{CaptionID: c.CaptionID, ImageID: c.ImageID, Split: &c.Split, Ordinal: &c.Ordinal, Text: &c.Text}
	}
	return rows
}

// writeTokens writes a tokens table with Arrow (every column nullable, as
// Arrow and DuckDB write them); ids[i] nil is a NULL list, valid[i][k]
// false a NULL element.
func writeTokens(t testing.TB, path string, ids [][]int32, valid [][]bool) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "caption_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "image_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "split", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ids", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "length", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	lb := b.Field(3).(*array.ListBuilder)
	vb := lb.ValueBuilder().(*array.Int32Builder)
	for i, l := range ids {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.Int64Builder).Append(int64(i / 5))
		b.Field(2).(*array.StringBuilder).Append("train")
		if l == nil {
			lb.AppendNull()
		} else {
			lb.Append(true)
			var v []bool
			if i < len(valid) {
				v = valid[i]
			}
			vb.AppendValues(l, v)
		}
		b.Field(4).(*array.Int32Builder).Append(int32(len(l)))
	}
	rec := b.NewRecord()
	defer rec.Release()
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem))
	testenv.WriteArrowParquet(t, path, rec, apq.NewWriterProperties(apq.WithAllocator(mem)), &aprops)
}

// TestScanNullable reads files whose columns are nullable where the row
// type's are not: a file that holds no NULL reads as before (DuckDB and
// Arrow mark every column nullable), a NULL is an error naming the file,
// the column and the row instead of a zero value (a NULL split, ordinal
// and text read as "", 0 and ""; a token list [1,NULL,3] as [1 0 3]).
func TestScanNullable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, rows []optCaption) string {
		p := filepath.Join(dir, name)
		if err := parquet.WriteFile(p, rows); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("captions without NULL", func(t *testing.T) {
		p := write("full.parquet", optCaptions(12))
		got, err := table.ReadAll[table.CaptionRow](t.Context(), p)
		if err != nil || !slices.Equal(got, captionRows(12)) {
			t.Fatalf("read %v, %v; want %v", got, err, captionRows(12))
		}
	})
	for _, tc := range []struct {
		column string
		null   func(*optCaption)
	}{
		{"split", func(r *optCaption) { r.Split = nil }},
		{"ordinal", func(r *optCaption) { r.Ordinal = nil }},
		{"text", func(r *optCaption) { r.Text = nil }},
	} {
		t.Run("NULL "+tc.column, func(t *testing.T) {
			rows := optCaptions(12)
			tc.null(&rows[7])
			p := write("null-"+tc.column+".parquet", rows)
			got, err := table.ReadAll[table.CaptionRow](t.Context(), p)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), `column "`+tc.column+`"`) || !strings.Contains(err.Error(), "row 7") {
				t.Fatalf("read %d rows, error %v; want an error naming %s, column %q and row 7", len(got), err, p, tc.column)
			}
		})
	}

	tokens := func(ids [][]int32) []table.TokenRow {
		var out []table.TokenRow
		for i, l := range ids {
			if len(l) == 0 {
				l = nil
			}
			out = append(out, table.TokenRow{CaptionID: int64(i), ImageID: int64(i / 5), Split: "train", IDs: l, Length: int32(len(l))})
		}
		return out
	}
	t.Run("token lists without NULL", func(t *testing.T) {
		p := filepath.Join(dir, "tokens.parquet")
		ids := [][]int32{{1, 2, 3}, {}, {4}}
		writeTokens(t, p, ids, nil)
		got, err := table.ReadAll[table.TokenRow](t.Context(), p)
		if err != nil || len(got) != 3 {
			t.Fatalf("read %v, %v", got, err)
		}
		for i, w := range tokens(ids) {
			if g := got[i]; g.CaptionID != w.CaptionID || g.Split != w.Split || !slices.Equal(g.IDs, w.IDs) || g.Length != w.Length {
				t.Fatalf("row %d: %+v, want %+v", i, g, w)
			}
		}
	})
	for _, tc := range []struct {
		name, column string
		ids          [][]int32
		valid        [][]bool
	}{
		{"NULL token", `column "ids.list.element"`, [][]int32{{5}, {1, 0, 3}}, [][]bool{nil, {true, false, true}}},
		{"NULL token list", `column "ids"`, [][]int32{{5}, nil}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".parquet")
			writeTokens(t, p, tc.ids, tc.valid)
			got, err := table.ReadAll[table.TokenRow](t.Context(), p)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.column) || !strings.Contains(err.Error(), "row 1") {
				t.Fatalf("read %+v, error %v; want an error naming %s, %s and row 1", got, err, p, tc.column)
			}
		})
	}
}

// TestScanLogicalTypes reads columns whose logical type differs from the
// row type's: a DECIMAL(18,2) 1.5 read as the image id 150, a TIMESTAMP as
// its raw microseconds. Those are errors naming the file, the column and
// the type; integers that fit (a SMALLINT into an int32 field) and text
// without an annotation still read.
func TestScanLogicalTypes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	type decimalID struct {
		ImageID int64 `parquet:"image_id,decimal(2:18)"`
	}
	type timestampID struct {
		ImageID int64 `parquet:"image_id,timestamp(microsecond)"`
	}
	type dateOrdinal struct {
		Ordinal int32 `parquet:"ordinal,date"`
	}
	type timeOrdinal struct {
		Ordinal int32 `parquet:"ordinal,time(millisecond)"`
	}
	type unsignedOrdinal struct {
		Ordinal uint32 `parquet:"ordinal"`
	}
	type smallOrdinal struct {
		Ordinal int16 `parquet:"ordinal"`
	}
	type byteText struct {
		Text []byte `parquet:"text"`
	}
	type imageID struct {
		ImageID int64 `parquet:"image_id"`
	}
	type ordinal struct {
		Ordinal int32 `parquet:"ordinal"`
	}
	type text struct {
		Text string `parquet:"text"`
	}
	bad := func(name, column, want string, write func(p string) error, read func(p string) error) {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name+".parquet")
			if err := write(p); err != nil {
				t.Fatal(err)
			}
			err := read(p)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), `column "`+column+`"`) || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v; want one naming %s, column %q and %q", err, p, column, want)
			}
		})
	}
	readID := func(p string) error { _, err := table.ReadAll[imageID](t.Context(), p); return err }
	readOrdinal := func(p string) error { _, err := table.ReadAll[ordinal](t.Context(), p); return err }
	bad("decimal", "image_id", "DECIMAL(18,2)", func(p string) error { return parquet.WriteFile(p, []decimalID{{150}}) }, readID)
	bad("timestamp", "image_id", "TIMESTAMP", func(p string) error { return parquet.WriteFile(p, []timestampID{{1_700_000_000_000_000}}) }, readID)
	bad("date", "ordinal", "DATE", func(p string) error { return parquet.WriteFile(p, []dateOrdinal{{19000}}) }, readOrdinal)
	bad("time", "ordinal", "TIME", func(p string) error { return parquet.WriteFile(p, []timeOrdinal{{1000}}) }, readOrdinal)
	bad("unsigned", "ordinal", "INT(32,false)", func(p string) error { return parquet.WriteFile(p, []unsignedOrdinal{{1 << 31}}) }, readOrdinal)
	bad("decimal captions", "image_id", "DECIMAL", func(p string) error {
		return parquet.WriteFile(p, []struct {
			CaptionID int64  `parquet:"caption_id"`
			ImageID   int64  `parquet:"image_id,decimal(2:18)"`
			Split     string `parquet:"split"`
			Ordinal   int32  `parquet:"ordinal"`
			Text      string `parquet:"text"`
		}{{1, 150, "train", 0, "a dog"}})
	}, func(p string) error { _, err := table.ReadAll[table.CaptionRow](t.Context(), p); return err })

	t.Run("compatible", func(t *testing.T) {
		p := filepath.Join(dir, "small.parquet")
		if err := parquet.WriteFile(p, []smallOrdinal{{-3}, {4}}); err != nil {
			t.Fatal(err)
		}
		got, err := table.ReadAll[ordinal](t.Context(), p)
		if err != nil || !slices.Equal(got, []ordinal{{-3}, {4}}) {
			t.Fatalf("SMALLINT into int32: %v, %v", got, err)
		}
		p = filepath.Join(dir, "bytes.parquet")
		if err := parquet.WriteFile(p, []byteText{{[]byte("a dog")}}); err != nil {
			t.Fatal(err)
		}
		gt, err := table.ReadAll[text](t.Context(), p)
		if err != nil || !slices.Equal(gt, []text{{"a dog"}}) {
			t.Fatalf("plain binary into string: %v, %v", gt, err)
		}
	})
}

// TestScanDuckDB cross-checks with DuckDB, which marks every column
// nullable: a captions file without NULL reads, one with a NULL text is an
// error. It is skipped without node and @duckdb/node-api.
func TestScanDuckDB(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	full, null := filepath.Join(dir, "full.parquet"), filepath.Join(dir, "null.parquet")
	const q = `SELECT i::BIGINT AS caption_id, (i//5)::BIGINT AS image_id, 'train' AS split, (i%5)::INTEGER AS ordinal, TEXT AS text FROM range(12) t(i)`
	jobs, _ := json.Marshal([][2]string{
		{full, strings.ReplaceAll(q, "TEXT", "'a dog runs'")},
		{null, strings.ReplaceAll(q, "TEXT", "CASE WHEN i = 7 THEN NULL ELSE 'a dog runs' END")},
	})
	testenv.DuckDB(t, `
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const con = await (await DuckDBInstance.create(':memory:')).connect();
  for (const [file, query] of JSON.parse(process.argv[1])) {
    await con.run('COPY (' + query + ') TO \'' + file.replace(/'/g, "''") + '\' (FORMAT PARQUET)');
  }
})().catch(e => { console.error(e); process.exit(1); });
`, string(jobs))
	got, err := table.ReadAll[table.CaptionRow](t.Context(), full)
	if err != nil || !slices.Equal(got, captionRows(12)) {
		t.Fatalf("DuckDB captions: %v, %v", got, err)
	}
	if _, err := table.ReadAll[table.CaptionRow](t.Context(), null); err == nil || !strings.Contains(err.Error(), `column "text"`) || !strings.Contains(err.Error(), "row 7") {
		t.Fatalf("DuckDB captions with a NULL text: %v", err)
	}
}
