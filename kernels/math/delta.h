/* Delta(v, log_density): a point mass at v carrying log_density (Pyro's Delta, elementwise).
 * log_prob is log_density where the value equals v and -inf elsewhere; a draw is v itself.
 * Shared by the CPU and CUDA backends; each function exists in float (the kernels) and, with
 * suffix _d, in double (tests), from one body.
 *
 * The density is not differentiable in the value or v (it jumps), so those derivatives are 0,
 * as PyTorch's autograd of log(x == v) gives; d / d log_density is 1 on the atom. A draw
 * carries its gradient to v (d x / d v = 1), which is what reparameterizing a Delta means. */
#ifndef TRELBO_KERNELS_MATH_DELTA_H
#define TRELBO_KERNELS_MATH_DELTA_H
#include <math.h>
#include "hd.h"

/* T: the type; S: the name suffix. */
#define TRE_DELTA_DEFINE(T, S)                                                                 \
    static inline TRE_HD T tre_delta_log_prob##S(T x, T v, T log_density) {                   \
        return x == v ? log_density : (T)-INFINITY;                                           \
    }                                                                                         \
    static inline TRE_HD T tre_delta_dlp_dlog_density##S(T x, T v, T log_density) {           \
        (void)log_density;                                                                    \
        return x == v ? (T)1 : (T)0;                                                          \
    }                                                                                         \
    static inline TRE_HD T tre_delta_sample##S(T v, T log_density) {                         \
        (void)log_density;                                                                    \
        return v;                                                                             \
    }

TRE_DELTA_DEFINE(float, )
TRE_DELTA_DEFINE(double, _d)
#undef TRE_DELTA_DEFINE
#endif
