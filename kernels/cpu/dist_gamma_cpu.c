/* CPU pieces of the gamma group (Gamma, Beta, StudentT; Dirichlet is composed on the host from
 * the Gamma kernels): block log-densities with the lgamma / log Beta of shared parameters
 * hoisted, their gradient blocks, element samplers, and the pathwise (implicit) gradient blocks
 * of the draws, all over the shared math in kernels/math (see dist_families_cpu.h). */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "dist_families_cpu.h"
#include "../math/beta.h"
#include "../math/gamma.h"
#include "../math/special.h"
#include "../math/student_t.h"

#define BLOCK TRE_CPU_BLOCK

/* f * d: an element whose upstream factor is 0 (masked out) gets exactly 0, even where the
 * derivative is infinite or NaN. */
static inline float scaled(float f, double d) { return f != 0.f ? (float)(f * d) : 0.f; }

/* ---- Gamma(concentration, rate) ---------------------------------------------------------- */

/* A special function of a block's concentrations, memoized by their bits. The block-wide
 * hoisting sees one concentration for the whole block; a Dirichlet's log-density (composed from
 * this kernel) cycles through its K concentrations, shared by every particle, so each value is
 * computed once per block instead of once per element. Same values either way; a block whose
 * concentrations all differ pays a hash and a compare per element. */
#define CONC_MEMO 64
typedef struct conc_memo {
    uint32_t key[CONC_MEMO];
    double val[CONC_MEMO];
} conc_memo;
static inline void conc_memo_init(conc_memo *m) { memset(m->key, 0xff, sizeof m->key); }
static inline double conc_memo_get(conc_memo *m, float a, double (*fn)(double)) {
    if (a != a) return fn(a); /* a NaN may carry the empty slots' bits */
    uint32_t bits;
    memcpy(&bits, &a, sizeof bits);
    const uint32_t h = (bits * 2654435761u) >> 26; /* 64 slots */
    if (m->key[h] != bits) {
        m->key[h] = bits;
        m->val[h] = fn((double)a);
    }
    return m->val[h];
}

void tre_gamma_lp_block(int64_t n, float *out, const float *x, tre_pblock p,
                        const int *shared) {
    /* lgamma dominates the cost: computed once for a block that shares the concentration, and
     * once per distinct concentration otherwise */
    const double lga0 = shared[0] ? tre_lgamma(p[0][0]) : 0.0;
    const double lb0 = shared[1] ? log((double)p[1][0]) : 0.0;
    conc_memo memo;
    if (!shared[0]) conc_memo_init(&memo);
    for (int64_t j = 0; j < n; ++j) {
        const double a = p[0][j], b = p[1][j];
        const double lga = shared[0] ? lga0 : conc_memo_get(&memo, p[0][j], tre_lgamma);
        const double lb = shared[1] ? lb0 : log(b);
        out[j] = (float)tre_gamma_log_prob_pre(x[j], a, b, lga, lb);
    }
}

float tre_gamma_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_gamma_sample(seed, stream, elem, p[0], p[1]);
}

void tre_gamma_lp_grad_block(int64_t n, const float *x, tre_pblock p,
                             const float *f, float *gv, float *const *gp) {
    conc_memo memo; /* digamma, once per distinct concentration of the block */
    if (gp[0]) conc_memo_init(&memo);
    for (int64_t j = 0; j < n; ++j) {
        const double xj = x[j], a = p[0][j], b = p[1][j];
        if (gv) gv[j] = scaled(f[j], tre_gamma_dlp_dx(xj, a, b));
        if (gp[0]) gp[0][j] = scaled(f[j], tre_gamma_dlp_da_pre(xj, log(b), conc_memo_get(&memo, p[0][j], tre_digamma)));
        if (gp[1]) gp[1][j] = scaled(f[j], tre_gamma_dlp_db(xj, a, b));
    }
}

/* x = s / rate with s = standard_gamma(a): d x / d a = (d s / d a) / rate at s = x * rate
 * (implicit, gamma.h), d x / d rate = -x / rate. */
void tre_gamma_rsample_grad_block(int64_t n, const float *x, tre_pblock p,
                                  const float *g, float *const *gp) {
    for (int64_t j = 0; j < n; ++j) {
        const double xj = x[j], a = p[0][j], b = p[1][j];
        if (gp[0]) gp[0][j] = scaled(g[j], tre_gamma_rsample_da(xj, a, b));
        if (gp[1]) gp[1][j] = scaled(g[j], tre_gamma_rsample_db(xj, a, b));
    }
}

/* ---- Beta(concentration1, concentration0) ------------------------------------------------ */

void tre_beta_lp_block(int64_t n, float *out, const float *x, tre_pblock p,
                       const int *shared) {
    const int hoist = shared[0] && shared[1];
    const double lb0 = hoist ? tre_lbeta(p[0][0], p[1][0]) : 0.0;
    for (int64_t j = 0; j < n; ++j) {
        const double a = p[0][j], b = p[1][j];
        out[j] = (float)tre_beta_log_prob_pre(x[j], a, b, hoist ? lb0 : tre_lbeta(a, b));
    }
}

float tre_beta_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_beta_sample(seed, stream, elem, p[0], p[1]);
}

void tre_beta_lp_grad_block(int64_t n, const float *x, tre_pblock p,
                            const float *f, float *gv, float *const *gp) {
    for (int64_t j = 0; j < n; ++j) {
        const double xj = x[j], a = p[0][j], b = p[1][j];
        if (gv) gv[j] = scaled(f[j], tre_beta_dlp_dx(xj, a, b));
        if (gp[0]) gp[0][j] = scaled(f[j], tre_beta_dlp_da(xj, a, b));
        if (gp[1]) gp[1][j] = scaled(f[j], tre_beta_dlp_db(xj, a, b));
    }
}

/* Implicit gradients at fixed CDF value (beta.h) */
void tre_beta_rsample_grad_block(int64_t n, const float *x, tre_pblock p,
                                 const float *g, float *const *gp) {
    for (int64_t j = 0; j < n; ++j) {
        double da, db;
        tre_beta_rsample_grad(x[j], p[0][j], p[1][j], &da, &db);
        if (gp[0]) gp[0][j] = scaled(g[j], da);
        if (gp[1]) gp[1][j] = scaled(g[j], db);
    }
}

/* ---- StudentT(df, loc, scale) ------------------------------------------------------------ */

void tre_student_t_lp_block(int64_t n, float *out, const float *x,
                            tre_pblock p, const int *shared) {
    const int hoist = shared[0] && shared[2];
    const double ln0 = hoist ? tre_student_t_log_norm(p[0][0], p[2][0]) : 0.0;
    for (int64_t j = 0; j < n; ++j) {
        const double df = p[0][j], loc = p[1][j], scale = p[2][j];
        const double ln = hoist ? ln0 : tre_student_t_log_norm(df, scale);
        out[j] = (float)tre_student_t_log_prob_pre(x[j], df, loc, scale, ln);
    }
}

float tre_student_t_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_student_t_sample(seed, stream, elem, p[0], p[1], p[2]);
}

void tre_student_t_lp_grad_block(int64_t n, const float *x, tre_pblock p,
                                 const float *f, float *gv, float *const *gp) {
    for (int64_t j = 0; j < n; ++j) {
        const double xj = x[j], df = p[0][j], loc = p[1][j], scale = p[2][j];
        if (gv) gv[j] = scaled(f[j], tre_student_t_dlp_dx(xj, df, loc, scale));
        if (gp[0]) gp[0][j] = scaled(f[j], tre_student_t_dlp_ddf(xj, df, loc, scale));
        if (gp[1]) gp[1][j] = scaled(f[j], tre_student_t_dlp_dloc(xj, df, loc, scale));
        if (gp[2]) gp[2][j] = scaled(f[j], tre_student_t_dlp_dscale(xj, df, loc, scale));
    }
}

/* x = loc + scale t: d x / d loc = 1, d x / d scale = t, d x / d df implicit (student_t.h) */
void tre_student_t_rsample_grad_block(int64_t n, const float *x,
                                      tre_pblock p, const float *g,
                                      float *const *gp) {
    for (int64_t j = 0; j < n; ++j) {
        const double xj = x[j], df = p[0][j], loc = p[1][j], scale = p[2][j];
        if (gp[0]) gp[0][j] = scaled(g[j], tre_student_t_rsample_ddf(xj, df, loc, scale));
        if (gp[1]) gp[1][j] = g[j];
        if (gp[2]) gp[2][j] = scaled(g[j], tre_student_t_rsample_dscale(xj, loc, scale));
    }
}
