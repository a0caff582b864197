package train

import (
	"math"
	"testing"
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
