package eval

import (
	"math/rand/v2"
	"testing"
)

// TestRandomAgainstReference draws 300 small tie-heavy problems (values in
// {-1, 0, 1}, so every similarity, alpha-mixed with alpha in {0, 1/4, 1/2,
// 1}, is exact in float32) with random fold counts, block sizes and
// ambiguous-entry caps (a small cap forces the exact second pass), some
// with more than 512 captions per fold (several column workers), and
// checks every fold's metrics against the stable-sort reference of
// EVAL-PROTOCOL.md computed on the fold's own images and captions.
func TestRandomAgainstReference(t *testing.T) {
	for seed := range 300 {
		r := rand.New(rand.NewPCG(uint64(seed), 99))
		folds := []int{0, 1, 2, 3, 5}[r.IntN(5)]
		per := 1 + r.IntN(8)
		if seed%25 == 0 {
			per = 110 // 550 captions per fold: more than one worker
		}
		n := max(folds, 1) * per
		cd := 0
		if r.IntN(2) == 0 {
			cd = 1 + r.IntN(4)
		}
		in, inst, conc := intInputs(r, n, 1+r.IntN(6), cd)
		alpha := []float64{0, 0.25, 0.5, 1}[r.IntN(4)]
		var want []Metrics
		for f := range max(folds, 1) {
			sims := make([][]float64, per)
			for i := range per {
				sims[i] = make([]float64, 5*per)
				for q := range 5 * per {
					gi, gq := f*per+i, f*5*per+q
					sims[i][q] = inst[gi][gq]
					if cd > 0 {
						sims[i][q] = alpha*inst[gi][gq] + (1-alpha)*conc[gi][gq]
					}
				}
			}
			ri, rt := refRanks(sims)
			want = append(want, metricsFromRanks(ri, rt))
		}
		rows := r.IntN(per + 2) // 0: from MemBudget; per+1: more than a fold
		old := ambiguousCap
		if r.IntN(3) == 0 {
			ambiguousCap = r.IntN(10)
		}
		res, err := Evaluate(t.Context(), in, Options{Folds: folds, Alpha: alpha, BlockRows: rows})
		ambiguousCap = old
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if len(res.Folds) != len(want) {
			t.Fatalf("seed %d: %d folds, want %d", seed, len(res.Folds), len(want))
		}
		for f := range want {
			if res.Folds[f] != want[f] {
				t.Errorf("seed %d (folds %d, %d images each, block rows %d): fold %d %+v, want %+v",
					seed, folds, per, rows, f, res.Folds[f], want[f])
			}
		}
		if res.Mean != MeanMetrics(want) {
			t.Errorf("seed %d: mean %+v, want %+v", seed, res.Mean, MeanMetrics(want))
		}
	}
}
