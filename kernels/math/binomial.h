/* Binomial(total_count, probs): log-mass, its derivatives and the sampler (inversion when
 * n min(p, 1-p) is small, Hormann's BTRS otherwise), shared by the CPU and CUDA backends.
 *
 * Evaluated in double: at n = 1e5 the log-factorials are ~1e6 while the log-mass is ~-6. */
#ifndef TRELBO_KERNELS_MATH_BINOMIAL_H
#define TRELBO_KERNELS_MATH_BINOMIAL_H
#include <math.h>
#include "hd.h"
#include "philox.h"
#include "special.h"

/* log C(n, k) + k log p + (n - k) log(1 - p), with log p, log1p(-p) and lgamma(n + 1) given
 * so that kernels can hoist them. A term whose count is exactly 0 counts 0 even when its log
 * is -inf, so probs 0 and 1 are exact (Binomial(n, 0) is 0 with mass 1) rather than clamped.
 * Values outside [0, n] (validation off) have mass 0; non-integers inside get the lgamma
 * extension, as in PyTorch. */
static inline TRE_HD double tre_binomial_log_prob_pre(double k, double n, double log_p,
                                                      double log1m_p, double lgamma_n1) {
    if (k < 0.0 || k > n) return -INFINITY;
    const double nk = n - k;
    const double t = (k != 0.0 ? k * log_p : 0.0) + (nk != 0.0 ? nk * log1m_p : 0.0);
    /* C(n, 0) = C(n, n) = 1 exactly: the edges, where extreme probs put tiny masses, keep
     * their relative accuracy instead of inheriting the log-factorials' rounding */
    if (k == 0.0 || nk == 0.0) return t;
    return lgamma_n1 - tre_lgamma(k + 1.0) - tre_lgamma(nk + 1.0) + t;
}
static inline TRE_HD double tre_binomial_log_prob(double k, double n, double p) {
    return tre_binomial_log_prob_pre(k, n, log(p), log1p(-p), tre_lgamma(n + 1.0));
}
static inline TRE_HD double tre_binomial_dlp_dprobs(double k, double n, double p) {
    const double nk = n - k;
    return (k != 0.0 ? k / p : 0.0) - (nk != 0.0 ? nk / (1.0 - p) : 0.0);
}
/* total_count is an integer, but PyTorch's formula is smooth in it, and so is this one */
static inline TRE_HD double tre_binomial_dlp_dtotal_count(double k, double n, double p) {
    return tre_digamma(n + 1.0) - tre_digamma(n - k + 1.0) + log1p(-p);
}
static inline TRE_HD double tre_binomial_dlp_dx(double k, double n, double p) {
    return tre_digamma(n - k + 1.0) - tre_digamma(k + 1.0) + log(p) - log1p(-p);
}

/* n min(p, 1 - p) below this uses inversion; BTRS needs n p >= 10. */
#define TRE_BINOMIAL_INVERSION_MAX 10.0
/* Bound on uniforms / rejection rounds; never reached in practice (BTRS accepts most rounds,
 * inversion restarts with probability < 1e-20); it keeps a GPU thread from spinning. */
#define TRE_BINOMIAL_MAX_ROUNDS 4096u

/* Word number i of the element's own Philox sequence as an open uniform. */
static inline TRE_HD double tre_binomial_word(uint64_t seed, uint64_t stream, uint64_t elem,
                                              uint32_t i, tre_u32x4 *w) {
    if (!(i & 3u)) *w = tre_philox_elem(seed, stream, elem, i >> 2);
    return tre_u32_to_open01_d(w->v[i & 3u]);
}

/* Inversion by sequential search from 0, for p <= 1/2 and n p < 10. Restarts with a fresh
 * uniform past n p + 10 sqrt(n p q + 1) (as NumPy does), where rounding of the running
 * remainder could otherwise walk off into the far tail. */
static inline TRE_HD double tre_binomial_inversion(uint64_t seed, uint64_t stream, uint64_t elem,
                                                   double n, double p) {
    const double q = 1.0 - p, s = p / q, a = (n + 1.0) * s;
    const double p0 = exp(n * log1p(-p));
    const double bound = fmin(n, n * p + 10.0 * sqrt(n * p * q + 1.0));
    tre_u32x4 w;
    uint32_t i = 0;
    double u = tre_binomial_word(seed, stream, elem, i++, &w), px = p0, k = 0.0;
    while (u > px) {
        k += 1.0;
        if (k > bound) {
            if (i >= TRE_BINOMIAL_MAX_ROUNDS) return NAN;
            u = tre_binomial_word(seed, stream, elem, i++, &w);
            px = p0;
            k = 0.0;
            continue;
        }
        u -= px;
        px *= a / k - s;  /* P(k) / P(k - 1) = (n - k + 1) p / (k q) */
    }
    return k;
}

/* BTRS (W. Hormann, "The generation of binomial random variates", J. Statist. Comput.
 * Simul. 46, 1993), for p <= 1/2 and n p >= 10, with the exact log-mass test of step 3.1. */
static inline TRE_HD double tre_binomial_btrs(uint64_t seed, uint64_t stream, uint64_t elem,
                                              double n, double p) {
    const double q = 1.0 - p, spq = sqrt(n * p * q);
    const double b = 1.15 + 2.53 * spq;
    const double a = -0.0873 + 0.0248 * b + 0.01 * p;
    const double c = n * p + 0.5;
    const double v_r = 0.92 - 4.2 / b;
    const double alpha = (2.83 + 5.1 / b) * spq;
    const double lpq = log(p / q);
    const double m = floor((n + 1.0) * p);
    const double h = tre_lgamma(m + 1.0) + tre_lgamma(n - m + 1.0);
    tre_u32x4 w;
    for (uint32_t i = 0; i < 2u * TRE_BINOMIAL_MAX_ROUNDS; i += 2) {
        const double u = tre_binomial_word(seed, stream, elem, i, &w) - 0.5;
        const double v = tre_binomial_word(seed, stream, elem, i + 1, &w);
        const double us = 0.5 - fabs(u);
        const double k = floor((2.0 * a / us + b) * u + c);
        if (k < 0.0 || k > n) continue;
        if (us >= 0.07 && v <= v_r) return k;  /* inside the squeeze: no log needed */
        if (log(v * alpha / (a / (us * us) + b)) <=
            h - tre_lgamma(k + 1.0) - tre_lgamma(n - k + 1.0) + (k - m) * lpq)
            return k;
    }
    return NAN;
}

/* Draw number `elem` of random op `stream` from the element's own Philox sequence
 * (tre_philox_elem). p > 1/2 draws n - X with X ~ Binomial(n, 1 - p), so both methods only
 * ever see p <= 1/2. */
static inline TRE_HD float tre_binomial_sample(uint64_t seed, uint64_t stream, uint64_t elem,
                                               float total_count, float probs) {
    const double n = total_count, p = probs;
    if (!(n >= 0.0) || !(p >= 0.0 && p <= 1.0) || isinf(n)) return NAN; /* validation off */
    if (n == 0.0 || p == 0.0) return 0.f;
    if (p == 1.0) return (float)n;
    const int flip = p > 0.5;
    const double pp = flip ? 1.0 - p : p;
    const double k = n * pp < TRE_BINOMIAL_INVERSION_MAX ? tre_binomial_inversion(seed, stream, elem, n, pp)
                                                         : tre_binomial_btrs(seed, stream, elem, n, pp);
    return (float)(flip ? n - k : k);
}
#endif
