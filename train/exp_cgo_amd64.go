//go:build openblas

package train

/*
#cgo CFLAGS: -O2
#pragma GCC optimize ("fp-contract=off")
#include <emmintrin.h>

// expScaledGo on n (a multiple of 4) elements with SSE intrinsics, the same
// operations in the same order per lane (no FMA contraction). t: 14 rows of
// 4 lanes, as expTab.
static void coder_exp_sse(float *x, long n, float s, const unsigned *t) {
	const float *f = (const float *)t;
	const __m128 vs = _mm_set1_ps(s), m87 = _mm_loadu_ps(f), c88 = _mm_loadu_ps(f + 4),
		log2e = _mm_loadu_ps(f + 8), magic = _mm_loadu_ps(f + 12), c1 = _mm_loadu_ps(f + 16),
		c2 = _mm_loadu_ps(f + 20), one = _mm_loadu_ps(f + 24), p1 = _mm_loadu_ps(f + 28),
		p2 = _mm_loadu_ps(f + 32), p3 = _mm_loadu_ps(f + 36), p4 = _mm_loadu_ps(f + 40),
		p5 = _mm_loadu_ps(f + 44), p6 = _mm_loadu_ps(f + 48);
	const __m128i bias = _mm_loadu_si128((const __m128i *)(t + 52));
	for (long i = 0; i < n; i += 4) {
		__m128 v = _mm_mul_ps(_mm_loadu_ps(x + i), vs);
		__m128 under = _mm_cmplt_ps(v, m87);
		v = _mm_min_ps(c88, v); // 88 < v ? 88 : v
		__m128 tt = _mm_add_ps(_mm_mul_ps(v, log2e), magic);
		__m128 k = _mm_sub_ps(tt, magic);
		__m128 r = _mm_sub_ps(_mm_sub_ps(v, _mm_mul_ps(k, c1)), _mm_mul_ps(k, c2));
		__m128 r2 = _mm_mul_ps(r, r);
		__m128 p = _mm_add_ps(_mm_add_ps(one, r), _mm_mul_ps(r2, _mm_add_ps(p1, _mm_mul_ps(r, p2))));
		__m128 q = _mm_add_ps(_mm_add_ps(p3, _mm_mul_ps(r, p4)), _mm_mul_ps(r2, _mm_add_ps(p5, _mm_mul_ps(r, p6))));
		p = _mm_add_ps(p, _mm_mul_ps(_mm_mul_ps(r2, r2), q));
		__m128i e = _mm_slli_epi32(_mm_add_epi32(_mm_castps_si128(tt), bias), 23);
		p = _mm_mul_ps(p, _mm_castsi128_ps(e));
		_mm_storeu_ps(x + i, _mm_andnot_ps(under, p));
	}
}
*/
import "C"

import "unsafe"

// expSSEMin is the shortest slice expScaled32 hands to expSSE (shorter
// ones are not worth a cgo call).
const expSSEMin = 64

// expSSE is expScaledGo on n (a multiple of 4) elements with SSE, bit for
// bit (C, as the openblas build uses cgo).
func expSSE(x *float32, n int, s float32, tab *[14][4]uint32) {
	C.coder_exp_sse((*C.float)(unsafe.Pointer(x)), C.long(n), C.float(s), (*C.unsigned)(unsafe.Pointer(&tab[0][0])))
}
