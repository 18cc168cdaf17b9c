/* Bernoulli(probs) and Bernoulli(logits): log-mass, its derivatives and the one-uniform
 * sampler, shared by the CPU and CUDA backends.
 *
 * Values are 0 or 1; other values (validation off) get the smooth extension
 * x log p + (1 - x) log(1 - p), as PyTorch's binary cross-entropy form does, which also gives
 * the derivative w.r.t. the value. Each function exists in float (the kernels: with vmath.h's
 * exp / log, which the compiler can vectorize, as a logistic-regression likelihood needs) and,
 * with suffix _d, in double with libm (finite-difference checks), from one body. */
#ifndef TRELBO_KERNELS_MATH_BERNOULLI_H
#define TRELBO_KERNELS_MATH_BERNOULLI_H
#include <math.h>
#include "hd.h"
#include "vmath.h"

/* T: the type; S: the name suffix; F: the libm suffix of T (f or nothing) for fabs; LOG,
 * LOG1P: the transcendental functions for T; EXP: e^x for x <= 0 (every use is exp(-|l|));
 * LOG1P_UNIT: log1p on [0, 1] (softplus's tail). max(l, 0) is a comparison, not fmaxf: that
 * is a libm call (NaN rules) which keeps the compiler from vectorizing the loop. */
#define TRE_BERNOULLI_DEFINE(T, S, F, LOG, LOG1P, EXP, LOG1P_UNIT)                             \
    /* probs: a term whose weight is exactly 0 counts 0 even when its log is -inf, so probs 0  \
     * and 1 are exact (log-mass 0 or -inf) rather than clamped */                             \
    static inline TRE_HD T tre_bernoulli_probs_log_prob##S(T x, T p) {                         \
        T a = x != (T)0 ? x * LOG(p) : (T)0;                                                   \
        T b = x != (T)1 ? ((T)1 - x) * LOG1P(-p) : (T)0;                                       \
        return a + b;                                                                          \
    }                                                                                          \
    static inline TRE_HD T tre_bernoulli_probs_dlp_dprobs##S(T x, T p) {                       \
        T a = x != (T)0 ? x / p : (T)0;                                                        \
        T b = x != (T)1 ? ((T)1 - x) / ((T)1 - p) : (T)0;                                      \
        return a - b;                                                                          \
    }                                                                                          \
    /* logit(p) */                                                                             \
    static inline TRE_HD T tre_bernoulli_probs_dlp_dx##S(T x, T p) {                           \
        (void)x;                                                                               \
        return LOG(p) - LOG1P(-p);                                                             \
    }                                                                                          \
    /* logits: x l - softplus(l) = (x l - max(l, 0)) - log1p(exp(-|l|)). The bracket is exact  \
     * for x in {0, 1}, so the tiny log-mass of a confident logit (x = 1, l = 50: -exp(-50))   \
     * keeps its relative accuracy instead of cancelling to 0. */                              \
    /* the _e forms take e = exp(-|l|), for a loop that wants both from one exp */            \
    static inline TRE_HD T tre_bernoulli_logits_log_prob_e##S(T x, T l, T e) {                 \
        return (x * l - (l > (T)0 ? l : (T)0)) - LOG1P_UNIT(e);                                \
    }                                                                                          \
    static inline TRE_HD T tre_bernoulli_logits_log_prob##S(T x, T l) {                        \
        return tre_bernoulli_logits_log_prob_e##S(x, l, EXP(-fabs##F(l)));                     \
    }                                                                                          \
    /* x - sigmoid(l), sigmoid taken on the side where exp cannot overflow (one division:   \
     * a vector loop computes both sides) */                                                   \
    static inline TRE_HD T tre_bernoulli_logits_dlp_dlogits_e##S(T x, T l, T e) {              \
        T r = (T)1 / ((T)1 + e);                                                               \
        T s = l >= (T)0 ? r : e * r;                                                           \
        return x - s;                                                                          \
    }                                                                                          \
    static inline TRE_HD T tre_bernoulli_logits_dlp_dlogits##S(T x, T l) {                     \
        return tre_bernoulli_logits_dlp_dlogits_e##S(x, l, EXP(-fabs##F(l)));                  \
    }                                                                                          \
    static inline TRE_HD T tre_bernoulli_logits_dlp_dx##S(T x, T l) {                          \
        (void)x;                                                                               \
        return l;                                                                              \
    }

TRE_BERNOULLI_DEFINE(float, , f, tre_vlogf, tre_vlog1pf, tre_vexp_nonposf, tre_vlog1p_unitf)
TRE_BERNOULLI_DEFINE(double, _d, , log, log1p, exp, log1p)
#undef TRE_BERNOULLI_DEFINE

/* Draws from one open uniform u in (0, 1): 1 when u < p, so probs 0 never gives 1 and probs 1
 * always does. A NaN parameter (validation off) gives NaN. */
static inline TRE_HD float tre_bernoulli_probs_sample(double u, float p) {
    if (p != p) return p;
    return u < (double)p ? 1.f : 0.f;
}
/* u < sigmoid(l) <=> log(u / (1 - u)) < l: compared on the logit scale, no sigmoid rounding
 * to 0 or 1 for confident logits; the same event as the probs sampler for p = sigmoid(l). */
static inline TRE_HD float tre_bernoulli_logits_sample(double u, float l) {
    if (l != l) return l;
    return log(u) - log1p(-u) < (double)l ? 1.f : 0.f;
}
#endif
