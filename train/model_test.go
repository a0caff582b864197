package train

import (
	"testing"
)

// TestOverfit trains on 64 synthetic pairs (features and tokens derived from
// a shared latent) and requires train R@1 = 100 % within 300 steps, for the
// plain dual encoder and for the full CODER configuration.
func TestOverfit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
	}{
		{"infonce", func(c *Config) { c.Queue, c.Beta, c.Clustering, c.Concept = 0, 0, false, false }},
		{"coder", func(c *Config) { c.Queue, c.Prototypes = 128, 8 }},
		{"coder-bigru-attn", func(c *Config) { c.Queue, c.Prototypes, c.TextEncoder, c.Pooling = 128, 8, TextBiGRU, PoolAttn }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.ImageDim, cfg.VocabSize, cfg.MaxLen = 32, 200, 8
			cfg.Dim, cfg.WordDim = 32, 16
			cfg.Momentum = 0.9
			tc.mutate(&cfg)
			const n = 64
			s := makeSynth(cfg, n, 11)
			m, err := NewModel(cfg, adjFor(cfg))
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
					t.Logf("step %d losses %+v R@1 %.1f", step, l, r1)
					if r1 == 100 {
						return
					}
				}
			}
			t.Fatalf("R@1 %.1f%% after 300 steps, want 100%%", r1)
		})
	}
}
