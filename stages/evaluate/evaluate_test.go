package evaluate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	"coderflow/train/eval"
)

// fakeEmbeddings is a test-only stage that writes image_embeddings and
// caption_embeddings: n test images (ids 100+i) plus 3 train images, 5
// captions each. mode "perfect" makes captions equal to their image,
// "noisy" adds noise, "six" gives the second test image a 6th caption,
// "swap" swaps two caption rows, "capdim" gives one test caption a shorter
// vec, "nocvec" drops the concept vectors of one test caption, "short"
// drops the last test image's last caption, "nan" puts a NaN into one test
// caption, "unnorm" doubles one test caption's vec, "nocaps" writes no
// caption_embeddings table, "dup" gives test image 105 and its 5 captions
// the image id 104 (image 104 repeated, consistently in both tables).
// dropped > 0 is recorded as the embed stage's
// images_without_features count.
var fakeEmbeddings = pipeline.Spec{
	Kind: "test.embeddings", Version: "1",
	Params: []pipeline.Param{
		{Name: "n", Type: pipeline.Int, Default: 20},
		{Name: "dim", Type: pipeline.Int, Default: 16},
		{Name: "concept_dim", Type: pipeline.Int, Default: 0},
		{Name: "mode", Type: pipeline.String, Default: "perfect"},
		{Name: "seed", Type: pipeline.Int, Default: 1},
		{Name: "dropped", Type: pipeline.Int, Default: 0}, // reported as images_without_features
	},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		p := env.Params
		n, d, cd, mode := p.Int("n"), p.Int("dim"), p.Int("concept_dim"), p.String("mode")
		r := rand.New(rand.NewPCG(uint64(p.Int("seed")), 9))
		unit := func(dim int, base []float32, noise float64) []float32 { return noisyUnit(r, dim, base, noise) }
		var imgs, caps []table.EmbeddingRow
		add := func(split string, id int64) {
			iv, ic := unit(d, nil, 1), unit(cd, nil, 1)
			iid := id
			if mode == "dup" && split == "test" && id == 105 {
				iid = 104
			}
			imgs = append(imgs, table.EmbeddingRow{ID: iid, ImageID: iid, Split: split, Vec: iv, ConceptVec: ic})
			nc := 5
			if mode == "six" && id == 101 {
				nc = 6
			}
			for k := range nc {
				noise := 0.0
				if mode == "noisy" {
					noise = 0.5
				}
				if mode == "short" && split == "test" && id == int64(100+n-1) && k == nc-1 {
					continue
				}
				c := table.EmbeddingRow{ID: id*10 + int64(k), ImageID: iid, Ordinal: int32(k), Split: split,
					Vec: unit(d, iv, noise), ConceptVec: unit(cd, ic, noise)}
				if split == "test" && id == 103 && k == 2 {
					switch mode {
					case "capdim":
						c.Vec = c.Vec[:d-1]
					case "nocvec":
						c.ConceptVec = nil
					case "nan":
						c.Vec[1] = float32(math.NaN())
					case "unnorm":
						for k := range c.Vec {
							c.Vec[k] *= 2
						}
					}
				}
				caps = append(caps, c)
			}
		}
		add("train", 1)
		for i := range n {
			add("test", int64(100+i))
		}
		add("train", 2)
		if mode == "swap" {
			caps[7], caps[8] = caps[8], caps[7]
		}
		if err := table.WriteFile(env.Path("img.parquet"), env, table.ImageEmbeddings, table.Options{RowGroupRows: 7}, imgs); err != nil {
			return err
		}
		// captions in two shards
		h := len(caps) / 2
		if err := table.WriteFile(env.Path("cap-0.parquet"), env, table.CaptionEmbeddings, table.Options{}, caps[:h]); err != nil {
			return err
		}
		if err := table.WriteFile(env.Path("cap-1.parquet"), env, table.CaptionEmbeddings, table.Options{}, caps[h:]); err != nil {
			return err
		}
		env.AddTable(table.ImageEmbeddings, int64(len(imgs)), "img.parquet")
		if d := p.Int("dropped"); d > 0 {
			env.SetInfo("images_without_features", d)
		}
		if mode == "nocaps" {
			return nil
		}
		env.AddTable(table.CaptionEmbeddings, int64(h), "cap-0.parquet")
		env.AddTable(table.CaptionEmbeddings, int64(len(caps)-h), "cap-1.parquet")
		return nil
	}),
}

func TestEvaluateStage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		emb   map[string]any
		with  map[string]any
		check func(t *testing.T, m eval.Metrics)
	}{
		{"perfect", map[string]any{"n": 20}, nil, func(t *testing.T, m eval.Metrics) {
			if m.RSum != 600 || m.MedrT2I != 1 || m.MeanrI2T != 1 {
				t.Errorf("perfect embeddings: %+v", m)
			}
		}},
		{"perfect with concepts, 5 folds", map[string]any{"n": 20, "concept_dim": 8}, map[string]any{"folds": 5, "alpha": 0.5},
			func(t *testing.T, m eval.Metrics) {
				if m.RSum != 600 {
					t.Errorf("perfect embeddings: %+v", m)
				}
			}},
		{"noisy", map[string]any{"n": 60, "mode": "noisy", "dim": 8}, map[string]any{"mem_budget": 1000},
			func(t *testing.T, m eval.Metrics) {
				if m.RSum <= 0 || m.RSum >= 600 {
					t.Errorf("noisy embeddings should be imperfect but above zero: %+v", m)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emb := pipelinetest.RunStage(t, &fakeEmbeddings, tc.emb)
			a := pipelinetest.RunStage(t, &Spec, tc.with, emb)
			mf, err := eval.ReadMetricsFile(a.Dir)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, mf.Mean)
			n := tc.emb["n"].(int)
			if mf.Images != n || mf.Captions != 5*n || mf.Split != "test" {
				t.Errorf("metrics.json: images %d captions %d split %q, want %d %d test", mf.Images, mf.Captions, mf.Split, n, 5*n)
			}
			if mf.Model == nil || mf.Model.Kind != "test.embeddings" {
				t.Errorf("metrics.json model %+v", mf.Model)
			}
			for _, nv := range mf.Mean.Named() {
				if got, ok := a.Manifest.Metrics[nv.Name]; !ok || got != nv.Value {
					t.Errorf("manifest metric %s = %v (%v), want %v", nv.Name, got, ok, nv.Value)
				}
			}
			files, ok := a.Table(eval.MetricsTable)
			if !ok {
				t.Fatal("no metrics table")
			}
			rows, err := table.ReadAll[eval.MetricsRow](t.Context(), files...)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 11*(1+mf.Folds) || rows[10].Metric != "rsum" || rows[10].Value != mf.Mean.RSum {
				t.Errorf("metrics table: %d rows, rsum row %+v", len(rows), rows[10])
			}
			if a.Manifest.Summary == "" || !strings.Contains(a.Manifest.Summary, "rsum") {
				t.Errorf("summary %q", a.Manifest.Summary)
			}
		})
	}
}

func TestEvaluateStageBadLayout(t *testing.T) {
	for _, tc := range []struct {
		emb  map[string]any
		with map[string]any
		want string
	}{
		{map[string]any{"mode": "six"}, nil, "want image 102 ordinal 0"},
		{map[string]any{"mode": "swap"}, nil, "ordinal"},
		{map[string]any{"n": 20}, map[string]any{"split": "dev"}, `no rows of split "dev"`},
		{map[string]any{"n": 20}, map[string]any{"folds": 3}, "3 equal folds"},
		{map[string]any{"mode": "capdim"}, nil, "vec/concept_vec lengths 15/0, want 16/0"},
		{map[string]any{"mode": "nocvec", "concept_dim": 4}, nil, "vec/concept_vec lengths 16/0, want 16/4"},
		{map[string]any{"mode": "short"}, nil, "cap-1.parquet: after caption row 49, the split's last: " +
			"99 captions of split \"test\" for 20 images, want exactly 5 per image (image 119 has 4)"},
		{map[string]any{"mode": "nan"}, nil, "cap-0.parquet: caption row 22 (id 1032): value 1 is NaN"},
		{map[string]any{"mode": "nocaps"}, nil, `table "caption_embeddings"`},
		{map[string]any{"mode": "unnorm"}, nil, "cap-0.parquet: caption row 22 (id 1032): vec has L2 norm 2: the protocol ranks L2-normalised"},
		{map[string]any{"n": 20}, map[string]any{"alpha": -0.5}, "alpha: -0.5: -1 (the model's alpha) or a value in [0, 1]"},
		// a repeated image (with its captions repeated too) was ranked as a
		// 21st image: its captions' t2i ranks lost a place to the copy
		{map[string]any{"mode": "dup"}, nil, `img.parquet: image row 6 (id 104): image 104 appears twice in split "test" (first at `},
	} {
		emb := pipelinetest.RunStage(t, &fakeEmbeddings, tc.emb)
		_, err := pipelinetest.RunStageErr(t, &Spec, tc.with, emb)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want one containing %q", tc.emb, tc.with, err, tc.want)
		}
	}
	if _, err := pipelinetest.RunStageErr(t, &Spec, nil); err == nil || !strings.Contains(err.Error(), "image_embeddings") {
		t.Errorf("no input: %v", err)
	}
}

// fakeTrain stands for a training stage: it declares a train_curve table.
var fakeTrain = pipeline.Spec{
	Kind: "test.train", Version: "1",
	Params: []pipeline.Param{{Name: "beta", Type: pipeline.Float, Default: 1.0}, {Name: "alpha", Type: pipeline.Float, Default: 0.9}},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		rows := []table.CurveRow{{Epoch: 1, Step: 10, Loss: 1}}
		if err := table.WriteFile(env.Path("curve.parquet"), env, table.TrainCurve, table.Options{}, rows); err != nil {
			return err
		}
		env.AddTable(table.TrainCurve, 1, "curve.parquet")
		return nil
	}),
}

// TestModelIsTheTrainingStage: metrics.json names the training artifact
// upstream of the embeddings, with its params, so that the report's run
// comparison shows the params an ablation varies (not the embed stage's,
// which are the same in every run).
func TestModelIsTheTrainingStage(t *testing.T) {
	for _, beta := range []float64{0, 2} {
		tr := pipelinetest.RunStage(t, &fakeTrain, map[string]any{"beta": beta})
		emb := pipelinetest.RunStage(t, &fakeEmbeddings, nil, tr)
		a := pipelinetest.RunStage(t, &Spec, nil, emb)
		mf, err := eval.ReadMetricsFile(a.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if mf.Model == nil || mf.Model.Kind != "test.train" || mf.Model.Key != tr.Key() || fmt.Sprint(mf.Model.Params["beta"]) != fmt.Sprint(beta) {
			t.Errorf("beta %v: metrics.json model %+v, want the test.train artifact %s with its params", beta, mf.Model, tr.Key())
		}
	}
}

// TestAlphaFromModel: by default evaluate uses the alpha the model was
// trained (and selected on dev) with; an explicit alpha wins; without a
// training stage upstream it is 0.9.
func TestAlphaFromModel(t *testing.T) {
	emb := map[string]any{"n": 30, "mode": "noisy", "concept_dim": 8}
	for _, tc := range []struct {
		name  string
		train map[string]any // nil: no training stage
		with  map[string]any
		want  float64
	}{
		{"trained with 0.6", map[string]any{"alpha": 0.6}, nil, 0.6},
		{"trained with 0.6, explicit 0.3", map[string]any{"alpha": 0.6}, map[string]any{"alpha": 0.3}, 0.3},
		{"explicit 0", map[string]any{"alpha": 0.6}, map[string]any{"alpha": 0.0}, 0},
		{"no training stage", nil, nil, eval.DefaultAlpha},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []*pipeline.Artifact
			if tc.train != nil {
				in = append(in, pipelinetest.RunStage(t, &fakeTrain, tc.train))
			}
			e := pipelinetest.RunStage(t, &fakeEmbeddings, emb, in...)
			a := pipelinetest.RunStage(t, &Spec, tc.with, e)
			mf, err := eval.ReadMetricsFile(a.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if mf.Alpha != tc.want {
				t.Errorf("alpha %v, want %v", mf.Alpha, tc.want)
			}
			// the numbers are those of that alpha
			ref := pipelinetest.RunStage(t, &Spec, map[string]any{"alpha": tc.want}, e)
			if got, want := a.Manifest.Metrics["rsum"], ref.Manifest.Metrics["rsum"]; got != want {
				t.Errorf("rsum %v, with alpha %v given explicitly %v", got, tc.want, want)
			}
		})
	}
}

// bruteForce computes the protocol's metrics directly from the embedding
// rows of split, independently of train/eval: captions joined to images by
// image_id and ordinal, float64 similarities, full stable sorts per query
// (ties by index), K folds of consecutive images.
func bruteForce(t *testing.T, imgRows, capRows []table.EmbeddingRow, split string, alpha float64, folds int) eval.Metrics {
	t.Helper()
	var imgs []table.EmbeddingRow
	byImage := map[int64][]table.EmbeddingRow{}
	for _, r := range imgRows {
		if r.Split == split {
			imgs = append(imgs, r)
		}
	}
	sort.SliceStable(imgs, func(a, b int) bool { return imgs[a].ImageID < imgs[b].ImageID })
	for _, c := range capRows {
		if c.Split == split {
			byImage[c.ImageID] = append(byImage[c.ImageID], c)
		}
	}
	dot := func(a, b []float32) float64 {
		var s float64
		for k := range a {
			s += float64(a[k]) * float64(b[k])
		}
		return s
	}
	sim := func(v, c table.EmbeddingRow) float64 {
		if len(v.ConceptVec) == 0 {
			return dot(v.Vec, c.Vec)
		}
		return alpha*dot(v.Vec, c.Vec) + (1-alpha)*dot(v.ConceptVec, c.ConceptVec)
	}
	// stats turns 0-based ranks into R@1/5/10, medr (numpy median) and meanr
	stats := func(ranks []int) (r1, r5, r10, medr, meanr float64) {
		s := slices.Clone(ranks)
		slices.Sort(s)
		var sum float64
		for _, r := range s {
			sum += float64(r)
			for k, p := range []*float64{&r1, &r5, &r10} {
				if r < []int{1, 5, 10}[k] {
					*p += 100 / float64(len(s))
				}
			}
		}
		med := float64(s[len(s)/2])
		if len(s)%2 == 0 {
			med = (float64(s[len(s)/2-1]) + med) / 2
		}
		return r1, r5, r10, math.Floor(med) + 1, sum/float64(len(s)) + 1
	}
	folds = max(folds, 1)
	n := len(imgs) / folds
	var per []eval.Metrics
	for f := range folds {
		fi := imgs[f*n : (f+1)*n]
		var caps []table.EmbeddingRow
		var capImage []int // index in fi of each caption's image
		for i, v := range fi {
			cs := slices.Clone(byImage[v.ImageID])
			sort.SliceStable(cs, func(a, b int) bool { return cs[a].Ordinal < cs[b].Ordinal })
			if len(cs) != 5 {
				t.Fatalf("image %d has %d captions", v.ImageID, len(cs))
			}
			for _, c := range cs {
				caps = append(caps, c)
				capImage = append(capImage, i)
			}
		}
		var i2t, t2i []int
		for i, v := range fi {
			order := make([]int, len(caps))
			for q := range order {
				order[q] = q
			}
			sort.SliceStable(order, func(a, b int) bool { return sim(v, caps[order[a]]) > sim(v, caps[order[b]]) })
			i2t = append(i2t, slices.IndexFunc(order, func(q int) bool { return capImage[q] == i }))
		}
		for q, c := range caps {
			order := make([]int, len(fi))
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(a, b int) bool { return sim(fi[order[a]], c) > sim(fi[order[b]], c) })
			t2i = append(t2i, slices.Index(order, capImage[q]))
		}
		var m eval.Metrics
		m.R1I2T, m.R5I2T, m.R10I2T, m.MedrI2T, m.MeanrI2T = stats(i2t)
		m.R1T2I, m.R5T2I, m.R10T2I, m.MedrT2I, m.MeanrT2I = stats(t2i)
		per = append(per, m)
	}
	var mean eval.Metrics
	for _, m := range per {
		for _, p := range [][2]*float64{
			{&mean.R1I2T, &m.R1I2T}, {&mean.R5I2T, &m.R5I2T}, {&mean.R10I2T, &m.R10I2T}, {&mean.MedrI2T, &m.MedrI2T}, {&mean.MeanrI2T, &m.MeanrI2T},
			{&mean.R1T2I, &m.R1T2I}, {&mean.R5T2I, &m.R5T2I}, {&mean.R10T2I, &m.R10T2I}, {&mean.MedrT2I, &m.MedrT2I}, {&mean.MeanrT2I, &m.MeanrT2I},
		} {
			*p[0] += *p[1] / float64(len(per))
		}
	}
	mean.RSum = mean.R1I2T + mean.R5I2T + mean.R10I2T + mean.R1T2I + mean.R5T2I + mean.R10T2I
	return mean
}

// TestEvaluateStageMatchesBruteForce: the stage's numbers (tables read
// through the pipeline, alpha resolved from the model, concept vectors
// mixed in, folds) equal a direct computation from the embedding rows.
func TestEvaluateStageMatchesBruteForce(t *testing.T) {
	emb := map[string]any{"n": 60, "mode": "noisy", "dim": 8, "concept_dim": 8, "seed": 3}
	for _, tc := range []struct {
		name  string
		emb   map[string]any
		train map[string]any // nil: no training stage upstream
		with  map[string]any
		alpha float64 // the alpha the numbers must be those of
		folds int
	}{
		{"instance only", map[string]any{"n": 60, "mode": "noisy", "dim": 8, "seed": 3}, nil, nil, 1, 0},
		{"alpha 0.6", emb, nil, map[string]any{"alpha": 0.6}, 0.6, 0},
		{"alpha 0.3, 5 folds", emb, nil, map[string]any{"alpha": 0.3, "folds": 5}, 0.3, 5},
		{"alpha 0 (concept only)", emb, nil, map[string]any{"alpha": 0.0}, 0, 0},
		{"alpha 1, 3 folds", emb, nil, map[string]any{"alpha": 1.0, "folds": 3}, 1, 3},
		{"the model's alpha 0.6", emb, map[string]any{"alpha": 0.6}, nil, 0.6, 0},
		{"no model: 0.9", emb, nil, nil, eval.DefaultAlpha, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []*pipeline.Artifact
			if tc.train != nil {
				in = append(in, pipelinetest.RunStage(t, &fakeTrain, tc.train))
			}
			e := pipelinetest.RunStage(t, &fakeEmbeddings, tc.emb, in...)
			a := pipelinetest.RunStage(t, &Spec, tc.with, e)
			mf, err := eval.ReadMetricsFile(a.Dir)
			if err != nil {
				t.Fatal(err)
			}
			read := func(tab string) []table.EmbeddingRow {
				files, ok := e.Table(tab)
				if !ok {
					t.Fatalf("no %s table", tab)
				}
				rows, err := table.ReadAll[table.EmbeddingRow](t.Context(), files...)
				if err != nil {
					t.Fatal(err)
				}
				return rows
			}
			want := bruteForce(t, read(table.ImageEmbeddings), read(table.CaptionEmbeddings), "test", tc.alpha, tc.folds)
			if want.RSum <= 0 || want.RSum >= 600 {
				t.Fatalf("brute force rsum %v: the fixture should be neither perfect nor hopeless", want.RSum)
			}
			got := mf.Mean.Named()
			for k, nv := range want.Named() {
				if math.Abs(got[k].Value-nv.Value) > 1e-9 {
					t.Errorf("%s = %v, brute force %v", nv.Name, got[k].Value, nv.Value)
				}
			}
		})
	}
}

// TestDroppedUpstream: images the embedding stage left out are reported in
// metrics.json, the manifest and the summary (the test set is then not the
// protocol's); without any, nothing is said.
func TestDroppedUpstream(t *testing.T) {
	for _, dropped := range []int{0, 3} {
		e := pipelinetest.RunStage(t, &fakeEmbeddings, map[string]any{"dropped": dropped})
		a := pipelinetest.RunStage(t, &Spec, map[string]any{"folds": 2}, e)
		mf, err := eval.ReadMetricsFile(a.Dir)
		if err != nil {
			t.Fatal(err)
		}
		note := strings.Contains(a.Manifest.Summary, "3 dropped upstream: not the full test set")
		_, info := a.Manifest.Info["images_dropped_upstream"]
		if mf.DroppedUpstream != dropped || note != (dropped > 0) || info != (dropped > 0) {
			t.Errorf("dropped %d: metrics.json %d, summary %q, manifest info %v", dropped, mf.DroppedUpstream, a.Manifest.Summary, a.Manifest.Info)
		}
	}
}
