//go:build !amd64

package train

// fusedRange32 is fusedRange for float32 (no assembly on this architecture).
func fusedRange32(w, g, m, v, mw []float32, clip, lr, c1, c2, mu float64) {
	fusedRange(w, g, m, v, mw, clip, lr, c1, c2, mu)
}
