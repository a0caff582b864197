package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// simInputs builds inputs whose similarity matrix is exactly sims (N x 5N):
// image rows are the sims rows and captions are one-hot, so every GEMM entry
// is one exact product.
func simInputs(sims [][]float32) Inputs {
	n := len(sims)
	c := 5 * n
	in := Inputs{N: n, Dim: c, Images: make([]float32, 0, n*c), Captions: make([]float32, c*c)}
	for _, row := range sims {
		in.Images = append(in.Images, row...)
	}
	for q := range c {
		in.Captions[q*c+q] = 1
	}
	return in
}

// refRanks is the reference: stable argsort of -sims per row and per column.
func refRanks(sims [][]float64) (i2t, t2i []int32) {
	n := len(sims)
	c := 5 * n
	for i := range n {
		idx := make([]int, c)
		for q := range idx {
			idx[q] = q
		}
		sort.SliceStable(idx, func(a, b int) bool { return sims[i][idx[a]] > sims[i][idx[b]] })
		best := int32(c)
		for pos, q := range idx {
			if q/5 == i && int32(pos) < best {
				best = int32(pos)
			}
		}
		i2t = append(i2t, best)
	}
	for q := range c {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return sims[idx[a]][q] > sims[idx[b]][q] })
		for pos, i := range idx {
			if i == q/5 {
				t2i = append(t2i, int32(pos))
			}
		}
	}
	return i2t, t2i
}

// caseA: image 0's 2nd caption ranks first; image 1's best caption is third.
var caseA = [][]float32{
	{0.1, 0.9, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.0},
	{0.9, 0.8, 0.1, 0.1, 0.1, 0.2, 0.3, 0.05, 0.05, 0.05},
}

// caseA ranks: i2t [0 2], t2i [1 0 0 0 0 1 1 1 1 0].
var caseAMetrics = Metrics{
	R1I2T: 50, R5I2T: 100, R10I2T: 100, MedrI2T: 2, MeanrI2T: 2,
	R1T2I: 50, R5T2I: 100, R10T2I: 100, MedrT2I: 1, MeanrT2I: 1.5,
	RSum: 500,
}

// caseTies: exact ties broken by index. Image 0: its captions all score 0.5
// and so does caption 9 (larger index, not ahead) -> rank 0. Image 1: best
// positive 0.5 ties caption 0 (smaller index, ahead) -> rank 1. Column 0:
// both images 0.5, own image 0 first -> 0; column 5: image 0 ties own image 1
// and comes first -> 1.
var caseTies = [][]float32{
	{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0.5},
	{0.5, 0, 0, 0, 0, 0.5, 0.1, 0.1, 0.1, 0.1},
}

func perfect(n int) [][]float32 {
	s := make([][]float32, n)
	for i := range s {
		s[i] = make([]float32, 5*n)
		for k := range 5 {
			s[i][5*i+k] = 1
		}
	}
	return s
}

func TestHandMade(t *testing.T) {
	tests := []struct {
		name     string
		sims     [][]float32
		i2t, t2i []int32
		want     Metrics
	}{
		{"second caption first", caseA, []int32{0, 2}, []int32{1, 0, 0, 0, 0, 1, 1, 1, 1, 0}, caseAMetrics},
		{"ties by index", caseTies, []int32{0, 1}, []int32{0, 0, 0, 0, 0, 1, 0, 0, 0, 1}, Metrics{
			R1I2T: 50, R5I2T: 100, R10I2T: 100, MedrI2T: 1, MeanrI2T: 1.5,
			R1T2I: 80, R5T2I: 100, R10T2I: 100, MedrT2I: 1, MeanrT2I: 1.2, RSum: 530}},
		{"perfect", perfect(3), []int32{0, 0, 0}, make([]int32, 15), Metrics{
			R1I2T: 100, R5I2T: 100, R10I2T: 100, MedrI2T: 1, MeanrI2T: 1,
			R1T2I: 100, R5T2I: 100, R10T2I: 100, MedrT2I: 1, MeanrT2I: 1, RSum: 600}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// the reference agrees with the hand-computed ranks
			s64 := to64(tc.sims)
			ri, rt := refRanks(s64)
			if !slices.Equal(ri, tc.i2t) || !slices.Equal(rt, tc.t2i) {
				t.Fatalf("reference ranks i2t %v t2i %v, hand-computed %v %v", ri, rt, tc.i2t, tc.t2i)
			}
			for _, rows := range []int{1, 2, 0} {
				res, err := Evaluate(t.Context(), simInputs(tc.sims), Options{BlockRows: rows})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Folds) != 1 || res.Folds[0] != tc.want || res.Mean != tc.want {
					t.Errorf("block rows %d: got %+v, want %+v", rows, res.Mean, tc.want)
				}
			}
		})
	}
}

func to64(s [][]float32) [][]float64 {
	out := make([][]float64, len(s))
	for i, r := range s {
		out[i] = make([]float64, len(r))
		for j, v := range r {
			out[i][j] = float64(v)
		}
	}
	return out
}

func TestFolds(t *testing.T) {
	// 5 folds of 2 images: folds 0, 2, 4 are caseA, folds 1, 3 perfect.
	// Entries across folds are 10 (above everything): they must be ignored.
	const folds, per = 5, 2
	n := folds * per
	sims := make([][]float32, n)
	for i := range sims {
		sims[i] = slices.Repeat([]float32{10}, 5*n)
	}
	for f := range folds {
		src := caseA
		if f%2 == 1 {
			src = perfect(per)
		}
		for r := range per {
			copy(sims[f*per+r][f*per*5:], src[r])
		}
	}
	want := Metrics{
		R1I2T: 70, R5I2T: 100, R10I2T: 100, MedrI2T: 1.6, MeanrI2T: 1.6,
		R1T2I: 70, R5T2I: 100, R10T2I: 100, MedrT2I: 1, MeanrT2I: 1.3, RSum: 540,
	}
	for _, rows := range []int{1, 0} {
		res, err := Evaluate(t.Context(), simInputs(sims), Options{Folds: folds, BlockRows: rows})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Folds) != folds {
			t.Fatalf("%d folds, want %d", len(res.Folds), folds)
		}
		for f, m := range res.Folds {
			w := caseAMetrics
			if f%2 == 1 {
				w = metricsFromRanks([]int32{0, 0}, make([]int32, 10))
			}
			if m != w {
				t.Errorf("fold %d: %+v, want %+v", f, m, w)
			}
		}
		if !metricsClose(res.Mean, want, 1e-9) {
			t.Errorf("mean %+v, want %+v", res.Mean, want)
		}
	}
	if _, err := Evaluate(t.Context(), simInputs(sims), Options{Folds: 3}); err == nil {
		t.Error("10 images in 3 folds: want an error")
	}
}

func metricsClose(a, b Metrics, tol float64) bool {
	x, y := a.Named(), b.Named()
	for i := range x {
		if math.Abs(x[i].Value-y[i].Value) > tol {
			return false
		}
	}
	return true
}

// randUnit returns n random unit vectors of dim d.
func randUnit(r *rand.Rand, n, d int) []float32 {
	v := make([]float32, n*d)
	for i := range n {
		var s float64
		for k := range d {
			x := r.NormFloat64()
			v[i*d+k] = float32(x)
			s += x * x
		}
		s = math.Sqrt(s)
		for k := range d {
			v[i*d+k] /= float32(s)
		}
	}
	return v
}

func TestPerfectEmbeddings(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, d = 300, 32
	img := randUnit(r, n, d)
	caps := make([]float32, 0, 5*n*d)
	for i := range n {
		for range 5 {
			caps = append(caps, img[i*d:(i+1)*d]...)
		}
	}
	in := Inputs{N: n, Dim: d, Images: img, Captions: caps,
		ConceptDim: d, ImageC: img, CaptionC: caps}
	for _, folds := range []int{0, 5} {
		res, err := Evaluate(t.Context(), in, Options{Folds: folds, Alpha: DefaultAlpha, BlockRows: 64})
		if err != nil {
			t.Fatal(err)
		}
		want := Metrics{R1I2T: 100, R5I2T: 100, R10I2T: 100, MedrI2T: 1, MeanrI2T: 1,
			R1T2I: 100, R5T2I: 100, R10T2I: 100, MedrT2I: 1, MeanrT2I: 1, RSum: 600}
		if res.Mean != want {
			t.Errorf("folds %d: %+v, want all 100", folds, res.Mean)
		}
	}
}

func TestRandomPermutationIsChance(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, d = 1000, 64
	img := randUnit(r, n, d)
	perm := r.Perm(n)
	caps := make([]float32, 0, 5*n*d)
	for i := range n {
		for range 5 {
			j := perm[i]
			caps = append(caps, img[j*d:(j+1)*d]...)
		}
	}
	res, err := Evaluate(t.Context(), Inputs{N: n, Dim: d, Images: img, Captions: caps}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Mean
	// chance: R@10 is about 1% per direction (a few fixed points of perm
	// aside); medians near the middle of the ranking
	if m.R10I2T > 4 || m.R10T2I > 4 || m.RSum > 15 {
		t.Errorf("recalls far above chance: %+v", m)
	}
	if m.MedrT2I < 0.35*n || m.MedrT2I > 0.65*n || m.MeanrT2I < 0.4*n || m.MeanrT2I > 0.6*n {
		t.Errorf("t2i ranks not near n/2 = %d: medr %v meanr %v", n/2, m.MedrT2I, m.MeanrT2I)
	}
}

// intInputs draws small-integer vectors: every dot product is exact, with
// many ties, so the reference computed in float64 is exact too.
func intInputs(r *rand.Rand, n, d, cd int) (Inputs, [][]float64, [][]float64) {
	draw := func(m, dim int) []float32 {
		v := make([]float32, m*dim)
		for i := range v {
			v[i] = float32(r.IntN(3) - 1)
		}
		return v
	}
	in := Inputs{N: n, Dim: d, Images: draw(n, d), Captions: draw(5*n, d)}
	if cd > 0 {
		in.ConceptDim, in.ImageC, in.CaptionC = cd, draw(n, cd), draw(5*n, cd)
	}
	dots := func(a, b []float32, dim int) [][]float64 {
		s := make([][]float64, n)
		for i := range n {
			s[i] = make([]float64, 5*n)
			for q := range 5 * n {
				for k := range dim {
					s[i][q] += float64(a[i*dim+k]) * float64(b[q*dim+k])
				}
			}
		}
		return s
	}
	inst := dots(in.Images, in.Captions, d)
	var conc [][]float64
	if cd > 0 {
		conc = dots(in.ImageC, in.CaptionC, cd)
	}
	return in, inst, conc
}

func TestBlockSizeAndReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	in, inst, conc := intInputs(r, 37, 6, 4)
	for _, tc := range []struct {
		name    string
		concept bool
		alpha   float64
	}{{"instance only", false, 0}, {"alpha 0.75", true, 0.75}, {"alpha 0", true, 0}, {"alpha 1", true, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			x := in
			sims := make([][]float64, len(inst))
			for i := range inst {
				sims[i] = make([]float64, len(inst[i]))
				for q := range inst[i] {
					if tc.concept {
						sims[i][q] = tc.alpha*inst[i][q] + (1-tc.alpha)*conc[i][q]
					} else {
						sims[i][q] = inst[i][q]
					}
				}
			}
			if !tc.concept {
				x.ConceptDim, x.ImageC, x.CaptionC = 0, nil, nil
			}
			ri, rt := refRanks(sims)
			want := metricsFromRanks(ri, rt)
			for _, rows := range []int{1, 2, 5, 36, 37, 0} {
				res, err := Evaluate(t.Context(), x, Options{Alpha: tc.alpha, BlockRows: rows})
				if err != nil {
					t.Fatal(err)
				}
				if res.Mean != want {
					t.Errorf("block rows %d: %+v, want %+v", rows, res.Mean, want)
				}
			}
			// MemBudget of one row and of 3 rows (5N floats each)
			for _, budget := range []int64{1, 3 * 4 * 5 * 37} {
				res, err := Evaluate(t.Context(), x, Options{Alpha: tc.alpha, MemBudget: budget})
				if err != nil {
					t.Fatal(err)
				}
				if res.Mean != want {
					t.Errorf("budget %d: %+v, want %+v", budget, res.Mean, want)
				}
			}
		})
	}
}

// TestExactRecount forces the second, exact pass (no room for ambiguous
// entries) and checks it gives the same numbers.
func TestExactRecount(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	in, inst, _ := intInputs(r, 23, 5, 0)
	ri, rt := refRanks(inst)
	want := metricsFromRanks(ri, rt)
	old := ambiguousCap
	ambiguousCap = 0
	defer func() { ambiguousCap = old }()
	for _, rows := range []int{1, 4, 0} {
		res, err := Evaluate(t.Context(), in, Options{BlockRows: rows})
		if err != nil {
			t.Fatal(err)
		}
		if res.Mean != want {
			t.Errorf("block rows %d: %+v, want %+v", rows, res.Mean, want)
		}
	}
}

func TestFloatDataBlockInvariance(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const n, d = 400, 48
	img := randUnit(r, n, d)
	caps := randUnit(r, 5*n, d)
	// make captions related to their images so ranks spread over the range
	for q := range 5 * n {
		for k := range d {
			caps[q*d+k] += 0.3 * img[(q/5)*d+k]
		}
	}
	in := Inputs{N: n, Dim: d, Images: img, Captions: caps, ConceptDim: d, ImageC: caps[:n*d], CaptionC: caps}
	var first *Result
	for _, rows := range []int{1, 7, 64, 400} {
		res, err := Evaluate(t.Context(), in, Options{Alpha: 0.9, BlockRows: rows, Folds: 5})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = res
			continue
		}
		if !slices.Equal(res.Folds, first.Folds) || res.Mean != first.Mean {
			t.Errorf("block rows %d: %+v, want %+v", rows, res.Mean, first.Mean)
		}
	}
}

func TestBadInputs(t *testing.T) {
	good := simInputs(caseA)
	nan := simInputs(caseA)
	nan.Images = slices.Clone(nan.Images)
	nan.Images[3] = float32(math.NaN())
	short := good
	short.Captions = short.Captions[:len(short.Captions)-1]
	concept := good
	concept.ConceptDim, concept.ImageC, concept.CaptionC = good.Dim, good.Images, good.Captions
	for _, tc := range []struct {
		name string
		in   Inputs
		opt  Options
	}{
		{"empty", Inputs{}, Options{}},
		{"nan", nan, Options{}},
		{"short captions", short, Options{}},
		{"alpha above 1", concept, Options{Alpha: 1.5}},
		{"missing concept vectors", Inputs{N: good.N, Dim: good.Dim, Images: good.Images, Captions: good.Captions, ConceptDim: 3}, Options{}},
		{"negative folds", good, Options{Folds: -1}},
	} {
		if _, err := Evaluate(t.Context(), tc.in, tc.opt); err == nil {
			t.Errorf("%s: want an error", tc.name)
		}
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Evaluate(ctx, simInputs(caseA), Options{}); err == nil {
		t.Error("cancelled context: want an error")
	}
}

func TestTopK(t *testing.T) {
	in := simInputs(caseTies)
	caps, err := TopCaptions(in, 0, 0, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	// row 1: captions 0 and 5 tie at 0.5 (index order), then 6 (first of the 0.1s)
	if want := []Hit{{0, 0.5}, {5, 0.5}, {6, float64(float32(0.1))}}; !slices.Equal(caps, want) {
		t.Errorf("TopCaptions = %v, want %v", caps, want)
	}
	imgs, err := TopImages(in, 0, 0, 9, 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Hit{{0, 0.5}, {1, float64(float32(0.1))}}; !slices.Equal(imgs, want) {
		t.Errorf("TopImages = %v, want %v", imgs, want)
	}
	if _, err := TopImages(in, 0, 0, 10, 1); err == nil {
		t.Error("caption out of range: want an error")
	}
	// 2 folds of one image: candidates come from the query's fold only
	caps, err = TopCaptions(in, 0, 2, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Hit{{5, 0.5}, {6, float64(float32(0.1))}, {7, float64(float32(0.1))}}; !slices.Equal(caps, want) {
		t.Errorf("TopCaptions, 2 folds = %v, want %v", caps, want)
	}
	imgs, err = TopImages(in, 0, 2, 9, 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Hit{{1, float64(float32(0.1))}}; !slices.Equal(imgs, want) {
		t.Errorf("TopImages, 2 folds = %v, want %v", imgs, want)
	}
	if _, err := TopImages(in, 0, 3, 0, 1); err == nil {
		t.Error("3 folds of 2 images: want an error")
	}
}

func TestMaxAbsBits(t *testing.T) {
	v := make([]float32, 300_001)
	if maxAbsBits(v) != 0 {
		t.Fatal("zeros: want 0")
	}
	for _, at := range []int{0, 150_000, len(v) - 1} {
		v[at] = -3.5
		if got := math.Float32frombits(maxAbsBits(v)); got != 3.5 {
			t.Errorf("-3.5 at %d: max |x| = %v", at, got)
		}
		v[at] = 0
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), -float32(math.NaN())} {
		for _, at := range []int{0, 150_000, len(v) - 1} {
			v[at] = bad
			if maxAbsBits(v) < infBits {
				t.Errorf("%v at %d: want not finite", bad, at)
			}
			v[at] = 0
		}
	}
	v[7] = math.MaxFloat32
	if maxAbsBits(v) >= infBits {
		t.Error("MaxFloat32: want finite")
	}
}

// TestFoldsAgainstReference: with K folds every fold's metrics are those of
// the brute-force reference on the fold's own N/K x 5N/K block of the
// combined (alpha-weighted, tie-heavy) similarity, the mean is the
// arithmetic mean of each metric and rSum the sum of the mean recalls.
func TestFoldsAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const folds, per = 4, 9
	in, inst, conc := intInputs(r, folds*per, 5, 3)
	const alpha = 0.25
	var want []Metrics
	for f := range folds {
		sims := make([][]float64, per)
		for i := range per {
			sims[i] = make([]float64, 5*per)
			for q := range 5 * per {
				gi, gq := f*per+i, f*5*per+q
				sims[i][q] = alpha*inst[gi][gq] + (1-alpha)*conc[gi][gq]
			}
		}
		ri, rt := refRanks(sims)
		want = append(want, metricsFromRanks(ri, rt))
	}
	var mean Metrics
	for _, m := range want {
		mean.R1I2T += m.R1I2T / folds
		mean.R5I2T += m.R5I2T / folds
		mean.R10I2T += m.R10I2T / folds
		mean.MedrI2T += m.MedrI2T / folds
		mean.MeanrI2T += m.MeanrI2T / folds
		mean.R1T2I += m.R1T2I / folds
		mean.R5T2I += m.R5T2I / folds
		mean.R10T2I += m.R10T2I / folds
		mean.MedrT2I += m.MedrT2I / folds
		mean.MeanrT2I += m.MeanrT2I / folds
	}
	mean.RSum = mean.R1I2T + mean.R5I2T + mean.R10I2T + mean.R1T2I + mean.R5T2I + mean.R10T2I
	for _, rows := range []int{1, 4, 0} {
		res, err := Evaluate(t.Context(), in, Options{Folds: folds, Alpha: alpha, BlockRows: rows})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Folds, want) {
			t.Errorf("block rows %d: folds %+v, want %+v", rows, res.Folds, want)
		}
		if !metricsClose(res.Mean, mean, 1e-9) {
			t.Errorf("block rows %d: mean %+v, want %+v", rows, res.Mean, mean)
		}
	}
}
