package pipeline_test

import (
	"testing"
)

// TestIntExponentSpellingsFileAndSet: `n: 1e3` and `n: 1000.0` are the int
// 1000 in a workflow file (YAML reads a float, which is whole), so
// --set a.n=1e3 must be 1000 too, not "want an integer"; 1.5 is an error
// in both.
func TestIntExponentSpellingsFileAndSet(t *testing.T) {
	for v, want := range map[string]int64{"1e3": 1000, "1000.0": 1000, "-2e2": -200, "1.5": -1} {
		get := func(h *harness, sets ...string) (int64, error) {
			w, err := pipelineLoad(h, sets...)
			if err != nil {
				return -1, err
			}
			n, _ := w.Stage("a")
			return int64(n.Params.Int("n")), nil
		}
		file, ferr := get(newHarness(t, "name: toy\nstages:\n  a:\n    uses: toy.source\n    with: {n: "+v+"}\n"))
		set, serr := get(newHarness(t, "name: toy\nstages:\n  a:\n    uses: toy.source\n"), "a.n="+v)
		if want == -1 {
			if ferr == nil || serr == nil {
				t.Errorf("n: %s: file %d (%v), --set %d (%v); want errors", v, file, ferr, set, serr)
			}
			continue
		}
		if ferr != nil || serr != nil || file != want || set != want {
			t.Errorf("n: %s: file %d (%v), --set %d (%v); want %d in both", v, file, ferr, set, serr, want)
		}
	}
}
