package pipeline_test

import (
	"os"
	"path/filepath"
	"testing"

	"coderflow/pipeline"
)

func TestGCStrayFileInRuns(t *testing.T) {
	h := newHarness(t, diamond)
	h.run(pipeline.RunOptions{})
	os.WriteFile(filepath.Join(h.workdir, "runs", "notes.txt"), []byte("x"), 0o644)
	states, _ := h.load().States(pipeline.NewDigester(""))
	_, err := pipeline.GC(h.workdir, states, pipeline.GCOptions{})
	if err != nil {
		t.Errorf("gc with a stray file in runs/: %v", err)
	}
}
