package eval

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestMultiWorkerAgainstReference: with 5N >= 512 captions the columns are
// split among several workers (GOMAXPROCS 4 here), each with its own
// image-to-text partial counts and ambiguous entries; the ranks must still
// be those of the stable-sort reference, with and without room for
// ambiguous entries, for every block size.
func TestMultiWorkerAgainstReference(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	r := rand.New(rand.NewPCG(1, 2))
	in, inst, conc := intInputs(r, 230, 4, 3)
	if nw := len((&evaluator{c: 5 * in.N}).workers()); nw < 2 {
		t.Fatalf("%d workers, want several", nw)
	}
	old := ambiguousCap
	defer func() { ambiguousCap = old }()
	for _, alpha := range []float64{-1, 0.5} { // -1: no concept vectors
		x := in
		sims := inst
		if alpha < 0 {
			x.ConceptDim, x.ImageC, x.CaptionC = 0, nil, nil
		} else {
			sims = make([][]float64, len(inst))
			for i := range inst {
				sims[i] = make([]float64, len(inst[i]))
				for q := range inst[i] {
					sims[i][q] = alpha*inst[i][q] + (1-alpha)*conc[i][q] // exact in float32 too
				}
			}
		}
		ri, rt := refRanks(sims)
		want := metricsFromRanks(ri, rt)
		for _, capacity := range []int{old, 7, 0} {
			ambiguousCap = capacity
			for _, rows := range []int{1, 3, 0} {
				res, err := Evaluate(t.Context(), x, Options{Alpha: max(alpha, 0), BlockRows: rows})
				if err != nil {
					t.Fatal(err)
				}
				if res.Mean != want {
					t.Errorf("alpha %v, ambiguous cap %d, block rows %d: %+v, want %+v", alpha, capacity, rows, res.Mean, want)
				}
			}
		}
	}
}

// TestOverflowingSimilarities: finite values whose products overflow
// float32 made NaN similarities (+Inf + -Inf), which every comparison
// treats as false: image 0, whose captions all scored NaN, was ranked first
// (its true similarity, 0, is below image 1's captions' 1e40). Evaluate must
// refuse such inputs instead of ranking NaNs.
func TestOverflowingSimilarities(t *testing.T) {
	const b = 1e20
	in := Inputs{N: 2, Dim: 2, Images: []float32{b, b, 1, 0}}
	for q := range 10 {
		if q < 5 {
			in.Captions = append(in.Captions, b, -b)
		} else {
			in.Captions = append(in.Captions, 1, 0)
		}
	}
	concept := in
	concept.ConceptDim, concept.ImageC, concept.CaptionC = 1, []float32{1, 1}, make([]float32, 10)
	for _, tc := range []struct {
		name string
		in   Inputs
		opt  Options
	}{
		{"instance", in, Options{}},
		{"instance with folds", in, Options{Folds: 2}},
		{"concept term", concept, Options{Alpha: 0.5}},
	} {
		res, err := Evaluate(t.Context(), tc.in, tc.opt)
		if err == nil {
			t.Errorf("%s: no error, metrics %+v", tc.name, res.Mean)
		}
	}
	// large values whose similarities fit are ranked
	big := Inputs{N: 1, Dim: 1, Images: []float32{1e18}, Captions: []float32{1e18, 1, 2, 3, 4}}
	if _, err := Evaluate(t.Context(), big, Options{}); err != nil {
		t.Errorf("similarities up to 1e36: %v", err)
	}
}

// TestTopKBadInputs: TopCaptions and TopImages check the shapes of their
// inputs (they panicked with an index out of range) and alpha.
func TestTopKBadInputs(t *testing.T) {
	good := simInputs(caseA)
	concept := good
	concept.ConceptDim, concept.ImageC, concept.CaptionC = good.Dim, good.Images, good.Captions
	for _, tc := range []struct {
		name  string
		in    Inputs
		alpha float64
	}{
		{"no vectors", Inputs{N: 2, Dim: 3}, 0},
		{"zero dim", Inputs{N: 2}, 0},
		{"short images", Inputs{N: good.N, Dim: good.Dim, Images: good.Images[:3], Captions: good.Captions}, 0},
		{"short captions", Inputs{N: good.N, Dim: good.Dim, Images: good.Images, Captions: good.Captions[:5]}, 0},
		{"missing concept vectors", Inputs{N: good.N, Dim: good.Dim, Images: good.Images, Captions: good.Captions, ConceptDim: 2}, 0.5},
		{"alpha above 1", concept, 1.5},
	} {
		for _, dir := range []string{"TopCaptions", "TopImages"} {
			t.Run(tc.name+"/"+dir, func(t *testing.T) {
				var err error
				func() {
					defer func() {
						if p := recover(); p != nil {
							err = nil
							t.Errorf("panic: %v", p)
						}
					}()
					if dir == "TopCaptions" {
						_, err = TopCaptions(tc.in, tc.alpha, 0, 0, 3)
					} else {
						_, err = TopImages(tc.in, tc.alpha, 0, 0, 3)
					}
					if err == nil {
						err = fmt.Errorf("no error")
						t.Error("want an error")
					}
				}()
			})
		}
	}
}
