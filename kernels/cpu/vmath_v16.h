/* Sixteen-lane twins of the Bernoulli(logits) math: for the fused GLM kernel (glm_cpu.c), so that
 * its log-masses and y - sigmoid(l) stay in the registers the forward product left them in, and
 * for the elementwise Bernoulli(logits) blocks (dist_discrete_cpu.c), for the exp's fast path
 * below (IRT's step 3-6% faster at one thread).
 *
 * Each function is the same sequence of operations as its scalar original, rounded the same
 * way: tre_vexp_nonposf (kernels/math/vmath.h), tre_vlog1p_unitf, and
 * tre_bernoulli_logits_log_prob_e / _dlp_dlogits_e (kernels/math/bernoulli.h); fused
 * multiply-adds exactly where the originals use TRE_FMAF, nowhere else (a file that includes
 * this must not contract a * b + c). So every lane gives the scalar function's bits, which
 * tests/unit/test_vmath_v16.c checks over sweeps and special values: the kernels that use them
 * compute what they computed with the scalar functions. CPU only: GCC's generic vectors (AVX-512 registers under
 * -march=native; narrower machines get the same bits, slower). */
#ifndef TRELBO_KERNELS_CPU_VMATH_V16_H
#define TRELBO_KERNELS_CPU_VMATH_V16_H
#include <stdint.h>
#include <string.h>
#include "../math/vmath.h"
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

typedef float tre_v16 __attribute__((vector_size(64)));
typedef int32_t tre_i16 __attribute__((vector_size(64)));  /* lanes of -1 (true) or 0 */

static inline tre_v16 tre_v16_load(const float *p) {
    tre_v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}
/* s in every lane (a broadcast: 0 + s would add an instruction and turn -0 into +0) */
static inline tre_v16 tre_v16_splat(float s) {
    return (tre_v16){s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s};
}
/* the lanes' sum in float, lane 0 first (a fixed order) */
static inline float tre_v16_hsum(tre_v16 v) {
    float s = 0.f;
    for (int k = 0; k < 16; ++k) s += v[k];
    return s;
}
/* m ? a : b, lane by lane */
static inline tre_v16 tre_v16_select(tre_i16 m, tre_v16 a, tre_v16 b) {
    return (tre_v16)((m & (tre_i16)a) | (~m & (tre_i16)b));
}
/* a * b + c in one rounding: TRE_FMAF lane by lane */
static inline tre_v16 tre_v16_fma(tre_v16 a, tre_v16 b, tre_v16 c) {
#if defined(__AVX512F__)
    return (tre_v16)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#else
    for (int k = 0; k < 16; ++k) a[k] = TRE_FMAF(a[k], b[k], c[k]);
    return a;
#endif
}

/* tre_vexp_reduce: p with e^xc = p 2^n */
static inline tre_v16 tre_v16_exp_reduce(tre_v16 xc, tre_v16 *n_out) {
    const tre_v16 t = tre_v16_fma(xc, tre_v16_splat(1.44269504088896341f), tre_v16_splat(12582912.0f));
    const tre_v16 n = t - 12582912.0f;
    tre_v16 r = tre_v16_fma(-n, tre_v16_splat(0.693359375f), xc);
    r = tre_v16_fma(n, tre_v16_splat(2.12194440e-4f), r); /* - n (-2.12e-4), exactly */
    const tre_v16 r2 = r * r;
    tre_v16 p = tre_v16_splat(1.9875691500e-4f);
    p = tre_v16_fma(p, r, tre_v16_splat(1.3981999507e-3f));
    p = tre_v16_fma(p, r, tre_v16_splat(8.3334519073e-3f));
    p = tre_v16_fma(p, r, tre_v16_splat(4.1665795894e-2f));
    p = tre_v16_fma(p, r, tre_v16_splat(1.6666665459e-1f));
    p = tre_v16_fma(p, r, tre_v16_splat(5.0000001201e-1f));
    *n_out = n;
    return tre_v16_fma(p, r2, r) + 1.0f;
}

/* tre_vexp_nonposf */
static inline tre_v16 tre_v16_exp_nonpos(tre_v16 x) {
    tre_v16 n, p;
#if defined(__AVX512F__)
    /* every lane in [-87, 0] (no NaN): no clamp applies and 2^n is one normal factor (n >= -126,
     * so the second factor is exactly 1): the same bits with fewer instructions */
    if (!_mm512_cmp_ps_mask((__m512)x, _mm512_set1_ps(-87.0f), _CMP_NGE_UQ)) {
        p = tre_v16_exp_reduce(x, &n);
        /* p 2^n in one instruction (n integral): the same bits as multiplying by 2^n */
        return (tre_v16)_mm512_scalef_ps((__m512)p, (__m512)n);
    }
#endif
    const tre_v16 lo = tre_v16_splat(-103.972084045410f);
    p = tre_v16_exp_reduce(tre_v16_select(x < lo, lo, x), &n);
    const tre_i16 ni = __builtin_convertvector(n, tre_i16);
    const tre_i16 low = ni < -126, n1 = (low & -126) | (~low & ni);
    const tre_v16 s1 = (tre_v16)((n1 + 127) << 23), s2 = (tre_v16)((ni - n1 + 127) << 23);
    tre_v16 y = p * s1 * s2;
    y = tre_v16_select(x < lo, (tre_v16){0}, y);
    return tre_v16_select(x != x, x, y);
}

/* tre_vlog1p_unitf */
static inline tre_v16 tre_v16_log1p_unit(tre_v16 e) {
    tre_v16 p = tre_v16_splat(-3.1760570127516985e-3f);
    p = tre_v16_fma(p, e, tre_v16_splat(1.9542526453733444e-2f));
    p = tre_v16_fma(p, e, tre_v16_splat(-5.6373611092567444e-2f));
    p = tre_v16_fma(p, e, tre_v16_splat(1.0543623566627502e-1f));
    p = tre_v16_fma(p, e, tre_v16_splat(-1.5269666910171509e-1f));
    p = tre_v16_fma(p, e, tre_v16_splat(1.9663274288177490e-1f));
    p = tre_v16_fma(p, e, tre_v16_splat(-2.4951615929603577e-1f));
    p = tre_v16_fma(p, e, tre_v16_splat(3.3329710364341736e-1f));
    p = tre_v16_fma(p, e, tre_v16_splat(-4.9999892711639404e-1f));
    p = tre_v16_fma(p, e, tre_v16_splat(1.0f));
    return e * p;
}

/* e = exp(-|l|), tre_bernoulli_logits_*'s common factor */
static inline tre_v16 tre_v16_bernoulli_e(tre_v16 l) {
    return tre_v16_exp_nonpos((tre_v16)((tre_i16)l | (int32_t)0x80000000));
}
/* x l - max(l, 0): the log-mass but for its - log1p(e) (glm_cpu.c sums the two apart) */
static inline tre_v16 tre_v16_bernoulli_logits_linear(tre_v16 x, tre_v16 l) {
#if defined(__AVX512F__)
    /* max(l, +0), which is +0 for l = -0 or NaN as the select below: one instruction */
    return x * l - (tre_v16)_mm512_max_ps((__m512)l, _mm512_setzero_ps());
#else
    return x * l - tre_v16_select(l > 0.f, l, (tre_v16){0});
#endif
}
/* tre_bernoulli_logits_log_prob_e */
static inline tre_v16 tre_v16_bernoulli_logits_log_prob_e(tre_v16 x, tre_v16 l, tre_v16 e) {
    return tre_v16_bernoulli_logits_linear(x, l) - tre_v16_log1p_unit(e);
}
/* tre_bernoulli_logits_dlp_dlogits_e */
static inline tre_v16 tre_v16_bernoulli_logits_dlp_dlogits_e(tre_v16 x, tre_v16 l, tre_v16 e) {
    const tre_v16 r = 1.0f / (1.0f + e);
#if defined(__AVX512F__)
    /* e r where !(l >= 0) (NaN included), a masked multiply */
    const __mmask16 neg = _mm512_cmp_ps_mask((__m512)l, _mm512_setzero_ps(), _CMP_NGE_UQ);
    return x - (tre_v16)_mm512_mask_mul_ps((__m512)r, neg, (__m512)e, (__m512)r);
#else
    return x - tre_v16_select(l >= 0.f, r, e * r);
#endif
}
#endif
