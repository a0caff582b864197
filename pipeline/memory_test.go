package pipeline

import (
	"math"
	"runtime/debug"
	"testing"
)

func currentGCPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func currentMemoryLimit() int64 { return debug.SetMemoryLimit(-1) }

func newMemorySettings() *memorySettings {
	return &memorySettings{running: map[*Env]stageMemory{}}
}

func TestMemoryGCPercentLowestWinsAndRestores(t *testing.T) {
	if v := currentGCPercent(); v != 100 {
		t.Skipf("process runs with GC percent %d, not the default", v)
	}
	m := newMemorySettings()
	a, b, c := &Env{}, &Env{}, &Env{}
	leaveA := m.enter(a, 50)
	if v := currentGCPercent(); v != 50 {
		t.Fatalf("after a (50) entered: %d", v)
	}
	leaveB := m.enter(b, 0)
	leaveC := m.enter(c, 25)
	if v := currentGCPercent(); v != 25 {
		t.Fatalf("after c (25) entered: %d", v)
	}
	leaveA()
	if v := currentGCPercent(); v != 25 {
		t.Fatalf("after a left: %d", v)
	}
	leaveC()
	if v := currentGCPercent(); v != 100 {
		t.Fatalf("only b (no target) running: %d, want the initial 100", v)
	}
	leaveB()
}

func TestMemoryBudgetsSetTheLimitOnlyWhenAllDeclare(t *testing.T) {
	if v := currentMemoryLimit(); v != math.MaxInt64 {
		t.Skipf("process runs with memory limit %d", v)
	}
	m := newMemorySettings()
	a, b := &Env{}, &Env{}
	leaveA := m.enter(a, 0)
	if v := currentMemoryLimit(); v != math.MaxInt64 {
		t.Fatalf("no budget declared, limit %d", v)
	}
	m.setBudget(a, 10<<20)
	if v := currentMemoryLimit(); v != 10<<20+memoryBaseline {
		t.Fatalf("a declared 10 MiB: limit %d", v)
	}
	leaveB := m.enter(b, 0)
	if v := currentMemoryLimit(); v != math.MaxInt64 {
		t.Fatalf("b runs without a budget: limit %d, want none", v)
	}
	m.setBudget(b, 5<<20)
	if v := currentMemoryLimit(); v != 15<<20+memoryBaseline {
		t.Fatalf("a and b declared: limit %d", v)
	}
	leaveA()
	if v := currentMemoryLimit(); v != 5<<20+memoryBaseline {
		t.Fatalf("a left: limit %d", v)
	}
	leaveB()
	if v := currentMemoryLimit(); v != math.MaxInt64 {
		t.Fatalf("all left: limit %d, want none", v)
	}
	m.setBudget(a, 1<<20) // a stage no longer running: ignored
	if v := currentMemoryLimit(); v != math.MaxInt64 {
		t.Fatalf("budget of a finished stage applied: %d", v)
	}
}

func TestMemoryUserSettingsWin(t *testing.T) {
	t.Setenv("GOGC", "100")
	t.Setenv("GOMEMLIMIT", "1GiB")
	m := newMemorySettings()
	a := &Env{}
	leave := m.enter(a, 10)
	defer leave()
	m.setBudget(a, 1<<20)
	if v := currentGCPercent(); v != 100 {
		t.Fatalf("GOGC set by the user, stage changed the target to %d", v)
	}
	if v := currentMemoryLimit(); v != math.MaxInt64 {
		t.Fatalf("GOMEMLIMIT set by the user (the env var only, in this test), stage set the limit to %d", v)
	}
}
