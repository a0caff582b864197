// Package descriptor computes the hand-made region descriptors of the
// features.regions stage: for each of up to 36 fixed boxes ([Boxes]) over a
// resized image, a vector built from colour, gradient orientation, texture
// and position.
//
// Parts (see [Parts]; a [Config] may select a subset; output order is fixed):
//
//	color     34  HSV histogram: 12 hue bins (soft-assigned between the two
//	              nearest bin centres) x 2 saturation levels (0.2-0.55,
//	              0.55-1) + 4 value bins for achromatic pixels (s < 0.2 or
//	              v < 0.2), as fractions of the region; square-rooted (power
//	              normalisation); then mean and standard deviation of R, G, B
//	              in [0,1]; the 34 values L2-normalised together.
//	hog       36  HOG-like: unsigned gradient orientation (central
//	              differences on the grey image, 9 bins of 20 degrees,
//	              magnitude-weighted) in the region's 2x2 sub-cells;
//	              square-rooted and L2-normalised.
//	lbp       10  rotation-invariant uniform LBP(8,1) histogram (0..8 ones,
//	              non-uniform); fractions square-rooted and L2-normalised.
//	colorpos  16  for 8 coarse colours (red, yellow, green, cyan, blue,
//	              magenta, dark, light): mass fraction in the region times the
//	              colour's mean x and y position in the image, in [-1, 1]
//	              (left/top negative). Not normalised: mean-pooled over
//	              regions it is a mass-weighted colour centroid, which is what
//	              lets a linear model on pooled features tell "red left of
//	              blue" from "blue left of red" and big from small.
//	geom       8  box geometry: x0, y0, x1, y1, centre x, centre y, width,
//	              height, all normalised to [0,1] and halved.
//
// All parts: 104 values per region.
//
// Pixel statistics are gathered once per image into a 24 x 24 lattice of
// cells (plain loops over the Pix buffer, lookup tables for gradient
// orientation and magnitude and for LBP codes); a region's statistics are the
// sums over its cells, because every box in [Boxes] lies on the lattice.
// The cost is one pass over the pixels plus about 4,000 cell visits per
// image, independent of the number of regions.
package descriptor
