package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"coderflow/pipeline"
)

// An empty artifact file replaced by a FIFO: the cache check hangs.
func TestFifoInArtifactIsStale(t *testing.T) {
	r := toyRegistry()
	r.MustRegister(pipeline.Spec{Kind: "toy.empty", Version: "1", Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
		return os.WriteFile(env.Path("_SUCCESS"), nil, 0o644)
	})})
	h := newHarness(t, "name: e\nstages:\n  s:\n    uses: toy.empty\n")
	h.reg = r
	res := h.run(pipeline.RunOptions{})
	p := filepath.Join(res.Artifacts["s"].Dir, "_SUCCESS")
	os.Remove(p)
	syscall.Mkfifo(p, 0o644)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := h.load().StatesContext(ctx, pipeline.NewDigester(""))
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		t.Logf("returned %v", err)
	case <-time.After(3 * time.Second):
		f, _ := os.OpenFile(p, os.O_WRONLY, 0)
		f.Close()
		t.Errorf("cache check blocked on a FIFO in the artifact, 3 s after cancel")
	}
}
