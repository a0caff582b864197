package features

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"coderflow/datasets/arrowfeat"
	"coderflow/datasets/table"
	"coderflow/internal/testenv"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// imagesSpec is a test-only upstream stage: it writes an images table whose
// rows point at the given paths (repeated `repeat` times, fresh ids).
var imagesSpec = pipeline.Spec{
	Kind: "test.images", Version: "1", Produces: []string{table.Images},
	Params: []pipeline.Param{
		{Name: "paths", Type: pipeline.StringList, Default: []string{}},
		{Name: "repeat", Type: pipeline.Int, Default: 1},
	},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		paths := env.Params.Strings("paths")
		var rows []table.ImageRow
		for r := 0; r < env.Params.Int("repeat"); r++ {
			for _, p := range paths {
				rows = append(rows, table.ImageRow{ImageID: int64(len(rows)), Key: filepath.Base(p), Split: table.SplitTrain, Path: p})
			}
		}
		if err := table.WriteFile(env.Path("images.parquet"), env, table.Images, table.Options{}, rows); err != nil {
			return err
		}
		env.AddTable(table.Images, int64(len(rows)), "images.parquet")
		return nil
	}),
}

func sharedData(t testing.TB) string { return testenv.SharedData(t) }

// flickrPhotos returns the sorted paths of the flickr8k-1k photos (or skips).
func flickrPhotos(t testing.TB) []string {
	t.Helper()
	dir := filepath.Join(sharedData(t), "flickr8k-1k", "Flicker8k_Dataset")
	ps, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if len(ps) == 0 {
		t.Skipf("%s: no photos: real-data test skipped", dir)
	}
	sort.Strings(ps)
	return ps
}

func fixturePaths(t testing.TB) []string {
	t.Helper()
	var ps []string
	for _, f := range fixtures {
		p, err := filepath.Abs(filepath.Join("testdata", f.name))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

func imagesArtifact(t testing.TB, paths []string, repeat int) *pipeline.Artifact {
	t.Helper()
	return pipelinetest.RunStage(t, &imagesSpec, map[string]any{"paths": paths, "repeat": repeat})
}

func readFeatures(t testing.TB, a *pipeline.Artifact) []table.FeatureRow {
	t.Helper()
	files, ok := a.Table(table.Features)
	if !ok {
		t.Fatalf("no features table in %+v", a.Manifest.Tables)
	}
	rows, err := table.ReadAll[table.FeatureRow](context.Background(), files...)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestBadInputsCountedWithReasons(t *testing.T) {
	paths := fixturePaths(t)
	good := 0
	wantReasons := map[string]float64{}
	for _, f := range fixtures {
		if f.reason == "" {
			good++
		} else {
			wantReasons[f.reason]++
		}
	}
	in := imagesArtifact(t, paths, 1)
	a := pipelinetest.RunStage(t, &Spec, map[string]any{"max_fail_fraction": 0.5, "shard_rows": 4, "workers": 2}, in)
	rows := readFeatures(t, a)
	if len(rows) != good || a.TableRows(table.Features) != int64(good) {
		t.Fatalf("%d rows (manifest %d), want %d", len(rows), a.TableRows(table.Features), good)
	}
	for _, r := range rows {
		if r.NRegions != 36 || r.Dim != 104 || len(r.Boxes) != 36*4 || len(r.Feats) != 36*104 {
			t.Fatalf("image %d: n=%d dim=%d boxes=%d feats=%d", r.ImageID, r.NRegions, r.Dim, len(r.Boxes), len(r.Feats))
		}
		if f := fixtures[r.ImageID]; f.reason != "" {
			t.Fatalf("image %d (%s) should have been skipped", r.ImageID, f.name)
		}
	}
	// the manifest's info went through JSON: numbers are float64
	var info map[string]any
	b, _ := json.Marshal(a.Manifest.Info)
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	byReason, _ := info["failed_by_reason"].(map[string]any)
	for reason, n := range wantReasons {
		if byReason[reason] != n {
			t.Errorf("failed_by_reason[%s] = %v, want %v (all: %v)", reason, byReason[reason], n, byReason)
		}
	}
	if len(byReason) != len(wantReasons) {
		t.Errorf("failed_by_reason %v, want %v", byReason, wantReasons)
	}
	failures, _ := info["failures"].([]any)
	if len(failures) != len(wantReasons) {
		t.Fatalf("failures listed: %v", failures)
	}
	for _, f := range failures {
		m := f.(map[string]any)
		id := int(m["image_id"].(float64))
		if want := fixtures[id].reason; m["reason"] != want || !strings.Contains(m["error"].(string), fixtures[id].name) {
			t.Errorf("failure %v: want reason %s naming %s", m, want, fixtures[id].name)
		}
	}
	if info["extension_mismatch"] != 1.0 {
		t.Errorf("extension_mismatch = %v, want 1", info["extension_mismatch"])
	}
}

func TestTooManyFailuresFailTheStage(t *testing.T) {
	in := imagesArtifact(t, fixturePaths(t), 1)
	_, err := pipelinetest.RunStageErr(t, &Spec, map[string]any{}, in) // default 1 %
	if err == nil || !strings.Contains(err.Error(), "max_fail_fraction") {
		t.Fatalf("want a max_fail_fraction error, got %v", err)
	}
}

func TestParamsSelectPartsAndRegions(t *testing.T) {
	in := imagesArtifact(t, fixturePaths(t)[:3], 1)
	a := pipelinetest.RunStage(t, &Spec, map[string]any{"regions": 5, "parts": []string{"hog", "color"}, "compression": "snappy"}, in)
	rows := readFeatures(t, a)
	if len(rows) != 3 || rows[0].NRegions != 5 || rows[0].Dim != 70 || len(rows[0].Feats) != 350 {
		t.Fatalf("rows %d, first n=%d dim=%d", len(rows), rows[0].NRegions, rows[0].Dim)
	}
	files, _ := a.Table(table.Features)
	meta, err := table.ReadMeta(files[0])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{MetaDim: "70", MetaRegions: "5", MetaParts: "color,hog", table.MetaKind: "features.regions",
		table.MetaVersion: Spec.Version, table.MetaKey: a.Key(), table.MetaTable: table.Features}
	for k, v := range want {
		if meta[k] != v {
			t.Errorf("meta[%s] = %q, want %q", k, meta[k], v)
		}
	}
	if _, err := pipelinetest.RunStageErr(t, &Spec, map[string]any{"parts": []string{"sift"}}, in); err == nil {
		t.Fatal("unknown part accepted")
	}
	if _, err := pipelinetest.RunStageErr(t, &Spec, map[string]any{"parts": []string{}}, in); err == nil || !strings.Contains(err.Error(), "at least one descriptor part") {
		t.Fatalf("empty parts: %v", err)
	}
	// the same parts in another order, repeated: the same output, the same key
	b := pipelinetest.RunStage(t, &Spec, map[string]any{"regions": 5, "parts": []string{"color", "hog", "hog"}, "compression": "snappy"}, in)
	if b.Key() != a.Key() {
		t.Errorf("parts [color hog hog]: key %s, [hog color]: %s", b.Key(), a.Key())
	}
}

// TestResumeFromFinishedShards interrupts a run (an image is missing and the
// failure threshold is 0, so the stage stops in the shard that holds it),
// fixes the input and reruns into the same directory: finished shards are
// kept, not recomputed, and re-declared with their row counts.
func TestResumeFromFinishedShards(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, f := range fixtures[:5] { // decodable ones
		paths = append(paths, filepath.Join(dir, f.name))
		copyFile(t, filepath.Join("testdata", f.name), paths[len(paths)-1])
	}
	late := filepath.Join(dir, "late.png")
	paths = append(paths, paths...) // 10 images
	paths = append(paths, late)     // image 10, in shard 3 with shard_rows=3
	paths = append(paths, paths[0])
	in := imagesArtifact(t, paths, 1)
	out := filepath.Join(t.TempDir(), "artifact")
	raw := map[string]any{"shard_rows": 3, "max_fail_fraction": 0.0, "workers": 2}
	_, err := pipeline.RunStandalone(t.Context(), &Spec, "features", raw, []*pipeline.Artifact{in}, out, nil)
	if err == nil || !strings.Contains(err.Error(), "max_fail_fraction") {
		t.Fatalf("first attempt: want failure, got %v", err)
	}
	mtimes := map[string]time.Time{}
	for i := 0; i < 3; i++ {
		st, err := os.Stat(filepath.Join(out, filepath.FromSlash(shardName(i))))
		if err != nil {
			t.Fatalf("shard %d not written before the failure: %v", i, err)
		}
		mtimes[shardName(i)] = st.ModTime()
	}
	if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(shardName(3)))); err == nil {
		t.Fatal("the failed shard was committed")
	}
	time.Sleep(10 * time.Millisecond) // let a rewrite show in mtimes
	copyFile(t, filepath.Join("testdata", "red-disc.png"), late)
	a, err := pipeline.RunStandalone(t.Context(), &Spec, "features", raw, []*pipeline.Artifact{in}, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, mt := range mtimes {
		st, err := os.Stat(filepath.Join(out, filepath.FromSlash(name)))
		if err != nil || !st.ModTime().Equal(mt) {
			t.Errorf("%s was rewritten on resume", name)
		}
	}
	if a.TableRows(table.Features) != 12 {
		t.Fatalf("rows %d after resume, want 12", a.TableRows(table.Features))
	}
	files, _ := a.Table(table.Features)
	if len(files) != 4 {
		t.Fatalf("files %v", files)
	}
	rows := readFeatures(t, a)
	for i, r := range rows {
		if r.ImageID != int64(i) {
			t.Fatalf("row %d has image %d: order lost on resume", i, r.ImageID)
		}
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadAppliesOrientationAndSizes(t *testing.T) {
	d, err := load(filepath.Join("testdata", "rotated-exif6.jpg"), 1<<30, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := d.img.Bounds(); b.Dx() != 100 || b.Dy() != 200 {
		t.Fatalf("EXIF orientation 6 not applied: %v", b)
	}
	tests := []struct{ w, h, side, tw, th int }{
		{500, 375, 256, 341, 256},
		{375, 500, 256, 256, 341},
		{64, 64, 256, 256, 256},
		{10000, 100, 256, 1024, 24}, // 1024 x 10 before features.regions v4
		{1, 500, 256, 24, 1024},
		{2000, 4, 16, 64, 16},
	}
	for _, tc := range tests {
		if tw, th := targetSize(tc.w, tc.h, tc.side); tw != tc.tw || th != tc.th {
			t.Errorf("targetSize(%d,%d,%d) = %d,%d want %d,%d", tc.w, tc.h, tc.side, tw, th, tc.tw, tc.th)
		}
	}
	if _, err := load(filepath.Join("testdata", "red-disc.png"), 100, nil); err == nil {
		t.Fatal("max_pixels not applied")
	}
}

// TestFlickr8k1k runs the stage on the 875 real photos, then checks the
// shards three ways: parquet-go, the Arrow reader, and DuckDB.
func TestFlickr8k1k(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	photos := flickrPhotos(t)
	in := imagesArtifact(t, photos, 1)
	a := pipelinetest.RunStage(t, &Spec, map[string]any{"shard_rows": 300}, in)
	rows := readFeatures(t, a)
	if len(rows) != len(photos) || a.TableRows(table.Features) != int64(len(photos)) {
		t.Fatalf("%d rows, manifest %d, want %d", len(rows), a.TableRows(table.Features), len(photos))
	}
	files, _ := a.Table(table.Features)
	if len(files) != (len(photos)+299)/300 {
		t.Fatalf("shards %v", files)
	}
	for _, f := range files {
		meta, err := table.ReadMeta(f)
		if err != nil || meta[MetaDim] != "104" || meta[MetaRegions] != "36" || meta[table.MetaKey] != a.Key() {
			t.Fatalf("%s meta %v %v", f, meta, err)
		}
	}
	checkArrow(t, files, rows)
	checkDuckDB(t, files, rows)
}

// checkArrow reads the shards with arrowfeat and compares every value.
func checkArrow(t *testing.T, files []string, rows []table.FeatureRow) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := arrowfeat.NewReader(mem, files, arrowfeat.Options{BatchRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	i := 0
	for {
		rec, err := r.Next(t.Context())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids := rec.Column(0).(*array.Int64)
		feats := rec.Column(4).(*array.List)
		fv := feats.ListValues().(*array.Float32).Float32Values()
		for j := 0; j < int(rec.NumRows()); j++ {
			s, e := feats.ValueOffsets(j)
			if ids.Value(j) != rows[i].ImageID || !slices.Equal(fv[s:e], rows[i].Feats) {
				rec.Release()
				t.Fatalf("arrow row %d differs from parquet-go", i)
			}
			i++
		}
		rec.Release()
	}
	if i != len(rows) {
		t.Fatalf("arrow read %d rows, want %d", i, len(rows))
	}
}

func duckdb(t testing.TB, script string, args ...string) json.RawMessage {
	return testenv.DuckDB(t, script, args...)
}

const duckCheckJS = `
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const files = JSON.parse(process.argv[1]);
  const ids = JSON.parse(process.argv[2]);
  const list = '[' + files.map(f => "'" + f.replace(/'/g, "''") + "'").join(',') + ']';
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const n = await con.runAndReadAll('SELECT count(*)::INTEGER AS n FROM read_parquet(' + list + ')');
  const rows = await con.runAndReadAll(
    'SELECT image_id::INTEGER AS image_id, n_regions, dim, len(boxes)::INTEGER AS nb, len(feats)::INTEGER AS nf, ' +
    'boxes[4]::DOUBLE AS b4, feats[1]::DOUBLE AS f1, feats[len(feats)]::DOUBLE AS flast, list_sum(feats)::DOUBLE AS fsum ' +
    'FROM read_parquet(' + list + ') WHERE image_id IN (' + ids.join(',') + ') ORDER BY image_id');
  console.log(JSON.stringify({ n: n.getRowObjectsJson()[0].n, rows: rows.getRowObjectsJson() }));
})().catch(e => { console.error(e); process.exit(1); });
`

func checkDuckDB(t *testing.T, files []string, rows []table.FeatureRow) {
	pick := []int{0, 1, len(rows) / 2, len(rows) - 1}
	var ids []string
	for _, i := range pick {
		ids = append(ids, fmt.Sprint(rows[i].ImageID))
	}
	fj, _ := json.Marshal(files)
	out := duckdb(t, duckCheckJS, string(fj), "["+strings.Join(ids, ",")+"]")
	var got struct {
		N    int `json:"n"`
		Rows []struct {
			ImageID  int64   `json:"image_id"`
			NRegions int32   `json:"n_regions"`
			Dim      int32   `json:"dim"`
			NBJ      int     `json:"nb"`
			NFJ      int     `json:"nf"`
			B4       float64 `json:"b4"`
			F1       float64 `json:"f1"`
			FLast    float64 `json:"flast"`
			FSum     float64 `json:"fsum"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("duckdb output %q: %v", out, err)
	}
	if got.N != len(rows) {
		t.Fatalf("duckdb counts %d rows, parquet-go %d", got.N, len(rows))
	}
	if len(got.Rows) != len(pick) {
		t.Fatalf("duckdb returned %d of the %d picked rows", len(got.Rows), len(pick))
	}
	for k, i := range pick {
		w, g := rows[i], got.Rows[k]
		var sum float64
		for _, v := range w.Feats {
			sum += float64(v)
		}
		ok := g.ImageID == w.ImageID && g.NRegions == w.NRegions && g.Dim == w.Dim && g.NBJ == len(w.Boxes) &&
			g.NFJ == len(w.Feats) && float32(g.B4) == w.Boxes[3] && float32(g.F1) == w.Feats[0] &&
			float32(g.FLast) == w.Feats[len(w.Feats)-1] && abs(g.FSum-sum) < 1e-3*max(1, abs(sum))
		if !ok {
			t.Errorf("row %d: duckdb %+v, parquet-go id=%d n=%d dim=%d b4=%v f1=%v flast=%v sum=%v", i, g,
				w.ImageID, w.NRegions, w.Dim, w.Boxes[3], w.Feats[0], w.Feats[len(w.Feats)-1], sum)
		}
	}
}

func abs(x float64) float64 { return max(x, -x) }

// TestRelativeImagePaths feeds an images table whose paths are relative to
// its own artifact directory, as the dataset stages write them.
func TestRelativeImagePaths(t *testing.T) {
	spec := pipeline.Spec{
		Kind: "test.images.relative", Version: "1", Produces: []string{table.Images},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			b, err := os.ReadFile(filepath.Join("testdata", "red-disc.png"))
			if err != nil {
				return err
			}
			if err := os.WriteFile(env.Path("images/red.png"), b, 0o644); err != nil {
				return err
			}
			rows := []table.ImageRow{{ImageID: 7, Key: "red.png", Split: table.SplitTest, Path: "images/red.png", Width: 160, Height: 128}}
			if err := table.WriteFile(env.Path("images.parquet"), env, table.Images, table.Options{}, rows); err != nil {
				return err
			}
			env.AddTable(table.Images, 1, "images.parquet")
			return nil
		}),
	}
	in := pipelinetest.RunStage(t, &spec, nil)
	a := pipelinetest.RunStage(t, &Spec, nil, in)
	rows := readFeatures(t, a)
	if len(rows) != 1 || rows[0].ImageID != 7 || len(rows[0].Feats) != 36*104 {
		t.Fatalf("rows %+v", rows)
	}
}

// TestShardsIndependentOfWorkers runs the stage with 1 and 3 workers (small
// shards and row groups, so chunks, row groups and shards all interleave),
// and with 3 workers under a 1 MB decode_memory (decodes one at a time or
// nearly), and requires byte-identical shard files: neither workers nor
// decode_memory is in the cache key.
func TestShardsIndependentOfWorkers(t *testing.T) {
	in := imagesArtifact(t, fixturePaths(t)[:7], 3)
	var first [][]byte
	for _, run := range []struct{ workers, decodeMB int }{{1, 1024}, {3, 1024}, {3, 1}} {
		workers := run.workers
		a := pipelinetest.RunStage(t, &Spec, map[string]any{"workers": workers, "decode_memory": run.decodeMB, "shard_rows": 8, "row_group_rows": 3}, in)
		files, _ := a.Table(table.Features)
		if len(files) != 3 {
			t.Fatalf("workers %d: shards %v", workers, files)
		}
		for i, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if first == nil || i >= len(first) {
				first = append(first, b)
			} else if !slices.Equal(b, first[i]) {
				t.Errorf("%s differs between 1 and %d workers (decode_memory %d MB)", filepath.Base(f), workers, run.decodeMB)
			}
		}
	}
}

// TestHugeShardAndRowGroupRows asks for one shard and one row group with
// values far above the table's size: buffers are sized by the images that
// exist (shard_rows 1e9 or row_group_rows 1e9 on 7 images died out of
// memory allocating for a billion rows).
func TestHugeShardAndRowGroupRows(t *testing.T) {
	in := imagesArtifact(t, fixturePaths(t)[:3], 1)
	for _, params := range []map[string]any{
		{"shard_rows": 1_000_000_000},
		{"row_group_rows": 1_000_000_000},
		{"shard_rows": 1_000_000_000, "row_group_rows": 1_000_000_000, "workers": 1},
	} {
		a := pipelinetest.RunStage(t, &Spec, params, in)
		files, _ := a.Table(table.Features)
		if len(files) != 1 || a.TableRows(table.Features) != 3 {
			t.Errorf("%v: shards %v, %d rows; want 1 shard of 3 rows", params, files, a.TableRows(table.Features))
		}
	}
}

// TestWorkersBound: a worker count whose up-front scratch would not fit is
// a param error naming the param, before anything runs.
func TestWorkersBound(t *testing.T) {
	if _, err := pipeline.NewParams(Spec.Params, map[string]any{"workers": 1024}); err != nil {
		t.Fatalf("workers 1024: %v", err)
	}
	if _, err := pipeline.NewParams(Spec.Params, map[string]any{"workers": 1025}); err == nil || !strings.Contains(err.Error(), "workers") {
		t.Fatalf("workers 1025: err %v, want an error naming workers", err)
	}
}
