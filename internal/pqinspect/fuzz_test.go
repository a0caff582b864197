package pqinspect_test

import (
	"coderflow/internal/pqcheck/pqchecktest"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"coderflow/internal/pqinspect"
)

// fuzzFixtures returns small Parquet files (nested groups, lists and maps,
// dictionary-encoded text, decimals, nulls, compression) whose mutations
// FuzzInspect reads.
func fuzzFixtures(t testing.TB) map[string][]byte {
	type inner struct {
		A int32   `parquet:"a"`
		B *string `parquet:"b,optional"`
	}
	type nested struct {
		ID    int64            `parquet:"id"`
		Items []inner          `parquet:"items,list"`
		Tags  map[string]int32 `parquet:"tags"`
		Raw   []byte           `parquet:"raw,optional"`
	}
	type dict struct {
		S string  `parquet:"s,dict"`
		F float64 `parquet:"f"`
	}
	type dec struct {
		D  int64  `parquet:"d,decimal(2:18)"`
		E  int32  `parquet:"e,decimal(3:9)"`
		TS int64  `parquet:"ts,timestamp(millisecond)"`
		U  uint32 `parquet:"u"`
	}
	type nulls struct {
		A *int64   `parquet:"a,optional"`
		B *string  `parquet:"b,optional,zstd"`
		C []string `parquet:"c,list"`
		D *bool    `parquet:"d,optional"`
	}
	s := func(v string) *string { return &v }
	i := func(v int64) *int64 { return &v }
	b := func(v bool) *bool { return &v }
	files := pqchecktest.NewFiles(t)
	write := files.Write
	write("nested.parquet", func(p string) error {
		return pq.WriteFile(p, []nested{
			{ID: 1, Items: []inner{{1, s("x")}, {2, nil}}, Tags: map[string]int32{"k": 7}, Raw: []byte{0xff, 0}},
			{ID: 2},
			{ID: 3, Items: []inner{{3, s("")}}, Tags: map[string]int32{"a": 1, "b": 2}},
		})
	})
	write("dict.parquet", func(p string) error {
		return pq.WriteFile(p, []dict{{"aa", 1.5}, {"bb", -2}, {"aa", 0}, {"aa", 3}})
	})
	write("decimal.parquet", func(p string) error {
		return pq.WriteFile(p, []dec{{12345, -5, 1700000000000, 4000000000}, {-1, 999, 0, 0}})
	})
	write("nulls.parquet", func(p string) error {
		return pq.WriteFile(p, []nulls{{A: i(1), B: s("one"), C: []string{"x", "y"}}, {D: b(true)}, {A: i(-1), C: []string{}}},
			pq.Compression(&zstd.Codec{}))
	})
	return files.Data
}

// FuzzInspect: Describe and Head on any bytes (mutations of small valid
// files) return a result or an error naming the file, never panic, and
// allocate memory bounded by a constant for such tiny inputs (a damaged
// length or count must not make the reader allocate gigabytes). Rows
// that are returned are JSON-safe and at most as many as asked for.
func FuzzInspect(f *testing.F) {
	for _, data := range fuzzFixtures(f) {
		f.Add(data)
	}
	dir := f.TempDir()
	p := filepath.Join(dir, "fuzz.parquet")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				panic("pqinspect: a 64 KB input took more than 20 s")
			}
		}()
		info, derr := pqinspect.Describe(p)
		rows, herr := pqinspect.Head(p, 20, 4)
		close(done)
		runtime.ReadMemStats(&after)
		if a := after.TotalAlloc - before.TotalAlloc; a > 256<<20 {
			t.Errorf("reading %d bytes allocated %d MB", len(data), a>>20)
		}
		for _, err := range []error{derr, herr} {
			if err != nil && !strings.Contains(err.Error(), p) {
				t.Errorf("error does not name the file: %v", err)
			}
		}
		if derr == nil {
			if _, err := json.Marshal(info); err != nil {
				t.Errorf("Describe result is not JSON-safe: %v", err)
			}
		}
		if len(rows) > 20 {
			t.Errorf("Head(20) returned %d rows", len(rows))
		}
		for i, r := range rows {
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("row %d is not JSON-safe: %v", i, err)
			}
		}
	})
}
