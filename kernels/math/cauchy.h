/* Cauchy(loc, scale): log-density, its derivatives and the inverse-CDF draw
 * loc + scale tan(pi (u - 1/2)), shared by the CPU and CUDA backends.
 *
 * log1p(z^2) switches to 2 log|z| where z^2 would overflow, so far tails keep a finite
 * log-density; the derivatives are written with 1 / (1 + z^2) and 2 / (z + 1/z), which stay
 * finite (and exact in the limit) at z = 0 and z -> inf. Each function exists in float (the
 * kernels) and, with suffix _d, in double (finite-difference checks), from one body. */
#ifndef TRELBO_KERNELS_MATH_CAUCHY_H
#define TRELBO_KERNELS_MATH_CAUCHY_H
#include <math.h>
#include "hd.h"
#include "vmath.h"

#define TRE_CAUCHY_LOG_PI 1.14472988584940017414
#define TRE_CAUCHY_PI 3.14159265358979323846

/* T: the type; S: the name suffix; F: the libm suffix of T (f or nothing); LOG, LOG1P, EXP:
 * the functions used (float: the vectorizable ones of vmath.h; double: libm). */
#define TRE_CAUCHY_DEFINE(T, S, F, LOG, LOG1P, EXP)                                            \
    /* log(1 + z^2) */                                                                         \
    static inline TRE_HD T tre_cauchy_log1p_sq##S(T z) {                                       \
        T az = fabs##F(z);                                                                     \
        return az > (T)1e15 ? (T)2 * LOG(az) : LOG1P(z * z);                                   \
    }                                                                                          \
    /* 2 z / (1 + z^2) */                                                                      \
    static inline TRE_HD T tre_cauchy_two_z_over##S(T z) {                                     \
        return (T)2 / (z + (T)1 / z);                                                          \
    }                                                                                          \
    /* with log(scale) given, so that kernels can hoist it when the scale is shared */         \
    static inline TRE_HD T tre_cauchy_log_prob_pre##S(T x, T loc, T scale, T log_scale) {      \
        T z = (x - loc) / scale;                                                               \
        return -tre_cauchy_log1p_sq##S(z) - log_scale - (T)TRE_CAUCHY_LOG_PI;                  \
    }                                                                                          \
    static inline TRE_HD T tre_cauchy_log_prob##S(T x, T loc, T scale) {                       \
        return tre_cauchy_log_prob_pre##S(x, loc, scale, LOG(scale));                          \
    }                                                                                          \
    static inline TRE_HD T tre_cauchy_dlp_dx##S(T x, T loc, T scale) {                         \
        return -tre_cauchy_two_z_over##S((x - loc) / scale) / scale;                           \
    }                                                                                          \
    static inline TRE_HD T tre_cauchy_dlp_dloc##S(T x, T loc, T scale) {                       \
        return tre_cauchy_two_z_over##S((x - loc) / scale) / scale;                            \
    }                                                                                          \
    /* (z^2 - 1) / (scale (1 + z^2)) = (1 - 2 / (1 + z^2)) / scale */                          \
    static inline TRE_HD T tre_cauchy_dlp_dscale##S(T x, T loc, T scale) {                     \
        T z = (x - loc) / scale;                                                               \
        return ((T)1 - (T)2 / ((T)1 + z * z)) / scale;                                         \
    }                                                                                          \
    /* x = loc + scale t from standard Cauchy noise t (tre_cauchy_std_quantile) */             \
    static inline TRE_HD T tre_cauchy_rsample##S(T t, T loc, T scale) {                        \
        return loc + scale * t;                                                                \
    }                                                                                          \
    /* d x / d loc = 1 and d x / d scale = (x - loc) / scale, t recovered from the draw */     \
    static inline TRE_HD T tre_cauchy_rsample_dscale##S(T x, T loc, T scale) {                 \
        return (x - loc) / scale;                                                              \
    }

TRE_CAUCHY_DEFINE(float, , f, tre_vlogf, tre_vlog1pf, tre_vexpf)
TRE_CAUCHY_DEFINE(double, _d, , log, log1p, exp)
#undef TRE_CAUCHY_DEFINE

/* The standard Cauchy quantile tan(pi (u - 1/2)) of an open uniform u, in double. */
static inline TRE_HD double tre_cauchy_std_quantile(double u) { return tan(TRE_CAUCHY_PI * (u - 0.5)); }
/* Draw from one open uniform u in (0, 1), in double, rounded once. */
static inline TRE_HD float tre_cauchy_sample(double u, float loc, float scale) {
    return (float)tre_cauchy_rsample_d(tre_cauchy_std_quantile(u), loc, scale);
}
#endif
