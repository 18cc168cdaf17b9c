/* LogNormal(loc, scale): log-density, its derivatives and the reparameterized draw
 * exp(loc + scale * eps), shared by the CPU and CUDA backends.
 *
 * Values <= 0 (outside the support; validation off) have density 0, log-density -inf, and
 * zero derivatives. Each function exists in float (the kernels) and, with suffix _d, in double
 * (finite-difference checks), from one body. */
#ifndef TRELBO_KERNELS_MATH_LOG_NORMAL_H
#define TRELBO_KERNELS_MATH_LOG_NORMAL_H
#include <math.h>
#include "hd.h"
#include "vmath.h"
#include "normal.h"

/* T: the type; S: the name suffix; F: the libm suffix of T (f or nothing); LOG, LOG1P, EXP:
 * the functions used (float: the vectorizable ones of vmath.h; double: libm). */
#define TRE_LOG_NORMAL_DEFINE(T, S, F, LOG, LOG1P, EXP)                                        \
    /* with log(scale) given, so that kernels can hoist it when the scale is shared */         \
    static inline TRE_HD T tre_log_normal_log_prob_pre##S(T x, T loc, T scale, T log_scale) {  \
        T lx = LOG(x);                                                                         \
        T z = (lx - loc) / scale;                                                              \
        T lp = (T)-0.5 * z * z - log_scale - lx - (T)TRE_HALF_LOG_2PI;                         \
        return x > (T)0 ? lp : (x == x ? (T)-INFINITY : x);                                    \
    }                                                                                          \
    static inline TRE_HD T tre_log_normal_log_prob##S(T x, T loc, T scale) {                   \
        return tre_log_normal_log_prob_pre##S(x, loc, scale, LOG(scale));                      \
    }                                                                                          \
    /* -(1 + z / scale) / x with z = (log x - loc) / scale */                                  \
    static inline TRE_HD T tre_log_normal_dlp_dx##S(T x, T loc, T scale) {                     \
        T z = (LOG(x) - loc) / scale;                                                          \
        return x > (T)0 ? -((T)1 + z / scale) / x : (T)0;                                      \
    }                                                                                          \
    static inline TRE_HD T tre_log_normal_dlp_dloc##S(T x, T loc, T scale) {                   \
        T z = (LOG(x) - loc) / scale;                                                          \
        return x > (T)0 ? z / scale : (T)0;                                                    \
    }                                                                                          \
    static inline TRE_HD T tre_log_normal_dlp_dscale##S(T x, T loc, T scale) {                 \
        T z = (LOG(x) - loc) / scale;                                                          \
        return x > (T)0 ? (z * z - (T)1) / scale : (T)0;                                       \
    }                                                                                          \
    /* x = exp(loc + scale * eps) from standard normal noise eps */                            \
    static inline TRE_HD T tre_log_normal_rsample##S(T eps, T loc, T scale) {                  \
        return EXP(loc + scale * eps);                                                         \
    }                                                                                          \
    /* d x / d loc = x and d x / d scale = x eps, eps recovered from the draw */               \
    static inline TRE_HD T tre_log_normal_rsample_dloc##S(T x, T loc, T scale) {               \
        (void)loc;                                                                             \
        (void)scale;                                                                           \
        return x;                                                                              \
    }                                                                                          \
    static inline TRE_HD T tre_log_normal_rsample_dscale##S(T x, T loc, T scale) {             \
        return x > (T)0 ? x * ((LOG(x) - loc) / scale) : (T)0;                                 \
    }

TRE_LOG_NORMAL_DEFINE(float, , f, tre_vlogf, tre_vlog1pf, tre_vexpf)
TRE_LOG_NORMAL_DEFINE(double, _d, , log, log1p, exp)
#undef TRE_LOG_NORMAL_DEFINE
#endif
