package train

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// biGRUOp is the bi-GRU text encoder as one op: both directions (each a
// gruSeqOp, see gru.go) over the same embedded tokens, returning the sum of
// their outputs. The directions are independent until that sum, so the op
// runs them side by side, one goroutine each, with single-threaded BLAS
// calls (serialBLAS) and serial row passes: at B = 128, D = 256 the
// recurrence is a chain of small products with elementwise passes between
// them, which a threaded BLAS spreads over both cores only at the price of
// waking its worker threads for every product; two independent chains keep
// both cores busy instead. Every value is computed by the same operations as
// in a sequential run (rows and products are independent of the split), so
// the result does not depend on the scheduling.
//
// Inputs: X (T*B, Wd), mask (T*B), then the nine weights of the forward
// direction and the nine of the backward one, each in gruSeqOp's order
// (Wz, Wr, Wn, bz, br, bn, Uz, Ur, Un).
type biGRUOp struct {
	opBase
	dir [2]*gruSeqOp     // forward, backward
	out [2]*tensor.Dense // each direction's output
}

// biGRU input positions: X and mask, then biGRUWeights per direction.
const (
	biGRUWeights = gruInputs - gruWz
	biGRUInputs  = 2 + 2*biGRUWeights
)

func newBiGRU(T, B, D, Wd int, id string) *biGRUOp {
	op := &biGRUOp{opBase: opBase{name: fmt.Sprintf("biGRU-%s(%d,%d,%d,%d)", id, T, B, D, Wd)}}
	for d, reverse := range []bool{false, true} {
		op.dir[d] = newGRUSeq(T, B, D, Wd, reverse, fmt.Sprintf("%s%d", id, d))
		op.dir[d].serial = true
	}
	return op
}

func (op *biGRUOp) Arity() int { return biGRUInputs }
func (op *biGRUOp) Type() hm.Type {
	in := make([]int, biGRUInputs)
	for i := range in {
		in[i] = 2
	}
	in[gruMask] = 1
	return fnType(in, 2)
}
func (op *biGRUOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.dir[0].B, op.dir[0].D}, nil
}
func (op *biGRUOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = i != gruMask
	}
	return d
}

// biGRUDirInputs returns direction d's inputs in gruSeqOp's order.
func biGRUDirInputs[V any](vs []V, d int) []V {
	out := make([]V, 0, gruInputs)
	out = append(out, vs[gruX], vs[gruMask])
	return append(out, vs[2+d*biGRUWeights:2+(d+1)*biGRUWeights]...)
}

// SymDiff returns the gradient of X from biGRUBwdOp (which runs both
// directions' backpropagation) and every weight gradient through a
// gruGradOp of its direction that reads it after that op.
func (op *biGRUOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	bin := G.Nodes{out, grad, in[gruX], in[gruMask]}
	for d := range op.dir {
		w := biGRUDirInputs(in, d)
		bin = append(bin, w[gruWz], w[gruWr], w[gruWn], w[gruUz], w[gruUr], w[gruUn])
	}
	dx, err := G.ApplyOp(&biGRUBwdOp{opBase: opBase{name: op.name + "-bwd"}, fwd: op}, bin...)
	if err != nil {
		return nil, err
	}
	ret := make(G.Nodes, len(in))
	ret[gruX] = dx
	for d, f := range op.dir {
		for i := gruWz; i < gruInputs; i++ {
			k := 2 + d*biGRUWeights + i - gruWz
			if ret[k], err = G.ApplyOp(&gruGradOp{opBase{name: fmt.Sprintf("%s-grad%d", f.name, i)}, f, i, in[k].Shape().Clone()}, dx); err != nil {
				return nil, err
			}
		}
	}
	return ret, nil
}

func (op *biGRUOp) DoDiff(G.ExecutionContext, G.Nodes, *G.Node) error {
	return fmt.Errorf("train: %s: no automatic differentiation (use symbolic)", op.name)
}

func (op *biGRUOp) Do(vs ...G.Value) (G.Value, error) {
	ts, err := denseInputs(vs, biGRUInputs)
	if err != nil {
		return nil, err
	}
	dt := ts[gruX].Dtype()
	B, D := op.dir[0].B, op.dir[0].D
	for d, f := range op.dir {
		f.cache(dt)
		if op.out[d] == nil || op.out[d].Dtype() != dt {
			op.out[d] = newLike(dt, B, D)
		}
	}
	res := op.result(dt, B, D)
	switch dt {
	case tensor.Float32:
		in := f32s(ts)
		bothDirections(func(d int) { gruForward(op.dir[d], op.dir[d].c, biGRUDirInputs(in, d), data[float32](op.out[d])) })
		addInto(data[float32](res), data[float32](op.out[0]), data[float32](op.out[1]))
	case tensor.Float64:
		in := f64s(ts)
		bothDirections(func(d int) { gruForward(op.dir[d], op.dir[d].c, biGRUDirInputs(in, d), data[float64](op.out[d])) })
		addInto(data[float64](res), data[float64](op.out[0]), data[float64](op.out[1]))
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, dt)
	}
	return res, nil
}

// bothDirections runs pair(f) with single-threaded BLAS calls.
func bothDirections(f func(d int)) {
	serialBLAS(func() { pair(func(d int) { serialThread(func() { f(d) }) }) })
}

// addInto sets dst = a + b.
func addInto[T float](dst, a, b []T) {
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// biGRUBwdOp backpropagates through both directions of its biGRUOp (side
// by side, as the forward op runs them); it stores every weight gradient
// in its direction's cache (read by gruGradOps) and returns the gradient of
// X, the sum of the two directions'. Inputs: (output, gradient, X, mask,
// then Wz, Wr, Wn, Uz, Ur, Un of the forward and of the backward
// direction); the dependency on the output orders it after the forward op,
// and taking X and the weights as inputs keeps the tape machine from
// reusing their memory before it runs.
type biGRUBwdOp struct {
	opBase
	fwd *biGRUOp
}

const biGRUBwdInputs = gbW + 2*6

func (op *biGRUBwdOp) Arity() int { return biGRUBwdInputs }
func (op *biGRUBwdOp) Type() hm.Type {
	in := make([]int, biGRUBwdInputs)
	for i := range in {
		in[i] = 2
	}
	in[gbMask] = 1
	return fnType(in, 2)
}
func (op *biGRUBwdOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	f := op.fwd.dir[0]
	return tensor.Shape{f.T * f.B, f.Wd}, nil
}

func (op *biGRUBwdOp) Do(vs ...G.Value) (G.Value, error) {
	ts, err := denseInputs(vs, biGRUBwdInputs)
	if err != nil {
		return nil, err
	}
	dt := ts[gbGrad].Dtype()
	for _, f := range op.fwd.dir {
		if f.c == nil || f.c.h.Dtype() != dt {
			return nil, fmt.Errorf("train: %s: the forward op has not run", op.name)
		}
		f.grads(dt)
	}
	f := op.fwd.dir[0]
	res := op.result(dt, f.T*f.B, f.Wd)
	// direction d's inputs in gruBwdOp's order
	dirIn := func(d int) []*tensor.Dense {
		in := append([]*tensor.Dense(nil), ts[:gbW]...)
		return append(in, ts[gbW+6*d:gbW+6*(d+1)]...)
	}
	dx := func(d int) *tensor.Dense { return op.fwd.dir[d].c.grad[gruX] }
	switch dt {
	case tensor.Float32:
		bothDirections(func(d int) { gruBackward(op.fwd.dir[d], op.fwd.dir[d].c, f32s(dirIn(d))) })
		addInto(data[float32](res), data[float32](dx(0)), data[float32](dx(1)))
	case tensor.Float64:
		bothDirections(func(d int) { gruBackward(op.fwd.dir[d], op.fwd.dir[d].c, f64s(dirIn(d))) })
		addInto(data[float64](res), data[float64](dx(0)), data[float64](dx(1)))
	default:
		return nil, fmt.Errorf("train: %s: dtype %v", op.name, dt)
	}
	return res, nil
}
