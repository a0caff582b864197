//go:build amd64

package train

import "math"

// adamConsts are the constants of adamSSE, each float32 one repeated in
// the 4 lanes of an SSE register.
type adamConsts struct {
	b1, ob1, b2, ob2, step, sc2, eps, a, b [4]float32
	clip                                   float64
	scaled, ema                            int64
}

func splat(x float32) [4]float32 { return [4]float32{x, x, x, x} }

// fusedRange32 is fusedRange for float32, the first len(w)&^3 elements
// in SSE.
func fusedRange32(w, g, m, v, mw []float32, clip, lr, c1, c2, mu float64) {
	n := len(w) &^ 3
	if n > 0 {
		g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
		b1, b2 := float32(adamBeta1), float32(adamBeta2)
		c := adamConsts{
			b1: splat(b1), ob1: splat(1 - b1), b2: splat(b2), ob2: splat(1 - b2),
			step: splat(float32(lr / c1)), sc2: splat(float32(1 / math.Sqrt(c2))), eps: splat(float32(adamEps)),
			a: splat(float32(mu)), b: splat(float32(1 - mu)), clip: clip,
		}
		if clip != 1 {
			c.scaled = 1
		}
		var pmw *float32
		if mw != nil {
			mw = mw[:len(w)]
			pmw, c.ema = &mw[0], 1
		}
		adamSSE(&w[0], &g[0], &m[0], &v[0], pmw, n, &c)
	}
	if n < len(w) {
		fusedRange(w[n:], g[n:], m[n:], v[n:], sub(mw, n, len(w)), clip, lr, c1, c2, mu)
	}
}
