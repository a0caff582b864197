package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestGRUSeqMatchesPrimitiveGraph checks the fused bi-GRU op (gruSeqOp and
// its hand-written backpropagation through time) against the same GRU
// unrolled from gorgonia primitives (the session-1 implementation: per step
// ByIndices, Mul, BroadcastAdd, Sigmoid, Tanh, HadamardProd) with
// gorgonia's own symbolic gradients: the outputs and the gradients of the
// inputs and of every weight, in float64, for both directions, with
// captions of different lengths (padding).
func TestGRUSeqMatchesPrimitiveGraph(t *testing.T) {
	const T, B, D, Wd = 4, 3, 5, 6
	lengths := []int{4, 2, 1}
	rng := rand.New(rand.NewPCG(7, 11))
	randT := func(shape ...int) *tensor.Dense {
		n := 1
		for _, s := range shape {
			n *= s
		}
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.Float64() - 0.5
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	x := randT(T*B, Wd) // time-major rows t*B+b
	maskTB := make([]float64, T*B)
	for tt := range T {
		for b := range B {
			if tt < lengths[b] {
				maskTB[tt*B+b] = 1
			}
		}
	}
	names := []string{"Wz", "Wr", "Wn", "bz", "br", "bn", "Uz", "Ur", "Un"}
	weights := map[string]*tensor.Dense{}
	for _, n := range names {
		switch n[0] {
		case 'W':
			weights[n] = randT(Wd, D)
		case 'b':
			weights[n] = randT(1, D)
		default:
			weights[n] = randT(D, D)
		}
	}
	seed := randT(B, D) // cost = sum(out * seed)

	// run builds a graph with build, compiles the gradient of the cost
	// with respect to x and the weights, runs it and returns the output and
	// the gradients by name.
	run := func(build func(g *G.ExprGraph, x *G.Node, w map[string]*G.Node) *G.Node) (*tensor.Dense, map[string]*tensor.Dense) {
		g := G.NewGraph()
		xn := G.NewMatrix(g, tensor.Float64, G.WithShape(T*B, Wd), G.WithName("x"), G.WithValue(x.Clone()))
		w := map[string]*G.Node{}
		wrt := G.Nodes{xn}
		for _, n := range names {
			w[n] = G.NewMatrix(g, tensor.Float64, G.WithShape(weights[n].Shape()...), G.WithName(n), G.WithValue(weights[n].Clone()))
			wrt = append(wrt, w[n])
		}
		out := build(g, xn, w)
		sn := G.NewMatrix(g, tensor.Float64, G.WithShape(B, D), G.WithName("seed"), G.WithValue(seed.Clone()))
		cost := G.Must(G.Sum(G.Must(G.HadamardProd(out, sn))))
		grads, err := G.Grad(cost, wrt...)
		if err != nil {
			t.Fatal(err)
		}
		var outV G.Value
		G.Read(out, &outV)
		vm := G.NewTapeMachine(g)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		got := map[string]*tensor.Dense{}
		for i, n := range append([]string{"x"}, names...) {
			got[n] = grads[i].Value().(*tensor.Dense).Clone().(*tensor.Dense)
		}
		return outV.(*tensor.Dense).Clone().(*tensor.Dense), got
	}

	for _, reverse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reverse=%v", reverse), func(t *testing.T) {
			fused := func(g *G.ExprGraph, xn *G.Node, w map[string]*G.Node) *G.Node {
				m := G.NewVector(g, tensor.Float64, G.WithShape(T*B), G.WithName("mask"),
					G.WithValue(tensor.New(tensor.WithShape(T*B), tensor.WithBacking(append([]float64(nil), maskTB...)))))
				op := newGRUSeq(T, B, D, Wd, reverse, "ref")
				return G.Must(G.ApplyOp(op, xn, m, w["Wz"], w["Wr"], w["Wn"], w["bz"], w["br"], w["bn"], w["Uz"], w["Ur"], w["Un"]))
			}
			primitive := func(g *G.ExprGraph, xn *G.Node, w map[string]*G.Node) *G.Node {
				xs := make([]*G.Node, T)
				masks := make([]*G.Node, T)
				for tt := range T {
					idx := make([]int, B)
					mv := make([]float64, B*D)
					for b := range B {
						idx[b] = tt*B + b
						for d := range D {
							mv[b*D+d] = maskTB[tt*B+b]
						}
					}
					in := G.NewVector(g, tensor.Int, G.WithShape(B), G.WithName(fmt.Sprintf("idx%d", tt)), G.WithValue(tensor.New(tensor.WithBacking(idx))))
					xs[tt] = G.Must(G.ByIndices(xn, in, 0))
					masks[tt] = G.NewMatrix(g, tensor.Float64, G.WithShape(B, D), G.WithName(fmt.Sprintf("m%d", tt)),
						G.WithValue(tensor.New(tensor.WithShape(B, D), tensor.WithBacking(mv))))
				}
				cell := func(x, h *G.Node) *G.Node {
					gate := func(s string) (*G.Node, *G.Node) {
						xg := affine(x, w["W"+s], w["b"+s])
						if h == nil {
							return xg, nil
						}
						return xg, G.Must(G.Mul(h, w["U"+s]))
					}
					xz, hz := gate("z")
					xr, hr := gate("r")
					xn, hn := gate("n")
					if h == nil {
						z := G.Must(G.Sigmoid(xz))
						n := G.Must(G.Tanh(xn))
						return G.Must(G.Sub(n, G.Must(G.HadamardProd(z, n))))
					}
					z := G.Must(G.Sigmoid(G.Must(G.Add(xz, hz))))
					r := G.Must(G.Sigmoid(G.Must(G.Add(xr, hr))))
					n := G.Must(G.Tanh(G.Must(G.Add(xn, G.Must(G.HadamardProd(r, hn))))))
					return G.Must(G.Add(n, G.Must(G.HadamardProd(z, G.Must(G.Sub(h, n))))))
				}
				var h, acc *G.Node
				add := func(v *G.Node) {
					if acc == nil {
						acc = v
					} else {
						acc = G.Must(G.Add(acc, v))
					}
				}
				steps := make([]int, T)
				for i := range steps {
					steps[i] = i
					if reverse {
						steps[i] = T - 1 - i
					}
				}
				for _, tt := range steps {
					hNew := G.Must(G.HadamardProd(cell(xs[tt], h), masks[tt]))
					if h == nil {
						h = hNew
					} else {
						h = G.Must(G.Add(h, G.Must(G.Sub(hNew, G.Must(G.HadamardProd(h, masks[tt]))))))
					}
					if reverse {
						add(h) // zero on the padding, where the backward pass starts
					} else {
						add(G.Must(G.HadamardProd(h, masks[tt])))
					}
				}
				return acc
			}
			outF, gradF := run(fused)
			outP, gradP := run(primitive)
			closeTo(t, "output", outF, outP)
			for _, n := range append([]string{"x"}, names...) {
				closeTo(t, "d/d"+n, gradF[n], gradP[n])
			}
		})
	}
}

func closeTo(t *testing.T, what string, a, b *tensor.Dense) {
	t.Helper()
	av, bv := a.Data().([]float64), b.Data().([]float64)
	if len(av) != len(bv) {
		t.Fatalf("%s: %d values against %d", what, len(av), len(bv))
	}
	for i := range av {
		if math.Abs(av[i]-bv[i]) > 1e-9*(1+math.Abs(bv[i])) {
			t.Fatalf("%s[%d]: fused %.12g, primitive graph %.12g", what, i, av[i], bv[i])
		}
	}
}

// TestBiGRUMatchesTwoDirections checks the two-direction op (biGRUOp, both
// directions side by side with serial row passes and single-threaded
// BLAS) bit for bit against the sum of two gruSeqOps run one after the
// other: the output and the gradients of X and of all 18 weights, in
// float32 (D a multiple of 4: the SSE2 row kernel in the openblas build)
// and float64, twice in a row (the second run reuses every buffer).
func TestBiGRUMatchesTwoDirections(t *testing.T) {
	const T, B, D, Wd = 5, 7, 8, 6
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 5))
			val := func(shape ...int) *tensor.Dense {
				d := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
				switch v := d.Data().(type) {
				case []float32:
					for i := range v {
						v[i] = float32(rng.Float64() - 0.5)
					}
				case []float64:
					for i := range v {
						v[i] = rng.Float64() - 0.5
					}
				}
				return d
			}
			lengths := []int{5, 3, 1, 4, 5, 2, 5}
			mask := tensor.New(tensor.Of(dt), tensor.WithShape(T*B))
			for tt := range T {
				for b, l := range lengths {
					if tt < l {
						switch v := mask.Data().(type) {
						case []float32:
							v[tt*B+b] = 1
						case []float64:
							v[tt*B+b] = 1
						}
					}
				}
			}
			x, seed := val(T*B, Wd), val(B, D)
			names := []string{"Wz", "Wr", "Wn", "bz", "br", "bn", "Uz", "Ur", "Un"}
			weights := map[string]*tensor.Dense{}
			for _, d := range []string{"f", "b"} {
				for _, n := range names {
					switch n[0] {
					case 'W':
						weights[d+n] = val(Wd, D)
					case 'b':
						weights[d+n] = val(1, D)
					default:
						weights[d+n] = val(D, D)
					}
				}
			}
			run := func(bi bool) []*tensor.Dense {
				g := G.NewGraph()
				in := func(name string, v *tensor.Dense) *G.Node {
					return G.NodeFromAny(g, v.Clone(), G.WithName(name))
				}
				xn, mn := in("x", x), in("mask", mask)
				args := G.Nodes{xn, mn}
				wrt := G.Nodes{xn}
				for _, d := range []string{"f", "b"} {
					for _, n := range names {
						w := in(d+n, weights[d+n])
						args, wrt = append(args, w), append(wrt, w)
					}
				}
				var out *G.Node
				if bi {
					out = G.Must(G.ApplyOp(newBiGRU(T, B, D, Wd, "t"), args...))
				} else {
					dir := func(d int, reverse bool) *G.Node {
						a := append(G.Nodes{xn, mn}, args[2+9*d:2+9*(d+1)]...)
						return G.Must(G.ApplyOp(newGRUSeq(T, B, D, Wd, reverse, fmt.Sprint(d)), a...))
					}
					out = G.Must(G.Add(dir(0, false), dir(1, true)))
				}
				cost := G.Must(G.Sum(G.Must(G.HadamardProd(out, in("seed", seed)))))
				grads, err := G.Grad(cost, wrt...)
				if err != nil {
					t.Fatal(err)
				}
				var outV G.Value
				G.Read(out, &outV)
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				var res []*tensor.Dense
				for range 2 {
					vm.Reset()
					if err := vm.RunAll(); err != nil {
						t.Fatal(err)
					}
					res = []*tensor.Dense{outV.(*tensor.Dense).Clone().(*tensor.Dense)}
					for _, gr := range grads {
						res = append(res, gr.Value().(*tensor.Dense).Clone().(*tensor.Dense))
					}
				}
				return res
			}
			got, want := run(true), run(false)
			for i := range got {
				name := []string{"output", "d/dx"}[min(i, 1)]
				if i >= 2 {
					name = "d/d" + []string{"f.", "b."}[(i-2)/9] + names[(i-2)%9]
				}
				if !sameBits(got[i], want[i]) {
					t.Errorf("%s differs:\n bi  %v\n seq %v", name, got[i].Data(), want[i].Data())
				}
			}
		})
	}
}

// sameBits reports whether two tensors hold the same values bit for bit.
func sameBits(a, b *tensor.Dense) bool {
	switch av := a.Data().(type) {
	case []float32:
		bv := b.Data().([]float32)
		for i := range av {
			if math.Float32bits(av[i]) != math.Float32bits(bv[i]) {
				return false
			}
		}
		return len(av) == len(bv)
	case []float64:
		bv := b.Data().([]float64)
		for i := range av {
			if math.Float64bits(av[i]) != math.Float64bits(bv[i]) {
				return false
			}
		}
		return len(av) == len(bv)
	}
	return false
}
