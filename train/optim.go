package train

import (
	"math"

	"gorgonia.org/tensor"
)

// Adam hyper-parameters (Kingma & Ba defaults, as torch.optim.Adam).
const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

type float interface{ ~float32 | ~float64 }

// clipScale returns the global L2 norm of the gradients and the factor
// that clips it to maxNorm (torch.nn.utils.clip_grad_norm_): maxNorm/norm
// when norm exceeds maxNorm, else 1 (maxNorm 0 disables clipping). The sum of
// squares is taken over fixed 64k-element chunks on GOMAXPROCS goroutines
// and the chunk sums are added in order, so the result does not depend on
// the number of threads.
func clipScale(grads []tensor.Tensor, maxNorm float64) (norm, scale float64) {
	const chunk = 1 << 16
	type part struct {
		g      tensor.Tensor
		lo, hi int
	}
	var parts []part
	for _, g := range grads {
		n := g.Shape().TotalSize()
		for lo := 0; lo < n; lo += chunk {
			parts = append(parts, part{g, lo, min(lo+chunk, n)})
		}
	}
	sums := make([]float64, len(parts))
	parallelRange(len(parts), 2, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			p := parts[k]
			switch d := p.g.Data().(type) {
			case []float32:
				sums[k] = sumSq(d[p.lo:p.hi])
			case []float64:
				sums[k] = sumSq(d[p.lo:p.hi])
			}
		}
	})
	var ss float64
	for _, s := range sums {
		ss += s
	}
	norm = math.Sqrt(ss)
	if maxNorm <= 0 || norm <= maxNorm {
		return norm, 1
	}
	return norm, maxNorm / norm
}

// sumSq is the sum of squares of x in float64, over four interleaved
// partial sums (independent add chains: the single-chain loop was bound by
// the add latency), combined in a fixed order.
//
// Here and in fusedRange every product that is added to something is
// converted, float64(x*y) or T(x*y): the conversion rounds the product, so
// the compiler cannot fuse it with the addition into an FMA (which the Go
// spec allows and GOAMD64=v3 does). The SSE kernels (sumSq32's C, adamSSE)
// never fuse; the conversions keep this code their bit-for-bit twin at every
// GOAMD64 level and change nothing where no FMA is used.
func sumSq[T float](x []T) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		y := x[i : i+4 : i+4]
		s0 += float64(float64(y[0]) * float64(y[0]))
		s1 += float64(float64(y[1]) * float64(y[1]))
		s2 += float64(float64(y[2]) * float64(y[2]))
		s3 += float64(float64(y[3]) * float64(y[3]))
	}
	for ; i < len(x); i++ {
		s0 += float64(float64(x[i]) * float64(x[i]))
	}
	return (s0 + s1) + (s2 + s3)
}

// fusedUpdate is, in one pass over the elements, the global-norm clipping
// scale (gradient times clip, skipped when clip is 1), the Adam update of w
// (as adam) and, when mw is not nil, the EMA mw <- mu*mw + (1-mu)*w of the
// updated weights (as ema). It gives bit for bit the results of the three
// separate passes and reads each array once.
func fusedUpdate(w *tensor.Dense, g tensor.Tensor, mom, vel, mw *tensor.Dense, clip, lr float64, t int64, mu float64) {
	c1 := 1 - math.Pow(adamBeta1, float64(t))
	c2 := 1 - math.Pow(adamBeta2, float64(t))
	switch w.Data().(type) {
	case []float32:
		updateRanges(w, g, mom, vel, mw, func(w, g, m, v, e []float32) { fusedRange32(w, g, m, v, e, clip, lr, c1, c2, mu) })
	case []float64:
		updateRanges(w, g, mom, vel, mw, func(w, g, m, v, e []float64) { fusedRange(w, g, m, v, e, clip, lr, c1, c2, mu) })
	}
}

// updateRanges runs kernel over matching element ranges of the weights,
// gradient, moments and (possibly nil) EMA weights on GOMAXPROCS goroutines.
func updateRanges[F float32 | float64](w *tensor.Dense, g tensor.Tensor, mom, vel, mw *tensor.Dense, kernel func(w, g, m, v, e []F)) {
	wd, gd, md, vd := w.Data().([]F), g.Data().([]F), mom.Data().([]F), vel.Data().([]F)
	var ed []F
	if mw != nil {
		ed = mw.Data().([]F)
	}
	parallelRange(len(wd), 1<<15, func(lo, hi int) {
		kernel(wd[lo:hi], gd[lo:hi], md[lo:hi], vd[lo:hi], sub(ed, lo, hi))
	})
}

// sub is x[lo:hi], nil for nil x.
func sub[T any](x []T, lo, hi int) []T {
	if x == nil {
		return nil
	}
	return x[lo:hi]
}

// fusedRange is fusedUpdate on one element range: the loop without the EMA
// and the loop with it are separate and the slices are resliced to len(w),
// so the loop body has no bounds checks and no per-element EMA branch. The
// arithmetic (and so every bit of the result) is that of the three
// separate passes.
func fusedRange[T float](w, g, m, v, mw []T, clip, lr, c1, c2, mu float64) {
	b1, b2 := T(adamBeta1), T(adamBeta2)
	ob1, ob2 := 1-b1, 1-b2
	step := T(lr / c1)
	sc2 := T(1 / math.Sqrt(c2))
	eps := T(adamEps)
	scaled := clip != 1
	n := len(w)
	g, m, v = g[:n], m[:n], v[:n]
	if mw == nil {
		for i := range w {
			gi := g[i]
			if scaled {
				gi = T(float64(gi) * clip)
			}
			mi := T(b1*m[i]) + T(ob1*gi)
			vi := T(b2*v[i]) + T(ob2*gi*gi)
			m[i], v[i] = mi, vi
			w[i] -= step * mi / (T(T(math.Sqrt(float64(vi)))*sc2) + eps)
		}
		return
	}
	a, b := T(mu), T(1-mu)
	mw = mw[:n]
	for i := range w {
		gi := g[i]
		if scaled {
			gi = T(float64(gi) * clip)
		}
		mi := T(b1*m[i]) + T(ob1*gi)
		vi := T(b2*v[i]) + T(ob2*gi*gi)
		m[i], v[i] = mi, vi
		wi := w[i] - step*mi/(T(T(math.Sqrt(float64(vi)))*sc2)+eps)
		w[i] = wi
		mw[i] = T(a*mw[i]) + T(b*wi)
	}
}
