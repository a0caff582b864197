package evaluate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
	"coderflow/pipeline/pipelinetest"
)

// TestReportRunsDirDanglingLink: a dangling symlink in the workdir's
// evaluate cache (a link to an evaluation that gc deleted) is not there:
// the workflow's status and run keep working, its report stays cached,
// and a report that runs does not fail on it (it used to stop every
// shipped workflow at planning: "params.runs_dir: stat ...: no such file
// or directory").
func TestReportRunsDirDanglingLink(t *testing.T) {
	h := newTiny(t)
	h.run()
	res, _ := h.run("train.lr=0.002")
	link := filepath.Join(h.workdir, "cache", "evaluate", "latest")
	if err := os.Symlink(filepath.Join(h.workdir, "cache", "evaluate", "deleted"), link); err != nil {
		t.Fatal(err)
	}
	w, err := pipeline.Load(h.file, pipeline.LoadOptions{Registry: h.reg, Sets: []string{"train.lr=0.002"}, BaseDir: filepath.Dir(h.file)})
	if err != nil {
		t.Fatal(err)
	}
	states, err := w.States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatalf("status with a dangling link in runs_dir: %v", err)
	}
	if s := states[len(states)-1]; s.Stage != "report" || s.Status != pipeline.StatusCached || s.Key != res.Artifacts["report"].Key() {
		t.Errorf("status: %s %s (%s), want report cached", s.Stage, s.Status, s.Reason)
	}
	res, _ = h.run("train.lr=0.002")
	if stageStatus(res, "report") != pipeline.RunCached {
		t.Errorf("report %s, want cached", stageStatus(res, "report"))
	}
	// a report that runs reads the directory as its key covers it
	res, _ = h.run("train.lr=0.003")
	if stageStatus(res, "report") != pipeline.RunRan || info(res, "runs_found") != "2" || info(res, "runs_compared") != "3" {
		t.Errorf("third params: report %s, runs_found %s, runs_compared %s; want ran, 2, 3",
			stageStatus(res, "report"), info(res, "runs_found"), info(res, "runs_compared"))
	}
}

// TestReportRunsDirUnreadableFile: a damaged or foreign metrics.json in the
// workdir's evaluate cache (runs_dir) is counted and named, not an error:
// runs_dir is on in every shipped workflow, and one bad file used to fail
// the report of every workflow in the workdir. A run listed in `runs` that
// cannot be read still fails the report (the user asked for it).
func TestReportRunsDirUnreadableFile(t *testing.T) {
	h := newTiny(t)
	h.run()
	bad := filepath.Join(h.workdir, "cache", "evaluate", "foreign")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "metrics.json"), []byte(`{"format":"other"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res, page := h.run("train.lr=0.002")
	if stageStatus(res, "report") != pipeline.RunRan || info(res, "runs_left_out_unreadable") != "1" || info(res, "runs_compared") != "2" {
		t.Errorf("report %s, unreadable %s, compared %s; want ran, 1, 2",
			stageStatus(res, "report"), info(res, "runs_left_out_unreadable"), info(res, "runs_compared"))
	}
	if !strings.Contains(page, "1 unreadable metrics.json file left out (runs_dir/foreign/metrics.json:") {
		t.Errorf("the page does not name the unreadable file")
	}
	if sum := res.Record.Stages[len(res.Record.Stages)-1].Summary; !strings.Contains(sum, "(1 unreadable left out)") {
		t.Errorf("summary %q does not count the unreadable file", sum)
	}
	if _, err := h.runErr("train.lr=0.002", "report.runs=["+filepath.Join(bad, "metrics.json")+"]"); err == nil {
		t.Error("an unreadable file listed in runs: want the report to fail")
	}
}

// TestReportDroppedUpstream: when the embedding stage left images of the
// split out, the evaluation is not on the protocol's full test set; the
// report's results table (and its run comparison) must say so next to the
// numbers, as the evaluate stage's summary does. The page used to show
// them as if they were protocol numbers.
func TestReportDroppedUpstream(t *testing.T) {
	for _, dropped := range []int{0, 3} {
		emb := pipelinetest.RunStage(t, &fakeEmbeddings, map[string]any{"n": 10, "dropped": dropped})
		ev := pipelinetest.RunStage(t, &Spec, map[string]any{"folds": 2}, emb)
		ev5 := pipelinetest.RunStage(t, &Spec, nil, emb) // a second evaluation: the run comparison
		rep := pipelinetest.RunStage(t, &ReportSpec, map[string]any{"examples": 0}, ev, ev5)
		b, err := os.ReadFile(rep.Path(ReportFileName))
		if err != nil {
			t.Fatal(err)
		}
		html := string(b)
		note := strings.Contains(html, `id="dropped"`) &&
			strings.Contains(html, "3 image(s) of the split were left out upstream") &&
			strings.Contains(html, "the folds hold other images than the protocol's")
		if note != (dropped > 0) {
			t.Errorf("dropped %d: note on the page %v", dropped, note)
		}
		if got := strings.Count(html, "3 dropped upstream: not the full test set"); got != map[bool]int{true: 2, false: 0}[dropped > 0] {
			t.Errorf("dropped %d: %d run comparison rows marked, want every row", dropped, got)
		}
	}
}
