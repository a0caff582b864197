//go:build amd64

package train

import "math"

// expTab holds the constants of expSSE (float32 bits, 4 lanes each), in
// the order the kernels read them.
var expTab = func() (t [14][4]uint32) {
	const (
		log2e = 1.44269504088896341
		magic = 12582912
	)
	f := []float32{-87, 88, log2e, magic, 0.693359375, -2.12194440e-4, 1,
		5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2, 8.3334519073e-3, 1.3981999507e-3, 1.9875691500e-4}
	for i, x := range f {
		t[i] = [4]uint32{math.Float32bits(x), math.Float32bits(x), math.Float32bits(x), math.Float32bits(x)}
	}
	// (bits(t) - 0x4b400000 + 127) as one wrapping addition
	k := uint32(127)
	k -= 0x4b400000
	t[13] = [4]uint32{k, k, k, k}
	return t
}()

// expScaled32 sets x[i] = exp(s*x[i]) as expScaledGo, the first len(x)&^3
// elements 4 at a time with SSE (bit for bit the same results).
func expScaled32(x []float32, s float32) {
	n := len(x) &^ 3
	if n >= expSSEMin {
		expSSE(&x[0], n, s, &expTab)
		x = x[n:]
	}
	expScaledGo(x, s)
}
