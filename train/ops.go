package train

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Hand-written gorgonia ops that replace chains of elementwise and
// broadcast ops (each of which allocates and fills a full-size result) by
// one pass forward and one pass backward in plain Go, split over rows on
// GOMAXPROCS goroutines (rows are independent, so results do not depend on
// the split). Each op has a symbolic gradient (SDOp) built from a second
// hand-written op; TestGradientCheck covers them through the whole loss
// graph.
//

// opBase holds the boilerplate shared by the ops of this file.
type opBase struct {
	name string
	out  *tensor.Dense // the op's result, see result
}

// result returns the op's own result tensor of dtype dt and shape s,
// allocated on the first run (or when dtype or shape change) and reused by
// later runs instead of allocating and zeroing a new one each run. Every
// run must write all of it. This relies on a result being dead by the next
// run of its op (each graph node has its own op; values read after a run,
// such as gradients and encoder outputs, are read or copied before the next
// run), as for any register of the tape machine.
func (o *opBase) result(dt tensor.Dtype, s ...int) *tensor.Dense {
	if o.out == nil || o.out.Dtype() != dt || !o.out.Shape().Eq(tensor.Shape(s)) {
		o.out = tensor.New(tensor.Of(dt), tensor.WithShape(s...))
	}
	return o.out
}

func (o opBase) ReturnsPtr() bool     { return false }
func (o opBase) CallsExtern() bool    { return false }
func (o opBase) OverwritesInput() int { return -1 }
func (o opBase) String() string       { return o.name }

// WriteHash and Hashcode identify an op by its name, which therefore names
// every setting that changes what the op computes (e.g. "leaky(0.1)").
func (o opBase) WriteHash(h hash.Hash) { fmt.Fprint(h, o.name) }
func (o opBase) Hashcode() uint32      { return opHash(o) }

func opHash(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// fnType is the type a -> a -> ... -> ret of an op on tensors of one dtype.
func fnType(in []int, out int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(in)+1)
	for _, d := range in {
		ts = append(ts, G.TensorType{Dims: d, Of: a})
	}
	ts = append(ts, G.TensorType{Dims: out, Of: a})
	return hm.NewFnType(ts...)
}

func shapeOf(d G.DimSizer) tensor.Shape {
	if s, ok := d.(tensor.Shape); ok {
		return s
	}
	return nil
}

// dense returns the tensor of a value (all values of these ops are dense).
func dense(v G.Value) (*tensor.Dense, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("train: op input is %T, want *tensor.Dense", v)
	}
	return d, nil
}

// denseInputs returns the first n inputs of an op's Do as dense tensors.
func denseInputs(vs []G.Value, n int) ([]*tensor.Dense, error) {
	if len(vs) < n {
		return nil, fmt.Errorf("train: op got %d inputs, want %d", len(vs), n)
	}
	out := make([]*tensor.Dense, n)
	for i := range out {
		d, err := dense(vs[i])
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// DCL contrastive head: the per-query loss over the batch part (and the
// queue part) of the similarities.

// dclHeadOp computes, for S_b (B, B) batch similarities and optionally S_q
// (B, K) queue similarities of B live queries with their momentum keys, the
// (B) vector
//
//	l_i = log( sum_j exp(s_ij) ) - s_ii,  s = S/tau + lw,
//
// over the keys of both parts (batch key i is query i's positive), where
// lw are the DCL log-weights (CODER-METHOD.md section 2), computed without
// gradient from the op's own inputs: c_ij = v_i . t'_j are the live
// queries' similarities (dclWeightRow, with the step's exclusions in mask).
// It replaces scale, add, Exp, Sum, Log and the positive's Hadamard product
// per part. The log-weights are shifted per row so that the row's largest
// argument is 0 (up to rounding); the log-sum-exp is accumulated in
// float64; float32 graphs use expScaled32 (float64 graphs math.Exp). The
// shifted exponentials e_ij = exp(s_ij - max_j s_ij) and row sums are kept
// in the op for its gradient ops, which run after it in the same pass; the
// weights are constants of the gradient.
type dclHeadOp struct {
	opBase
	tau, beta float64
	queue     bool
	mask      *dclMask      // the step's exclusions, set by prepare
	frozen    bool          // tests: keep the log-weights of the last run
	lb, lq    *tensor.Dense // (B, B), (B, K) shifted log-weights of the last run
	eb        *tensor.Dense // (B, B) shifted exponentials of the batch part
	eq        *tensor.Dense // (B, K) of the queue part
	se        []float64     // (B) row sums of eb and eq
}

func newDCLHead(tau, beta float64, mask *dclMask, queue bool, id int) *dclHeadOp {
	return &dclHeadOp{opBase: opBase{name: fmt.Sprintf("dclHead%d(%g,%g,%v)", id, tau, beta, queue)},
		tau: tau, beta: beta, mask: mask, queue: queue}
}

func (op *dclHeadOp) Arity() int {
	if op.queue {
		return 2
	}
	return 1
}
func (op *dclHeadOp) Type() hm.Type {
	in := []int{2, 2}
	return fnType(in[:op.Arity()], 1)
}
func (op *dclHeadOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s := shapeOf(ds[0])
	if len(s) != 2 {
		return nil, fmt.Errorf("train: dclHead: input shape %v, want (B, B)", s)
	}
	return tensor.Shape{s[0]}, nil
}
func (op *dclHeadOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

func (op *dclHeadOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	ret := make(G.Nodes, len(in))
	var err error
	if ret[0], err = G.ApplyOp(&dclHeadGradOp{opBase{name: op.name + "-grad-batch"}, op, false, in[0].Shape().Clone(), nil}, out, grad); err != nil {
		return nil, err
	}
	if op.queue {
		if ret[1], err = G.ApplyOp(&dclHeadGradOp{opBase{name: op.name + "-grad-queue"}, op, true, in[1].Shape().Clone(), nil}, out, grad); err != nil {
			return nil, err
		}
	}
	return ret, nil
}

func (op *dclHeadOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: %s: no automatic differentiation (use symbolic)", op.name)
}

func (op *dclHeadOp) Do(vs ...G.Value) (G.Value, error) {
	ts, err := denseInputs(vs, op.Arity())
	if err != nil {
		return nil, err
	}
	B, dt := ts[0].Shape()[0], ts[0].Dtype()
	if op.mask == nil || len(op.mask.ids) != B {
		return nil, fmt.Errorf("train: %s: no exclusions for a batch of %d", op.name, B)
	}
	// frozen (tests) keeps the last run's weights, if it had this shape
	weigh := !op.frozen || op.lb == nil || !op.lb.Shape().Eq(ts[0].Shape()) || op.lb.Dtype() != dt
	keep := func(p **tensor.Dense, like *tensor.Dense) {
		if *p == nil || !(*p).Shape().Eq(like.Shape()) || (*p).Dtype() != dt {
			*p = tensor.New(tensor.Of(dt), tensor.WithShape(like.Shape()...))
		}
	}
	keep(&op.eb, ts[0])
	keep(&op.lb, ts[0])
	if op.queue {
		keep(&op.eq, ts[1])
		keep(&op.lq, ts[1])
	}
	if len(op.se) != B {
		op.se = make([]float64, B)
	}
	out := tensor.New(tensor.Of(dt), tensor.WithShape(B))
	switch o := out.Data().(type) {
	case []float32:
		h := newDCLHalf[float32](ts, op.lb, op.eb, op.lq, op.eq)
		h.run(op, o, B, weigh, h.row32)
	case []float64:
		h := newDCLHalf[float64](ts, op.lb, op.eb, op.lq, op.eq)
		h.run(op, o, B, weigh, func(out []float64, se []float64, i, B, K int, inv float64) {
			h.rowShifted(out, se, i, B, K, inv, expRow64)
		})
	default:
		return nil, fmt.Errorf("train: dclHead: dtype %v", dt)
	}
	return out, nil
}

// dclHalf are the data of one dclHead evaluation (queue part empty without a queue).
type dclHalf[T float] struct {
	sb, lb, eb []T // (B, B) similarities, log-weights, shifted exponentials
	sq, lq, eq []T // (B, K)
}

func newDCLHalf[T float](ts []*tensor.Dense, lb, eb, lq, eq *tensor.Dense) dclHalf[T] {
	h := dclHalf[T]{sb: ts[0].Data().([]T), lb: lb.Data().([]T), eb: eb.Data().([]T)}
	if len(ts) > 1 {
		h.sq, h.lq, h.eq = ts[1].Data().([]T), lq.Data().([]T), eq.Data().([]T)
	}
	return h
}

// run computes, row by row on GOMAXPROCS goroutines, the row's log-weights
// (unless weigh is false) and then l_i and the row sum se_i by row (the
// row's similarities are still in cache from the weights).
func (h dclHalf[T]) run(op *dclHeadOp, out []T, B int, weigh bool, row func(out []T, se []float64, i, B, K int, inv float64)) {
	K := len(h.sq) / B
	inv := 1 / op.tau
	parallelRows(B, func(lo, hi int) {
		var scratch []float32
		if weigh {
			scratch = make([]float32, 2*(B+K))
		}
		for i := lo; i < hi; i++ {
			if weigh {
				dclWeightRow(h.lb, h.lq, h.sb, h.sq, scratch, op.mask, B, K, op.beta, op.tau, i)
			}
			row(out, op.se, i, B, K, inv)
		}
	})
}

// rowShifted writes l_i and se_i of row i, with the arguments shifted by
// the row maximum: float64 graphs with expRow64 (the tests' reference for
// row32 with expRow32).
//
// In rowShifted, row32 and expRow32 the products s_ij inv are converted
// (rounded) before log w_ij is added, as the argsMax32 kernel computes the
// arguments: never fused into an FMA (as GOAMD64=v3 may), so the arguments,
// the positive's in l_i among them, are the kernel's at every GOAMD64 level.
func (h dclHalf[T]) rowShifted(out []T, se []float64, i, B, K int, inv float64, expRow func(e, s, lw []T, inv, m float64) float64) {
	rb, wb := h.sb[i*B:(i+1)*B], h.lb[i*B:(i+1)*B]
	rq, wq := h.sq[i*K:(i+1)*K], h.lq[i*K:(i+1)*K]
	m := math.Inf(-1)
	for j, x := range rb {
		if v := float64(float64(x)*inv) + float64(wb[j]); v > m {
			m = v
		}
	}
	for j, x := range rq {
		if v := float64(float64(x)*inv) + float64(wq[j]); v > m {
			m = v
		}
	}
	s := expRow(h.eb[i*B:(i+1)*B], rb, wb, inv, m)
	if K > 0 {
		s += expRow(h.eq[i*K:(i+1)*K], rq, wq, inv, m)
	}
	se[i] = s
	out[i] = T(m + math.Log(s) - (float64(float64(rb[i])*inv) + float64(wb[i])))
}

// row32 is rowShifted for float32 graphs. The log-weights are shifted so that
// each row's largest argument s_ij is 0 up to rounding (dclWeightRow), so
// the arguments are first exponentiated unshifted (m = 0), their maximum
// taken in the same pass; only a row whose maximum is outside
// [-dclNoShift, dclNoShift] (log-weights frozen by a test while the
// similarities change) is redone with the row maximum as shift. The bound
// keeps the argument's float32 rounding error as small as with the shift
// (below 1e-6 absolute near the maximum) and the exponentials far from
// overflow and underflow.
func (h dclHalf[T]) row32(out []T, se []float64, i, B, K int, inv float64) {
	hb := any(h).(dclHalf[float32])
	rb, wb, eb := hb.sb[i*B:(i+1)*B], hb.lb[i*B:(i+1)*B], hb.eb[i*B:(i+1)*B]
	rq, wq, eq := hb.sq[i*K:(i+1)*K], hb.lq[i*K:(i+1)*K], hb.eq[i*K:(i+1)*K]
	m := max(argsMax32(eb, rb, wb, inv), argsMax32(eq, rq, wq, inv))
	var s float64
	if m >= -dclNoShift && m <= dclNoShift {
		m = 0
		s = expSum32(eb) + expSum32(eq)
	} else {
		s = expRow32(eb, rb, wb, inv, m)
		if K > 0 {
			s += expRow32(eq, rq, wq, inv, m)
		}
	}
	se[i] = s
	out[i] = T(m + math.Log(s) - (float64(float64(rb[i])*inv) + float64(wb[i])))
}

// dclNoShift bounds the row maximum of the DCL head's arguments up to which
// fwd32 leaves them unshifted.
const dclNoShift = 16

// expRow32 writes e_j = exp(s_j*inv + lw_j - m) (the argument in float64,
// the exponential by expScaled32) and returns their sum in float64 (sum4).
func expRow32(e, s, lw []float32, inv, m float64) float64 {
	for j, x := range s {
		e[j] = float32(float64(float64(x)*inv) + float64(lw[j]) - m)
	}
	return expSum32(e)
}

// expRow64 is expRow32 with math.Exp for float64 graphs.
func expRow64(e, s, lw []float64, inv, m float64) float64 {
	var sum float64
	for j, x := range s {
		v := math.Exp(x*inv + lw[j] - m)
		e[j] = v
		sum += v
	}
	return sum
}

// dclHeadGradOp is the gradient of a dclHeadOp with respect to one part's
// similarities: dS_ij = g_i (p_ij - [j == i in the batch part]) / tau with
// p_ij = e_ij / se_i from the forward op. Inputs: (l, g); the dependency on
// l orders it after the forward op.
type dclHeadGradOp struct {
	opBase
	fwd   *dclHeadOp
	queue bool
	shape tensor.Shape
	buf   *tensor.Dense // the result, owned and rewritten in full by every run
}

func (op *dclHeadGradOp) Arity() int    { return 2 }
func (op *dclHeadGradOp) Type() hm.Type { return fnType([]int{1, 1}, 2) }
func (op *dclHeadGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op *dclHeadGradOp) Do(vs ...G.Value) (G.Value, error) {
	g, err := dense(vs[1])
	if err != nil {
		return nil, err
	}
	e := op.fwd.eb
	if op.queue {
		e = op.fwd.eq
	}
	if e == nil || !e.Shape().Eq(op.shape) {
		return nil, fmt.Errorf("train: %s: the forward op has not run", op.name)
	}
	B, N := op.shape[0], op.shape[1]
	if op.buf == nil || op.buf.Dtype() != e.Dtype() {
		op.buf = tensor.New(tensor.Of(e.Dtype()), tensor.WithShape(B, N))
	}
	out := op.buf
	switch o := out.Data().(type) {
	case []float32:
		dclHeadBwd(o, e.Data().([]float32), g.Data().([]float32), op.fwd.se, B, N, op.fwd.tau, !op.queue)
	case []float64:
		dclHeadBwd(o, e.Data().([]float64), g.Data().([]float64), op.fwd.se, B, N, op.fwd.tau, !op.queue)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, e.Dtype())
	}
	return out, nil
}

func dclHeadBwd[T float](out, e, g []T, se []float64, B, N int, tau float64, diag bool) {
	parallelRows(B, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := float64(g[min(i, len(g)-1)]) / tau
			c := T(gi / se[i])
			re, ro := e[i*N:(i+1)*N], out[i*N:(i+1)*N]
			if e32, ok := any(re).([]float32); ok {
				scale32(any(ro).([]float32), e32, float32(c))
			} else {
				for j, x := range re {
					ro[j] = c * x
				}
			}
			if diag {
				ro[i] = T(gi*float64(re[i])/se[i] - gi)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Row-wise L2 normalisation.

// l2Op is y = x / ||x|| per row of an (n, D) matrix; it replaces Norm
// (Square, Sum, Sqrt), Reshape and a broadcast division.
type l2Op struct{ opBase }

func (op *l2Op) Arity() int    { return 1 }
func (op *l2Op) Type() hm.Type { return fnType([]int{2}, 2) }
func (op *l2Op) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s := shapeOf(ds[0])
	if len(s) != 2 {
		return nil, fmt.Errorf("train: l2: input shape %v, want (n, D)", s)
	}
	return s.Clone(), nil
}
func (op *l2Op) DiffWRT(int) []bool { return []bool{true} }
func (op *l2Op) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&l2GradOp{opBase{name: "l2Grad"}}, in[0], out, grad)
	return G.Nodes{d}, err
}
func (op *l2Op) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: l2: no automatic differentiation (use symbolic)")
}

func (op *l2Op) Do(vs ...G.Value) (G.Value, error) {
	x, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	n, D := x.Shape()[0], x.Shape()[1]
	out := op.result(x.Dtype(), n, D)
	switch o := out.Data().(type) {
	case []float32:
		l2Fwd(o, x.Data().([]float32), n, D)
	case []float64:
		l2Fwd(o, x.Data().([]float64), n, D)
	default:
		return nil, fmt.Errorf("train: l2: dtype %v", out.Dtype())
	}
	return out, nil
}

// rowNorm is the L2 norm of a row, accumulated in float64 (sumSq: four
// interleaved partial sums).
func rowNorm[T float](x []T) float64 { return math.Sqrt(sumSq(x)) }

// l2Eps is the smallest norm the L2 normalisation divides by (as torch's
// F.normalize): a row of zeros (an all-zero feature row through a
// zero-initialised layer) comes out as zeros, not 0/0 = NaN. Rows with a
// larger norm, i.e. every real one, are unchanged to the bit.
const l2Eps = 1e-12

// invNorm returns 1 / max(norm, l2Eps).
func invNorm(norm float64) float64 { return 1 / math.Max(norm, l2Eps) }

func l2Fwd[T float](out, x []T, n, D int) {
	parallelRange(n, max(2, 1<<15/max(D, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r, o := x[i*D:(i+1)*D], out[i*D:(i+1)*D]
			if r32, ok := any(r).([]float32); ok {
				scaleRow32(any(o).([]float32), r32, invNorm(math.Sqrt(sumSq32(r32))))
				continue
			}
			inv := invNorm(rowNorm(r))
			for k, v := range r {
				o[k] = T(float64(v) * inv)
			}
		}
	})
}

// l2GradOp is dx = (g - y (y . g)) / ||x|| for inputs (x, y, g).
type l2GradOp struct{ opBase }

func (op *l2GradOp) Arity() int    { return 3 }
func (op *l2GradOp) Type() hm.Type { return fnType([]int{2, 2, 2}, 2) }
func (op *l2GradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return shapeOf(ds[0]).Clone(), nil
}

func (op *l2GradOp) Do(vs ...G.Value) (G.Value, error) {
	var ts [3]*tensor.Dense
	for i, v := range vs {
		d, err := dense(v)
		if err != nil {
			return nil, err
		}
		ts[i] = d
	}
	n, D := ts[0].Shape()[0], ts[0].Shape()[1]
	out := op.result(ts[0].Dtype(), n, D)
	switch o := out.Data().(type) {
	case []float32:
		l2Bwd(o, ts[0].Data().([]float32), ts[1].Data().([]float32), ts[2].Data().([]float32), n, D)
	case []float64:
		l2Bwd(o, ts[0].Data().([]float64), ts[1].Data().([]float64), ts[2].Data().([]float64), n, D)
	default:
		return nil, fmt.Errorf("train: l2Grad: dtype %v", out.Dtype())
	}
	return out, nil
}

func l2Bwd[T float](out, x, y, g []T, n, D int) {
	parallelRange(n, max(2, 1<<15/max(D, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ry, rg, o := y[i*D:(i+1)*D], g[i*D:(i+1)*D], out[i*D:(i+1)*D]
			if y32, ok := any(ry).([]float32); ok {
				g32 := any(rg).([]float32)
				inv := invNorm(math.Sqrt(sumSq32(any(x[i*D : (i+1)*D]).([]float32))))
				l2BwdRow32(any(o).([]float32), y32, g32, dot32(y32, g32), inv)
				continue
			}
			inv := invNorm(rowNorm(x[i*D : (i+1)*D]))
			yg := dot4(ry, rg)
			for k, v := range ry {
				o[k] = T((float64(rg[k]) - float64(v)*yg) * inv)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// LeakyReLU.

// leakyOp is y = x for x > 0, a x otherwise (one pass; replaces two
// scalings, Rectify and an addition).
type leakyOp struct {
	opBase
	a float64
}

func newLeaky(a float64) *leakyOp { return &leakyOp{opBase{name: fmt.Sprintf("leaky(%g)", a)}, a} }

func (op *leakyOp) Arity() int    { return 1 }
func (op *leakyOp) Type() hm.Type { return fnType([]int{2}, 2) }
func (op *leakyOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return shapeOf(ds[0]).Clone(), nil
}
func (op *leakyOp) DiffWRT(int) []bool { return []bool{true} }
func (op *leakyOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&leakyGradOp{opBase{name: op.name + "-grad"}, op.a}, in[0], grad)
	return G.Nodes{d}, err
}
func (op *leakyOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: %s: no automatic differentiation (use symbolic)", op.name)
}
func (op *leakyOp) Do(vs ...G.Value) (G.Value, error) {
	x, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	out := op.result(x.Dtype(), x.Shape()...)
	switch o := out.Data().(type) {
	case []float32:
		leakyFwd32(o, x.Data().([]float32), op.a)
	case []float64:
		leakyFwd(o, x.Data().([]float64), op.a)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, x.Dtype())
	}
	return out, nil
}

func leakyFwd[T float](out, x []T, a float64) {
	s := T(a)
	for i, v := range x {
		if v > 0 {
			out[i] = v
		} else {
			out[i] = s * v
		}
	}
}

// leakyGradOp is dx = g (1 for x > 0, a otherwise) for inputs (x, g).
type leakyGradOp struct {
	opBase
	a float64
}

func (op *leakyGradOp) Arity() int    { return 2 }
func (op *leakyGradOp) Type() hm.Type { return fnType([]int{2, 2}, 2) }
func (op *leakyGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return shapeOf(ds[0]).Clone(), nil
}
func (op *leakyGradOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := denseInputs(vs, 2)
	if err != nil {
		return nil, err
	}
	x, g := in[0], in[1]
	out := op.result(x.Dtype(), x.Shape()...)
	switch o := out.Data().(type) {
	case []float32:
		leakyBwd32(o, x.Data().([]float32), g.Data().([]float32), op.a)
	case []float64:
		leakyBwd(o, x.Data().([]float64), g.Data().([]float64), op.a)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, x.Dtype())
	}
	return out, nil
}

// notPos32 is all ones when x <= 0 (either zero, negative or a NaN with the
// sign bit set), 0 when x > 0 (or a NaN without it): a branch-free select
// mask (the signs of the GCN pre-activations are random, so a branch
// mispredicts about every second element).
func notPos32(x float32) uint32 {
	return uint32((int64(int32(math.Float32bits(x))) - 1) >> 63)
}

// leakyFwd32 is leakyFwd for float32 without branches (the same values; a
// NaN input gives a NaN).
func leakyFwd32(out, x []float32, a float64) {
	s := float32(a)
	out = out[:len(x)]
	for i, v := range x {
		m := notPos32(v)
		out[i] = math.Float32frombits(math.Float32bits(v)&^m | math.Float32bits(s*v)&m)
	}
}

// leakyBwd32 is leakyBwd for float32 without branches.
func leakyBwd32(out, x, g []float32, a float64) {
	s := float32(a)
	out, g = out[:len(x)], g[:len(x)]
	for i, v := range x {
		m := notPos32(v)
		gi := g[i]
		out[i] = math.Float32frombits(math.Float32bits(gi)&^m | math.Float32bits(s*gi)&m)
	}
}

func leakyBwd[T float](out, x, g []T, a float64) {
	s := T(a)
	for i, v := range x {
		if v > 0 {
			out[i] = g[i]
		} else {
			out[i] = s * g[i]
		}
	}
}

// ---------------------------------------------------------------------------
// Mean of word embeddings.

// embedMeanOp is the mean text encoder's pooling: for embeddings E (V, Wd),
// tokens (B*T, batch-major) and weights avg (B, T) (1/len on the valid
// steps), out_i = sum_t avg_it E[token_it]. It replaces ByIndices, Reshape
// and a batched product of B (1, T) x (T, Wd) products (B tiny BLAS calls
// forward and 2B backward). Gradient with respect to E only.
type embedMeanOp struct{ opBase }

func (op *embedMeanOp) Arity() int { return 3 }
func (op *embedMeanOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 1, Of: tensor.Int}, G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 2, Of: a})
}
func (op *embedMeanOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	e, w := shapeOf(ds[0]), shapeOf(ds[2])
	if len(e) != 2 || len(w) != 2 {
		return nil, fmt.Errorf("train: embedMean: shapes %v and %v, want (V, Wd) and (B, T)", e, w)
	}
	return tensor.Shape{w[0], e[1]}, nil
}
func (op *embedMeanOp) DiffWRT(int) []bool { return []bool{true, false, false} }
func (op *embedMeanOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&embedMeanGradOp{opBase: opBase{name: op.name + "-grad"}, shape: in[0].Shape().Clone()}, in[1], in[2], grad)
	return G.Nodes{d, nil, nil}, err
}
func (op *embedMeanOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: %s: no automatic differentiation (use symbolic)", op.name)
}

func (op *embedMeanOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := denseInputs(vs, 3)
	if err != nil {
		return nil, err
	}
	e, tok, w := in[0], in[1], in[2]
	B, Wd := w.Shape()[0], e.Shape()[1]
	out := op.result(e.Dtype(), B, Wd)
	switch o := out.Data().(type) {
	case []float32:
		clear(o)
		embedMeanFwd(o, e.Data().([]float32), tok.Data().([]int), w.Data().([]float32), B, Wd)
	case []float64:
		clear(o)
		embedMeanFwd(o, e.Data().([]float64), tok.Data().([]int), w.Data().([]float64), B, Wd)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, e.Dtype())
	}
	return out, nil
}

func embedMeanFwd[T float](out, e []T, tok []int, w []T, B, Wd int) {
	T_ := len(tok) / B
	parallelRange(B, max(2, 1<<14/max(T_*Wd, 1)), func(lo, hi int) { embedMeanRows(out, e, tok, w, T_, Wd, lo, hi) })
}

// embedMeanRows computes rows [lo, hi) of embedMeanFwd.
func embedMeanRows[T float](out, e []T, tok []int, w []T, T_, Wd, lo, hi int) {
	if o32, ok := any(out).([]float32); ok {
		embedRows32(o32, any(e).([]float32), tok, any(w).([]float32), T_, Wd, lo, hi)
		return
	}
	embedRowsGo(out, e, tok, w, T_, Wd, lo, hi)
}

// embedMeanGradOp is dE[token_it] += avg_it g_i for inputs (tokens, avg, g),
// in a fixed order (duplicate tokens accumulate deterministically).
//
// The (V, Wd) result is owned by the op and reused: only the rows written
// by the previous run are cleared (the gradient is dense for Adam, but only
// the rows of the batch's tokens are nonzero). This relies on the result
// being read only, which holds where it is used: the mean encoder applies
// the op once, so the result is txt.E's gradient itself, a graph output.
type embedMeanGradOp struct {
	opBase
	shape tensor.Shape // (V, Wd)
	buf   *tensor.Dense
	rows  []int // rows written by the last run
}

func (op *embedMeanGradOp) Arity() int { return 3 }
func (op *embedMeanGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: 1, Of: tensor.Int}, G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 2, Of: a})
}
func (op *embedMeanGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *embedMeanGradOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := denseInputs(vs, 3)
	if err != nil {
		return nil, err
	}
	tok, w, g := in[0], in[1], in[2]
	B, Wd := w.Shape()[0], op.shape[1]
	if op.buf == nil || op.buf.Dtype() != g.Dtype() {
		op.buf, op.rows = tensor.New(tensor.Of(g.Dtype()), tensor.WithShape(op.shape...)), nil
	}
	switch o := op.buf.Data().(type) {
	case []float32:
		op.rows = embedMeanBwd(o, op.rows, tok.Data().([]int), w.Data().([]float32), g.Data().([]float32), B, Wd)
	case []float64:
		op.rows = embedMeanBwd(o, op.rows, tok.Data().([]int), w.Data().([]float64), g.Data().([]float64), B, Wd)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, g.Dtype())
	}
	return op.buf, nil
}

// has reports whether r is in set.
func has(set map[int]struct{}, r int) bool {
	_, ok := set[r]
	return ok
}

// embedMeanBwd clears the rows listed in prev, accumulates the gradient and
// returns the rows it wrote (prev's storage reused).
func embedMeanBwd[T float](out []T, prev []int, tok []int, w, g []T, B, Wd int) []int {
	// prev lists each row once; a row is cleared once, not once per token
	seen := make(map[int]struct{}, len(prev))
	for _, r := range prev {
		clear(out[r*Wd : (r+1)*Wd])
	}
	rows := prev[:0]
	T_ := len(tok) / B
	for i := range B {
		for t := range T_ {
			if w[i*T_+t] == 0 {
				continue
			}
			if r := tok[i*T_+t]; !has(seen, r) {
				seen[r] = struct{}{}
				rows = append(rows, r)
			}
		}
	}
	// split over columns: every element accumulates in the same (i, t)
	// order whatever the split
	parallelRange(Wd, 64, func(lo, hi int) {
		if o32, ok := any(out).([]float32); ok {
			embedBwd32(o32, any(g).([]float32), tok, any(w).([]float32), B, T_, Wd, lo, hi)
			return
		}
		embedBwdRows(out, g, tok, w, B, T_, Wd, lo, hi)
	})
	return rows
}

// ---------------------------------------------------------------------------
// Scaled softmax over rows.

// softmaxOp is y = softmax(s x) over each row of an (n, M) matrix (the
// concept attention; replaces a scaling and gorgonia's SoftMax). float32
// graphs use expScaled32.
type softmaxOp struct {
	opBase
	s float64
}

func newSoftmax(s float64) *softmaxOp {
	return &softmaxOp{opBase{name: fmt.Sprintf("softmax(%g)", s)}, s}
}

func (op *softmaxOp) Arity() int    { return 1 }
func (op *softmaxOp) Type() hm.Type { return fnType([]int{2}, 2) }
func (op *softmaxOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s := shapeOf(ds[0])
	if len(s) != 2 {
		return nil, fmt.Errorf("train: %s: input shape %v, want (n, M)", op.name, s)
	}
	return s.Clone(), nil
}
func (op *softmaxOp) DiffWRT(int) []bool { return []bool{true} }
func (op *softmaxOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&softmaxGradOp{opBase{name: op.name + "-grad"}, op.s}, out, grad)
	return G.Nodes{d}, err
}
func (op *softmaxOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: %s: no automatic differentiation (use symbolic)", op.name)
}
func (op *softmaxOp) Do(vs ...G.Value) (G.Value, error) {
	x, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	n, M := x.Shape()[0], x.Shape()[1]
	out := op.result(x.Dtype(), n, M)
	switch o := out.Data().(type) {
	case []float32:
		softmaxFwd(o, x.Data().([]float32), n, M, op.s)
	case []float64:
		softmaxFwd(o, x.Data().([]float64), n, M, op.s)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, x.Dtype())
	}
	return out, nil
}

func softmaxFwd[T float](out, x []T, n, M int, s float64) {
	parallelRange(n, max(2, 1<<14/max(M, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r, o := x[i*M:(i+1)*M], out[i*M:(i+1)*M]
			if r32, ok := any(r).([]float32); ok {
				softmaxRow32(any(o).([]float32), r32, s)
				continue
			}
			m := math.Inf(-1)
			for _, v := range r {
				if a := s * float64(v); a > m {
					m = a
				}
			}
			for k, v := range r {
				o[k] = T(s*float64(v) - m)
			}
			inv := 1 / expSumT(o)
			for k, v := range o {
				o[k] = T(float64(v) * inv)
			}
		}
	})
}

// softmaxGradOp is dx = s y (g - sum_j g_j y_j) for inputs (y, g).
type softmaxGradOp struct {
	opBase
	s float64
}

func (op *softmaxGradOp) Arity() int    { return 2 }
func (op *softmaxGradOp) Type() hm.Type { return fnType([]int{2, 2}, 2) }
func (op *softmaxGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return shapeOf(ds[0]).Clone(), nil
}
func (op *softmaxGradOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := denseInputs(vs, 2)
	if err != nil {
		return nil, err
	}
	y, g := in[0], in[1]
	n, M := y.Shape()[0], y.Shape()[1]
	out := op.result(y.Dtype(), n, M)
	switch o := out.Data().(type) {
	case []float32:
		softmaxBwd(o, y.Data().([]float32), g.Data().([]float32), n, M, op.s)
	case []float64:
		softmaxBwd(o, y.Data().([]float64), g.Data().([]float64), n, M, op.s)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, y.Dtype())
	}
	return out, nil
}

func softmaxBwd[T float](out, y, g []T, n, M int, s float64) {
	parallelRange(n, max(2, 1<<14/max(M, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ry, rg, o := y[i*M:(i+1)*M], g[i*M:(i+1)*M], out[i*M:(i+1)*M]
			dot := dot4(ry, rg)
			for k, v := range ry {
				o[k] = T(s * float64(v) * (float64(rg[k]) - dot))
			}
		}
	})
}
