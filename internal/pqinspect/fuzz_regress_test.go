package pqinspect_test

import (
	"bytes"
	"coderflow/internal/pqcheck/pqchecktest"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"coderflow/internal/pqinspect"
)

// allocated returns the bytes fn allocated.
// the shared damage helpers (internal/pqcheck/pqchecktest)
var rawFooterFile = pqchecktest.RawFooterFile

// editFirstPage edits the header of the first page of the first column chunk.
func editFirstPage(t *testing.T, data []byte, edit func(*format.PageHeader)) []byte {
	return pqchecktest.EditFirstPage(t, data, 0, edit)
}

func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHugeThriftCounts: a footer whose list, map or binary header claims
// up to 2^31-1 elements or bytes is an error naming the file. parquet-go
// allocated the elements before reading one: the 22-byte file of the first
// case killed the process with "fatal error: runtime: out of memory",
// which no recover catches. Nesting deeper than parquet-go's skipping of
// unknown fields should recurse into is an error too.
func TestHugeThriftCounts(t *testing.T) {
	deep := []byte{0x15, 0x02} // version: 1
	for range 100000 {
		deep = append(deep, 0x0c, 0x64) // field id 100 (unknown), a struct: delta 0, zigzag 50
	}
	deep = append(deep, bytes.Repeat([]byte{0}, 100001)...)
	for _, tc := range []struct {
		name   string
		footer []byte
	}{
		// field 1 version i32 = 1, field 2 schema: list of 2^31-1 structs
		{"list of 2^31-1 schema elements", []byte{0x15, 0x02, 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00}},
		// field 6 created_by: binary of 2^31-1 bytes
		{"created_by of 2^31-1 bytes", []byte{0x15, 0x02, 0x48, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00}},
		// field 5 key_value_metadata: list of 2^31-1 structs
		{"list of 2^31-1 key-values", []byte{0x15, 0x02, 0x39, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00}},
		// field 10: a map of 2^31-1 entries (skipped as unknown)
		{"unknown map of 2^31-1 entries", []byte{0x15, 0x02, 0x0b, 0x14, 0xff, 0xff, 0xff, 0xff, 0x07, 0x55, 0x00}},
		{"100000 nested structs", deep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "damaged.parquet")
			if err := os.WriteFile(p, rawFooterFile(tc.footer), 0o644); err != nil {
				t.Fatal(err)
			}
			var derr, herr error
			if a := allocated(func() {
				_, derr = pqinspect.Describe(p)
				_, herr = pqinspect.Head(p, 5, 4)
			}); a > 64<<20 {
				t.Errorf("a %d-byte file allocated %d MB", len(tc.footer)+12, a>>20)
			}
			for _, err := range []error{derr, herr} {
				if err == nil || !strings.Contains(err.Error(), p) {
					t.Errorf("error %v: want one naming %s", err, p)
				}
			}
		})
	}
}

// TestHugePageSizes: a page header whose compressed size runs past its
// column chunk, or whose uncompressed size is far beyond what its bytes
// can hold, is an error naming the file and the page's offset; parquet-go
// allocated either size before reading the page (FuzzInspect found a
// 515-byte file that made it allocate 554 MB).
func TestHugePageSizes(t *testing.T) {
	type row struct {
		ID int64  `parquet:"id"`
		S  string `parquet:"s"`
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src.parquet")
	rows := []row{{1, "a"}, {2, "bb"}, {3, "ccc"}}
	if err := pq.WriteFile(src, rows, pq.Compression(&snappy.Codec{}), pq.DataPageVersion(1)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := pqinspect.Head(src, 5, 4); err != nil || len(got) != 3 {
		t.Fatalf("intact file: %d rows, %v", len(got), err)
	}
	for _, tc := range []struct {
		name string
		edit func(*format.PageHeader)
		want string
	}{
		{"compressed 2^31-1", func(h *format.PageHeader) { h.CompressedPageSize = 1<<31 - 1 }, "compressed size"},
		{"uncompressed 2^28", func(h *format.PageHeader) { h.UncompressedPageSize = 1 << 28 }, "uncompressed size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".parquet")
			if err := os.WriteFile(p, editFirstPage(t, data, tc.edit), 0o644); err != nil {
				t.Fatal(err)
			}
			var herr error
			if a := allocated(func() { _, herr = pqinspect.Head(p, 5, 4) }); a > 64<<20 {
				t.Errorf("a %d-byte file allocated %d MB", len(data), a>>20)
			}
			if herr == nil || !strings.Contains(herr.Error(), p) || !strings.Contains(herr.Error(), tc.want) {
				t.Errorf("error %v: want one naming %s and its %s", herr, p, tc.want)
			}
		})
	}
}

// TestDeepSchema: a schema nested deeper than parquet-go can represent,
// or whose column paths hold millions of names, is an error naming the
// file, found before parquet-go reserves a string per name of every
// column path (quadratic in the depth: 4,000 nested groups in a 32 KB
// footer made it allocate 123 MB, 20,000 about 3 GB).
func TestDeepSchema(t *testing.T) {
	group := func(name string, children int32) format.SchemaElement {
		return format.SchemaElement{Name: name, NumChildren: thrift.New(children), RepetitionType: thrift.New(format.Optional)}
	}
	leaf := format.SchemaElement{Name: "x", Type: thrift.New(format.Int32), RepetitionType: thrift.New(format.Optional)}
	chain := func(depth int, leaves int32) []format.SchemaElement {
		els := []format.SchemaElement{{Name: "root", NumChildren: thrift.New[int32](1)}}
		for i := 0; i < depth; i++ {
			n := int32(1)
			if i == depth-1 {
				n = leaves
			}
			els = append(els, group("g", n))
		}
		for range leaves {
			els = append(els, leaf)
		}
		return els
	}
	for _, tc := range []struct {
		name   string
		schema []format.SchemaElement
		want   string
	}{
		{"4000 nested groups", chain(4000, 1), "nested 256 deep"},
		{"30000 columns 200 deep", chain(200, 30000), "column paths"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			footer, err := thrift.Marshal(new(thrift.CompactProtocol), &format.FileMetaData{Version: 1, Schema: tc.schema})
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "deep.parquet")
			if err := os.WriteFile(p, rawFooterFile(footer), 0o644); err != nil {
				t.Fatal(err)
			}
			var derr error
			if a := allocated(func() { _, derr = pqinspect.Describe(p) }); a > 64<<20 {
				t.Errorf("a %d-byte file allocated %d MB", len(footer)+12, a>>20)
			}
			if derr == nil || !strings.Contains(derr.Error(), p) || !strings.Contains(derr.Error(), tc.want) {
				t.Errorf("error %.300v: want one naming %s and saying %q", derr, p, tc.want)
			}
		})
	}
}

// keysReference is Keys as first written: each later column of a name
// takes the smallest name#k (k >= 2) no column has as its name or key.
func keysReference(columns []string) []string {
	taken := map[string]bool{}
	for _, c := range columns {
		taken[c] = true
	}
	seen := map[string]bool{}
	keys := make([]string, len(columns))
	for i, c := range columns {
		if !seen[c] {
			seen[c] = true
			keys[i] = c
			continue
		}
		k := 2
		for taken[fmt.Sprintf("%s#%d", c, k)] {
			k++
		}
		keys[i] = fmt.Sprintf("%s#%d", c, k)
		taken[keys[i]] = true
	}
	return keys
}

// FuzzKeys: Keys gives every column a distinct key, the first column of a
// name keeps it, and the keys are those of the simple definition
// (keysReference).
func FuzzKeys(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 0, 3, 0, 4})
	f.Add([]byte{2, 0, 0, 0, 5, 0})
	names := []string{"a", "b", "a#2", "a#3", "a#2#2", "b#2", "a#4", ""}
	f.Fuzz(func(t *testing.T, picks []byte) {
		if len(picks) > 512 {
			return // keysReference is quadratic
		}
		cols := make([]string, len(picks))
		for i, p := range picks {
			cols[i] = names[int(p)%len(names)]
		}
		got, want := pqinspect.Keys(cols), keysReference(cols)
		if !slices.Equal(got, want) {
			t.Fatalf("Keys(%q) = %q, want %q", cols, got, want)
		}
		seen := map[string]bool{}
		for _, k := range got {
			if seen[k] {
				t.Fatalf("Keys(%q) = %q: %q twice", cols, got, k)
			}
			seen[k] = true
		}
	})
}

// TestKeysManyDuplicates: 3,000 top-level columns of one name (a footer of
// a few kilobytes can hold 30,000) get their keys in a number of
// allocations linear in the columns; Keys used to retry every number
// given out before, 4.5 million formatted strings here (30,000 took
// minutes).
func TestKeysManyDuplicates(t *testing.T) {
	cols := make([]string, 3000)
	for i := range cols {
		cols[i] = "a"
	}
	var keys []string
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	keys = pqinspect.Keys(cols)
	runtime.ReadMemStats(&after)
	if n := after.Mallocs - before.Mallocs; n > 100*uint64(len(cols)) {
		t.Errorf("Keys of %d columns made %d allocations", len(cols), n)
	}
	if keys[0] != "a" || keys[1] != "a#2" || keys[2999] != "a#3000" {
		t.Errorf("keys %q … %q", keys[:3], keys[2999])
	}
}

// TestOutOfRangeTimes: a TIME of 24 hours or more, or negative, and an
// INT96 timestamp whose nanoseconds run past its day are shown as invalid
// with their raw value, not wrapped into a valid-looking time of another
// moment (25 hours showed as 01:00:00, and a micro- or nanosecond value
// near the int64 range overflowed).
func TestOutOfRangeTimes(t *testing.T) {
	type row struct {
		Milli int32            `parquet:"milli,time(millisecond)"`
		Micro int64            `parquet:"micro,time(microsecond)"`
		Nano  int64            `parquet:"nano,time(nanosecond)"`
		T     deprecated.Int96 `parquet:"t"`
	}
	day := uint32(2440588) // 1970-01-01
	past := uint64(86400e9 + 5)
	rows := []row{
		{12 * 3600_000, 12 * 3600_000_000, 12 * 3600_000_000_000, deprecated.Int96{0, 0, day}},
		{25 * 3600_000, -1, 1<<63 - 1, deprecated.Int96{uint32(past), uint32(past >> 32), day}},
	}
	got := head(t, rows, nil)
	if got[0]["milli"] != "12:00:00Z" || got[0]["micro"] != "12:00:00Z" || got[0]["nano"] != "12:00:00Z" || got[0]["t"] != "1970-01-01T00:00:00Z" {
		t.Errorf("valid times: %v", got[0])
	}
	for _, col := range []string{"milli", "micro", "nano", "t"} {
		if s, _ := got[1][col].(string); !strings.HasPrefix(s, "invalid") {
			t.Errorf("%s: %v, want it shown as invalid", col, got[1][col])
		}
	}
}

// TestHugeValueCounts: a page header claiming 2^31-1 values, in a
// dictionary page of a few bytes or a data page (v1 or v2), is an error
// naming the file and the page; parquet-go allocated for the values before
// decoding them: 8 GB for the dictionary page (and then showed the rows as
// if nothing were wrong), 2.8 GB for the data page, of a 500-byte file.
func TestHugeValueCounts(t *testing.T) {
	type dict struct {
		S string `parquet:"s,dict"`
		N *int32 `parquet:"n,optional"`
	}
	type plain struct {
		N *int32  `parquet:"n,optional"`
		L []int64 `parquet:"l,list"`
	}
	one := int32(1)
	dir := t.TempDir()
	for _, version := range []int{1, 2} {
		for _, tc := range []struct {
			name  string
			write func(string) error
			edit  func(*format.PageHeader)
		}{
			{"dictionary page", func(p string) error {
				return pq.WriteFile(p, []dict{{"a", &one}, {"b", nil}}, pq.DataPageVersion(version))
			}, func(h *format.PageHeader) {
				if h.DictionaryPageHeader.Valid {
					h.DictionaryPageHeader.V.NumValues = 1<<31 - 1
				}
			}},
			{"data page", func(p string) error {
				return pq.WriteFile(p, []plain{{&one, []int64{1, 2}}, {nil, nil}}, pq.DataPageVersion(version))
			}, func(h *format.PageHeader) {
				if h.DataPageHeader.Valid {
					h.DataPageHeader.V.NumValues = 1<<31 - 1
				}
				if h.DataPageHeaderV2.Valid {
					h.DataPageHeaderV2.V.NumValues, h.DataPageHeaderV2.V.NumRows = 1<<31-1, 1<<31-1
				}
			}},
		} {
			t.Run(fmt.Sprintf("%s v%d", tc.name, version), func(t *testing.T) {
				src := filepath.Join(dir, "src.parquet")
				if err := tc.write(src); err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(dir, "damaged.parquet")
				if err := os.WriteFile(p, editFirstPage(t, data, tc.edit), 0o644); err != nil {
					t.Fatal(err)
				}
				var herr error
				if a := allocated(func() { _, herr = pqinspect.Head(p, 5, 4) }); a > 64<<20 {
					t.Errorf("a %d-byte file allocated %d MB", len(data), a>>20)
				}
				if herr == nil || !strings.Contains(herr.Error(), p) || !strings.Contains(herr.Error(), "2147483647 values") {
					t.Errorf("error %v: want one naming %s and the page's count", herr, p)
				}
			})
		}
	}
}

// TestEmptyStructLists: a footer whose row group lists 200,000 empty
// column chunks (one byte each, a 200 KB file) is an error naming the
// file; parquet-go allocated each at its Go size (560 bytes) before it
// found them empty, 112 MB.
func TestEmptyStructLists(t *testing.T) {
	n := 200000
	footer := []byte{0x15, 0x02, 0x19, 0x1c, 0x48, 0x01, 'r', 0x00} // version 1, schema [{name: "r"}]
	footer = append(footer, 0x29, 0x1c, 0x19, 0xfc)                 // row_groups [{columns: [ ...
	footer = binary.AppendUvarint(footer, uint64(n))
	footer = append(footer, make([]byte, n)...) // n empty structs
	footer = append(footer, 0x00, 0x00)         // end of the row group, of the metadata
	p := filepath.Join(t.TempDir(), "damaged.parquet")
	if err := os.WriteFile(p, rawFooterFile(footer), 0o644); err != nil {
		t.Fatal(err)
	}
	var derr error
	if a := allocated(func() { _, derr = pqinspect.Describe(p) }); a > 64<<20 {
		t.Errorf("a %d-byte file allocated %d MB", len(footer)+12, a>>20)
	}
	if derr == nil || !strings.Contains(derr.Error(), p) {
		t.Errorf("error %v: want one naming %s", derr, p)
	}
}
