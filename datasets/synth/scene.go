package synth

import (
	"fmt"
	"math/rand/v2"
)

// Kind is an object kind (shape).
type Kind int

// Object kinds.
const (
	Circle Kind = iota
	Square
	Triangle
	Star
	Cross
	Ring
	Diamond
	numKinds
)

var kindNames = [...]string{"circle", "square", "triangle", "star", "cross", "ring", "diamond"}

func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Colour is an object colour.
type Colour int

// Object colours.
const (
	Red Colour = iota
	Orange
	Yellow
	Green
	Blue
	Purple
	White
	Black
	numColours
)

var colourNames = [...]string{"red", "orange", "yellow", "green", "blue", "purple", "white", "black"}

// rgb is the fill colour of each Colour.
var colourRGB = [...][3]float64{
	Red:    {220, 30, 35},
	Orange: {245, 135, 20},
	Yellow: {250, 225, 30},
	Green:  {40, 200, 70},
	Blue:   {35, 80, 230},
	Purple: {150, 50, 200},
	White:  {245, 245, 245},
	Black:  {25, 25, 25},
}

func (c Colour) String() string {
	if c < 0 || c >= numColours {
		return fmt.Sprintf("colour(%d)", int(c))
	}
	return colourNames[c]
}

// Size is an object size class.
type Size int

// Size classes.
const (
	Small Size = iota
	Medium
	Large
	numSizes
)

var sizeNames = [...]string{"small", "medium", "large"}

// sizeFrac is the object's diameter as a fraction of the shorter image side.
var sizeFrac = [...]float64{Small: 0.22, Medium: 0.31, Large: 0.42}

func (s Size) String() string {
	if s < 0 || s >= numSizes {
		return fmt.Sprintf("size(%d)", int(s))
	}
	return sizeNames[s]
}

// Background is a background texture.
type Background int

// Backgrounds.
const (
	Grass Background = iota
	Sand
	Water
	Brick
	Snow
	Wood
	numBackgrounds
)

var backgroundNames = [...]string{"grass", "sand", "water", "brick", "snow", "wood"}

func (b Background) String() string {
	if b < 0 || b >= numBackgrounds {
		return fmt.Sprintf("background(%d)", int(b))
	}
	return backgroundNames[b]
}

// clashes lists the colours never drawn on a background (too similar).
var clashes = map[Background][]Colour{
	Grass: {Green},
	Sand:  {Orange, Yellow},
	Water: {Blue},
	Brick: {Red},
	Snow:  {White},
	Wood:  {Orange},
}

func clash(b Background, c Colour) bool {
	for _, x := range clashes[b] {
		if x == c {
			return true
		}
	}
	return false
}

// Relation is a spatial relation between two objects.
type Relation int

// Relations: subject REL object.
const (
	LeftOf Relation = iota
	RightOf
	Above
	Below
)

var relationNames = [...]string{"left of", "right of", "above", "below"}

func (r Relation) String() string { return relationNames[r] }

func (r Relation) inverse() Relation {
	switch r {
	case LeftOf:
		return RightOf
	case RightOf:
		return LeftOf
	case Above:
		return Below
	}
	return Above
}

// Object is one drawn object. X, Y are its centre and R its radius, in pixels.
type Object struct {
	Kind   Kind
	Colour Colour
	Size   Size
	X, Y   float64
	R      float64
}

// Fact says that Objects[A] is Rel of Objects[B].
type Fact struct {
	A, B int
	Rel  Relation
}

// Scene is what one image shows; captions are written from it.
type Scene struct {
	Index         int
	Width, Height int
	Background    Background
	Objects       []Object
	Facts         []Fact
}

// cell centres of the 2x2 layout grid as fractions of width and height.
const lo, hi = 0.26, 0.74

// newScene draws the content of one image from rng.
func newScene(rng *rand.Rand, index, minSize, maxSize int) Scene {
	s := Scene{Index: index}
	s.Width = minSize + rng.IntN(maxSize-minSize+1)
	s.Height = minSize + rng.IntN(maxSize-minSize+1)
	s.Background = Background(rng.IntN(int(numBackgrounds)))
	n := 1
	switch u := rng.Float64(); {
	case u < 0.3:
		n = 1
	case u < 0.7:
		n = 2
	default:
		n = 3
	}
	w, h := float64(s.Width), float64(s.Height)
	m := min(w, h)
	jit := func(a float64) float64 { return (rng.Float64()*2 - 1) * a }
	var centres [][2]float64
	switch n {
	case 1:
		centres = [][2]float64{{w * (0.5 + jit(0.12)), h * (0.5 + jit(0.12))}}
	case 2:
		if rng.IntN(2) == 0 { // side by side
			y := 0.5 + jit(0.1)
			centres = [][2]float64{{w * (lo + jit(0.015)), h * (y + jit(0.015))}, {w * (hi + jit(0.015)), h * (y + jit(0.015))}}
			s.Facts = []Fact{{A: 0, B: 1, Rel: LeftOf}}
		} else { // one above the other
			x := 0.5 + jit(0.1)
			centres = [][2]float64{{w * (x + jit(0.015)), h * (lo + jit(0.015))}, {w * (x + jit(0.015)), h * (hi + jit(0.015))}}
			s.Facts = []Fact{{A: 0, B: 1, Rel: Above}}
		}
	case 3:
		// Leave one of the four cells empty. The corner object diagonal to
		// the empty cell shares a row with one object and a column with the
		// other.
		empty := rng.IntN(4)
		cells := [4][2]float64{{lo, lo}, {hi, lo}, {lo, hi}, {hi, hi}} // TL TR BL BR
		corner := 3 - empty                                            // diagonal opposite
		var rowMate, colMate int
		for c := 0; c < 4; c++ {
			if c == empty || c == corner {
				continue
			}
			if cells[c][1] == cells[corner][1] {
				rowMate = c
			} else {
				colMate = c
			}
		}
		for _, c := range []int{corner, rowMate, colMate} {
			centres = append(centres, [2]float64{w * (cells[c][0] + jit(0.015)), h * (cells[c][1] + jit(0.015))})
		}
		hr := LeftOf
		if cells[corner][0] > cells[rowMate][0] {
			hr = RightOf
		}
		vr := Above
		if cells[corner][1] > cells[colMate][1] {
			vr = Below
		}
		s.Facts = []Fact{{A: 0, B: 1, Rel: hr}, {A: 0, B: 2, Rel: vr}}
	}
	for i := 0; i < n; i++ {
		var o Object
		for {
			o = Object{Kind: Kind(rng.IntN(int(numKinds))), Colour: Colour(rng.IntN(int(numColours))), Size: Size(rng.IntN(int(numSizes)))}
			if clash(s.Background, o.Colour) {
				continue
			}
			dup := false
			for _, p := range s.Objects {
				dup = dup || (p.Kind == o.Kind && p.Colour == o.Colour)
			}
			if !dup {
				break
			}
		}
		o.R = m * (sizeFrac[o.Size] + jit(0.02)) / 2
		o.X, o.Y = centres[i][0], centres[i][1]
		s.Objects = append(s.Objects, o)
	}
	return s
}
