package train

import (
	"math"
	"math/rand"
	"testing"
)

// refUpdate is clipping, Adam and EMA as three separate passes (the
// definition fusedRange must reproduce bit for bit).
func refUpdate(w, g, m, v, mw []float32, clip, lr, c1, c2, mu float64) {
	for i := range g {
		if clip != 1 {
			g[i] = float32(float64(g[i]) * clip)
		}
	}
	b1, b2 := float32(adamBeta1), float32(adamBeta2)
	step := float32(lr / c1)
	sc2 := float32(1 / math.Sqrt(c2))
	for i := range w {
		m[i] = b1*m[i] + (1-b1)*g[i]
		v[i] = b2*v[i] + (1-b2)*g[i]*g[i]
		w[i] -= step * m[i] / (float32(math.Sqrt(float64(v[i])))*sc2 + float32(adamEps))
	}
	if mw != nil {
		a, b := float32(mu), float32(1-mu)
		for i := range w {
			mw[i] = a*mw[i] + b*w[i]
		}
	}
}

func TestFusedRangeMatchesSeparatePasses(t *testing.T) {
	arrays := func(n int) [5][]float32 {
		var r [5][]float32
		rng := rand.New(rand.NewSource(1))
		for k := range r {
			r[k] = make([]float32, n)
			for i := range r[k] {
				r[k][i] = float32(rng.NormFloat64())
				if k == 3 {
					r[k][i] *= r[k][i] // second moments are >= 0
				}
			}
		}
		return r
	}
	for _, tc := range []struct {
		name string
		clip float64
		ema  bool
	}{{"no clip, EMA", 1, true}, {"clip, EMA", 0.37, true}, {"no clip, no EMA", 1, false}, {"clip, no EMA", 0.37, false}} {
		t.Run(tc.name, func(t *testing.T) {
			got, got32, want := arrays(1002), arrays(1002), arrays(1002)
			mwGot, mwGot32, mwWant := got[4], got32[4], want[4]
			if !tc.ema {
				mwGot, mwGot32, mwWant = nil, nil, nil
			}
			for step := int64(1); step <= 3; step++ {
				c1, c2 := 1-math.Pow(adamBeta1, float64(step)), 1-math.Pow(adamBeta2, float64(step))
				gGot := append([]float32(nil), got[1]...)
				gGot32 := append([]float32(nil), got32[1]...)
				fusedRange(got[0], gGot, got[2], got[3], mwGot, tc.clip, 1e-3, c1, c2, 0.99)
				// the float32 path (SSE on amd64) on a misaligned sub-range
				fusedRange32(got32[0][1:], gGot32[1:], got32[2][1:], got32[3][1:], sub(mwGot32, 1, len(got32[0])), tc.clip, 1e-3, c1, c2, 0.99)
				fusedRange32(got32[0][:1], gGot32[:1], got32[2][:1], got32[3][:1], sub(mwGot32, 0, 1), tc.clip, 1e-3, c1, c2, 0.99)
				gWant := append([]float32(nil), want[1]...)
				refUpdate(want[0], gWant, want[2], want[3], mwWant, tc.clip, 1e-3, c1, c2, 0.99)
			}
			for k, name := range []string{"w", "g", "m", "v", "mw"} {
				for i := range got[k] {
					if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
						t.Fatalf("fusedRange: %s[%d] = %g, want %g", name, i, got[k][i], want[k][i])
					}
					if math.Float32bits(got32[k][i]) != math.Float32bits(want[k][i]) {
						t.Fatalf("fusedRange32: %s[%d] = %g, want %g", name, i, got32[k][i], want[k][i])
					}
				}
			}
		})
	}
}

func TestSumSq(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 5, 17, 1000} {
		x := make([]float32, n)
		var want float64
		for i := range x {
			x[i] = float32(i%7) - 2.5
			want += float64(x[i]) * float64(x[i])
		}
		if got := sumSq(x); math.Abs(got-want) > 1e-12*math.Max(1, want) {
			t.Errorf("n=%d: sumSq = %g, want %g", n, got, want)
		}
	}
}
