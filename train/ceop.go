package train

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ---------------------------------------------------------------------------
// Soft-target cross-entropy of scaled logits (the swapped-prediction and
// concept-prediction heads).

// ceRowsOp computes, for logits z (B, P) and soft targets q (B, P, no
// gradient), the (B) vector
//
//	l_i = - sum_j q_ij log softmax_j(s z_i),
//
// replacing a scaling, gorgonia's LogSoftMax, a Hadamard product and a sum
// over the columns (each a full (B, P) pass forward and backward, the
// LogSoftMax with a scalar exp). The log-sum-exp is shifted by the row
// maximum and accumulated in float64; float32 graphs use expScaled32. The
// softmax p and the target row sums are kept in the op for its gradient op
// dz_ij = g_i s (p_ij sum_j' q_ij' - q_ij), which runs after it in the same pass.
type ceRowsOp struct {
	opBase
	s  float64
	p  *tensor.Dense // (B, P) softmax(s z) of the last forward run
	qs []float64     // (B) row sums of q
}

func newCERows(s float64, id int) *ceRowsOp {
	return &ceRowsOp{opBase: opBase{name: fmt.Sprintf("ceRows%d(%g)", id, s)}, s: s}
}

func (op *ceRowsOp) Arity() int    { return 2 }
func (op *ceRowsOp) Type() hm.Type { return fnType([]int{2, 2}, 1) }
func (op *ceRowsOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s := shapeOf(ds[0])
	if len(s) != 2 {
		return nil, fmt.Errorf("train: %s: input shape %v, want (B, P)", op.name, s)
	}
	return tensor.Shape{s[0]}, nil
}
func (op *ceRowsOp) DiffWRT(int) []bool { return []bool{true, false} }
func (op *ceRowsOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&ceRowsGradOp{opBase{name: op.name + "-grad"}, op, in[0].Shape().Clone()}, in[1], out, grad)
	return G.Nodes{d, nil}, err
}
func (op *ceRowsOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: %s: no automatic differentiation (use symbolic)", op.name)
}

func (op *ceRowsOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := denseInputs(vs, 2)
	if err != nil {
		return nil, err
	}
	z, q := in[0], in[1]
	B, P := z.Shape()[0], z.Shape()[1]
	if !q.Shape().Eq(z.Shape()) {
		return nil, fmt.Errorf("train: %s: targets %v, logits %v", op.name, q.Shape(), z.Shape())
	}
	dt := z.Dtype()
	if op.p == nil || !op.p.Shape().Eq(z.Shape()) || op.p.Dtype() != dt {
		op.p = tensor.New(tensor.Of(dt), tensor.WithShape(B, P))
	}
	if len(op.qs) != B {
		op.qs = make([]float64, B)
	}
	out := tensor.New(tensor.Of(dt), tensor.WithShape(B))
	switch o := out.Data().(type) {
	case []float32:
		ceRowsFwd(o, op.p.Data().([]float32), op.qs, z.Data().([]float32), q.Data().([]float32), B, P, op.s)
	case []float64:
		ceRowsFwd(o, op.p.Data().([]float64), op.qs, z.Data().([]float64), q.Data().([]float64), B, P, op.s)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, dt)
	}
	return out, nil
}

// expSumT sets x[k] = exp(x[k]) and returns the float64 sum of the results
// over four partial sums (expSum32 for float32, math.Exp and sum4 for
// float64).
func expSumT[T float](x []T) float64 {
	switch v := any(x).(type) {
	case []float32:
		return expSum32(v)
	case []float64:
		for k, a := range v {
			v[k] = math.Exp(a)
		}
	}
	return sum4(x)
}

// softmaxRowT is softmaxRow32Go for any float type (math.Exp for float64).
func softmaxRowT[T float](o, x []T, s float64) (m, se float64) {
	m = math.Inf(-1)
	for _, v := range x {
		if a := s * float64(v); a > m {
			m = a
		}
	}
	for k, v := range x {
		o[k] = T(s*float64(v) - m)
	}
	se = expSumT(o)
	inv := 1 / se
	for k, v := range o {
		o[k] = T(float64(v) * inv)
	}
	return m, se
}

// ceRowsFwd writes the per-row losses out, the softmax rows p and the target
// row sums qs of logits z and targets q (B, P) with logit scale s.
func ceRowsFwd[T float](out, p []T, qs []float64, z, q []T, B, P int, s float64) {
	parallelRange(B, max(2, 1<<14/max(P, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			rz, rq, rp := z[i*P:(i+1)*P], q[i*P:(i+1)*P], p[i*P:(i+1)*P]
			var m, se, sq, qz float64
			if z32, ok := any(rz).([]float32); ok {
				q32 := any(rq).([]float32)
				m, se = softmaxRow32(any(rp).([]float32), z32, s)
				sq, qz = sum4(q32), s*dot32(q32, z32)
			} else {
				m, se = softmaxRowT(rp, rz, s)
				sq, qz = sum4(rq), s*dot4(rq, rz)
			}
			qs[i] = sq
			// -sum_j q_j (s z_j - lse) with lse = m + log se
			out[i] = T((m+math.Log(se))*sq - qz)
		}
	})
}

// ceRowsGradOp is the gradient of a ceRowsOp with respect to the logits.
// Inputs: (q, l, g); the dependency on l orders it after the forward op.
type ceRowsGradOp struct {
	opBase
	fwd   *ceRowsOp
	shape tensor.Shape
}

func (op *ceRowsGradOp) Arity() int    { return 3 }
func (op *ceRowsGradOp) Type() hm.Type { return fnType([]int{2, 1, 1}, 2) }
func (op *ceRowsGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op *ceRowsGradOp) Do(vs ...G.Value) (G.Value, error) {
	q, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	g, err := dense(vs[2])
	if err != nil {
		return nil, err
	}
	p := op.fwd.p
	if p == nil || !p.Shape().Eq(op.shape) {
		return nil, fmt.Errorf("train: %s: the forward op has not run", op.name)
	}
	B, P := op.shape[0], op.shape[1]
	out := op.result(p.Dtype(), B, P)
	switch o := out.Data().(type) {
	case []float32:
		ceRowsBwd(o, p.Data().([]float32), q.Data().([]float32), g.Data().([]float32), op.fwd.qs, B, P, op.fwd.s)
	case []float64:
		ceRowsBwd(o, p.Data().([]float64), q.Data().([]float64), g.Data().([]float64), op.fwd.qs, B, P, op.fwd.s)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, p.Dtype())
	}
	return out, nil
}

// ceRowsBwd writes dz_ij = g_i s (p_ij qs_i - q_ij); g has B elements or
// one (a broadcast scalar gradient).
func ceRowsBwd[T float](out, p, q, g []T, qs []float64, B, P int, s float64) {
	parallelRange(B, max(2, 1<<14/max(P, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := float64(g[min(i, len(g)-1)]) * s
			a, c := T(gi*qs[i]), T(gi)
			rp, rq, o := p[i*P:(i+1)*P], q[i*P:(i+1)*P], out[i*P:(i+1)*P]
			for k, v := range rp {
				o[k] = a*v - c*rq[k]
			}
		}
	})
}

// ---------------------------------------------------------------------------
// Concept-label mixing of the text concept attention.

// mixOp is out = y + keep_i a for a (B, M), y (B, M) and keep (B, 1), the
// last two without gradient: it replaces a broadcast Hadamard product
// (whose Repeat materialises keep as (B, M)) and an addition.
type mixOp struct{ opBase }

func (op *mixOp) Arity() int    { return 3 }
func (op *mixOp) Type() hm.Type { return fnType([]int{2, 2, 2}, 2) }
func (op *mixOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s := shapeOf(ds[0])
	if len(s) != 2 {
		return nil, fmt.Errorf("train: %s: input shape %v, want (B, M)", op.name, s)
	}
	return s.Clone(), nil
}
func (op *mixOp) DiffWRT(int) []bool { return []bool{true, false, false} }
func (op *mixOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&mixGradOp{opBase{name: op.name + "-grad"}}, in[2], grad)
	return G.Nodes{d, nil, nil}, err
}
func (op *mixOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: %s: no automatic differentiation (use symbolic)", op.name)
}

func (op *mixOp) Do(vs ...G.Value) (G.Value, error) {
	ts, err := denseInputs(vs, 3)
	if err != nil {
		return nil, err
	}
	B, M := ts[0].Shape()[0], ts[0].Shape()[1]
	if !ts[1].Shape().Eq(ts[0].Shape()) || ts[2].Shape().TotalSize() != B {
		return nil, fmt.Errorf("train: %s: shapes %v, %v, %v", op.name, ts[0].Shape(), ts[1].Shape(), ts[2].Shape())
	}
	out := op.result(ts[0].Dtype(), B, M)
	switch o := out.Data().(type) {
	case []float32:
		mixRowsFwd(o, ts[0].Data().([]float32), ts[1].Data().([]float32), ts[2].Data().([]float32), M)
	case []float64:
		mixRowsFwd(o, ts[0].Data().([]float64), ts[1].Data().([]float64), ts[2].Data().([]float64), M)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, ts[0].Dtype())
	}
	return out, nil
}

// mixRowsFwd writes out_ik = y_ik + keep_i a_ik.
func mixRowsFwd[T float](out, a, y, keep []T, M int) {
	for i, k := range keep {
		ra, ry, o := a[i*M:(i+1)*M], y[i*M:(i+1)*M], out[i*M:(i+1)*M]
		for j, v := range ra {
			o[j] = ry[j] + k*v
		}
	}
}

// mixGradOp is da = keep_i g for inputs (keep, g).
type mixGradOp struct{ opBase }

func (op *mixGradOp) Arity() int    { return 2 }
func (op *mixGradOp) Type() hm.Type { return fnType([]int{2, 2}, 2) }
func (op *mixGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return shapeOf(ds[1]).Clone(), nil
}
func (op *mixGradOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := denseInputs(vs, 2)
	if err != nil {
		return nil, err
	}
	keep, g := in[0], in[1]
	B, M := g.Shape()[0], g.Shape()[1]
	out := op.result(g.Dtype(), B, M)
	switch o := out.Data().(type) {
	case []float32:
		mixRowsBwd(o, g.Data().([]float32), keep.Data().([]float32), M)
	case []float64:
		mixRowsBwd(o, g.Data().([]float64), keep.Data().([]float64), M)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, g.Dtype())
	}
	return out, nil
}

// mixRowsBwd writes out_ik = keep_i g_ik.
func mixRowsBwd[T float](out, g, keep []T, M int) {
	for i, k := range keep {
		rg, o := g[i*M:(i+1)*M], out[i*M:(i+1)*M]
		for j, v := range rg {
			o[j] = k * v
		}
	}
}

// ---------------------------------------------------------------------------
// Row stacking, so that products with the same right-hand side run as one
// BLAS call.

// stackOp stacks two (B, D) matrices into one (2B, D) matrix (rows of input
// k at [kB, (k+1)B)); the gradient of input k is rows [kB, (k+1)B) of the
// result's gradient (rowBlockOp).
type stackOp struct{ opBase }

func newStack() *stackOp { return &stackOp{opBase{name: "stack"}} }

func (op *stackOp) Arity() int    { return 2 }
func (op *stackOp) Type() hm.Type { return fnType([]int{2, 2}, 2) }
func (op *stackOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	a, b := shapeOf(ds[0]), shapeOf(ds[1])
	if len(a) != 2 || !a.Eq(b) {
		return nil, fmt.Errorf("train: %s: shapes %v and %v, want two equal (B, D)", op.name, a, b)
	}
	return tensor.Shape{2 * a[0], a[1]}, nil
}
func (op *stackOp) DiffWRT(int) []bool { return []bool{true, true} }
func (op *stackOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	ret := make(G.Nodes, 2)
	for k := range ret {
		d, err := G.ApplyOp(newRowBlock(k, 2), grad)
		if err != nil {
			return nil, err
		}
		ret[k] = d
	}
	return ret, nil
}
func (op *stackOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: %s: no automatic differentiation (use symbolic)", op.name)
}
func (op *stackOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := denseInputs(vs, 2)
	if err != nil {
		return nil, err
	}
	a, b := in[0], in[1]
	a, b = contiguous(a), contiguous(b)
	B, D := a.Shape()[0], a.Shape()[1]
	out := op.result(a.Dtype(), 2*B, D)
	switch o := out.Data().(type) {
	case []float32:
		copy(o, a.Data().([]float32))
		copy(o[B*D:], b.Data().([]float32))
	case []float64:
		copy(o, a.Data().([]float64))
		copy(o[B*D:], b.Data().([]float64))
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, a.Dtype())
	}
	return out, nil
}

// rowBlockOp is rows [kB, (k+1)B) of an (nB, D) matrix (a copy).
type rowBlockOp struct {
	opBase
	k, n int
}

func newRowBlock(k, n int) *rowBlockOp {
	return &rowBlockOp{opBase{name: fmt.Sprintf("rows%d/%d", k, n)}, k, n}
}

func (op *rowBlockOp) Arity() int    { return 1 }
func (op *rowBlockOp) Type() hm.Type { return fnType([]int{2}, 2) }
func (op *rowBlockOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s := shapeOf(ds[0])
	if len(s) != 2 || s[0]%op.n != 0 {
		return nil, fmt.Errorf("train: %s: input shape %v, want (%d B, D)", op.name, s, op.n)
	}
	return tensor.Shape{s[0] / op.n, s[1]}, nil
}
func (op *rowBlockOp) DiffWRT(int) []bool { return []bool{true} }
func (op *rowBlockOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	// the gradient of the whole input: grad in block k, zero elsewhere
	d, err := G.ApplyOp(&rowBlockGradOp{opBase{name: op.name + "-grad"}, op.k, op.n}, grad)
	return G.Nodes{d}, err
}
func (op *rowBlockOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: %s: no automatic differentiation (use symbolic)", op.name)
}
func (op *rowBlockOp) Do(vs ...G.Value) (G.Value, error) {
	x, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	x = contiguous(x)
	B, D := x.Shape()[0]/op.n, x.Shape()[1]
	out := op.result(x.Dtype(), B, D)
	switch o := out.Data().(type) {
	case []float32:
		copy(o, x.Data().([]float32)[op.k*B*D:(op.k+1)*B*D])
	case []float64:
		copy(o, x.Data().([]float64)[op.k*B*D:(op.k+1)*B*D])
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, x.Dtype())
	}
	return out, nil
}

// rowBlockGradOp places a (B, D) gradient into block k of an (nB, D) zero
// matrix (the gradient of rowBlockOp; gorgonia adds the blocks' gradients).
type rowBlockGradOp struct {
	opBase
	k, n int
}

func (op *rowBlockGradOp) Arity() int    { return 1 }
func (op *rowBlockGradOp) Type() hm.Type { return fnType([]int{2}, 2) }
func (op *rowBlockGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s := shapeOf(ds[0])
	return tensor.Shape{s[0] * op.n, s[1]}, nil
}
func (op *rowBlockGradOp) Do(vs ...G.Value) (G.Value, error) {
	g, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	g = contiguous(g)
	B, D := g.Shape()[0], g.Shape()[1]
	out := op.result(g.Dtype(), op.n*B, D)
	switch o := out.Data().(type) {
	case []float32:
		clear(o)
		copy(o[op.k*B*D:], g.Data().([]float32))
	case []float64:
		clear(o)
		copy(o[op.k*B*D:], g.Data().([]float64))
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, g.Dtype())
	}
	return out, nil
}
