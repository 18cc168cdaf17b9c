/* Uniform(low, high): log-density, its derivatives and the draw low + (high - low) u, shared
 * by the CPU and CUDA backends.
 *
 * The support is the closed interval [low, high], the one validation checks (SciPy's too;
 * PyTorch's log_prob alone excludes high). Outside it the log-density is -inf and every
 * derivative 0. Each function exists in float (the kernels) and, with suffix _d, in double
 * (finite-difference checks), from one body. */
#ifndef TRELBO_KERNELS_MATH_UNIFORM_H
#define TRELBO_KERNELS_MATH_UNIFORM_H
#include <math.h>
#include "hd.h"
#include "vmath.h"

/* T: the type; S: the name suffix; F: the libm suffix of T (f or nothing); LOG, LOG1P, EXP:
 * the functions used (float: the vectorizable ones of vmath.h; double: libm). */
#define TRE_UNIFORM_DEFINE(T, S, F, LOG, LOG1P, EXP)                                           \
    static inline TRE_HD int tre_uniform_inside##S(T x, T low, T high) {                       \
        return x >= low && x <= high;                                                          \
    }                                                                                          \
    /* with log(high - low) given, so that kernels can hoist it when both bounds are shared */ \
    static inline TRE_HD T tre_uniform_log_prob_pre##S(T x, T low, T high, T log_width) {      \
        return tre_uniform_inside##S(x, low, high) ? -log_width                                \
                                                   : (x == x ? (T)-INFINITY : x);              \
    }                                                                                          \
    static inline TRE_HD T tre_uniform_log_prob##S(T x, T low, T high) {                       \
        return tre_uniform_log_prob_pre##S(x, low, high, LOG(high - low));                     \
    }                                                                                          \
    static inline TRE_HD T tre_uniform_dlp_dx##S(T x, T low, T high) {                         \
        (void)x;                                                                               \
        (void)low;                                                                             \
        (void)high;                                                                            \
        return (T)0;                                                                           \
    }                                                                                          \
    static inline TRE_HD T tre_uniform_dlp_dlow##S(T x, T low, T high) {                       \
        return tre_uniform_inside##S(x, low, high) ? (T)1 / (high - low) : (T)0;               \
    }                                                                                          \
    static inline TRE_HD T tre_uniform_dlp_dhigh##S(T x, T low, T high) {                      \
        return tre_uniform_inside##S(x, low, high) ? (T)-1 / (high - low) : (T)0;              \
    }                                                                                          \
    /* x = low + (high - low) u from an open uniform u */                                      \
    static inline TRE_HD T tre_uniform_rsample##S(T u, T low, T high) {                        \
        return low + (high - low) * u;                                                         \
    }                                                                                          \
    /* d x / d low = 1 - u and d x / d high = u, u recovered from the draw */                  \
    static inline TRE_HD T tre_uniform_rsample_dlow##S(T x, T low, T high) {                   \
        return (high - x) / (high - low);                                                      \
    }                                                                                          \
    static inline TRE_HD T tre_uniform_rsample_dhigh##S(T x, T low, T high) {                  \
        return (x - low) / (high - low);                                                       \
    }

TRE_UNIFORM_DEFINE(float, , f, tre_vlogf, tre_vlog1pf, tre_vexpf)
TRE_UNIFORM_DEFINE(double, _d, , log, log1p, exp)
#undef TRE_UNIFORM_DEFINE

/* Draw from one open uniform u in (0, 1), computed in double and kept inside [low, high]
 * (rounding to float may land on a bound, never beyond it). */
static inline TRE_HD float tre_uniform_sample(double u, float low, float high) {
    double lo = low, hi = high;
    double x = tre_uniform_rsample_d(u, lo, hi);
    return (float)(x < lo ? lo : (x > hi ? hi : x));
}
#endif
