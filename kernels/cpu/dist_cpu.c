/* CPU distribution kernels over the shared math in kernels/math: log-densities (materialized,
 * or reduced per particle with mask and scale fused in), and reparameterized draws from the
 * shared Philox stream.
 *
 * Each kernel walks its iteration space ([particles x] shape, simplified by cpu_iter.h) in blocks
 * of consecutive elements: an argument is read in place where the block is one unit-stride run
 * of it, else copied into a small contiguous buffer (it stays in L1), so the arithmetic runs
 * over unit-stride arrays the compiler vectorizes whatever the strides were. Per-particle sums
 * run over work units fixed by the sizes alone (several small particles to a block, or fixed
 * parts of a big one), so their order does not depend on the number of threads. */
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "dist_families_cpu.h"
#include "../math/normal.h"
#include "../math/philox.h"
#include "../math/vmath.h"

#define BLOCK TRE_CPU_BLOCK
#define MAX_GROUPS 64 /* fixed split of one particle's sum: deterministic for any thread count */

void tre_normal_lp_block(int64_t n, float *out, const float *x,
                         tre_pblock p, const int *shared) {
    if (shared[1]) {
        const float sc = p[1][0], ls = tre_vlogf(sc);
        for (int64_t j = 0; j < n; ++j) out[j] = tre_normal_log_prob_pre(x[j], p[0][j], sc, ls);
    } else {
        for (int64_t j = 0; j < n; ++j) out[j] = tre_normal_log_prob(x[j], p[0][j], p[1][j]);
    }
}

void tre_normal_sample_block(int64_t n, uint64_t seed, uint64_t stream, uint64_t elem0,
                             tre_pblock p, float *out) {
    tre_cpu_std_normal_block(seed, stream, elem0, n, out);
    for (int64_t j = 0; j < n; ++j) out[j] = tre_normal_rsample(out[j], p[0][j], p[1][j]);
}

void tre_normal_lp_grad_block(int64_t n, const float *x, tre_pblock p,
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
                                   tre_pblock p, const float *g,
                                   float *const *gp) {
    if (gp[0])
        for (int64_t j = 0; j < n; ++j) gp[0][j] = g[j];
    if (gp[1])
        for (int64_t j = 0; j < n; ++j) gp[1][j] = g[j] * tre_normal_rsample_dscale(x[j], p[0][j], p[1][j]);
}

/* The families with elementwise kernels, indexed by tre_kdist. */
static const tre_cpu_family families[TRE_KDIST_COUNT] = {
    [TRE_KDIST_NORMAL] = {2, tre_normal_lp_block, NULL, tre_normal_lp_grad_block,
                          tre_normal_rsample_grad_block, tre_normal_sample_block, .hoists = 2},
    [TRE_KDIST_BERNOULLI_PROBS] = {1, tre_bernoulli_probs_lp_block, tre_bernoulli_probs_sample_elem,
                                   tre_bernoulli_probs_lp_grad_block, NULL, .hoists = 0},
    [TRE_KDIST_BERNOULLI_LOGITS] = {1, tre_bernoulli_logits_lp_block, tre_bernoulli_logits_sample_elem,
                                    tre_bernoulli_logits_lp_grad_block, NULL, .hoists = 0},
    [TRE_KDIST_POISSON] = {1, tre_poisson_lp_block, tre_poisson_sample_elem, tre_poisson_lp_grad_block, NULL,
                           .hoists = 1},
    [TRE_KDIST_BINOMIAL_PROBS] = {2, tre_binomial_lp_block, tre_binomial_sample_elem,
                                  tre_binomial_lp_grad_block, NULL, .hoists = 0},
    [TRE_KDIST_LOG_NORMAL] = {2, tre_log_normal_lp_block, NULL,
                              tre_log_normal_lp_grad_block, tre_log_normal_rsample_grad_block,
                              tre_log_normal_sample_block, .hoists = 2},
    [TRE_KDIST_HALF_NORMAL] = {1, tre_half_normal_lp_block, NULL,
                               tre_half_normal_lp_grad_block, tre_half_normal_rsample_grad_block,
                               tre_half_normal_sample_block, .hoists = 1},
    [TRE_KDIST_CAUCHY] = {2, tre_cauchy_lp_block, tre_cauchy_sample_elem,
                          tre_cauchy_lp_grad_block, tre_cauchy_rsample_grad_block, .hoists = 2},
    [TRE_KDIST_HALF_CAUCHY] = {1, tre_half_cauchy_lp_block, tre_half_cauchy_sample_elem,
                               tre_half_cauchy_lp_grad_block, tre_half_cauchy_rsample_grad_block,
                               .hoists = 1},
    [TRE_KDIST_LAPLACE] = {2, tre_laplace_lp_block, tre_laplace_sample_elem,
                           tre_laplace_lp_grad_block, tre_laplace_rsample_grad_block, .hoists = 2},
    [TRE_KDIST_UNIFORM] = {2, tre_uniform_lp_block, tre_uniform_sample_elem,
                           tre_uniform_lp_grad_block, tre_uniform_rsample_grad_block, .hoists = 0},
    [TRE_KDIST_EXPONENTIAL] = {1, tre_exponential_lp_block, tre_exponential_sample_elem,
                               tre_exponential_lp_grad_block, tre_exponential_rsample_grad_block,
                               .hoists = 1},
    [TRE_KDIST_DELTA] = {2, tre_delta_lp_block, tre_delta_sample_elem,
                         tre_delta_lp_grad_block, tre_delta_rsample_grad_block, .hoists = 0},
    [TRE_KDIST_GAMMA] = {2, tre_gamma_lp_block, tre_gamma_sample_elem, tre_gamma_lp_grad_block,
                         tre_gamma_rsample_grad_block, .hoists = 3},
    [TRE_KDIST_BETA] = {2, tre_beta_lp_block, tre_beta_sample_elem, tre_beta_lp_grad_block,
                        tre_beta_rsample_grad_block, .hoists = 0},
    [TRE_KDIST_STUDENT_T] = {3, tre_student_t_lp_block, tre_student_t_sample_elem,
                             tre_student_t_lp_grad_block, tre_student_t_rsample_grad_block, .hoists = 0},
};

static const tre_cpu_family *family_of(tre_kdist kind) {
    return (unsigned)kind < TRE_KDIST_COUNT && families[kind].log_prob ? &families[kind] : NULL;
}

/* Argument slots of the iteration spaces below: the value, the parameters, the mask, and for
 * the gradients the upstream g. Unused slots step nowhere (all strides 0). */
enum { SLOT_MASK = 1 + TRE_KDIST_MAX_PARAMS, SLOT_G = TRE_KDIST_ARGS, NSLOTS = TRE_KDIST_ARGS + 1 };
static const int64_t no_stride[TRE_KDIMS] = {0};

typedef struct dist_space {
    const tre_cpu_family *fam;
    int np;
    tre_cpu_iter it;
    const float *base[NSLOTS];
    int shared[TRE_KDIST_MAX_PARAMS]; /* parameter i is one value for the whole space */
    /* parameter i is one the family hoists and repeats along the innermost dim (a per-particle
     * scale over the data), so a block inside one row of it holds one value: worth checking */
    int row_repeat[TRE_KDIST_MAX_PARAMS];
    int any_row_repeat;
    tre_cpu_repeats rep; /* the slots that repeat a short stretch (a shared parameter) */
} dist_space;

/* The space [particles x] shape over the slots given (args: value, params, mask; g optional). */
static bool dist_space_init(dist_space *S, tre_kdist kind, int64_t particles, const tre_kshape *shape,
                            const tre_karg *args, int nargs, const int64_t *pstride, const tre_karg *g,
                            int64_t gstride) {
    S->fam = family_of(kind);
    if (!S->fam) return false;
    S->np = S->fam->nparams;
    const int64_t *st[NSLOTS];
    int64_t ps[NSLOTS] = {0};
    for (int a = 0; a < NSLOTS; ++a) {
        const bool used = a == 0 || (a <= S->np) || (a == SLOT_MASK && nargs > SLOT_MASK && args[a].data) ||
                          (a == SLOT_G && g);
        const tre_karg *k = a == SLOT_G ? g : (a < nargs ? &args[a] : NULL);
        S->base[a] = used ? k->data : NULL;
        st[a] = used ? k->stride : no_stride;
        if (a == 0 && !k->data) st[a] = NULL; /* no value: the contiguous output's own layout */
        ps[a] = !used ? 0 : (a == SLOT_G ? gstride : (pstride ? pstride[a] : 0));
    }
    tre_cpu_iter_init(&S->it, particles, shape, NSLOTS, st, ps);
    tre_cpu_repeats_init(&S->rep, &S->it, S->base);
    S->any_row_repeat = 0;
    for (int i = 0; i < S->np; ++i) {
        S->shared[i] = 1;
        for (int d = 0; d < S->it.ndim; ++d) S->shared[i] &= S->it.stride[1 + i][d] == 0;
        S->row_repeat[i] = (S->fam->hoists >> i & 1u) && !S->shared[i] && S->it.ndim > 0 &&
                           S->it.stride[1 + i][S->it.ndim - 1] == 0;
        S->any_row_repeat |= S->row_repeat[i];
    }
    return true;
}

/* The space of an op over one shape (no particle dim of its own): the value (NULL: the op's
 * contiguous output, nothing to read) and the family's parameters. */
static bool shape_space_init(dist_space *S, tre_kdist kind, const tre_kshape *shape,
                             const tre_karg *value, const tre_karg *params) {
    const tre_cpu_family *fam = family_of(kind);
    if (!fam) return false;
    tre_karg args[1 + TRE_KDIST_MAX_PARAMS] = {{NULL, {0}}};
    if (value) args[0] = *value;
    for (int i = 0; i < fam->nparams; ++i) args[1 + i] = params[i];
    return dist_space_init(S, kind, 0, shape, args, 1 + fam->nparams, NULL, NULL, 0);
}

/* One block of up to BLOCK consecutive elements: each slot's values, read in place where they
 * are one unit-stride run, else gathered into buf; f is the gradient kernels' factor. */
typedef struct dist_block {
    float buf[NSLOTS][BLOCK];
    const float *x, *p[TRE_KDIST_MAX_PARAMS], *m, *g;
    float f[BLOCK];
} dist_block;

static void gather_block(const dist_space *S, dist_block *b, int64_t s, int64_t n) {
    float *dst[NSLOTS];
    const float *view[NSLOTS];
    for (int a = 0; a < NSLOTS; ++a) dst[a] = b->buf[a];
    tre_cpu_gather_view_rep(&S->it, &S->rep, s, n, S->base, dst, view);
    b->x = view[0];
    for (int i = 0; i < TRE_KDIST_MAX_PARAMS; ++i) b->p[i] = view[1 + i];
    b->m = view[SLOT_MASK];
    b->g = view[SLOT_G];
}

/* Per-particle sums over the space [P x T]: work units that depend on the sizes alone, so the
 * order of every sum is the same for any number of threads. Small particles (T <= BLOCK) come
 * several to a unit and one block; big ones are split into `groups` fixed parts when there are
 * too few particles to share among threads. */
#define MAX_GROUPS 64
typedef struct sum_plan {
    int64_t P, T, ppu, groups, units;
} sum_plan;

static sum_plan sum_plan_for(int64_t P, int64_t T) {
    sum_plan q = {P, T, 1, 1, 0};
    if (T <= 0) return q;
    if (T <= BLOCK) {
        q.ppu = BLOCK / T;
        q.units = (P + q.ppu - 1) / q.ppu;
    } else {
        int64_t blocks = (T + BLOCK - 1) / BLOCK;
        q.groups = P >= 8 ? 1 : (blocks < MAX_GROUPS ? blocks : MAX_GROUPS);
        q.units = P * q.groups;
    }
    return q;
}

/* unit u: linear elements [*s0, *s1), its first particle */
static int64_t unit_range(const sum_plan *q, int64_t u, int64_t *s0, int64_t *s1) {
    if (q->ppu > 1 || q->groups == 1) {
        int64_t p0 = u * q->ppu, p1 = p0 + q->ppu < q->P ? p0 + q->ppu : q->P;
        *s0 = p0 * q->T;
        *s1 = p1 * q->T;
        return p0;
    }
    int64_t p = u / q->groups, g = u % q->groups;
    *s0 = p * q->T + q->T * g / q->groups;
    *s1 = p * q->T + q->T * (g + 1) / q->groups;
    return p;
}

/* adds block v of linear elements [s, s + n) to acc[particle - p0] */
static void add_segments(const float *v, int64_t s, int64_t n, int64_t T, int64_t p0, double *acc) {
    if (T == 1) { /* one term per particle (a scalar site): the loop below with its sum of one */
        double *a = acc + s - p0;
        for (int64_t q = 0; q < n; ++q) a[q] += (double)v[q];
        return;
    }
    if (T <= 16 && s % T == 0 && n % T == 0) { /* whole short particles: plain sums */
#define SEGMENT_SUMS(LEN)                                                                          \
    for (int64_t q = 0; q < n / (LEN); ++q) {                                                      \
        double a = 0.0;                                                                            \
        for (int64_t j = 0; j < (LEN); ++j) a += (double)v[q * (LEN) + j];                         \
        acc[s / (LEN) + q - p0] += a;                                                              \
    }
        TRE_CPU_SWITCH_LEN(T, SEGMENT_SUMS) /* constant lengths up to 8: unrolled */
#undef SEGMENT_SUMS
        return;
    }
    for (int64_t pos = s; pos < s + n;) {
        int64_t p = pos / T, end = (p + 1) * T < s + n ? (p + 1) * T : s + n;
        acc[p - p0] += tre_cpu_sum_d(v + (pos - s), end - pos);
        pos = end;
    }
}

/* The end of unit u (first particle p0, elements up to s1), its sums in acc: a unit of whole
 * particles writes scale * sum to out; a part of a split particle (groups > 1) keeps its sum in
 * partial[u] for groups_combine, which adds the parts of each particle in order. */
static void unit_store(const sum_plan *q, int64_t u, int64_t p0, int64_t s1, const double *acc,
                       double scale, float *out, double *partial) {
    if (q->groups > 1) partial[u] = acc[0];
    else
        for (int64_t p = p0; p * q->T < s1; ++p) out[p] = (float)(acc[p - p0] * scale);
}
static void groups_combine(const sum_plan *q, const double *partial, double scale, float *out) {
    if (q->groups <= 1) return;
    for (int64_t p = 0; p < q->P; ++p) {
        double acc = 0.0;
        for (int64_t g = 0; g < q->groups; ++g) acc += partial[p * q->groups + g];
        out[p] = (float)(acc * scale);
    }
}

/* Which parameters are one value over this block: shared by the whole space, or (for one the
 * family hoists and that repeats along rows) the same bits in all n elements, so that the
 * family's block function hoists what depends on it alone (the log of a per-particle scale)
 * out of the element loop. The hoisted and per-element forms compute the same bits. */
static const int *block_shared(const dist_space *S, const dist_block *b, int64_t n, int *buf) {
    if (!S->any_row_repeat) return S->shared;
    for (int i = 0; i < S->np; ++i) {
        buf[i] = S->shared[i];
        if (!S->row_repeat[i] || n < 2) continue;
        const float *v = b->p[i];
        uint32_t first, diff = 0;
        memcpy(&first, v, sizeof first);
        for (int64_t j = 1; j < n; ++j) {
            uint32_t u;
            memcpy(&u, v + j, sizeof u);
            diff |= u ^ first;
        }
        buf[i] = diff == 0;
    }
    return buf;
}

/* masked elements contribute exactly 0 (NaN too) */
static void apply_mask(const dist_space *S, const dist_block *b, float *v, int64_t n) {
    if (!S->base[SLOT_MASK]) return;
    for (int64_t j = 0; j < n; ++j) v[j] = b->m[j] != 0.f ? v[j] : 0.f;
}

int tre_log_prob_cpu(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                     const tre_karg *value, const tre_karg *params) {
    (void)impl;
    dist_space S;
    if (!shape_space_init(&S, kind, shape, value, params)) return 1;
    const tre_cpu_family *fam = S.fam;
    const int64_t total = S.it.total;
    TRE_CPU_BLOCKS(total, TRE_CPU_PARALLEL_MIN, s, n,
        dist_block b;
        int bs[TRE_KDIST_MAX_PARAMS];
        gather_block(&S, &b, s, n);
        fam->log_prob(n, out + s, b.x, b.p, block_shared(&S, &b, n, bs)););
    return 0;
}

int tre_log_prob_sum_cpu(void *impl, tre_kdist kind, int64_t particles, const tre_kshape *inner,
                         float *out, const tre_karg *args, const int64_t *pstride, float scale) {
    (void)impl;
    dist_space S;
    if (!dist_space_init(&S, kind, particles, inner, args, TRE_KDIST_ARGS, pstride, NULL, 0)) return 1;
    const sum_plan q = sum_plan_for(particles, particles ? S.it.total / particles : 0);
    if (q.T <= 0) {
        for (int64_t p = 0; p < particles; ++p) out[p] = 0.f;
        return 0;
    }
    double partial[8 * MAX_GROUPS]; /* groups > 1 only when P < 8 */
    TRE_CPU_FOR(S.it.total > TRE_CPU_PARALLEL_MIN, u, q.units,
        dist_block b;
        float lb[BLOCK];
        double acc[BLOCK];
        int bs[TRE_KDIST_MAX_PARAMS];
        for (int64_t i = 0; i < q.ppu; ++i) acc[i] = 0.0;
        int64_t s0, s1;
        const int64_t p0 = unit_range(&q, u, &s0, &s1);
        for (int64_t s = s0; s < s1; s += BLOCK) {
            const int64_t n = s1 - s < BLOCK ? s1 - s : BLOCK;
            gather_block(&S, &b, s, n);
            S.fam->log_prob(n, lb, b.x, b.p, block_shared(&S, &b, n, bs));
            apply_mask(&S, &b, lb, n);
            add_segments(lb, s, n, q.T, p0, acc);
        }
        unit_store(&q, u, p0, s1, acc, (double)scale, out, partial););
    groups_combine(&q, partial, (double)scale, out);
    return 0;
}

int tre_sample_cpu(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                   const tre_karg *params, uint64_t seed, uint64_t stream) {
    (void)impl;
    dist_space S; /* no value: the draws are the contiguous output */
    if (!shape_space_init(&S, kind, shape, NULL, params) || (!S.fam->sample && !S.fam->sample_block)) return 1;
    const tre_cpu_family *fam = S.fam;
    const int64_t total = S.it.total;
    TRE_CPU_BLOCKS(total, TRE_CPU_PARALLEL_MIN / 8, s, n,
        dist_block b;
        gather_block(&S, &b, s, n);
        /* the element number is its linear index in the output: the same on any backend */
        if (fam->sample_block) {
            fam->sample_block(n, seed, stream, (uint64_t)s, b.p, out + s);
            continue;
        }
        for (int64_t j = 0; j < n; ++j) {
            float pv[TRE_KDIST_MAX_PARAMS] = {0};
            for (int q = 0; q < fam->nparams; ++q) pv[q] = b.p[q][j];
            out[s + j] = fam->sample(seed, stream, (uint64_t)(s + j), pv);
        });
    return 0;
}

/* f = mask ? scale * g : 0, the factor of d log p / d argument in a gradient block */
static void grad_factor(const dist_space *S, dist_block *b, int64_t n, float scale) {
    if (S->base[SLOT_MASK])
        for (int64_t j = 0; j < n; ++j) b->f[j] = b->m[j] != 0.f ? scale * b->g[j] : 0.f;
    else
        for (int64_t j = 0; j < n; ++j) b->f[j] = scale * b->g[j];
}

int tre_log_prob_backward_cpu(void *impl, tre_kdist kind, int64_t particles, const tre_kshape *inner,
                              const tre_karg *args, const int64_t *pstride, const tre_karg *g,
                              int64_t gstride, float scale, float *const *grads) {
    (void)impl;
    dist_space S;
    if (!dist_space_init(&S, kind, particles, inner, args, TRE_KDIST_ARGS, pstride, g, gstride) ||
        !S.fam->log_prob_grad)
        return 1;
    /* the outputs are full-shape and contiguous: linear element i is grads[a][i] */
    const int64_t total = S.it.total;
    TRE_CPU_BLOCKS(total, TRE_CPU_PARALLEL_MIN, s, n,
        dist_block b;
        gather_block(&S, &b, s, n);
        grad_factor(&S, &b, n, scale);
        float *gp[TRE_KDIST_MAX_PARAMS] = {NULL};
        for (int i = 0; i < S.np; ++i) gp[i] = grads[1 + i] ? grads[1 + i] + s : NULL;
        S.fam->log_prob_grad(n, b.x, b.p, b.f, grads[0] ? grads[0] + s : NULL, gp););
    return 0;
}

int tre_log_prob_backward_sum_cpu(void *impl, tre_kdist kind, int64_t particles,
                                  const tre_kshape *inner, const tre_karg *args,
                                  const int64_t *pstride, const tre_karg *g, int64_t gstride,
                                  float scale, float *const *sums) {
    (void)impl;
    dist_space S;
    if (!dist_space_init(&S, kind, particles, inner, args, TRE_KDIST_ARGS, pstride, g, gstride) ||
        !S.fam->log_prob_grad)
        return 1;
    const int na = 1 + S.np;
    const sum_plan q = sum_plan_for(particles, particles ? S.it.total / particles : 0);
    if (q.T <= 0) {
        for (int a = 0; a < na; ++a)
            for (int64_t p = 0; p < particles && sums[a]; ++p) sums[a][p] = 0.f;
        return 0;
    }
    double partial[1 + TRE_KDIST_MAX_PARAMS][8 * MAX_GROUPS];
    TRE_CPU_FOR(S.it.total > TRE_CPU_PARALLEL_MIN, u, q.units,
        dist_block b;
        float lb[1 + TRE_KDIST_MAX_PARAMS][BLOCK];
        double acc[1 + TRE_KDIST_MAX_PARAMS][BLOCK];
        for (int a = 0; a < na; ++a)
            for (int64_t i = 0; i < q.ppu; ++i) acc[a][i] = 0.0;
        int64_t s0, s1;
        const int64_t p0 = unit_range(&q, u, &s0, &s1);
        for (int64_t s = s0; s < s1; s += BLOCK) {
            const int64_t n = s1 - s < BLOCK ? s1 - s : BLOCK;
            gather_block(&S, &b, s, n);
            grad_factor(&S, &b, n, scale);
            float *gp[TRE_KDIST_MAX_PARAMS] = {NULL};
            for (int i = 0; i < S.np; ++i) gp[i] = sums[1 + i] ? lb[1 + i] : NULL;
            S.fam->log_prob_grad(n, b.x, b.p, b.f, sums[0] ? lb[0] : NULL, gp);
            for (int a = 0; a < na; ++a)
                if (sums[a]) add_segments(lb[a], s, n, q.T, p0, acc[a]);
        }
        for (int a = 0; a < na; ++a)
            if (sums[a]) unit_store(&q, u, p0, s1, acc[a], 1.0, sums[a], partial[a]););
    for (int a = 0; a < na; ++a)
        if (sums[a]) groups_combine(&q, partial[a], 1.0, sums[a]);
    return 0;
}

int tre_rsample_backward_cpu(void *impl, tre_kdist kind, const tre_kshape *shape, const float *x,
                             const tre_karg *params, const float *g, float *const *grads) {
    (void)impl;
    dist_space S; /* x and g are contiguous: read in place */
    if (!shape_space_init(&S, kind, shape, NULL, params) || !S.fam->rsample_grad) return 1;
    const tre_cpu_family *fam = S.fam;
    const int64_t total = S.it.total;
    TRE_CPU_BLOCKS(total, TRE_CPU_PARALLEL_MIN, s, n,
        dist_block b;
        gather_block(&S, &b, s, n);
        float *gp[TRE_KDIST_MAX_PARAMS] = {NULL};
        for (int i = 0; i < fam->nparams; ++i) gp[i] = grads[i] ? grads[i] + s : NULL;
        fam->rsample_grad(n, x + s, b.p, g + s, gp););
    return 0;
}
