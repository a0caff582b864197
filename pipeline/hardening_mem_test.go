package pipeline_test

import (
	"context"
	"math"
	"runtime/debug"
	"testing"
	"time"

	"coderflow/pipeline"
)

func gcp() int { p := debug.SetGCPercent(100); debug.SetGCPercent(p); return p }

func TestMemorySettingsRestored(t *testing.T) {
	if gcp() != 100 {
		t.Skip()
	}
	r := toyRegistry()
	seen := make(chan int, 10)
	r.MustRegister(pipeline.Spec{Kind: "toy.mem", Version: "1", GCPercent: 30,
		Params: []pipeline.Param{{Name: "i", Type: pipeline.Int, Default: 0}, {Name: "panic", Type: pipeline.Bool, Default: false}},
		Stage: pipeline.StageFunc(func(ctx context.Context, env *pipeline.Env) error {
			env.SetMemoryBudget(64 << 20)
			seen <- gcp()
			time.Sleep(50 * time.Millisecond)
			if env.Params.Bool("panic") {
				panic("x")
			}
			return nil
		})})
	h := newHarness(t, "name: m\nstages:\n  a:\n    uses: toy.mem\n    with: {i: 1}\n  b:\n    uses: toy.mem\n    with: {i: 2, panic: true}\n  c:\n    uses: toy.source\n")
	h.reg = r
	pipeline.Run(t.Context(), h.load(), pipeline.RunOptions{Jobs: 3})
	close(seen)
	for v := range seen {
		if v != 30 {
			t.Errorf("inside: %d", v)
		}
	}
	if v := gcp(); v != 100 {
		t.Errorf("after run: GC percent %d", v)
	}
	if v := debug.SetMemoryLimit(-1); v != math.MaxInt64 {
		t.Errorf("after run: memory limit %d", v)
	}
}
