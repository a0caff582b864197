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

// clipGlobalNorm scales all gradients by maxNorm/||g|| when the global L2
// norm ||g|| over every element of every gradient exceeds maxNorm
// (torch.nn.utils.clip_grad_norm_). maxNorm 0 disables clipping. It returns
// the norm before clipping.
func clipGlobalNorm(grads []tensor.Tensor, maxNorm float64) float64 {
	var ss float64
	for _, g := range grads {
		switch d := g.Data().(type) {
		case []float32:
			ss += sumSq(d)
		case []float64:
			ss += sumSq(d)
		}
	}
	n := math.Sqrt(ss)
	if maxNorm <= 0 || n <= maxNorm {
		return n
	}
	s := maxNorm / n
	for _, g := range grads {
		switch d := g.Data().(type) {
		case []float32:
			scaleBy(d, s)
		case []float64:
			scaleBy(d, s)
		}
	}
	return n
}

func sumSq[T float](x []T) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}

func scaleBy[T float](x []T, s float64) {
	for i := range x {
		x[i] = T(float64(x[i]) * s)
	}
}

// adam and ema split each tensor into GOMAXPROCS element ranges; the
// updates are elementwise, so the result does not depend on the split.

// adam applies one bias-corrected Adam update with learning rate lr at
// step t (1-based) to w, with moments mom and vel.
func adam(w *tensor.Dense, g tensor.Tensor, mom, vel *tensor.Dense, lr float64, t int64) {
	c1 := 1 - math.Pow(adamBeta1, float64(t))
	c2 := 1 - math.Pow(adamBeta2, float64(t))
	switch wd := w.Data().(type) {
	case []float32:
		gd, md, vd := g.Data().([]float32), mom.Data().([]float32), vel.Data().([]float32)
		parallelRange(len(wd), 1<<15, func(lo, hi int) { adamUpdate(wd[lo:hi], gd[lo:hi], md[lo:hi], vd[lo:hi], lr, c1, c2) })
	case []float64:
		gd, md, vd := g.Data().([]float64), mom.Data().([]float64), vel.Data().([]float64)
		parallelRange(len(wd), 1<<15, func(lo, hi int) { adamUpdate(wd[lo:hi], gd[lo:hi], md[lo:hi], vd[lo:hi], lr, c1, c2) })
	}
}

func adamUpdate[T float](w, g, m, v []T, lr, c1, c2 float64) {
	b1, b2 := T(adamBeta1), T(adamBeta2)
	step := T(lr / c1)
	sc2 := T(1 / math.Sqrt(c2))
	for i := range w {
		gi := g[i]
		m[i] = b1*m[i] + (1-b1)*gi
		v[i] = b2*v[i] + (1-b2)*gi*gi
		w[i] -= step * m[i] / (T(math.Sqrt(float64(v[i])))*sc2 + T(adamEps))
	}
}

// ema sets mw <- mu*mw + (1-mu)*w.
func ema(mw, w *tensor.Dense, mu float64) {
	switch d := mw.Data().(type) {
	case []float32:
		wd := w.Data().([]float32)
		parallelRange(len(d), 1<<15, func(lo, hi int) { emaUpdate(d[lo:hi], wd[lo:hi], mu) })
	case []float64:
		wd := w.Data().([]float64)
		parallelRange(len(d), 1<<15, func(lo, hi int) { emaUpdate(d[lo:hi], wd[lo:hi], mu) })
	}
}

func emaUpdate[T float](mw, w []T, mu float64) {
	a, b := T(mu), T(1-mu)
	for i := range mw {
		mw[i] = a*mw[i] + b*w[i]
	}
}
