package descriptor

import (
	"image"
	"math"
	"testing"
)

// TestHOGUnsigned checks that the HOG part is unsigned, as documented: a
// grey image and its negative have the same gradients up to sign, so the
// same orientation histograms. A gradient pointing exactly left (gx < 0,
// gy = 0, a light-to-dark vertical edge) is at 180 degrees, the same
// orientation as 0 degrees (bin 0); it went to bin 8 (160-180 degrees)
// while its dark-to-light twin went to bin 0.
func TestHOGUnsigned(t *testing.T) {
	const w, h = 96, 72
	tests := []struct {
		name string
		grey func(x, y int) uint8
	}{
		{"vertical edge", func(x, y int) uint8 { return uint8(40 + 160*min(x/30, 1)) }},
		{"horizontal edge", func(x, y int) uint8 { return uint8(40 + 160*min(y/30, 1)) }},
		{"checkerboard", func(x, y int) uint8 { return uint8(60 + 120*((x/7+y/5)%2)) }},
		{"texture", func(x, y int) uint8 { return uint8((x*x*7 + y*13 + x*y*3) % 251) }},
	}
	e, err := NewExtractor(Config{Parts: []string{PartHOG}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		img, neg := image.NewRGBA(image.Rect(0, 0, w, h)), image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v := tc.grey(x, y)
				i := img.PixOffset(x, y)
				copy(img.Pix[i:i+4], []uint8{v, v, v, 255})
				copy(neg.Pix[i:i+4], []uint8{255 - v, 255 - v, 255 - v, 255})
			}
		}
		_, a := e.Image(img, nil, nil)
		_, b := e.Image(neg, nil, nil)
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-6 {
				t.Errorf("%s: region %d, HOG value %d: image %v, negative %v", tc.name, i/e.Dim(), i%e.Dim(), a[i], b[i])
				break
			}
		}
	}
}
