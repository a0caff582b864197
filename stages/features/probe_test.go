package features

import (
	"bytes"
	"image/png"
	"testing"

	"gonum.org/v1/gonum/mat"

	"coderflow/datasets/synth"
	"coderflow/stages/features/descriptor"
)

// pooledSynth renders n synthetic images and returns their mean-pooled
// region descriptors (what the demo's training feeds a linear layer) and
// their scenes.
func pooledSynth(t testing.TB, n int, cfg descriptor.Config) ([][]float64, []synth.Scene) {
	t.Helper()
	sc := synth.DefaultConfig()
	ex, err := descriptor.NewExtractor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := newResizer("approxbilinear")
	var xs [][]float64
	var scenes []synth.Scene
	var boxes, feats []float32
	dim, regions := ex.Dim(), ex.Regions()
	for i := 0; i < n; i++ {
		it, err := synth.Generate(sc, i)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(it.PNG))
		if err != nil {
			t.Fatal(err)
		}
		w, h := targetSize(img.Bounds().Dx(), img.Bounds().Dy(), 256)
		boxes, feats = ex.Image(rs.resize(img, w, h), boxes[:0], feats[:0])
		x := make([]float64, dim+1)
		for r := 0; r < regions; r++ {
			for j := 0; j < dim; j++ {
				x[j] += float64(feats[r*dim+j]) / float64(regions)
			}
		}
		x[dim] = 1 // bias
		xs = append(xs, x)
		scenes = append(scenes, it.Scene)
	}
	return xs, scenes
}

// probe fits a ridge-regression one-vs-all linear classifier on the first
// 80 % of the labelled rows and returns its accuracy on the rest.
// label returns the class of a scene or -1 to leave the row out.
func probe(xs [][]float64, scenes []synth.Scene, classes int, label func(synth.Scene) int) (acc float64, n int) {
	var X [][]float64
	var y []int
	for i, s := range scenes {
		if l := label(s); l >= 0 {
			X = append(X, xs[i])
			y = append(y, l)
		}
	}
	split := len(X) * 4 / 5
	d := len(X[0])
	A := mat.NewDense(split, d, nil)
	Y := mat.NewDense(split, classes, nil)
	for i := 0; i < split; i++ {
		A.SetRow(i, X[i])
		Y.Set(i, y[i], 1)
	}
	var AtA mat.Dense
	AtA.Mul(A.T(), A)
	for i := 0; i < d; i++ {
		AtA.Set(i, i, AtA.At(i, i)+1e-3)
	}
	var AtY, W mat.Dense
	AtY.Mul(A.T(), Y)
	if err := W.Solve(&AtA, &AtY); err != nil {
		return 0, 0
	}
	right := 0
	for i := split; i < len(X); i++ {
		best, bi := -1e300, -1
		for c := 0; c < classes; c++ {
			var s float64
			for j := 0; j < d; j++ {
				s += X[i][j] * W.At(j, c)
			}
			if s > best {
				best, bi = s, c
			}
		}
		if bi == y[i] {
			right++
		}
	}
	return float64(right) / float64(len(X)-split), len(X) - split
}

// TestLinearProbeOnSynth checks that mean-pooled descriptors let a linear
// model read the attributes the synthetic captions talk about: background,
// colour, shape and size of a lone object, and which colour is on the left
// (or on top) in two-object scenes.
func TestLinearProbeOnSynth(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	xs, scenes := pooledSynth(t, 1500, descriptor.Config{})
	lone := func(f func(o synth.Object) int) func(synth.Scene) int {
		return func(s synth.Scene) int {
			if len(s.Objects) != 1 {
				return -1
			}
			return f(s.Objects[0])
		}
	}
	// first object in reading order (leftmost, then topmost) of two-object scenes
	firstColour := func(s synth.Scene) int {
		if len(s.Objects) != 2 {
			return -1
		}
		a, b := s.Objects[0], s.Objects[1]
		if b.X+b.Y < a.X+a.Y {
			a = b
		}
		return int(a.Colour)
	}
	tests := []struct {
		name     string
		classes  int
		label    func(synth.Scene) int
		minRatio float64 // accuracy must exceed this multiple of chance
	}{
		{"background", 6, func(s synth.Scene) int { return int(s.Background) }, 4},
		{"lone colour", 8, lone(func(o synth.Object) int { return int(o.Colour) }), 4},
		{"lone kind", 7, lone(func(o synth.Object) int { return int(o.Kind) }), 1.5},
		{"lone size", 3, lone(func(o synth.Object) int { return int(o.Size) }), 1.5},
		{"first colour of two", 8, firstColour, 2},
	}
	for _, tc := range tests {
		acc, n := probe(xs, scenes, tc.classes, tc.label)
		chance := 1 / float64(tc.classes)
		t.Logf("%-20s accuracy %.2f on %d held-out images (chance %.2f)", tc.name, acc, n, chance)
		if acc < tc.minRatio*chance {
			t.Errorf("%s: accuracy %.2f below %.1fx chance", tc.name, acc, tc.minRatio)
		}
	}
}
