package eval

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"coderflow/internal/blasimpl"
)

// rankOf runs one fold of Evaluate's ranking on the instance term only and
// returns the 0-based ranks.
func rankOf(t *testing.T, in Inputs, rows int) (i2t, t2i []int32) {
	t.Helper()
	ev := &evaluator{n: in.N, c: 5 * in.N, rows: rows, buf: make([]float32, rows*5*in.N)}
	i2t, t2i, err := ev.run(t.Context(), []term{{w: 1, dim: in.Dim, img: in.Images, cap: in.Captions}})
	if err != nil {
		t.Fatal(err)
	}
	return i2t, t2i
}

// dots64 is the float64 similarity matrix of in's instance term: identical
// vectors give identical values, whatever their positions.
func dots64(in Inputs) [][]float64 {
	s := make([][]float64, in.N)
	d := in.Dim
	for i := range s {
		s[i] = make([]float64, 5*in.N)
		for q := range s[i] {
			for k := range d {
				s[i][q] += float64(in.Images[i*d+k]) * float64(in.Captions[q*d+k])
			}
		}
	}
	return s
}

// TestDuplicateImagesAcrossBlocks: an image vector repeated in a later
// block ties with the earlier copy in every caption column, and the tie
// must go to the smaller index (stable sort) whatever the block size. With
// OpenBLAS the old code computed the last, shorter block (1 row here for
// block sizes 7 and 49) with a GEMM of another shape, whose rounding
// differs: the two copies no longer tied and about half of the columns
// were ranked by rounding noise. Every block now has the same shape (the
// last one is shifted back to overlap the previous one).
func TestDuplicateImagesAcrossBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	const n, d = 50, 64
	img := randUnit(r, n, d)
	caps := randUnit(r, 5*n, d)
	for q := range 5 * n { // captions near their image so ranks are small
		for k := range d {
			caps[q*d+k] = 0.5*caps[q*d+k] + img[(q/5)*d+k]
		}
	}
	// images 49 and 48 repeat images 3 and 20 (earlier blocks)
	copy(img[49*d:50*d], img[3*d:4*d])
	copy(img[48*d:49*d], img[20*d:21*d])
	in := Inputs{N: n, Dim: d, Images: img, Captions: caps}
	wi, wt := refRanks(dots64(in))
	for _, rows := range []int{1, 2, 7, 16, 49, 50} {
		gi, gt := rankOf(t, in, rows)
		if !slices.Equal(gi, wi) {
			t.Errorf("%s, block rows %d: i2t ranks %v, want %v", blasimpl.Name, rows, gi, wi)
		}
		if !slices.Equal(gt, wt) {
			for q := range gt {
				if gt[q] != wt[q] {
					t.Errorf("%s, block rows %d: caption %d (image %d): t2i rank %d, want %d", blasimpl.Name, rows, q, q/5, gt[q], wt[q])
				}
			}
		}
	}
}

// TestGOMAXPROCSAndReference: float data (dimension above gonum's 64-wide
// GEMM blocks) ranks identically with 1 and 2 procs (one or two column
// workers, serial or parallel GEMM) and for every block size, and equals
// the stable-sort reference on float64 similarities (random unit vectors:
// no near-ties at this size, so float32 rounding cannot reorder).
func TestGOMAXPROCSAndReference(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	const n, d = 230, 100
	img := randUnit(r, n, d)
	caps := randUnit(r, 5*n, d)
	for q := range 5 * n {
		for k := range d {
			caps[q*d+k] = caps[q*d+k] + 0.4*img[(q/5)*d+k]
		}
	}
	in := Inputs{N: n, Dim: d, Images: img, Captions: caps}
	wi, wt := refRanks(dots64(in))
	for _, procs := range []int{1, 2} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			for _, rows := range []int{1, 3, 64, 229, 230} {
				gi, gt := rankOf(t, in, rows)
				if !slices.Equal(gi, wi) || !slices.Equal(gt, wt) {
					t.Errorf("%s, GOMAXPROCS %d, block rows %d: ranks differ from the reference", blasimpl.Name, procs, rows)
				}
			}
		}()
	}
}

// TestAlphaEndpoints: with concept vectors, alpha 1 gives exactly the
// instance-only numbers and alpha 0 exactly those of the concept vectors
// alone (weights 1 and 0 are exact: the other term is not computed).
func TestAlphaEndpoints(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	const n, d, cd = 60, 24, 12
	inst := Inputs{N: n, Dim: d, Images: randUnit(r, n, d), Captions: randUnit(r, 5*n, d)}
	conc := Inputs{N: n, Dim: cd, Images: randUnit(r, n, cd), Captions: randUnit(r, 5*n, cd)}
	both := inst
	both.ConceptDim, both.ImageC, both.CaptionC = cd, conc.Images, conc.Captions
	for _, tc := range []struct {
		alpha float64
		alone Inputs
	}{{1, inst}, {0, conc}} {
		want, err := Evaluate(t.Context(), tc.alone, Options{BlockRows: 7})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Evaluate(t.Context(), both, Options{Alpha: tc.alpha, BlockRows: 7})
		if err != nil {
			t.Fatal(err)
		}
		if got.Mean != want.Mean {
			t.Errorf("alpha %v: %+v, want %+v", tc.alpha, got.Mean, want.Mean)
		}
	}
}

// TestOneImage: N = 1 (and folds of one image): every caption is the
// image's own, all ranks 0.
func TestOneImage(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	want := metricsFromRanks([]int32{0}, make([]int32, 5))
	one := Inputs{N: 1, Dim: 3, Images: randUnit(r, 1, 3), Captions: randUnit(r, 5, 3)}
	res, err := Evaluate(t.Context(), one, Options{})
	if err != nil || res.Mean != want {
		t.Errorf("N = 1: %+v, %v; want %+v", res, err, want)
	}
	three := Inputs{N: 3, Dim: 3, Images: randUnit(r, 3, 3), Captions: randUnit(r, 15, 3)}
	res, err = Evaluate(t.Context(), three, Options{Folds: 3})
	if err != nil || len(res.Folds) != 3 || res.Mean != want {
		t.Errorf("3 folds of 1 image: %+v, %v; want %+v", res, err, want)
	}
}

// TestConceptVectorsWithoutConceptDim: concept vectors passed with
// ConceptDim 0 were silently ignored (the numbers were the instance-only
// ones); they are an error now, like every other shape mismatch.
func TestConceptVectorsWithoutConceptDim(t *testing.T) {
	good := simInputs(caseA)
	for _, tc := range []struct {
		name   string
		ic, cc []float32
	}{{"both", good.Images, good.Captions}, {"images only", good.Images, nil}, {"captions only", nil, good.Captions}} {
		in := good
		in.ImageC, in.CaptionC = tc.ic, tc.cc
		if res, err := Evaluate(t.Context(), in, Options{Alpha: 0.5}); err == nil {
			t.Errorf("%s: no error, metrics %+v", tc.name, res.Mean)
		}
		if _, err := TopCaptions(in, 0.5, 0, 0, 3); err == nil {
			t.Errorf("%s: TopCaptions: no error", tc.name)
		}
	}
}
