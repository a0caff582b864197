//go:build !openblas

package train

// adamSSE is fusedRange on n float32 elements (n a multiple of 4) with SSE
// (baseline amd64), bit for bit; Go assembly (adam_amd64.s). The openblas
// build uses cgo, whose packages cannot hold Go assembly: it has the same
// kernel in C (adam_cgo_amd64.go).
//
//go:noescape
func adamSSE(w, gr, mo, ve, mw *float32, n int, c *adamConsts)
