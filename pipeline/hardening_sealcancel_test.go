package pipeline_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"coderflow/pipeline"
)

func TestCancelDuringSeal(t *testing.T) {
	h := newHarness(t, bigWF)
	h.reg = bigRegistry()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for {
			m, _ := filepath.Glob(filepath.Join(h.workdir, "tmp", "toy.big", "*", "part-3.bin"))
			if len(m) == 1 {
				time.Sleep(time.Second)
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	t0 := time.Now()
	res, err := pipeline.Run(ctx, h.load(), pipeline.RunOptions{})
	<-ctx.Done()
	if err == nil || time.Since(t0) > 6*time.Second {
		t.Errorf("Run returned %.1fs after start (cancel at ~1s into sealing 4 GiB): err=%v status=%v; want an error within seconds", time.Since(t0).Seconds(), err, statuses(res))
	}
}
