package evaluate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/table"
	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
	"coderflow/train/eval"
)

// fakeData is a test-only data set stage: the images (PNG files in the
// artifact) and captions tables of n test images (5 captions each) and 2
// train images. seed changes the
// captions' text, so another seed is other data (another artifact key).
var fakeData = pipeline.Spec{
	Kind: "test.data", Version: "1",
	Params: []pipeline.Param{
		{Name: "n", Type: pipeline.Int, Default: 10},
		{Name: "seed", Type: pipeline.Int, Default: 1},
	},
	Produces: []string{table.Images, table.Captions},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		var imgs []table.ImageRow
		var caps []table.CaptionRow
		add := func(split string, id int64) error {
			rel := fmt.Sprintf("img/%d.png", id)
			m := image.NewRGBA(image.Rect(0, 0, 32, 24))
			for y := range 24 {
				for x := range 32 {
					m.Set(x, y, color.RGBA{uint8(id * 30), uint8(x * 8), uint8(y * 10), 255})
				}
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, m); err != nil {
				return err
			}
			if err := os.WriteFile(env.Path(rel), buf.Bytes(), 0o644); err != nil {
				return err
			}
			imgs = append(imgs, table.ImageRow{ImageID: id, Key: fmt.Sprintf("img_%d.png", id), Split: split, Path: rel, Width: 32, Height: 24})
			for k := range 5 {
				caps = append(caps, table.CaptionRow{CaptionID: id*10 + int64(k), ImageID: id, Split: split, Ordinal: int32(k),
					Text: fmt.Sprintf("picture %d, caption %d (seed %d)", id, k, env.Params.Int("seed"))})
			}
			return nil
		}
		ids := []int64{1, 2}
		for i := range env.Params.Int("n") {
			ids = append(ids, int64(100+i))
		}
		for _, id := range ids {
			split := "test"
			if id < 100 {
				split = "train"
			}
			if err := add(split, id); err != nil {
				return err
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
		return nil
	}),
}

// fakeModel is a test-only training stage: it reads the images and
// captions upstream and writes a train_curve and noisy unit embeddings
// (image_embeddings, caption_embeddings) of every row; lr and noise change
// the numbers.
var fakeModel = pipeline.Spec{
	Kind: "test.model", Version: "1",
	Params: []pipeline.Param{
		{Name: "lr", Type: pipeline.Float, Default: 1e-3},
		{Name: "noise", Type: pipeline.Float, Default: 0.5},
	},
	Produces: []string{table.TrainCurve, table.ImageEmbeddings, table.CaptionEmbeddings},
	Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		imgs, caps, err := inputImagesCaptions(ctx, env)
		if err != nil {
			return err
		}
		lr, noise := env.Params.Float("lr"), env.Params.Float("noise")
		r := rand.New(rand.NewPCG(math.Float64bits(lr), math.Float64bits(noise)))
		const d = 8
		unit := func(base []float32, sd float64) []float32 { return noisyUnit(r, d, base, sd) }
		byImage := map[int64][]float32{}
		var ie, ce []table.EmbeddingRow
		for _, im := range imgs {
			byImage[im.ImageID] = unit(nil, 1)
			ie = append(ie, table.EmbeddingRow{ID: im.ImageID, ImageID: im.ImageID, Split: im.Split, Vec: byImage[im.ImageID]})
		}
		for _, c := range caps {
			ce = append(ce, table.EmbeddingRow{ID: c.CaptionID, ImageID: c.ImageID, Ordinal: c.Ordinal, Split: c.Split,
				Vec: unit(byImage[c.ImageID], noise)})
		}
		curve := []table.CurveRow{{Epoch: 1, Step: 10, LR: lr, Loss: 2, Seconds: 1}, {Epoch: 2, Step: 20, LR: lr, Loss: 1, Seconds: 1}}
		for _, w := range []struct {
			name, file string
			err        error
			rows       int
		}{
			{table.ImageEmbeddings, "ie.parquet", table.WriteFile(env.Path("ie.parquet"), env, table.ImageEmbeddings, table.Options{}, ie), len(ie)},
			{table.CaptionEmbeddings, "ce.parquet", table.WriteFile(env.Path("ce.parquet"), env, table.CaptionEmbeddings, table.Options{}, ce), len(ce)},
			{table.TrainCurve, "curve.parquet", table.WriteFile(env.Path("curve.parquet"), env, table.TrainCurve, table.Options{}, curve), len(curve)},
		} {
			if w.err != nil {
				return w.err
			}
			env.AddTable(w.name, int64(w.rows), w.file)
		}
		return nil
	}),
}

// tinyWorkflow is a shipped-style workflow on the test-only stages: its
// report compares with the runs in the workdir's evaluate cache, as the
// shipped workflows' reports do.
const tinyWorkflow = `
name: tiny
params:
  seed: 1
stages:
  data:
    uses: test.data
    with: {seed: ${params.seed}}
  train:
    uses: test.model
    needs: [data]
    with: {lr: 0.001}
  evaluate:
    uses: evaluate
    needs: [train]
  report:
    uses: report
    needs: [evaluate, train, data]
    with: {examples: 2, runs_dir: ${workdir}/cache/evaluate}
`

type tinyHarness struct {
	t             *testing.T
	file, workdir string
	reg           *pipeline.Registry
}

func newTiny(t *testing.T) *tinyHarness {
	t.Helper()
	dir := t.TempDir()
	h := &tinyHarness{t: t, file: filepath.Join(dir, "tiny.yaml"), workdir: filepath.Join(dir, "wd"), reg: pipeline.NewRegistry()}
	for _, s := range []*pipeline.Spec{&fakeData, &fakeModel, &Spec, &ReportSpec} {
		h.reg.MustRegister(*s)
	}
	if err := os.WriteFile(h.file, []byte(tinyWorkflow), 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

// run runs the workflow with --set values; it returns the result and the
// report's page.
func (h *tinyHarness) run(sets ...string) (*pipeline.Result, string) {
	h.t.Helper()
	res, err := h.runErr(sets...)
	if err != nil {
		h.t.Fatalf("run %v: %v", sets, err)
	}
	b, err := os.ReadFile(res.Artifacts["report"].Path(ReportFileName))
	if err != nil {
		h.t.Fatal(err)
	}
	return res, string(b)
}

// runErr runs the workflow with --set values and returns the run's error.
func (h *tinyHarness) runErr(sets ...string) (*pipeline.Result, error) {
	h.t.Helper()
	w, err := pipeline.Load(h.file, pipeline.LoadOptions{Registry: h.reg, Sets: sets, BaseDir: filepath.Dir(h.file)})
	if err != nil {
		h.t.Fatalf("load: %v", err)
	}
	if w.Workdir != filepath.Join(filepath.Dir(h.file), ".coderflow") {
		h.t.Fatalf("workdir %s", w.Workdir)
	}
	h.workdir = w.Workdir
	return pipeline.Run(h.t.Context(), w, pipeline.RunOptions{})
}

func stageStatus(res *pipeline.Result, id string) string {
	s, _ := res.Record.Stage(id)
	return s.Status
}

func info(res *pipeline.Result, key string) string {
	return fmt.Sprint(res.Artifacts["report"].Manifest.Info[key])
}

// runsTable returns the run comparison table of a page ("" when there is
// none).
func runsTable(page string) string {
	i := strings.Index(page, `<table id="runs">`)
	if i < 0 {
		return ""
	}
	j := strings.Index(page[i:], "</table>")
	return page[i : i+j]
}

// TestReportComparesWorkflowRuns: rerunning a workflow with other train
// params in the same workdir, the new run's report compares both runs (the
// shipped workflows' default: runs_dir at ${workdir}/cache/evaluate);
// rerunning it unchanged keeps the report cached; going back to the first
// params recomputes that report once (the second run is now in the cache)
// and then keeps it cached.
func TestReportComparesWorkflowRuns(t *testing.T) {
	h := newTiny(t)
	res1, page := h.run()
	if stageStatus(res1, "report") != pipeline.RunRan || runsTable(page) != "" {
		t.Fatalf("first run: report %s, comparison table %q", stageStatus(res1, "report"), runsTable(page))
	}
	if !strings.Contains(page, `id="runs-found"`) || !strings.Contains(page, "runs_dir: no other evaluations found yet.") || info(res1, "runs_found") != "0" {
		t.Errorf("first run: the page does not say what runs_dir held")
	}
	ev1 := res1.Artifacts["evaluate"].Key()

	res2, page := h.run("train.lr=0.002")
	ev2 := res2.Artifacts["evaluate"].Key()
	if stageStatus(res2, "report") != pipeline.RunRan || ev1 == ev2 {
		t.Fatalf("second run: report %s, evaluate keys %s %s", stageStatus(res2, "report"), short(ev1), short(ev2))
	}
	tab := runsTable(page)
	for _, want := range []string{"<th>lr</th>", "evaluate " + short(ev1), "evaluate " + short(ev2), "<td>0.001</td>", "<td>0.002</td>"} {
		if !strings.Contains(tab, want) {
			t.Errorf("second run: the comparison table lacks %q:\n%s", want, tab)
		}
	}
	if strings.Count(tab, "<tr class=\"cur") != 1 || !strings.Contains(tab, "evaluate "+short(ev2)+" (this run)") {
		t.Errorf("second run: want its own row marked as this run:\n%s", tab)
	}
	if got := info(res2, "runs_compared") + " " + info(res2, "runs_found") + " " + info(res2, "runs_left_out_other_data"); got != "2 1 0" {
		t.Errorf("second run: runs_compared, runs_found, runs_left_out_other_data = %s, want 2 1 0", got)
	}
	if !strings.Contains(page, "runs_dir: 1 other evaluation found: 1 of the same test data compared.") {
		t.Errorf("second run: the page does not count the compared run")
	}
	checkSelfContained(t, page)

	// the unchanged workflow, twice: everything cached
	for i := range 2 {
		res, _ := h.run("train.lr=0.002")
		for _, s := range res.Record.Stages {
			if s.Status != pipeline.RunCached {
				t.Errorf("identical rerun %d: %s %s, want cached", i+1, s.Stage, s.Status)
			}
		}
	}
	// back to the first params: its report now has the second run to show
	// (one recomputation), then it is cached
	res, page := h.run()
	if stageStatus(res, "report") != pipeline.RunRan || stageStatus(res, "evaluate") != pipeline.RunCached {
		t.Errorf("first params again: report %s evaluate %s, want ran and cached", stageStatus(res, "report"), stageStatus(res, "evaluate"))
	}
	if tab := runsTable(page); !strings.Contains(tab, "evaluate "+short(ev1)+" (this run)") || !strings.Contains(tab, "evaluate "+short(ev2)) {
		t.Errorf("first params again: want both runs, the first as this run:\n%s", tab)
	}
	res, _ = h.run()
	if stageStatus(res, "report") != pipeline.RunCached {
		t.Errorf("first params, identical rerun: report %s, want cached", stageStatus(res, "report"))
	}
	checkChromium(t, res.Artifacts["report"].Path(ReportFileName))
}

// TestReportLeavesOutOtherData: an evaluation of other test data in the
// same workdir (another seed of the data set) is not in the comparison and
// is counted as left out, as is an old metrics.json without a data
// identity; a run listed in runs is shown anyway, marked as other data.
func TestReportLeavesOutOtherData(t *testing.T) {
	h := newTiny(t)
	resA, _ := h.run()
	resB, _ := h.run("train.lr=0.002")
	evA, evB := resA.Artifacts["evaluate"].Key(), resB.Artifacts["evaluate"].Key()

	// another data set: its report compares nothing, and counts A and B as left out
	resC, page := h.run("params.seed=2")
	evC := resC.Artifacts["evaluate"].Key()
	if stageStatus(resC, "data") != pipeline.RunRan {
		t.Fatalf("params.seed=2 should be other data")
	}
	if tab := runsTable(page); tab != "" {
		t.Errorf("other data: want no comparison table, got:\n%s", tab)
	}
	if got := info(resC, "runs_found") + " " + info(resC, "runs_left_out_other_data") + " " + info(resC, "runs_compared"); got != "2 2 1" {
		t.Errorf("other data: runs_found, runs_left_out_other_data, runs_compared = %s, want 2 2 1", got)
	}
	if !strings.Contains(page, "2 left out because they evaluated other test data") {
		t.Errorf("other data: the page does not say that 2 runs were left out")
	}

	// back on the first data set: the other data set's run is left out
	// (the report is recomputed once: the cache holds one more evaluation)
	res, page := h.run("train.lr=0.002")
	if stageStatus(res, "report") != pipeline.RunRan {
		t.Errorf("B again after C: report %s, want ran", stageStatus(res, "report"))
	}
	tab := runsTable(page)
	if !strings.Contains(tab, short(evA)) || !strings.Contains(tab, short(evB)) || strings.Contains(page, short(evC)) {
		t.Errorf("B again: want A and B compared and C nowhere on the page:\n%s", tab)
	}
	if got := info(res, "runs_found") + " " + info(res, "runs_left_out_other_data") + " " + info(res, "runs_compared"); got != "2 1 2" {
		t.Errorf("B again: runs_found, runs_left_out_other_data, runs_compared = %s, want 2 1 2", got)
	}
	if !strings.Contains(page, "1 left out because it evaluated other test data") {
		t.Errorf("B again: the page does not count C as left out")
	}
	if !strings.Contains(res.Record.Stages[len(res.Record.Stages)-1].Summary, "1 of other or unknown test data left out") {
		t.Errorf("summary %q", res.Record.Stages[len(res.Record.Stages)-1].Summary)
	}

	// an old metrics.json (no data identity) lands in the cache directory:
	// the report is stale, and counts it as left out
	var old map[string]any
	b, err := os.ReadFile(filepath.Join(resA.Artifacts["evaluate"].Dir, eval.MetricsFileName))
	if err != nil || json.Unmarshal(b, &old) != nil {
		t.Fatal(err)
	}
	delete(old, "data")
	old["key"] = strings.Repeat("0", 64)
	b, _ = json.Marshal(old)
	oldDir := filepath.Join(h.workdir, "cache", "evaluate", "old-run")
	if err := os.MkdirAll(oldDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(oldDir, eval.MetricsFileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	res, page = h.run("train.lr=0.002")
	if stageStatus(res, "report") != pipeline.RunRan || info(res, "runs_left_out_no_data_identity") != "1" || info(res, "runs_compared") != "2" {
		t.Errorf("old metrics.json: report %s, left out without identity %s, compared %s; want ran, 1, 2",
			stageStatus(res, "report"), info(res, "runs_left_out_no_data_identity"), info(res, "runs_compared"))
	}
	if !strings.Contains(page, "1 left out because their metrics.json has no data identity") {
		t.Errorf("old metrics.json: not counted on the page")
	}

	// listed in runs, the other data set's run is shown anyway, marked
	res, page = h.run("train.lr=0.002", "report.runs=["+resC.Artifacts["evaluate"].Dir+"]")
	if tab := runsTable(page); !strings.Contains(tab, short(evC)) || !strings.Contains(tab, "(other test data)") || info(res, "runs_compared") != "3" {
		t.Errorf("listed run of other data: want it in the table, marked:\n%s", tab)
	}
}

// TestMetricsDataIdentity: metrics.json records the evaluated data (the
// images and captions artifacts and the ids) in a backward compatible way:
// eval.ReadMetricsFile reads new files and old ones (no identity);
// evaluations of the same data with other folds match, of other data or
// another split do not; without an images or captions table upstream there
// is no identity.
func TestMetricsDataIdentity(t *testing.T) {
	data := pipelinetest.RunStage(t, &fakeData, nil)
	model := pipelinetest.RunStage(t, &fakeModel, nil, data)
	model2 := pipelinetest.RunStage(t, &fakeModel, map[string]any{"lr": 0.01}, data)
	ev := pipelinetest.RunStage(t, &Spec, nil, model)
	ev2 := pipelinetest.RunStage(t, &Spec, map[string]any{"folds": 2}, model2)
	mf, err := eval.ReadMetricsFile(ev.Dir)
	if err != nil {
		t.Fatal(err)
	}
	d := mf.Data
	if d == nil || d.Images == nil || d.Captions == nil || d.Images.Key != data.Key() || d.Captions.Key != data.Key() ||
		d.Images.Stage != data.Stage || d.Images.Kind != "test.data" || !strings.HasPrefix(d.IDs, "sha256:") || len(d.IDs) != 7+64 {
		t.Fatalf("data identity %+v", d)
	}
	mf2, err := eval.ReadMetricsFile(filepath.Join(ev2.Dir, eval.MetricsFileName))
	if err != nil {
		t.Fatal(err)
	}
	if !eval.SameData(mf, mf2) {
		t.Error("another model and other folds on the same data: not the same data")
	}
	// other data: another seed; another split
	otherSeed := pipelinetest.RunStage(t, &fakeData, map[string]any{"seed": 2})
	mf3, err3 := eval.ReadMetricsFile(pipelinetest.RunStage(t, &Spec, nil, pipelinetest.RunStage(t, &fakeModel, nil, otherSeed)).Dir)
	mf4, err4 := eval.ReadMetricsFile(pipelinetest.RunStage(t, &Spec, map[string]any{"split": "train"}, model).Dir)
	if err3 != nil || err4 != nil {
		t.Fatal(err3, err4)
	}
	noData := *mf
	noData.Data = nil
	if eval.SameData(mf, mf3) || eval.SameData(mf, mf4) || eval.SameData(mf, &noData) {
		t.Error("other data, another split or no identity: the same data")
	}
	if mf3.Data.IDs != d.IDs {
		t.Error("the same ids in the same order: different id digests")
	}
	// an old file: the same without data
	var m map[string]any
	b, _ := os.ReadFile(filepath.Join(ev.Dir, eval.MetricsFileName))
	if err := json.Unmarshal(b, &m); err != nil || m["data"] == nil || m["format"] != eval.MetricsFormat {
		t.Fatalf("metrics.json: %v %s", err, b)
	}
	delete(m, "data")
	b, _ = json.Marshal(m)
	oldPath := filepath.Join(t.TempDir(), eval.MetricsFileName)
	if err := os.WriteFile(oldPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	oldMF, err := eval.ReadMetricsFile(oldPath)
	if err != nil || oldMF.Data != nil || oldMF.Mean != mf.Mean || oldMF.Key != mf.Key {
		t.Errorf("old file: %v, data %+v", err, oldMF)
	}
	// no images or captions table upstream: no identity, no "data" key
	evNo := pipelinetest.RunStage(t, &Spec, nil, pipelinetest.RunStage(t, &fakeEmbeddings, nil))
	b, _ = os.ReadFile(filepath.Join(evNo.Dir, eval.MetricsFileName))
	if mfNo, err := eval.ReadMetricsFile(evNo.Dir); err != nil || mfNo.Data != nil || strings.Contains(string(b), `"data"`) {
		t.Errorf("without data tables: %v %+v", err, mfNo)
	}
}
