package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// render draws scene s. Texture phases and offsets come from rng, so the
// result depends only on the image's own random stream.
func render(rng *rand.Rand, s Scene) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, s.Width, s.Height))
	drawBackground(rng, img, s.Background)
	for _, o := range s.Objects {
		drawObject(img, o)
	}
	return img
}

// hash2 returns a deterministic pseudo-random value in [0, 1) for a lattice
// point and a per-image salt.
func hash2(x, y int, salt uint64) float64 {
	h := uint64(int64(x))*0x9E3779B97F4A7C15 ^ uint64(int64(y))*0xC2B2AE3D27D4EB4F ^ salt
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	h *= 0xC4CEB9FE1A85EC53
	h ^= h >> 33
	return float64(h>>11) / (1 << 53)
}

// valueNoise is smooth lattice noise in [0, 1) at (x, y) in lattice units.
func valueNoise(x, y float64, salt uint64) float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	fx = fx * fx * (3 - 2*fx)
	fy = fy * fy * (3 - 2*fy)
	ix, iy := int(x0), int(y0)
	a := hash2(ix, iy, salt)
	b := hash2(ix+1, iy, salt)
	c := hash2(ix, iy+1, salt)
	d := hash2(ix+1, iy+1, salt)
	return (a*(1-fx)+b*fx)*(1-fy) + (c*(1-fx)+d*fx)*fy
}

func clamp8(v float64) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

func set(img *image.RGBA, x, y int, r, g, b float64) {
	i := img.PixOffset(x, y)
	img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = clamp8(r), clamp8(g), clamp8(b), 255
}

func drawBackground(rng *rand.Rand, img *image.RGBA, bg Background) {
	salt := rng.Uint64()
	salt2 := rng.Uint64()
	phase := rng.Float64() * 2 * math.Pi
	w, h := img.Rect.Dx(), img.Rect.Dy()
	switch bg {
	case Grass:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				low := valueNoise(float64(x)/24, float64(y)/24, salt)
				blade := valueNoise(float64(x)/1.6, float64(y)/9, salt2)
				k := 0.62 + 0.25*low + 0.45*blade
				set(img, x, y, 62*k, 128*k, 40*k)
			}
		}
	case Sand:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				low := valueNoise(float64(x)/40, float64(y)/40, salt) - 0.5
				sp := hash2(x, y, salt2) - 0.5
				d := 22*low + 30*sp
				set(img, x, y, 214+d, 192+d, 142+0.8*d)
			}
		}
	case Water:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				wave := math.Sin(float64(y)*0.55 + 2.2*math.Sin(float64(x)*0.07+phase))
				low := valueNoise(float64(x)/30, float64(y)/30, salt) - 0.5
				d := 22*wave + 24*low
				set(img, x, y, 28+0.4*d, 68+0.8*d, 138+d)
			}
		}
	case Brick:
		const bh, bw, mortar = 13, 28, 2
		off := rng.IntN(bw)
		for y := 0; y < h; y++ {
			row := y / bh
			shift := off
			if row%2 == 1 {
				shift += bw / 2
			}
			for x := 0; x < w; x++ {
				col := (x + shift) / bw
				if y%bh < mortar || (x+shift)%bw < mortar {
					n := 12 * (hash2(x, y, salt2) - 0.5)
					set(img, x, y, 182+n, 176+n, 166+n)
					continue
				}
				k := 0.82 + 0.3*hash2(col, row, salt)
				n := 16 * (hash2(x, y, salt2) - 0.5)
				set(img, x, y, 158*k+n, 72*k+n, 52*k+n)
			}
		}
	case Snow:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				low := valueNoise(float64(x)/36, float64(y)/36, salt)
				n := 5 * (hash2(x, y, salt2) - 0.5)
				d := -20*low + n
				set(img, x, y, 240+d, 242+d, 248+0.6*d)
			}
		}
	case Wood:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				warp := valueNoise(float64(x)/34, float64(y)/7, salt)
				grain := math.Sin(float64(y)*0.85 + 5*warp + phase)
				n := 8 * (hash2(x, y, salt2) - 0.5)
				d := 26*grain + n
				set(img, x, y, 138+d, 88+0.7*d, 48+0.5*d)
			}
		}
	}
}

// sdf returns the signed distance in pixels from (px, py), relative to the
// object's centre, to the object's outline (negative inside).
func sdf(k Kind, px, py, r float64) float64 {
	switch k {
	case Circle:
		return math.Hypot(px, py) - r
	case Square:
		return boxSDF(px, py, 0.84*r, 0.84*r)
	case Ring:
		return math.Abs(math.Hypot(px, py)-0.7*r) - 0.3*r
	case Cross:
		return min(boxSDF(px, py, r, 0.33*r), boxSDF(px, py, 0.33*r, r))
	case Triangle:
		return polySDF(px, py, triangle, r)
	case Star:
		return polySDF(px, py, star, r)
	case Diamond:
		return polySDF(px, py, diamond, r)
	}
	return 1
}

func boxSDF(px, py, hx, hy float64) float64 {
	dx, dy := math.Abs(px)-hx, math.Abs(py)-hy
	out := math.Hypot(max(dx, 0), max(dy, 0))
	return out + min(max(dx, dy), 0)
}

// Unit polygons (y down), scaled by the object radius.
var (
	triangle = [][2]float64{{0, -0.95}, {1, 0.8}, {-1, 0.8}}
	diamond  = [][2]float64{{0, -1}, {0.78, 0}, {0, 1}, {-0.78, 0}}
	star     = func() [][2]float64 {
		var v [][2]float64
		for i := 0; i < 10; i++ {
			rad := 1.0
			if i%2 == 1 {
				rad = 0.45
			}
			a := -math.Pi/2 + float64(i)*math.Pi/5
			v = append(v, [2]float64{rad * math.Cos(a), rad*math.Sin(a) + 0.08})
		}
		return v
	}()
)

// polySDF is the exact signed distance to a simple polygon (after Inigo
// Quilez's formulation).
func polySDF(px, py float64, poly [][2]float64, r float64) float64 {
	n := len(poly)
	vx := func(i int) float64 { return poly[i][0] * r }
	vy := func(i int) float64 { return poly[i][1] * r }
	d := (px-vx(0))*(px-vx(0)) + (py-vy(0))*(py-vy(0))
	s := 1.0
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		ex, ey := vx(j)-vx(i), vy(j)-vy(i)
		wx, wy := px-vx(i), py-vy(i)
		t := (wx*ex + wy*ey) / (ex*ex + ey*ey)
		t = min(max(t, 0), 1)
		bx, by := wx-ex*t, wy-ey*t
		d = min(d, bx*bx+by*by)
		c1 := py >= vy(i)
		c2 := py < vy(j)
		c3 := ex*wy > ey*wx
		if (c1 && c2 && c3) || (!c1 && !c2 && !c3) {
			s = -s
		}
	}
	return s * math.Sqrt(d)
}

// drawObject blends o over img: a flat fill with slight vertical shading and
// a dark anti-aliased outline.
func drawObject(img *image.RGBA, o Object) {
	c := colourRGB[o.Colour]
	oc := [3]float64{c[0] * 0.3, c[1] * 0.3, c[2] * 0.3}
	if o.Colour == Black {
		oc = [3]float64{95, 95, 95}
	}
	lw := max(1.5, o.R*0.09)
	x0 := max(0, int(math.Floor(o.X-o.R-2)))
	x1 := min(img.Rect.Dx()-1, int(math.Ceil(o.X+o.R+2)))
	y0 := max(0, int(math.Floor(o.Y-o.R-2)))
	y1 := min(img.Rect.Dy()-1, int(math.Ceil(o.Y+o.R+2)))
	for y := y0; y <= y1; y++ {
		py := float64(y) + 0.5 - o.Y
		shade := 1.08 - 0.16*(py+o.R)/(2*o.R)
		for x := x0; x <= x1; x++ {
			px := float64(x) + 0.5 - o.X
			d := sdf(o.Kind, px, py, o.R)
			alpha := min(max(0.5-d, 0), 1)
			if alpha == 0 {
				continue
			}
			t := min(max(d+lw+0.5, 0), 1) // 0 = fill, 1 = outline
			i := img.PixOffset(x, y)
			for ch := 0; ch < 3; ch++ {
				fill := c[ch] * shade
				col := fill*(1-t) + oc[ch]*t
				bg := float64(img.Pix[i+ch])
				img.Pix[i+ch] = clamp8(bg*(1-alpha) + col*alpha)
			}
		}
	}
}
