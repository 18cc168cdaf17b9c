/* HalfNormal(scale): |Normal(0, scale)|. Log-density, its derivatives and the reparameterized
 * draw scale * |eps|, shared by the CPU and CUDA backends.
 *
 * Values < 0 (outside the support; validation off) have log-density -inf and zero
 * derivatives, as in PyTorch. Each function exists in float (the kernels) and, with suffix _d,
 * in double (finite-difference checks), from one body. */
#ifndef TRELBO_KERNELS_MATH_HALF_NORMAL_H
#define TRELBO_KERNELS_MATH_HALF_NORMAL_H
#include <math.h>
#include "hd.h"
#include "vmath.h"

#define TRE_HALF_NORMAL_LOG_NORM -0.22579135264472743236 /* log(2) - log(2 pi) / 2 */

/* T: the type; S: the name suffix; F: the libm suffix of T (f or nothing); LOG, LOG1P, EXP:
 * the functions used (float: the vectorizable ones of vmath.h; double: libm). */
#define TRE_HALF_NORMAL_DEFINE(T, S, F, LOG, LOG1P, EXP)                                       \
    /* with log(scale) given, so that kernels can hoist it when the scale is shared */         \
    static inline TRE_HD T tre_half_normal_log_prob_pre##S(T x, T scale, T log_scale) {        \
        T z = x / scale;                                                                       \
        T lp = (T)-0.5 * z * z - log_scale + (T)TRE_HALF_NORMAL_LOG_NORM;                      \
        return x >= (T)0 ? lp : (x == x ? (T)-INFINITY : x);                                   \
    }                                                                                          \
    static inline TRE_HD T tre_half_normal_log_prob##S(T x, T scale) {                         \
        return tre_half_normal_log_prob_pre##S(x, scale, LOG(scale));                          \
    }                                                                                          \
    static inline TRE_HD T tre_half_normal_dlp_dx##S(T x, T scale) {                           \
        return x >= (T)0 ? -(x / scale) / scale : (T)0;                                        \
    }                                                                                          \
    static inline TRE_HD T tre_half_normal_dlp_dscale##S(T x, T scale) {                       \
        T z = x / scale;                                                                       \
        return x >= (T)0 ? (z * z - (T)1) / scale : (T)0;                                      \
    }                                                                                          \
    /* x = scale |eps| from standard normal noise eps */                                       \
    static inline TRE_HD T tre_half_normal_rsample##S(T eps, T scale) {                        \
        return scale * fabs##F(eps);                                                           \
    }                                                                                          \
    /* d x / d scale = |eps| = x / scale */                                                    \
    static inline TRE_HD T tre_half_normal_rsample_dscale##S(T x, T scale) {                   \
        return x / scale;                                                                      \
    }

TRE_HALF_NORMAL_DEFINE(float, , f, tre_vlogf, tre_vlog1pf, tre_vexpf)
TRE_HALF_NORMAL_DEFINE(double, _d, , log, log1p, exp)
#undef TRE_HALF_NORMAL_DEFINE
#endif
