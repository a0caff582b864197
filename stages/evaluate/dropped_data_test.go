package evaluate

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets"
	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	"coderflow/stages/dataset"
	"coderflow/train/eval"
)

// embedData is a test-only embed stage: it reads the images and captions
// tables upstream and writes unit embeddings for the images of split and
// their captions (each caption its image's vector plus noise), in the
// layout the evaluate stage wants. dropped > 0 is recorded as the embed
// stage's images_without_features count.
var embedData = pipeline.Spec{
	Kind: "test.embed_data", Version: "1",
	Params: []pipeline.Param{
		{Name: "split", Type: pipeline.String, Default: "test"},
		{Name: "dropped", Type: pipeline.Int, Default: 0},
	},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		split := env.Params.String("split")
		imgs, caps, err := inputImagesCaptions(ctx, env)
		if err != nil {
			return err
		}
		r := rand.New(rand.NewPCG(3, 4))
		unit := func(base []float32, sd float64) []float32 { return noisyUnit(r, 8, base, sd) }
		vec := map[int64][]float32{}
		var irows, crows []table.EmbeddingRow
		for _, im := range imgs {
			if im.Split == split {
				vec[im.ImageID] = unit(nil, 1)
				irows = append(irows, table.EmbeddingRow{ID: im.ImageID, ImageID: im.ImageID, Split: split, Vec: vec[im.ImageID]})
			}
		}
		for _, c := range caps {
			if v, ok := vec[c.ImageID]; ok {
				crows = append(crows, table.EmbeddingRow{ID: c.CaptionID, ImageID: c.ImageID, Ordinal: c.Ordinal, Split: split,
					Vec: unit(v, 0.3)})
			}
		}
		for _, t := range []struct {
			name string
			rows []table.EmbeddingRow
		}{{table.ImageEmbeddings, irows}, {table.CaptionEmbeddings, crows}} {
			if err := table.WriteFile(env.Path(t.name+".parquet"), env, t.name, table.Options{}, t.rows); err != nil {
				return err
			}
			env.AddTable(t.name, int64(len(t.rows)), t.name+".parquet")
		}
		if d := env.Params.Int("dropped"); d > 0 {
			env.SetInfo("images_without_features", d)
		}
		return nil
	}),
}

// fakeF8k writes a Flickr8k-shaped directory: per split, n images (PNG
// bytes under .jpg names: the reader goes by content) with 5 captions
// each; the images named in bad hold bytes that are no image.
func fakeF8k(t *testing.T, n map[string]int, bad ...string) string {
	t.Helper()
	root := t.TempDir()
	imgDir := filepath.Join(root, datasets.Flickr8kImageDirs[0])
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var tok strings.Builder
	lists := map[string]string{datasets.Flickr8kTrainList: "train", datasets.Flickr8kDevList: "dev", datasets.Flickr8kTestList: "test"}
	for file, split := range lists {
		var l strings.Builder
		for i := range n[split] {
			name := fmt.Sprintf("%s%d.jpg", split, i)
			fmt.Fprintln(&l, name)
			for k := range 5 {
				fmt.Fprintf(&tok, "%s#%d\ta picture %d of %s .\n", name, k, k, name)
			}
			f, err := os.Create(filepath.Join(imgDir, name))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(" "+strings.Join(bad, " ")+" ", " "+name+" ") {
				_, err = f.WriteString("not an image")
			} else {
				err = png.Encode(f, image.NewGray(image.Rect(0, 0, 4+i, 3)))
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(root, file), []byte(l.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, datasets.Flickr8kTokenFile), []byte(tok.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// reopen returns a as the engine hands over a cached artifact: its
// manifest decoded from disk (info numbers are float64 then), with its
// inputs reopened the same way.
func reopen(t *testing.T, a *pipeline.Artifact) *pipeline.Artifact {
	t.Helper()
	o, err := pipeline.OpenArtifact(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	o.Stage = a.Stage
	for _, in := range a.Inputs {
		o.Inputs = append(o.Inputs, reopen(t, in))
	}
	return o
}

// TestDroppedByDataset: test images the data set stage skipped (here an
// undecodable image file) never reach the embeddings, yet the test set is
// not the protocol's full one: the evaluation's metrics.json, summary and
// manifest and the report page say so, added to the embed stage's drops.
// A skipped image of another split is not counted. They used to count only
// the embed stage's drops, and the page claimed a full test set.
func TestDroppedByDataset(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bad      []string
		split    string // evaluated split
		embDrop  int    // the embed stage's images_without_features
		want     int
		byStage  map[string]int
		fromDisk bool // inputs decoded from their manifests, as a cached run sees them
		folds    int
	}{
		{name: "unreadable test image", bad: []string{"test3.jpg"}, split: "test", want: 1,
			byStage: map[string]int{"dataset.flickr8k": 1}},
		{name: "unreadable test image, cached inputs", bad: []string{"test3.jpg"}, split: "test", want: 1,
			byStage: map[string]int{"dataset.flickr8k": 1}, fromDisk: true},
		{name: "plus embed drops", bad: []string{"test0.jpg", "test5.jpg"}, split: "test", embDrop: 2, want: 4,
			byStage: map[string]int{"dataset.flickr8k": 2, "test.embed_data": 2}, fromDisk: true, folds: 2},
		{name: "unreadable train image", bad: []string{"train1.jpg"}, split: "test", want: 0},
		{name: "unreadable test image, dev evaluated", bad: []string{"test3.jpg"}, split: "dev", want: 0},
		{name: "clean", split: "test", want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeF8k(t, map[string]int{"train": 8, "dev": 6, "test": 12}, tc.bad...)
			data := pipelinetest.RunStage(t, &dataset.Flickr8kSpec, map[string]any{"source": root})
			emb := pipelinetest.RunStage(t, &embedData, map[string]any{"split": tc.split, "dropped": tc.embDrop}, data)
			if tc.fromDisk {
				emb = reopen(t, emb)
			}
			ev := pipelinetest.RunStage(t, &Spec, map[string]any{"split": tc.split, "folds": tc.folds}, emb)
			mf, err := eval.ReadMetricsFile(ev.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if mf.DroppedUpstream != tc.want {
				t.Errorf("metrics.json images_dropped_upstream = %d, want %d", mf.DroppedUpstream, tc.want)
			}
			note := fmt.Sprintf("(%d dropped upstream: not the full test set)", tc.want)
			if got := strings.Contains(ev.Manifest.Summary, note); got != (tc.want > 0) {
				t.Errorf("summary %q: contains %q = %v, want %v", ev.Manifest.Summary, note, got, tc.want > 0)
			}
			info := diskInfoOf(t, ev)
			if got, _ := info["images_dropped_upstream"].(float64); int(got) != tc.want {
				t.Errorf("manifest info images_dropped_upstream = %v, want %d", info["images_dropped_upstream"], tc.want)
			}
			if tc.byStage != nil && fmt.Sprint(info["images_dropped_upstream_by_stage"]) != fmt.Sprint(tc.byStage) {
				t.Errorf("images_dropped_upstream_by_stage = %v, want %v", info["images_dropped_upstream_by_stage"], tc.byStage)
			}
			rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 0}, ev)
			b, err := os.ReadFile(rep.Path(ReportFileName))
			if err != nil {
				t.Fatal(err)
			}
			page := string(b)
			onPage := strings.Contains(page, `id="dropped"`) &&
				strings.Contains(page, fmt.Sprintf("%d image(s) of the split were left out upstream", tc.want)) &&
				strings.Contains(page, "skipped by the data set stage")
			if onPage != (tc.want > 0) {
				t.Errorf("report note on the page: %v, want %v", onPage, tc.want > 0)
			}
		})
	}
}

// diskInfoOf returns a's manifest info as written to disk.
func diskInfoOf(t *testing.T, a *pipeline.Artifact) map[string]any {
	t.Helper()
	m, err := pipeline.ReadManifest(a.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return m.Info
}

// oldData is a data set stage as written before images_skipped_per_split:
// images and captions tables of n test images with 5 captions each, and
// an issues info that reports skipped input without saying of which
// split.
var oldData = pipeline.Spec{
	Kind: "test.old_data", Version: "1",
	Params: []pipeline.Param{
		{Name: "n", Type: pipeline.Int, Default: 6},
		{Name: "issues", Type: pipeline.Bool, Default: true},
		{Name: "per_split", Type: pipeline.String, Default: ""}, // "test:2,train:1": images_skipped_per_split
	},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		var imgs []table.ImageRow
		var caps []table.CaptionRow
		for i := range int64(env.Params.Int("n")) {
			imgs = append(imgs, table.ImageRow{ImageID: i, Key: fmt.Sprint(i), Split: "test"})
			for k := range int64(5) {
				caps = append(caps, table.CaptionRow{CaptionID: 5*i + k, ImageID: i, Split: "test", Ordinal: int32(k), Text: "x"})
			}
		}
		if err := table.WriteFile(env.Path("images.parquet"), env, table.Images, table.Options{}, imgs); err != nil {
			return err
		}
		if err := table.WriteFile(env.Path("captions.parquet"), env, table.Captions, table.Options{}, caps); err != nil {
			return err
		}
		env.AddTable(table.Images, int64(len(imgs)), "images.parquet")
		env.AddTable(table.Captions, int64(len(caps)), "captions.parquet")
		if env.Params.Bool("issues") {
			env.SetInfo("issues", map[string]any{"missing_images": map[string]any{"count": 2, "examples": []string{"a.jpg", "b.jpg"}}})
		} else {
			env.SetInfo("issues", map[string]any{})
		}
		if ps := env.Params.String("per_split"); ps != "" {
			m := map[string]int64{}
			for _, kv := range strings.Split(ps, ",") {
				k, v, _ := strings.Cut(kv, ":")
				var n int64
				fmt.Sscan(v, &n)
				m[k] = n
			}
			env.SetInfo("images_skipped_per_split", m)
		}
		return nil
	}),
}

// TestDroppedOldDataArtifact: a data set artifact written before
// images_skipped_per_split (its skips are not attributed to a split) still
// evaluates; nothing is counted from it, and the evaluation names it in
// upstream_skips_not_per_split when it reports any skipped input.
func TestDroppedOldDataArtifact(t *testing.T) {
	for _, tc := range []struct {
		name        string
		params      map[string]any
		want        int
		wantUnknown bool
	}{
		{name: "old, with issues", params: map[string]any{"issues": true}, want: 0, wantUnknown: true},
		{name: "old, clean", params: map[string]any{"issues": false}, want: 0},
		{name: "per split", params: map[string]any{"per_split": "test:2,train:5"}, want: 2},
		{name: "per split, none of test", params: map[string]any{"per_split": "train:5"}, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := pipelinetest.RunStage(t, &oldData, tc.params)
			emb := pipelinetest.RunStage(t, &embedData, nil, data)
			ev := pipelinetest.RunStage(t, &Spec, nil, emb)
			mf, err := eval.ReadMetricsFile(ev.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if mf.DroppedUpstream != tc.want || mf.Images != 6 {
				t.Errorf("images_dropped_upstream = %d over %d images, want %d over 6", mf.DroppedUpstream, mf.Images, tc.want)
			}
			_, unknown := diskInfoOf(t, ev)["upstream_skips_not_per_split"]
			if unknown != tc.wantUnknown {
				t.Errorf("upstream_skips_not_per_split recorded: %v, want %v (info %v)", unknown, tc.wantUnknown, ev.Manifest.Info)
			}
		})
	}
}

// TestUpstreamDroppedCountsOnce: an artifact's skips are counted once,
// however often it is reached: the images and captions tables found in
// two copies of one artifact (same cache key), or the embeddings artifact
// declaring them itself; an artifact that records per-split skips is read
// for them and not for the embed stage's counts as well.
func TestUpstreamDroppedCountsOnce(t *testing.T) {
	art := func(stage, key string, tables []string, info map[string]any, inputs ...*pipeline.Artifact) *pipeline.Artifact {
		m := &pipeline.Manifest{Stage: stage, Kind: stage, Key: key, Info: info}
		for _, tb := range tables {
			m.Tables = append(m.Tables, pipeline.TableEntry{Name: tb})
		}
		return &pipeline.Artifact{Stage: stage, Manifest: m, Inputs: inputs}
	}
	skips := map[string]any{"test": float64(2), "train": float64(7)}
	for _, tc := range []struct {
		name string
		emb  *pipeline.Artifact
		want int
	}{
		{"two copies of one data artifact", art("embed", "e", []string{table.ImageEmbeddings}, map[string]any{"images_without_features": 1},
			art("data", "d", []string{table.Images}, map[string]any{"images_skipped_per_split": skips}),
			art("data", "d", []string{table.Captions}, map[string]any{"images_skipped_per_split": skips})), 3},
		{"two data artifacts", art("embed", "e", []string{table.ImageEmbeddings}, nil,
			art("imgs", "d1", []string{table.Images}, map[string]any{"images_skipped_per_split": skips}),
			art("caps", "d2", []string{table.Captions}, map[string]any{"images_skipped_per_split": map[string]int64{"test": 1}})), 3},
		{"embeddings artifact holds the tables", art("all", "a", []string{table.ImageEmbeddings, table.Images, table.Captions},
			map[string]any{"images_skipped_per_split": skips, "images_without_features": 4}), 2},
		{"in-memory per-split counts", art("embed", "e", []string{table.ImageEmbeddings}, map[string]any{"images_fewer_than_5_captions": int64(1)},
			art("data", "d", []string{table.Images, table.Captions}, map[string]any{"images_skipped_per_split": map[string]int64{"test": 5}})), 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := upstreamDropped(tc.emb, "test"); got.total != tc.want {
				t.Errorf("dropped %d (%v), want %d", got.total, got.byStage, tc.want)
			}
		})
	}
}

// TestFoldsWithDroppedImages: a test split with a skipped image no longer
// divides into the protocol's folds; the error names the split and says
// that images were left out upstream and by which stage (it used to be
// eval's "11 images cannot be split into 2 equal folds", naming neither).
func TestFoldsWithDroppedImages(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  []string
		want []string // in the error; nil: no error
	}{
		{"skipped test image", []string{"test3.jpg"}, []string{`split "test": 11 images cannot be split into 2 equal folds`,
			"1 image(s) of the split were left out upstream (dataset.flickr8k: 1)", "not the protocol's full test set"}},
		{"skipped train image", []string{"train3.jpg"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeF8k(t, map[string]int{"train": 4, "dev": 2, "test": 12}, tc.bad...)
			data := pipelinetest.RunStage(t, &dataset.Flickr8kSpec, map[string]any{"source": root})
			emb := pipelinetest.RunStage(t, &embedData, nil, data)
			_, err := pipelinetest.RunStageErr(t, &Spec, map[string]any{"folds": 2}, emb)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
			if tc.want == nil && err != nil {
				t.Errorf("err = %v, want none", err)
			}
		})
	}
}
