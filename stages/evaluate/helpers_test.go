package evaluate

import (
	"context"
	"math"
	"math/rand/v2"

	"coderflow/datasets/table"
	"coderflow/pipeline"
)

// noisyUnit returns base (nil: zero) plus Gaussian noise of standard
// deviation sd, dim values scaled to unit length (nil for dim 0): the
// embeddings of the test-only stages, an image's vector and its captions'
// noisy copies.
func noisyUnit(r *rand.Rand, dim int, base []float32, sd float64) []float32 {
	if dim == 0 {
		return nil
	}
	v := make([]float32, dim)
	var s float64
	for k := range v {
		x := r.NormFloat64() * sd
		if base != nil {
			x += float64(base[k])
		}
		v[k], s = float32(x), s+x*x
	}
	for k := range v {
		v[k] /= float32(math.Sqrt(s))
	}
	return v
}

// inputImagesCaptions reads the images and captions tables upstream of a
// test-only stage.
func inputImagesCaptions(ctx context.Context, env *pipeline.Env) ([]table.ImageRow, []table.CaptionRow, error) {
	imgFiles, _, err := env.InputTable(table.Images)
	if err != nil {
		return nil, nil, err
	}
	capFiles, _, err := env.InputTable(table.Captions)
	if err != nil {
		return nil, nil, err
	}
	imgs, err := table.ReadAll[table.ImageRow](ctx, imgFiles...)
	if err != nil {
		return nil, nil, err
	}
	caps, err := table.ReadAll[table.CaptionRow](ctx, capFiles...)
	return imgs, caps, err
}
