package train

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// TestL2ZeroRow: the L2 normalisation of a row of zeros (an all-zero
// feature row through a zero-initialised layer) gives zeros and a finite
// gradient, not 0/0 = NaN; other rows are normalised as before, to the bit.
func TestL2ZeroRow(t *testing.T) {
	const D = 5
	x32 := []float32{0, 0, 0, 0, 0, 3, 4, 0, 0, 0}
	out32 := make([]float32, len(x32))
	l2Fwd(out32, x32, 2, D)
	want := []float32{0, 0, 0, 0, 0, 0.6, 0.8, 0, 0, 0}
	for i := range want {
		if out32[i] != want[i] {
			t.Errorf("float32 forward[%d] = %v, want %v", i, out32[i], want[i])
		}
	}
	g32 := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	dx32 := make([]float32, len(x32))
	l2Bwd(dx32, x32, out32, g32, 2, D)
	x64 := []float64{0, 0, 0, 0, 0, 3, 4, 0, 0, 0}
	out64 := make([]float64, len(x64))
	l2Fwd(out64, x64, 2, D)
	dx64 := make([]float64, len(x64))
	l2Bwd(dx64, x64, out64, []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 2, D)
	for i := range x64 {
		for _, v := range []float64{float64(dx32[i]), out64[i], dx64[i]} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("element %d: %v (float32 grad %v, float64 out %v, grad %v)", i, v, dx32, out64, dx64)
			}
		}
	}
	if math.Abs(out64[5]-0.6) > 1e-15 || math.Abs(out64[6]-0.8) > 1e-15 {
		t.Errorf("float64 forward of (3, 4) = (%v, %v)", out64[5], out64[6])
	}
}

// TestZeroPrototypeRow: a prototype row of zeros is C_bar row 0 = 0 in the
// training graph (l2Op, as torch's F.normalize); the Sinkhorn codes of the
// step must be computed with the same unit prototypes (score 0 for that
// prototype), not with 0/0 = NaN rows that make every code and the loss
// NaN. The swapped-prediction term is checked against the definition with
// C_bar row 0 = 0.
func TestZeroPrototypeRow(t *testing.T) {
	cfg := tinyConfig()
	cfg.Concept = false
	m, err := newModel(cfg, nil, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	D, P := cfg.Dim, cfg.Prototypes
	pw := m.w["proto"].Data().([]float64)
	clear(pw[:D]) // prototype 0 is the zero row
	const B = 6
	s := makeSynth(cfg, B, 5)
	b := s.batch(cfg, 0, B)
	v, _, tt, _ := encodeBatch(t, m, b)
	mc := momentumClone(t, m)
	defer mc.Close()
	kv, _, kt, _ := encodeBatch(t, mc, b)
	protos := methodVecs(denseF32(m.w["proto"]), D)
	for p := 1; p < P; p++ { // row 0 stays 0
		protos[p] = refL2(protos[p])
	}
	qv := methodSinkhorn(methodScores(methodVecs(kv, D), protos), cfg.SinkhornEps, cfg.SinkhornIters)
	qt := methodSinkhorn(methodScores(methodVecs(kt, D), protos), cfg.SinkhornEps, cfg.SinkhornIters)
	want := methodCE(qt, methodVecs(v, D), protos, cfg.TauP) + methodCE(qv, methodVecs(tt, D), protos, cfg.TauP)
	got, err := m.Step(b, 1e-3)
	if err != nil {
		t.Fatalf("step with a zero prototype row: %v", err)
	}
	if math.Abs(got.Swap-want) > 1e-5*math.Max(1, math.Abs(want)) {
		t.Errorf("Swap = %v, definition %v", got.Swap, want)
	}
}
