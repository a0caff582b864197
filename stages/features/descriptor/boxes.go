package descriptor

// Grid is the number of lattice cells per image side. Every box is a union
// of cells of a Grid x Grid lattice laid over the (resized) image, so
// per-pixel statistics are gathered once per cell and each region's
// statistics are sums of its cells' (24 = lcm(2, 3, 4, 8) keeps the 2x2, 3x3
// and 4x4 grids and every box's HOG half-split on cell boundaries).
const Grid = 24

// MaxRegions is the number of boxes in [Boxes].
const MaxRegions = 36

// Box is a region in lattice units: cells [X0,X1) x [Y0,Y1) of the
// Grid x Grid lattice. Its normalised coordinates are X0/Grid, Y0/Grid,
// X1/Grid, Y1/Grid.
type Box struct {
	Name           string
	X0, Y0, X1, Y1 int
}

// Norm returns the box as normalised x0, y0, x1, y1 in [0, 1].
func (b Box) Norm() [4]float32 {
	return [4]float32{float32(b.X0) / Grid, float32(b.Y0) / Grid, float32(b.X1) / Grid, float32(b.Y1) / Grid}
}

// Boxes is the fixed, ordered set of 36 regions. A run with regions=N uses
// the first N, so the order goes from coarse to fine:
//
//	0       whole image
//	1-4     2x2 grid (row-major: top-left, top-right, bottom-left, bottom-right)
//	5-8     halves: top, bottom, left, right
//	9-10    centre crops: the middle 50% x 50% and the middle 2/3 x 2/3
//	11-19   3x3 grid (row-major)
//	20-35   4x4 grid (row-major)
var Boxes = func() []Box {
	const g = Grid
	bs := []Box{{"whole", 0, 0, g, g}}
	grid := func(n int, prefix string) {
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				bs = append(bs, Box{prefix, c * g / n, r * g / n, (c + 1) * g / n, (r + 1) * g / n})
			}
		}
	}
	grid(2, "grid2")
	bs = append(bs,
		Box{"top", 0, 0, g, g / 2}, Box{"bottom", 0, g / 2, g, g},
		Box{"left", 0, 0, g / 2, g}, Box{"right", g / 2, 0, g, g},
		Box{"centre50", g / 4, g / 4, 3 * g / 4, 3 * g / 4},
		Box{"centre67", g / 6, g / 6, 5 * g / 6, 5 * g / 6})
	grid(3, "grid3")
	grid(4, "grid4")
	if len(bs) != MaxRegions {
		panic("descriptor: box set is not 36 boxes")
	}
	return bs
}()
