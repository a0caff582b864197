package pqinspect_test

import (
	"coderflow/internal/testenv"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"coderflow/internal/pqinspect"
)

// head writes rows with parquet-go, lets edit change the footer (if not
// nil) and returns the first rows as inspect shows them, through JSON.
func head[T any](t *testing.T, rows []T, edit func(*format.FileMetaData)) []map[string]any {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.parquet")
	if err := pq.WriteFile(p, rows); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, editFooter(t, data, edit), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := pqinspect.Head(p, 100, 8)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, r := range got {
		out = append(out, roundTrip(t, r).(map[string]any))
	}
	return out
}

// setLogical sets the logical type of the schema element named col.
func setLogical(col string, lt format.LogicalTypeValue) func(*format.FileMetaData) {
	return func(md *format.FileMetaData) {
		for i := range md.Schema {
			if md.Schema[i].Name == col {
				md.Schema[i].LogicalType = format.LogicalType{Value: lt}
			}
		}
	}
}

// TestTopLevelRepeatedCut: a bare repeated top-level column (protobuf
// style, no LIST group) is cut to 8 items like a nested one (it was shown
// whole).
func TestTopLevelRepeatedCut(t *testing.T) {
	t.Parallel()
	type row struct {
		Vec  []float32 `parquet:"vec"`
		Tags []string  `parquet:"tags"`
	}
	vec := make([]float32, 20)
	for i := range vec {
		vec[i] = float32(i)
	}
	rows := head(t, []row{{vec, []string{"a", "b"}}}, nil)
	if got := fmt.Sprint(rows[0]["vec"]); got != "[0 1 2 3 4 5 6 7 … (20 items)]" {
		t.Errorf("vec %s", got)
	}
	if got := fmt.Sprint(rows[0]["tags"]); got != "[a b]" {
		t.Errorf("tags %s", got)
	}
}

// TestDuplicateColumnNames: Arrow lets two top-level columns share a name;
// both are shown, the second as name#2 (the second overwrote the first).
func TestDuplicateColumnNames(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "dup.parquet")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Int64},
		{Name: "x", Type: arrow.BinaryTypes.String},
		{Name: "x#2", Type: arrow.PrimitiveTypes.Int32},
		{Name: "x", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(7)
	b.Field(1).(*array.StringBuilder).Append("seven")
	b.Field(2).(*array.Int32Builder).Append(2)
	b.Field(3).(*array.BooleanBuilder).Append(true)
	rec := b.NewRecord()
	defer rec.Release()
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem))
	testenv.WriteArrowParquet(t, p, rec, parquet.NewWriterProperties(parquet.WithAllocator(mem)), &aprops)
	info, err := pqinspect.Describe(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(info.Columns); got != "[x x x#2 x]" {
		t.Fatalf("columns %s", got)
	}
	keys := pqinspect.Keys(info.Columns)
	if got := fmt.Sprint(keys); got != "[x x#3 x#2 x#4]" {
		t.Fatalf("keys %s", got)
	}
	rows, err := pqinspect.Head(p, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(roundTrip(t, rows[0])); got != "map[x:7 x#2:2 x#3:seven x#4:true]" {
		t.Fatalf("row %s", got)
	}
}

// TestInvalidUTF8Text: STRING, ENUM and JSON values that are not UTF-8 are
// shown as 0x… hex, as binary is (they became U+FFFD).
func TestInvalidUTF8Text(t *testing.T) {
	t.Parallel()
	type row struct {
		S string `parquet:"s"`
		E string `parquet:"e,enum"`
		J string `parquet:"j,json"`
	}
	long := strings.Repeat("\xff", 100)
	rows := head(t, []row{{"\xff\xfeab", "\xc3", "\"\xff\""}, {"ok", "é", `{"a":1}`}, {long, "", "1"}}, nil)
	want := []map[string]any{
		{"s": "0xfffe6162", "e": "0xc3", "j": "0x22ff22"},
		{"s": "ok", "e": "é", "j": `{"a":1}`},
		{"s": "0x" + strings.Repeat("ff", 32) + "… (100 bytes)"},
	}
	for i, w := range want {
		for k, v := range w {
			if rows[i][k] != v {
				t.Errorf("row %d %s = %q, want %q", i, k, rows[i][k], v)
			}
		}
	}
}

// TestFloat16: FLOAT16 values are numbers (NaN and ±Inf the documented
// strings), not the raw bytes in hex.
func TestFloat16(t *testing.T) {
	t.Parallel()
	type row struct {
		H [2]byte `parquet:"h"`
	}
	var rows []row
	for _, bits := range []uint16{0x3c00, 0xc100, 0x7e00, 0x7c00, 0xfc00, 0x0001, 0x7bff, 0x8000} {
		var r row
		binary.LittleEndian.PutUint16(r.H[:], bits)
		rows = append(rows, r)
	}
	got := head(t, rows, setLogical("h", &format.Float16Type{}))
	want := []any{1.0, -2.5, "NaN", "+Inf", "-Inf", 5.9604645e-08, 65504.0, math.Copysign(0, -1)}
	for i, w := range want {
		if fmt.Sprint(got[i]["h"]) != fmt.Sprint(w) {
			t.Errorf("row %d: %v, want %v", i, got[i]["h"], w)
		}
	}
}

// TestInterval: INTERVAL values are ISO 8601 durations, not hex.
func TestInterval(t *testing.T) {
	t.Parallel()
	type row struct {
		I [12]byte `parquet:"i,interval"` // months, days, milliseconds: little-endian uint32
	}
	iv := func(months, days, millis uint32) row {
		var r row
		binary.LittleEndian.PutUint32(r.I[0:], months)
		binary.LittleEndian.PutUint32(r.I[4:], days)
		binary.LittleEndian.PutUint32(r.I[8:], millis)
		return r
	}
	got := head(t, []row{iv(3, 1, 0), iv(14, 0, 3723004), iv(0, 0, 0), iv(0, 0, 500), iv(0, 40, 90_000_000)}, nil)
	for i, w := range []string{"P3M1D", "P1Y2MT1H2M3.004S", "PT0S", "PT0.5S", "P40DT25H"} {
		if got[i]["i"] != w {
			t.Errorf("row %d: %v, want %s", i, got[i]["i"], w)
		}
	}
}

// TestTimeUTC: a TIME adjusted to UTC ends in Z, a local one does not.
func TestTimeUTC(t *testing.T) {
	t.Parallel()
	type row struct {
		UTC   int64 `parquet:"utc,time(microsecond)"`
		Local int64 `parquet:"local,time(microsecond)"`
		Milli int32 `parquet:"milli,time(millisecond)"`
	}
	at := int64(3723_004_005) // 01:02:03.004005
	got := head(t, []row{{at, at, int32(at / 1000)}}, func(md *format.FileMetaData) {
		setLogical("utc", &format.TimeType{IsAdjustedToUTC: true, Unit: format.TimeUnit{Value: &format.MicroSeconds{}}})(md)
		setLogical("local", &format.TimeType{IsAdjustedToUTC: false, Unit: format.TimeUnit{Value: &format.MicroSeconds{}}})(md)
		setLogical("milli", &format.TimeType{IsAdjustedToUTC: true, Unit: format.TimeUnit{Value: &format.MilliSeconds{}}})(md)
	})
	if got[0]["utc"] != "01:02:03.004005Z" || got[0]["local"] != "01:02:03.004005" || got[0]["milli"] != "01:02:03.004Z" {
		t.Fatalf("times %v", got[0])
	}
}
