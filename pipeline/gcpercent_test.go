package pipeline

import (
	"runtime/debug"
	"testing"
)

func currentGCPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestGCTargetLowestWinsAndRestores(t *testing.T) {
	if v := currentGCPercent(); v != 100 {
		t.Skipf("process runs with GC percent %d, not the default", v)
	}
	var g gcTarget
	leaveA := g.enter(50)
	if v := currentGCPercent(); v != 50 {
		t.Fatalf("after enter(50): %d", v)
	}
	leaveNone := g.enter(0)
	leaveB := g.enter(25)
	if v := currentGCPercent(); v != 25 {
		t.Fatalf("after enter(25): %d", v)
	}
	leaveA()
	if v := currentGCPercent(); v != 25 {
		t.Fatalf("after 50 left: %d", v)
	}
	leaveB()
	leaveNone()
	if v := currentGCPercent(); v != 100 {
		t.Fatalf("after all left: %d, want the initial 100", v)
	}
}

func TestGCTargetUserGOGCWins(t *testing.T) {
	t.Setenv("GOGC", "100")
	var g gcTarget
	leave := g.enter(10)
	defer leave()
	if v := currentGCPercent(); v != 100 {
		t.Fatalf("GOGC set by the user, stage changed the target to %d", v)
	}
}
