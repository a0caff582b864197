package train

import (
	"math"
	"math/rand"
	"testing"
)

// TestEmbedMeanSplitMatchesSerial checks the row-split forward and the
// column-split backward of the mean text encoder's pooling bit for bit
// against the serial loops (duplicate tokens in the batch, zero weights,
// a second run whose stale rows must be cleared).
func TestEmbedMeanSplitMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	const B, T, V, Wd = 128, 16, 50, 300
	e := make([]float32, V*Wd)
	for i := range e {
		e[i] = float32(rng.NormFloat64())
	}
	gradOut := make([]float32, V*Wd)
	var rows []int
	for run := range 2 {
		tok, w, g := make([]int, B*T), make([]float32, B*T), make([]float32, B*Wd)
		for i := range tok {
			tok[i] = rng.Intn(V) // V << B*T: many duplicates
			if rng.Intn(4) != 0 {
				w[i] = float32(rng.Float64())
			}
		}
		for i := range g {
			g[i] = float32(rng.NormFloat64())
		}
		// serial references (products converted: never fused into FMAs)
		wantF := make([]float32, B*Wd)
		wantB := make([]float32, V*Wd)
		for i := range B {
			for tt := range T {
				a := w[i*T+tt]
				if a == 0 {
					continue
				}
				r := tok[i*T+tt]
				for k := range Wd {
					wantF[i*Wd+k] += float32(a * e[r*Wd+k])
					wantB[r*Wd+k] += float32(a * g[i*Wd+k])
				}
			}
		}
		gotF := make([]float32, B*Wd)
		embedMeanFwd(gotF, e, tok, w, B, Wd)
		rows = embedMeanBwd(gradOut, rows, tok, w, g, B, Wd)
		for k := range wantF {
			if math.Float32bits(gotF[k]) != math.Float32bits(wantF[k]) {
				t.Fatalf("run %d forward[%d] = %g, want %g", run, k, gotF[k], wantF[k])
			}
		}
		for k := range wantB {
			if math.Float32bits(gradOut[k]) != math.Float32bits(wantB[k]) {
				t.Fatalf("run %d backward[%d] = %g, want %g", run, k, gradOut[k], wantB[k])
			}
		}
	}
}

// TestMaskedStatsAndSums checks maskedStats, sum4 and dot4 against direct
// loops for all lengths mod 4, with -Inf (excluded) entries.
func TestMaskedStatsAndSums(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	for _, n := range []int{0, 1, 5, 6, 7, 8, 1153} {
		x, y := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			if rng.Intn(5) == 0 {
				x[i] = float32(math.Inf(-1))
			}
		}
		var cnt int
		var sum, sq, mx, all, dot float64
		mx = math.Inf(-1)
		for i, v := range x {
			if !math.IsInf(float64(v), -1) {
				cnt++
				sum += float64(v)
				sq += float64(v) * float64(v)
				mx = math.Max(mx, float64(v))
				dot += float64(v) * float64(y[i])
			}
			all += float64(y[i])
		}
		gc, gs, gq, gm := maskedStats(x)
		close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }
		if gc != cnt || !close(gs, sum) || !close(gq, sq) || gm != mx {
			t.Fatalf("n=%d: maskedStats = %d %g %g %g, want %d %g %g %g", n, gc, gs, gq, gm, cnt, sum, sq, mx)
		}
		if got := sum4(y); !close(got, all) {
			t.Fatalf("n=%d: sum4 = %g, want %g", n, got, all)
		}
		for i, v := range x { // dot4 over the finite entries only
			if math.IsInf(float64(v), -1) {
				x[i], y[i] = 0, 0
			}
		}
		if got := dot4(x, y); !close(got, dot) {
			t.Fatalf("n=%d: dot4 = %g, want %g", n, got, dot)
		}
	}
}

// TestDCLHeadFwd32MatchesShifted checks the float32 DCL head forward
// (unshifted exponentials when the row maximum is near 0) against the
// generic forward that always shifts by the row maximum, on rows inside and
// outside the no-shift range, with and without a queue part: the losses,
// the row sums (relative to the shift) and the probabilities e/se.
func TestDCLHeadFwd32MatchesShifted(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	const B, tau = 70, 0.07
	for _, K := range []int{0, 200} {
		h := dclHalf[float32]{sb: make([]float32, B*B), lb: make([]float32, B*B), eb: make([]float32, B*B),
			sq: make([]float32, B*K), lq: make([]float32, B*K), eq: make([]float32, B*K)}
		for i := range B {
			// rows i%3 == 0 are shifted far out of the no-shift range
			off := 0.0
			if i%3 == 0 {
				off = 80 * float64(1-2*(i%2))
			}
			for _, p := range [][2][]float32{{h.sb[i*B : (i+1)*B], h.lb[i*B : (i+1)*B]}, {h.sq[i*K : (i+1)*K], h.lq[i*K : (i+1)*K]}} {
				for j := range p[0] {
					p[0][j] = float32(rng.Float64()*2 - 1)
					p[1][j] = float32(-1/tau + rng.NormFloat64() + off)
				}
			}
		}
		ref := h
		ref.eb, ref.eq = make([]float32, B*B), make([]float32, B*K)
		got, want := make([]float32, B), make([]float32, B)
		gse, wse := make([]float64, B), make([]float64, B)
		for i := range B {
			h.row32(got, gse, i, B, K, 1/tau)
			ref.rowShifted(want, wse, i, B, K, 1/tau, expRow32)
		}
		for i := range B {
			if math.Abs(float64(got[i]-want[i])) > 2e-6*math.Max(1, math.Abs(float64(want[i]))) {
				t.Fatalf("K=%d row %d: loss %g, want %g", K, i, got[i], want[i])
			}
			for _, p := range [][2][]float32{{h.eb[i*B : (i+1)*B], ref.eb[i*B : (i+1)*B]}, {h.eq[i*K : (i+1)*K], ref.eq[i*K : (i+1)*K]}} {
				for j := range p[0] {
					g, w := float64(p[0][j])/gse[i], float64(p[1][j])/wse[i]
					if math.Abs(g-w) > 2e-6*math.Max(1e-6, w) {
						t.Fatalf("K=%d row %d key %d: p = %g, want %g", K, i, j, g, w)
					}
				}
			}
		}
	}
}
