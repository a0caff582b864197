package imgalpha

import (
	"image"
	"image/color"
	"testing"
)

func TestOpaqueIfNoAlpha(t *testing.T) {
	mk := func(a uint8) *image.NRGBA {
		m := image.NewNRGBA(image.Rect(1, 1, 4, 3)) // an offset rectangle
		for y := 1; y < 3; y++ {
			for x := 1; x < 4; x++ {
				m.SetNRGBA(x, y, color.NRGBA{200, 10, 20, a})
			}
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		alpha  uint8
		format string
		want   uint8
	}{
		{"bmp zero alpha", 0, "bmp", 255},
		{"bmp real alpha", 128, "bmp", 128},
		{"png zero alpha stays transparent", 0, "png", 0},
	} {
		m := mk(tc.alpha)
		OpaqueIfNoAlpha(m, tc.format)
		for y := 1; y < 3; y++ {
			for x := 1; x < 4; x++ {
				if c := m.NRGBAAt(x, y); c.A != tc.want || c.R != 200 {
					t.Fatalf("%s: pixel (%d,%d) = %v, want alpha %d", tc.name, x, y, c, tc.want)
				}
			}
		}
	}
	// one non-zero alpha byte anywhere keeps the image's alpha
	m := mk(0)
	m.SetNRGBA(3, 2, color.NRGBA{1, 2, 3, 9})
	OpaqueIfNoAlpha(m, "bmp")
	if m.NRGBAAt(1, 1).A != 0 {
		t.Error("a BMP with some alpha was made opaque")
	}
}
