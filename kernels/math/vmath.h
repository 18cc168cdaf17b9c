/* Vectorizable float exp / log / log1p / softplus, shared by both backends.
 *
 * libm's expf and logf are calls the compiler cannot vectorize without -ffast-math (which the
 * library must not use: NaN/Inf checks have to keep working), and a hot CPU loop of
 * log-densities spends nearly all its time in them. These are straight-line arithmetic and bit
 * manipulation (Cody-Waite range reduction and the Cephes minimax polynomials), so a loop over
 * them vectorizes; they are within 2 ulp of the correctly rounded result over the whole float
 * range (softplus, composing two of them, within 3) and keep libm's special values (exp:
 * overflow to inf, underflow to 0 through the subnormals; log: 0 -> -inf, negative or NaN ->
 * NaN, inf -> inf). tests/unit/test_vmath.c checks both claims. */
#ifndef TRELBO_KERNELS_MATH_VMATH_H
#define TRELBO_KERNELS_MATH_VMATH_H
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "hd.h"

/* a * b + c for the polynomials' Horner steps: in one rounding (fmaf) wherever the CUDA code
 * is compiled (a device instruction; in the emulated host build, TRE_CUDA_EMULATE, a library
 * call, equally exact, so that the emulation rounds as the device does)
 * and in CPU kernels built for a CPU with FMA (-march=native on this project's machines), so
 * that both backends still round alike and each step is one instruction; in two roundings on a
 * CPU without FMA (those builds then differ from the CUDA backend in the last bit). */
#if defined(__CUDACC__) || defined(TRE_CUDA_EMULATE) || defined(__FMA__)
#define TRE_FMAF(a, b, c) fmaf((a), (b), (c))
#else
#define TRE_FMAF(a, b, c) ((a) * (b) + (c))
#endif

static inline TRE_HD uint32_t tre_f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline TRE_HD float tre_u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* e^x = 2^n p(r): n = round(x / ln 2) with the 1.5 * 2^23 trick (no rint call), r = x - n ln 2
 * in two parts, p the Cephes polynomial; xc already clamped to [-103.97, 88.72]. Fused
 * multiply-adds wherever they fit (n ln 2's first part is exact either way): 3 of its 16
 * operations fewer than separate roundings, as accurate (over every float in [-87, 88]: at most
 * 1.01 ulp against 0.99, and fewer results off by more than half an ulp), and 3% of the fused
 * logistic-regression kernel's time, whose exp is on its critical path */
static inline TRE_HD float tre_vexp_reduce(float xc, float *n_out) {
    float t = TRE_FMAF(xc, 1.44269504088896341f, 12582912.0f);
    float n = t - 12582912.0f;
    float r = TRE_FMAF(-n, 0.693359375f, xc);
    r = TRE_FMAF(n, 2.12194440e-4f, r); /* - n (-2.12e-4), exactly */
    const float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = TRE_FMAF(p, r, 1.3981999507e-3f);
    p = TRE_FMAF(p, r, 8.3334519073e-3f);
    p = TRE_FMAF(p, r, 4.1665795894e-2f);
    p = TRE_FMAF(p, r, 1.6666665459e-1f);
    p = TRE_FMAF(p, r, 5.0000001201e-1f);
    *n_out = n;
    return TRE_FMAF(p, r2, r) + 1.0f;
}

/* p 2^(n1 + n2) as p 2^n1 2^n2, each factor a normal float (n1 in [-126, 127], n2 >= -24), so
 * that results near FLT_MAX and subnormal results stay exact */
static inline TRE_HD float tre_vexp_scale(float p, int32_t n1, int32_t n2) {
    float s1 = tre_u2f((uint32_t)(n1 + 127) << 23), s2 = tre_u2f((uint32_t)(n2 + 127) << 23);
    return p * s1 * s2;
}

/* e^x */
static inline TRE_HD float tre_vexpf(float x) {
    const float hi = 88.72283935546875f, lo = -103.972084045410f;
    float xc = x > hi ? hi : (x < lo ? lo : x);
    float n;
    float p = tre_vexp_reduce(xc, &n);
    /* 2^n in two factors: n = 128 (results near FLT_MAX) down to -150 (subnormal results) */
    int32_t ni = (int32_t)n;
    int32_t n1 = ni > 127 ? 127 : (ni < -126 ? -126 : ni);
    float y = tre_vexp_scale(p, n1, ni - n1);
    y = x > hi ? INFINITY : y;
    y = x < lo ? 0.0f : y;
    return x != x ? x : y;
}

/* e^x for x <= 0 (or NaN), bit for bit tre_vexpf there: without the overflow side's clamps,
 * which the softplus tails exp(-|l|) never need (fewer instructions in their hot loops) */
static inline TRE_HD float tre_vexp_nonposf(float x) {
    const float lo = -103.972084045410f;
    float xc = x < lo ? lo : x;
    float n;
    float p = tre_vexp_reduce(xc, &n);
    int32_t ni = (int32_t)n; /* <= 0 */
    int32_t n1 = ni < -126 ? -126 : ni;
    float y = tre_vexp_scale(p, n1, ni - n1);
    y = x < lo ? 0.0f : y;
    return x != x ? x : y;
}

/* natural log */
static inline TRE_HD float tre_vlogf(float x) {
    /* subnormals: scale into the normal range first */
    int sub = x < 1.17549435e-38f;
    float xs = sub ? x * 8388608.0f : x;
    uint32_t b = tre_f2u(xs);
    int32_t e = (int32_t)((b >> 23) & 0xff) - 126 - (sub ? 23 : 0);
    float m = tre_u2f((b & 0x007fffffu) | 0x3f000000u); /* [0.5, 1) */
    /* m in [sqrt(1/2), sqrt(2)) after moving a factor 2 into e */
    int small = m < 0.707106781186547524f;
    e -= small;
    m = small ? m + m - 1.0f : m - 1.0f;
    float z = m * m;
    float y = 7.0376836292e-2f;
    y = TRE_FMAF(y, m, -1.1514610310e-1f);
    y = TRE_FMAF(y, m, 1.1676998740e-1f);
    y = TRE_FMAF(y, m, -1.2420140846e-1f);
    y = TRE_FMAF(y, m, 1.4249322787e-1f);
    y = TRE_FMAF(y, m, -1.6668057665e-1f);
    y = TRE_FMAF(y, m, 2.0000714765e-1f);
    y = TRE_FMAF(y, m, -2.4999993993e-1f);
    y = TRE_FMAF(y, m, 3.3333331174e-1f);
    y = y * m * z;
    float fe = (float)e;
    y = y + fe * -2.12194440e-4f;
    y = y - 0.5f * z;
    float r = m + y + fe * 0.693359375f;
    r = x == 0.0f ? -INFINITY : r;
    r = x == INFINITY ? INFINITY : r;
    return (x < 0.0f || x != x) ? NAN : r;
}

/* sin(2 pi u) and cos(2 pi u) for a finite u: the reduction happens on u itself (u minus the
 * nearest quarter, exact in float), so no digits of 2 pi are lost; then the Cephes minimax
 * polynomials on [-pi/4, pi/4] (within 2e-7 absolute). */
static inline TRE_HD void tre_vsincos2pif(float u, float *sn, float *cs) {
    float q = u * 4.0f;
    q = (q + 12582912.0f) - 12582912.0f; /* nearest integer (|q| < 2^22) */
    const float r = u - q * 0.25f;        /* [-1/8, 1/8], exact */
    const float x = r * 6.28318530717958647692f, z = x * x;
    float sp = -1.9515295891e-4f;
    sp = TRE_FMAF(sp, z, 8.3321608736e-3f);
    sp = TRE_FMAF(sp, z, -1.6666654611e-1f);
    const float sv = x + x * z * sp;
    float cp = 2.443315711809948e-5f;
    cp = TRE_FMAF(cp, z, -1.388731625493765e-3f);
    cp = TRE_FMAF(cp, z, 4.166664568298827e-2f);
    const float cv = 1.0f - 0.5f * z + z * z * cp;
    const int quad = (int)q & 3; /* the angle is x + quad * pi / 2 */
    const float s1 = (quad & 1) ? cv : sv, c1 = (quad & 1) ? sv : cv;
    *sn = (quad & 2) ? -s1 : s1;
    *cs = ((quad + 1) & 2) ? -c1 : c1;
}

/* log(1 + x) for x >= -1, accurate for tiny x: log(u) * x / (u - 1) with u = 1 + x */
static inline TRE_HD float tre_vlog1pf(float x) {
    float u = 1.0f + x;
    float d = u - 1.0f;
    float l = tre_vlogf(u);
    return d == 0.0f ? x : (x == INFINITY ? INFINITY : l * (x / d));
}

/* log(1 + e) for e in [0, 1], the tail of a softplus: e times a degree-9 polynomial for
 * log1p(e) / e (interpolated at Chebyshev nodes), within 2 ulp over [0, 1], tiny and subnormal e
 * included, and with no range reduction and no division (half the work of tre_vlog1pf). */
static inline TRE_HD float tre_vlog1p_unitf(float e) {
    float p = -3.1760570127516985e-3f;
    p = TRE_FMAF(p, e, 1.9542526453733444e-2f);
    p = TRE_FMAF(p, e, -5.6373611092567444e-2f);
    p = TRE_FMAF(p, e, 1.0543623566627502e-1f);
    p = TRE_FMAF(p, e, -1.5269666910171509e-1f);
    p = TRE_FMAF(p, e, 1.9663274288177490e-1f);
    p = TRE_FMAF(p, e, -2.4951615929603577e-1f);
    p = TRE_FMAF(p, e, 3.3329710364341736e-1f);
    p = TRE_FMAF(p, e, -4.9999892711639404e-1f);
    p = TRE_FMAF(p, e, 1.0f);
    return e * p;
}

/* log(1 + e^x) */
static inline TRE_HD float tre_vsoftplusf(float x) {
    float m = x > 0.0f ? x : 0.0f;
    float a = x < 0.0f ? x : -x; /* -|x| */
    return x != x ? x : m + tre_vlog1p_unitf(tre_vexp_nonposf(a));
}
#endif
