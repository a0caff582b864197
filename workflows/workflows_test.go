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
	"coderflow/internal/testenv"
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
			var sets []string
			if _, err := os.Stat("/usr/share/wordnet"); f == "flickr8k.yaml" && err != nil {
				// its graph needs Debian's wordnet-base, whose directory
				// loading stats: validate the rest on a machine without it
				t.Log("no /usr/share/wordnet (apt-get install wordnet-base): kg.source=embedded")
				sets = append(sets, "kg.source=embedded")
			}
			w := load(t, f, t.TempDir(), sets...)
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

// methodTrain is every train.coder param that shared/CODER-METHOD.md (and
// the paper's setting as it gives it) fixes, with the value coco.yaml and
// f30k.yaml must train with. The epoch count, max_len, pooling, tau_p,
// concept_emb and dev_images are not given by the method; their values are
// the documented choices in the workflow files' comments.
var methodTrain = map[string]any{
	// section 5: optimiser and schedule
	"lr": 2e-4, "batch": 128, "clip": 2.0,
	"epochs": 30, "lr_step": 0, // 0 = lr x 0.1 after half the epochs
	// section 1: encoders, momentum, queues
	"dim": 1024, "word_dim": 300, "text_encoder": "bigru", "pooling": "mean",
	"momentum": 0.995, "queue": 4096, "max_len": 32,
	// section 2: DCL
	"loss": "dcl", "tau": 0.07, "beta": 1.0,
	// section 3: online clustering
	"clustering": true, "prototypes": 256, "sinkhorn_eps": 0.05, "sinkhorn_iters": 3, "tau_p": 0.1,
	// section 4: concept branch
	"concept": true, "lambda": 10.0, "rho": 0.4, "concept_emb": 300,
	// section 5: loss weights, test similarity, model selection
	"lambda_c": 1.0, "lambda_p": 0.5, "lambda_s": 0.5, "alpha": 0.9,
	"dev_images": 1000, "dev_every": 1, "seed": 1,
}

// TestPaperSettings checks that coco.yaml and f30k.yaml train and evaluate
// with the settings their comments claim: the method's hyper-parameters
// (every one pinned in the file, so a change of the stage defaults cannot
// move them), SCAN's features and splits, M = 300 concepts, and the
// evaluation protocol of shared/EVAL-PROTOCOL.md (COCO: 1K as 5 folds and
// 5K over testall; Flickr30K: the 1,000-image test split, no folds).
func TestPaperSettings(t *testing.T) {
	type eval struct {
		split string
		folds int
	}
	cases := []struct {
		file, dataset string
		splits        []string
		embed         string
		evals         map[string]eval
	}{
		{"coco.yaml", "coco", []string{"train", "dev", "testall"}, "testall",
			map[string]eval{"evaluate": {"testall", 5}, "evaluate_5k": {"testall", 0}}},
		{"f30k.yaml", "f30k", []string{"train", "dev", "test"}, "test",
			map[string]eval{"evaluate": {"test", 0}}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			w := load(t, c.file, t.TempDir())
			node := func(id string) *pipeline.Node {
				n, ok := w.Stage(id)
				if !ok {
					t.Fatalf("no stage %q", id)
				}
				return n
			}
			// the pinned values are in the file itself, under train's with:,
			// not stage defaults
			raw, err := os.ReadFile(c.file)
			if err != nil {
				t.Fatal(err)
			}
			trainBlock := stageBlock(t, string(raw), "train")
			tr := node("train")
			for name, want := range methodTrain {
				var got any
				switch want.(type) {
				case int:
					got = tr.Params.Int(name)
				case float64:
					got = tr.Params.Float(name)
				case string:
					got = tr.Params.String(name)
				case bool:
					got = tr.Params.Bool(name)
				}
				if got != want {
					t.Errorf("train.%s = %v, want %v", name, got, want)
				}
				if name != "seed" && !strings.Contains(trainBlock, "\n      "+name+": ") {
					t.Errorf("train.%s is not written in %s's train stage (a stage default could move it)", name, c.file)
				}
			}
			if got := tr.Params.Map()["seed"]; fmt.Sprint(got) != "1" || !strings.Contains(trainBlock, "\n      seed: ${params.seed}") {
				t.Errorf("train.seed = %v, want ${params.seed} (1)", got)
			}
			d := node("data")
			if d.Kind != "dataset.precomp" || d.Params.String("format") != "scan" || d.Params.String("dataset") != c.dataset ||
				strings.Join(d.Params.Strings("splits"), ",") != strings.Join(c.splits, ",") {
				t.Errorf("data: %s %v, want SCAN precomp %s %v", d.Kind, d.Params.Map(), c.dataset, c.splits)
			}
			if got := node("tokens").Params.Int("min_count"); got != 4 {
				t.Errorf("tokens.min_count = %d, want SCAN's 4", got)
			}
			if got := node("link").Params.Int("concepts"); got != 300 {
				t.Errorf("link.concepts = %d, want M = 300", got)
			}
			if got := node("embed").Params.String("split"); got != c.embed {
				t.Errorf("embed.split = %q, want %q", got, c.embed)
			}
			for id, want := range c.evals {
				e := node(id)
				if got := (eval{e.Params.String("split"), e.Params.Int("folds")}); got != want {
					t.Errorf("%s: split %q folds %d, want %q %d", id, got.split, got.folds, want.split, want.folds)
				}
				if a := e.Params.Float("alpha"); a != -1 {
					t.Errorf("%s.alpha = %v, want -1 (the model's alpha)", id, a)
				}
			}
			for _, n := range w.Stages {
				if _, ok := c.evals[n.ID]; n.Kind == "evaluate" && !ok {
					t.Errorf("evaluate stage %q is not checked by this test", n.ID)
				}
			}
		})
	}
}

// stageBlock returns the lines of stage id in a workflow file: from its
// "  id:" line up to the next stage (or the end).
func stageBlock(t *testing.T, raw, id string) string {
	t.Helper()
	i := strings.Index(raw, "\n  "+id+":\n")
	if i < 0 {
		t.Fatalf("no stage %q line", id)
	}
	rest := raw[i+1:]
	lines := strings.SplitAfter(rest, "\n")
	n := len(lines[0])
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "   ") && strings.TrimSpace(l) != "" && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			break // the next stage id at two spaces
		}
		n += len(l)
	}
	return "\n" + rest[:n]
}

// TestFlickr8kOffline runs flickr8k.yaml as the README's offline command
// does (data.source=dir:../shared/data/flickr8k-1k, WordNet graph when
// installed) with two cheap epochs: the download stage is left out, every
// stage runs on the 875 real photos, and the 57-image test split is
// evaluated without folds.
func TestFlickr8kOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end real-data run")
	}
	src := testenv.SharedData(t, "flickr8k-1k")
	sets := []string{"data.source=dir:" + src, "train.epochs=2", "train.lr_step=1", "train.dim=64", "train.word_dim=32",
		"train.concept_emb=32", "train.queue=256", "train.prototypes=16"}
	if _, err := os.Stat("/usr/share/wordnet"); err != nil {
		sets = append(sets, "kg.source=embedded") // the shipped graph needs Debian's wordnet-base
	}
	w := load(t, "flickr8k.yaml", t.TempDir(), sets...)
	if strings.Join(w.Dropped, ",") != "fetch" {
		t.Fatalf("with a local source the download should be left out, dropped = %v", w.Dropped)
	}
	res := must(t, w)
	if got := res.Artifacts["data"].TableRows("images"); got != 875 {
		t.Errorf("images rows %d, want the 875 of flickr8k-1k", got)
	}
	s, _ := res.Record.Stage("evaluate")
	if s.Status != pipeline.RunRan || s.Metrics["rsum"] <= 0 {
		t.Fatalf("evaluate: %+v", s)
	}
	var m struct {
		Folds  int     `json:"folds"`
		Images int     `json:"images"`
		Alpha  float64 `json:"alpha"`
	}
	b, err := os.ReadFile(res.Artifacts["evaluate"].Path("metrics.json"))
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("metrics.json: %v %s", err, b)
	}
	if m.Folds != 1 || m.Images != 57 || m.Alpha != 0.9 {
		t.Errorf("evaluation: folds %d, images %d, alpha %v; want the 57 test images, no folds, the model's alpha 0.9", m.Folds, m.Images, m.Alpha)
	}
}
