package pipeline_test

import (
	"os"
	"testing"
	"time"

	"coderflow/pipeline"
)

// TestKilledRunKeepsARecord kills a run (SIGKILL, as the OOM killer would)
// after its first stage finished: the run record written so far names that
// stage, so gc keeps its artifact even when the workflow's current params
// no longer use it.
func TestKilledRunKeepsARecord(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	h := newHarness(t, `
name: killed
stages:
  a:
    uses: toy.source
    with: {n: 5}
  s:
    uses: toy.shards
    needs: [a]
    with: {shards: 50, sleep_ms: 100}
`)
	cmd := helperCmd(t, "run", h.file, h.workdir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(doneMarkers(h.workdir)) == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("subprocess made no progress")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()

	recs, err := pipeline.ListRuns(h.workdir, "killed")
	if err != nil || len(recs) != 1 {
		t.Fatalf("run records of the killed run: %d, %v", len(recs), err)
	}
	if s, ok := recs[0].Stage("a"); !ok || s.Status != pipeline.RunRan {
		t.Fatalf("the killed run's record: %+v", recs[0])
	}
	if recs[0].Status != "running" {
		t.Errorf("a killed run's record has status %q, want running", recs[0].Status)
	}
	aDir := pipeline.ArtifactDir(h.workdir, "toy.source", recs[0].Stages[0].Key)
	states, err := h.load("a.n=6").States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.GC(h.workdir, states, pipeline.GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(aDir); err != nil {
		t.Fatalf("gc deleted the artifact a killed run made: %v", err)
	}
	// the next run (holding the lock, so no other run goes on) marks the
	// record killed; its own record ends ok
	h.run(pipeline.RunOptions{}, "s.shards=2", "s.sleep_ms=0")
	recs, err = pipeline.ListRuns(h.workdir, "killed")
	if err != nil || len(recs) != 2 {
		t.Fatalf("run records after the next run: %d, %v", len(recs), err)
	}
	if recs[0].Status != pipeline.RunKilled || recs[0].Error == "" || recs[1].Status != "ok" {
		t.Fatalf("statuses after the next run: %q (%q), %q", recs[0].Status, recs[0].Error, recs[1].Status)
	}
}
