package pipeline_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestSealedWorkDirIsMovedNotRerun: a run killed after a stage's work
// directory was sealed (its manifest written, its shard markers gone) and
// before it was renamed into the cache leaves a complete artifact under
// tmp/. The next run must move it into the cache, not run the stage again
// from scratch (the markers it would resume from are gone: a training
// stage would start over).
func TestSealedWorkDirIsMovedNotRerun(t *testing.T) {
	h := newHarness(t, "name: toy\nstages:\n  a:\n    uses: toy.source\n    with: {n: 3}\n")
	res := h.run(pipeline.RunOptions{})
	art := res.Artifacts["a"]
	// the state the kill leaves: the sealed directory still under tmp/
	wd := filepath.Join(h.workdir, "tmp", art.Kind(), art.Key())
	if err := os.MkdirAll(filepath.Dir(wd), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(art.Dir, wd); err != nil {
		t.Fatal(err)
	}
	// status says what the next run will do with it (it said nothing, or
	// "resumes from N finished shards" when markers were left too)
	before, err := h.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	if want := "finished earlier but not moved into the cache"; !strings.Contains(before[0].Reason, want) {
		t.Errorf("status reason %q, want it to say %q", before[0].Reason, want)
	}
	res = h.run(pipeline.RunOptions{})
	if n := execCount("a"); n != 1 {
		t.Errorf("stage a ran %d times; want 1 (the sealed work directory moved into the cache)", n)
	}
	if out, err := os.ReadFile(res.Artifacts["a"].Path("out.txt")); err != nil || string(out) != "n=3\n" {
		t.Fatalf("artifact after the second run: %q, %v", out, err)
	}
	if _, err := os.Stat(wd); !os.IsNotExist(err) {
		t.Errorf("work directory still there: %v", err)
	}
	states, err := h.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	if states[0].Status != pipeline.StatusCached {
		t.Fatalf("stage a %s (%s) after the second run, want cached", states[0].Status, states[0].Reason)
	}
}
