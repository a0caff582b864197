package features

import (
	"image"
	"testing"

	"golang.org/x/image/draw"
)

// TestScaleYCbCrMatchesApproxBiLinear compares the fast path with
// x/image/draw's ApproxBiLinear on a smooth YCbCr image for every chroma
// subsampling: they must agree within a few levels per channel.
func TestScaleYCbCrMatchesApproxBiLinear(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410}
	sizes := [][4]int{{500, 375, 341, 256}, {120, 90, 256, 192}, {33, 17, 20, 16}}
	for _, ratio := range ratios {
		for _, sz := range sizes {
			src := image.NewYCbCr(image.Rect(0, 0, sz[0], sz[1]), ratio)
			for y := 0; y < sz[1]; y++ {
				for x := 0; x < sz[0]; x++ {
					src.Y[src.YOffset(x, y)] = uint8(40 + (x*150)/sz[0] + (y*50)/sz[1])
					c := src.COffset(x, y)
					src.Cb[c] = uint8(90 + (x*60)/sz[0])
					src.Cr[c] = uint8(160 - (y*60)/sz[1])
				}
			}
			rs, _ := newResizer("approxbilinear")
			got := rs.resize(src, sz[2], sz[3])
			want := image.NewRGBA(image.Rect(0, 0, sz[2], sz[3]))
			draw.ApproxBiLinear.Scale(want, want.Rect, src, src.Rect, draw.Src, nil)
			worst := 0
			for i := range got.Pix {
				d := int(got.Pix[i]) - int(want.Pix[i])
				worst = max(worst, d, -d)
			}
			if worst > 8 {
				t.Errorf("%v %v: max channel difference %d", ratio, sz, worst)
			}
		}
	}
}
