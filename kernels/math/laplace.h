/* Laplace(loc, scale): log-density, its derivatives and the inverse-CDF draw, shared by the
 * CPU and CUDA backends.
 *
 * At x == loc the derivatives w.r.t. x and loc take the subgradient 0 (sign(0) = 0, as
 * PyTorch's autograd of |x - loc|). Each function exists in float (the kernels) and, with
 * suffix _d, in double (finite-difference checks), from one body. */
#ifndef TRELBO_KERNELS_MATH_LAPLACE_H
#define TRELBO_KERNELS_MATH_LAPLACE_H
#include <math.h>
#include "hd.h"
#include "vmath.h"

#define TRE_LAPLACE_LOG_2 0.69314718055994530942

/* T: the type; S: the name suffix; F: the libm suffix of T (f or nothing); LOG, LOG1P, EXP:
 * the functions used (float: the vectorizable ones of vmath.h; double: libm). */
#define TRE_LAPLACE_DEFINE(T, S, F, LOG, LOG1P, EXP)                                           \
    /* with log(scale) given, so that kernels can hoist it when the scale is shared */         \
    static inline TRE_HD T tre_laplace_log_prob_pre##S(T x, T loc, T scale, T log_scale) {     \
        return -fabs##F(x - loc) / scale - log_scale - (T)TRE_LAPLACE_LOG_2;                   \
    }                                                                                          \
    static inline TRE_HD T tre_laplace_log_prob##S(T x, T loc, T scale) {                      \
        return tre_laplace_log_prob_pre##S(x, loc, scale, LOG(scale));                         \
    }                                                                                          \
    static inline TRE_HD T tre_laplace_sign##S(T d) {                                          \
        return d > (T)0 ? (T)1 : (d < (T)0 ? (T)-1 : (T)0);                                    \
    }                                                                                          \
    static inline TRE_HD T tre_laplace_dlp_dx##S(T x, T loc, T scale) {                        \
        return -tre_laplace_sign##S(x - loc) / scale;                                          \
    }                                                                                          \
    static inline TRE_HD T tre_laplace_dlp_dloc##S(T x, T loc, T scale) {                      \
        return tre_laplace_sign##S(x - loc) / scale;                                           \
    }                                                                                          \
    static inline TRE_HD T tre_laplace_dlp_dscale##S(T x, T loc, T scale) {                    \
        return (fabs##F(x - loc) / scale - (T)1) / scale;                                      \
    }                                                                                          \
    /* x = loc + scale t from standard Laplace noise t (tre_laplace_std_quantile) */           \
    static inline TRE_HD T tre_laplace_rsample##S(T t, T loc, T scale) {                       \
        return loc + scale * t;                                                                \
    }                                                                                          \
    /* d x / d loc = 1 and d x / d scale = (x - loc) / scale, t recovered from the draw */     \
    static inline TRE_HD T tre_laplace_rsample_dscale##S(T x, T loc, T scale) {                \
        return (x - loc) / scale;                                                              \
    }

TRE_LAPLACE_DEFINE(float, , f, tre_vlogf, tre_vlog1pf, tre_vexpf)
TRE_LAPLACE_DEFINE(double, _d, , log, log1p, exp)
#undef TRE_LAPLACE_DEFINE

/* The standard Laplace quantile of an open uniform u, in double: log(2u) below the median,
 * -log(2 (1 - u)) above (1 - u is exact for the generator's uniforms). */
static inline TRE_HD double tre_laplace_std_quantile(double u) {
    return u < 0.5 ? log(2.0 * u) : -log(2.0 * (1.0 - u));
}
/* Draw from one open uniform u in (0, 1), in double, rounded once. */
static inline TRE_HD float tre_laplace_sample(double u, float loc, float scale) {
    return (float)tre_laplace_rsample_d(tre_laplace_std_quantile(u), loc, scale);
}
#endif
