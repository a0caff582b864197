package pqinspect_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pq "github.com/parquet-go/parquet-go"

	"coderflow/internal/pqinspect"
)

// TestSchemaNamesEscaped: the schema text shows column names with control
// characters and bytes that are not UTF-8 escaped (\x1b, \n, \xff), as
// the rest of inspect's output does; they were printed raw, so a file could
// send escape sequences to the terminal and a newline in a name broke the
// schema's lines. The column keys of the rows keep the names as they are.
func TestSchemaNamesEscaped(t *testing.T) {
	weird := "a\x1b[31mred\nb\xff"
	s := pq.NewSchema("m", pq.Group{weird: pq.Optional(pq.Group{"in\tner": pq.String()}), "ok": pq.Int(32)})
	p := filepath.Join(t.TempDir(), "weird.parquet")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := pq.NewWriter(f, s)
	if err := w.Write(map[string]any{weird: map[string]any{"in\tner": "x"}, "ok": int32(1)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	info, err := pqinspect.Describe(p)
	if err != nil {
		t.Fatal(err)
	}
	want := "message m {\n\toptional group a\\x1b[31mred\\nb\\xff {\n\t\trequired binary in\\tner (STRING);\n\t}\n\trequired int32 ok (INT(32,true));\n}"
	if info.Schema != want {
		t.Errorf("schema\n%s\nwant\n%s", info.Schema, want)
	}
	if strings.Join(info.Columns, ",") != weird+",ok" {
		t.Errorf("columns %q", info.Columns)
	}
	rows, err := pqinspect.Head(p, 1, 8)
	if err != nil || len(rows) != 1 || rows[0][weird] == nil {
		t.Errorf("head: %v, %v", rows, err)
	}
}

// TestLongMapsCut: a MAP column with more entries than lists keep items is
// cut like a list, its first entries followed by a "…" key saying how many
// there are (maps were shown whole: a map of a million entries printed a
// million entries per row, where a list printed 8).
func TestLongMapsCut(t *testing.T) {
	t.Parallel()
	type row struct {
		M map[string]int32 `parquet:"m"`
		S map[string]int32 `parquet:"s"`
	}
	m := map[string]int32{}
	for i := range 20 {
		m[fmt.Sprint("k", i)] = int32(i)
	}
	p := filepath.Join(t.TempDir(), "maps.parquet")
	if err := pq.WriteFile(p, []row{{M: m, S: map[string]int32{"a": 1, "b": 2}}}); err != nil {
		t.Fatal(err)
	}
	rows, err := pqinspect.Head(p, 1, 8)
	if err != nil || len(rows) != 1 {
		t.Fatalf("head: %v, %v", rows, err)
	}
	got := rows[0]["m"].(map[string]any)
	if len(got) != 9 || got["…"] != "(20 entries)" {
		t.Errorf("long map shown as %v", got)
	}
	for k, v := range got {
		if k != "…" && m[k] != v {
			t.Errorf("entry %s = %v, want %d", k, v, m[k])
		}
	}
	if s := rows[0]["s"].(map[string]any); len(s) != 2 || s["a"] != int32(1) {
		t.Errorf("short map shown as %v", s)
	}
	whole, err := pqinspect.Head(p, 1, 0)
	if err != nil || len(whole[0]["m"].(map[string]any)) != 20 {
		t.Errorf("maxList 0 keeps maps whole: %v, %v", whole, err)
	}
}
