//go:build !openblas

package train

// expSSEMin is the shortest slice expScaled32 hands to expSSE.
const expSSEMin = 4

// expSSE is expScaledGo on n (a multiple of 4) elements, 4 lanes per SSE
// instruction, the same operations in the same order per lane (Go assembly,
// exp_amd64.s; the cgo build has it in C, exp_cgo_amd64.go).
//
//go:noescape
func expSSE(x *float32, n int, s float32, tab *[14][4]uint32)
