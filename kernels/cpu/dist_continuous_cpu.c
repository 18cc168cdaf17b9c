/* CPU pieces of the continuous families (LogNormal, HalfNormal, Cauchy, HalfCauchy, Laplace,
 * Uniform, Exponential, Delta): block log-densities with a shared scale's log hoisted, their
 * gradient blocks, element samplers and pathwise (reparameterized) gradient blocks, all over
 * the shared math in kernels/math (see dist_families_cpu.h). */
#include <math.h>
#include "dist_families_cpu.h"
#include "../math/cauchy.h"
#include "../math/delta.h"
#include "../math/exponential.h"
#include "../math/half_cauchy.h"
#include "../math/half_normal.h"
#include "../math/laplace.h"
#include "../math/log_normal.h"
#include "../math/philox.h"
#include "../math/uniform.h"
#include "../math/vmath.h"

#define BLOCK TRE_CPU_BLOCK

/* f * d: an element whose upstream factor is 0 (masked out) gets exactly 0, even where the
 * derivative is infinite or NaN. */
static inline float scaled(float f, float d) { return f != 0.f ? f * d : 0.f; }

/* The gradient blocks of the (loc, scale) and (scale) families differ only in the functions
 * they call: these expand one loop per family. */
#define TRE_LOC_SCALE_LP_GRAD(fam)                                                             \
    /* one loop per output, each without branches inside, so that each vectorizes */           \
    if (gv)                                                                                   \
        for (int64_t j = 0; j < n; ++j) gv[j] = scaled(f[j], tre_##fam##_dlp_dx(x[j], p[0][j], p[1][j])); \
    if (gp[0])                                                                                \
        for (int64_t j = 0; j < n; ++j)                                                       \
            gp[0][j] = scaled(f[j], tre_##fam##_dlp_dloc(x[j], p[0][j], p[1][j]));            \
    if (gp[1])                                                                                \
        for (int64_t j = 0; j < n; ++j)                                                       \
            gp[1][j] = scaled(f[j], tre_##fam##_dlp_dscale(x[j], p[0][j], p[1][j]));
#define TRE_SCALE_LP_GRAD(fam, param)                                                          \
    if (gv)                                                                                   \
        for (int64_t j = 0; j < n; ++j) gv[j] = scaled(f[j], tre_##fam##_dlp_dx(x[j], p[0][j])); \
    if (gp[0])                                                                                \
        for (int64_t j = 0; j < n; ++j) gp[0][j] = scaled(f[j], tre_##fam##_dlp_d##param(x[j], p[0][j]));
/* lp blocks with log(scale) (or log(rate)) hoisted when the whole block shares it */
#define TRE_LOC_SCALE_LP_BLOCK(fam)                                                            \
    if (shared[1]) {                                                                          \
        const float s = p[1][0], ls = tre_vlogf(s);                                                 \
        for (int64_t j = 0; j < n; ++j) out[j] = tre_##fam##_log_prob_pre(x[j], p[0][j], s, ls); \
    } else {                                                                                  \
        for (int64_t j = 0; j < n; ++j) out[j] = tre_##fam##_log_prob(x[j], p[0][j], p[1][j]); \
    }
#define TRE_SCALE_LP_BLOCK(fam)                                                                \
    if (shared[0]) {                                                                          \
        const float s = p[0][0], ls = tre_vlogf(s);                                                 \
        for (int64_t j = 0; j < n; ++j) out[j] = tre_##fam##_log_prob_pre(x[j], s, ls);        \
    } else {                                                                                  \
        for (int64_t j = 0; j < n; ++j) out[j] = tre_##fam##_log_prob(x[j], p[0][j]);          \
    }

/* ---- LogNormal(loc, scale) ----------------------------------------------------------------- */

void tre_log_normal_lp_block(int64_t n, float *out, const float *x, tre_pblock p, const int *shared) {
    TRE_LOC_SCALE_LP_BLOCK(log_normal)
}
void tre_log_normal_sample_block(int64_t n, uint64_t seed, uint64_t stream, uint64_t elem0, tre_pblock p,
                                 float *out) {
    tre_cpu_std_normal_block(seed, stream, elem0, n, out);
    for (int64_t j = 0; j < n; ++j) out[j] = tre_log_normal_rsample(out[j], p[0][j], p[1][j]);
}
void tre_log_normal_lp_grad_block(int64_t n, const float *x, tre_pblock p, const float *f,
                                  float *gv, float *const *gp) {
    TRE_LOC_SCALE_LP_GRAD(log_normal)
}
void tre_log_normal_rsample_grad_block(int64_t n, const float *x, tre_pblock p, const float *g,
                                       float *const *gp) {
    if (gp[0])
        for (int64_t j = 0; j < n; ++j) gp[0][j] = g[j] * tre_log_normal_rsample_dloc(x[j], p[0][j], p[1][j]);
    if (gp[1])
        for (int64_t j = 0; j < n; ++j) gp[1][j] = g[j] * tre_log_normal_rsample_dscale(x[j], p[0][j], p[1][j]);
}

/* ---- HalfNormal(scale) --------------------------------------------------------------------- */

void tre_half_normal_lp_block(int64_t n, float *out, const float *x, tre_pblock p, const int *shared) {
    TRE_SCALE_LP_BLOCK(half_normal)
}
void tre_half_normal_sample_block(int64_t n, uint64_t seed, uint64_t stream, uint64_t elem0, tre_pblock p,
                                  float *out) {
    tre_cpu_std_normal_block(seed, stream, elem0, n, out);
    for (int64_t j = 0; j < n; ++j) out[j] = tre_half_normal_rsample(out[j], p[0][j]);
}
void tre_half_normal_lp_grad_block(int64_t n, const float *x, tre_pblock p, const float *f,
                                   float *gv, float *const *gp) {
    TRE_SCALE_LP_GRAD(half_normal, scale)
}
void tre_half_normal_rsample_grad_block(int64_t n, const float *x, tre_pblock p, const float *g,
                                        float *const *gp) {
    if (!gp[0]) return;
    for (int64_t j = 0; j < n; ++j) gp[0][j] = g[j] * tre_half_normal_rsample_dscale(x[j], p[0][j]);
}

/* ---- Cauchy(loc, scale) -------------------------------------------------------------------- */

void tre_cauchy_lp_block(int64_t n, float *out, const float *x, tre_pblock p, const int *shared) {
    TRE_LOC_SCALE_LP_BLOCK(cauchy)
}
float tre_cauchy_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_cauchy_sample(tre_philox_uniform(seed, stream, elem), p[0], p[1]);
}
void tre_cauchy_lp_grad_block(int64_t n, const float *x, tre_pblock p, const float *f, float *gv,
                              float *const *gp) {
    TRE_LOC_SCALE_LP_GRAD(cauchy)
}
void tre_cauchy_rsample_grad_block(int64_t n, const float *x, tre_pblock p, const float *g,
                                   float *const *gp) {
    if (gp[0])
        for (int64_t j = 0; j < n; ++j) gp[0][j] = g[j];
    if (gp[1])
        for (int64_t j = 0; j < n; ++j) gp[1][j] = g[j] * tre_cauchy_rsample_dscale(x[j], p[0][j], p[1][j]);
}

/* ---- HalfCauchy(scale) --------------------------------------------------------------------- */

void tre_half_cauchy_lp_block(int64_t n, float *out, const float *x, tre_pblock p, const int *shared) {
    TRE_SCALE_LP_BLOCK(half_cauchy)
}
float tre_half_cauchy_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_half_cauchy_sample(tre_philox_uniform(seed, stream, elem), p[0]);
}
void tre_half_cauchy_lp_grad_block(int64_t n, const float *x, tre_pblock p, const float *f,
                                   float *gv, float *const *gp) {
    TRE_SCALE_LP_GRAD(half_cauchy, scale)
}
void tre_half_cauchy_rsample_grad_block(int64_t n, const float *x, tre_pblock p, const float *g,
                                        float *const *gp) {
    if (!gp[0]) return;
    for (int64_t j = 0; j < n; ++j) gp[0][j] = g[j] * tre_half_cauchy_rsample_dscale(x[j], p[0][j]);
}

/* ---- Laplace(loc, scale) ------------------------------------------------------------------- */

void tre_laplace_lp_block(int64_t n, float *out, const float *x, tre_pblock p, const int *shared) {
    TRE_LOC_SCALE_LP_BLOCK(laplace)
}
float tre_laplace_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_laplace_sample(tre_philox_uniform(seed, stream, elem), p[0], p[1]);
}
void tre_laplace_lp_grad_block(int64_t n, const float *x, tre_pblock p, const float *f, float *gv,
                               float *const *gp) {
    TRE_LOC_SCALE_LP_GRAD(laplace)
}
void tre_laplace_rsample_grad_block(int64_t n, const float *x, tre_pblock p, const float *g,
                                    float *const *gp) {
    if (gp[0])
        for (int64_t j = 0; j < n; ++j) gp[0][j] = g[j];
    if (gp[1])
        for (int64_t j = 0; j < n; ++j) gp[1][j] = g[j] * tre_laplace_rsample_dscale(x[j], p[0][j], p[1][j]);
}

/* ---- Uniform(low, high) -------------------------------------------------------------------- */

void tre_uniform_lp_block(int64_t n, float *out, const float *x, tre_pblock p, const int *shared) {
    if (shared[0] && shared[1]) {
        const float lo = p[0][0], hi = p[1][0], lw = tre_vlogf(hi - lo);
        for (int64_t j = 0; j < n; ++j) out[j] = tre_uniform_log_prob_pre(x[j], lo, hi, lw);
    } else {
        for (int64_t j = 0; j < n; ++j) out[j] = tre_uniform_log_prob(x[j], p[0][j], p[1][j]);
    }
}
float tre_uniform_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_uniform_sample(tre_philox_uniform(seed, stream, elem), p[0], p[1]);
}
void tre_uniform_lp_grad_block(int64_t n, const float *x, tre_pblock p, const float *f, float *gv,
                               float *const *gp) {
    for (int64_t j = 0; j < n; ++j) {
        const float xj = x[j], lo = p[0][j], hi = p[1][j];
        if (gv) gv[j] = scaled(f[j], tre_uniform_dlp_dx(xj, lo, hi));
        if (gp[0]) gp[0][j] = scaled(f[j], tre_uniform_dlp_dlow(xj, lo, hi));
        if (gp[1]) gp[1][j] = scaled(f[j], tre_uniform_dlp_dhigh(xj, lo, hi));
    }
}
void tre_uniform_rsample_grad_block(int64_t n, const float *x, tre_pblock p, const float *g,
                                    float *const *gp) {
    if (gp[0])
        for (int64_t j = 0; j < n; ++j) gp[0][j] = g[j] * tre_uniform_rsample_dlow(x[j], p[0][j], p[1][j]);
    if (gp[1])
        for (int64_t j = 0; j < n; ++j) gp[1][j] = g[j] * tre_uniform_rsample_dhigh(x[j], p[0][j], p[1][j]);
}

/* ---- Exponential(rate) --------------------------------------------------------------------- */

void tre_exponential_lp_block(int64_t n, float *out, const float *x, tre_pblock p, const int *shared) {
    TRE_SCALE_LP_BLOCK(exponential)
}
float tre_exponential_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_exponential_sample(tre_philox_uniform(seed, stream, elem), p[0]);
}
void tre_exponential_lp_grad_block(int64_t n, const float *x, tre_pblock p, const float *f,
                                   float *gv, float *const *gp) {
    TRE_SCALE_LP_GRAD(exponential, rate)
}
void tre_exponential_rsample_grad_block(int64_t n, const float *x, tre_pblock p, const float *g,
                                        float *const *gp) {
    if (!gp[0]) return;
    for (int64_t j = 0; j < n; ++j) gp[0][j] = g[j] * tre_exponential_rsample_drate(x[j], p[0][j]);
}

/* ---- Delta(v, log_density) ----------------------------------------------------------------- */

void tre_delta_lp_block(int64_t n, float *out, const float *x, tre_pblock p, const int *shared) {
    (void)shared;
    for (int64_t j = 0; j < n; ++j) out[j] = tre_delta_log_prob(x[j], p[0][j], p[1][j]);
}
float tre_delta_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    (void)seed;
    (void)stream;
    (void)elem;
    return tre_delta_sample(p[0], p[1]);
}
void tre_delta_lp_grad_block(int64_t n, const float *x, tre_pblock p, const float *f, float *gv,
                             float *const *gp) {
    for (int64_t j = 0; j < n; ++j) {
        if (gv) gv[j] = 0.f;
        if (gp[0]) gp[0][j] = 0.f;
        if (gp[1]) gp[1][j] = scaled(f[j], tre_delta_dlp_dlog_density(x[j], p[0][j], p[1][j]));
    }
}
/* x = v: d x / d v = 1; log_density does not move the draw */
void tre_delta_rsample_grad_block(int64_t n, const float *x, tre_pblock p, const float *g,
                                  float *const *gp) {
    (void)x;
    (void)p;
    if (gp[0])
        for (int64_t j = 0; j < n; ++j) gp[0][j] = g[j];
    if (gp[1])
        for (int64_t j = 0; j < n; ++j) gp[1][j] = 0.f;
}
