package pipeline

import (
	"os"
	"runtime/debug"
	"slices"
	"sync"
)

// gcTarget applies the GCPercent of the stages running in this process:
// while any of them declares one, the garbage collector's target is the
// lowest declared value (a lower target is always safe: it costs collector
// time, never an allocation); when none does, the target the process
// started with comes back. A GOGC set by the user wins over every stage.
type gcTarget struct {
	mu      sync.Mutex
	active  []int // GCPercent of the running stages that declare one
	initial int   // the target before the first stage changed it
}

var gcTargets gcTarget

// enter records a running stage with target percent (0: none) and returns
// the function that records its end.
func (g *gcTarget) enter(percent int) (leave func()) {
	if percent <= 0 || os.Getenv("GOGC") != "" {
		return func() {}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.active) == 0 {
		g.initial = debug.SetGCPercent(percent)
	}
	g.active = append(g.active, percent)
	debug.SetGCPercent(slices.Min(g.active))
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.active = slices.Delete(g.active, slices.Index(g.active, percent), slices.Index(g.active, percent)+1)
		if len(g.active) == 0 {
			debug.SetGCPercent(g.initial)
			return
		}
		debug.SetGCPercent(slices.Min(g.active))
	}
}
