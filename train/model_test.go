package train

import (
	"testing"
)

func TestOverfit(t *testing.T) {
	cfg := tinyConfig()
	cfg.ImageDim, cfg.VocabSize, cfg.MaxLen = 32, 200, 8
	cfg.Dim, cfg.WordDim = 32, 16
	cfg.Queue, cfg.Beta, cfg.Clustering, cfg.Concept = 0, 0, false, false
	cfg.Momentum = 0.5
	const n = 64
	s := makeSynth(cfg, n, 11)
	m, err := NewModel(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var r1 float64
	for step := range 300 {
		l, err := m.Step(s.batch(cfg, 0, n), 1e-2)
		if err != nil {
			t.Fatal(err)
		}
		if step%25 == 0 {
			r1 = recallAt1(t, m, s)
			t.Logf("step %d loss %.4f R@1 %.1f", step, l.Total, r1)
			if r1 == 100 {
				return
			}
		}
	}
	t.Fatalf("R@1 %.1f%% after 300 steps, want 100%%", r1)
}
