//go:build !openblas

package blasimpl

// Name is the BLAS in use: "gonum" (pure Go) or "openblas".
const Name = "gonum"
