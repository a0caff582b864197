package eval

import (
	"fmt"
	"sort"
)

// Hit is one retrieved item: the row index of an image or caption in
// [Inputs] and its similarity to the query.
type Hit struct {
	Index int
	Score float64
}

// TopCaptions returns the k captions most similar to image i among the
// captions of i's fold (folds as in [Options]: 0 or 1 means all captions),
// best first (ties by index), with the similarity of [Evaluate] computed in
// float64. [Evaluate] ranks float32 GEMM values, so two captions whose
// similarities differ in the last float32 bits may be ordered differently
// there. It returns an error for inconsistent shapes (as [Evaluate]; the
// values are not checked), an alpha outside [0, 1] with concept vectors, a
// fold count that does not divide N or an i out of range.
func TopCaptions(in Inputs, alpha float64, folds, i, k int) ([]Hit, error) {
	if err := in.checkTop(alpha); err != nil {
		return nil, err
	}
	if i < 0 || i >= in.N {
		return nil, fmt.Errorf("eval: image %d out of range [0, %d)", i, in.N)
	}
	n, err := foldSize(in.N, folds)
	if err != nil {
		return nil, err
	}
	lo := CaptionsPerImage * (i / n * n)
	return topK(lo, lo+CaptionsPerImage*n, k, func(q int) float64 { return in.sim(alpha, i, q) }), nil
}

// TopImages returns the k images most similar to caption q among the images
// of q's fold, best first (ties by index); see [TopCaptions].
func TopImages(in Inputs, alpha float64, folds, q, k int) ([]Hit, error) {
	if err := in.checkTop(alpha); err != nil {
		return nil, err
	}
	if q < 0 || q >= CaptionsPerImage*in.N {
		return nil, fmt.Errorf("eval: caption %d out of range [0, %d)", q, CaptionsPerImage*in.N)
	}
	n, err := foldSize(in.N, folds)
	if err != nil {
		return nil, err
	}
	lo := q / CaptionsPerImage / n * n
	return topK(lo, lo+n, k, func(i int) float64 { return in.sim(alpha, i, q) }), nil
}

// checkTop checks the shapes of in and alpha (not the values: that is
// linear in the data, and TopCaptions and TopImages are called per query).
func (in *Inputs) checkTop(alpha float64) error {
	if err := in.checkShape(); err != nil {
		return err
	}
	return in.checkAlpha(alpha)
}

// foldSize is the number of images per fold of N images in folds folds.
func foldSize(N, folds int) (int, error) {
	if folds < 0 || (folds > 1 && N%folds != 0) {
		return 0, fmt.Errorf("eval: %d images cannot be split into %d equal folds", N, folds)
	}
	return N / max(folds, 1), nil
}

func (in *Inputs) sim(alpha float64, i, q int) float64 {
	dot := func(a, b []float32, d int) float64 {
		var s float64
		for k := range d {
			s += float64(a[i*d+k]) * float64(b[q*d+k])
		}
		return s
	}
	s := dot(in.Images, in.Captions, in.Dim)
	if in.ConceptDim > 0 {
		s = alpha*s + (1-alpha)*dot(in.ImageC, in.CaptionC, in.ConceptDim)
	}
	return s
}

// topK keeps the k best of the scores of lo..hi-1 with a small sorted
// buffer.
func topK(lo, hi, k int, score func(int) float64) []Hit {
	k = min(k, hi-lo)
	if k <= 0 {
		return nil
	}
	top := make([]Hit, 0, k+1)
	for j := lo; j < hi; j++ {
		s := score(j)
		if len(top) == k && s <= top[k-1].Score {
			continue // ties keep the earlier index
		}
		pos := sort.Search(len(top), func(p int) bool { return top[p].Score < s })
		top = append(top, Hit{})
		copy(top[pos+1:], top[pos:])
		top[pos] = Hit{Index: j, Score: s}
		if len(top) > k {
			top = top[:k]
		}
	}
	return top
}
