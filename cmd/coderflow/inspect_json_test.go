package main

import (
	"bytes"
	"coderflow/internal/testenv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	apq "github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/parquet-go/parquet-go"
)

// TestInspectJSONReadError: when reading fails after the first row (the
// second row group's page header is damaged), --json --head still writes
// valid JSON: the rows read so far, then an "error" field, and the exit
// code is 1 (stdout ended in the middle of the "head" array).
func TestInspectJSONReadError(t *testing.T) {
	type row struct {
		ID   int64  `parquet:"id"`
		Name string `parquet:"name"`
	}
	p := filepath.Join(t.TempDir(), "two.parquet")
	rows := []row{{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {5, "e"}, {6, "f"}}
	if err := parquet.WriteFile(p, rows, parquet.MaxRowsPerRowGroup(3)); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	md := pf.Metadata()
	f.Close()
	if len(md.RowGroups) != 2 {
		t.Fatalf("fixture: %d row groups", len(md.RowGroups))
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range md.RowGroups[1].Columns {
		off := c.MetaData.DataPageOffset
		if c.MetaData.DictionaryPageOffset > 0 {
			off = min(off, c.MetaData.DictionaryPageOffset)
		}
		copy(data[off:], bytes.Repeat([]byte{0xff}, 6))
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	code := runCLI(t.Context(), []string{"inspect", p, "--json", "--head", "6"}, &stdout, &stderr)
	var got struct {
		Rows  int64
		Head  []map[string]any
		Error string
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("exit %d, invalid JSON: %v\nstdout: %s\nstderr: %s", code, err, stdout.String(), stderr.String())
	}
	if code != 1 {
		t.Errorf("exit %d, want 1\nstderr: %s", code, stderr.String())
	}
	if got.Rows != 6 || len(got.Head) != 3 || got.Head[2]["name"] != "c" {
		t.Errorf("head %v, want the first row group's 3 rows", got.Head)
	}
	if !strings.Contains(got.Error, p) || !strings.Contains(got.Error, "row group 1") {
		t.Errorf("error field %q, want one naming the file and row group 1", got.Error)
	}
	if !strings.Contains(stderr.String(), "row group 1") {
		t.Errorf("stderr %q, want the error too", stderr.String())
	}

	// The text form prints the rows it read and exits 1.
	stdout.Reset()
	stderr.Reset()
	code = runCLI(t.Context(), []string{"inspect", p, "--head", "6"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stdout.String(), `name="c"`) || !strings.Contains(stderr.String(), "row group 1") {
		t.Errorf("text: exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
}

// TestInspectDuplicateColumns: a file with two top-level columns of one
// name (Arrow writes them) shows both, the second as name#2, in text and
// JSON (the second overwrote the first).
func TestInspectDuplicateColumns(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dup.parquet")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Int64},
		{Name: "x", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(7)
	b.Field(1).(*array.StringBuilder).Append("seven")
	rec := b.NewRecord()
	defer rec.Release()
	aprops := pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem))
	testenv.WriteArrowParquet(t, p, rec, apq.NewWriterProperties(apq.WithAllocator(mem)), &aprops)
	code, out := cli(t, "inspect", p, "--head", "1")
	if code != 0 || !strings.Contains(out, `x=7 x#2="seven"`) {
		t.Fatalf("text: exit %d\n%s", code, out)
	}
	code, out = cli(t, "inspect", p, "--head", "1", "--json")
	var got struct{ Head []map[string]any }
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || len(got.Head) != 1 || got.Head[0]["x"] != 7.0 || got.Head[0]["x#2"] != "seven" {
		t.Fatalf("json: exit %d, %v\n%s", code, err, out)
	}
}

// TestInspectArtifactDir: inspect takes an artifact directory found on disk
// (.coderflow/cache/KIND/KEY) and shows its manifest, as for WORKFLOW.yaml
// STAGE (it said "is a directory: inspect takes one Parquet file").
func TestInspectArtifactDir(t *testing.T) {
	_, _, wd := runMini(t)
	dirs, _ := filepath.Glob(filepath.Join(wd, "cache", "tokenize", "*"))
	if len(dirs) != 1 {
		t.Fatalf("want one tokenize artifact, found %v", dirs)
	}
	if code, out := cli(t, "inspect", dirs[0]); code != 0 || !strings.Contains(out, "stage:    tokens (tokenize, version") || !strings.Contains(out, "tokens/part-00000.parquet") {
		t.Errorf("inspect DIR: exit %d\n%s", code, out)
	}
	code, out := cli(t, "inspect", dirs[0], "--json")
	var got struct {
		Path     string
		Manifest struct{ Stage string }
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Path != dirs[0] || got.Manifest.Stage != "tokens" {
		t.Errorf("inspect DIR --json: exit %d, %v\n%s", code, err, out)
	}
	if code, out := cli(t, "inspect", dirs[0], "--head", "2"); code != exitUsage || !strings.Contains(out, "--head: not for an artifact directory") {
		t.Errorf("inspect DIR --head: exit %d (want 2)\n%s", code, out)
	}
}
