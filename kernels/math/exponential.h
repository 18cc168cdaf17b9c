/* Exponential(rate): log-density, its derivatives and the inverse-CDF draw -log(u) / rate,
 * shared by the CPU and CUDA backends.
 *
 * Values < 0 (outside the support; validation off) have log-density -inf and zero
 * derivatives (SciPy's convention; PyTorch evaluates the formula there). Each function exists
 * in float (the kernels) and, with suffix _d, in double (finite-difference checks), from one
 * body. */
#ifndef TRELBO_KERNELS_MATH_EXPONENTIAL_H
#define TRELBO_KERNELS_MATH_EXPONENTIAL_H
#include <math.h>
#include "hd.h"
#include "vmath.h"

/* T: the type; S: the name suffix; F: the libm suffix of T (f or nothing); LOG, LOG1P, EXP:
 * the functions used (float: the vectorizable ones of vmath.h; double: libm). */
#define TRE_EXPONENTIAL_DEFINE(T, S, F, LOG, LOG1P, EXP)                                       \
    /* with log(rate) given, so that kernels can hoist it when the rate is shared */           \
    static inline TRE_HD T tre_exponential_log_prob_pre##S(T x, T rate, T log_rate) {          \
        return x >= (T)0 ? log_rate - rate * x : (x == x ? (T)-INFINITY : x);                  \
    }                                                                                          \
    static inline TRE_HD T tre_exponential_log_prob##S(T x, T rate) {                          \
        return tre_exponential_log_prob_pre##S(x, rate, LOG(rate));                            \
    }                                                                                          \
    static inline TRE_HD T tre_exponential_dlp_dx##S(T x, T rate) {                            \
        return x >= (T)0 ? -rate : (T)0;                                                       \
    }                                                                                          \
    static inline TRE_HD T tre_exponential_dlp_drate##S(T x, T rate) {                         \
        return x >= (T)0 ? (T)1 / rate - x : (T)0;                                             \
    }                                                                                          \
    /* x = e / rate from standard exponential noise e (tre_exponential_std_quantile) */        \
    static inline TRE_HD T tre_exponential_rsample##S(T e, T rate) {                           \
        return e / rate;                                                                       \
    }                                                                                          \
    /* d x / d rate = -e / rate^2 = -x / rate */                                               \
    static inline TRE_HD T tre_exponential_rsample_drate##S(T x, T rate) {                     \
        return -x / rate;                                                                      \
    }

TRE_EXPONENTIAL_DEFINE(float, , f, tre_vlogf, tre_vlog1pf, tre_vexpf)
TRE_EXPONENTIAL_DEFINE(double, _d, , log, log1p, exp)
#undef TRE_EXPONENTIAL_DEFINE

/* The standard exponential quantile of an open uniform u, -log(u): never 0 or inf. */
static inline TRE_HD double tre_exponential_std_quantile(double u) { return -log(u); }
/* Draw from one open uniform u in (0, 1), in double, rounded once. */
static inline TRE_HD float tre_exponential_sample(double u, float rate) {
    return (float)tre_exponential_rsample_d(tre_exponential_std_quantile(u), rate);
}
#endif
