package train

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestGemmAffineOpsMatchLoops checks gemmOp (all four transpose cases),
// affineOp and colSumOp, float32 and float64, against plain loops, and that
// a second run into the reused result overwrites it.
func TestGemmAffineOpsMatchLoops(t *testing.T) {
	rng := rand.New(rand.NewSource(15))
	const m, k, n = 5, 7, 3
	mat := func(dt tensor.Dtype, r, c int) (*tensor.Dense, []float64) {
		v := make([]float64, r*c)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		t := tensor.New(tensor.Of(dt), tensor.WithShape(r, c))
		switch d := t.Data().(type) {
		case []float32:
			for i, x := range v {
				d[i] = float32(x)
				v[i] = float64(d[i])
			}
		case []float64:
			copy(d, v)
		}
		return t, v
	}
	get := func(x any) []float64 {
		switch d := x.(type) {
		case []float32:
			out := make([]float64, len(d))
			for i, v := range d {
				out[i] = float64(v)
			}
			return out
		case []float64:
			return append([]float64(nil), d...)
		}
		return nil
	}
	check := func(what string, got, want []float64, tol float64) {
		t.Helper()
		for i := range want {
			if math.Abs(got[i]-want[i]) > tol*math.Max(1, math.Abs(want[i])) {
				t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
			}
		}
	}
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		tol := 1e-12
		if dt == tensor.Float32 {
			tol = 1e-5
		}
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			op := &gemmOp{opBase{name: "t"}, tr[0], tr[1]}
			for run := range 2 {
				ar, ac, br, bc := m, k, k, n
				if tr[0] {
					ar, ac = k, m
				}
				if tr[1] {
					br, bc = n, k
				}
				a, av := mat(dt, ar, ac)
				b, bv := mat(dt, br, bc)
				at := func(i, j int) float64 {
					if tr[0] {
						return av[j*ac+i]
					}
					return av[i*ac+j]
				}
				bt := func(i, j int) float64 {
					if tr[1] {
						return bv[j*bc+i]
					}
					return bv[i*bc+j]
				}
				want := make([]float64, m*n)
				for i := range m {
					for j := range n {
						for l := range k {
							want[i*n+j] += at(i, l) * bt(l, j)
						}
					}
				}
				v, err := op.Do(a, b)
				if err != nil {
					t.Fatal(err)
				}
				check(op.name+" run "+string(rune('0'+run)), get(v.Data()), want, tol)
			}
		}
		aff, cs := &affineOp{opBase{name: "affine"}}, &colSumOp{opBase{name: "colsum"}}
		for range 2 {
			x, xv := mat(dt, m, k)
			w, wv := mat(dt, k, n)
			b, bv := mat(dt, 1, n)
			want := make([]float64, m*n)
			sums := make([]float64, n)
			for i := range m {
				for j := range n {
					want[i*n+j] = bv[j]
					for l := range k {
						want[i*n+j] += xv[i*k+l] * wv[l*n+j]
					}
					sums[j] += xv[i*k+j%k]
				}
			}
			v, err := aff.Do(x, w, b)
			if err != nil {
				t.Fatal(err)
			}
			check("affine", get(v.Data()), want, tol)
			// column sums of the first n columns of x
			xs, _ := mat(dt, m, n)
			xsv := get(xs.Data())
			for j := range n {
				sums[j] = 0
				for i := range m {
					sums[j] += xsv[i*n+j]
				}
			}
			s, err := cs.Do(xs)
			if err != nil {
				t.Fatal(err)
			}
			check("colsum", get(s.Data()), sums, tol)
		}
	}
}

// TestGemmOpGradients checks the symbolic gradients of gemmOp for all four
// transpose cases (float64 graph) against finite differences of
// L = sum(R .* op(A) op(B)).
func TestGemmOpGradients(t *testing.T) {
	rng := rand.New(rand.NewSource(16))
	const m, k, n = 4, 3, 5
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		ar, ac, br, bc := m, k, k, n
		if tr[0] {
			ar, ac = k, m
		}
		if tr[1] {
			br, bc = n, k
		}
		rnd := func(r, c int) *tensor.Dense {
			v := make([]float64, r*c)
			for i := range v {
				v[i] = rng.NormFloat64()
			}
			return tensor.New(tensor.WithShape(r, c), tensor.WithBacking(v))
		}
		a, b, r := rnd(ar, ac), rnd(br, bc), rnd(m, n)
		loss := func() float64 {
			v, err := (&gemmOp{opBase{name: "t"}, tr[0], tr[1]}).Do(a, b)
			if err != nil {
				t.Fatal(err)
			}
			var s float64
			for i, x := range v.Data().([]float64) {
				s += x * r.Data().([]float64)[i]
			}
			return s
		}
		g := G.NewGraph()
		an, bn := G.NodeFromAny(g, a, G.WithName("a")), G.NodeFromAny(g, b, G.WithName("b"))
		rn := G.NodeFromAny(g, r, G.WithName("r"))
		l := G.Must(G.Sum(G.Must(G.HadamardProd(gemmNode(an, bn, tr[0], tr[1]), rn))))
		grads, err := G.Grad(l, an, bn)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		for gi, x := range []*tensor.Dense{a, b} {
			ana := grads[gi].Value().Data().([]float64)
			d := x.Data().([]float64)
			for i := range d {
				orig := d[i]
				d[i] = orig + 1e-6
				lp := loss()
				d[i] = orig - 1e-6
				lm := loss()
				d[i] = orig
				if num := (lp - lm) / 2e-6; math.Abs(num-ana[i]) > 1e-6*math.Max(1, math.Abs(num)) {
					t.Fatalf("trans %v: d%c[%d] = %g, want %g", tr, "ab"[gi], i, ana[i], num)
				}
			}
		}
		vm.Close()
	}
}

// TestStackRowBlockOps checks stackOp and rowBlockOp (forward: the rows
// of each input come back unchanged; backward: the gradient of each input
// is its block of the upstream gradient) in a float64 graph, run twice.
func TestStackRowBlockOps(t *testing.T) {
	rng := rand.New(rand.NewSource(18))
	const B, D = 3, 4
	rnd := func() *tensor.Dense {
		v := make([]float64, B*D)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return tensor.New(tensor.WithShape(B, D), tensor.WithBacking(v))
	}
	a, b, r0, r1 := rnd(), rnd(), rnd(), rnd()
	g := G.NewGraph()
	an, bn := G.NodeFromAny(g, a, G.WithName("a")), G.NodeFromAny(g, b, G.WithName("b"))
	y := G.Must(G.ApplyOp(newStack(), an, bn))
	z0 := G.Must(G.ApplyOp(newRowBlock(0, 2), y))
	z1 := G.Must(G.ApplyOp(newRowBlock(1, 2), y))
	l := G.Must(G.Add(G.Must(G.Sum(G.Must(G.HadamardProd(z0, G.NodeFromAny(g, r0, G.WithName("r0")))))),
		G.Must(G.Sum(G.Must(G.HadamardProd(z1, G.NodeFromAny(g, r1, G.WithName("r1"))))))))
	grads, err := G.Grad(l, an, bn)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	for run := range 2 {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		for k, c := range []struct{ got, want []float64 }{
			{z0.Value().Data().([]float64), a.Data().([]float64)},
			{z1.Value().Data().([]float64), b.Data().([]float64)},
			{grads[0].Value().Data().([]float64), r0.Data().([]float64)},
			{grads[1].Value().Data().([]float64), r1.Data().([]float64)},
		} {
			for i := range c.want {
				if c.got[i] != c.want[i] {
					t.Fatalf("run %d check %d [%d]: %g, want %g", run, k, i, c.got[i], c.want[i])
				}
			}
		}
		vm.Reset()
	}
}
