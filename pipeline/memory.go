package pipeline

import (
	"os"
	"runtime/debug"
	"slices"
	"sync"
)

// The engine's memory settings for running stages. Stages that stream
// large buffers through a bounded working set can tell the engine two
// things, which it applies to the Go runtime while they run and undoes
// after:
//
//   - Spec.GCPercent: a garbage-collector target (as in GOGC). With the
//     default 100 the heap may grow to twice the live data before a
//     collection, and how close a run comes to that depends on how long it
//     runs, so peak memory creeps up with the data set. With several stages
//     running, the lowest target applies (a lower target costs collector
//     time, never an allocation).
//   - Env.SetMemoryBudget: the bytes of Go memory the stage's working set
//     needs, from its params and input. When every running stage has
//     declared one, the soft memory limit (debug.SetMemoryLimit) is their
//     sum plus memoryBaseline, so that the runtime also returns the free
//     pages left by large buffers of varying sizes instead of keeping them.
//     A too-low budget costs collector time (the runtime caps it at about
//     half the CPU), never a failed allocation.
//
// A GOGC or GOMEMLIMIT set by the user wins over every stage.

// memoryBaseline is the Go memory of the engine and its libraries besides
// the stages' working sets (measured: about 12 MB of heap for the features
// stage's process before it allocates anything).
const memoryBaseline = 16 << 20

type memorySettings struct {
	mu          sync.Mutex
	running     map[*Env]stageMemory
	initGC      int   // the GC target before the first stage changed it
	initLimit   int64 // the memory limit before the first stage changed it
	gcChanged   bool
	limitActive bool
}

type stageMemory struct {
	gcPercent int
	budget    int64 // 0 until SetMemoryBudget
}

var memSettings = memorySettings{running: map[*Env]stageMemory{}}

// enter records env's stage as running and returns the function that
// records its end.
func (m *memorySettings) enter(env *Env, gcPercent int) (leave func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.running[env] = stageMemory{gcPercent: gcPercent}
	m.apply()
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.running, env)
		m.apply()
	}
}

// setBudget records the working-set budget of a running stage.
func (m *memorySettings) setBudget(env *Env, bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.running[env]
	if !ok {
		return // not run by the engine (a unit test's bare Env)
	}
	s.budget = bytes
	m.running[env] = s
	m.apply()
}

// apply sets the runtime's GC target and memory limit from the running
// stages. m.mu is held.
func (m *memorySettings) apply() {
	if os.Getenv("GOGC") == "" {
		var targets []int
		for _, s := range m.running {
			if s.gcPercent > 0 {
				targets = append(targets, s.gcPercent)
			}
		}
		switch {
		case len(targets) > 0 && !m.gcChanged:
			m.initGC = debug.SetGCPercent(slices.Min(targets))
			m.gcChanged = true
		case len(targets) > 0:
			debug.SetGCPercent(slices.Min(targets))
		case m.gcChanged:
			debug.SetGCPercent(m.initGC)
			m.gcChanged = false
		}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		var sum int64
		all := len(m.running) > 0
		for _, s := range m.running {
			if s.budget <= 0 {
				all = false
			}
			sum += s.budget
		}
		switch {
		case all && !m.limitActive:
			m.initLimit = debug.SetMemoryLimit(sum + memoryBaseline)
			m.limitActive = true
		case all:
			debug.SetMemoryLimit(sum + memoryBaseline)
		case m.limitActive:
			debug.SetMemoryLimit(m.initLimit)
			m.limitActive = false
		}
	}
}

// SetMemoryBudget declares the bytes of Go memory the stage's working set
// needs (buffers, pools, in-flight batches), so the engine can bound the
// process's memory while the stage runs: see the comment on memorySettings.
// Call it again when the estimate changes (e.g. per shard); 0 withdraws it.
func (e *Env) SetMemoryBudget(bytes int64) {
	memSettings.setBudget(e, max(bytes, 0))
}
