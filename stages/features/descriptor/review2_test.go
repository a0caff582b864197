package descriptor

import (
	"image"
	"math"
	"testing"
)

// TestUniformImagesFinite: a flat image has no gradient and a single
// colour, so the HOG part has nothing to normalise and the moments have
// no spread. Every value must stay finite (no 0/0 in the L2 or the
// standard deviation), the colour and LBP parts unit vectors, and the HOG
// part zero, for images down to the lattice size.
func TestUniformImagesFinite(t *testing.T) {
	tests := []struct {
		name    string
		w, h    int
		r, g, b uint8
	}{
		{"black", 64, 48, 0, 0, 0},
		{"white", 64, 48, 255, 255, 255},
		{"mid grey", 64, 48, 128, 128, 128},
		{"saturated red", 64, 48, 255, 0, 0},
		{"black at the lattice size", Grid, Grid, 0, 0, 0},
		{"white strip at the lattice size", 4 * Grid, Grid, 255, 255, 255},
	}
	e, err := NewExtractor(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := image.NewRGBA(image.Rect(0, 0, tc.w, tc.h))
			for i := 0; i < len(m.Pix); i += 4 {
				m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = tc.r, tc.g, tc.b, 255
			}
			_, feats := e.Image(m, nil, nil)
			for r := range MaxRegions {
				f := feats[r*104 : (r+1)*104]
				for i, v := range f {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("region %d value %d is %v", r, i, v)
					}
				}
				for _, span := range []struct {
					lo, hi int
					norm   float64
				}{{0, 34, 1}, {34, 70, 0}, {70, 80, 1}} {
					var s float64
					for _, v := range f[span.lo:span.hi] {
						s += float64(v) * float64(v)
					}
					if math.Abs(s-span.norm) > 1e-4 {
						t.Fatalf("region %d values %d-%d: squared norm %v, want %v", r, span.lo, span.hi, s, span.norm)
					}
				}
			}
		})
	}
}
