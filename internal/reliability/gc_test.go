package reliability

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestGCKeepsCurrentArtifactsAfterKill: a run SIGKILLed when training
// starts writes no run record, but its finished stages (data, features,
// tokens) are cached and `coderflow status WF` shows them so. `coderflow
// gc WF` must not delete them: they are the workflow's current artifacts,
// and deleting them throws away finished work that the next run would
// resume from. (Observed: gc deleted all three, "kept 0".)
func TestGCKeepsCurrentArtifactsAfterKill(t *testing.T) {
	ref := ref(t)
	wd := filepath.Join(t.TempDir(), "wd")
	k := runAndKill(t, []string{"run", ref.wf, "--workdir", wd, "--no-progress"}, "train", 0)
	if !k.killed {
		t.Fatalf("the run ended before the kill:\n%s", k.log.String())
	}
	cached := map[string]bool{}
	for _, s := range states(t, ref.wf, wd) {
		if s.Status == pipeline.StatusCached {
			cached[s.Stage] = true
		}
	}
	if !cached["features"] || !cached["tokens"] {
		t.Fatalf("features and tokens should be cached before gc: %v", cached)
	}
	r := mustRun(t, "gc", ref.wf, "--workdir", wd)
	for _, s := range states(t, ref.wf, wd) {
		if cached[s.Stage] && s.Status != pipeline.StatusCached {
			t.Errorf("gc deleted stage %s's current artifact (gc: %s)", s.Stage, strings.TrimSpace(r.stdout))
		}
	}
}

// TestRunSweepsTrash: a process killed while it replaced or deleted an
// artifact leaves it renamed to KEY.trash-PID-RANDOM (finding 5). The next
// `coderflow run` removes such leftovers once it holds the workdir lock;
// they used to stay until `coderflow gc`.
func TestRunSweepsTrash(t *testing.T) {
	dir := t.TempDir()
	wf := write(t, filepath.Join(dir, "guard.yaml"), []byte(guardWF))
	wd := filepath.Join(dir, "wd")
	mustRun(t, "run", wf, "--workdir", wd, "--no-progress")
	var trash string
	for _, s := range states(t, wf, wd) {
		if s.Stage == "tokens" {
			trash = s.Dir + ".trash-12345-0badc0de"
		}
	}
	write(t, filepath.Join(trash, "vocab.parquet"), []byte("half deleted"))
	mustRun(t, "run", wf, "--workdir", wd, "--no-progress")
	if _, err := os.Stat(trash); !os.IsNotExist(err) {
		t.Errorf("%s left by an interrupted deletion is still there after a run (stat: %v)", trash, err)
	}
	for _, s := range states(t, wf, wd) {
		if s.Status != pipeline.StatusCached {
			t.Errorf("stage %s is %s after the sweep", s.Stage, s.Status)
		}
	}
	verifyCache(t, wd)
}
