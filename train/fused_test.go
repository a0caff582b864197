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
		// serial references
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
					wantF[i*Wd+k] += a * e[r*Wd+k]
					wantB[r*Wd+k] += a * g[i*Wd+k]
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
