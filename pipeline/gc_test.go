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

	st, err := pipeline.GC(h.workdir, states, false)
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
