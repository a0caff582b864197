package table_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/internal/testenv"
)

// TestDuckDBReadsTables: DuckDB opens a file of every table coderflow
// writes with the column types of DESIGN.md "Tables" (strings VARCHAR, lists
// standard LISTs of their element type, int32 INTEGER, int64 BIGINT), the
// values written (BIGINTs as strings, as DuckDB's JSON rows show them),
// and the coderflow.table key-value metadata.
func TestDuckDBReadsTables(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	type file struct {
		path, table, types, first string
	}
	var files []file
	add := func(name, types, first string, write func(p string) error) {
		p := filepath.Join(dir, name+".parquet")
		if err := write(p); err != nil {
			t.Fatal(err)
		}
		files = append(files, file{p, name, types, first})
	}
	add(table.Images, "image_id BIGINT, key VARCHAR, split VARCHAR, path VARCHAR, width INTEGER, height INTEGER", `["7","k.jpg","train","a/k.jpg",640,480]`,
		func(p string) error {
			return table.WriteFile(p, nil, table.Images, table.Options{}, []table.ImageRow{{ImageID: 7, Key: "k.jpg", Split: "train", Path: "a/k.jpg", Width: 640, Height: 480}})
		})
	add(table.Captions, "caption_id BIGINT, image_id BIGINT, split VARCHAR, ordinal INTEGER, text VARCHAR", `["35","7","dev",4,"a café"]`,
		func(p string) error {
			return table.WriteFile(p, nil, table.Captions, table.Options{}, []table.CaptionRow{{CaptionID: 35, ImageID: 7, Split: "dev", Ordinal: 4, Text: "a café"}})
		})
	add(table.Features, "image_id BIGINT, n_regions INTEGER, dim INTEGER, boxes FLOAT[], feats FLOAT[]", `["7",1,2,[0,0,1,0.5],[1.5,-2]]`,
		func(p string) error {
			return table.WriteFile(p, nil, table.Features, table.Options{Workers: 2}, []table.FeatureRow{{ImageID: 7, NRegions: 1, Dim: 2, Boxes: []float32{0, 0, 1, 0.5}, Feats: []float32{1.5, -2}}})
		})
	add(table.Tokens, "caption_id BIGINT, image_id BIGINT, split VARCHAR, ids INTEGER[], length INTEGER", `["35","7","test",[4,5,6],3]`,
		func(p string) error {
			return table.WriteFile(p, nil, table.Tokens, table.Options{}, []table.TokenRow{{CaptionID: 35, ImageID: 7, Split: "test", IDs: []int32{4, 5, 6}, Length: 3}})
		})
	add(table.Vocab, "id INTEGER, token VARCHAR, count BIGINT", `[3,"<unk>","9"]`,
		func(p string) error {
			return table.WriteFile(p, nil, table.Vocab, table.Options{}, []table.VocabRow{{ID: 3, Token: "<unk>", Count: 9}})
		})
	add(table.ConceptEdges, "src INTEGER, dst INTEGER, rel VARCHAR, weight FLOAT", `[1,2,"/r/IsA",0.25]`,
		func(p string) error {
			return table.WriteFile(p, nil, table.ConceptEdges, table.Options{}, []table.ConceptEdgeRow{{Src: 1, Dst: 2, Rel: "/r/IsA", Weight: 0.25}})
		})
	add(table.CaptionConcepts, "caption_id BIGINT, concept_ids INTEGER[]", `["35",[]]`,
		func(p string) error {
			return table.WriteFile(p, nil, table.CaptionConcepts, table.Options{}, []table.CaptionConceptRow{{CaptionID: 35}})
		})
	add(table.ImageEmbeddings, "id BIGINT, image_id BIGINT, ordinal INTEGER, split VARCHAR, vec FLOAT[], concept_vec FLOAT[]", `["7","7",0,"test",[0.5],[]]`,
		func(p string) error {
			return table.WriteFile(p, nil, table.ImageEmbeddings, table.Options{}, []table.EmbeddingRow{{ID: 7, ImageID: 7, Split: "test", Vec: []float32{0.5}}})
		})
	add("empty", "caption_id BIGINT, image_id BIGINT, split VARCHAR, ordinal INTEGER, text VARCHAR", "",
		func(p string) error { return table.WriteFile(p, nil, "empty", table.Options{}, []table.CaptionRow{}) })
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.path
	}
	arg, _ := json.Marshal(paths)
	out := testenv.DuckDB(t, `
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const con = await (await DuckDBInstance.create(':memory:')).connect();
  for (const f of JSON.parse(process.argv[1])) {
    const src = "read_parquet('" + f.replace(/'/g, "''") + "')";
    const d = await con.runAndReadAll('DESCRIBE SELECT * FROM ' + src);
    const types = d.getRows().map(r => r[0] + ' ' + r[1]).join(', ');
    const rows = (await con.runAndReadAll('SELECT * FROM ' + src)).getRowsJson();
    const kv = await con.runAndReadAll("SELECT decode(value) FROM parquet_kv_metadata('" + f.replace(/'/g, "''") + "') WHERE decode(key) = 'coderflow.table'");
    console.log(JSON.stringify({types, first: rows.length ? JSON.stringify(rows[0]) : '', table: kv.getRows().map(r => r[0]).join()}));
  }
})().catch(e => { console.error(String(e)); process.exit(1); });
`, string(arg))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(files) {
		t.Fatalf("DuckDB printed %d lines for %d files:\n%s", len(lines), len(files), out)
	}
	for i, f := range files {
		var got struct{ Types, First, Table string }
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatalf("%s: %v", lines[i], err)
		}
		if got.Types != f.types || got.Table != f.table || normalize(got.First) != normalize(f.first) {
			t.Errorf("%s: DuckDB reads\n  %s\n  first row %s, table %q\nwant\n  %s\n  %s, %q", f.table, got.Types, got.First, got.Table, f.types, f.first, f.table)
		}
	}
}

// normalize re-encodes a JSON text (so 1.5 and 1.50, spacing, agree).
func normalize(s string) string {
	if s == "" {
		return ""
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return "invalid JSON " + s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
