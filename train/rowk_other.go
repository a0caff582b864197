//go:build !openblas || !amd64

package train

// The row kernels of rowk.go in portable Go (see there).

func maskedStats(row []float32) (n int, sum, sumSq, cmax float64) { return maskedStatsGo(row) }

func dclArgsExpSum(args, row []float32, mu, inv, zmax float64) float64 {
	return dclArgsExpSumGo(args, row, mu, inv, zmax)
}

func dclWrite32(dst, part []float32, inv, off float64) { dclWrite32Go(dst, part, inv, off) }

func argsMax32(e, s, lw []float32, inv float64) float64 { return argsMax32Go(e, s, lw, inv) }

func expSum32(x []float32) float64 { return expSum32Go(x) }

func softmaxRow32(o, x []float32, s float64) (m, se float64) { return softmaxRow32Go(o, x, s) }

func sumSq32(x []float32) float64 { return sumSq(x) }

func dot32(x, y []float32) float64 { return dot4(x, y) }

func scaleRow32(o, x []float32, f float64) { scaleRow32Go(o, x, f) }

func l2BwdRow32(o, y, g []float32, yg, inv float64) { l2BwdRow32Go(o, y, g, yg, inv) }

func scale32(o, x []float32, c float32) { scale32Go(o, x, c) }

func embedRows32(out, e []float32, tok []int, w []float32, T, Wd, lo, hi int) {
	embedRows32Go(out, e, tok, w, T, Wd, lo, hi)
}

func embedBwd32(out, g []float32, tok []int, w []float32, B, T, Wd, lo, hi int) {
	embedBwd32Go(out, g, tok, w, B, T, Wd, lo, hi)
}

func poolImage32(dst, img []float32, R, d int, inv float32) { poolImage32Go(dst, img, R, d, inv) }

func gruFwdRows32(g *gruRows[float32]) { g.fwd() }
