//go:build !amd64

package train

// expScaled32 sets x[i] = exp(s*x[i]) (see expScaledGo).
func expScaled32(x []float32, s float32) { expScaledGo(x, s) }
