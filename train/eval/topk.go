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

// TopCaptions returns the k captions most similar to image i, best first
// (ties by index), with the similarity of [Evaluate] computed in float64.
func TopCaptions(in Inputs, alpha float64, i, k int) ([]Hit, error) {
	if i < 0 || i >= in.N {
		return nil, fmt.Errorf("eval: image %d out of range [0, %d)", i, in.N)
	}
	return topK(CaptionsPerImage*in.N, k, func(q int) float64 { return in.sim(alpha, i, q) }), nil
}

// TopImages returns the k images most similar to caption q, best first
// (ties by index).
func TopImages(in Inputs, alpha float64, q, k int) ([]Hit, error) {
	if q < 0 || q >= CaptionsPerImage*in.N {
		return nil, fmt.Errorf("eval: caption %d out of range [0, %d)", q, CaptionsPerImage*in.N)
	}
	return topK(in.N, k, func(i int) float64 { return in.sim(alpha, i, q) }), nil
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

// topK keeps the k best of n scores with a small sorted buffer.
func topK(n, k int, score func(int) float64) []Hit {
	k = min(k, n)
	if k <= 0 {
		return nil
	}
	top := make([]Hit, 0, k+1)
	for j := range n {
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
