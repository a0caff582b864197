package table_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/internal/testenv"
)

// TestInvalidUTF8Refused: a string value that is not UTF-8 (a Latin-1
// caption) is a Write error naming the row and column, and no file is left,
// for both write paths and nested text (a list of strings, a pointer);
// binary ([]byte, a string tagged "bytes") is not text. Before, the file was
// written, and DuckDB refused it whole: "Invalid string encoding found in
// Parquet file".
func TestInvalidUTF8Refused(t *testing.T) {
	t.Parallel()
	type nested struct {
		ID    int64            `parquet:"id"`
		Tags  []string         `parquet:"tags,list"`
		Note  *string          `parquet:"note,optional"`
		Blob  []byte           `parquet:"blob"`
		Raw   string           `parquet:"raw,bytes"`
		Label []byte           `parquet:"label,string"`
		Attrs map[string]int32 `parquet:"attrs"`
	}
	bad := "caf\xe9 au lait"
	dir := t.TempDir()
	for _, workers := range []int{0, 2} {
		caps := captionRows(10)
		caps[7].Text = bad
		p := filepath.Join(dir, "captions.parquet")
		err := table.WriteFile(p, nil, table.Captions, table.Options{Workers: workers, RowGroupRows: 3}, caps)
		if err == nil || !strings.Contains(err.Error(), `row 7: column "text": invalid UTF-8 at byte 3`) {
			t.Errorf("workers %d: WriteFile = %v, want an invalid UTF-8 error at row 7", workers, err)
		}
		if _, serr := os.Stat(p); !os.IsNotExist(serr) {
			t.Errorf("workers %d: file left after the error: %v", workers, serr)
		}
	}
	// AllowInvalidText (tests faking a foreign table) writes it as it is.
	caps := captionRows(3)
	caps[2].Text = bad
	allowed := filepath.Join(dir, "allowed.parquet")
	if err := table.WriteFile(allowed, nil, table.Captions, table.Options{AllowInvalidText: true}, caps); err != nil {
		t.Fatal(err)
	}
	if got, err := table.ReadAll[table.CaptionRow](t.Context(), allowed); err != nil || got[2].Text != bad {
		t.Fatalf("AllowInvalidText: %v, %v", got, err)
	}
	note := bad
	for name, tc := range map[string]struct {
		row  nested
		want string
	}{
		"list":   {nested{Tags: []string{"ok", bad}}, `column "tags"`},
		"ptr":    {nested{Note: &note}, `column "note"`},
		"label":  {nested{Label: []byte(bad)}, `column "label"`},
		"map":    {nested{Attrs: map[string]int32{bad: 1}}, `column "attrs.key"`},
		"binary": {nested{Blob: []byte(bad), Raw: bad, Tags: []string{"é"}}, ""},
	} {
		p := filepath.Join(dir, name+".parquet")
		err := table.WriteFile(p, nil, "nested", table.Options{}, []nested{{ID: 1}, tc.row})
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "row 1: "+tc.want) {
			t.Errorf("%s: WriteFile = %v, want an error naming row 1 %s", name, err, tc.want)
		}
	}
	// Valid text, accents included, is written and DuckDB reads it.
	ok := filepath.Join(dir, "ok.parquet")
	caps = captionRows(3)
	caps[1].Text = "café au lait"
	if err := table.WriteFile(ok, nil, table.Captions, table.Options{}, caps); err != nil {
		t.Fatal(err)
	}
	out := testenv.DuckDB(t, `
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const con = await (await DuckDBInstance.create(':memory:')).connect();
  const r = await con.runAndReadAll("SELECT text FROM read_parquet('" + process.argv[1].replace(/'/g, "''") + "') ORDER BY caption_id");
  console.log(r.getRows().map(x => x[0]).join('|'));
})().catch(e => { console.error(String(e)); process.exit(1); });
`, ok)
	if !strings.Contains(string(out), "café au lait") {
		t.Errorf("DuckDB read %q", out)
	}
}
