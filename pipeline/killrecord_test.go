package pipeline_test

import (
	"encoding/json"
	"os"
	"path/filepath"
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
	if recs[0].End.Before(recs[0].Start) {
		t.Errorf("a killed record's end %v is before its start %v (want the time it was last written)", recs[0].End, recs[0].Start)
	}
}

// TestOtherWorkflowsKilledRecords: a run marks the records left running by
// any workflow of its workdir (the lock is per workdir), not only its own.
func TestOtherWorkflowsKilledRecords(t *testing.T) {
	h := newHarness(t, diamond)
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	ghost := pipeline.RunRecord{ID: "20260101-000000-ghost", Workflow: "ghost", Status: pipeline.RunRunning, Start: start}
	b, err := json.Marshal(ghost)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(h.workdir, "runs", "ghost")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ghost.ID+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	h.run(pipeline.RunOptions{})
	recs, err := pipeline.ListRuns(h.workdir, "ghost")
	if err != nil || len(recs) != 1 {
		t.Fatalf("ghost records: %d, %v", len(recs), err)
	}
	if r := recs[0]; r.Status != pipeline.RunKilled || r.End.Before(start) {
		t.Errorf("another workflow's record left running: status %q, end %v (start %v); want killed with an end", r.Status, r.End, start)
	}
}
