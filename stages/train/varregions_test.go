package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"coderflow/datasets/arrowfeat"
	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// vrRegions is the fixture's regions per image for the variable-regions
// tests; varRegions gives each image 2..vrRegions of them.
const vrRegions = 12

// vrCount is the number of regions image id keeps (2..12).
func vrCount(id int64) int32 { return int32(2 + (id*7)%11) }

// varRegionsSpec copies the upstream features (vrRegions regions each) with
// vrCount(id) regions per image; the first row keeps `first` regions
// (0: vrRegions). bump_image's region bump_region gets +1 on every element
// (-1: none; a region beyond the image's count is left alone).
var varRegionsSpec = pipeline.Spec{
	Kind: "test.var_regions", Version: "1", Produces: []string{table.Features},
	Params: []pipeline.Param{
		{Name: "first", Type: pipeline.Int, Default: 0},
		{Name: "bump_image", Type: pipeline.Int, Default: -1},
		{Name: "bump_region", Type: pipeline.Int, Default: 0},
	},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		files, _, err := env.InputTable(table.Features)
		if err != nil {
			return err
		}
		rows, err := table.ReadAll[table.FeatureRow](ctx, files...)
		if err != nil {
			return err
		}
		p := env.Params
		for i, r := range rows {
			n := vrCount(r.ImageID)
			if i == 0 {
				n = vrRegions
				if f := p.Int("first"); f > 0 {
					n = int32(f)
				}
			}
			d := int(r.Dim)
			rows[i].NRegions, rows[i].Feats, rows[i].Boxes = n, r.Feats[:int(n)*d], r.Boxes[:4*n]
			if int64(p.Int("bump_image")) == r.ImageID {
				if k := p.Int("bump_region"); k < int(n) {
					for j := range d {
						rows[i].Feats[k*d+j]++
					}
				}
			}
		}
		if err := table.WriteFile(env.Path("features.parquet"), env, table.Features, table.Options{RowGroupRows: 16}, rows); err != nil {
			return err
		}
		env.AddTable(table.Features, int64(len(rows)), "features.parquet")
		return nil
	}),
}

// vrRun is one train + embed run on variable region counts.
type vrRun struct {
	train, embed *pipeline.Artifact
	model        []byte
	imgs         map[int64][]float32
	caps         map[int64][]float32
}

func vrTrainEmbed(t *testing.T, params map[string]any, data *pipeline.Artifact) vrRun {
	t.Helper()
	tr := pipelinetest.RunStage(t, &TrainSpec, params, data)
	return vrEmbed(t, tr, data)
}

func vrEmbed(t *testing.T, tr, data *pipeline.Artifact) vrRun {
	t.Helper()
	model, err := os.ReadFile(tr.Path(ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	em := pipelinetest.RunStage(t, &EmbedSpec, map[string]any{"split": "test", "batch": 5}, tr, data)
	read := func(name string) map[int64][]float32 {
		files, _ := em.Table(name)
		rows, err := table.ReadAll[table.EmbeddingRow](t.Context(), files...)
		if err != nil {
			t.Fatal(err)
		}
		m := map[int64][]float32{}
		for _, r := range rows {
			m[r.ID] = r.Vec
		}
		return m
	}
	return vrRun{tr, em, model, read(table.ImageEmbeddings), read(table.CaptionEmbeddings)}
}

// vrDiff lists the ids whose vectors differ (or are missing) between a and b.
func vrDiff(a, b map[int64][]float32) []int64 {
	var ids []int64
	for id, v := range a {
		w, ok := b[id]
		if !ok || len(w) != len(v) {
			ids = append(ids, id)
			continue
		}
		for j := range v {
			if v[j] != w[j] {
				ids = append(ids, id)
				break
			}
		}
	}
	if len(a) != len(b) {
		ids = append(ids, -1)
	}
	return ids
}

func vrParams(extra map[string]any) map[string]any {
	p := smallParams(map[string]any{"epochs": 2, "concept": false, "pooling": "attn"})
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// TestVariableRegionsEndToEnd: attention pooling on features with 2..12
// regions per image (the first row has 12): train + embed are deterministic,
// cached and streamed features give the same model and embeddings, an
// image's embedding is the model's encoding of it alone with its real count,
// changing a real region changes that image's embedding only, and a run
// killed after epoch 1 resumes to the same weights.
func TestVariableRegionsEndToEnd(t *testing.T) {
	base := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"regions": vrRegions})
	data := pipelinetest.RunStage(t, &varRegionsSpec, nil, base)
	params := vrParams(nil)
	ref := vrTrainEmbed(t, params, data)
	if len(ref.imgs) != 11 {
		t.Fatalf("%d test images embedded, want 11", len(ref.imgs))
	}
	if got := fmt.Sprint(ref.train.Manifest.Info["loader"]); !strings.Contains(got, "mode:cached") {
		t.Errorf("loader %s, want cached mode", got)
	}

	t.Run("deterministic", func(t *testing.T) {
		again := vrTrainEmbed(t, params, data)
		if !bytes.Equal(again.model, ref.model) {
			t.Error("model.bin differs between two identical runs")
		}
		if d := vrDiff(ref.imgs, again.imgs); len(d) > 0 {
			t.Errorf("image embeddings differ between two identical runs: %v", d)
		}
		if d := vrDiff(ref.caps, again.caps); len(d) > 0 {
			t.Errorf("caption embeddings differ between two identical runs: %v", d)
		}
	})

	// Streaming mode shuffles through a buffer, so its model differs from
	// the cached one (loader.go); it must be deterministic and, for a given
	// model, streamed features must encode as the cached ones do.
	var streamed vrRun
	t.Run("streamed", func(t *testing.T) {
		budgetUnit = 1000 // feature_memory in kB: streaming mode
		defer func() { budgetUnit = 1 << 20 }()
		st := vrTrainEmbed(t, vrParams(map[string]any{"feature_memory": 3}), data)
		if got := fmt.Sprint(st.train.Manifest.Info["loader"]); !strings.Contains(got, "mode:streaming") {
			t.Fatalf("loader %s, want streaming mode", got)
		}
		again := vrTrainEmbed(t, vrParams(map[string]any{"feature_memory": 3}), data)
		if !bytes.Equal(st.model, again.model) {
			t.Error("model.bin differs between two identical streaming runs")
		}
		if d := vrDiff(st.imgs, again.imgs); len(d) > 0 {
			t.Errorf("image embeddings differ between two identical streaming runs: %v", d)
		}
		for _, a := range []*pipeline.Artifact{ref.train, st.train} {
			b, err := json.Marshal(a.Manifest.Info["features"])
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); strings.Contains(got, `"images_regions_padded":0`) || !strings.Contains(got, `"images_regions_truncated":0`) {
				t.Errorf("features %s, want padded images and none truncated", got)
			}
		}
		streamed = st
	})

	t.Run("cached-vs-streamed-encoding", func(t *testing.T) {
		m, err := loadModel(ref.train.Path(ModelFile), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		cfg := m.Config()
		shape := featShape{Regions: cfg.Regions, Dim: cfg.ImageDim}
		ff, _ := data.Table(table.Features)
		var ids []int64
		for id := range ref.imgs {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		cache := map[int64]imgFeats{}
		want := map[int64]bool{}
		for _, id := range ids {
			want[id] = true
		}
		var cnt featCounts
		err = eachFeature(t.Context(), ff, readerOptions(16<<20), func(r featRow) error {
			if !want[r.id] {
				return nil
			}
			f, err := shape.convert(r, make([]float32, shape.floats()), &cnt)
			cache[r.id] = f
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{1, 4, 64} {
			c, _, err := encodeImages(t.Context(), m, shape, ids, cache, nil, arrowfeat.Options{}, batch, &featCounts{})
			if err != nil {
				t.Fatal(err)
			}
			s, _, err := encodeImages(t.Context(), m, shape, ids, nil, ff, readerOptions(16<<20), batch, &featCounts{})
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				cv, sv := c.inst[i*c.dim:(i+1)*c.dim], s.inst[i*s.dim:(i+1)*s.dim]
				if d := maxAbsDiff(cv, sv); d != 0 {
					t.Errorf("batch %d image %d: cached and streamed features encode %g apart", batch, id, d)
				}
				if d := maxAbsDiff(cv, ref.imgs[id]); d > 1e-5 {
					t.Errorf("batch %d image %d: cached encoding %g from embed's", batch, id, d)
				}
			}
		}
	})

	t.Run("alone", func(t *testing.T) {
		m, err := loadModel(ref.train.Path(ModelFile), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		cfg := m.Config()
		if cfg.Regions != vrRegions {
			t.Fatalf("model regions %d, want %d", cfg.Regions, vrRegions)
		}
		ff, _ := data.Table(table.Features)
		frows, err := table.ReadAll[table.FeatureRow](t.Context(), ff...)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[int32]bool{}
		for _, r := range frows {
			v, ok := ref.imgs[r.ImageID]
			if !ok {
				continue
			}
			counts[r.NRegions] = true
			x := make([]float32, cfg.Regions*cfg.ImageDim)
			copy(x, r.Feats)
			inst, _, err := m.EncodeImages(x, []int32{r.NRegions}, 1)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(inst, v); d > 1e-5 {
				t.Errorf("image %d (%d regions): embedding differs from its own encoding by %g", r.ImageID, r.NRegions, d)
			}
			// Garbage in the padding must not matter to the model either.
			for i := int(r.NRegions) * cfg.ImageDim; i < len(x); i++ {
				x[i] = 100
			}
			inst2, _, err := m.EncodeImages(x, []int32{r.NRegions}, 1)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(inst, inst2); d != 0 {
				t.Errorf("image %d (%d regions): padding values change its encoding by %g", r.ImageID, r.NRegions, d)
			}
		}
		if len(counts) < 5 {
			t.Errorf("test images have region counts %v, want a wide spread", counts)
		}
	})

	t.Run("real-region", func(t *testing.T) {
		const img = 1098 // a test image (embedded), vrCount 2+(1098*7)%11
		if _, ok := ref.imgs[img]; !ok {
			t.Fatalf("image %d not embedded", img)
		}
		bumped := pipelinetest.RunStage(t, &varRegionsSpec, map[string]any{"bump_image": img, "bump_region": vrCount(img) - 1}, base)
		b := vrTrainEmbed(t, params, bumped)
		if !bytes.Equal(b.model, ref.model) {
			t.Fatal("changing a test image's features changed model.bin")
		}
		if d := vrDiff(ref.imgs, b.imgs); len(d) != 1 || d[0] != img {
			t.Errorf("changing image %d's last real region changed the embeddings of %v, want just it", img, d)
		}
		if d := vrDiff(ref.caps, b.caps); len(d) > 0 {
			t.Errorf("changing an image's features changed caption embeddings %v", d)
		}
	})

	t.Run("resume", func(t *testing.T) {
		log := slog.New(slog.NewTextHandler(testLog{t}, nil))
		for _, mode := range []string{"cached", "streaming"} {
			p := params
			if mode == "streaming" {
				budgetUnit = 1000 // feature_memory in kB: streaming mode
				t.Cleanup(func() { budgetUnit = 1 << 20 })
				p = vrParams(map[string]any{"feature_memory": 3})
			}
			dir := killAfterEpoch(t, 1, p, data, log)
			resumed := runStage(t, p, data, dir, log)
			model, err := os.ReadFile(resumed.Path(ModelFile))
			if err != nil {
				t.Fatal(err)
			}
			want := ref.model
			if mode == "streaming" {
				if streamed.model == nil {
					t.Skip("no streaming run to compare with")
				}
				want = streamed.model
			}
			if !bytes.Equal(model, want) {
				t.Errorf("%s: model.bin after a kill after epoch 1 and a resume differs from the uninterrupted run", mode)
			}
		}
	})
}

// TestFirstRowFewerRegions: when the first feature row has 3 regions and
// later ones up to 12, the model keeps 3 regions per image: later images
// are truncated (counted by train and embed), changing a region beyond
// the third changes nothing, changing one of the first three changes that
// image's embedding only.
//
// With a first row of 1 region (pooling=attn) the model has Regions 1; later
// images used to be averaged over all their regions as with pooling=mean
// (uncounted, against the documented truncation), so changing their second
// region changed their embedding.
func TestFirstRowFewerRegions(t *testing.T) {
	for _, first := range []int32{3, 1} {
		t.Run(fmt.Sprintf("first-%d", first), func(t *testing.T) { testFirstRowFewer(t, first) })
	}
}

func testFirstRowFewer(t *testing.T, first int32) {
	base := pipelinetest.RunStage(t, &fixtureSpec, map[string]any{"regions": vrRegions})
	data := pipelinetest.RunStage(t, &varRegionsSpec, map[string]any{"first": first}, base)
	params := vrParams(nil)
	ref := vrTrainEmbed(t, params, data)

	m, err := loadModel(ref.train.Path(ModelFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if r := m.Config().Regions; r != int(first) {
		t.Fatalf("model regions %d, want %d (the first row's)", r, first)
	}
	// Counts: train counts the images it loaded, embed the test images.
	if b, _ := json.Marshal(ref.train.Manifest.Info["features"]); strings.Contains(string(b), `"images_regions_truncated":0`) {
		t.Errorf("train features %s, want truncated images counted", b)
	}
	wantTrunc, wantPad := 0, 0
	for id := range ref.imgs {
		switch n := vrCount(id); {
		case n > first:
			wantTrunc++
		case n < first:
			wantPad++
		}
	}
	b, err := json.Marshal(ref.embed.Manifest.Info["images_regions_adjusted"])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), fmt.Sprintf(`{"images_regions_padded":%d,"images_regions_truncated":%d}`, wantPad, wantTrunc); got != want {
		t.Errorf("embed images_regions_adjusted %s, want %s", got, want)
	}
	doc, err := os.ReadFile(filepath.Join("doc.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "images with more are truncated") {
		t.Error("doc.go does not document the truncation of images with more regions than the first row")
	}

	const img = 1098 // a test image with more than 4 regions
	if vrCount(img) <= first+1 {
		t.Fatalf("image %d has %d regions, want more than %d", img, vrCount(img), first+1)
	}
	for _, tc := range []struct {
		region  int32
		changes bool
	}{{first, false}, {vrCount(img) - 1, false}, {0, true}, {first - 1, true}} {
		t.Run(fmt.Sprintf("region-%d", tc.region), func(t *testing.T) {
			bumped := pipelinetest.RunStage(t, &varRegionsSpec, map[string]any{"first": first, "bump_image": img, "bump_region": tc.region}, base)
			b := vrTrainEmbed(t, params, bumped)
			if !bytes.Equal(b.model, ref.model) {
				t.Fatal("changing a test image's features changed model.bin")
			}
			want := []int64(nil)
			if tc.changes {
				want = []int64{img}
			}
			if d := vrDiff(ref.imgs, b.imgs); fmt.Sprint(d) != fmt.Sprint(want) {
				t.Errorf("changing image %d's region %d changed the embeddings of %v, want %v", img, tc.region, d, want)
			}
		})
	}
}
