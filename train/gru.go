package train

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The bi-GRU text encoder as one fused op per direction (gruSeqOp): the
// gorgonia graph of an unrolled GRU runs, per time step and direction, 6
// matrix products, 3 bias broadcasts and about 12 elementwise ops that each
// allocate a fresh (B, D) result, and its backward pass allocates a zero
// tensor of the full embedding matrix per time step (ByIndices). The fused
// op projects the inputs of all time steps with one product per gate, runs
// the recurrence with one product per gate and step and the gate
// nonlinearities in one pass over the (B, D) state, and backpropagates
// through time by hand (gruBwdOp), with the weight gradients of all time
// steps in one product per gate.

// GRU input order of gruSeqOp.
const (
	gruX = iota // (T*B, Wd) embedded tokens, time-major
	gruMask
	gruWz
	gruWr
	gruWn
	gruBz
	gruBr
	gruBn
	gruUz
	gruUr
	gruUn
	gruInputs
)

// gruSeqOp runs one direction of a GRU (hidden D) over T time steps of B
// sequences and returns the (B, D) sum of the states: over m_t h_t for the
// forward direction, over h_t for the backward one (which starts from the
// zero state on the padding, so its states there are 0). Per step, with h
// the previous state (0 at the first step):
//
//	z = sigmoid(x Wz + bz + h Uz), r = sigmoid(x Wr + br + h Ur)
//	n = tanh(x Wn + bn + r * (h Un)), h' = n + z * (h - n)
//	h <- h + m_t (h' - h)
//
// with m_t the (T*B) token mask. It keeps the gates and states of its last
// run in its cache, where its backward op (gruBwdOp) reads them.
type gruSeqOp struct {
	opBase
	T, B, D, Wd int
	reverse     bool
	c           *gruCache
}

// gruCache holds one run's intermediate values, each (T*B*D) in the
// graph's dtype: the input projections (reused as their gradients), the
// gates z, r, n, a = h Un, and the states h_t.
type gruCache struct {
	xp   [3]*tensor.Dense
	z, r *tensor.Dense
	n, a *tensor.Dense
	h    *tensor.Dense
	hu   [2]*tensor.Dense         // (B, D) h Uz, h Ur of the current step
	dh   [2]*tensor.Dense         // (B, D) state gradients (backward)
	grad [gruInputs]*tensor.Dense // written by gruBwdOp, returned by it (X) and by gruGradOps
}

func newGRUSeq(T, B, D, Wd int, reverse bool, id string) *gruSeqOp {
	return &gruSeqOp{opBase: opBase{name: fmt.Sprintf("gruSeq-%s(%d,%d,%d,%d,%v)", id, T, B, D, Wd, reverse)},
		T: T, B: B, D: D, Wd: Wd, reverse: reverse}
}

func (op *gruSeqOp) Arity() int { return gruInputs }
func (op *gruSeqOp) Type() hm.Type {
	return fnType([]int{2, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2}, 2)
}
func (op *gruSeqOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.B, op.D}, nil
}
func (op *gruSeqOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = i != gruMask
	}
	return d
}

// SymDiff returns the gradient of X from gruBwdOp (which computes all
// gradients) and the weight gradients through gruGradOps that read them
// after it.
func (op *gruSeqOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	ret := make(G.Nodes, len(in))
	dx, err := G.ApplyOp(&gruBwdOp{opBase{name: op.name + "-bwd"}, op}, out, grad,
		in[gruX], in[gruMask], in[gruWz], in[gruWr], in[gruWn], in[gruUz], in[gruUr], in[gruUn])
	if err != nil {
		return nil, err
	}
	ret[gruX] = dx
	for i := gruWz; i < gruInputs; i++ {
		if ret[i], err = G.ApplyOp(&gruGradOp{opBase{name: fmt.Sprintf("%s-grad%d", op.name, i)}, op, i, in[i].Shape().Clone()}, dx); err != nil {
			return nil, err
		}
	}
	return ret, nil
}

func (op *gruSeqOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: %s: no automatic differentiation (use symbolic)", op.name)
}

func newLike(dt tensor.Dtype, shape ...int) *tensor.Dense {
	return tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
}

func (op *gruSeqOp) cache(dt tensor.Dtype) *gruCache {
	if op.c != nil && op.c.h.Dtype() == dt {
		return op.c
	}
	TB, D := op.T*op.B, op.D
	c := &gruCache{}
	for g := range c.xp {
		c.xp[g] = newLike(dt, TB, D)
	}
	c.z, c.r, c.n, c.a, c.h = newLike(dt, TB, D), newLike(dt, TB, D), newLike(dt, TB, D), newLike(dt, TB, D), newLike(dt, TB, D)
	for k := range c.hu {
		c.hu[k] = newLike(dt, op.B, D)
		c.dh[k] = newLike(dt, op.B, D)
	}
	op.c = c
	return c
}

func (op *gruSeqOp) Do(vs ...G.Value) (G.Value, error) {
	var ts [gruInputs]*tensor.Dense
	for i, v := range vs {
		d, err := dense(v)
		if err != nil {
			return nil, err
		}
		ts[i] = d
	}
	dt := ts[gruX].Dtype()
	c := op.cache(dt)
	out := newLike(dt, op.B, op.D)
	switch o := out.Data().(type) {
	case []float32:
		gruForward(op, c, f32s(ts[:]), o)
	case []float64:
		gruForward(op, c, f64s(ts[:]), o)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, dt)
	}
	return out, nil
}

func f32s(ts []*tensor.Dense) [][]float32 {
	out := make([][]float32, len(ts))
	for i, t := range ts {
		if t != nil {
			out[i] = t.Data().([]float32)
		}
	}
	return out
}

func f64s(ts []*tensor.Dense) [][]float64 {
	out := make([][]float64, len(ts))
	for i, t := range ts {
		if t != nil {
			out[i] = t.Data().([]float64)
		}
	}
	return out
}

func data[T float](t *tensor.Dense) []T { return t.Data().([]T) }

// gemmT is C = alpha op(A) op(B) + beta C, row-major, on blas32 or blas64.
func gemmT[T float](tA, tB bool, m, n, k int, alpha float64, a []T, lda int, b []T, ldb int, beta float64, c []T, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		blas32.Implementation().Sgemm(ta, tb, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		blas64.Implementation().Dgemm(ta, tb, m, n, k, alpha, a, lda, any(b).([]float64), ldb, beta, any(c).([]float64), ldc)
	}
}

// order returns the time step processed at position k.
func (op *gruSeqOp) order(k int) int {
	if op.reverse {
		return op.T - 1 - k
	}
	return k
}

func gruForward[T float](op *gruSeqOp, c *gruCache, in [][]T, out []T) {
	T_, B, D, Wd := op.T, op.B, op.D, op.Wd
	TB := T_ * B
	x, mask := in[gruX], in[gruMask]
	xp := [3][]T{data[T](c.xp[0]), data[T](c.xp[1]), data[T](c.xp[2])}
	// input projections of all steps, one product per gate, plus bias
	for g := range 3 {
		gemmT(false, false, TB, D, Wd, 1, x, Wd, in[gruWz+g], D, 0, xp[g], D)
		bias := in[gruBz+g]
		parallelRows(TB, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				row := xp[g][i*D : (i+1)*D]
				for k := range row {
					row[k] += bias[k]
				}
			}
		})
	}
	z, r, n, a, h := data[T](c.z), data[T](c.r), data[T](c.n), data[T](c.a), data[T](c.h)
	hz, hr := data[T](c.hu[0]), data[T](c.hu[1])
	clear(out)
	var prev []T // previous state (nil: zero)
	for k := range T_ {
		t := op.order(k)
		rows := func(s []T) []T { return s[t*B*D : (t+1)*B*D] }
		at := rows(a)
		if prev != nil {
			gemmT(false, false, B, D, D, 1, prev, D, in[gruUz], D, 0, hz, D)
			gemmT(false, false, B, D, D, 1, prev, D, in[gruUr], D, 0, hr, D)
			gemmT(false, false, B, D, D, 1, prev, D, in[gruUn], D, 0, at, D)
		} else {
			clear(at)
		}
		xz, xr, xn := rows(xp[0]), rows(xp[1]), rows(xp[2])
		zt, rt, nt, ht := rows(z), rows(r), rows(n), rows(h)
		hp := prev
		parallelRows(B, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				lo, hi := i*D, (i+1)*D
				zr, rr, nr := zt[lo:hi], rt[lo:hi], nt[lo:hi]
				copy(zr, xz[lo:hi])
				copy(rr, xr[lo:hi])
				if hp != nil {
					for j, v := range hz[lo:hi] {
						zr[j] += v
					}
					for j, v := range hr[lo:hi] {
						rr[j] += v
					}
				}
				sigmoidRows(zr)
				sigmoidRows(rr)
				for j, v := range xn[lo:hi] {
					nr[j] = v + rr[j]*at[lo+j]
				}
				tanhRows(nr)
				m := mask[t*B+i]
				hr, or := ht[lo:hi], out[lo:hi]
				for j, nn := range nr {
					var hpj T
					if hp != nil {
						hpj = hp[lo+j]
					}
					hv := hpj + m*(nn+zr[j]*(hpj-nn)-hpj)
					hr[j] = hv
					if op.reverse {
						or[j] += hv
					} else {
						or[j] += m * hv
					}
				}
			}
		})
		prev = ht
	}
}

// gruBwdOp backpropagates through the sequence of its gruSeqOp given the
// gradient of the output; it stores every weight gradient in the forward
// op's cache (read by gruGradOps) and returns the gradient of X. Inputs:
// (output, gradient, X, mask, Wz, Wr, Wn, Uz, Ur, Un); the dependency on the
// output orders it after the forward op, and taking X as an input keeps
// the tape machine from reusing X's memory before it runs.
type gruBwdOp struct {
	opBase
	fwd *gruSeqOp
}

// gruBwdOp input order.
const (
	gbOut = iota
	gbGrad
	gbX
	gbMask
	gbW      // Wz, Wr, Wn
	gbU      = gbW + 3
	gbInputs = gbU + 3
)

func (op *gruBwdOp) Arity() int    { return gbInputs }
func (op *gruBwdOp) Type() hm.Type { return fnType([]int{2, 2, 2, 1, 2, 2, 2, 2, 2, 2}, 2) }
func (op *gruBwdOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.fwd.T * op.fwd.B, op.fwd.Wd}, nil
}

func (op *gruBwdOp) Do(vs ...G.Value) (G.Value, error) {
	var ts [gbInputs]*tensor.Dense
	for i, v := range vs {
		d, err := dense(v)
		if err != nil {
			return nil, err
		}
		ts[i] = d
	}
	f := op.fwd
	c := f.c
	if c == nil {
		return nil, fmt.Errorf("train: %s: the forward op has not run", op.name)
	}
	dt := ts[gbGrad].Dtype()
	if c.grad[gruX] == nil {
		c.grad[gruX] = newLike(dt, f.T*f.B, f.Wd)
		for g := range 3 {
			c.grad[gruWz+g] = newLike(dt, f.Wd, f.D)
			c.grad[gruBz+g] = newLike(dt, 1, f.D)
			c.grad[gruUz+g] = newLike(dt, f.D, f.D)
		}
	}
	switch dt {
	case tensor.Float32:
		gruBackward(f, c, f32s(ts[:]))
	case tensor.Float64:
		gruBackward(f, c, f64s(ts[:]))
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, dt)
	}
	return c.grad[gruX], nil
}

func gruBackward[T float](op *gruSeqOp, c *gruCache, in [][]T) {
	T_, B, D, Wd := op.T, op.B, op.D, op.Wd
	TB := T_ * B
	gout, mask, x := in[gbGrad], in[gbMask], in[gbX]
	xp := [3][]T{data[T](c.xp[0]), data[T](c.xp[1]), data[T](c.xp[2])} // become dXP
	z, r, n, a, h := data[T](c.z), data[T](c.r), data[T](c.n), data[T](c.a), data[T](c.h)
	dh, dhp := data[T](c.dh[0]), data[T](c.dh[1])
	clear(dh)
	for k := T_ - 1; k >= 0; k-- {
		t := op.order(k)
		rows := func(s []T) []T { return s[t*B*D : (t+1)*B*D] }
		var hp []T
		if k > 0 {
			hp = rows2(h, op.order(k-1), B, D)
		}
		zt, rt, nt, at := rows(z), rows(r), rows(n), rows(a)
		dz, dr, dn := rows(xp[0]), rows(xp[1]), rows(xp[2])
		parallelRows(B, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				m := float64(mask[t*B+i])
				for j := i * D; j < (i+1)*D; j++ {
					gj := float64(gout[j])
					if !op.reverse {
						gj *= m
					}
					d := float64(dh[j]) + gj
					var hpj float64
					if hp != nil {
						hpj = float64(hp[j])
					}
					zz, rr, nn, aa := float64(zt[j]), float64(rt[j]), float64(nt[j]), float64(at[j])
					dhn := m * d
					dprev := (1-m)*d + dhn*zz
					dnn := dhn * (1 - zz)
					dzz := dhn * (hpj - nn)
					dpn := dnn * (1 - nn*nn)
					dpr := dpn * aa * rr * (1 - rr)
					dpz := dzz * zz * (1 - zz)
					dz[j], dr[j], dn[j] = T(dpz), T(dpr), T(dpn)
					at[j] = T(dpn * rr) // d(h Un)
					dhp[j] = T(dprev)
				}
			}
		})
		if k > 0 {
			gemmT(false, true, B, D, D, 1, dz, D, in[gbU+0], D, 1, dhp, D)
			gemmT(false, true, B, D, D, 1, dr, D, in[gbU+1], D, 1, dhp, D)
			gemmT(false, true, B, D, D, 1, at, D, in[gbU+2], D, 1, dhp, D)
		}
		dh, dhp = dhp, dh
	}
	// weight gradients over all steps: dU = sum_t h_prev^T dHU_t over the
	// steps with a previous state, dW = X^T dXP, db = column sums of dXP.
	if T_ > 1 {
		hs, ds := 0, B*D // forward: h_{t-1} = rows t-1, steps t = 1..T-1
		if op.reverse {
			hs, ds = B*D, 0 // backward: h_{t+1} = rows t+1, steps t = 0..T-2
		}
		n := (T_ - 1) * B
		dsrc := [3][]T{xp[0], xp[1], a}
		for g := range 3 {
			gemmT(true, false, D, D, n, 1, h[hs:], D, dsrc[g][ds:], D, 0, data[T](c.grad[gruUz+g]), D)
		}
	} else {
		for g := range 3 {
			clear(data[T](c.grad[gruUz+g]))
		}
	}
	dx := data[T](c.grad[gruX])
	for g := range 3 {
		gemmT(true, false, Wd, D, TB, 1, x, Wd, xp[g], D, 0, data[T](c.grad[gruWz+g]), D)
		db := data[T](c.grad[gruBz+g])
		colSums(db, xp[g], TB, D)
		beta := 1.0
		if g == 0 {
			beta = 0
		}
		gemmT(false, true, TB, Wd, D, 1, xp[g], D, in[gbW+g], D, beta, dx, Wd)
	}
}

// colSums writes the column sums of x (n, D) into out (D), accumulated in
// float64 in row order; column blocks run on GOMAXPROCS goroutines (each
// sum is the same whatever the split).
func colSums[T float](out, x []T, n, D int) {
	parallelRange(D, 64, func(lo, hi int) {
		acc := make([]float64, hi-lo)
		for i := range n {
			for k, v := range x[i*D+lo : i*D+hi] {
				acc[k] += float64(v)
			}
		}
		for k := range acc {
			out[lo+k] = T(acc[k])
		}
	})
}

func rows2[T float](s []T, t, B, D int) []T { return s[t*B*D : (t+1)*B*D] }

// gruGradOp returns one weight gradient computed by the gruBwdOp (its input,
// which orders it after the backward op).
type gruGradOp struct {
	opBase
	fwd   *gruSeqOp
	which int
	shape tensor.Shape
}

func (op *gruGradOp) Arity() int    { return 1 }
func (op *gruGradOp) Type() hm.Type { return fnType([]int{2}, 2) }
func (op *gruGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *gruGradOp) Do(...G.Value) (G.Value, error) {
	c := op.fwd.c
	if c == nil || c.grad[op.which] == nil {
		return nil, fmt.Errorf("train: %s: the backward op has not run", op.name)
	}
	return c.grad[op.which], nil
}

// expScaledGo sets x[i] = exp(s*x[i]) in float32 arithmetic: range
// reduction by ln 2 (the integer part read from the bits of the rounded
// sum), the cephes expf polynomial evaluated in Estrin form; relative error
// below 2e-7 (about 1 ulp); exactly 0 below -87, clamped at 88. Written out in
// the loop so that it is not a call. expScaled32 is this function, on amd64
// 4 elements at a time (SSE, the same bits).
func expScaledGo(x []float32, s float32) {
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
		magic = 12582912 // 1.5 * 2^23: adding it rounds to an integer
	)
	for i, v := range x {
		v *= s
		if v < -87 {
			x[i] = 0
			continue
		}
		if v > 88 {
			v = 88
		}
		t := v*log2e + magic
		k := t - magic
		r := v - k*c1 - k*c2
		r2 := r * r
		p := (1 + r) + r2*(5.0000001201e-1+r*1.6666665459e-1) + r2*r2*((4.1665795894e-2+r*8.3334519073e-3)+r2*(1.3981999507e-3+r*1.9875691500e-4))
		x[i] = p * math.Float32frombits((math.Float32bits(t)-0x4b400000+127)<<23)
	}
}

// sigmoidRows and tanhRows apply the activation in place (float32: via
// expScaled32; float64: math.Exp and math.Tanh).
func sigmoidRows[T float](x []T) {
	switch v := any(x).(type) {
	case []float32:
		expScaled32(v, -1)
		for i, e := range v {
			v[i] = 1 / (1 + e)
		}
	case []float64:
		for i, a := range v {
			v[i] = 1 / (1 + math.Exp(-a))
		}
	}
}

func tanhRows[T float](x []T) {
	switch v := any(x).(type) {
	case []float32:
		expScaled32(v, -2)
		for i, e := range v {
			v[i] = 2/(1+e) - 1
		}
	case []float64:
		for i, a := range v {
			v[i] = math.Tanh(a)
		}
	}
}
