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
// it deletes nothing while a run record cannot be read (the record may be
// the only reference to an artifact someone wants).
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
	orphan := res.Artifacts["a"].Dir
	if err := os.Remove(res.RecordPath); err != nil {
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

	// an unreadable run record: nothing is deleted
	bad := filepath.Join(h.workdir, "runs", "other", "20260101T000000.000Z-000000.json")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"id": "x", "stages": [{"kind": "toy.con`), 0o644); err != nil {
		t.Fatal(err)
	}
	var unreadable *pipeline.UnreadableRunsError
	if st, err := pipeline.GC(h.workdir, states, false); !errors.As(err, &unreadable) || st.Artifacts != 0 || st.WorkDirs != 0 {
		t.Fatalf("gc with an unreadable run record: %+v, %v", st, err)
	}
	for _, dir := range []string{orphan, leftover} {
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("gc deleted %s although a run record was unreadable", dir)
		}
	}
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}

	st, err := pipeline.GC(h.workdir, states, false)
	if err != nil || st.WorkDirs != 1 || st.Artifacts == 0 {
		t.Fatalf("gc: %+v, %v", st, err)
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
