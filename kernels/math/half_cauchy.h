/* HalfCauchy(scale): |Cauchy(0, scale)|. Log-density, its derivatives and the inverse-CDF draw
 * scale tan(pi u / 2), shared by the CPU and CUDA backends.
 *
 * Values < 0 (outside the support; validation off) have log-density -inf and zero
 * derivatives, as in PyTorch. Each function exists in float (the kernels) and, with suffix _d,
 * in double (finite-difference checks), from one body. */
#ifndef TRELBO_KERNELS_MATH_HALF_CAUCHY_H
#define TRELBO_KERNELS_MATH_HALF_CAUCHY_H
#include <math.h>
#include "hd.h"
#include "vmath.h"
#include "cauchy.h"

#define TRE_HALF_CAUCHY_LOG_2_OVER_PI -0.45158270528945486473 /* log(2) - log(pi) */

/* T: the type; S: the name suffix; F: the libm suffix of T (f or nothing); LOG, LOG1P, EXP:
 * the functions used (float: the vectorizable ones of vmath.h; double: libm). */
#define TRE_HALF_CAUCHY_DEFINE(T, S, F, LOG, LOG1P, EXP)                                       \
    /* with log(scale) given, so that kernels can hoist it when the scale is shared */         \
    static inline TRE_HD T tre_half_cauchy_log_prob_pre##S(T x, T scale, T log_scale) {        \
        T lp = -tre_cauchy_log1p_sq##S(x / scale) - log_scale + (T)TRE_HALF_CAUCHY_LOG_2_OVER_PI; \
        return x >= (T)0 ? lp : (x == x ? (T)-INFINITY : x);                                   \
    }                                                                                          \
    static inline TRE_HD T tre_half_cauchy_log_prob##S(T x, T scale) {                         \
        return tre_half_cauchy_log_prob_pre##S(x, scale, LOG(scale));                          \
    }                                                                                          \
    static inline TRE_HD T tre_half_cauchy_dlp_dx##S(T x, T scale) {                           \
        return x >= (T)0 ? -tre_cauchy_two_z_over##S(x / scale) / scale : (T)0;                \
    }                                                                                          \
    static inline TRE_HD T tre_half_cauchy_dlp_dscale##S(T x, T scale) {                       \
        T z = x / scale;                                                                       \
        return x >= (T)0 ? ((T)1 - (T)2 / ((T)1 + z * z)) / scale : (T)0;                      \
    }                                                                                          \
    /* x = scale t from standard half-Cauchy noise t (tre_half_cauchy_std_quantile) */         \
    static inline TRE_HD T tre_half_cauchy_rsample##S(T t, T scale) {                          \
        return scale * t;                                                                      \
    }                                                                                          \
    /* d x / d scale = t = x / scale */                                                        \
    static inline TRE_HD T tre_half_cauchy_rsample_dscale##S(T x, T scale) {                   \
        return x / scale;                                                                      \
    }

TRE_HALF_CAUCHY_DEFINE(float, , f, tre_vlogf, tre_vlog1pf, tre_vexpf)
TRE_HALF_CAUCHY_DEFINE(double, _d, , log, log1p, exp)
#undef TRE_HALF_CAUCHY_DEFINE

/* The standard half-Cauchy quantile tan(pi u / 2) of an open uniform u, in double. */
static inline TRE_HD double tre_half_cauchy_std_quantile(double u) { return tan(0.5 * TRE_CAUCHY_PI * u); }
/* Draw from one open uniform u in (0, 1), in double, rounded once. */
static inline TRE_HD float tre_half_cauchy_sample(double u, float scale) {
    return (float)tre_half_cauchy_rsample_d(tre_half_cauchy_std_quantile(u), scale);
}
#endif
