package train

import (
	"math"
	"math/rand"
	"testing"
)

// TestExpScaled32MatchesGo checks that expScaled32 (SSE on amd64) gives bit
// for bit the results of the scalar expScaledGo, on random arguments, the
// clamping and underflow boundaries, zeros, infinities and NaN, for slices
// of every length mod 4 and misaligned starts.
func TestExpScaled32MatchesGo(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	special := []float32{0, float32(math.Copysign(0, -1)), -87, -87.00001, -86.99999, 88, 88.0001, 87.9999,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-30, -1e-30, 0.5, -0.5}
	for _, s := range []float32{1, -1, -2, 1 / 0.07, 0.37} {
		for _, n := range []int{1, 3, 4, 7, 64, 67, 1003} {
			x := make([]float32, n+1)
			for i := range x {
				switch {
				case i < len(special) && n > 64:
					x[i] = special[i] / s
				case i%3 == 0:
					x[i] = float32(rng.NormFloat64() * 30)
				default:
					x[i] = float32(rng.Float64()*200 - 100)
				}
			}
			got := append([]float32(nil), x...)
			want := append([]float32(nil), x...)
			expScaled32(got[1:], s)
			expScaledGo(want[1:], s)
			for i := range got {
				g, w := got[i], want[i]
				if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
					t.Fatalf("s=%g n=%d: exp(s*%g) = %g (%#x), want %g (%#x)", s, n, x[i], g, math.Float32bits(g), w, math.Float32bits(w))
				}
			}
		}
	}
}
