package pqinspect_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"coderflow/internal/pqinspect"
)

// TestDecimalScale: DECIMAL values show as exact JSON numbers; a scale far
// beyond the digits, which a damaged footer can hold (up to 2^31-1), gives
// the exponent form instead of gigabytes of zeros (it used to allocate
// scale bytes, twice, per value).
func TestDecimalScale(t *testing.T) {
	type row struct {
		ID int64 `parquet:"id"`
	}
	_, data := writeParquet(t, t.TempDir(), "src.parquet", []row{{12345}, {-5}})
	for _, tc := range []struct {
		name  string
		scale int32
		want  [2]string
	}{
		{"scale 2", 2, [2]string{"123.45", "-0.05"}},
		{"scale 0", 0, [2]string{"12345", "-5"}},
		{"scale 7", 7, [2]string{"0.0012345", "-0.0000005"}},
		{"scale 1000", 1000, [2]string{"12345E-1000", "-5E-1000"}},
		{"scale 2^29", 1 << 29, [2]string{"12345E-536870912", "-5E-536870912"}},
		{"scale 2^31-1", 1<<31 - 1, [2]string{"12345E-2147483647", "-5E-2147483647"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "d.parquet")
			b := rewriteFooter(t, data, "id", false, func(e *format.SchemaElement) {
				e.LogicalType = format.LogicalType{Value: &format.DecimalType{Scale: tc.scale, Precision: 18}}
				e.ConvertedType = thrift.New(deprecated.Decimal)
				e.Scale, e.Precision = thrift.New(tc.scale), thrift.New[int32](18)
			})
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			rows, err := pqinspect.Head(p, 2, 8)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 64<<20 {
				t.Errorf("reading two decimals allocated %d MB", d>>20)
			}
			for i, r := range rows {
				got, ok := r["id"].(json.Number)
				if !ok || string(got) != tc.want[i] {
					t.Errorf("row %d: %v (%T), want %s", i, r["id"], r["id"], tc.want[i])
				}
				if _, err := json.Marshal(r); err != nil {
					t.Errorf("row %d: not valid JSON: %v", i, err)
				}
			}
		})
	}
}

// TestDamagedPage: a data page damaged so that parquet-go's reader panics
// (a length that runs past the page) is an error that names the file and
// says the data is damaged, not only a bare "runtime error: slice bounds
// out of range".
func TestDamagedPage(t *testing.T) {
	type row struct {
		ID int64   `parquet:"id"`
		S  string  `parquet:"s,optional"`
		L  []int32 `parquet:"l,list"`
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "good.parquet")
	if err := pq.WriteFile(p, []row{{1, "a", []int32{1, 2}}, {2, "", nil}, {3, "ccc", []int32{3}}}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		offset int
		xor    byte
	}{{116, 0x10}, {204, 0x80}} {
		t.Run(fmt.Sprintf("byte %d", tc.offset), func(t *testing.T) {
			b := bytes.Clone(data)
			b[tc.offset] ^= tc.xor
			q := filepath.Join(dir, fmt.Sprintf("flipped-%d.parquet", tc.offset))
			if err := os.WriteFile(q, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := pqinspect.Head(q, 10, 8)
			if err == nil {
				t.Skip("this damage no longer trips the reader (the fixture's layout changed)")
			}
			if msg := err.Error(); !strings.Contains(msg, q) || (strings.Contains(msg, "runtime error") && !strings.Contains(msg, "damaged")) {
				t.Errorf("error %q: want the file named and the data called damaged", msg)
			}
		})
	}
}
