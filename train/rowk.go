package train

import "math"

// Row kernels of the DCL log-weights, the float32 softmax-like heads and
// the row L2 normalisation. The functions named *Go here are the portable
// code; maskedStats, dclArgsExpSum, dclWrite32, argsMax32, expSum32,
// softmaxRow32, sumSq32, dot32, scaleRow32, l2BwdRow32, scale32,
// embedRows32, embedBwd32 and poolImage32 are these same
// functions in the pure-Go build (rowk_other.go) and SSE2 C in the cgo
// (openblas) build (rowk_cgo_amd64.go), with the same operations in the same
// order per element and the same partial sums, so the same bits
// (TestRowKernelsMatchGo).
//
// Every product here that is added to or subtracted from something is
// converted, float64(x*y) or F(x*y): the conversion rounds the product, so
// the compiler cannot fuse it with the addition into an FMA (which the Go
// spec allows and GOAMD64=v3 does). The C kernels never fuse, so the Go
// code stays their bit-for-bit twin at every GOAMD64 level; without FMA the
// conversions change nothing.

// maskedStatsGo returns the count, sum, sum of squares (in float64) and
// maximum of the entries of row that are not -Inf, over four interleaved
// sets of partial sums (a single add chain is bound by the add latency).
func maskedStatsGo(row []float32) (n int, sum, sumSq, cmax float64) {
	negInf := float32(math.Inf(-1))
	var s0, s1, s2, s3, q0, q1, q2, q3 float64
	m0, m1, m2, m3 := negInf, negInf, negInf, negInf
	var c0, c1, c2, c3 int
	j := 0
	for ; j+4 <= len(row); j += 4 {
		r := row[j : j+4 : j+4]
		if x := r[0]; x != negInf {
			c0++
			v := float64(x)
			s0 += v
			q0 += float64(v * v)
			if x > m0 {
				m0 = x
			}
		}
		if x := r[1]; x != negInf {
			c1++
			v := float64(x)
			s1 += v
			q1 += float64(v * v)
			if x > m1 {
				m1 = x
			}
		}
		if x := r[2]; x != negInf {
			c2++
			v := float64(x)
			s2 += v
			q2 += float64(v * v)
			if x > m2 {
				m2 = x
			}
		}
		if x := r[3]; x != negInf {
			c3++
			v := float64(x)
			s3 += v
			q3 += float64(v * v)
			if x > m3 {
				m3 = x
			}
		}
	}
	for ; j < len(row); j++ {
		if x := row[j]; x != negInf {
			c0++
			v := float64(x)
			s0 += v
			q0 += float64(v * v)
			if x > m0 {
				m0 = x
			}
		}
	}
	n = (c0 + c1) + (c2 + c3)
	return n, (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3), float64(max(max(m0, m1), max(m2, m3)))
}

// dclArgsExpSumGo writes args_j = exp((c_j - mu) inv - zmax) for the row's
// entries c_j (the argument computed in float64, rounded to float32, the
// exponential by expScaled32; -Inf entries give 0) and returns the float64
// sum of args (sum4).
func dclArgsExpSumGo(args, row []float32, mu, inv, zmax float64) float64 {
	negInf := float32(math.Inf(-1))
	args = args[:len(row)]
	for j, c := range row {
		if c == negInf {
			args[j] = negInf // exp gives 0
		} else {
			args[j] = float32(float64((float64(c)-mu)*inv) - zmax)
		}
	}
	expScaled32(args, 1)
	return sum4(args)
}

// dclWrite32Go writes dst_k = float32(c_k inv + off) (in float64) for the
// entries of part, bigNeg for -Inf entries.
func dclWrite32Go(dst, part []float32, inv, off float64) { dclWriteRow(dst, part, inv, off) }

// dclWriteRow is dclWrite32Go for either float type of dst.
func dclWriteRow[F float](dst []F, part []float32, inv, off float64) {
	negInf := float32(math.Inf(-1))
	dst = dst[:len(part)]
	for k, c := range part {
		if c == negInf {
			dst[k] = bigNeg
		} else {
			dst[k] = F(float64(float64(c)*inv) + off)
		}
	}
}

// argsMax32Go writes e_j = s_j*inv + lw_j (computed in float64) and returns
// their maximum (-Inf for an empty row; NaN arguments are skipped).
func argsMax32Go(e, s, lw []float32, inv float64) float64 {
	e, lw = e[:len(s)], lw[:len(s)]
	m := math.Inf(-1)
	for j, x := range s {
		a := float64(float64(x)*inv) + float64(lw[j])
		if a > m {
			m = a
		}
		e[j] = float32(a)
	}
	return m
}

// expSum32Go sets x_j = exp(x_j) (expScaled32) and returns their float64
// sum (sum4).
func expSum32Go(x []float32) float64 {
	expScaled32(x, 1)
	return sum4(x)
}

// softmaxRow32Go writes o = softmax(s x) (shift m = max_k s x_k, arguments
// float32(s x_k - m) computed in float64, exp and sum by expSum32, then
// o_k = float32(o_k / se) as o_k times 1/se in float64) and returns m and
// the sum se.
func softmaxRow32Go(o, x []float32, s float64) (m, se float64) {
	m = math.Inf(-1)
	for _, v := range x {
		if a := s * float64(v); a > m {
			m = a
		}
	}
	o = o[:len(x)]
	for k, v := range x {
		o[k] = float32(float64(s*float64(v)) - m)
	}
	se = expSum32Go(o)
	scaleRow32Go(o, o, 1/se)
	return m, se
}

// scaleRow32Go writes o_k = float32(float64(x_k) * f) (o may be x).
func scaleRow32Go(o, x []float32, f float64) {
	o = o[:len(x)]
	for k, v := range x {
		o[k] = float32(float64(v) * f)
	}
}

// l2BwdRow32Go writes o_k = float32((g_k - y_k yg) inv) (in float64).
func l2BwdRow32Go(o, y, g []float32, yg, inv float64) {
	o, g = o[:len(y)], g[:len(y)]
	for k, v := range y {
		o[k] = float32((float64(g[k]) - float64(float64(v)*yg)) * inv)
	}
}

// scale32Go writes o = c x (float32).
func scale32Go(o, x []float32, c float32) {
	o = o[:len(x)]
	for j, v := range x {
		o[j] = c * v
	}
}

// embedRows32Go is embedMeanRows for float32.
func embedRows32Go(out, e []float32, tok []int, w []float32, T, Wd, lo, hi int) {
	embedRowsGo(out, e, tok, w, T, Wd, lo, hi)
}

// embedRowsGo adds w_it e[tok_it] to out_i for rows [lo, hi), in t order.
func embedRowsGo[F float](out, e []F, tok []int, w []F, T, Wd, lo, hi int) {
	for i := lo; i < hi; i++ {
		o := out[i*Wd : (i+1)*Wd]
		for t := range T {
			a := w[i*T+t]
			if a == 0 {
				continue
			}
			row := e[tok[i*T+t]*Wd : (tok[i*T+t]+1)*Wd]
			for k, v := range row {
				o[k] += F(a * v)
			}
		}
	}
}

// embedBwd32Go is the accumulation of embedMeanBwd on columns [lo, hi).
func embedBwd32Go(out, g []float32, tok []int, w []float32, B, T, Wd, lo, hi int) {
	embedBwdRows(out, g, tok, w, B, T, Wd, lo, hi)
}

// embedBwdRows adds w_it g_i to row tok_it of out, on columns [lo, hi),
// in (i, t) order.
func embedBwdRows[F float](out, g []F, tok []int, w []F, B, T, Wd, lo, hi int) {
	for i := range B {
		gi := g[i*Wd+lo : i*Wd+hi]
		for t := range T {
			a := w[i*T+t]
			if a == 0 {
				continue
			}
			r := tok[i*T+t]
			row := out[r*Wd+lo : r*Wd+hi]
			for k, v := range gi {
				row[k] += F(a * v)
			}
		}
	}
}

// poolImage32Go adds the R regions (d values each) of img into dst (zero on
// entry), four regions per pass over dst, and scales by inv.
func poolImage32Go(dst, img []float32, R, d int, inv float32) {
	dst = dst[:d]
	r := 0
	for ; r+4 <= R; r += 4 { // four regions per pass over dst
		a, b := img[r*d:(r+1)*d], img[(r+1)*d:(r+2)*d]
		c, e := img[(r+2)*d:(r+3)*d], img[(r+3)*d:(r+4)*d]
		for k := range dst {
			dst[k] += (a[k] + b[k]) + (c[k] + e[k])
		}
	}
	for ; r < R; r++ {
		for k, x := range img[r*d : (r+1)*d] {
			dst[k] += x
		}
	}
	for k := range dst {
		dst[k] *= inv
	}
}
