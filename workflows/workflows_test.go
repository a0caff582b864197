package workflows_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/datasets/npy"
	"coderflow/pipeline"
	_ "coderflow/stages/all"
)

func load(t *testing.T, file, workdir string, sets ...string) *pipeline.Workflow {
	t.Helper()
	w, err := pipeline.Load(file, pipeline.LoadOptions{Sets: sets, Workdir: workdir})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return w
}

// TestShippedWorkflowsValidate loads every shipped workflow, computes its
// keys (a dry run) and checks the shared stage ids.
func TestShippedWorkflowsValidate(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	if len(files) < 4 {
		t.Fatalf("want demo, flickr8k, coco, f30k; found %v", files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			w := load(t, f, t.TempDir())
			res, err := pipeline.Run(t.Context(), w, pipeline.RunOptions{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"data", "tokens", "kg", "link", "train", "embed", "evaluate", "report"} {
				if res.Plan[id] != pipeline.PlanRun {
					t.Errorf("stage %s: plan %q", id, res.Plan[id])
				}
			}
			// the report compares with the workdir's earlier runs of the
			// same data (the directory does not exist yet: an empty one)
			rep, _ := w.Stage("report")
			if got, want := rep.Params.Path("runs_dir"), filepath.Join(w.Workdir, "cache", "evaluate"); got != want {
				t.Errorf("report runs_dir %q, want %q", got, want)
			}
		})
	}
}

// scanMiniature writes a data set in SCAN's precomputed format under
// root/<name>_precomp: {split}_ims.npy (float32 N x 36 x 2048),
// {split}_caps.txt (5 lines per image) and {split}_ids.txt. Each image has a
// latent (colour, shape) pair that both its features and its captions show.
func scanMiniature(t *testing.T, root, name string, splits map[string]int) {
	t.Helper()
	dir := filepath.Join(root, name+"_precomp")
	os.MkdirAll(dir, 0o755)
	colors := []string{"red", "blue", "green", "yellow", "black"}
	shapes := []string{"circle", "square", "triangle", "star"}
	rng := rand.New(rand.NewPCG(1, 2))
	id := 0
	for split, n := range splits {
		data := make([]float32, n*36*2048)
		var caps, ids strings.Builder
		for i := range n {
			c, s := rng.IntN(len(colors)), rng.IntN(len(shapes))
			for r := range 36 {
				base := (i*36 + r) * 2048
				for d := range 2048 {
					data[base+d] = float32(rng.NormFloat64()) * 0.1
				}
				data[base+c*50+r%10] += 2
				data[base+1000+s*50+r%10] += 2
			}
			for k := range 5 {
				fmt.Fprintf(&caps, "a %s %s on the table number %d\n", colors[c], shapes[s], k)
			}
			fmt.Fprintf(&ids, "%d\n", 100000+id)
			id++
		}
		var buf bytes.Buffer
		if err := npy.Write(&buf, []int{n, 36, 2048}, data); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, split+"_ims.npy"), buf.Bytes(), 0o644)
		os.WriteFile(filepath.Join(dir, split+"_caps.txt"), []byte(caps.String()), 0o644)
		os.WriteFile(filepath.Join(dir, split+"_ids.txt"), []byte(ids.String()), 0o644)
	}
}

// miniSets shrink the paper's settings so a miniature trains in seconds on
// the real code path (bi-GRU, 36 x 2048 features, queues, clustering,
// concept branch).
var miniSets = []string{
	"kg.upstream=false", "kg.source=embedded", "tokens.min_count=1", "link.concepts=20",
	"train.epochs=2", "train.lr_step=1", "train.batch=16", "train.dim=32", "train.word_dim=16",
	"train.queue=32", "train.prototypes=8", "train.dev_images=0", "train.concept_emb=16",
}

// TestCOCOMiniatureSCAN runs coco.yaml end to end on a miniature in SCAN's
// precomputed format: the download stages are not needed with a local source
// and are left out; 1K-style 5-fold and 5K evaluation both run.
func TestCOCOMiniatureSCAN(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end miniature")
	}
	root := t.TempDir()
	scanMiniature(t, root, "coco", map[string]int{"train": 48, "dev": 10, "testall": 10})
	wd := t.TempDir()
	sets := append([]string{"data.source=dir:" + root}, miniSets...)
	w := load(t, "coco.yaml", wd, sets...)
	if strings.Join(w.Dropped, ",") != "fetch,fetch_kg" {
		t.Fatalf("with local sources the downloads should be left out, dropped = %v", w.Dropped)
	}
	res, err := pipeline.Run(t.Context(), w, pipeline.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"evaluate", "evaluate_5k"} {
		s, _ := res.Record.Stage(id)
		if s.Status != pipeline.RunRan || s.Metrics["rsum"] <= 0 {
			t.Fatalf("%s: %+v", id, s)
		}
	}
	var m struct {
		Folds   int               `json:"folds"`
		PerFold []json.RawMessage `json:"per_fold"`
	}
	b, err := os.ReadFile(res.Artifacts["evaluate"].Path("metrics.json"))
	if err != nil || json.Unmarshal(b, &m) != nil || m.Folds != 5 || len(m.PerFold) != 5 {
		t.Fatalf("COCO 1K protocol wants 5 folds in metrics.json: %v %s", err, b)
	}
	if got := res.Artifacts["data"].TableRows("features"); got != 68 {
		t.Fatalf("features rows %d, want 68", got)
	}
	// a second run is fully cached; --set train.epochs=1 reruns train and after only
	res = must(t, w)
	for _, s := range res.Record.Stages {
		if s.Status != pipeline.RunCached {
			t.Fatalf("second run: %s %s", s.Stage, s.Status)
		}
	}
	res = must(t, load(t, "coco.yaml", wd, append(sets, "train.epochs=1")...))
	for _, s := range res.Record.Stages {
		want := pipeline.RunCached
		if s.Stage == "train" || s.Stage == "embed" || strings.HasPrefix(s.Stage, "evaluate") || s.Stage == "report" {
			want = pipeline.RunRan
		}
		if s.Status != want {
			t.Errorf("after --set train.epochs=1: %s %s, want %s", s.Stage, s.Status, want)
		}
	}
	// its report compares the 1K and 5K evaluations of both runs (the same
	// test data; the earlier run's two are found in runs_dir)
	info := res.Artifacts["report"].Manifest.Info
	if got := fmt.Sprint(info["runs_compared"], " ", info["runs_found"], " ", info["runs_left_out_other_data"]); got != "4 2 0" {
		t.Errorf("after --set train.epochs=1: report runs_compared, runs_found, runs_left_out_other_data = %s, want 4 2 0", got)
	}
}

// TestF30KMiniatureSCAN runs f30k.yaml on a miniature in SCAN's format.
func TestF30KMiniatureSCAN(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end miniature")
	}
	root := t.TempDir()
	scanMiniature(t, root, "f30k", map[string]int{"train": 40, "dev": 10, "test": 10})
	sets := append([]string{"data.source=dir:" + root}, miniSets...)
	res := must(t, load(t, "f30k.yaml", t.TempDir(), sets...))
	if s, _ := res.Record.Stage("evaluate"); s.Metrics["rsum"] <= 0 {
		t.Fatalf("evaluate: %+v", s)
	}
}

func must(t *testing.T, w *pipeline.Workflow) *pipeline.Result {
	t.Helper()
	res, err := pipeline.Run(t.Context(), w, pipeline.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
