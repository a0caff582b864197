// Package synth generates coderflow's embedded synthetic image–caption data
// set: the offline default that needs no download and no shipped files.
//
// # What an image contains
//
// Every image is drawn in-process from (seed, index) alone, with a private
// PCG random stream per image, so any image can be regenerated on its own and
// a whole data set is byte-identical for the same seed and parameters (PNG is
// encoded by image/png, which is deterministic; nothing depends on map order,
// time or the number of workers).
//
//   - Size: width and height drawn independently in [MinSize, MaxSize]
//     (default 128–192 px).
//   - Background: one of six textures, each with a distinct colour and
//     texture statistic, so colour histograms and gradient/texture
//     descriptors separate them: grass (mid green, vertical blades), sand
//     (beige, fine speckle), water (deep blue, horizontal waves), brick (red
//     brown rows with grey mortar, a strong horizontal/vertical grid), snow
//     (near white, smooth) and wood (brown, long horizontal grain).
//   - Objects: 1, 2 or 3 (30/40/30 %), each of seven kinds (circle, square,
//     triangle, star, cross, ring, diamond), eight saturated colours (red,
//     orange, yellow, green, blue, purple, white, black) and three sizes
//     (small, medium, large: about 22, 31 and 42 % of the shorter image side).
//     Objects are upright, filled flat with a slight top-to-bottom shading and
//     have a dark anti-aliased outline, so the shape is visible on any
//     background; colours that are too close to a background (green on grass,
//     blue on water, red on brick, white on snow, orange and yellow on sand,
//     orange on wood) are never drawn on it. No two objects in one image share
//     both kind and colour, and objects never overlap.
//   - Layout: one object sits near the centre; two objects sit side by side
//     (a horizontal relation, "left of") or one above the other ("above");
//     three objects fill three of the four cells of a 2×2 grid, which gives
//     one horizontal and one vertical relation.
//
// Shapes are rasterised here from exact signed-distance functions (one
// sample per pixel, anti-aliased over one pixel), straight into an
// image.RGBA: neither imaging nor image/draw draws circles, stars or
// outlines, and a distance function gives clean edges at any size without
// supersampling.
//
// # Captions
//
// Each image gets exactly five different captions written from a small
// grammar. Every caption picks words independently: colours have synonyms
// (red: crimson, scarlet; blue: azure, cobalt; ...), shapes have synonyms and
// more general terms (circle: disk, disc, dot; square: box, block, cube, tile;
// any shape: shape, figure, object, thing), sizes (small: little, tiny; large:
// big, huge), relations (above: over, on top of; left of: to the left of,
// beside...) and backgrounds (grass: a lawn, a grassy field; water: the sea,
// a lake; ...). Templates vary too: some captions state the relation, some
// only list the objects, some leave out an object, the size or the
// background. Rare synonyms and hypernyms are exactly what a lexical
// knowledge graph (ConceptNet/WordNet) links back to the common words.
//
// # Why it is not trivial
//
// The attributes are few and shared by many images: with the default 2,000
// images every (kind, colour) pair occurs in dozens of images and every
// background in about a sixth of them, so a caption matches many images on
// any single attribute, and retrieval must combine colour, shape, size,
// position and background read from the pixels. Captions alone carry no
// image identity (chance R@1 on a 200-image test split is 0.5 %); a text
// model has to ground words in region descriptors (colour histograms,
// gradient orientations, texture, box geometry), which the drawing makes
// clearly separable.
//
// TestAttributeOracle measures the data-side ceiling: matching the
// attributes each caption mentions against the true attributes of every
// test scene (no pixels, relations ignored) gives rSum ≈ 560 of 600 on the
// default 200-image test split (i2t R@1 98.5, t2i R@1 69.7: captions that
// leave out an object or use a hypernym stay ambiguous), against a chance
// rSum of about 16.
package synth
