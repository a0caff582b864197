package features

import "image"

// scaleYCbCr is the fast path of the default resampler for decoded JPEGs:
// bilinear interpolation of the luma plane and nearest-sample chroma,
// converting each output pixel from YCbCr to RGB once (x/image/draw's
// ApproxBiLinear converts each of the four taps, which made it as costly as
// the whole descriptor). It handles sources whose rectangle starts at the
// origin with 4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1 and 4:1:0 chroma and reports
// false for anything else. Scratch index tables live in r.
func (r *resizer) scaleYCbCr(dst *image.RGBA, src *image.YCbCr) bool {
	if src.Rect.Min != (image.Point{}) {
		return false
	}
	var hs, vs uint
	switch src.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	case image.YCbCrSubsampleRatio411:
		hs = 2
	case image.YCbCrSubsampleRatio410:
		hs, vs = 2, 1
	default:
		return false
	}
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	if sw == 0 || sh == 0 {
		return false
	}
	r.xs = taps(r.xs, sw, dw)
	xs := r.xs
	for y := 0; y < dh; y++ {
		ty := tap1(y, sh, dh)
		y0, y1, wy := int(ty.i0), int(ty.i1), int32(ty.w)
		row0 := src.Y[y0*src.YStride : y0*src.YStride+sw]
		row1 := src.Y[y1*src.YStride : y1*src.YStride+sw]
		cy := y0
		if wy >= 128 {
			cy = y1
		}
		crow := (cy >> vs) * src.CStride
		cbRow, crRow := src.Cb[crow:], src.Cr[crow:]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+4*dw]
		for x := 0; x < dw; x++ {
			t := xs[x]
			x0, x1, wx := int(t.i0), int(t.i1), int32(t.w)
			a := int32(row0[x0])*(256-wx) + int32(row0[x1])*wx
			b := int32(row1[x0])*(256-wx) + int32(row1[x1])*wx
			yv := (a*(256-wy) + b*wy + 1<<15) >> 16
			cx := x0
			if wx >= 128 {
				cx = x1
			}
			cx >>= hs
			// color.YCbCrToRGB, inlined
			yy := yv * 0x10101
			cb := int32(cbRow[cx]) - 128
			cr := int32(crRow[cx]) - 128
			rr := yy + 91881*cr
			gg := yy - 22554*cb - 46802*cr
			bb := yy + 116130*cb
			o := out[4*x : 4*x+4 : 4*x+4]
			o[0] = clamp16(rr)
			o[1] = clamp16(gg)
			o[2] = clamp16(bb)
			o[3] = 0xff
		}
	}
	return true
}

func clamp16(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	return uint8(^(v >> 31))
}

// tap is one output coordinate's two source samples and the weight (0..256)
// of the second.
type tap struct {
	i0, i1 int32
	w      int32
}

// tap1 maps output index i of n to the source axis of length s, with pixel
// centres aligned: src = (i+0.5)*s/n - 0.5.
func tap1(i, s, n int) tap {
	f := (int64(2*i+1)*int64(s)*256)/int64(2*n) - 128 // 8-bit fixed point
	if f < 0 {
		f = 0
	}
	i0 := f >> 8
	w := f & 255
	if i0 >= int64(s-1) {
		return tap{int32(s - 1), int32(s - 1), 0}
	}
	return tap{int32(i0), int32(i0 + 1), int32(w)}
}

func taps(buf []tap, s, n int) []tap {
	if cap(buf) < n {
		buf = make([]tap, n)
	}
	buf = buf[:n]
	for i := range buf {
		buf[i] = tap1(i, s, n)
	}
	return buf
}
