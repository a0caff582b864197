package train

import (
	"bytes"
	kgstage "coderflow/stages/kg"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	coder "coderflow/train"
)

// smallParams are CPU-cheap training params for the fixture.
func smallParams(extra map[string]any) map[string]any {
	p := map[string]any{
		"epochs": 3, "batch": 16, "dim": 32, "word_dim": 16, "prototypes": 8, "queue": 64,
		"concept_emb": 8, "max_len": 8, "lr": 0.005, "seed": 5, "text_encoder": "mean",
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

func fixture(t *testing.T) *pipeline.Artifact {
	t.Helper()
	return pipelinetest.RunStage(t, &fixtureSpec, nil)
}

func readCurve(t *testing.T, a *pipeline.Artifact) []table.CurveRow {
	t.Helper()
	files, ok := a.Table(table.TrainCurve)
	if !ok {
		t.Fatalf("no %s table in %s", table.TrainCurve, a.Dir)
	}
	rows, err := table.ReadAll[table.CurveRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestTrainLearns(t *testing.T) {
	data := fixture(t)
	cases := []struct {
		name   string
		params map[string]any
	}{
		{"coder-concept", smallParams(map[string]any{"epochs": 4})},
		{"vsepp-in-batch-attn", smallParams(map[string]any{"epochs": 4, "loss": "vsepp", "queue": 0, "concept": false,
			"clustering": false, "pooling": "attn", "lr": 0.01})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := pipelinetest.RunStage(t, &TrainSpec, tc.params, data)
			if mode := fmt.Sprint(a.Manifest.Info["loader"]); !strings.Contains(mode, "mode:cached") {
				t.Errorf("loader info %s, want cached mode", mode)
			}
			rows := readCurve(t, a)
			if len(rows) != tc.params["epochs"].(int) {
				t.Fatalf("curve has %d rows, want %d", len(rows), tc.params["epochs"])
			}
			for i, r := range rows {
				if r.Epoch != int32(i+1) || r.Step != int64((i+1)*(64*5/16)) {
					t.Errorf("row %d: epoch %d step %d", i, r.Epoch, r.Step)
				}
				if r.DevRSum <= 0 {
					t.Errorf("epoch %d: dev rSum %v, want evaluated", r.Epoch, r.DevRSum)
				}
			}
			if !(rows[len(rows)-1].Loss < rows[0].Loss) {
				t.Errorf("loss did not decrease: first %v last %v", rows[0].Loss, rows[len(rows)-1].Loss)
			}
			if rows[0].LR != 0.005 && rows[0].LR != 0.01 || !(rows[len(rows)-1].LR < rows[0].LR) {
				t.Errorf("lr schedule: first %v last %v", rows[0].LR, rows[len(rows)-1].LR)
			}
			// model.bin loads and is the best epoch.
			cfg, err := readModelConfig(a.Path(ModelConfigFile))
			if err != nil {
				t.Fatal(err)
			}
			var adj []float32
			if cfg.Concept {
				adj = make([]float32, cfg.Concepts*cfg.Concepts)
				for i := range cfg.Concepts {
					adj[i*cfg.Concepts+i] = 1
				}
			}
			m, err := loadModel(a.Path(ModelFile), adj)
			if err != nil {
				t.Fatalf("model.bin does not load: %v", err)
			}
			m.Close()
			best := int(a.Manifest.Metrics["best_epoch"])
			for _, r := range rows {
				if r.DevRSum > rows[best-1].DevRSum {
					t.Errorf("best epoch %d (rSum %v) but epoch %d has rSum %v", best, rows[best-1].DevRSum, r.Epoch, r.DevRSum)
				}
			}
			if got := a.Manifest.Metrics["best_dev_rsum"]; got != rows[best-1].DevRSum {
				t.Errorf("best_dev_rsum %v, curve %v", got, rows[best-1].DevRSum)
			}
			if _, err := os.Stat(a.Path("ckpt")); !os.IsNotExist(err) {
				t.Errorf("epoch checkpoints left in the artifact: %v", err)
			}
			// Chance rSum for 16 images is about 6 * (1,5,10)/16*100 / ... ; a model
			// that learned the shared latent ranks far above it.
			if last := rows[len(rows)-1].DevRSum; last < 150 {
				t.Errorf("dev rSum after training %v, want well above chance", last)
			}
		})
	}
}

// TestTrainStreaming runs the stage with a feature budget smaller than the
// training images (and the dev images), so that both are streamed.
func TestTrainStreaming(t *testing.T) {
	data := fixture(t)
	budgetUnit = 1000 // feature_memory in kB: 64 train images x 64 B do not fit 3 kB
	defer func() { budgetUnit = 1 << 20 }()
	a := pipelinetest.RunStage(t, &TrainSpec, smallParams(map[string]any{"feature_memory": 3, "concept": false}), data)
	if mode := fmt.Sprint(a.Manifest.Info["loader"]); !strings.Contains(mode, "mode:streaming") {
		t.Errorf("loader info %s, want streaming mode", mode)
	}
	rows := readCurve(t, a)
	if len(rows) != 3 || rows[2].Step != 3*20 || !(rows[2].Loss < rows[0].Loss) || rows[2].DevRSum < 150 {
		t.Errorf("streaming run: %+v", rows)
	}
}

// TestResumeAfterKill cancels a run right after epoch 1 is checkpointed,
// reruns it into the same directory and compares the final checkpoints with
// an uninterrupted run.
func TestResumeAfterKill(t *testing.T) {
	data := fixture(t)
	params := smallParams(map[string]any{"keep_checkpoints": true, "text_encoder": "bigru", "dev_every": 2})
	log := slog.New(slog.NewTextHandler(testLog{t}, nil))

	full := filepath.Join(t.TempDir(), "full")
	a := runStage(t, params, data, full, log)

	killed := killAfterEpoch(t, 1, params, data, log)
	if _, err := os.Stat(filepath.Join(killed, ckptName(2))); !os.IsNotExist(err) {
		t.Fatalf("epoch 2 checkpoint exists after a kill at epoch 1")
	}
	b := runStage(t, params, data, killed, log)
	if got := fmt.Sprint(b.Manifest.Info["resumed_after_epoch"]); got != "1" {
		t.Errorf("resumed_after_epoch = %v, want 1", got)
	}
	for _, f := range []string{ckptName(3), ModelFile} {
		x, err1 := os.ReadFile(a.Path(f))
		y, err2 := os.ReadFile(b.Path(f))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between the uninterrupted and the resumed run (%d vs %d bytes)", f, len(x), len(y))
		}
	}
	sameCurve(t, a, b)
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) { w.t.Logf("%s", p); return len(p), nil }

func TestEmbed(t *testing.T) {
	data := fixture(t)
	tr := pipelinetest.RunStage(t, &TrainSpec, smallParams(map[string]any{"epochs": 1}), data)
	a := pipelinetest.RunStage(t, &EmbedSpec, map[string]any{"split": "test", "batch": 5, "rows_per_file": 20}, tr, data)
	files, _ := a.Table(table.ImageEmbeddings)
	imgs, err := table.ReadAll[table.EmbeddingRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	files, _ = a.Table(table.CaptionEmbeddings)
	if len(files) < 2 {
		t.Errorf("caption embeddings in %d shards, want several with rows_per_file 20", len(files))
	}
	caps, err := table.ReadAll[table.EmbeddingRow](t.Context(), files...)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 11 || len(caps) != 55 {
		t.Fatalf("%d images, %d captions; want 11 and 55 (12 test images, one with 3 captions)", len(imgs), len(caps))
	}
	if fmt.Sprint(a.Manifest.Info["images_fewer_than_5_captions"]) != "1" || fmt.Sprint(a.Manifest.Info["captions_beyond_5"]) != "2" {
		t.Errorf("drop counts: %v", a.Manifest.Info)
	}
	for i, im := range imgs {
		if i > 0 && im.ImageID <= imgs[i-1].ImageID {
			t.Fatalf("images not ordered by id at %d", i)
		}
		if len(im.Vec) != 32 || len(im.ConceptVec) != 32 || math.Abs(norm(im.Vec)-1) > 1e-3 {
			t.Errorf("image %d: vec %d (norm %v), concept %d", im.ID, len(im.Vec), norm(im.Vec), len(im.ConceptVec))
		}
		for k := range 5 {
			c := caps[5*i+k]
			if c.ImageID != im.ImageID || c.Ordinal != int32(k) || c.Split != "test" {
				t.Errorf("caption row %d: image %d ordinal %d split %q; want image %d ordinal %d", 5*i+k, c.ImageID, c.Ordinal, c.Split, im.ImageID, k)
			}
		}
	}
}

func norm(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// TestParamsReachConfig changes one param at a time and checks the
// config field it must set.
func TestParamsReachConfig(t *testing.T) {
	sh := shapes{ImageDim: 16, Regions: 4, VocabSize: 50, MaxLen: 8, Concepts: 10}
	cases := []struct {
		param string
		value any
		got   func(coder.Config) any
		want  any
	}{
		{"loss", "vsepp", func(c coder.Config) any { return c.Loss }, "vsepp"},
		{"queue", 17, func(c coder.Config) any { return c.Queue }, 17},
		{"beta", 0.0, func(c coder.Config) any { return c.Beta }, 0.0},
		{"clustering", false, func(c coder.Config) any { return c.Clustering }, false},
		{"concept", false, func(c coder.Config) any { return c.Concept }, false},
		{"concept", false, func(c coder.Config) any { return c.Concepts }, 0},
		{"concept", true, func(c coder.Config) any { return c.Concepts }, 10},
		{"dim", 48, func(c coder.Config) any { return c.Dim }, 48},
		{"text_encoder", "bigru", func(c coder.Config) any { return c.TextEncoder }, "bigru"},
		{"pooling", "attn", func(c coder.Config) any { return c.Pooling }, "attn"},
		{"lr", 0.01, func(c coder.Config) any { return c.LR }, 0.01},
		{"clip", 0.5, func(c coder.Config) any { return c.ClipNorm }, 0.5},
		{"tau", 0.2, func(c coder.Config) any { return c.Tau }, 0.2},
		{"momentum", 0.9, func(c coder.Config) any { return c.Momentum }, 0.9},
		{"prototypes", 9, func(c coder.Config) any { return c.Prototypes }, 9},
		{"word_dim", 12, func(c coder.Config) any { return c.WordDim }, 12},
		{"max_len", 11, func(c coder.Config) any { return c.MaxLen }, 11},
		{"seed", 77, func(c coder.Config) any { return c.Seed }, int64(77)},
		{"alpha", 0.7, func(c coder.Config) any { return c.Alpha }, 0.7},
		{"margin", 0.3, func(c coder.Config) any { return c.Margin }, 0.3},
		{"sinkhorn_eps", 0.04, func(c coder.Config) any { return c.SinkhornEps }, 0.04},
		{"sinkhorn_iters", 5, func(c coder.Config) any { return c.SinkhornIters }, 5},
		{"tau_p", 0.3, func(c coder.Config) any { return c.TauP }, 0.3},
		{"lambda", 4.0, func(c coder.Config) any { return c.Lambda }, 4.0},
		{"rho", 0.1, func(c coder.Config) any { return c.Rho }, 0.1},
		{"lambda_c", 2.0, func(c coder.Config) any { return c.LambdaC }, 2.0},
		{"lambda_p", 0.25, func(c coder.Config) any { return c.LambdaP }, 0.25},
		{"lambda_s", 0.75, func(c coder.Config) any { return c.LambdaS }, 0.75},
		{"concept_emb", 7, func(c coder.Config) any { return c.ConceptEmb }, 7},
	}
	for _, tc := range cases {
		t.Run(tc.param, func(t *testing.T) {
			p, err := pipeline.NewParams(TrainSpec.Params, map[string]any{tc.param: tc.value})
			if err != nil {
				t.Fatal(err)
			}
			c, err := configFromParams(p, sh)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.got(c); got != tc.want {
				t.Errorf("%s=%v: config field = %v, want %v", tc.param, tc.value, got, tc.want)
			}
			// The default must differ from the tested value, or the case proves nothing.
			def, _ := configFromParams(pipeline.MustParams(TrainSpec.Params, nil), sh)
			if tc.got(def) == tc.want && tc.param != "concept" {
				t.Errorf("%s: default already gives %v; pick another test value", tc.param, tc.want)
			}
		})
	}
	// Shapes come from the data.
	c, err := configFromParams(pipeline.MustParams(TrainSpec.Params, nil), sh)
	if err != nil {
		t.Fatal(err)
	}
	if c.ImageDim != 16 || c.Regions != 4 || c.VocabSize != 50 {
		t.Errorf("shapes not applied: %+v", c)
	}
}

func TestLRSchedule(t *testing.T) {
	cases := []struct{ epochs, step, wantStep int }{{30, 0, 15}, {3, 0, 2}, {1, 0, 1}, {10, 4, 4}}
	for _, tc := range cases {
		p := pipeline.MustParams(TrainSpec.Params, map[string]any{"epochs": tc.epochs, "lr_step": tc.step})
		if got := lrStep(p); got != tc.wantStep {
			t.Errorf("epochs %d lr_step %d: step %d, want %d", tc.epochs, tc.step, got, tc.wantStep)
		}
	}
	if learningRate(1, 2, 2) != 1 || math.Abs(learningRate(1, 2, 3)-0.1) > 1e-12 {
		t.Error("learningRate: wrong decay epoch")
	}
}

// TestConceptAdjacency: training's A_hat is the one kg.link stores and
// docs/kg.md defines (largest graph weight per pair over all relations,
// scaled by the largest graph weight, plus the /r/CoOccurs weight, then self
// loops and D^-1/2 (A+I) D^-1/2), not a sum over relations; bad edges are
// skipped and counted.
func TestConceptAdjacency(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, rows any) string {
		t.Helper()
		p := filepath.Join(dir, name+".parquet")
		var err error
		switch r := rows.(type) {
		case []table.ConceptRow:
			err = table.WriteFile(p, nil, name, table.Options{}, r)
		case []table.ConceptEdgeRow:
			err = table.WriteFile(p, nil, name, table.Options{}, r)
		case []table.CaptionConceptRow:
			err = table.WriteFile(p, nil, name, table.Options{}, r)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := map[string]string{
		table.Concepts: write(table.Concepts, []table.ConceptRow{{ConceptID: 0, Label: "a"}, {ConceptID: 1, Label: "b"}, {ConceptID: 2, Label: "c"}}),
		table.ConceptEdges: write(table.ConceptEdges, []table.ConceptEdgeRow{
			{Src: 0, Dst: 1, Rel: "/r/Synonym", Weight: 2}, {Src: 1, Dst: 0, Rel: "/r/Synonym", Weight: 2},
			{Src: 0, Dst: 1, Rel: "/r/SimilarTo", Weight: 2}, {Src: 1, Dst: 2, Rel: "/r/IsA", Weight: 2},
			{Src: 0, Dst: 2, Rel: kgstage.RelCoOccurs, Weight: 0.5},
			{Src: 0, Dst: 0, Rel: "/r/IsA", Weight: 1}, {Src: 0, Dst: 7, Rel: "/r/IsA", Weight: 1}, {Src: 1, Dst: 2, Rel: "/r/IsA", Weight: -1},
		}),
		table.CaptionConcepts: write(table.CaptionConcepts, []table.CaptionConceptRow{{CaptionID: 1, ConceptIDs: []int32{0, 2}}}),
	}
	find := func(name string) ([]string, error) { return []string{files[name]}, nil }
	cd, err := loadConcepts(t.Context(), find, find, func(int64) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	// by hand: graph part A_01 = A_12 = 2/2 = 1, co-occurrence A_02 = 0.5;
	// A+I rows [1 1 .5] [1 1 1] [.5 1 1], degrees 2.5, 3, 2.5
	s := math.Sqrt
	want := []float64{1 / 2.5, 1 / s(7.5), 0.5 / 2.5, 1 / s(7.5), 1.0 / 3, 1 / s(7.5), 0.5 / 2.5, 1 / s(7.5), 1 / 2.5}
	for i := range want {
		if math.Abs(float64(cd.adj[i])-want[i]) > 1e-6 {
			t.Fatalf("A_hat = %v, want %v", cd.adj, want)
		}
	}
	if cd.Counts.Edges != 5 || cd.Counts.EdgesSkipped != 3 {
		t.Errorf("edges %d, skipped %d; want 5 and 3", cd.Counts.Edges, cd.Counts.EdgesSkipped)
	}
}

// killAfterEpoch runs the train stage with params into a fresh directory
// and stops it right after epoch e is checkpointed, as a kill would; it
// returns the directory, for a rerun to resume from.
func killAfterEpoch(t *testing.T, e int, params map[string]any, data *pipeline.Artifact, log *slog.Logger) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "killed")
	err := cancelAfterEpoch(t.Context(), e, func(ctx context.Context) error {
		_, err := pipeline.RunStandalone(ctx, &TrainSpec, "train", params, []*pipeline.Artifact{data}, dir, log)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	return dir
}

// cancelAfterEpoch runs run with a context cancelled once epoch e is
// checkpointed, as a kill right after it would, and restores afterEpoch.
func cancelAfterEpoch(parent context.Context, e int, run func(context.Context) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	prev := afterEpoch
	defer func() { afterEpoch = prev }()
	afterEpoch = func(done int) {
		if done == e {
			cancel()
		}
	}
	return run(ctx)
}

// capturedLog returns a text logger and the builder its output lands in.
func capturedLog() (*strings.Builder, *slog.Logger) {
	logs := new(strings.Builder)
	return logs, slog.New(slog.NewTextHandler(logs, nil))
}

// runStage runs the train stage with params on data in dir (a fresh one, or
// the work directory of a killed run to resume) and fails the test on error.
func runStage(t *testing.T, params map[string]any, data *pipeline.Artifact, dir string, log *slog.Logger) *pipeline.Artifact {
	t.Helper()
	a, err := pipeline.RunStandalone(t.Context(), &TrainSpec, "train", params, []*pipeline.Artifact{data}, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSummaryCountsEpochs: the run summary says "1 epoch", "2 epochs".
func TestSummaryCountsEpochs(t *testing.T) {
	data := fixture(t)
	for _, tc := range []struct {
		epochs int
		want   string
	}{{1, "1 epoch, "}, {2, "2 epochs, "}} {
		_, log := capturedLog()
		a := runStage(t, smallParams(map[string]any{"concept": false, "epochs": tc.epochs}), data, t.TempDir(), log)
		if !strings.HasPrefix(a.Manifest.Summary, tc.want) {
			t.Errorf("epochs %d: summary %q, want it to start with %q", tc.epochs, a.Manifest.Summary, tc.want)
		}
	}
}
