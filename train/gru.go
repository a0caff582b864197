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
//
// The row code (gruFwdRow, gruBwdRow, expScaledGo) converts every product
// that is added to or subtracted from something, T(x*y) or float32(x*y):
// the conversion rounds the product, so the compiler cannot fuse it with
// the addition into an FMA (which the Go spec allows and GOAMD64=v3 does).
// The SSE kernels of gruFwdRow and expScaledGo never fuse; the conversions
// keep the Go code their bit-for-bit twin at every GOAMD64 level and change
// nothing where no FMA is used.

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
	// serial runs the row passes on the calling goroutine (biGRUOp runs
	// the two directions side by side, one per core).
	serial bool
}

// rows runs f over [0, n): split over GOMAXPROCS goroutines, or on the
// calling goroutine when the op is serial. Rows are independent, so the
// result is the same either way.
func (op *gruSeqOp) rows(n int, f func(lo, hi int)) {
	if op.serial {
		f(0, n)
		return
	}
	parallelRows(n, f)
}

// gruCache holds one run's intermediate values in the graph's dtype. The
// three gates sit side by side in the (*, 3D) arrays, in the order z, r, n,
// so that the products shared by the gates run as one.
type gruCache struct {
	xp         *tensor.Dense            // (T*B, 3D) input projections X [Wz Wr Wn] (without the biases); the backward pass overwrites them with their gradients
	z, r, n, a *tensor.Dense            // (T*B, D) gates, a = h Un
	h          *tensor.Dense            // (T*B, D) states
	wcat       *tensor.Dense            // (Wd, 3D) [Wz Wr Wn], filled by each forward run
	ucat       *tensor.Dense            // (D, 3D) [Uz Ur Un], filled by each forward run
	hu         *tensor.Dense            // (B, 3D) h [Uz Ur Un] of the current step
	dcat       *tensor.Dense            // (T*B, 3D) gradients of h [Uz Ur Un] (backward)
	dwcat      *tensor.Dense            // (Wd, 3D) gradient of [Wz Wr Wn] (backward)
	ducat      *tensor.Dense            // (D, 3D) gradient of [Uz Ur Un] (backward)
	dbcat      *tensor.Dense            // (1, 3D) gradient of [bz br bn] (backward)
	dh         [2]*tensor.Dense         // (B, D) state gradients (backward)
	grad       [gruInputs]*tensor.Dense // written by the backward op, returned by it (X) and by gruGradOps
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
	c := &gruCache{xp: newLike(dt, TB, 3*D), dcat: newLike(dt, TB, 3*D)}
	c.z, c.r, c.n, c.a, c.h = newLike(dt, TB, D), newLike(dt, TB, D), newLike(dt, TB, D), newLike(dt, TB, D), newLike(dt, TB, D)
	c.wcat, c.ucat, c.hu = newLike(dt, op.Wd, 3*D), newLike(dt, D, 3*D), newLike(dt, op.B, 3*D)
	c.dwcat, c.ducat, c.dbcat = newLike(dt, op.Wd, 3*D), newLike(dt, D, 3*D), newLike(dt, 1, 3*D)
	for k := range c.dh {
		c.dh[k] = newLike(dt, op.B, D)
	}
	op.c = c
	return c
}

// sideBySide writes the (rows, D) matrices ms into dst (rows, len(ms) D),
// matrix g in columns [g D, (g+1) D).
func sideBySide[T float](dst []T, rows, D int, ms ...[]T) {
	w := len(ms) * D
	for i := range rows {
		for g, m := range ms {
			copy(dst[i*w+g*D:i*w+(g+1)*D], m[i*D:(i+1)*D])
		}
	}
}

// splitColumns is the inverse of sideBySide.
func splitColumns[T float](src []T, rows, D int, ms ...[]T) {
	w := len(ms) * D
	for i := range rows {
		for g, m := range ms {
			copy(m[i*D:(i+1)*D], src[i*w+g*D:i*w+(g+1)*D])
		}
	}
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
	TB, D3 := T_*B, 3*D
	x, mask := in[gruX], in[gruMask]
	xp, wcat, ucat, hu := data[T](c.xp), data[T](c.wcat), data[T](c.ucat), data[T](c.hu)
	// The input projections of all steps and gates are one product,
	// X [Wz Wr Wn], plus the biases; the three recurrent products of a step
	// share their left operand h, so they are one product too, h [Uz Ur Un].
	sideBySide(wcat, Wd, D, in[gruWz], in[gruWr], in[gruWn])
	sideBySide(ucat, D, D, in[gruUz], in[gruUr], in[gruUn])
	gemmT(false, false, TB, D3, Wd, 1, x, Wd, wcat, D3, 0, xp, D3)
	bias := [3][]T{in[gruBz], in[gruBr], in[gruBn]}
	z, r, n, a, h := data[T](c.z), data[T](c.r), data[T](c.n), data[T](c.a), data[T](c.h)
	clear(out)
	var prev []T // previous state (nil: zero)
	for k := range T_ {
		t := op.order(k)
		if prev != nil {
			gemmT(false, false, B, D3, D, 1, prev, D, ucat, D3, 0, hu, D3)
		}
		hp := prev
		op.rows(B, func(lo, hi int) {
			s := func(x []T, off, w int) []T { return x[off+lo*w : off+hi*w] } // rows [lo, hi)
			g := &gruRows[T]{m: s(mask, t*B, 1), maskOut: !op.reverse, xp: s(xp, t*B*D3, D3), b: bias,
				z: s(z, t*B*D, D), r: s(r, t*B*D, D), n: s(n, t*B*D, D), a: s(a, t*B*D, D), h: s(h, t*B*D, D),
				out: s(out, 0, D), D: D}
			if hp != nil {
				g.hu, g.hp = s(hu, 0, D3), s(hp, 0, D)
			}
			gruFwdRows(g)
		})
		prev = h[t*B*D : (t+1)*B*D]
	}
}

// gruRows are the rows of one time step that gruFwdRows runs, each of
// them as gruFwdRow.
type gruRows[T float] struct {
	m                  []T // (rows) token mask
	maskOut            bool
	xp, hu             []T // (rows, 3D); hu nil at the first step
	hp                 []T // (rows, D) previous state; nil at the first step
	b                  [3][]T
	z, r, n, a, h, out []T // (rows, D)
	D                  int
}

// gruFwdRows runs gruFwdRow on the rows of g (float32: gruFwdRows32, in
// SSE2 C in the openblas build, the same bits).
func gruFwdRows[T float](g *gruRows[T]) {
	if g32, ok := any(g).(*gruRows[float32]); ok {
		gruFwdRows32(g32)
		return
	}
	g.fwd()
}

// fwd is gruFwdRows in Go.
func (g *gruRows[T]) fwd() {
	D := g.D
	for i, m := range g.m {
		row := func(x []T) []T { return x[i*D : (i+1)*D] }
		var hu, hp []T
		if g.hu != nil {
			hu, hp = g.hu[i*3*D:(i+1)*3*D], row(g.hp)
		}
		gruFwdRow(m, g.maskOut, g.xp[i*3*D:(i+1)*3*D], &g.b, hu, hp, row(g.z), row(g.r), row(g.n), row(g.a), row(g.h), row(g.out))
	}
}

// gruFwdRow runs one sequence's row of one time step: from the row's input
// projections xp = x [Wz Wr Wn] (3D), the biases b, the recurrent products
// hu = h [Uz Ur Un] (3D; nil at the first step, where the previous state hp
// is zero too) and the token mask m it writes the gates z, r, n, a = h Un
// and the new state h, and adds the state to out (m times the state when
// maskOut).
func gruFwdRow[T float](m T, maskOut bool, xp []T, b *[3][]T, hu, hp, z, r, n, a, h, out []T) {
	D := len(z)
	xz, xr, xn := xp[:D], xp[D:2*D], xp[2*D:3*D]
	bz, br, bn := b[0][:D], b[1][:D], b[2][:D]
	r, n, a, h, out = r[:D], n[:D], a[:D], h[:D], out[:D]
	if hu != nil {
		hz, hr, hn := hu[:D], hu[D:2*D], hu[2*D:3*D]
		for j := range z {
			z[j] = xz[j] + bz[j] + hz[j]
			r[j] = xr[j] + br[j] + hr[j]
		}
		copy(a, hn)
	} else {
		for j := range z {
			z[j] = xz[j] + bz[j]
			r[j] = xr[j] + br[j]
		}
		clear(a)
	}
	sigmoidRows(z)
	sigmoidRows(r)
	for j, v := range xn {
		n[j] = v + bn[j] + T(r[j]*a[j])
	}
	tanhRows(n)
	om := m
	if !maskOut {
		om = 1
	}
	if hp == nil {
		for j, nn := range n {
			hv := m * (nn + T(z[j]*(0-nn)))
			h[j] = hv
			out[j] += T(om * hv)
		}
		return
	}
	hp = hp[:D]
	for j, nn := range n {
		hpj := hp[j]
		hv := hpj + T(m*(nn+T(z[j]*(hpj-nn))-hpj))
		h[j] = hv
		out[j] += T(om * hv)
	}
}

// gruBwdOp backpropagates through the sequence of its gruSeqOp given the
// gradient of the output; it stores every weight gradient in the forward
// op's cache (read by gruGradOps) and returns the gradient of X. Inputs:
// (output, gradient, X, mask, Wz, Wr, Wn, Uz, Ur, Un); the dependency on the
// output orders it after the forward op, and taking X as an input keeps
// the tape machine from reusing X's memory before it runs. The weights'
// values are read from the forward run's side-by-side copies (wcat, ucat).
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
	f.grads(dt)
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

// gruBwdRow backpropagates one sequence's row of one time step: given the
// output gradient g (scaled by the mask m when maskG, as the forward
// direction's output sums m h), the state gradient dh from the later
// steps, the previous state hp (zeros at the first step) and the step's
// gates z, r, n
// and a = h Un, it writes the gradients of the input projections [z r n]
// into dxp (3D), of the previous state into dhp, and of h [Uz Ur Un] into
// dc (3D).
func gruBwdRow[T float](m T, maskG bool, g, dh, hp, z, r, n, a, dxp, dhp, dc []T) {
	D := len(dh)
	g, z, r, n, a, dhp = g[:D], z[:D], r[:D], n[:D], a[:D], dhp[:D]
	dz, dr, dn := dxp[:D], dxp[D:2*D], dxp[2*D:3*D]
	dcz, dcr, dca := dc[:D], dc[D:2*D], dc[2*D:3*D]
	gm := T(1)
	if maskG {
		gm = m
	}
	if m == 0 { // padding: the state passes through, the gates get nothing
		for j, v := range dh {
			dhp[j] = v + T(g[j]*gm)
		}
		clear(dxp[:3*D])
		clear(dc[:3*D])
		return
	}
	hp = hp[:D]
	for j, v := range dh {
		d := v + T(g[j]*gm)
		zz, rr, nn := z[j], r[j], n[j]
		dhn := m * d
		dpn := dhn * (1 - zz) * (1 - T(nn*nn))
		dpr := dpn * a[j] * rr * (1 - rr)
		dpz := dhn * (hp[j] - nn) * zz * (1 - zz)
		dhp[j] = T((1-m)*d) + T(dhn*zz)
		dz[j], dr[j], dn[j] = dpz, dpr, dpn
		dcz[j], dcr[j], dca[j] = dpz, dpr, dpn*rr
	}
}

// grads allocates the gradient tensors of the op's cache on first use.
func (op *gruSeqOp) grads(dt tensor.Dtype) {
	c := op.c
	if c.grad[gruX] != nil {
		return
	}
	c.grad[gruX] = newLike(dt, op.T*op.B, op.Wd)
	for g := range 3 {
		c.grad[gruWz+g] = newLike(dt, op.Wd, op.D)
		c.grad[gruBz+g] = newLike(dt, 1, op.D)
		c.grad[gruUz+g] = newLike(dt, op.D, op.D)
	}
}

func gruBackward[T float](op *gruSeqOp, c *gruCache, in [][]T) {
	T_, B, D, Wd := op.T, op.B, op.D, op.Wd
	TB, D3 := T_*B, 3*D
	gout, mask, x := in[gbGrad], in[gbMask], in[gbX]
	xp := data[T](c.xp) // becomes the gradient of the input projections
	z, r, n, a, h := data[T](c.z), data[T](c.r), data[T](c.n), data[T](c.a), data[T](c.h)
	dh, dhp := data[T](c.dh[0]), data[T](c.dh[1])
	wcat, ucat, dcat := data[T](c.wcat), data[T](c.ucat), data[T](c.dcat) // wcat, ucat: as the forward run left them
	zeroRow := make([]T, D)
	clear(dh)
	for k := T_ - 1; k >= 0; k-- {
		t := op.order(k)
		var hp []T // the previous states; nil (zero) before the first step
		if k > 0 {
			hp = rows2(h, op.order(k-1), B, D)
		}
		op.rows(B, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				row := (t*B + i) * D
				r1 := func(s []T) []T { return s[row : row+D] }
				hpr := zeroRow
				if hp != nil {
					hpr = hp[i*D : (i+1)*D]
				}
				gruBwdRow(mask[t*B+i], !op.reverse, gout[i*D:(i+1)*D], dh[i*D:(i+1)*D], hpr,
					r1(z), r1(r), r1(n), r1(a), xp[row*3:(row+D)*3], dhp[i*D:(i+1)*D], dcat[row*3:(row+D)*3])
			}
		})
		if k > 0 {
			// dh_prev += [dz dr d(h Un)] [Uz Ur Un]^T: one product, (B, 3D) x (3D, D)
			gemmT(false, true, B, D, D3, 1, dcat[t*B*D3:], D3, ucat, D3, 1, dhp, D)
		}
		dh, dhp = dhp, dh
	}
	// weight gradients over all steps, one product each for the three
	// gates: d[Uz Ur Un] = sum_t h_prev^T d(h [Uz Ur Un])_t over the steps
	// with a previous state, d[Wz Wr Wn] = X^T dXP, d[bz br bn] = column
	// sums of dXP; dX = dXP [Wz Wr Wn]^T.
	ducat, dwcat, dbcat := data[T](c.ducat), data[T](c.dwcat), data[T](c.dbcat)
	if T_ > 1 {
		hs, ds := 0, B*D3 // forward: h_{t-1} = rows t-1, steps t = 1..T-1
		if op.reverse {
			hs, ds = B*D, 0 // backward: h_{t+1} = rows t+1, steps t = 0..T-2
		}
		gemmT(true, false, D, D3, (T_-1)*B, 1, h[hs:], D, dcat[ds:], D3, 0, ducat, D3)
	} else {
		clear(ducat)
	}
	splitColumns(ducat, D, D, data[T](c.grad[gruUz]), data[T](c.grad[gruUr]), data[T](c.grad[gruUn]))
	gemmT(true, false, Wd, D3, TB, 1, x, Wd, xp, D3, 0, dwcat, D3)
	splitColumns(dwcat, Wd, D, data[T](c.grad[gruWz]), data[T](c.grad[gruWr]), data[T](c.grad[gruWn]))
	if op.serial {
		colSumsIn(dbcat, xp, TB, D3, 0, D3)
	} else {
		colSums(dbcat, xp, TB, D3)
	}
	splitColumns(dbcat, 1, D, data[T](c.grad[gruBz]), data[T](c.grad[gruBr]), data[T](c.grad[gruBn]))
	gemmT(false, true, TB, Wd, D3, 1, xp, D3, wcat, D3, 0, data[T](c.grad[gruX]), Wd)
}

// colSums writes the column sums of x (n, D) into out (D), accumulated in
// float64 in row order; column blocks run on GOMAXPROCS goroutines (each
// sum is the same whatever the split).
func colSums[T float](out, x []T, n, D int) {
	parallelRange(D, 64, func(lo, hi int) { colSumsIn(out, x, n, D, lo, hi) })
}

// colSumsIn is colSums of the columns [lo, hi).
func colSumsIn[T float](out, x []T, n, D, lo, hi int) {
	acc := make([]float64, hi-lo)
	for i := range n {
		for k, v := range x[i*D+lo : i*D+hi] {
			acc[k] += float64(v)
		}
	}
	for k := range acc {
		out[lo+k] = T(acc[k])
	}
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
		v = float32(v * s)
		if v < -87 {
			x[i] = 0
			continue
		}
		if v > 88 {
			v = 88
		}
		t := float32(v*log2e) + magic
		k := t - magic
		r := v - float32(k*c1) - float32(k*c2)
		r2 := r * r
		p := (1 + r) + float32(r2*(5.0000001201e-1+float32(r*1.6666665459e-1))) +
			float32(r2*r2*((4.1665795894e-2+float32(r*8.3334519073e-3))+float32(r2*(1.3981999507e-3+float32(r*1.9875691500e-4)))))
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
