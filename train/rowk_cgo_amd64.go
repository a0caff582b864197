//go:build openblas

package train

/*
#cgo CFLAGS: -O2
#pragma GCC optimize ("fp-contract=off")
#include <emmintrin.h>
#include <immintrin.h>

// The row kernels of rowk.go with SSE2 intrinsics on n (a multiple of 4)
// elements: per element the operations of the Go code in the same order (no
// FMA contraction), partial sums of element j in lane j mod 4 as sum4.

// exp constants, loaded from the 14 rows of 4 lanes of expTab
typedef struct {
	__m128 m87, c88, log2e, magic, c1, c2, one, p1, p2, p3, p4, p5, p6;
	__m128i bias;
} coder_expk;

static void coder_expk_load(coder_expk *k, const unsigned *t) {
	const float *f = (const float *)t;
	k->m87 = _mm_loadu_ps(f);
	k->c88 = _mm_loadu_ps(f + 4);
	k->log2e = _mm_loadu_ps(f + 8);
	k->magic = _mm_loadu_ps(f + 12);
	k->c1 = _mm_loadu_ps(f + 16);
	k->c2 = _mm_loadu_ps(f + 20);
	k->one = _mm_loadu_ps(f + 24);
	k->p1 = _mm_loadu_ps(f + 28);
	k->p2 = _mm_loadu_ps(f + 32);
	k->p3 = _mm_loadu_ps(f + 36);
	k->p4 = _mm_loadu_ps(f + 40);
	k->p5 = _mm_loadu_ps(f + 44);
	k->p6 = _mm_loadu_ps(f + 48);
	k->bias = _mm_loadu_si128((const __m128i *)(t + 52));
}

// exp(v) per lane as expScaledGo with s = 1 (v*1 = v), as coder_exp_sse.
static inline __m128 coder_exp4(const coder_expk *k, __m128 v) {
	__m128 under = _mm_cmplt_ps(v, k->m87);
	v = _mm_min_ps(k->c88, v);
	__m128 tt = _mm_add_ps(_mm_mul_ps(v, k->log2e), k->magic);
	__m128 kk = _mm_sub_ps(tt, k->magic);
	__m128 r = _mm_sub_ps(_mm_sub_ps(v, _mm_mul_ps(kk, k->c1)), _mm_mul_ps(kk, k->c2));
	__m128 r2 = _mm_mul_ps(r, r);
	__m128 p = _mm_add_ps(_mm_add_ps(k->one, r), _mm_mul_ps(r2, _mm_add_ps(k->p1, _mm_mul_ps(r, k->p2))));
	__m128 q = _mm_add_ps(_mm_add_ps(k->p3, _mm_mul_ps(r, k->p4)), _mm_mul_ps(r2, _mm_add_ps(k->p5, _mm_mul_ps(r, k->p6))));
	p = _mm_add_ps(p, _mm_mul_ps(_mm_mul_ps(r2, r2), q));
	__m128i e = _mm_slli_epi32(_mm_add_epi32(_mm_castps_si128(tt), k->bias), 23);
	p = _mm_mul_ps(p, _mm_castsi128_ps(e));
	return _mm_andnot_ps(under, p);
}

// lanes 0,1 and 2,3 of x widened to double
static inline __m128d coder_lo(__m128 x) { return _mm_cvtps_pd(x); }
static inline __m128d coder_hi(__m128 x) { return _mm_cvtps_pd(_mm_movehl_ps(x, x)); }
static inline __m128 coder_narrow(__m128d lo, __m128d hi) { return _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi)); }
// x where ok, y elsewhere
static inline __m128 coder_sel(__m128 ok, __m128 x, __m128 y) { return _mm_or_ps(_mm_and_ps(ok, x), _mm_andnot_ps(ok, y)); }

// maskedStatsGo: out[0..3] sums, out[4..7] sums of squares, mx[0..3]
// maxima per lane; returns the count. Excluded (-Inf) lanes add +0, which
// leaves a sum that starts at +0 unchanged.
static long coder_masked_stats(const float *x, long n, double *out, float *mx) {
	const __m128 ninf = _mm_set1_ps(-__builtin_inff());
	__m128d s01 = _mm_setzero_pd(), s23 = _mm_setzero_pd(), q01 = _mm_setzero_pd(), q23 = _mm_setzero_pd();
	__m128 m = ninf;
	long cnt = 0;
	for (long i = 0; i < n; i += 4) {
		__m128 v = _mm_loadu_ps(x + i);
		__m128 ok = _mm_cmpneq_ps(v, ninf);
		cnt += (0x4332322132212110UL >> (4 * _mm_movemask_ps(ok))) & 0xf; // bits set in the 4-bit mask
		__m128 z = _mm_and_ps(ok, v);
		__m128d lo = coder_lo(z), hi = coder_hi(z);
		s01 = _mm_add_pd(s01, lo);
		s23 = _mm_add_pd(s23, hi);
		q01 = _mm_add_pd(q01, _mm_mul_pd(lo, lo));
		q23 = _mm_add_pd(q23, _mm_mul_pd(hi, hi));
		m = _mm_max_ps(coder_sel(ok, v, ninf), m); // v > m ? v : m
	}
	_mm_storeu_pd(out, s01);
	_mm_storeu_pd(out + 2, s23);
	_mm_storeu_pd(out + 4, q01);
	_mm_storeu_pd(out + 6, q23);
	_mm_storeu_ps(mx, m);
	return cnt;
}

// dclArgsExpSumGo without the final sum: s4 gets the four partial sums.
static void coder_dcl_args_exp(float *a, const float *x, long n, double mu, double inv, double zmax, const unsigned *t, double *s4) {
	coder_expk k;
	coder_expk_load(&k, t);
	const __m128 ninf = _mm_set1_ps(-__builtin_inff());
	const __m128d vmu = _mm_set1_pd(mu), vinv = _mm_set1_pd(inv), vz = _mm_set1_pd(zmax);
	__m128d s01 = _mm_setzero_pd(), s23 = _mm_setzero_pd();
	for (long i = 0; i < n; i += 4) {
		__m128 v = _mm_loadu_ps(x + i);
		__m128 ok = _mm_cmpneq_ps(v, ninf);
		__m128d lo = _mm_sub_pd(_mm_mul_pd(_mm_sub_pd(coder_lo(v), vmu), vinv), vz);
		__m128d hi = _mm_sub_pd(_mm_mul_pd(_mm_sub_pd(coder_hi(v), vmu), vinv), vz);
		__m128 e = coder_exp4(&k, coder_sel(ok, coder_narrow(lo, hi), ninf));
		_mm_storeu_ps(a + i, e);
		s01 = _mm_add_pd(s01, coder_lo(e));
		s23 = _mm_add_pd(s23, coder_hi(e));
	}
	_mm_storeu_pd(s4, s01);
	_mm_storeu_pd(s4 + 2, s23);
}

// dclWrite32Go.
static void coder_dcl_write(float *d, const float *x, long n, double inv, double off) {
	const __m128 ninf = _mm_set1_ps(-__builtin_inff()), big = _mm_set1_ps(-1e9f);
	const __m128d vinv = _mm_set1_pd(inv), voff = _mm_set1_pd(off);
	for (long i = 0; i < n; i += 4) {
		__m128 v = _mm_loadu_ps(x + i);
		__m128 ok = _mm_cmpneq_ps(v, ninf);
		__m128d lo = _mm_add_pd(_mm_mul_pd(coder_lo(v), vinv), voff);
		__m128d hi = _mm_add_pd(_mm_mul_pd(coder_hi(v), vinv), voff);
		_mm_storeu_ps(d + i, coder_sel(ok, coder_narrow(lo, hi), big));
	}
}

// argsMax32Go: mx[0..3] maxima per lane (of the float64 arguments).
static void coder_args_max(float *e, const float *s, const float *w, long n, double inv, double *mx) {
	const __m128d vinv = _mm_set1_pd(inv);
	__m128d m01 = _mm_set1_pd(-__builtin_inf()), m23 = m01;
	for (long i = 0; i < n; i += 4) {
		__m128 sv = _mm_loadu_ps(s + i), wv = _mm_loadu_ps(w + i);
		__m128d lo = _mm_add_pd(_mm_mul_pd(coder_lo(sv), vinv), coder_lo(wv));
		__m128d hi = _mm_add_pd(_mm_mul_pd(coder_hi(sv), vinv), coder_hi(wv));
		m01 = _mm_max_pd(lo, m01); // lo > m ? lo : m
		m23 = _mm_max_pd(hi, m23);
		_mm_storeu_ps(e + i, coder_narrow(lo, hi));
	}
	_mm_storeu_pd(mx, m01);
	_mm_storeu_pd(mx + 2, m23);
}

// expSum32Go without the final sum.
static void coder_exp_sum(float *x, long n, const unsigned *t, double *s4) {
	coder_expk k;
	coder_expk_load(&k, t);
	__m128d s01 = _mm_setzero_pd(), s23 = _mm_setzero_pd();
	for (long i = 0; i < n; i += 4) {
		__m128 e = coder_exp4(&k, _mm_loadu_ps(x + i));
		_mm_storeu_ps(x + i, e);
		s01 = _mm_add_pd(s01, coder_lo(e));
		s23 = _mm_add_pd(s23, coder_hi(e));
	}
	_mm_storeu_pd(s4, s01);
	_mm_storeu_pd(s4 + 2, s23);
}

// s x in double per lane: mx[0..3] maxima.
static void coder_scaled_max(const float *x, long n, double s, double *mx) {
	const __m128d vs = _mm_set1_pd(s);
	__m128d m01 = _mm_set1_pd(-__builtin_inf()), m23 = m01;
	for (long i = 0; i < n; i += 4) {
		__m128 v = _mm_loadu_ps(x + i);
		m01 = _mm_max_pd(_mm_mul_pd(vs, coder_lo(v)), m01);
		m23 = _mm_max_pd(_mm_mul_pd(vs, coder_hi(v)), m23);
	}
	_mm_storeu_pd(mx, m01);
	_mm_storeu_pd(mx + 2, m23);
}

// o = exp((float)(s x - m)), s4 the partial sums of o.
static void coder_shift_exp_sum(float *o, const float *x, long n, double s, double m, const unsigned *t, double *s4) {
	coder_expk k;
	coder_expk_load(&k, t);
	const __m128d vs = _mm_set1_pd(s), vm = _mm_set1_pd(m);
	__m128d s01 = _mm_setzero_pd(), s23 = _mm_setzero_pd();
	for (long i = 0; i < n; i += 4) {
		__m128 v = _mm_loadu_ps(x + i);
		__m128d lo = _mm_sub_pd(_mm_mul_pd(vs, coder_lo(v)), vm);
		__m128d hi = _mm_sub_pd(_mm_mul_pd(vs, coder_hi(v)), vm);
		__m128 e = coder_exp4(&k, coder_narrow(lo, hi));
		_mm_storeu_ps(o + i, e);
		s01 = _mm_add_pd(s01, coder_lo(e));
		s23 = _mm_add_pd(s23, coder_hi(e));
	}
	_mm_storeu_pd(s4, s01);
	_mm_storeu_pd(s4 + 2, s23);
}

// o = (float)(x f) (o may be x).
static void coder_scale(float *o, const float *x, long n, double f) {
	const __m128d vf = _mm_set1_pd(f);
	for (long i = 0; i < n; i += 4) {
		__m128 v = _mm_loadu_ps(x + i);
		_mm_storeu_ps(o + i, coder_narrow(_mm_mul_pd(coder_lo(v), vf), _mm_mul_pd(coder_hi(v), vf)));
	}
}

// partial sums of x y (y = x: of squares).
static void coder_dot(const float *x, const float *y, long n, double *s4) {
	__m128d s01 = _mm_setzero_pd(), s23 = _mm_setzero_pd();
	for (long i = 0; i < n; i += 4) {
		__m128 a = _mm_loadu_ps(x + i), b = _mm_loadu_ps(y + i);
		s01 = _mm_add_pd(s01, _mm_mul_pd(coder_lo(a), coder_lo(b)));
		s23 = _mm_add_pd(s23, _mm_mul_pd(coder_hi(a), coder_hi(b)));
	}
	_mm_storeu_pd(s4, s01);
	_mm_storeu_pd(s4 + 2, s23);
}

// o = (float)((g - y yg) inv).
static void coder_l2bwd(float *o, const float *y, const float *g, long n, double yg, double inv) {
	const __m128d vyg = _mm_set1_pd(yg), vinv = _mm_set1_pd(inv);
	for (long i = 0; i < n; i += 4) {
		__m128 yv = _mm_loadu_ps(y + i), gv = _mm_loadu_ps(g + i);
		__m128d lo = _mm_mul_pd(_mm_sub_pd(coder_lo(gv), _mm_mul_pd(coder_lo(yv), vyg)), vinv);
		__m128d hi = _mm_mul_pd(_mm_sub_pd(coder_hi(gv), _mm_mul_pd(coder_hi(yv), vyg)), vinv);
		_mm_storeu_ps(o + i, coder_narrow(lo, hi));
	}
}

// o = c x (float32).
static void coder_scale32(float *o, const float *x, long n, float c) {
	const __m128 vc = _mm_set1_ps(c);
	long i = 0;
	for (; i + 4 <= n; i += 4) _mm_storeu_ps(o + i, _mm_mul_ps(vc, _mm_loadu_ps(x + i)));
	for (; i < n; i++) o[i] = c * x[i];
}

// o += a x (float32, the product rounded, then the sum).
static inline void coder_axpy(float *o, const float *x, long n, float a) {
	const __m128 va = _mm_set1_ps(a);
	long k = 0;
	for (; k + 4 <= n; k += 4) _mm_storeu_ps(o + k, _mm_add_ps(_mm_loadu_ps(o + k), _mm_mul_ps(va, _mm_loadu_ps(x + k))));
	for (; k < n; k++) o[k] += a * x[k];
}

// embedMeanRows on rows [lo, hi).
static void coder_embed_rows(float *out, const float *e, const long *tok, const float *w, long T, long Wd, long lo, long hi) {
	for (long i = lo; i < hi; i++) {
		for (long t = 0; t < T; t++) {
			float a = w[i * T + t];
			if (a == 0) continue;
			coder_axpy(out + i * Wd, e + tok[i * T + t] * Wd, Wd, a);
		}
	}
}

// embedMeanBwd's accumulation on columns [lo, hi).
static void coder_embed_bwd(float *out, const float *g, const long *tok, const float *w, long B, long T, long Wd, long lo, long hi) {
	for (long i = 0; i < B; i++) {
		for (long t = 0; t < T; t++) {
			float a = w[i * T + t];
			if (a == 0) continue;
			coder_axpy(out + tok[i * T + t] * Wd + lo, g + i * Wd + lo, hi - lo, a);
		}
	}
}

// fillImages' pooling of one image: dst (zero on entry) = inv times the sum
// of R regions of d values, four regions per pass as the Go code.
static void coder_pool(float *dst, const float *img, long R, long d, float inv) {
	long r = 0;
	for (; r + 4 <= R; r += 4) {
		const float *a = img + r * d, *b = a + d, *c = b + d, *e = c + d;
		long k = 0;
		for (; k + 4 <= d; k += 4) {
			__m128 s = _mm_add_ps(_mm_add_ps(_mm_loadu_ps(a + k), _mm_loadu_ps(b + k)), _mm_add_ps(_mm_loadu_ps(c + k), _mm_loadu_ps(e + k)));
			_mm_storeu_ps(dst + k, _mm_add_ps(_mm_loadu_ps(dst + k), s));
		}
		for (; k < d; k++) dst[k] += (a[k] + b[k]) + (c[k] + e[k]);
	}
	for (; r < R; r++) {
		const float *a = img + r * d;
		long k = 0;
		for (; k + 4 <= d; k += 4) _mm_storeu_ps(dst + k, _mm_add_ps(_mm_loadu_ps(dst + k), _mm_loadu_ps(a + k)));
		for (; k < d; k++) dst[k] += a[k];
	}
	const __m128 vi = _mm_set1_ps(inv);
	long k = 0;
	for (; k + 4 <= d; k += 4) _mm_storeu_ps(dst + k, _mm_mul_ps(_mm_loadu_ps(dst + k), vi));
	for (; k < d; k++) dst[k] *= inv;
}

// AVX2 variants of coder_dcl_args_exp and coder_exp_sum on n (a multiple of
// 8) elements: the same operations per lane (AVX2 without FMA, so no
// contraction), element j's partial sum in lane j mod 4 added in order of j,
// as the SSE2 code and sum4.
// gruFwdRow (gru.go) on rows rows of one time step, D a multiple of 4: the
// same float32 operations in the same order per element, so the same bits
// for every result that is not NaN (a NaN may differ in sign or payload:
// GCC turns x * -1 into a sign flip, and which NaN operand survives differs
// from Go's). hu and hp are NULL at the first step (zero previous state).
static void coder_gru_fwd(long rows, long D, const float *m, int maskOut, const float *xp,
		const float *bz, const float *br, const float *bn, const float *hu, const float *hp,
		float *z, float *r, float *n, float *a, float *h, float *out, const unsigned *t) {
	coder_expk k;
	coder_expk_load(&k, t);
	const __m128 one = _mm_set1_ps(1.0f), two = _mm_set1_ps(2.0f), neg1 = _mm_set1_ps(-1.0f),
		neg2 = _mm_set1_ps(-2.0f), zero = _mm_setzero_ps();
	for (long i = 0; i < rows; i++) {
		const float *xz = xp + i * 3 * D, *xr = xz + D, *xn = xr + D;
		const float *hz = hu ? hu + i * 3 * D : 0, *hpi = hp ? hp + i * D : 0;
		float *zi = z + i * D, *ri = r + i * D, *ni = n + i * D, *ai = a + i * D, *hi = h + i * D, *oi = out + i * D;
		const __m128 mi = _mm_set1_ps(m[i]), om = maskOut ? mi : one;
		for (long j = 0; j < D; j += 4) {
			__m128 zz = _mm_add_ps(_mm_loadu_ps(xz + j), _mm_loadu_ps(bz + j));
			__m128 rr = _mm_add_ps(_mm_loadu_ps(xr + j), _mm_loadu_ps(br + j));
			__m128 aa = zero;
			if (hz) {
				zz = _mm_add_ps(zz, _mm_loadu_ps(hz + j));
				rr = _mm_add_ps(rr, _mm_loadu_ps(hz + D + j));
				aa = _mm_loadu_ps(hz + 2 * D + j);
			}
			zz = _mm_div_ps(one, _mm_add_ps(one, coder_exp4(&k, _mm_mul_ps(zz, neg1))));
			rr = _mm_div_ps(one, _mm_add_ps(one, coder_exp4(&k, _mm_mul_ps(rr, neg1))));
			__m128 nn = _mm_add_ps(_mm_add_ps(_mm_loadu_ps(xn + j), _mm_loadu_ps(bn + j)), _mm_mul_ps(rr, aa));
			nn = _mm_sub_ps(_mm_div_ps(two, _mm_add_ps(one, coder_exp4(&k, _mm_mul_ps(nn, neg2)))), one);
			__m128 hv;
			if (hpi) {
				__m128 hp4 = _mm_loadu_ps(hpi + j);
				hv = _mm_add_ps(hp4, _mm_mul_ps(mi, _mm_sub_ps(_mm_add_ps(nn, _mm_mul_ps(zz, _mm_sub_ps(hp4, nn))), hp4)));
			} else {
				hv = _mm_mul_ps(mi, _mm_add_ps(nn, _mm_mul_ps(zz, _mm_sub_ps(zero, nn))));
			}
			_mm_storeu_ps(zi + j, zz);
			_mm_storeu_ps(ri + j, rr);
			_mm_storeu_ps(ni + j, nn);
			_mm_storeu_ps(ai + j, aa);
			_mm_storeu_ps(hi + j, hv);
			_mm_storeu_ps(oi + j, _mm_add_ps(_mm_loadu_ps(oi + j), _mm_mul_ps(om, hv)));
		}
	}
}

static int coder_has_avx2(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
}

typedef struct {
	__m256 m87, c88, log2e, magic, c1, c2, one, p1, p2, p3, p4, p5, p6;
	__m256i bias;
} coder_expk8;

__attribute__((target("avx2"))) static void coder_expk8_load(coder_expk8 *k, const unsigned *t) {
	const float *f = (const float *)t;
	k->m87 = _mm256_broadcast_ss(f);
	k->c88 = _mm256_broadcast_ss(f + 4);
	k->log2e = _mm256_broadcast_ss(f + 8);
	k->magic = _mm256_broadcast_ss(f + 12);
	k->c1 = _mm256_broadcast_ss(f + 16);
	k->c2 = _mm256_broadcast_ss(f + 20);
	k->one = _mm256_broadcast_ss(f + 24);
	k->p1 = _mm256_broadcast_ss(f + 28);
	k->p2 = _mm256_broadcast_ss(f + 32);
	k->p3 = _mm256_broadcast_ss(f + 36);
	k->p4 = _mm256_broadcast_ss(f + 40);
	k->p5 = _mm256_broadcast_ss(f + 44);
	k->p6 = _mm256_broadcast_ss(f + 48);
	k->bias = _mm256_set1_epi32((int)t[52]);
}

__attribute__((target("avx2"))) static inline __m256 coder_exp8(const coder_expk8 *k, __m256 v) {
	__m256 under = _mm256_cmp_ps(v, k->m87, _CMP_LT_OQ);
	v = _mm256_min_ps(k->c88, v);
	__m256 tt = _mm256_add_ps(_mm256_mul_ps(v, k->log2e), k->magic);
	__m256 kk = _mm256_sub_ps(tt, k->magic);
	__m256 r = _mm256_sub_ps(_mm256_sub_ps(v, _mm256_mul_ps(kk, k->c1)), _mm256_mul_ps(kk, k->c2));
	__m256 r2 = _mm256_mul_ps(r, r);
	__m256 p = _mm256_add_ps(_mm256_add_ps(k->one, r), _mm256_mul_ps(r2, _mm256_add_ps(k->p1, _mm256_mul_ps(r, k->p2))));
	__m256 q = _mm256_add_ps(_mm256_add_ps(k->p3, _mm256_mul_ps(r, k->p4)), _mm256_mul_ps(r2, _mm256_add_ps(k->p5, _mm256_mul_ps(r, k->p6))));
	p = _mm256_add_ps(p, _mm256_mul_ps(_mm256_mul_ps(r2, r2), q));
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_castps_si256(tt), k->bias), 23);
	p = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
	return _mm256_andnot_ps(under, p);
}

__attribute__((target("avx2"))) static void coder_dcl_args_exp_avx2(float *a, const float *x, long n, double mu, double inv, double zmax, const unsigned *t, double *s4) {
	coder_expk8 k;
	coder_expk8_load(&k, t);
	const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
	const __m256d vmu = _mm256_set1_pd(mu), vinv = _mm256_set1_pd(inv), vz = _mm256_set1_pd(zmax);
	__m256d s = _mm256_setzero_pd();
	for (long i = 0; i < n; i += 8) {
		__m256 v = _mm256_loadu_ps(x + i);
		__m256 ok = _mm256_cmp_ps(v, ninf, _CMP_NEQ_UQ);
		__m256d lo = _mm256_sub_pd(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), vmu), vinv), vz);
		__m256d hi = _mm256_sub_pd(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), vmu), vinv), vz);
		__m256 f = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1);
		f = _mm256_or_ps(_mm256_and_ps(ok, f), _mm256_andnot_ps(ok, ninf));
		__m256 e = coder_exp8(&k, f);
		_mm256_storeu_ps(a + i, e);
		s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
		s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
	}
	_mm256_storeu_pd(s4, s);
}

__attribute__((target("avx2"))) static void coder_exp_sum_avx2(float *x, long n, const unsigned *t, double *s4) {
	coder_expk8 k;
	coder_expk8_load(&k, t);
	__m256d s = _mm256_setzero_pd();
	for (long i = 0; i < n; i += 8) {
		__m256 e = coder_exp8(&k, _mm256_loadu_ps(x + i));
		_mm256_storeu_ps(x + i, e);
		s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
		s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
	}
	_mm256_storeu_pd(s4, s);
}
*/
import "C"

import (
	"math"
	"unsafe"
)

// useAVX2 selects the AVX2 variants of the exp kernels (the same bits as the
// SSE2 ones); a variable so that the tests can run both.
var useAVX2 = C.coder_has_avx2() != 0

// rowkMin is the shortest row the C kernels take (shorter ones are not
// worth a cgo call).
const rowkMin = 32

func f32p(x []float32) *C.float { return (*C.float)(unsafe.Pointer(&x[0])) }

func expTabP() *C.unsigned { return (*C.unsigned)(unsafe.Pointer(&expTab[0][0])) }

func maskedStats(row []float32) (n int, sum, sumSq, cmax float64) {
	n4 := len(row) &^ 3
	if n4 < rowkMin {
		return maskedStatsGo(row)
	}
	var sq [8]float64
	var mx [4]float32
	c := int(C.coder_masked_stats(f32p(row), C.long(n4), (*C.double)(unsafe.Pointer(&sq[0])), f32p(mx[:])))
	negInf := float32(math.Inf(-1))
	for _, x := range row[n4:] { // the tail on chain 0, as maskedStatsGo
		if x != negInf {
			c++
			v := float64(x)
			sq[0] += v
			sq[4] += float64(v * v) // converted, never fused: see rowk.go
			if x > mx[0] {
				mx[0] = x
			}
		}
	}
	return c, (sq[0] + sq[1]) + (sq[2] + sq[3]), (sq[4] + sq[5]) + (sq[6] + sq[7]), float64(max(max(mx[0], mx[1]), max(mx[2], mx[3])))
}

func dclArgsExpSum(args, row []float32, mu, inv, zmax float64) float64 {
	n4 := len(row) &^ 3
	if n4 < rowkMin {
		return dclArgsExpSumGo(args, row, mu, inv, zmax)
	}
	args = args[:len(row)]
	var s [4]float64
	if n8 := len(row) &^ 7; useAVX2 {
		C.coder_dcl_args_exp_avx2(f32p(args), f32p(row), C.long(n8), C.double(mu), C.double(inv), C.double(zmax), expTabP(), (*C.double)(unsafe.Pointer(&s[0])))
		if n4 > n8 { // one more element per lane: adding its own partial sum (0 + x) is adding x
			var t [4]float64
			C.coder_dcl_args_exp(f32p(args[n8:]), f32p(row[n8:]), 4, C.double(mu), C.double(inv), C.double(zmax), expTabP(), (*C.double)(unsafe.Pointer(&t[0])))
			for l := range s {
				s[l] += t[l]
			}
		}
	} else {
		C.coder_dcl_args_exp(f32p(args), f32p(row), C.long(n4), C.double(mu), C.double(inv), C.double(zmax), expTabP(), (*C.double)(unsafe.Pointer(&s[0])))
	}
	dclArgsExpSumGo(args[n4:], row[n4:], mu, inv, zmax)
	for _, v := range args[n4:] { // the tail on chain 0, as sum4
		s[0] += float64(v)
	}
	return (s[0] + s[1]) + (s[2] + s[3])
}

func dclWrite32(dst, part []float32, inv, off float64) {
	n4 := len(part) &^ 3
	if n4 < rowkMin {
		dclWrite32Go(dst, part, inv, off)
		return
	}
	dst = dst[:len(part)]
	C.coder_dcl_write(f32p(dst), f32p(part), C.long(n4), C.double(inv), C.double(off))
	dclWrite32Go(dst[n4:], part[n4:], inv, off)
}

func argsMax32(e, s, lw []float32, inv float64) float64 {
	n4 := len(s) &^ 3
	if n4 < rowkMin {
		return argsMax32Go(e, s, lw, inv)
	}
	e, lw = e[:len(s)], lw[:len(s)]
	var mx [4]float64
	C.coder_args_max(f32p(e), f32p(s), f32p(lw), C.long(n4), C.double(inv), (*C.double)(unsafe.Pointer(&mx[0])))
	m := argsMax32Go(e[n4:], s[n4:], lw[n4:], inv)
	for _, x := range mx {
		if x > m {
			m = x
		}
	}
	return m
}

func expSum32(x []float32) float64 {
	n4 := len(x) &^ 3
	if n4 < rowkMin {
		return expSum32Go(x)
	}
	var s [4]float64
	if n8 := len(x) &^ 7; useAVX2 {
		C.coder_exp_sum_avx2(f32p(x), C.long(n8), expTabP(), (*C.double)(unsafe.Pointer(&s[0])))
		if n4 > n8 { // as in dclArgsExpSum
			var t [4]float64
			C.coder_exp_sum(f32p(x[n8:]), 4, expTabP(), (*C.double)(unsafe.Pointer(&t[0])))
			for l := range s {
				s[l] += t[l]
			}
		}
	} else {
		C.coder_exp_sum(f32p(x), C.long(n4), expTabP(), (*C.double)(unsafe.Pointer(&s[0])))
	}
	expSum32Go(x[n4:])
	for _, v := range x[n4:] { // the tail on chain 0, as sum4
		s[0] += float64(v)
	}
	return (s[0] + s[1]) + (s[2] + s[3])
}

func softmaxRow32(o, x []float32, s float64) (m, se float64) {
	n4 := len(x) &^ 3
	if n4 < rowkMin {
		return softmaxRow32Go(o, x, s)
	}
	o = o[:len(x)]
	var mx [4]float64
	C.coder_scaled_max(f32p(x), C.long(n4), C.double(s), (*C.double)(unsafe.Pointer(&mx[0])))
	m = math.Inf(-1)
	for _, v := range x[n4:] {
		if a := s * float64(v); a > m {
			m = a
		}
	}
	for _, a := range mx {
		if a > m {
			m = a
		}
	}
	var s4 [4]float64
	C.coder_shift_exp_sum(f32p(o), f32p(x), C.long(n4), C.double(s), C.double(m), expTabP(), (*C.double)(unsafe.Pointer(&s4[0])))
	for k, v := range x[n4:] {
		o[n4+k] = float32(float64(s*float64(v)) - m)
	}
	expScaledGo(o[n4:], 1)
	for _, v := range o[n4:] { // the tail on chain 0, as sum4
		s4[0] += float64(v)
	}
	se = (s4[0] + s4[1]) + (s4[2] + s4[3])
	scaleRow32(o, o, 1/se)
	return m, se
}

func scaleRow32(o, x []float32, f float64) {
	n4 := len(x) &^ 3
	if n4 < rowkMin {
		scaleRow32Go(o, x, f)
		return
	}
	o = o[:len(x)]
	C.coder_scale(f32p(o), f32p(x), C.long(n4), C.double(f))
	scaleRow32Go(o[n4:], x[n4:], f)
}

// dotTail is dot4's combination of the partial sums s4 with the tail
// products x_k y_k (k >= n4) on chain 0.
func dotTail(s4 [4]float64, x, y []float32, n4 int) float64 {
	for k := n4; k < len(x); k++ {
		s4[0] += float64(float64(x[k]) * float64(y[k]))
	}
	return (s4[0] + s4[1]) + (s4[2] + s4[3])
}

func sumSq32(x []float32) float64 {
	n4 := len(x) &^ 3
	if n4 < rowkMin {
		return sumSq(x)
	}
	var s4 [4]float64
	C.coder_dot(f32p(x), f32p(x), C.long(n4), (*C.double)(unsafe.Pointer(&s4[0])))
	return dotTail(s4, x, x, n4)
}

func dot32(x, y []float32) float64 {
	n4 := len(x) &^ 3
	if n4 < rowkMin {
		return dot4(x, y)
	}
	y = y[:len(x)]
	var s4 [4]float64
	C.coder_dot(f32p(x), f32p(y), C.long(n4), (*C.double)(unsafe.Pointer(&s4[0])))
	return dotTail(s4, x, y, n4)
}

func l2BwdRow32(o, y, g []float32, yg, inv float64) {
	n4 := len(y) &^ 3
	if n4 < rowkMin {
		l2BwdRow32Go(o, y, g, yg, inv)
		return
	}
	o, g = o[:len(y)], g[:len(y)]
	C.coder_l2bwd(f32p(o), f32p(y), f32p(g), C.long(n4), C.double(yg), C.double(inv))
	l2BwdRow32Go(o[n4:], y[n4:], g[n4:], yg, inv)
}

func scale32(o, x []float32, c float32) {
	if len(x) < rowkMin {
		scale32Go(o, x, c)
		return
	}
	o = o[:len(x)]
	C.coder_scale32(f32p(o), f32p(x), C.long(len(x)), C.float(c))
}

func embedRows32(out, e []float32, tok []int, w []float32, T, Wd, lo, hi int) {
	if Wd < rowkMin || lo >= hi {
		embedRows32Go(out, e, tok, w, T, Wd, lo, hi)
		return
	}
	_, _, _ = out[hi*Wd-1], tok[hi*T-1], w[hi*T-1]
	for _, r := range tok[lo*T : hi*T] {
		_ = e[(r+1)*Wd-1]
	}
	C.coder_embed_rows(f32p(out), f32p(e), (*C.long)(unsafe.Pointer(&tok[0])), f32p(w), C.long(T), C.long(Wd), C.long(lo), C.long(hi))
}

func embedBwd32(out, g []float32, tok []int, w []float32, B, T, Wd, lo, hi int) {
	if hi-lo < rowkMin || B == 0 {
		embedBwd32Go(out, g, tok, w, B, T, Wd, lo, hi)
		return
	}
	_, _, _ = g[B*Wd-1], tok[B*T-1], w[B*T-1]
	for _, r := range tok[:B*T] {
		_ = out[(r+1)*Wd-1]
	}
	C.coder_embed_bwd(f32p(out), f32p(g), (*C.long)(unsafe.Pointer(&tok[0])), f32p(w), C.long(B), C.long(T), C.long(Wd), C.long(lo), C.long(hi))
}

func poolImage32(dst, img []float32, R, d int, inv float32) {
	if d < rowkMin || R == 0 {
		poolImage32Go(dst, img, R, d, inv)
		return
	}
	_, _ = dst[d-1], img[R*d-1]
	C.coder_pool(f32p(dst), f32p(img), C.long(R), C.long(d), C.float(inv))
}

// gruFwdRows32 is gruFwdRows on float32 rows: SSE2 C when D is a multiple
// of 4, bit for bit the Go code.
func gruFwdRows32(g *gruRows[float32]) {
	rows, D := len(g.m), g.D
	if rows == 0 || D%4 != 0 || D < 4 {
		g.fwd()
		return
	}
	// bounds, checked here once for the C code
	_, _, _, _ = g.xp[rows*3*D-1], g.b[0][D-1], g.b[1][D-1], g.b[2][D-1]
	_, _, _, _, _, _ = g.z[rows*D-1], g.r[rows*D-1], g.n[rows*D-1], g.a[rows*D-1], g.h[rows*D-1], g.out[rows*D-1]
	var hu, hp *C.float
	if g.hu != nil {
		_, _ = g.hu[rows*3*D-1], g.hp[rows*D-1]
		hu, hp = f32p(g.hu), f32p(g.hp)
	}
	maskOut := C.int(0)
	if g.maskOut {
		maskOut = 1
	}
	C.coder_gru_fwd(C.long(rows), C.long(D), f32p(g.m), maskOut, f32p(g.xp), f32p(g.b[0]), f32p(g.b[1]), f32p(g.b[2]),
		hu, hp, f32p(g.z), f32p(g.r), f32p(g.n), f32p(g.a), f32p(g.h), f32p(g.out), expTabP())
}
