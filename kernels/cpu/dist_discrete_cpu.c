/* CPU pieces of the discrete families (Bernoulli by probs and by logits, Poisson, Binomial):
 * block log-masses with shared parameters' logs hoisted, their gradient blocks, and element
 * samplers, all over the shared math in kernels/math (see dist_families_cpu.h). */
#include <math.h>
#include "dist_families_cpu.h"
#include "../math/bernoulli.h"
#include "../math/binomial.h"
#include "../math/philox.h"
#include "../math/poisson.h"
#include "../math/special.h"
#include "vmath_v16.h"

#define BLOCK TRE_CPU_BLOCK

/* f * d: an element whose upstream factor is 0 (masked out) gets exactly 0, even where the
 * derivative is infinite (probs 0 or 1 against an impossible value). With a float derivative
 * the product is taken in float: the product of two floats is exact in double, so rounding it
 * to float gives this same number (the CUDA side's double product), without widening each
 * vector of the loop to double and back. Poisson and Binomial derivatives are double: scaled_d. */
static inline float scaled(float f, float d) { return f != 0.f ? f * d : 0.f; }
static inline float scaled_d(float f, double d) { return f != 0.f ? (float)(f * d) : 0.f; }

/* ---- Bernoulli(probs) ---------------------------------------------------------------------- */

void tre_bernoulli_probs_lp_block(int64_t n, float *out, const float *x,
                                  tre_pblock p, const int *shared) {
    (void)shared;
    for (int64_t j = 0; j < n; ++j) out[j] = tre_bernoulli_probs_log_prob(x[j], p[0][j]);
}

float tre_bernoulli_probs_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_bernoulli_probs_sample(tre_philox_uniform(seed, stream, elem), p[0]);
}

void tre_bernoulli_probs_lp_grad_block(int64_t n, const float *x,
                                       tre_pblock p, const float *f,
                                       float *gv, float *const *gp) {
    if (gv)
        for (int64_t j = 0; j < n; ++j) gv[j] = scaled(f[j], tre_bernoulli_probs_dlp_dx(x[j], p[0][j]));
    if (gp[0])
        for (int64_t j = 0; j < n; ++j) gp[0][j] = scaled(f[j], tre_bernoulli_probs_dlp_dprobs(x[j], p[0][j]));
}

/* ---- Bernoulli(logits) --------------------------------------------------------------------- */

void tre_bernoulli_logits_lp_block(int64_t n, float *out, const float *x,
                                   tre_pblock p, const int *shared) {
    (void)shared;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) { /* vmath_v16.h: the same bits, the exp's fast path */
        const tre_v16 xv = tre_v16_load(x + j), l = tre_v16_load(p[0] + j);
        const tre_v16 lp = tre_v16_bernoulli_logits_log_prob_e(xv, l, tre_v16_bernoulli_e(l));
        memcpy(out + j, &lp, sizeof lp);
    }
    for (; j < n; ++j) out[j] = tre_bernoulli_logits_log_prob(x[j], p[0][j]);
}

float tre_bernoulli_logits_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_bernoulli_logits_sample(tre_philox_uniform(seed, stream, elem), p[0]);
}

void tre_bernoulli_logits_lp_grad_block(int64_t n, const float *x,
                                        tre_pblock p, const float *f,
                                        float *gv, float *const *gp) {
    /* one loop per output, so that each vectorizes (the logistic-regression hot path) */
    if (gv)
        for (int64_t j = 0; j < n; ++j) gv[j] = scaled(f[j], tre_bernoulli_logits_dlp_dx(x[j], p[0][j]));
    if (gp[0]) {
        int64_t j = 0;
        for (; j + 16 <= n; j += 16) {
            const tre_v16 xv = tre_v16_load(x + j), l = tre_v16_load(p[0] + j), fv = tre_v16_load(f + j);
            const tre_v16 d = tre_v16_bernoulli_logits_dlp_dlogits_e(xv, l, tre_v16_bernoulli_e(l));
            const tre_v16 g = tre_v16_select(fv != 0.f, fv * d, (tre_v16){0});
            memcpy(gp[0] + j, &g, sizeof g);
        }
        for (; j < n; ++j) gp[0][j] = scaled(f[j], tre_bernoulli_logits_dlp_dlogits(x[j], p[0][j]));
    }
}

/* ---- Poisson(rate) ------------------------------------------------------------------------- */

void tre_poisson_lp_block(int64_t n, float *out, const float *x,
                          tre_pblock p, const int *shared) {
    if (shared[0]) {
        const double rate = p[0][0], log_rate = log(rate);
        for (int64_t j = 0; j < n; ++j) out[j] = (float)tre_poisson_log_prob_pre(x[j], rate, log_rate);
    } else {
        for (int64_t j = 0; j < n; ++j) out[j] = (float)tre_poisson_log_prob(x[j], p[0][j]);
    }
}

float tre_poisson_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_poisson_sample(seed, stream, elem, p[0]);
}

void tre_poisson_lp_grad_block(int64_t n, const float *x, tre_pblock p,
                               const float *f, float *gv, float *const *gp) {
    if (gv)
        for (int64_t j = 0; j < n; ++j) gv[j] = scaled_d(f[j], tre_poisson_dlp_dx(x[j], p[0][j]));
    if (gp[0])
        for (int64_t j = 0; j < n; ++j) gp[0][j] = scaled_d(f[j], tre_poisson_dlp_drate(x[j], p[0][j]));
}

/* ---- Binomial(total_count, probs) ---------------------------------------------------------- */

void tre_binomial_lp_block(int64_t n, float *out, const float *x,
                           tre_pblock p, const int *shared) {
    if (shared[0] && shared[1]) { /* the common case: one (n, p) for a whole plate */
        const double tc = p[0][0], pr = p[1][0];
        const double lp = log(pr), l1mp = log1p(-pr), lg = tre_lgamma(tc + 1.0);
        for (int64_t j = 0; j < n; ++j) out[j] = (float)tre_binomial_log_prob_pre(x[j], tc, lp, l1mp, lg);
    } else {
        for (int64_t j = 0; j < n; ++j) out[j] = (float)tre_binomial_log_prob(x[j], p[0][j], p[1][j]);
    }
}

float tre_binomial_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_binomial_sample(seed, stream, elem, p[0], p[1]);
}

void tre_binomial_lp_grad_block(int64_t n, const float *x, tre_pblock p,
                                const float *f, float *gv, float *const *gp) {
    for (int64_t j = 0; j < n; ++j) {
        const double k = x[j], tc = p[0][j], pr = p[1][j];
        if (gv) gv[j] = scaled_d(f[j], tre_binomial_dlp_dx(k, tc, pr));
        if (gp[0]) gp[0][j] = scaled_d(f[j], tre_binomial_dlp_dtotal_count(k, tc, pr));
        if (gp[1]) gp[1][j] = scaled_d(f[j], tre_binomial_dlp_dprobs(k, tc, pr));
    }
}
