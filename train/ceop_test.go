package train

import (
	"math"
	"math/rand"
	"testing"
)

// ceRowsRef is the soft-target cross-entropy per row computed directly:
// l_i = -sum_j q_ij log softmax_j(s z_i), and its gradient with respect to
// z for the upstream gradient g_i, by finite differences of l_i.
func ceRowsRef(z, q []float64, B, P int, s float64) []float64 {
	out := make([]float64, B)
	for i := range B {
		var se float64
		for j := range P {
			se += math.Exp(s * z[i*P+j])
		}
		for j := range P {
			out[i] -= q[i*P+j] * (s*z[i*P+j] - math.Log(se))
		}
	}
	return out
}

// TestCERowsMatchesReference checks the fused cross-entropy rows (forward
// and backward, float32 and float64, rows split over goroutines) against
// the direct formula and finite differences of it.
func TestCERowsMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for _, tc := range []struct{ B, P int }{{3, 5}, {130, 256}} {
		B, P := tc.B, tc.P
		const s = 10.0
		z, q, g := make([]float64, B*P), make([]float64, B*P), make([]float64, B)
		for i := range z {
			z[i] = rng.NormFloat64() * 0.5
			q[i] = rng.Float64()
		}
		for i := range g {
			g[i] = rng.NormFloat64()
		}
		want := ceRowsRef(z, q, B, P, s)
		// float64
		out, p, qs, dz := make([]float64, B), make([]float64, B*P), make([]float64, B), make([]float64, B*P)
		ceRowsFwd(out, p, qs, z, q, B, P, s)
		ceRowsBwd(dz, p, q, g, qs, B, P, s)
		for i := range B {
			if math.Abs(out[i]-want[i]) > 1e-9*math.Max(1, math.Abs(want[i])) {
				t.Fatalf("B=%d float64 row %d: %g, want %g", B, i, out[i], want[i])
			}
		}
		const h = 1e-6
		for n := range 20 {
			i, j := rng.Intn(B), rng.Intn(P)
			if n == 0 {
				i, j = B-1, P-1
			}
			zz := append([]float64(nil), z...)
			zz[i*P+j] += h
			lp := ceRowsRef(zz, q, B, P, s)[i]
			zz[i*P+j] -= 2 * h
			lm := ceRowsRef(zz, q, B, P, s)[i]
			num := g[i] * (lp - lm) / (2 * h)
			if math.Abs(num-dz[i*P+j]) > 1e-5*math.Max(1, math.Abs(num)) {
				t.Fatalf("B=%d grad (%d,%d): %g, want %g", B, i, j, dz[i*P+j], num)
			}
		}
		// float32 against the float64 results
		z32, q32, g32 := make([]float32, B*P), make([]float32, B*P), make([]float32, B)
		for i := range z {
			z32[i], q32[i] = float32(z[i]), float32(q[i])
		}
		for i := range g {
			g32[i] = float32(g[i])
		}
		out32, p32, dz32 := make([]float32, B), make([]float32, B*P), make([]float32, B*P)
		ceRowsFwd(out32, p32, qs, z32, q32, B, P, s)
		ceRowsBwd(dz32, p32, q32, g32, qs, B, P, s)
		for i := range B {
			if math.Abs(float64(out32[i])-want[i]) > 1e-4*math.Max(1, math.Abs(want[i])) {
				t.Fatalf("B=%d float32 row %d: %g, want %g", B, i, out32[i], want[i])
			}
		}
		for k := range dz {
			if math.Abs(float64(dz32[k])-dz[k]) > 1e-5*math.Max(1, math.Abs(dz[k])) {
				t.Fatalf("B=%d float32 grad %d: %g, want %g", B, k, dz32[k], dz[k])
			}
		}
	}
}

// TestMixOpMatchesBroadcast checks the fused concept-label mixing forward
// (y + keep_i a) and backward (keep_i g) against the broadcast formula.
func TestMixOpMatchesBroadcast(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	const B, M = 7, 5
	a, y, g, keep := make([]float32, B*M), make([]float32, B*M), make([]float32, B*M), make([]float32, B)
	for i := range a {
		a[i], y[i], g[i] = float32(rng.NormFloat64()), float32(rng.Float64()), float32(rng.NormFloat64())
	}
	for i := range keep {
		keep[i] = float32(rng.Float64())
	}
	out, da := make([]float32, B*M), make([]float32, B*M)
	mixRowsFwd(out, a, y, keep, M)
	mixRowsBwd(da, g, keep, M)
	for i := range B {
		for k := range M {
			j := i*M + k
			if want := y[j] + a[j]*keep[i]; out[j] != want {
				t.Fatalf("forward (%d,%d) = %g, want %g", i, k, out[j], want)
			}
			if want := g[j] * keep[i]; da[j] != want {
				t.Fatalf("backward (%d,%d) = %g, want %g", i, k, da[j], want)
			}
		}
	}
}
