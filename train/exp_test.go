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

// TestLeaky32MatchesGeneric checks the branch-free float32 LeakyReLU
// forward and backward against the generic code (bit for bit, zeros of
// both signs and infinities included).
func TestLeaky32MatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	x := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-45}
	for range 1000 {
		x = append(x, float32(rng.NormFloat64()))
	}
	g := make([]float32, len(x))
	for i := range g {
		g[i] = float32(rng.NormFloat64())
	}
	g[0], g[1] = float32(math.Copysign(0, -1)), 0
	got, want := make([]float32, len(x)), make([]float32, len(x))
	leakyFwd32(got, x, 0.2)
	leakyFwd(want, x, 0.2)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("forward at %g: %g, want %g", x[i], got[i], want[i])
		}
	}
	leakyBwd32(got, x, g, 0.2)
	leakyBwd(want, x, g, 0.2)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("backward at %g (g %g): %g, want %g", x[i], g[i], got[i], want[i])
		}
	}
}
