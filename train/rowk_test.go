package train

import (
	"math"
	"math/rand"
	"testing"
)

// TestRowKernelsMatchGo checks the row kernels (SSE2 C in the openblas
// build, the Go code itself otherwise) bit for bit against their Go code:
// all lengths mod 4, misaligned starts, -Inf (excluded) entries, arguments
// near the exp clamping and underflow bounds, and NaN.
func TestRowKernelsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewSource(14))
	negInf := float32(math.Inf(-1))
	same := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) || (a != a && b != b) }
	same32 := func(a, b []float32) int {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
				return i
			}
		}
		return -1
	}
	for _, n := range []int{0, 3, 31, 32, 33, 34, 35, 36, 39, 64, 67, 1153, 1157} {
		for _, withNaN := range []bool{false, true} {
			row := make([]float32, n+1)[1:] // misaligned
			lw := make([]float32, n)
			for i := range row {
				row[i] = float32(rng.Float64()*2 - 1)
				lw[i] = float32(rng.NormFloat64() * 30)
				if rng.Intn(6) == 0 {
					row[i] = negInf
				}
			}
			if withNaN && n > 0 {
				row[n/2] = float32(math.NaN())
			}
			gc, gs, gq, gm := maskedStats(row)
			wc, ws, wq, wm := maskedStatsGo(row)
			if gc != wc || !same(gs, ws) || !same(gq, wq) || !same(gm, wm) {
				t.Fatalf("n=%d nan=%v: maskedStats %d %g %g %g, Go %d %g %g %g", n, withNaN, gc, gs, gq, gm, wc, ws, wq, wm)
			}
			const mu, inv = 0.1, 45.0 // arguments from -50 to 40: both exp bounds
			zmax := 0.4 * inv
			ga, wa := make([]float32, n), make([]float32, n)
			g, w := dclArgsExpSum(ga, row, mu, inv, zmax), dclArgsExpSumGo(wa, row, mu, inv, zmax)
			if k := same32(ga, wa); !same(g, w) || k >= 0 {
				t.Fatalf("n=%d nan=%v: dclArgsExpSum %g, Go %g (first differing element %d)", n, withNaN, g, w, k)
			}
			dclWrite32(ga, row, inv, -3.7)
			dclWrite32Go(wa, row, inv, -3.7)
			if k := same32(ga, wa); k >= 0 {
				t.Fatalf("n=%d nan=%v: dclWrite32[%d] = %g, Go %g", n, withNaN, k, ga[k], wa[k])
			}
			g, w = argsMax32(ga, row, lw, inv), argsMax32Go(wa, row, lw, inv)
			if k := same32(ga, wa); !same(g, w) || k >= 0 {
				t.Fatalf("n=%d nan=%v: argsMax32 %g, Go %g (first differing element %d)", n, withNaN, g, w, k)
			}
			copy(ga, wa)
			g, w = expSum32(ga), expSum32Go(wa)
			if k := same32(ga, wa); !same(g, w) || k >= 0 {
				t.Fatalf("n=%d nan=%v: expSum32 %g, Go %g (first differing element %d)", n, withNaN, g, w, k)
			}
			// the row kernels without -Inf entries (lw: finite, large range)
			gm, gse := softmaxRow32(ga, lw, 0.3)
			wm, wse := softmaxRow32Go(wa, lw, 0.3)
			if k := same32(ga, wa); !same(gm, wm) || !same(gse, wse) || k >= 0 {
				t.Fatalf("n=%d nan=%v: softmaxRow32 %g %g, Go %g %g (first differing element %d)", n, withNaN, gm, gse, wm, wse, k)
			}
			if g, w := sumSq32(lw), sumSq(lw); !same(g, w) {
				t.Fatalf("n=%d: sumSq32 %g, Go %g", n, g, w)
			}
			if g, w := dot32(lw, ga), dot4(lw, ga); !same(g, w) {
				t.Fatalf("n=%d: dot32 %g, Go %g", n, g, w)
			}
			scaleRow32(ga, lw, 0.37)
			scaleRow32Go(wa, lw, 0.37)
			if k := same32(ga, wa); k >= 0 {
				t.Fatalf("n=%d: scaleRow32[%d] = %g, Go %g", n, k, ga[k], wa[k])
			}
			l2BwdRow32(ga, lw, row, 0.7, 1.3)
			l2BwdRow32Go(wa, lw, row, 0.7, 1.3)
			if k := same32(ga, wa); k >= 0 {
				t.Fatalf("n=%d: l2BwdRow32[%d] = %g, Go %g", n, k, ga[k], wa[k])
			}
		}
	}
}

// TestRowKernels2MatchGo checks the scaling, word-embedding pooling
// (forward rows, backward columns) and region pooling kernels bit for bit
// against their Go code, on sizes with and without a tail.
func TestRowKernels2MatchGo(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	eq := func(what string, a, b []float32) {
		t.Helper()
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s[%d] = %g, Go %g", what, i, a[i], b[i])
			}
		}
	}
	for _, d := range []int{5, 32, 37, 300} {
		x := rnd(d)
		ga, wa := make([]float32, d), make([]float32, d)
		scale32(ga, x, 0.37)
		scale32Go(wa, x, 0.37)
		eq("scale32", ga, wa)
		const B, T, V, R = 6, 5, 9, 7
		e, g := rnd(V*d), rnd(B*d)
		tok, w := make([]int, B*T), rnd(B*T)
		for i := range tok {
			tok[i] = rng.Intn(V)
			if i%4 == 3 {
				w[i] = 0
			}
		}
		gf, wf := rnd(B*d), make([]float32, B*d)
		copy(wf, gf)
		embedRows32(gf, e, tok, w, T, d, 1, B)
		embedRows32Go(wf, e, tok, w, T, d, 1, B)
		eq("embedRows32", gf, wf)
		gb, wb := rnd(V*d), make([]float32, V*d)
		copy(wb, gb)
		lo := d / 3
		embedBwd32(gb, g, tok, w, B, T, d, lo, d)
		embedBwd32Go(wb, g, tok, w, B, T, d, lo, d)
		eq("embedBwd32", gb, wb)
		img := rnd(R * d)
		gp, wp := make([]float32, d), make([]float32, d)
		poolImage32(gp, img, R, d, 1/float32(R))
		poolImage32Go(wp, img, R, d, 1/float32(R))
		eq("poolImage32", gp, wp)
	}
}

// TestGRUFwdRowsMatchGo checks the bi-GRU's forward row kernel
// (gruFwdRows32: SSE2 C in the openblas build) bit for bit against its Go
// code (gruRows.fwd): first and later steps, masked and unmasked rows,
// both output modes, pre-activations beyond the exp clamping and
// underflow bounds, and a D that is not a multiple of 4 (the Go path).
func TestGRUFwdRowsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewSource(15))
	vec := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((rng.Float64()*2 - 1) * scale)
		}
		return v
	}
	for _, D := range []int{4, 6, 8, 256} {
		for _, first := range []bool{true, false} {
			for _, maskOut := range []bool{true, false} {
				const rows = 5
				g := &gruRows[float32]{m: []float32{1, 0, 1, 0.3, 1}, maskOut: maskOut, xp: vec(rows*3*D, 3), D: D,
					b: [3][]float32{vec(D, 1), vec(D, 1), vec(D, 1)}}
				g.xp[0], g.xp[D], g.xp[2*D+1] = 100, -100, 60 // saturated gates
				if !first {
					g.hu, g.hp = vec(rows*3*D, 3), vec(rows*D, 1)
				}
				outs := func() *gruRows[float32] {
					c := *g
					c.z, c.r, c.n, c.a, c.h = vec(rows*D, 1), vec(rows*D, 1), vec(rows*D, 1), vec(rows*D, 1), vec(rows*D, 1)
					c.out = vec(rows*D, 1)
					return &c
				}
				want, got := outs(), outs()
				copy(got.out, want.out)
				want.fwd()
				gruFwdRows32(got)
				for name, pair := range map[string][2][]float32{"z": {want.z, got.z}, "r": {want.r, got.r}, "n": {want.n, got.n},
					"a": {want.a, got.a}, "h": {want.h, got.h}, "out": {want.out, got.out}} {
					for i := range pair[0] {
						if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
							t.Fatalf("D=%d first=%v maskOut=%v: %s[%d] = %v, Go %v", D, first, maskOut, name, i, pair[1][i], pair[0][i])
						}
					}
				}
			}
		}
	}
}
