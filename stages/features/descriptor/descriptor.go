package descriptor

import (
	"fmt"
	"image"
	"image/draw"
	"math"
	"strings"
	"sync"
)

// Descriptor part names, in output order.
const (
	PartColor    = "color"
	PartHOG      = "hog"
	PartLBP      = "lbp"
	PartColorPos = "colorpos"
	PartGeom     = "geom"
)

// Parts lists every part in the order they are concatenated.
var Parts = []string{PartColor, PartHOG, PartLBP, PartColorPos, PartGeom}

// Histogram sizes.
const (
	hueBins    = 12 // 30 degrees each, bin i centred at 30*i
	satLevels  = 2  // saturation 0.2-0.55 and 0.55-1
	greyBins   = 4  // achromatic pixels by value
	colorBins  = hueBins*satLevels + greyBins
	momentDims = 6  // mean and std of R, G, B
	oriBins    = 9  // unsigned gradient orientation, 20 degrees each
	lbpBins    = 10 // rotation-invariant uniform LBP(8,1): 0..8 ones, 9 = non-uniform
	coarse     = 8  // coarse colours for colorpos: 6 hues + dark + light
	cellStride = colorBins + oriBins + lbpBins + momentDims + 1
)

// PartDim returns the number of values a part contributes per region.
func PartDim(part string) int {
	switch part {
	case PartColor:
		return colorBins + momentDims // 34
	case PartHOG:
		return 4 * oriBins // 36: 2x2 sub-cells
	case PartLBP:
		return lbpBins // 10
	case PartColorPos:
		return 2 * coarse // 16
	case PartGeom:
		return 8
	}
	return 0
}

// Config selects the regions and parts of a descriptor.
type Config struct {
	// Parts is a subset of [Parts]; empty means all. Output order is always
	// the order of [Parts], whatever the order here.
	Parts []string
	// Regions is the number of boxes, the first Regions of [Boxes]; 0 means 36.
	Regions int
}

// Dim returns the per-region dimension of cfg (104 for all parts).
func (c Config) Dim() int {
	d := 0
	for _, p := range c.Selected() {
		d += PartDim(p)
	}
	return d
}

// Selected returns the selected parts in output order.
func (c Config) Selected() []string {
	if len(c.Parts) == 0 {
		return Parts
	}
	var out []string
	for _, p := range Parts {
		for _, q := range c.Parts {
			if p == q {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// Validate checks part names and the region count.
func (c Config) Validate() error {
	for _, q := range c.Parts {
		if PartDim(q) == 0 {
			return fmt.Errorf("unknown descriptor part %q (want some of %s)", q, strings.Join(Parts, ", "))
		}
	}
	if c.Regions < 0 || c.Regions > MaxRegions {
		return fmt.Errorf("regions %d out of range 1..%d", c.Regions, MaxRegions)
	}
	return nil
}

// Extractor computes region descriptors. It keeps scratch buffers between
// calls and is not safe for concurrent use: give each worker its own.
type Extractor struct {
	cfg     Config
	parts   []string
	regions int
	grey    []uint8
	cells   []uint64 // Grid*Grid cells of cellStride values
	cellX   []int32  // pixel boundaries of the lattice columns
	cellY   []int32
}

// NewExtractor returns an extractor for cfg.
func NewExtractor(cfg Config) (*Extractor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Regions == 0 {
		cfg.Regions = MaxRegions
	}
	initTables()
	return &Extractor{cfg: cfg, parts: cfg.Selected(), regions: cfg.Regions,
		cells: make([]uint64, Grid*Grid*cellStride)}, nil
}

// Dim is the per-region dimension.
func (e *Extractor) Dim() int { return e.cfg.Dim() }

// Regions is the number of regions per image.
func (e *Extractor) Regions() int { return e.regions }

// Image computes the descriptors of img; see [Extractor.Pixels]. An
// *image.RGBA (premultiplied: composited on black) and an opaque
// *image.NRGBA are read in place; other images are drawn onto an RGBA
// first, which composites any alpha on black. (A translucent NRGBA used to
// be read in place, its colours not composited, so the same picture gave
// other descriptors as an NRGBA than as an NRGBA64 or a paletted image.)
func (e *Extractor) Image(img image.Image, boxes, feats []float32) ([]float32, []float32) {
	switch m := img.(type) {
	case *image.RGBA:
		return e.Pixels(m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy(), boxes, feats)
	case *image.NRGBA:
		if m.Opaque() {
			return e.Pixels(m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy(), boxes, feats)
		}
	}
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(m, m.Rect, img, b.Min, draw.Src)
	return e.Pixels(m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy(), boxes, feats)
}

// Pixels computes the descriptors of a w x h image stored as 8-bit R, G, B,
// A quadruples (the Pix layout of image.RGBA and image.NRGBA; alpha is
// ignored) and appends Regions*4 box coordinates to boxes and Regions*Dim
// values to feats. A region without pixels (an image narrower or shorter
// than [Grid] pixels leaves lattice cells empty; the stage gives one only
// with short_side below Grid, and then still at least 16 pixels a side,
// which leaves no box and no HOG sub-cell without pixels) or without
// gradient (a flat region) gets zeros in the parts concerned, never NaN.
func (e *Extractor) Pixels(pix []uint8, stride, w, h int, boxes, feats []float32) ([]float32, []float32) {
	e.gather(pix, stride, w, h)
	for bi := 0; bi < e.regions; bi++ {
		b := Boxes[bi]
		n := b.Norm()
		boxes = append(boxes, n[:]...)
		feats = e.region(b, feats)
	}
	return boxes, feats
}

// Per-cell layout offsets within cellStride.
const (
	offColor = 0
	offOri   = offColor + colorBins
	offLBP   = offOri + oriBins
	offMom   = offLBP + lbpBins
	offCount = offMom + momentDims
)

// gather fills the per-cell statistics: one pass over the colour pixels
// (colour histogram, moments, grey plane), one over the grey plane
// (gradient orientation and LBP). Both walk each row cell by cell,
// keeping running sums in locals, and accumulate integers: colour weights
// in 1/256 units, gradient magnitudes in 1/8 units.
func (e *Extractor) gather(pix []uint8, stride, w, h int) {
	clear(e.cells)
	if w <= 0 || h <= 0 {
		return
	}
	if cap(e.grey) < w*h {
		e.grey = make([]uint8, w*h)
	}
	grey := e.grey[:w*h]
	e.cellX = bounds(e.cellX, w)
	e.cellY = lattice(e.cellY, h)
	cells := e.cells
	xb := e.cellX // Grid+1 column boundaries
	for y := 0; y < h; y++ {
		row := pix[y*stride : y*stride+4*w]
		grow := grey[y*w : y*w+w]
		cy := int(e.cellY[y]) * Grid
		for gx := 0; gx < Grid; gx++ {
			x0, x1 := int(xb[gx]), int(xb[gx+1])
			if x0 == x1 {
				continue
			}
			c := cells[(cy+gx)*cellStride : (cy+gx+1)*cellStride]
			col := c[offColor : offColor+colorBins]
			var sr, sg, sb, qr, qg, qb uint64
			for x := x0; x < x1; x++ {
				p := row[4*x : 4*x+3 : 4*x+3]
				r, g, b := uint32(p[0]), uint32(p[1]), uint32(p[2])
				grow[x] = uint8((77*r + 150*g + 29*b) >> 8)
				sr += uint64(r)
				sg += uint64(g)
				sb += uint64(b)
				qr += uint64(r * r)
				qg += uint64(g * g)
				qb += uint64(b * b)
				ent := colorLUT[(r>>3)<<10|(g>>3)<<5|b>>3]
				wh := uint64(ent >> 10)
				col[ent&31] += 256 - wh
				col[(ent>>5)&31] += wh
			}
			c[offMom] += sr
			c[offMom+1] += sg
			c[offMom+2] += sb
			c[offMom+3] += qr
			c[offMom+4] += qg
			c[offMom+5] += qb
			c[offCount] += uint64(x1 - x0)
		}
	}
	// gradients and LBP on interior pixels
	for y := 1; y < h-1; y++ {
		up, mid, dn := grey[(y-1)*w:y*w], grey[y*w:(y+1)*w], grey[(y+1)*w:(y+2)*w]
		cy := int(e.cellY[y]) * Grid
		for gx := 0; gx < Grid; gx++ {
			x0, x1 := max(int(xb[gx]), 1), min(int(xb[gx+1]), w-1)
			if x0 >= x1 {
				continue
			}
			c := cells[(cy+gx)*cellStride : (cy+gx+1)*cellStride]
			ori := c[offOri : offOri+oriBins]
			lbp := c[offLBP : offLBP+lbpBins]
			for x := x0; x < x1; x++ {
				gxv := int(mid[x+1]) - int(mid[x-1])
				gyv := int(dn[x]) - int(up[x])
				k := (gxv+255)*511 + (gyv + 255)
				ori[oriLUT[k]] += uint64(magLUT[k])
				ctr := mid[x]
				code := b2u(up[x-1] >= ctr) | b2u(up[x] >= ctr)<<1 | b2u(up[x+1] >= ctr)<<2 | b2u(mid[x+1] >= ctr)<<3 |
					b2u(dn[x+1] >= ctr)<<4 | b2u(dn[x] >= ctr)<<5 | b2u(dn[x-1] >= ctr)<<6 | b2u(mid[x-1] >= ctr)<<7
				lbp[lbpLUT[code]]++
			}
		}
	}
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// bounds returns the Grid+1 pixel boundaries of the lattice columns over n
// pixels: column i covers [b[i], b[i+1]).
func bounds(buf []int32, n int) []int32 {
	if cap(buf) < Grid+1 {
		buf = make([]int32, Grid+1)
	}
	buf = buf[:Grid+1]
	for i := range buf {
		buf[i] = int32((i*n + Grid - 1) / Grid) // ceil(i*n/Grid): first x with x*Grid/n >= i
	}
	return buf
}

// lattice maps each of n pixel positions to its lattice cell.
func lattice(buf []int32, n int) []int32 {
	if cap(buf) < n {
		buf = make([]int32, n)
	}
	buf = buf[:n]
	for i := range buf {
		buf[i] = int32(i * Grid / n)
	}
	return buf
}

// coarseOf maps the fine colour bins to the 8 coarse colours of colorpos:
// red, yellow, green, cyan, blue, magenta (hue bin i, centred at 30i
// degrees, goes to coarse hue i/2, split half and half when i is odd), dark
// (grey bins 0-1) and light (grey bins 2-3).
var coarseOf = func() (m [colorBins][coarse]float64) {
	for l := 0; l < satLevels; l++ {
		for i := 0; i < hueBins; i++ {
			if i%2 == 0 {
				m[l*hueBins+i][i/2] = 1
			} else {
				m[l*hueBins+i][i/2] = 0.5
				m[l*hueBins+i][(i/2+1)%6] = 0.5
			}
		}
	}
	g := hueBins * satLevels
	m[g][6], m[g+1][6], m[g+2][7], m[g+3][7] = 1, 1, 1, 1
	return m
}()

// region sums the cells of b and appends its descriptor to feats.
func (e *Extractor) region(b Box, feats []float32) []float32 {
	var (
		hist  [colorBins]float64
		mom   [momentDims]float64
		ori   [4][oriBins]float64
		lbp   [lbpBins]float64
		cpos  [coarse][2]float64
		count float64
	)
	midX, midY := (b.X0+b.X1)/2, (b.Y0+b.Y1)/2
	for gy := b.Y0; gy < b.Y1; gy++ {
		py := (float64(gy)+0.5)/Grid*2 - 1
		for gx := b.X0; gx < b.X1; gx++ {
			px := (float64(gx)+0.5)/Grid*2 - 1
			c := e.cells[(gy*Grid+gx)*cellStride : (gy*Grid+gx+1)*cellStride]
			q := 0
			if gx >= midX {
				q++
			}
			if gy >= midY {
				q += 2
			}
			for i := 0; i < colorBins; i++ {
				if c[offColor+i] == 0 {
					continue
				}
				v := float64(c[offColor+i]) / 256
				hist[i] += v
				for k, wgt := range coarseOf[i] {
					if wgt != 0 {
						cpos[k][0] += wgt * v * px
						cpos[k][1] += wgt * v * py
					}
				}
			}
			for i := range mom {
				mom[i] += float64(c[offMom+i])
			}
			for i := range oriBins {
				ori[q][i] += float64(c[offOri+i]) / 8
			}
			for i := range lbpBins {
				lbp[i] += float64(c[offLBP+i])
			}
			count += float64(c[offCount])
		}
	}
	inv := 0.0
	if count > 0 {
		inv = 1 / count
	}
	for _, p := range e.parts {
		start := len(feats)
		switch p {
		case PartColor:
			for _, v := range hist {
				feats = append(feats, float32(math.Sqrt(v*inv)))
			}
			for i := 0; i < 3; i++ {
				mean := mom[i] * inv
				vr := mom[i+3]*inv - mean*mean
				feats = append(feats, float32(mean/255), float32(math.Sqrt(max(vr, 0))/255))
			}
			l2(feats[start:])
		case PartHOG:
			for q := range ori {
				for _, v := range ori[q] {
					feats = append(feats, float32(math.Sqrt(v)))
				}
			}
			l2(feats[start:])
		case PartLBP:
			for _, v := range lbp {
				feats = append(feats, float32(math.Sqrt(v*inv)))
			}
			l2(feats[start:])
		case PartColorPos:
			for k := range cpos {
				feats = append(feats, float32(cpos[k][0]*inv), float32(cpos[k][1]*inv))
			}
		case PartGeom:
			n := b.Norm()
			feats = append(feats, n[0]/2, n[1]/2, n[2]/2, n[3]/2,
				(n[0]+n[2])/4, (n[1]+n[3])/4, (n[2]-n[0])/2, (n[3]-n[1])/2)
		}
	}
	return feats
}

// l2 scales v to unit Euclidean norm (a zero vector stays zero).
func l2(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

var (
	tablesOnce sync.Once
	oriLUT     []uint8  // (gx+255)*511 + (gy+255) -> orientation bin
	magLUT     []uint16 // same index -> gradient magnitude in 1/8 units
	colorLUT   []uint32 // 5-bit-per-channel RGB -> lo bin | hi bin<<5 | weight of hi (0..256)<<10
	lbpLUT     [256]uint8
)

// initTables builds the gradient and LBP lookup tables once.
func initTables() {
	tablesOnce.Do(func() {
		oriLUT = make([]uint8, 511*511)
		magLUT = make([]uint16, 511*511)
		for gx := -255; gx <= 255; gx++ {
			for gy := -255; gy <= 255; gy++ {
				k := (gx+255)*511 + (gy + 255)
				magLUT[k] = uint16(math.Round(8 * math.Hypot(float64(gx), float64(gy))))
				// Unsigned orientation in [0, pi): a gradient and its
				// negative share a bin. atan2 gives (-pi, pi]; pi itself
				// (gx < 0, gy = 0) is 0, not the last bin.
				th := math.Atan2(float64(gy), float64(gx))
				if th < 0 {
					th += math.Pi
				}
				if th >= math.Pi {
					th -= math.Pi
				}
				bin := int(th / math.Pi * oriBins)
				if bin >= oriBins {
					bin = oriBins - 1
				}
				oriLUT[k] = uint8(bin)
			}
		}
		colorLUT = make([]uint32, 1<<15)
		for q := range colorLUT {
			r, g, b := int32(q>>10)<<3|4, int32(q>>5&31)<<3|4, int32(q&31)<<3|4
			lo, hi, wh := colorBin(r, g, b)
			colorLUT[q] = uint32(lo) | uint32(hi)<<5 | uint32(wh)<<10
		}
		for code := 0; code < 256; code++ {
			ones, trans := 0, 0
			for i := 0; i < 8; i++ {
				b := code >> i & 1
				ones += b
				if b != code>>((i+1)%8)&1 {
					trans++
				}
			}
			if trans <= 2 {
				lbpLUT[code] = uint8(ones)
			} else {
				lbpLUT[code] = lbpBins - 1
			}
		}
	})
}

// colorBin returns the two colour-histogram bins of a pixel and the weight
// (0..256) of the second: hue soft-assigned between the two nearest of 12
// bin centres at the pixel's saturation level, or one value bin for
// achromatic pixels (v < 0.2 or s < 0.2).
func colorBin(r, g, b int32) (lo, hi, wh int) {
	mx, mn := max(r, g, b), min(r, g, b)
	d := mx - mn
	if mx < 51 || d*5 < mx {
		bin := hueBins*satLevels + int(mx>>6)
		return bin, bin, 0
	}
	var hue float64 // in [0, 6)
	switch mx {
	case r:
		hue = float64(g-b) / float64(d)
		if hue < 0 {
			hue += 6
		}
	case g:
		hue = 2 + float64(b-r)/float64(d)
	default:
		hue = 4 + float64(r-g)/float64(d)
	}
	hf := hue * 2 // [0, 12)
	l := int(hf)
	frac := hf - float64(l)
	if l >= hueBins {
		l, frac = 0, 0
	}
	h := l + 1
	if h == hueBins {
		h = 0
	}
	level := 0
	if d*100 >= 55*mx {
		level = hueBins
	}
	return level + l, level + h, int(math.Round(frac * 256))
}
