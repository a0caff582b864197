package table_test

import (
	"bufio"
	"bytes"
	"coderflow/internal/pqcheck/pqchecktest"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"coderflow/datasets/table"
)

// Damaged table files are read in a child process (the test binary run
// again with damageFileEnv set, see TestDamageChild) whose address space is
// capped at damageChildMem: parquet-go allocated lengths and counts of a
// damaged footer or page header before reading a byte, and a huge
// allocation is "fatal error: runtime: out of memory", which no recover
// catches and which would end this test without saying which file did it.
const (
	damageFileEnv  = "CODERFLOW_TABLE_DAMAGE_FILE"
	damageRowsEnv  = "CODERFLOW_TABLE_DAMAGE_ROWS"
	damageChildMem = 4 << 30
	// damageMaxAlloc bounds what reading a damaged file of a few KB may
	// allocate.
	damageMaxAlloc = 64 << 20
)

// dictRow is a table whose text column is dictionary-encoded (a dictionary
// page in every column chunk of s).
type dictRow struct {
	ID int64  `parquet:"id"`
	S  string `parquet:"s,dict"`
}

// readDamaged reads path with ReadAll (as rows of the type named rows) and
// ReadMeta, and returns the number of rows read, a hash of them, the
// errors and the bytes allocated.
func readDamaged(ctx context.Context, path, rows string) (n int, sum uint64, errs []error, alloc uint64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var err error
	var r any
	switch rows {
	case "dict":
		var d []dictRow
		d, err = table.ReadAll[dictRow](ctx, path)
		n, r = len(d), d
	default:
		var c []table.CaptionRow
		c, err = table.ReadAll[table.CaptionRow](ctx, path)
		n, r = len(c), c
	}
	_, merr := table.ReadMeta(path)
	runtime.ReadMemStats(&after)
	h := fnv.New64a()
	fmt.Fprintf(h, "%v", r)
	return n, h.Sum64(), []error{err, merr}, after.TotalAlloc - before.TotalAlloc
}

// TestDamageChild is the child process of readInChild: it reads the file
// damageFileEnv names with its address space capped and prints what
// happened. It is skipped in a normal test run.
func TestDamageChild(t *testing.T) {
	path := os.Getenv(damageFileEnv)
	if path == "" {
		t.Skip("the child process of TestDamagedTables")
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: damageChildMem, Max: damageChildMem}); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
	n, sum, errs, alloc := readDamaged(t.Context(), path, os.Getenv(damageRowsEnv))
	fmt.Printf("RESULT rows=%d hash=%d alloc=%d\n", n, sum, alloc)
	for _, err := range errs {
		if err != nil {
			fmt.Printf("ERROR %s\n", strconv.Quote(err.Error()))
		} else {
			fmt.Printf("ERROR nil\n")
		}
	}
}

// childResult is what TestDamageChild printed.
type childResult struct {
	rows  int
	hash  uint64 // of the rows read
	alloc uint64
	errs  []string // "" for no error: ReadAll's, then ReadMeta's
}

// readInChild reads path in a child process (see TestDamageChild). It fails
// t when the child crashed (a fatal error, a panic, a timeout).
func readInChild(t *testing.T, path, rows string) (childResult, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDamageChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), damageFileEnv+"="+path, damageRowsEnv+"="+rows)
	out, err := cmd.CombinedOutput()
	var res childResult
	found := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if _, err := fmt.Sscanf(line, "RESULT rows=%d hash=%d alloc=%d", &res.rows, &res.hash, &res.alloc); err == nil {
			found = true
		}
		if s, ok := strings.CutPrefix(line, "ERROR "); ok {
			if s == "nil" {
				res.errs = append(res.errs, "")
			} else if q, err := strconv.Unquote(s); err == nil {
				res.errs = append(res.errs, q)
			}
		}
	}
	if err != nil || !found || len(res.errs) != 2 {
		what := "crashed"
		switch o := string(out); {
		case strings.Contains(o, "fatal error"):
			what = "fatal crash"
		case strings.Contains(o, "panic:"):
			what = "panic"
		case ctx.Err() != nil:
			what = "timeout"
		}
		if len(out) > 1500 {
			out = out[:1500]
		}
		t.Errorf("reading the damaged file: %s (%v):\n%s", what, err, out)
		return res, false
	}
	return res, true
}

// the shared damage helpers (internal/pqcheck/pqchecktest)
var (
	rawFooterFile = pqchecktest.RawFooterFile
	editFooter    = pqchecktest.EditFooter
	editFirstPage = pqchecktest.EditFirstPage
)

func footerOf(t *testing.T, data []byte) format.FileMetaData { return pqchecktest.FooterOf(t, data) }

// pageValues returns an edit of a data page header that adds d to its
// value count (and row count, in a v2 header).
func pageValues(d int32) func(*format.PageHeader) {
	return func(h *format.PageHeader) {
		if h.DataPageHeader.Valid {
			h.DataPageHeader.V.NumValues += d
		}
		if h.DataPageHeaderV2.Valid {
			h.DataPageHeaderV2.V.NumValues += d
			h.DataPageHeaderV2.V.NumRows += d
		}
	}
}

// TestDamagedTables damages small table files the ways a crash, a full
// disk or bit rot can (footer counts and lengths, page sizes and value
// counts, the page index, row counts) and reads each with ReadAll and
// ReadMeta in a child process: each read must return an error naming the
// file (or, where what is damaged is not needed, the file's rows intact),
// allocate at most damageMaxAlloc, and never crash the process.
func TestDamagedTables(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process per damaged file")
	}
	dir := t.TempDir()
	caps := filepath.Join(dir, "captions.parquet")
	if err := table.WriteFile(caps, nil, table.Captions, table.Options{RowGroupRows: 20}, captionRows(40)); err != nil {
		t.Fatal(err)
	}
	dict := filepath.Join(dir, "dict.parquet")
	drows := []dictRow{{1, "a"}, {2, "b"}, {3, "a"}, {4, "a"}}
	if err := table.WriteFile(dict, nil, "dict", table.Options{}, drows); err != nil {
		t.Fatal(err)
	}
	capData, err := os.ReadFile(caps)
	if err != nil {
		t.Fatal(err)
	}
	dictData, err := os.ReadFile(dict)
	if err != nil {
		t.Fatal(err)
	}
	intact := map[string]childResult{}
	for rows, p := range map[string]string{"": caps, "dict": dict} {
		n, sum, errs, _ := readDamaged(t.Context(), p, rows)
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("%s: %v", p, errs)
		}
		intact[rows] = childResult{rows: n, hash: sum}
	}
	deep := []byte{0x15, 0x02} // version: 1
	for range 100000 {
		deep = append(deep, 0x0c, 0x64) // field id 100 (unknown), a struct
	}
	deep = append(deep, bytes.Repeat([]byte{0}, 100001)...)
	emptyChunks := []byte{0x15, 0x02, 0x19, 0x1c, 0x48, 0x01, 'r', 0x00} // version 1, schema [{name: "r"}]
	emptyChunks = append(emptyChunks, 0x29, 0x1c, 0x19, 0xfc)            // row_groups [{columns: [ ...
	emptyChunks = binary.AppendUvarint(emptyChunks, 200000)
	emptyChunks = append(emptyChunks, make([]byte, 200000)...) // 200,000 empty structs
	emptyChunks = append(emptyChunks, 0x00, 0x00)
	hugeFooterLen := bytes.Clone(capData)
	binary.LittleEndian.PutUint32(hugeFooterLen[len(hugeFooterLen)-8:], 0xfffffff0)

	for _, tc := range []struct {
		name string
		rows string // row type: "" captions, "dict" dictRow
		data []byte
		want string // in the error, besides the file's name
		// intact: reading the file's rows intact is right too (what is
		// damaged is not needed to read them)
		intact bool
	}{
		// footers made by hand, from pqinspect's TestHugeThriftCounts
		{"footer list of 2^31-1 schema elements", "", rawFooterFile([]byte{0x15, 0x02, 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00}), "footer", false},
		{"footer created_by of 2^31-1 bytes", "", rawFooterFile([]byte{0x15, 0x02, 0x48, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00}), "footer", false},
		{"footer list of 2^31-1 key-values", "", rawFooterFile([]byte{0x15, 0x02, 0x39, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00}), "footer", false},
		{"footer unknown map of 2^31-1 entries", "", rawFooterFile([]byte{0x15, 0x02, 0x0b, 0x14, 0xff, 0xff, 0xff, 0xff, 0x07, 0x55, 0x00}), "footer", false},
		{"footer 100000 nested structs", "", rawFooterFile(deep), "footer", false},
		{"footer 200000 empty column chunks", "", rawFooterFile(emptyChunks), "footer", false},
		{"footer length 4 GB", "", hugeFooterLen, "footer length", false},
		// page headers of a table file
		{"page compressed size 2^31-1", "", editFirstPage(t, capData, 0, func(h *format.PageHeader) { h.CompressedPageSize = 1<<31 - 1 }), "compressed size", false},
		{"page uncompressed size 2^28", "", editFirstPage(t, capData, 0, func(h *format.PageHeader) { h.UncompressedPageSize = 1 << 28 }), "uncompressed size", false},
		{"data page of 2^31-1 values", "", editFirstPage(t, capData, 0, func(h *format.PageHeader) {
			if h.DataPageHeader.Valid {
				h.DataPageHeader.V.NumValues = 1<<31 - 1
			}
			if h.DataPageHeaderV2.Valid {
				h.DataPageHeaderV2.V.NumValues, h.DataPageHeaderV2.V.NumRows = 1<<31-1, 1<<31-1
			}
		}), "2147483647 values", false},
		{"dictionary page of 2^31-1 values", "dict", editFirstPage(t, dictData, 1, func(h *format.PageHeader) {
			if h.DictionaryPageHeader.Valid {
				h.DictionaryPageHeader.V.NumValues = 1<<31 - 1
			}
		}), "2147483647 values", false},
		// the page index, which table's readers do not need
		{"column index length 2^31-1", "", editFooter(t, capData, func(md *format.FileMetaData) {
			for i := range md.RowGroups {
				for j := range md.RowGroups[i].Columns {
					md.RowGroups[i].Columns[j].ColumnIndexLength = 1<<31 - 1
					md.RowGroups[i].Columns[j].OffsetIndexLength = 1<<31 - 1
				}
			}
		}), "", true},
		// counts that disagree: rows would be lost or made up
		{"row group of fewer rows than its pages", "", editFooter(t, capData, func(md *format.FileMetaData) { md.RowGroups[0].NumRows = 15 }), "rows", true},
		{"row group of more rows than its pages", "", editFooter(t, capData, func(md *format.FileMetaData) { md.RowGroups[0].NumRows = 25 }), "rows", true},
		{"column chunk of fewer values than its pages", "", editFooter(t, capData, func(md *format.FileMetaData) { md.RowGroups[0].Columns[0].MetaData.NumValues = 15 }), "values", true},
		{"column chunk of more values than its pages", "", editFooter(t, capData, func(md *format.FileMetaData) { md.RowGroups[0].Columns[4].MetaData.NumValues = 25 }), "values", true},
		{"data page of one value less", "", editFirstPage(t, capData, 0, pageValues(-1)), "values", false},
		{"data page of one value more", "", editFirstPage(t, capData, 0, pageValues(+1)), "values", false},
		{"text data page of one value less", "", editFirstPage(t, capData, 4, pageValues(-1)), "values", false},
		{"text data page of one value more", "", editFirstPage(t, capData, 4, pageValues(+1)), "values", false},
		{"dictionary page of one value more", "dict", editFirstPage(t, dictData, 1, func(h *format.PageHeader) {
			if h.DictionaryPageHeader.Valid {
				h.DictionaryPageHeader.V.NumValues++
			}
		}), "values", true},
		// a leaf column annotated MAP: parquet-go's schema panics on the
		// logical type (checkSchema let the panic through)
		{"leaf column annotated MAP", "", editFooter(t, capData, func(md *format.FileMetaData) {
			md.Schema[1].ConvertedType = thrift.New(deprecated.Map)
		}), "", true},
		{"leaf column of logical type MAP", "", editFooter(t, capData, func(md *format.FileMetaData) {
			md.Schema[1].LogicalType = format.LogicalType{Value: &format.MapType{}}
		}), "", false},
		{"dictionary page of one value less", "dict", editFirstPage(t, dictData, 1, func(h *format.PageHeader) {
			if h.DictionaryPageHeader.Valid {
				h.DictionaryPageHeader.V.NumValues--
			}
		}), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".parquet")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			res, ok := readInChild(t, p, tc.rows)
			if !ok {
				return
			}
			if res.alloc > damageMaxAlloc {
				t.Errorf("a %d-byte file allocated %d MB", len(tc.data), res.alloc>>20)
			}
			if tc.intact && res.errs[0] == "" && res.rows == intact[tc.rows].rows && res.hash == intact[tc.rows].hash {
				return
			}
			if e := res.errs[0]; e == "" || !strings.Contains(e, p) || !strings.Contains(e, tc.want) {
				t.Errorf("ReadAll: %d rows, error %q; want an error naming %s and %q", res.rows, e, p, tc.want)
			}
			if e := res.errs[1]; e != "" && !strings.Contains(e, p) {
				t.Errorf("ReadMeta: error %q does not name %s", e, p)
			}
		})
	}
}

// TestScanBitFlips flips bits of every byte of a small table file: each
// read returns the file's rows intact or an error naming the file, never
// other rows, and allocates at most damageMaxAlloc. Before the page index
// was skipped and the page headers' counts checked against the footer's,
// four of these reads returned wrong rows without an error (a flip in the
// offset index sent parquet-go to the wrong page).
func TestScanBitFlips(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the file thousands of times")
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	if err := table.WriteFile(good, nil, table.Captions, table.Options{RowGroupRows: 20}, captionRows(40)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	want, err := table.ReadAll[table.CaptionRow](t.Context(), good)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "flipped.parquet")
	for off := range data {
		for _, x := range []byte{0x01, 0x55} {
			c := bytes.Clone(data)
			c[off] ^= x
			if err := os.WriteFile(p, c, 0o644); err != nil {
				t.Fatal(err)
			}
			var got []table.CaptionRow
			var err error
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got, err = table.ReadAll[table.CaptionRow](t.Context(), p)
			runtime.ReadMemStats(&after)
			if a := after.TotalAlloc - before.TotalAlloc; a > damageMaxAlloc {
				t.Errorf("byte %d ^ %#x: allocated %d MB", off, x, a>>20)
			}
			switch {
			case err != nil:
				if !strings.Contains(err.Error(), p) {
					t.Errorf("byte %d ^ %#x: error does not name the file: %v", off, x, err)
				}
			case !slices.Equal(got, want):
				t.Errorf("byte %d ^ %#x: %d rows without an error, not the file's %d rows", off, x, len(got), len(want))
			}
		}
	}
}
