/* CPU distribution kernels over the shared math in kernels/math: log-densities (materialized,
 * or reduced per particle with mask and scale fused in), and reparameterized draws from the
 * shared Philox stream.
 *
 * Broadcast arguments are first copied into small contiguous blocks (they stay in L1), so the
 * arithmetic runs over unit-stride arrays the compiler vectorizes whatever the strides were. */
#include <math.h>
#include <stdbool.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "dist_families_cpu.h"
#include "../math/normal.h"
#include "../math/philox.h"

#define BLOCK TRE_CPU_BLOCK
#define MAX_GROUPS 64 /* fixed split of one particle's sum: deterministic for any thread count */

static void load_block(float *dst, const float *src, int64_t stride, int64_t n) {
    if (stride == 1)
        for (int64_t j = 0; j < n; ++j) dst[j] = src[j];
    else if (stride == 0)
        for (int64_t j = 0; j < n; ++j) dst[j] = src[0];
    else
        for (int64_t j = 0; j < n; ++j) dst[j] = src[j * stride];
}

void tre_normal_lp_block(int64_t n, float *out, const float *x,
                         float p[TRE_KDIST_MAX_PARAMS][BLOCK], const int *shared) {
    if (shared[1]) {
        const float sc = p[1][0], ls = logf(sc);
        for (int64_t j = 0; j < n; ++j) out[j] = tre_normal_log_prob_pre(x[j], p[0][j], sc, ls);
    } else {
        for (int64_t j = 0; j < n; ++j) out[j] = tre_normal_log_prob(x[j], p[0][j], p[1][j]);
    }
}

float tre_normal_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p) {
    return tre_normal_rsample(tre_philox_std_normal(seed, stream, elem), p[0], p[1]);
}

void tre_normal_lp_grad_block(int64_t n, const float *x, float p[TRE_KDIST_MAX_PARAMS][BLOCK],
                              const float *f, float *gv, float *const *gp) {
    /* one loop per output, so that each vectorizes */
    if (gv)
        for (int64_t j = 0; j < n; ++j) gv[j] = f[j] * tre_normal_dlp_dx(x[j], p[0][j], p[1][j]);
    if (gp[0])
        for (int64_t j = 0; j < n; ++j) gp[0][j] = f[j] * tre_normal_dlp_dloc(x[j], p[0][j], p[1][j]);
    if (gp[1])
        for (int64_t j = 0; j < n; ++j) gp[1][j] = f[j] * tre_normal_dlp_dscale(x[j], p[0][j], p[1][j]);
}

/* x = loc + scale * eps: dx/dloc = 1, dx/dscale = eps = (x - loc) / scale */
void tre_normal_rsample_grad_block(int64_t n, const float *x,
                                   float p[TRE_KDIST_MAX_PARAMS][BLOCK], const float *g,
                                   float *const *gp) {
    for (int64_t j = 0; j < n; ++j) {
        if (gp[0]) gp[0][j] = g[j];
        if (gp[1]) gp[1][j] = g[j] * tre_normal_rsample_dscale(x[j], p[0][j], p[1][j]);
    }
}

/* The families with elementwise kernels, indexed by tre_kdist. */
static const tre_cpu_family families[TRE_KDIST_COUNT] = {
    [TRE_KDIST_NORMAL] = {2, tre_normal_lp_block, tre_normal_sample_elem, tre_normal_lp_grad_block,
                          tre_normal_rsample_grad_block},
    [TRE_KDIST_BERNOULLI_PROBS] = {1, tre_bernoulli_probs_lp_block, tre_bernoulli_probs_sample_elem,
                                   tre_bernoulli_probs_lp_grad_block, NULL},
    [TRE_KDIST_BERNOULLI_LOGITS] = {1, tre_bernoulli_logits_lp_block, tre_bernoulli_logits_sample_elem,
                                    tre_bernoulli_logits_lp_grad_block, NULL},
    [TRE_KDIST_POISSON] = {1, tre_poisson_lp_block, tre_poisson_sample_elem, tre_poisson_lp_grad_block, NULL},
    [TRE_KDIST_BINOMIAL_PROBS] = {2, tre_binomial_lp_block, tre_binomial_sample_elem,
                                  tre_binomial_lp_grad_block, NULL},
    [TRE_KDIST_LOG_NORMAL] = {2, tre_log_normal_lp_block, tre_log_normal_sample_elem,
                              tre_log_normal_lp_grad_block, tre_log_normal_rsample_grad_block},
    [TRE_KDIST_HALF_NORMAL] = {1, tre_half_normal_lp_block, tre_half_normal_sample_elem,
                               tre_half_normal_lp_grad_block, tre_half_normal_rsample_grad_block},
    [TRE_KDIST_CAUCHY] = {2, tre_cauchy_lp_block, tre_cauchy_sample_elem,
                          tre_cauchy_lp_grad_block, tre_cauchy_rsample_grad_block},
    [TRE_KDIST_HALF_CAUCHY] = {1, tre_half_cauchy_lp_block, tre_half_cauchy_sample_elem,
                               tre_half_cauchy_lp_grad_block, tre_half_cauchy_rsample_grad_block},
    [TRE_KDIST_LAPLACE] = {2, tre_laplace_lp_block, tre_laplace_sample_elem,
                           tre_laplace_lp_grad_block, tre_laplace_rsample_grad_block},
    [TRE_KDIST_UNIFORM] = {2, tre_uniform_lp_block, tre_uniform_sample_elem,
                           tre_uniform_lp_grad_block, tre_uniform_rsample_grad_block},
    [TRE_KDIST_EXPONENTIAL] = {1, tre_exponential_lp_block, tre_exponential_sample_elem,
                               tre_exponential_lp_grad_block, tre_exponential_rsample_grad_block},
    [TRE_KDIST_DELTA] = {2, tre_delta_lp_block, tre_delta_sample_elem,
                         tre_delta_lp_grad_block, tre_delta_rsample_grad_block},
    [TRE_KDIST_GAMMA] = {2, tre_gamma_lp_block, tre_gamma_sample_elem, tre_gamma_lp_grad_block,
                         tre_gamma_rsample_grad_block},
    [TRE_KDIST_BETA] = {2, tre_beta_lp_block, tre_beta_sample_elem, tre_beta_lp_grad_block,
                        tre_beta_rsample_grad_block},
    [TRE_KDIST_STUDENT_T] = {3, tre_student_t_lp_block, tre_student_t_sample_elem,
                             tre_student_t_lp_grad_block, tre_student_t_rsample_grad_block},
};

static const tre_cpu_family *family_of(tre_kdist kind) {
    return (unsigned)kind < TRE_KDIST_COUNT && families[kind].log_prob ? &families[kind] : NULL;
}

/* One run of `len` elements starting at argument offsets `off` (value, params..., mask). Writes
 * log-densities to `out` when non-NULL, else returns the masked, scaled sum in double. */
static double run_eval(const tre_cpu_family *fam, int np, int64_t len, const tre_karg *args,
                       const int64_t *off, const int64_t *inner_stride, float scale, float *out) {
    float xb[BLOCK], pb[TRE_KDIST_MAX_PARAMS][BLOCK], lb[BLOCK], mb[BLOCK];
    int shared[TRE_KDIST_MAX_PARAMS];
    const tre_karg *mask = &args[1 + TRE_KDIST_MAX_PARAMS];
    double acc[4] = {0, 0, 0, 0};
    for (int i = 0; i < np; ++i) shared[i] = inner_stride[1 + i] == 0;
    for (int64_t s = 0; s < len; s += BLOCK) {
        int64_t n = len - s < BLOCK ? len - s : BLOCK;
        load_block(xb, args[0].data + off[0] + s * inner_stride[0], inner_stride[0], n);
        for (int i = 0; i < np; ++i)
            load_block(pb[i], args[1 + i].data + off[1 + i] + s * inner_stride[1 + i],
                       inner_stride[1 + i], n);
        float *dst = out ? out + s : lb;
        fam->log_prob(n, dst, xb, pb, shared);
        if (out) continue;
        if (mask->data) {
            int64_t ms = inner_stride[1 + TRE_KDIST_MAX_PARAMS];
            load_block(mb, mask->data + off[1 + TRE_KDIST_MAX_PARAMS] + s * ms, ms, n);
            for (int64_t j = 0; j < n; ++j) lb[j] = mb[j] != 0.f ? lb[j] : 0.f; /* NaN too */
        }
        int64_t j = 0;
        for (; j + 4 <= n; j += 4)
            for (int l = 0; l < 4; ++l) acc[l] += (double)lb[j + l];
        for (; j < n; ++j) acc[0] += (double)lb[j];
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) * (double)scale;
}

int tre_log_prob_cpu(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                     const tre_karg *value, const tre_karg *params) {
    (void)impl;
    const tre_cpu_family *fam = family_of(kind);
    if (!fam) return 1;
    int np = fam->nparams;
    tre_cpu_runs R;
    tre_cpu_runs_init(&R, shape);
    tre_karg args[TRE_KDIST_ARGS] = {*value};
    for (int i = 0; i < np; ++i) args[1 + i] = params[i];
    const int64_t *st[1 + TRE_KDIST_ARGS] = {NULL};
    int64_t inner[TRE_KDIST_ARGS];
    for (int a = 0; a <= np; ++a) {
        st[1 + a] = args[a].stride;
        inner[a] = tre_cpu_inner_stride(&R, args[a].stride);
    }
    TRE_CPU_FOR(R.total > TRE_CPU_PARALLEL_MIN, k, R.nruns,
        int64_t off[1 + TRE_KDIST_ARGS];
        int64_t len = tre_cpu_run_at(&R, k, 2 + np, st, off);
        run_eval(fam, np, len, args, off + 1, inner, 1.f, out + off[0]);
        );
    return 0;
}

int tre_log_prob_sum_cpu(void *impl, tre_kdist kind, int64_t particles, const tre_kshape *inner,
                         float *out, const tre_karg *args, const int64_t *pstride, float scale) {
    (void)impl;
    const tre_cpu_family *fam = family_of(kind);
    if (!fam) return 1;
    int np = fam->nparams;
    tre_cpu_runs R;
    tre_cpu_runs_init(&R, inner);
    /* argument slots: value, params (np of TRE_KDIST_MAX_PARAMS), mask (last slot) */
    const int64_t *st[TRE_KDIST_ARGS];
    int64_t istride[TRE_KDIST_ARGS] = {0};
    for (int a = 0; a < TRE_KDIST_ARGS; ++a) {
        st[a] = args[a].stride;
        istride[a] = tre_cpu_inner_stride(&R, args[a].stride);
    }
    int groups = particles >= 8 || R.nruns < 2 ? 1 : (R.nruns < MAX_GROUPS ? (int)R.nruns : MAX_GROUPS);
    int64_t units = particles * groups;
    double partial_stack[MAX_GROUPS];
    double *partial = groups > 1 ? partial_stack : NULL;
    for (int64_t p0 = 0; p0 < particles; p0 += (groups > 1 ? 1 : particles)) {
        int64_t nunits = groups > 1 ? groups : units;
        TRE_CPU_FOR(particles * R.total > TRE_CPU_PARALLEL_MIN, u, nunits,
            int64_t p = groups > 1 ? p0 : u, g = groups > 1 ? u : 0;
            int64_t k0 = R.nruns * g / groups, k1 = R.nruns * (g + 1) / groups;
            double acc = 0.0;
            for (int64_t k = k0; k < k1; ++k) {
                int64_t off[TRE_KDIST_ARGS];
                int64_t len = tre_cpu_run_at(&R, k, TRE_KDIST_ARGS, st, off);
                for (int a = 0; a < TRE_KDIST_ARGS; ++a) off[a] += p * pstride[a];
                acc += run_eval(fam, np, len, args, off, istride, scale, NULL);
            }
            if (groups > 1) partial[g] = acc;
            else out[p] = (float)acc;
                );
        if (groups > 1) {
            double acc = 0.0;
            for (int g = 0; g < groups; ++g) acc += partial[g];
            out[p0] = (float)acc;
        }
    }
    return 0;
}

int tre_sample_cpu(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                   const tre_karg *params, uint64_t seed, uint64_t stream) {
    (void)impl;
    const tre_cpu_family *fam = family_of(kind);
    if (!fam || !fam->sample) return 1;
    const int np = fam->nparams;
    tre_cpu_runs R;
    tre_cpu_runs_init(&R, shape);
    const int64_t *st[1 + TRE_KDIST_MAX_PARAMS] = {NULL};
    int64_t ps[TRE_KDIST_MAX_PARAMS] = {0};
    for (int i = 0; i < np; ++i) {
        st[1 + i] = params[i].stride;
        ps[i] = tre_cpu_inner_stride(&R, params[i].stride);
    }
    TRE_CPU_FOR(R.total > TRE_CPU_PARALLEL_MIN / 8, k, R.nruns,
        int64_t off[1 + TRE_KDIST_MAX_PARAMS];
        int64_t len = tre_cpu_run_at(&R, k, 1 + np, st, off);
        float pv[TRE_KDIST_MAX_PARAMS] = {0};
        for (int64_t i = 0; i < len; ++i) {
            for (int q = 0; q < np; ++q) pv[q] = params[q].data[off[1 + q] + i * ps[q]];
            /* the element number is its linear index in the output: the same on any backend */
            out[off[0] + i] = fam->sample(seed, stream, (uint64_t)(off[0] + i), pv);
        }
        );
    return 0;
}

/* The argument layout shared by the two log-density gradient kernels: slots value, params,
 * mask, g, then the contiguous full-shape output. */
enum { GRAD_SLOTS = TRE_KDIST_ARGS + 2 };
typedef struct grad_layout {
    const tre_cpu_family *fam;
    int np;
    tre_cpu_runs R;
    const int64_t *st[GRAD_SLOTS];
    int64_t istride[GRAD_SLOTS];
} grad_layout;

static bool grad_layout_init(grad_layout *L, tre_kdist kind, const tre_kshape *inner,
                             const tre_karg *args, const tre_karg *g) {
    L->fam = family_of(kind);
    if (!L->fam || !L->fam->log_prob_grad) return false;
    L->np = L->fam->nparams;
    tre_cpu_runs_init(&L->R, inner);
    for (int a = 0; a < TRE_KDIST_ARGS; ++a) L->st[a] = args[a].stride;
    L->st[TRE_KDIST_ARGS] = g->stride;
    L->st[TRE_KDIST_ARGS + 1] = NULL;
    for (int a = 0; a < GRAD_SLOTS; ++a) L->istride[a] = tre_cpu_inner_stride(&L->R, L->st[a]);
    return true;
}

/* Run k of particle p: f = mask ? scale * g : 0 times d log p / d argument, per element, written
 * to the full-shape outputs `grads` (when non-NULL) or added into the double sums `acc`. */
static void grad_run(const grad_layout *L, int64_t p, int64_t k, const tre_karg *args,
                     const int64_t *pstride, const tre_karg *g, int64_t gstride, float scale,
                     float *const *grads, double *acc) {
    int64_t off[GRAD_SLOTS];
    int64_t len = tre_cpu_run_at(&L->R, k, GRAD_SLOTS, L->st, off);
    const int64_t *is = L->istride;
    for (int a = 0; a < TRE_KDIST_ARGS; ++a) off[a] += p * pstride[a];
    off[TRE_KDIST_ARGS] += p * gstride;
    off[TRE_KDIST_ARGS + 1] += p * L->R.total;
    const tre_karg *mask = &args[TRE_KDIST_ARGS - 1];
    float xb[BLOCK], pb[TRE_KDIST_MAX_PARAMS][BLOCK], fb[BLOCK], mb[BLOCK];
    float lb[1 + TRE_KDIST_MAX_PARAMS][BLOCK];
    for (int64_t s0 = 0; s0 < len; s0 += BLOCK) {
        int64_t n = len - s0 < BLOCK ? len - s0 : BLOCK;
        load_block(xb, args[0].data + off[0] + s0 * is[0], is[0], n);
        for (int i = 0; i < L->np; ++i)
            load_block(pb[i], args[1 + i].data + off[1 + i] + s0 * is[1 + i], is[1 + i], n);
        load_block(fb, g->data + off[TRE_KDIST_ARGS] + s0 * is[TRE_KDIST_ARGS], is[TRE_KDIST_ARGS], n);
        if (mask->data) {
            int64_t ms = is[TRE_KDIST_ARGS - 1];
            load_block(mb, mask->data + off[TRE_KDIST_ARGS - 1] + s0 * ms, ms, n);
            for (int64_t j = 0; j < n; ++j) fb[j] = mb[j] != 0.f ? scale * fb[j] : 0.f;
        } else {
            for (int64_t j = 0; j < n; ++j) fb[j] *= scale;
        }
        float *out[1 + TRE_KDIST_MAX_PARAMS] = {NULL};
        for (int a = 0; a <= L->np; ++a) {
            if (!grads[a]) continue;
            out[a] = acc ? lb[a] : grads[a] + off[TRE_KDIST_ARGS + 1] + s0;
        }
        L->fam->log_prob_grad(n, xb, pb, fb, out[0], out + 1);
        if (!acc) continue;
        for (int a = 0; a <= L->np; ++a) {
            if (!grads[a]) continue;
            double lane[8] = {0}; /* independent lanes: the sum vectorizes, in a fixed order */
            int64_t j = 0;
            for (; j + 8 <= n; j += 8)
                for (int l = 0; l < 8; ++l) lane[l] += (double)lb[a][j + l];
            for (; j < n; ++j) lane[0] += (double)lb[a][j];
            acc[a] += ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
        }
    }
}

int tre_log_prob_backward_cpu(void *impl, tre_kdist kind, int64_t particles, const tre_kshape *inner,
                              const tre_karg *args, const int64_t *pstride, const tre_karg *g,
                              int64_t gstride, float scale, float *const *grads) {
    (void)impl;
    grad_layout L;
    if (!grad_layout_init(&L, kind, inner, args, g)) return 1;
    TRE_CPU_FOR(particles * L.R.total > TRE_CPU_PARALLEL_MIN, u, particles * L.R.nruns,
        grad_run(&L, u / L.R.nruns, u % L.R.nruns, args, pstride, g, gstride, scale, grads, NULL););
    return 0;
}

int tre_log_prob_backward_sum_cpu(void *impl, tre_kdist kind, int64_t particles,
                                  const tre_kshape *inner, const tre_karg *args,
                                  const int64_t *pstride, const tre_karg *g, int64_t gstride,
                                  float scale, float *const *sums) {
    (void)impl;
    grad_layout L;
    if (!grad_layout_init(&L, kind, inner, args, g)) return 1;
    /* one particle per iteration, its runs in order: deterministic for any thread count */
    TRE_CPU_FOR(particles * L.R.total > TRE_CPU_PARALLEL_MIN, p, particles,
        double acc[1 + TRE_KDIST_MAX_PARAMS] = {0};
        for (int64_t k = 0; k < L.R.nruns; ++k) grad_run(&L, p, k, args, pstride, g, gstride, scale, sums, acc);
        for (int a = 0; a <= L.np; ++a)
            if (sums[a]) sums[a][p] = (float)acc[a];);
    return 0;
}

int tre_rsample_backward_cpu(void *impl, tre_kdist kind, const tre_kshape *shape, const float *x,
                             const tre_karg *params, const float *g, float *const *grads) {
    (void)impl;
    const tre_cpu_family *fam = family_of(kind);
    if (!fam || !fam->rsample_grad) return 1;
    const int np = fam->nparams;
    tre_cpu_runs R;
    tre_cpu_runs_init(&R, shape);
    const int64_t *st[1 + TRE_KDIST_MAX_PARAMS] = {NULL};
    int64_t ps[TRE_KDIST_MAX_PARAMS] = {0};
    for (int i = 0; i < np; ++i) {
        st[1 + i] = params[i].stride;
        ps[i] = tre_cpu_inner_stride(&R, params[i].stride);
    }
    TRE_CPU_FOR(R.total > TRE_CPU_PARALLEL_MIN, k, R.nruns,
        int64_t off[1 + TRE_KDIST_MAX_PARAMS];
        int64_t len = tre_cpu_run_at(&R, k, 1 + np, st, off);
        float pb[TRE_KDIST_MAX_PARAMS][BLOCK];
        for (int64_t s0 = 0; s0 < len; s0 += BLOCK) {
            int64_t n = len - s0 < BLOCK ? len - s0 : BLOCK, o = off[0] + s0;
            for (int i = 0; i < np; ++i)
                load_block(pb[i], params[i].data + off[1 + i] + s0 * ps[i], ps[i], n);
            float *gp[TRE_KDIST_MAX_PARAMS] = {NULL};
            for (int i = 0; i < np; ++i) gp[i] = grads[i] ? grads[i] + o : NULL;
            fam->rsample_grad(n, x + o, pb, g + o, gp);
        }
        );
    return 0;
}
