package dataset

import (
	"coderflow/internal/testenv"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"coderflow/datasets"
	"coderflow/datasets/table"
	"coderflow/pipeline/pipelinetest"
)

func duckdb(t *testing.T, script string, args ...string) []byte {
	return testenv.DuckDB(t, script, args...)
}

const duckCountsJS = `
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const [images, captions] = process.argv.slice(1).map(f => "'" + f.replace(/'/g, "''") + "'");
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
  const out = {
    images: (await q('SELECT count(*)::INTEGER AS n FROM read_parquet(' + images + ')'))[0].n,
    captions: (await q('SELECT count(*)::INTEGER AS n FROM read_parquet(' + captions + ')'))[0].n,
    splits: await q('SELECT split, count(*)::INTEGER AS n FROM read_parquet(' + images + ') GROUP BY split ORDER BY split'),
    orphans: (await q('SELECT count(*)::INTEGER AS n FROM read_parquet(' + captions + ') c ANTI JOIN read_parquet(' + images + ') i USING (image_id)'))[0].n,
    per_image: await q('SELECT n, count(*)::INTEGER AS images FROM (SELECT image_id, count(*)::INTEGER AS n FROM read_parquet(' + captions + ') GROUP BY image_id) GROUP BY n'),
  };
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
`

// TestFlickr8kDuckDB reads the flickr8k-1k tables with DuckDB, an
// independent Parquet reader: 875 images (762/56/57), 4,375 captions, every
// caption's image present, 5 captions per image.
func TestFlickr8kDuckDB(t *testing.T) {
	t.Parallel()
	root := filepath.Join(sharedData(t), "flickr8k-1k")
	if !datasets.IsDir(root) {
		t.Skip(root + " not found: real-data test skipped")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed: DuckDB check skipped")
	}
	a := pipelinetest.RunStage(t, &Flickr8kSpec, map[string]any{"source": "dir:" + root})
	imgs, _ := a.Table(table.Images)
	caps, _ := a.Table(table.Captions)
	out := duckdb(t, duckCountsJS, imgs[0], caps[0])
	var got struct {
		Images, Captions, Orphans int
		Splits                    []struct {
			Split string
			N     int
		}
		PerImage []struct{ N, Images int } `json:"per_image"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("duckdb output %q: %v", out, err)
	}
	if got.Images != 875 || got.Captions != 4375 || got.Orphans != 0 {
		t.Errorf("duckdb: %d images, %d captions, %d orphan captions; want 875, 4375, 0", got.Images, got.Captions, got.Orphans)
	}
	want := map[string]int{"dev": 56, "test": 57, "train": 762}
	for _, s := range got.Splits {
		if want[s.Split] != s.N {
			t.Errorf("duckdb split %s: %d, want %d", s.Split, s.N, want[s.Split])
		}
	}
	if len(got.PerImage) != 1 || got.PerImage[0].N != 5 || got.PerImage[0].Images != 875 {
		t.Errorf("captions per image: %+v, want 5 for all 875", got.PerImage)
	}
}

// TestSynthDuckDB reads the synthetic tables with DuckDB.
func TestSynthDuckDB(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed: DuckDB check skipped")
	}
	a := pipelinetest.RunStage(t, &SynthSpec, map[string]any{"images": 50, "seed": 1})
	imgs, _ := a.Table(table.Images)
	caps, _ := a.Table(table.Captions)
	out := duckdb(t, duckCountsJS, imgs[0], caps[0])
	var got struct {
		Images, Captions, Orphans int
		PerImage                  []struct{ N, Images int } `json:"per_image"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("duckdb output %q: %v", out, err)
	}
	if got.Images != 50 || got.Captions != 250 || got.Orphans != 0 || len(got.PerImage) != 1 || got.PerImage[0].N != 5 {
		t.Errorf("duckdb: %+v, want 50 images with 5 captions each", got)
	}
}
