package descriptor

import (
	"image"
	"image/color"
	"slices"
	"testing"
)

// TestImageAlphaSameForEveryType: the same translucent picture gives the
// same descriptors whether it is an *image.NRGBA, an *image.NRGBA64 or a
// paletted image: alpha is composited on black for every type. A
// translucent NRGBA was read in place, its colours not composited (half
// transparent red counted as full red, as dark red for the other types).
func TestImageAlphaSameForEveryType(t *testing.T) {
	const w, h = 48, 32
	at := func(x, y int) color.NRGBA {
		if x < w/2 {
			return color.NRGBA{220, 30, 30, 128} // translucent red
		}
		return color.NRGBA{30, 30, 220, 255} // opaque blue
	}
	nrgba := image.NewNRGBA(image.Rect(0, 0, w, h))
	nrgba64 := image.NewNRGBA64(nrgba.Rect)
	pal := image.NewPaletted(nrgba.Rect, color.Palette{at(0, 0), at(w-1, 0)})
	for y := range h {
		for x := range w {
			nrgba.SetNRGBA(x, y, at(x, y))
			nrgba64.Set(x, y, at(x, y))
			pal.Set(x, y, at(x, y))
		}
	}
	ex, err := NewExtractor(Config{Parts: Parts, Regions: MaxRegions})
	if err != nil {
		t.Fatal(err)
	}
	_, want := ex.Image(nrgba64, nil, nil)
	for name, img := range map[string]image.Image{"NRGBA": nrgba, "Paletted": pal} {
		if _, got := ex.Image(img, nil, nil); !slices.Equal(got, want) {
			t.Errorf("%s: descriptors differ from the NRGBA64 of the same picture", name)
		}
	}
	// An opaque NRGBA is still read in place, and agrees too.
	for y := range h {
		for x := range w {
			c := at(x, y)
			c.A = 255
			nrgba.SetNRGBA(x, y, c)
			nrgba64.Set(x, y, c)
		}
	}
	_, want = ex.Image(nrgba64, nil, nil)
	if _, got := ex.Image(nrgba, nil, nil); !slices.Equal(got, want) {
		t.Errorf("opaque NRGBA: descriptors differ from the NRGBA64 of the same picture")
	}
}
