package train

import (
	"fmt"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gemmOp is the matrix product C = op(A) op(B) of two 2-D nodes, op the
// transpose when ta (tb) is set, by one BLAS call (blas32/blas64, which
// internal/blasimpl points at the BLAS gorgonia uses) into a result the op
// owns and reuses across runs (see opBase.result). It replaces gorgonia's
// Mul and the batched product mulT used for x y^T: those allocate and zero
// a new result every run (about 80 results per training step). Its
// gradients are gemmOps too:
//
//	dA = dC op(B)^T   (op(B) dC^T when ta)
//	dB = op(A)^T dC   (dC^T op(A) when tb)
type gemmOp struct {
	opBase
	ta, tb bool
}

// gemmNode is op(a) op(b) as a gemmOp node.
func gemmNode(a, b *G.Node, ta, tb bool) *G.Node {
	return G.Must(G.ApplyOp(&gemmOp{opBase{name: fmt.Sprintf("gemm(%v,%v)", ta, tb)}, ta, tb}, a, b))
}

func (op *gemmOp) Arity() int    { return 2 }
func (op *gemmOp) Type() hm.Type { return fnType([]int{2, 2}, 2) }

// dims returns (m, k) of op(A) and (k2, n) of op(B).
func (op *gemmOp) dims(a, b tensor.Shape) (m, k, k2, n int, err error) {
	if len(a) != 2 || len(b) != 2 {
		return 0, 0, 0, 0, fmt.Errorf("train: %s: shapes %v and %v, want matrices", op.name, a, b)
	}
	m, k, k2, n = a[0], a[1], b[0], b[1]
	if op.ta {
		m, k = k, m
	}
	if op.tb {
		k2, n = n, k2
	}
	if k != k2 {
		return 0, 0, 0, 0, fmt.Errorf("train: %s: shapes %v and %v do not match", op.name, a, b)
	}
	return m, k, k2, n, nil
}

func (op *gemmOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	m, _, _, n, err := op.dims(shapeOf(ds[0]), shapeOf(ds[1]))
	if err != nil {
		return nil, err
	}
	return tensor.Shape{m, n}, nil
}

func (op *gemmOp) DiffWRT(int) []bool { return []bool{true, true} }
func (op *gemmOp) SymDiff(in G.Nodes, out, grad *G.Node) (ret G.Nodes, err error) {
	defer func() {
		if r := recover(); r != nil {
			ret, err = nil, fmt.Errorf("train: %s gradient: %v", op.name, r)
		}
	}()
	a, b := in[0], in[1]
	var da, db *G.Node
	if op.ta {
		da = gemmNode(b, grad, op.tb, true)
	} else {
		da = gemmNode(grad, b, false, !op.tb)
	}
	if op.tb {
		db = gemmNode(grad, a, true, op.ta)
	} else {
		db = gemmNode(a, grad, !op.ta, false)
	}
	return G.Nodes{da, db}, nil
}
func (op *gemmOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: %s: no automatic differentiation (use symbolic)", op.name)
}

// contiguous returns t itself or, for a view, a materialised copy.
func contiguous(t *tensor.Dense) *tensor.Dense {
	if t.RequiresIterator() {
		return t.Materialize().(*tensor.Dense)
	}
	return t
}

func (op *gemmOp) Do(vs ...G.Value) (G.Value, error) {
	in, err := denseInputs(vs, 2)
	if err != nil {
		return nil, err
	}
	a, b := in[0], in[1]
	a, b = contiguous(a), contiguous(b)
	m, _, _, n, err := op.dims(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	if a.Dtype() != b.Dtype() {
		return nil, fmt.Errorf("train: %s: dtypes %v and %v", op.name, a.Dtype(), b.Dtype())
	}
	out := op.result(a.Dtype(), m, n)
	ta, tb := blas.NoTrans, blas.NoTrans
	if op.ta {
		ta = blas.Trans
	}
	if op.tb {
		tb = blas.Trans
	}
	ar, ac, br, bc := a.Shape()[0], a.Shape()[1], b.Shape()[0], b.Shape()[1]
	switch o := out.Data().(type) {
	case []float32:
		blas32.Gemm(ta, tb, 1,
			blas32.General{Rows: ar, Cols: ac, Stride: ac, Data: a.Data().([]float32)},
			blas32.General{Rows: br, Cols: bc, Stride: bc, Data: b.Data().([]float32)},
			0, blas32.General{Rows: m, Cols: n, Stride: n, Data: o})
	case []float64:
		blas64.Gemm(ta, tb, 1,
			blas64.General{Rows: ar, Cols: ac, Stride: ac, Data: a.Data().([]float64)},
			blas64.General{Rows: br, Cols: bc, Stride: bc, Data: b.Data().([]float64)},
			0, blas64.General{Rows: m, Cols: n, Stride: n, Data: o})
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, a.Dtype())
	}
	return out, nil
}

// affineOp is x W + b for x (n, k), W (k, m) and b (1, m): the rows of the
// result are set to b and the product added by the BLAS call (beta = 1),
// replacing a product, gorgonia's broadcast (which materialises b as
// (n, m)) and an addition. Gradients: dx = dC W^T and dW = x^T dC (gemmOp),
// db = the column sums of dC (colSumOp).
type affineOp struct{ opBase }

func (op *affineOp) Arity() int    { return 3 }
func (op *affineOp) Type() hm.Type { return fnType([]int{2, 2, 2}, 2) }
func (op *affineOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	x, w, b := shapeOf(ds[0]), shapeOf(ds[1]), shapeOf(ds[2])
	if len(x) != 2 || len(w) != 2 || len(b) != 2 || x[1] != w[0] || b[0] != 1 || b[1] != w[1] {
		return nil, fmt.Errorf("train: %s: shapes %v, %v, %v, want (n, k), (k, m), (1, m)", op.name, x, w, b)
	}
	return tensor.Shape{x[0], w[1]}, nil
}
func (op *affineOp) DiffWRT(int) []bool { return []bool{true, true, true} }
func (op *affineOp) SymDiff(in G.Nodes, out, grad *G.Node) (ret G.Nodes, err error) {
	defer func() {
		if r := recover(); r != nil {
			ret, err = nil, fmt.Errorf("train: %s gradient: %v", op.name, r)
		}
	}()
	db := G.Must(G.ApplyOp(&colSumOp{opBase{name: op.name + "-db"}}, grad))
	return G.Nodes{gemmNode(grad, in[1], false, true), gemmNode(in[0], grad, true, false), db}, nil
}
func (op *affineOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: %s: no automatic differentiation (use symbolic)", op.name)
}

func (op *affineOp) Do(vs ...G.Value) (G.Value, error) {
	var ts [3]*tensor.Dense
	for i, v := range vs {
		d, err := dense(v)
		if err != nil {
			return nil, err
		}
		ts[i] = contiguous(d)
	}
	x, w, b := ts[0], ts[1], ts[2]
	n, k, m := x.Shape()[0], x.Shape()[1], w.Shape()[1]
	if w.Shape()[0] != k || b.Shape().TotalSize() != m {
		return nil, fmt.Errorf("train: %s: shapes %v, %v, %v", op.name, x.Shape(), w.Shape(), b.Shape())
	}
	out := op.result(x.Dtype(), n, m)
	switch o := out.Data().(type) {
	case []float32:
		bd := b.Data().([]float32)
		for i := range n {
			copy(o[i*m:(i+1)*m], bd)
		}
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1,
			blas32.General{Rows: n, Cols: k, Stride: k, Data: x.Data().([]float32)},
			blas32.General{Rows: k, Cols: m, Stride: m, Data: w.Data().([]float32)},
			1, blas32.General{Rows: n, Cols: m, Stride: m, Data: o})
	case []float64:
		bd := b.Data().([]float64)
		for i := range n {
			copy(o[i*m:(i+1)*m], bd)
		}
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1,
			blas64.General{Rows: n, Cols: k, Stride: k, Data: x.Data().([]float64)},
			blas64.General{Rows: k, Cols: m, Stride: m, Data: w.Data().([]float64)},
			1, blas64.General{Rows: n, Cols: m, Stride: m, Data: o})
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, x.Dtype())
	}
	return out, nil
}

// colSumOp is the (1, m) column sums of an (n, m) matrix (colSums).
type colSumOp struct{ opBase }

func (op *colSumOp) Arity() int    { return 1 }
func (op *colSumOp) Type() hm.Type { return fnType([]int{2}, 2) }
func (op *colSumOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	s := shapeOf(ds[0])
	if len(s) != 2 {
		return nil, fmt.Errorf("train: %s: input shape %v, want (n, m)", op.name, s)
	}
	return tensor.Shape{1, s[1]}, nil
}
func (op *colSumOp) Do(vs ...G.Value) (G.Value, error) {
	g, err := dense(vs[0])
	if err != nil {
		return nil, err
	}
	g = contiguous(g)
	n, m := g.Shape()[0], g.Shape()[1]
	out := op.result(g.Dtype(), 1, m)
	switch o := out.Data().(type) {
	case []float32:
		colSums(o, g.Data().([]float32), n, m)
	case []float64:
		colSums(o, g.Data().([]float64), n, m)
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, g.Dtype())
	}
	return out, nil
}
