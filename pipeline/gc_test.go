package pipeline_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"coderflow/pipeline"
)

// TestGC checks what gc deletes: artifacts no run record references and
// the workflow does not use now, and leftover work directories; and that
// an artifact whose only reference is a damaged (truncated) run record is
// kept.
func TestGC(t *testing.T) {
	h := newHarness(t, diamond)
	h.run(pipeline.RunOptions{})
	res := h.run(pipeline.RunOptions{}, "b.suffix=-B")
	bB := res.Artifacts["b"].Dir
	// an artifact nothing references: its run record is gone
	recs, err := pipeline.ListRuns(h.workdir, "toy")
	if err != nil || len(recs) != 2 {
		t.Fatalf("runs: %d %v", len(recs), err)
	}
	res = h.run(pipeline.RunOptions{}, "a.n=9")
	orphan := res.Artifacts["d"].Dir
	if err := os.Remove(res.RecordPath); err != nil {
		t.Fatal(err)
	}
	// a run whose record was truncated: its artifact is kept
	res = h.run(pipeline.RunOptions{}, "a.n=10", "b.suffix=-T")
	truncated := res.Artifacts["a"].Dir
	b, err := os.ReadFile(res.RecordPath)
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.Index(string(b), res.Artifacts["a"].Key()) + 64 + 5
	if err := os.WriteFile(res.RecordPath, b[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	// a leftover work directory
	leftover := filepath.Join(h.workdir, "tmp", "toy.concat", "deadbeef")
	if err := os.MkdirAll(leftover, 0o755); err != nil {
		t.Fatal(err)
	}
	states, err := h.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}

	st, err := pipeline.GC(h.workdir, states, pipeline.GCOptions{})
	if err != nil || st.WorkDirs != 1 || st.Artifacts == 0 || len(st.Unreadable) != 1 {
		t.Fatalf("gc: %+v, %v", st, err)
	}
	if _, err := os.Stat(truncated); err != nil {
		t.Errorf("gc deleted the artifact of a run whose record is truncated: %v", err)
	}
	for _, dir := range []string{orphan, leftover} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("gc kept %s", dir)
		}
	}
	if _, err := os.Stat(bB); err != nil {
		t.Errorf("gc deleted an artifact a run record references: %v", err)
	}
	res = h.run(pipeline.RunOptions{})
	wantStatuses(t, res, map[string]string{"a": "cached", "b": "cached", "c": "cached", "d": "cached"})
	if strings.Contains(orphan, bB) {
		t.Fatal("test setup: the orphan is the referenced artifact")
	}
}

// TestGCKeepRuns: with KeepRuns only the newest runs of a workflow protect
// their artifacts; what the workflow uses now stays either way, and the
// run records themselves are kept.
func TestGCKeepRuns(t *testing.T) {
	h := newHarness(t, diamond)
	old := h.run(pipeline.RunOptions{}, "b.suffix=-old").Artifacts["b"].Dir
	prev := h.run(pipeline.RunOptions{}, "b.suffix=-prev").Artifacts["b"].Dir
	current := h.run(pipeline.RunOptions{}).Artifacts["b"].Dir
	latest := h.run(pipeline.RunOptions{}, "b.suffix=-latest").Artifacts["b"].Dir
	states, err := h.load().States(pipeline.NewDigester(""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.GC(h.workdir, states, pipeline.GCOptions{KeepRuns: -1}); err == nil {
		t.Fatal("KeepRuns -1: no error")
	}
	st, err := pipeline.GC(h.workdir, states, pipeline.GCOptions{KeepRuns: 2, DryRun: true})
	if err != nil || st.Artifacts == 0 {
		t.Fatalf("dry run: %+v, %v", st, err)
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("a dry run deleted %s", old)
	}
	// the two newest runs are the current params and -latest; -prev and
	// -old are protected only by older records
	if _, err := pipeline.GC(h.workdir, states, pipeline.GCOptions{KeepRuns: 2}); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]bool{old: false, prev: false, current: true, latest: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(dir), err == nil, want)
		}
	}
	// KeepRuns 1: the newest run (-latest) and what the workflow uses now
	if _, err := pipeline.GC(h.workdir, states, pipeline.GCOptions{KeepRuns: 1}); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]bool{current: true, latest: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("KeepRuns 1: %s exists %v, want %v", filepath.Base(dir), err == nil, want)
		}
	}
	if recs, err := pipeline.ListRuns(h.workdir, "toy"); err != nil || len(recs) != 4 {
		t.Fatalf("run records after gc: %d, %v; want all 4", len(recs), err)
	}
	wantStatuses(t, h.run(pipeline.RunOptions{}), map[string]string{"a": "cached", "b": "cached", "c": "cached", "d": "cached"})
}
