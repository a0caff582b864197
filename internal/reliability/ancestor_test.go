package reliability

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"coderflow/pipeline"
)

// ancestorWF has a stage (features) that reads a table (images) of an
// indirect ancestor (data) through a direct input (tokens).
const ancestorWF = `name: anc
stages:
  data:
    uses: dataset.synth
    with: {images: 8, min_size: 64, max_size: 64}
  tokens:
    uses: tokenize
    needs: [data]
    with: {min_count: 1}
  features:
    uses: features.regions
    needs: [tokens]
    with: {regions: 1, short_side: 32}
`

// TestCachedStageWithMissingAncestor: when an artifact is gone (deleted,
// collected, or lost to a kill while `--force` replaced it) but a stage
// downstream of it is still cached, a rerun must recompute the missing
// artifact before starting stages that read through the cached one. Found
// by TestKillResume: the engine started them at once with a nil input
// artifact, the stage panicked (recovered into "stage panicked: nil
// pointer dereference"), the failure cancelled the recomputation, and every
// later rerun failed the same way.
func TestCachedStageWithMissingAncestor(t *testing.T) {
	dir := t.TempDir()
	wf := write(t, filepath.Join(dir, "anc.yaml"), []byte(ancestorWF))
	wd := filepath.Join(dir, "wd")
	mustRun(t, "run", wf, "--workdir", wd, "--no-progress")
	want := digestsByStage(t, wd)
	for _, kind := range []string{"dataset.synth", "features.regions"} {
		if err := os.RemoveAll(filepath.Join(wd, "cache", kind)); err != nil {
			t.Fatal(err)
		}
	}
	r := cf(t, context.Background(), "", "run", wf, "--workdir", wd, "--no-progress")
	if r.code != 0 {
		t.Fatalf("rerun with data's artifact gone and tokens cached: exit %d, want 0\n%s", r.code, r.all())
	}
	for _, s := range states(t, wf, wd) {
		if s.Status != pipeline.StatusCached {
			t.Errorf("stage %s is %s after the rerun", s.Stage, s.Status)
		}
	}
	got := digestsByStage(t, wd)
	for stage, files := range want {
		for p, sum := range files {
			if got[stage][p] != sum {
				t.Errorf("stage %s: %s differs after recomputation", stage, p)
			}
		}
	}
}
