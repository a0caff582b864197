//go:build openblas

package train

/*
#cgo CFLAGS: -O2
#pragma GCC optimize ("fp-contract=off")
#include <emmintrin.h>

// fusedRange on n (a multiple of 4) float32 elements with SSE intrinsics:
// per lane the operations of the Go loop in the same order (no contraction
// into FMA), so the same bits. c holds 9 constants of 4 lanes each (b1,
// 1-b1, b2, 1-b2, step, sc2, eps, a, b) followed by clip (double) and the
// scaled and ema flags (int64), as adamConsts.
static void coder_adam_sse(float *w, const float *g, float *m, float *v, float *mw, long n, const float *c) {
	const __m128 b1 = _mm_loadu_ps(c), ob1 = _mm_loadu_ps(c + 4), b2 = _mm_loadu_ps(c + 8),
		ob2 = _mm_loadu_ps(c + 12), step = _mm_loadu_ps(c + 16), sc2 = _mm_loadu_ps(c + 20),
		eps = _mm_loadu_ps(c + 24), a = _mm_loadu_ps(c + 28), b = _mm_loadu_ps(c + 32);
	const double clipd = *(const double *)(c + 36);
	const long scaled = *(const long *)(c + 38), ema = *(const long *)(c + 40);
	const __m128d clip = _mm_set1_pd(clipd);
	for (long i = 0; i < n; i += 4) {
		__m128 gi = _mm_loadu_ps(g + i);
		if (scaled) {
			__m128d lo = _mm_mul_pd(_mm_cvtps_pd(gi), clip);
			__m128d hi = _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(gi, gi)), clip);
			gi = _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi));
		}
		__m128 mi = _mm_add_ps(_mm_mul_ps(b1, _mm_loadu_ps(m + i)), _mm_mul_ps(ob1, gi));
		_mm_storeu_ps(m + i, mi);
		__m128 vi = _mm_add_ps(_mm_mul_ps(b2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(ob2, gi), gi));
		_mm_storeu_ps(v + i, vi);
		__m128 den = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vi), sc2), eps);
		__m128 wi = _mm_sub_ps(_mm_loadu_ps(w + i), _mm_div_ps(_mm_mul_ps(step, mi), den));
		_mm_storeu_ps(w + i, wi);
		if (ema) {
			_mm_storeu_ps(mw + i, _mm_add_ps(_mm_mul_ps(a, _mm_loadu_ps(mw + i)), _mm_mul_ps(b, wi)));
		}
	}
}
*/
import "C"

import "unsafe"

// adamSSE is fusedRange on n float32 elements (n a multiple of 4) with SSE,
// bit for bit (C, as the openblas build uses cgo).
func adamSSE(w, gr, mo, ve, mw *float32, n int, c *adamConsts) {
	C.coder_adam_sse((*C.float)(unsafe.Pointer(w)), (*C.float)(unsafe.Pointer(gr)), (*C.float)(unsafe.Pointer(mo)),
		(*C.float)(unsafe.Pointer(ve)), (*C.float)(unsafe.Pointer(mw)), C.long(n), (*C.float)(unsafe.Pointer(c)))
}
