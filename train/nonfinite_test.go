package train

import (
	"math"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// TestUpdateRefusesNonFiniteGradient pins that a step whose gradients have
// a NaN or infinite global norm (a NaN or infinite element) is refused with
// an error and leaves the model as it was: weights, momentum weights, Adam
// moments and step count. Without the check the clip factor ClipNorm/norm
// is NaN (NaN norm) or 0 (infinite norm, and Inf*0 is NaN), and without
// clipping Adam's m/sqrt(v) is Inf/Inf: every weight of the step turns NaN
// silently, the epoch's checkpoint holds them and only the next step's loss
// reports it.
func TestUpdateRefusesNonFiniteGradient(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  float32
		clip float64
	}{
		{"NaN clipped", float32(math.NaN()), 1},
		{"NaN unclipped", float32(math.NaN()), 0},
		{"+Inf clipped", float32(math.Inf(1)), 1},
		{"-Inf unclipped", float32(math.Inf(-1)), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.ClipNorm = tc.clip
			m, err := NewModel(cfg, adjFor(cfg))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			snap := func() map[string][]float32 {
				out := map[string][]float32{}
				for _, n := range m.names {
					for k, src := range map[string]map[string]*tensor.Dense{"w": m.w, "mw": m.mw, "am": m.am, "av": m.av} {
						if d, ok := src[n]; ok {
							out[k+"/"+n] = slices.Clone(d.Data().([]float32))
						}
					}
				}
				return out
			}
			before, t0 := snap(), m.adamT
			grads := make([]tensor.Tensor, len(m.names))
			for i, n := range m.names {
				g := make([]float32, m.w[n].Shape().TotalSize())
				for j := range g {
					g[j] = 0.01
				}
				if i == 1 {
					g[0] = tc.bad
				}
				grads[i] = tensor.New(tensor.WithShape(m.w[n].Shape()...), tensor.WithBacking(g))
			}
			err = m.update(grads, 1e-3)
			if err == nil || !strings.Contains(err.Error(), "gradient norm") {
				t.Fatalf("update with a %g gradient: err %v, want a gradient norm error", tc.bad, err)
			}
			if m.adamT != t0 {
				t.Errorf("Adam step count %d after the refused update, want %d", m.adamT, t0)
			}
			after := snap()
			for k, v := range before {
				if !slices.Equal(v, after[k]) {
					t.Errorf("%s changed by the refused update", k)
				}
			}
		})
	}
}
