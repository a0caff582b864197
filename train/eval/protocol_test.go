package eval

import (
	"testing"
)

// TestRankStatsByHand pins R@K, medr and meanr (EVAL-PROTOCOL.md 5) on
// hand-computed ranks: rank K itself is not a hit at K, and the median of
// an even count is the mean of the two middle ranks (numpy), floored
// before the +1.
func TestRankStatsByHand(t *testing.T) {
	for _, tc := range []struct {
		ranks                   []int32
		r1, r5, r10, med, meanr float64
	}{
		{[]int32{5}, 0, 0, 100, 6, 6},
		{[]int32{0, 1}, 50, 100, 100, 1, 1.5},          // median 0.5 -> floor 0 -> 1 (round would give 2)
		{[]int32{0, 3}, 50, 100, 100, 2, 2.5},          // median 1.5 -> 2 (lower middle would give 1)
		{[]int32{3, 2, 1, 0}, 25, 100, 100, 2, 2.5},    // unsorted input, median 1.5
		{[]int32{0, 0, 10, 9}, 50, 50, 75, 5, 5.75},    // 9 < 10 is a hit, 10 is not; median 4.5
		{[]int32{4, 5, 9, 10, 11}, 0, 20, 60, 10, 8.8}, // odd count: the middle one, 9
	} {
		m := metricsFromRanks(tc.ranks, tc.ranks)
		want := Metrics{R1I2T: tc.r1, R5I2T: tc.r5, R10I2T: tc.r10, MedrI2T: tc.med, MeanrI2T: tc.meanr,
			R1T2I: tc.r1, R5T2I: tc.r5, R10T2I: tc.r10, MedrT2I: tc.med, MeanrT2I: tc.meanr,
			RSum: 2 * (tc.r1 + tc.r5 + tc.r10)}
		if !metricsClose(m, want, 1e-12) {
			t.Errorf("ranks %v: %+v, want %+v", tc.ranks, m, want)
		}
	}
}

// TestFoldMeanRSum: the 5-fold rSum is the sum of the mean recalls
// (EVAL-PROTOCOL.md 7). The folds here have different image-to-text and
// text-to-image recalls, so the VSE++ script's printed value (6 x the mean
// image-to-text average recall, 120 here) would differ; medr is averaged
// like every other metric (1.5, not rounded).
func TestFoldMeanRSum(t *testing.T) {
	a := Metrics{R1I2T: 10, R5I2T: 20, R10I2T: 30, MedrI2T: 1, MeanrI2T: 2,
		R1T2I: 40, R5T2I: 50, R10T2I: 60, MedrT2I: 2, MeanrT2I: 3}
	b := a
	b.R1I2T, b.MedrI2T, b.MedrT2I = 20, 2, 3
	a.RSum, b.RSum = 210, 220
	want := Metrics{R1I2T: 15, R5I2T: 20, R10I2T: 30, MedrI2T: 1.5, MeanrI2T: 2,
		R1T2I: 40, R5T2I: 50, R10T2I: 60, MedrT2I: 2.5, MeanrT2I: 3, RSum: 215}
	if got := MeanMetrics([]Metrics{a, b}); !metricsClose(got, want, 1e-12) {
		t.Errorf("mean %+v, want %+v", got, want)
	}
}

// TestDuplicateImageVectors: two images with the same vector (the same
// photo under two ids) and captions all equal to it tie everywhere. The
// protocol breaks ties by index (stable sort), not in the positive's favour:
// image 1's captions 5..9 come after captions 0..4 (rank 5), and image 0
// comes before image 1 in every column (captions 5..9 rank 1). Hand
// computed: i2t ranks [0 5], t2i ranks [0 0 0 0 0 1 1 1 1 1].
func TestDuplicateImageVectors(t *testing.T) {
	v := []float32{0.5, 0.5, 0.5, 0.5} // unit norm; every product and sum is exact
	in := Inputs{N: 2, Dim: 4}
	for range 2 {
		in.Images = append(in.Images, v...)
	}
	for range 10 {
		in.Captions = append(in.Captions, v...)
	}
	want := Metrics{R1I2T: 50, R5I2T: 50, R10I2T: 100, MedrI2T: 3, MeanrI2T: 3.5,
		R1T2I: 50, R5T2I: 100, R10T2I: 100, MedrT2I: 1, MeanrT2I: 1.5, RSum: 450}
	withConcept := in
	withConcept.ConceptDim, withConcept.ImageC, withConcept.CaptionC = in.Dim, in.Images, in.Captions
	for _, x := range []Inputs{in, withConcept} {
		for _, rows := range []int{1, 2} {
			res, err := Evaluate(t.Context(), x, Options{BlockRows: rows, Alpha: DefaultAlpha})
			if err != nil {
				t.Fatal(err)
			}
			if res.Mean != want {
				t.Errorf("concept dim %d, block rows %d: %+v, want %+v", x.ConceptDim, rows, res.Mean, want)
			}
		}
	}
}
