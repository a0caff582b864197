package pipeline_test

import (
	"math"
	"testing"
)

// TestIntSpellingsFileAndSet: an int param means the same number written
// in the file and given with --set (YAML's spellings: 010 is octal 8; a
// whole number in float spelling, 1e3 or 1000.0, is the int), and a float
// beyond the int64 range or with a fraction is an error in both, not
// MinInt64 or a rounded value.
func TestIntSpellingsFileAndSet(t *testing.T) {
	const bad = math.MinInt64 // want an error
	for v, want := range map[string]int64{"010": 8, "0x10": 16, "1_000": 1000, "12": 12, "1e20": bad, "9.3e18": bad, "-1e19": bad,
		"1e3": 1000, "1000.0": 1000, "-2e2": -200, "1.5": bad} {
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
		if want == bad {
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
