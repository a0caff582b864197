//go:build openblas && amd64

package train

import "testing"

// TestRowKernelsSSE2Path runs TestRowKernelsMatchGo with the AVX2 exp
// kernels switched off, so that on an AVX2 machine both the AVX2 and the
// SSE2 code are checked against the Go code.
func TestRowKernelsSSE2Path(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2: TestRowKernelsMatchGo ran the SSE2 kernels")
	}
	useAVX2 = false
	defer func() { useAVX2 = true }()
	TestRowKernelsMatchGo(t)
}
