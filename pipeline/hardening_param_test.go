package pipeline_test

import (
	"testing"
)

func TestIntSpellingsFileAndSet(t *testing.T) {
	for _, v := range []string{"010", "0x10", "1_000", "1e20", "9.3e18", "-1e19"} {
		h := newHarness(t, "name: toy\nstages:\n  a:\n    uses: toy.source\n    with: {n: "+v+"}\n")
		w, err := pipelineLoad(h)
		if err != nil {
			t.Logf("file  n: %-6s -> error %v", v, err)
		} else {
			n, _ := w.Stage("a")
			t.Logf("file  n: %-6s -> %d", v, n.Params.Int("n"))
		}
		h2 := newHarness(t, "name: toy\nstages:\n  a:\n    uses: toy.source\n")
		w2, err := pipelineLoad(h2, "a.n="+v)
		if err != nil {
			t.Logf("--set a.n=%-6s -> error %v", v, err)
		} else {
			n, _ := w2.Stage("a")
			t.Logf("--set a.n=%-6s -> %d", v, n.Params.Int("n"))
		}
	}
}
