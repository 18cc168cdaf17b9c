/* Poisson(rate): log-mass, its derivatives and the sampler (inversion for small rates,
 * Hormann's transformed rejection PTRS for large ones), shared by the CPU and CUDA backends.
 *
 * The log-mass k log(rate) - rate - log k! is evaluated in double: at rate 1e4 its three terms
 * are ~1e5 while the result is ~-5, which float would leave with three correct digits. */
#ifndef TRELBO_KERNELS_MATH_POISSON_H
#define TRELBO_KERNELS_MATH_POISSON_H
#include <math.h>
#include "hd.h"
#include "philox.h"
#include "special.h"

/* With log(rate) given so that kernels can hoist it when the rate is shared. k log(rate) is 0
 * for k = 0 even at rate 0 (the mass of 0 under Poisson(0) is 1). Values below 0 (validation
 * off) have mass 0; non-integers get the lgamma extension, as in PyTorch. */
static inline TRE_HD double tre_poisson_log_prob_pre(double k, double rate, double log_rate) {
    if (k < 0.0) return -INFINITY;
    double t = k != 0.0 ? k * log_rate : 0.0;
    /* log 0! = log 1! = 0 exactly, so tiny masses near k = 0 keep their relative accuracy */
    double lf = k == 0.0 || k == 1.0 ? 0.0 : tre_lgamma(k + 1.0);
    return t - rate - lf;
}
static inline TRE_HD double tre_poisson_log_prob(double k, double rate) {
    return tre_poisson_log_prob_pre(k, rate, log(rate));
}
static inline TRE_HD double tre_poisson_dlp_drate(double k, double rate) {
    return (k != 0.0 ? k / rate : 0.0) - 1.0;
}
static inline TRE_HD double tre_poisson_dlp_dx(double k, double rate) {
    return log(rate) - tre_digamma(k + 1.0);
}

/* Rates below this use inversion (expected rate + 1 steps); PTRS needs rate >= 10. */
#define TRE_POISSON_INVERSION_MAX 10.0
/* Bound on rejection rounds; PTRS accepts 90% of rounds at any rate, so this is never reached
 * (it only keeps a GPU thread from spinning on a corrupted parameter). */
#define TRE_POISSON_MAX_ROUNDS 4096u

/* Sequential search of the CDF from 0 with one uniform: X = min{k : F(k) >= u}. */
static inline TRE_HD double tre_poisson_inversion(double u, double rate) {
    double p = exp(-rate), f = p, k = 0.0;
    /* the tail beyond k = 200 is below 1e-100 for rate < 10: only rounding could get there */
    while (u > f && k < 200.0) {
        k += 1.0;
        p *= rate / k;
        f += p;
    }
    return k;
}

/* PTRS (W. Hormann, "The transformed rejection method for generating Poisson random
 * variables", Insurance: Mathematics and Economics 12, 1993), for rate >= 10. Each round uses
 * one pair of words of the element's own Philox sequence (draw d: pairs (0,1) and (2,3)). */
static inline TRE_HD double tre_poisson_ptrs(uint64_t seed, uint64_t stream, uint64_t elem,
                                             double rate) {
    const double slam = sqrt(rate), loglam = log(rate);
    const double b = 0.931 + 2.53 * slam;
    const double a = -0.059 + 0.02483 * b;
    const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    const double v_r = 0.9277 - 3.6224 / (b - 2.0);
    tre_u32x4 w = tre_philox_elem(seed, stream, elem, 0);
    for (uint32_t round = 0; round < TRE_POISSON_MAX_ROUNDS; ++round) {
        if (round && !(round & 1u)) w = tre_philox_elem(seed, stream, elem, round >> 1);
        const int j = (int)(round & 1u) * 2;
        const double u = tre_u32_to_open01_d(w.v[j]) - 0.5, v = tre_u32_to_open01_d(w.v[j + 1]);
        const double us = 0.5 - fabs(u);
        const double k = floor((2.0 * a / us + b) * u + rate + 0.43);
        if (us >= 0.07 && v <= v_r) return k;  /* inside the squeeze: no log needed */
        if (k < 0.0 || (us < 0.013 && v > us)) continue;
        if (log(v * inv_alpha / (a / (us * us) + b)) <= -rate + k * loglam - tre_lgamma(k + 1.0))
            return k;
    }
    return NAN;
}

/* Draw number `elem` of random op `stream`: all its randomness is the element's own Philox
 * sequence (tre_philox_elem), so elements need no coordination however many rounds each takes. */
static inline TRE_HD float tre_poisson_sample(uint64_t seed, uint64_t stream, uint64_t elem,
                                              float rate) {
    const double r = rate;
    if (!(r > 0.0)) return r == 0.0 ? 0.f : NAN;  /* NaN and negative rates: validation off */
    if (isinf(r)) return INFINITY;
    if (r < TRE_POISSON_INVERSION_MAX)
        return (float)tre_poisson_inversion(
            tre_u32_to_open01_d(tre_philox_elem(seed, stream, elem, 0).v[0]), r);
    return (float)tre_poisson_ptrs(seed, stream, elem, r);
}
#endif
