package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// biGRUEdgeCase is one shape and token mask of TestBiGRUEdgeCases.
type biGRUEdgeCase struct {
	T, B, D, Wd int
	mask        func(t, b int) float64
}

// biGRUEdgeInputs returns random inputs of biGRUOp for c in dtype dt:
// X, the mask, then the nine weights of each direction.
func biGRUEdgeInputs(c biGRUEdgeCase, dt tensor.Dtype, rng *rand.Rand) []*tensor.Dense {
	vals := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.Float64()*2 - 1
		}
		return v
	}
	mk := func(v []float64, shape ...int) *tensor.Dense {
		if dt == tensor.Float32 {
			f := make([]float32, len(v))
			for i, x := range v {
				f[i] = float32(x)
			}
			return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	m := make([]float64, c.T*c.B)
	for t := range c.T {
		for b := range c.B {
			m[t*c.B+b] = c.mask(t, b)
		}
	}
	in := []*tensor.Dense{mk(vals(c.T*c.B*c.Wd), c.T*c.B, c.Wd), mk(m, c.T*c.B)}
	for range 2 {
		for _, s := range [][2]int{{c.Wd, c.D}, {c.Wd, c.D}, {c.Wd, c.D}, {1, c.D}, {1, c.D}, {1, c.D}, {c.D, c.D}, {c.D, c.D}, {c.D, c.D}} {
			in = append(in, mk(vals(s[0]*s[1]), s[0], s[1]))
		}
	}
	return in
}

// asF64 returns a copy of t's values as float64.
func asF64(t *tensor.Dense) []float64 {
	switch v := t.Data().(type) {
	case []float64:
		return append([]float64(nil), v...)
	case []float32:
		o := make([]float64, len(v))
		for i, x := range v {
			o[i] = float64(x)
		}
		return o
	}
	return nil
}

// runBiGRUOps runs op forward and its backward op (biGRUBwdOp) with output
// gradient seed, directly (no graph), and returns the output and the
// gradients by input position (nil for the mask).
func runBiGRUOps(t *testing.T, op *biGRUOp, in []*tensor.Dense, seed *tensor.Dense) ([]float64, [][]float64) {
	t.Helper()
	vs := make([]G.Value, len(in))
	for i, x := range in {
		vs[i] = x
	}
	out, err := op.Do(vs...)
	if err != nil {
		t.Fatal(err)
	}
	bv := []G.Value{out, seed, in[gruX], in[gruMask]}
	for d := range 2 {
		w := biGRUDirInputs(in, d)
		bv = append(bv, w[gruWz], w[gruWr], w[gruWn], w[gruUz], w[gruUr], w[gruUn])
	}
	dx, err := (&biGRUBwdOp{opBase: opBase{name: "bwd"}, fwd: op}).Do(bv...)
	if err != nil {
		t.Fatal(err)
	}
	grads := make([][]float64, len(in))
	grads[gruX] = asF64(dx.(*tensor.Dense))
	for d, f := range op.dir {
		for i := gruWz; i < gruInputs; i++ {
			grads[2+d*biGRUWeights+i-gruWz] = asF64(f.c.grad[i])
		}
	}
	return asF64(out.(*tensor.Dense)), grads
}

// TestBiGRUEdgeCases checks biGRUOp and its backward op on the shapes and
// masks the other GRU tests leave out: T = 1, B = 1, D = 1 and 3 (below the
// SSE2 kernel's 4) and D a multiple of 4 (the kernel in the openblas
// build), Wd != D, a caption of padding only, and a mask that is not a
// prefix (the recurrence h <- h + m (h' - h) holds for any mask).
// float64: every gradient of X and of the 18 weights against central
// differences of the output; float32: against float64; both dtypes on one
// op in turn (the caches follow the dtype), and a second run on the same
// buffers gives the same bits.
func TestBiGRUEdgeCases(t *testing.T) {
	one := func(int, int) float64 { return 1 }
	cases := map[string]biGRUEdgeCase{
		"T=1":             {1, 3, 5, 4, one},
		"B=1":             {4, 1, 5, 3, func(t, _ int) float64 { return float64(b01(t < 3)) }},
		"D=1":             {3, 2, 1, 2, func(t, b int) float64 { return float64(b01(t <= b+1)) }},
		"D=3":             {3, 2, 3, 6, func(t, b int) float64 { return float64(b01(t < 2 || b == 0)) }},
		"D=8 Wd=5":        {5, 3, 8, 5, func(t, b int) float64 { return float64(b01(t < 5-b)) }},
		"all padding":     {4, 3, 4, 4, func(t, b int) float64 { return float64(b01(b != 1 && t < 2+b)) }},
		"mask not prefix": {5, 2, 4, 3, func(t, b int) float64 { return float64(b01((t+b)%2 == 0)) }},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			in := biGRUEdgeInputs(c, tensor.Float64, rng)
			seedV := make([]float64, c.B*c.D)
			for i := range seedV {
				seedV[i] = rng.Float64()*2 - 1
			}
			seed := tensor.New(tensor.WithShape(c.B, c.D), tensor.WithBacking(seedV))
			op := newBiGRU(c.T, c.B, c.D, c.Wd, "edge")
			out, grads := runBiGRUOps(t, op, in, seed)

			cost := func() float64 {
				o, _ := runBiGRUOps(t, newBiGRU(c.T, c.B, c.D, c.Wd, "fd"), in, seed)
				var s float64
				for i, v := range o {
					s += v * seedV[i]
				}
				return s
			}
			const h = 1e-6
			for k, x := range in {
				if k == gruMask {
					continue
				}
				v := x.Data().([]float64)
				for i := range v {
					orig := v[i]
					v[i] = orig + h
					lp := cost()
					v[i] = orig - h
					lm := cost()
					v[i] = orig
					num := (lp - lm) / (2 * h)
					if math.Abs(num-grads[k][i]) > 1e-6*(1+math.Abs(num)) {
						t.Fatalf("gradient of input %d [%d]: %.9g, central differences %.9g", k, i, grads[k][i], num)
					}
				}
			}

			// float32 on the same op (new caches), then float64 again
			in32 := make([]*tensor.Dense, len(in))
			for i, x := range in {
				in32[i] = tensor.New(tensor.WithShape(x.Shape()...), tensor.WithBacking(float32s(asF64(x))))
			}
			seed32 := tensor.New(tensor.WithShape(c.B, c.D), tensor.WithBacking(float32s(seedV)))
			out32, grads32 := runBiGRUOps(t, op, in32, seed32)
			near := func(what string, got, want []float64, tol float64) {
				t.Helper()
				for i := range want {
					if math.Abs(got[i]-want[i]) > tol*(1+math.Abs(want[i])) {
						t.Fatalf("%s[%d]: %.9g, want %.9g", what, i, got[i], want[i])
					}
				}
			}
			near("float32 output", out32, out, 1e-5)
			for k := range grads {
				near(fmt.Sprintf("float32 gradient of input %d", k), grads32[k], grads[k], 1e-4)
			}
			for _, run := range []struct {
				in   []*tensor.Dense
				seed *tensor.Dense
				out  []float64
				g    [][]float64
			}{{in, seed, out, grads}, {in32, seed32, out32, grads32}, {in32, seed32, out32, grads32}} {
				o, g := runBiGRUOps(t, op, run.in, run.seed)
				near("rerun output", o, run.out, 0)
				for k := range g {
					near(fmt.Sprintf("rerun gradient of input %d", k), g[k], run.g[k], 0)
				}
			}
		})
	}
}

func b01(b bool) int {
	if b {
		return 1
	}
	return 0
}

func float32s(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}

// TestGRUFwdRowsSpecialValues extends TestGRUFwdRowsMatchGo to inputs it
// does not draw: NaN, infinities, subnormals, signed zeros, magnitudes near
// the float32 limit and arbitrary bit patterns, in the projections, the
// recurrent products, the biases, the previous states and the mask. The
// kernel must give the Go code's bits; a NaN only has to be a NaN (as in
// TestRowKernelsMatchGo: the sign of a NaN is not kept by C compilers,
// which may fold x * -1 into a sign flip, nor is the payload of one of
// two NaN operands).
func TestGRUFwdRowsSpecialValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 19))
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-40, -1e-40,
		0, float32(math.Copysign(0, -1)), 3e38, -3e38, 1e20, -1e20, 87.5, -87.5, 44, -44, 1, -1}
	val := func() float32 {
		switch rng.IntN(4) {
		case 0:
			return specials[rng.IntN(len(specials))]
		case 1:
			return math.Float32frombits(rng.Uint32())
		}
		return float32(rng.NormFloat64() * 3)
	}
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = val()
		}
		return v
	}
	for it := range 400 {
		D, rows := []int{4, 8, 64, 68}[it%4], 3
		g := &gruRows[float32]{m: vec(rows), maskOut: it%3 == 0, xp: vec(rows * 3 * D), D: D,
			b: [3][]float32{vec(D), vec(D), vec(D)}}
		if it%2 == 1 {
			g.hu, g.hp = vec(rows*3*D), vec(rows*D)
		}
		outs := func() *gruRows[float32] {
			c := *g
			c.z, c.r, c.n, c.a, c.h = make([]float32, rows*D), make([]float32, rows*D), make([]float32, rows*D), make([]float32, rows*D), make([]float32, rows*D)
			c.out = vec(rows * D)
			return &c
		}
		want, got := outs(), outs()
		copy(got.out, want.out)
		want.fwd()
		gruFwdRows32(got)
		for name, p := range map[string][2][]float32{"z": {want.z, got.z}, "r": {want.r, got.r}, "n": {want.n, got.n},
			"a": {want.a, got.a}, "h": {want.h, got.h}, "out": {want.out, got.out}} {
			for i, w := range p[0] {
				if gv := p[1][i]; math.Float32bits(w) != math.Float32bits(gv) && !(w != w && gv != gv) {
					t.Fatalf("case %d (D=%d first=%v): %s[%d] = %v (%08x), Go %v (%08x)", it, D, g.hu == nil, name, i, gv, math.Float32bits(gv), w, math.Float32bits(w))
				}
			}
		}
	}
}
