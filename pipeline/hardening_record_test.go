package pipeline_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"coderflow/pipeline"
)

// TestRecordOnDiskDuringRun: while a run goes on, its record on disk says
// running and holds the stages finished so far (a stage can read it).
func TestRecordOnDiskDuringRun(t *testing.T) {
	r := schedRegistry()
	var seen []pipeline.StageRecord
	var status string
	r.MustRegister(pipeline.Spec{Kind: "toy.peek", Version: "1", Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		wd := filepath.Dir(filepath.Dir(filepath.Dir(env.Dir)))
		m, _ := filepath.Glob(filepath.Join(wd, "runs", "rec", "*.json"))
		b, _ := os.ReadFile(m[len(m)-1])
		var rr pipeline.RunRecord
		json.Unmarshal(b, &rr)
		seen, status = rr.Stages, rr.Status
		return nil
	})})
	h := newHarness(t, "name: rec\nstages:\n  a:\n    uses: toy.sleep\n    with: {ms: 10, id: a}\n  b:\n    uses: toy.sleep\n    with: {ms: 50, id: b}\n  c:\n    uses: toy.peek\n    needs: [a, b]\n  d:\n    uses: toy.sleep\n    with: {ms: 10, id: d}\n")
	h.reg = r
	h.run(pipeline.RunOptions{Jobs: 1})
	ran := map[string]bool{}
	for _, s := range seen {
		ran[s.Stage] = s.Status == pipeline.RunRan
	}
	if status != pipeline.RunRunning || !ran["a"] || !ran["b"] {
		t.Errorf("record seen by c: status %q, stages %+v; want running with a and b ran", status, seen)
	}
}
