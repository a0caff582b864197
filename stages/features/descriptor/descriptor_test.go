package descriptor

import (
	"image"
	"image/color"
	"math"
	"testing"
)

// scene draws a w x h grey textured background with a filled disc or square
// of colour c centred at (cx, cy) with radius r.
func scene(w, h int, shape string, c color.NRGBA, cx, cy, r int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8(120 + 20*((x/4+y/4)%2))
			m.SetNRGBA(x, y, color.NRGBA{v, v, v, 255})
			dx, dy := x-cx, y-cy
			in := false
			switch shape {
			case "disc":
				in = dx*dx+dy*dy <= r*r
			case "square":
				in = dx >= -r && dx <= r && dy >= -r && dy <= r
			}
			if in {
				m.SetNRGBA(x, y, c)
			}
		}
	}
	return m
}

var red = color.NRGBA{220, 30, 30, 255}

func TestDimensionsAndNorms(t *testing.T) {
	tests := []struct {
		cfg     Config
		dim     int
		regions int
	}{
		{Config{}, 104, 36},
		{Config{Parts: []string{PartGeom, PartColor}}, 42, 36},
		{Config{Parts: []string{PartHOG}, Regions: 5}, 36, 5},
	}
	img := scene(200, 150, "disc", red, 60, 75, 30)
	for _, tc := range tests {
		e, err := NewExtractor(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if e.Dim() != tc.dim {
			t.Fatalf("%v: dim %d want %d", tc.cfg, e.Dim(), tc.dim)
		}
		boxes, feats := e.Image(img, nil, nil)
		if len(boxes) != 4*tc.regions || len(feats) != tc.dim*tc.regions {
			t.Fatalf("%v: %d boxes values, %d feats", tc.cfg, len(boxes), len(feats))
		}
		for _, v := range feats {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%v: non-finite value", tc.cfg)
			}
		}
	}
	// with all parts, color, hog and lbp are unit vectors in every region
	e, _ := NewExtractor(Config{})
	_, feats := e.Image(img, nil, nil)
	for r := 0; r < 36; r++ {
		f := feats[r*104:]
		for _, span := range [][2]int{{0, 34}, {34, 70}, {70, 80}} {
			var s float64
			for _, v := range f[span[0]:span[1]] {
				s += float64(v) * float64(v)
			}
			if math.Abs(s-1) > 1e-4 {
				t.Fatalf("region %d part %v: squared norm %v", r, span, s)
			}
		}
	}
}

func TestBoxesCoverAndAreOrdered(t *testing.T) {
	if len(Boxes) != MaxRegions {
		t.Fatal(len(Boxes))
	}
	if b := Boxes[0]; b != (Box{"whole", 0, 0, Grid, Grid}) {
		t.Fatalf("first box %v", b)
	}
	for i, b := range Boxes {
		if b.X0 < 0 || b.Y0 < 0 || b.X1 > Grid || b.Y1 > Grid || b.X0 >= b.X1 || b.Y0 >= b.Y1 || (b.X1-b.X0)%2 != 0 || (b.Y1-b.Y0)%2 != 0 {
			t.Fatalf("box %d %v invalid", i, b)
		}
	}
}

// pooled returns the mean over regions of the feature vectors.
func pooled(t *testing.T, img image.Image) []float32 {
	e, err := NewExtractor(Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, feats := e.Image(img, nil, nil)
	out := make([]float32, 104)
	for r := 0; r < 36; r++ {
		for i := range out {
			out[i] += feats[r*104+i] / 36
		}
	}
	return out
}

func TestPooledFeaturesSeparatePositionColourShape(t *testing.T) {
	const colorpos = 80 // offset of colorpos in the 104 layout
	left := pooled(t, scene(192, 160, "disc", red, 50, 80, 30))
	right := pooled(t, scene(192, 160, "disc", red, 142, 80, 30))
	if !(left[colorpos] < 0 && right[colorpos] > 0) {
		t.Fatalf("red x-centroid: left %v right %v", left[colorpos], right[colorpos])
	}
	blue := pooled(t, scene(192, 160, "disc", color.NRGBA{30, 40, 220, 255}, 50, 80, 30))
	// red mass (coarse 0) vs blue mass (coarse 4): the colour part differs
	if d := dist(left[:34], blue[:34]); d < 0.1 {
		t.Fatalf("red vs blue colour distance %v", d)
	}
	big := pooled(t, scene(192, 160, "disc", red, 96, 80, 60))
	small := pooled(t, scene(192, 160, "disc", red, 96, 80, 15))
	if d := dist(big[:34], small[:34]); d < 0.1 {
		t.Fatalf("big vs small colour distance %v", d)
	}
	sq := pooled(t, scene(192, 160, "square", red, 50, 80, 27))
	if d := dist(left[34:70], sq[34:70]); d < 0.02 {
		t.Fatalf("disc vs square HOG distance %v", d)
	}
}

func dist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

func TestTinyAndOddImages(t *testing.T) {
	e, _ := NewExtractor(Config{})
	for _, sz := range [][2]int{{1, 1}, {2, 3}, {30, 5}, {0, 0}} {
		boxes, feats := e.Image(image.NewRGBA(image.Rect(0, 0, sz[0], sz[1])), nil, nil)
		if len(boxes) != 144 || len(feats) != 36*104 {
			t.Fatalf("%v: %d %d", sz, len(boxes), len(feats))
		}
	}
	// gray (non-RGBA) input is converted
	g := image.NewGray(image.Rect(0, 0, 40, 40))
	if _, feats := e.Image(g, nil, nil); len(feats) != 36*104 {
		t.Fatal(len(feats))
	}
}

func TestValidate(t *testing.T) {
	if _, err := NewExtractor(Config{Parts: []string{"sift"}}); err == nil {
		t.Fatal("unknown part accepted")
	}
	if _, err := NewExtractor(Config{Regions: 37}); err == nil {
		t.Fatal("37 regions accepted")
	}
}

func BenchmarkExtract(b *testing.B) {
	img := scene(341, 256, "disc", red, 100, 100, 50)
	e, _ := NewExtractor(Config{})
	var boxes, feats []float32
	for b.Loop() {
		boxes, feats = e.Image(img, boxes[:0], feats[:0])
	}
}
