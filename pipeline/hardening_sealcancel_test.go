package pipeline_test

import (
	"context"
	"testing"
	"time"

	"coderflow/pipeline"
)

// TestCancelDuringSeal: a cancellation (Ctrl-C) while a finished stage is
// being sealed stops the run with an error at once and keeps the committed
// shards: the rerun recomputes none of them.
func TestCancelDuringSeal(t *testing.T) {
	h := newHarness(t, bigWF)
	h.reg = bigRegistry()
	ctx, cancel := context.WithCancel(t.Context())
	defer pipeline.SetSealHook(func(string) { cancel() })()
	t0 := time.Now()
	res, err := pipeline.Run(ctx, h.load(), pipeline.RunOptions{})
	if err == nil || time.Since(t0) > 10*time.Second {
		t.Fatalf("Run returned after %.1fs: err=%v status=%v; want the cancellation's error at once", time.Since(t0).Seconds(), err, statuses(res))
	}
	resetExec()
	h.reg = bigRegistry()
	h.run(pipeline.RunOptions{})
	if n := execCount("shard"); n != 0 {
		t.Errorf("rerun after a cancel during sealing recomputed %d of 4 committed shards", n)
	}
}
