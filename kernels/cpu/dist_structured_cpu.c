/* CPU kernels of the structured families (Categorical, MultivariateNormal): one row per
 * iteration over the shared row math in kernels/math/categorical.h and kernels/math/mvn.h, or
 * for Categorical rows of up to TRE_CAT_ROW_CACHE categories a block of rows at a time
 * (categorical_block.h: the same math with the rows in the vector lanes).
 *
 * Rows are numbered in the order of the contiguous output; each argument finds its row through
 * the row grid's broadcast strides (in floats, particle dim first). Rows are split into fixed
 * chunks that OpenMP shares out; a chunk unravels its first row once and then steps the index
 * like an odometer, so broadcasting costs an add per row. Rows are independent and each is
 * computed in a fixed order, so results do not depend on the thread count. Rows [P, M] whose
 * logits every particle shares (a guide's per-datum logits) are drawn and scored with each
 * logits row's tables computed once for all particles; their gradient, summed over the
 * particles, is categorical_log_prob_backward_shared. */
#include <stdlib.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "dist_families_cpu.h"
#include "categorical_block.h"
#include "../math/dirichlet.h"
#include "../math/mvn.h"

#define ROW_CHUNK 256
#define MAX_ROW_ARGS 4
#define STACK_WORK 1024 /* doubles of scratch kept on the stack; larger rows use the heap */

typedef struct row_iter {
    int ndim, nargs;
    int64_t dim[TRE_KDIMS], idx[TRE_KDIMS];
    const int64_t *st[MAX_ROW_ARGS];
    int64_t off[MAX_ROW_ARGS];
} row_iter;

static int64_t rows_total(const tre_kshape *s) {
    int64_t n = 1;
    for (int d = 0; d < s->ndim; ++d) n *= s->dim[d];
    return n;
}

static void row_iter_seek(row_iter *it, const tre_kshape *s, int nargs,
                          const tre_karg *const *args, int64_t r) {
    it->ndim = s->ndim;
    it->nargs = nargs;
    for (int a = 0; a < nargs; ++a) {
        it->st[a] = args[a]->stride;
        it->off[a] = 0;
    }
    for (int d = s->ndim - 1; d >= 0; --d) {
        it->dim[d] = s->dim[d];
        it->idx[d] = r % s->dim[d];
        r /= s->dim[d];
        for (int a = 0; a < nargs; ++a) it->off[a] += it->idx[d] * it->st[a][d];
    }
}

static void row_iter_next(row_iter *it) {
    for (int d = it->ndim - 1; d >= 0; --d) {
        for (int a = 0; a < it->nargs; ++a) it->off[a] += it->st[a][d];
        if (++it->idx[d] < it->dim[d]) return;
        for (int a = 0; a < it->nargs; ++a) it->off[a] -= it->dim[d] * it->st[a][d];
        it->idx[d] = 0;
    }
}

/* Per-chunk scratch: the stack when it fits, else the heap (NULL on failure). */
static double *work_get(double *stack, int64_t need) {
    if (need <= STACK_WORK) return stack;
    return malloc((size_t)need * sizeof(double));
}
static void work_put(double *stack, double *w) {
    if (w != stack) free(w);
}

#define CHUNKS(total) (((total) + ROW_CHUNK - 1) / ROW_CHUNK)
#define PAR_IF(total, cost) if ((total) * (cost) > TRE_CPU_PARALLEL_MIN / 8 && (total) > ROW_CHUNK)

/* ---- Categorical ----------------------------------------------------------------------- */

/* The next rows from b0 up to a block (before r1) for categorical_block.h: each row's logits
 * and, with value, its value (the iterator's args: logits, then value); their count. */
static int64_t block_rows(row_iter *it, const tre_karg *logits, const tre_karg *value, int64_t b0, int64_t r1,
                          const float **lp, float *v) {
    const int64_t n = r1 - b0 < TRE_CAT_BLOCK ? r1 - b0 : TRE_CAT_BLOCK;
    for (int64_t j = 0; j < n; ++j, row_iter_next(it)) {
        lp[j] = logits->data + it->off[0];
        if (value) v[j] = value->data[it->off[1]];
    }
    return n;
}

/* Log-probability tables: a row's k log-softmax values (the generic path's floats, so lookups
 * give its bits), at most LSM_TABLE floats per chunk so that they stay in L1. */
#define LSM_TABLE 2048
static void log_softmax_row(int64_t k, const float *l, float *lsm) {
    const tre_cat_norm n = tre_categorical_norm_row(k, l);
    for (int64_t i = 0; i < k; ++i) lsm[i] = (float)tre_categorical_log_softmax(&n, l[i]);
}
/* log p(v) from its row's table, NaN for v outside {0, ..., k - 1}: branch-free
 * (tre_categorical_index's test), so that loops over values vectorize with gathers */
static inline float table_log_prob(const float *lsm, float kf, float v) {
    const int in_range = (v >= 0.f) & (v < kf);
    const int32_t i = (int32_t)(in_range ? v : 0.f);
    const float t = lsm[i];
    return (in_range & ((float)i == v)) ? t : NAN;
}

/* Logits shared by every particle (rows [P, M], logits' particle stride 0: a guide's
 * per-datum logits scoring each particle's draws): each logits row's normalizer once, then
 * all particles of that row, instead of recomputing it for every (particle, row). */
static int categorical_log_prob_shared(const tre_kshape *rows, int64_t k, float *out,
                                       const tre_karg *logits, const tre_karg *value) {
    const int64_t P = rows->dim[0], M = rows->dim[1];
    const int64_t ls = logits->stride[1], v0 = value->stride[0], v1 = value->stride[1];
    if (k > LSM_TABLE) return 1; /* shared_logit_rows admits k <= STACK_WORK */
    const int64_t cr = LSM_TABLE / k < 256 ? LSM_TABLE / k : 256; /* rows per chunk */
    TRE_CPU_FOR(P * M * k > TRE_CPU_PARALLEL_MIN / 8, c, (M + cr - 1) / cr,
        float lsm[LSM_TABLE];
        const int64_t m0 = c * cr, mn = M - m0 < cr ? M - m0 : cr;
        for (int64_t j = 0; j < mn; ++j) log_softmax_row(k, logits->data + (m0 + j) * ls, lsm + j * k);
        const float kf = (float)k;
        for (int64_t p = 0; p < P; ++p) {
            const float *vr = value->data + p * v0 + m0 * v1;
            float *o = out + p * M + m0;
            for (int32_t j = 0; j < (int32_t)mn; ++j) o[j] = table_log_prob(lsm + j * (int32_t)k, kf, vr[j * v1]);
        });
    return 0;
}

/* One logits row (k <= LSM_TABLE) for every row (a prior's [k] logits broadcast over the data
 * and the particles; rows merged into one dim): its table once, then a lookup per value. */
static int categorical_log_prob_one_row(const tre_kshape *rows, int64_t k, float *out,
                                        const tre_karg *logits, const tre_karg *value) {
    enum { CHUNK = 16384 };
    float lsm[LSM_TABLE];
    log_softmax_row(k, logits->data, lsm);
    const int64_t total = rows->dim[0], vs = value->stride[0];
    const float kf = (float)k;
    TRE_CPU_FOR(total > TRE_CPU_PARALLEL_MIN, c, (total + CHUNK - 1) / CHUNK,
        const int64_t r0 = c * CHUNK, r1 = r0 + CHUNK < total ? r0 + CHUNK : total;
        for (int64_t r = r0; r < r1; ++r) out[r] = table_log_prob(lsm, kf, value->data[r * vs]);
        );
    return 0;
}

/* The same logits rows for every particle (rows [P, M], logits' particle stride 0) and rows
 * short enough that a chunk's worth of them fits the stack scratch. */
static int shared_logit_rows(const tre_kshape *rows, const tre_karg *logits, int64_t k) {
    return rows->ndim == 2 && logits->stride[0] == 0 && rows->dim[0] > 1 && rows->dim[1] > 1 &&
           k <= STACK_WORK;
}
/* rows of such logits handled together: their tables stay in L1 while every particle visits */
static int64_t shared_chunk_rows(int64_t k) {
    int64_t n = STACK_WORK / k;
    return n > 64 ? 64 : n;
}

/* Draws for shared logits rows: each row's cumulative weights once (the same double arithmetic
 * as tre_categorical_sample_row, so the same draws), then every particle's uniform, generated a
 * block at a time. cum[i] < 0 marks a zero-weight category. */
static int categorical_sample_shared(const tre_kshape *rows, int64_t k, float *out,
                                     const tre_karg *logits, uint64_t seed, uint64_t stream) {
    const int64_t P = rows->dim[0], M = rows->dim[1], ls = logits->stride[1], cr = shared_chunk_rows(k);
    TRE_CPU_FOR(P * M * k > TRE_CPU_PARALLEL_MIN / 8, c, (M + cr - 1) / cr,
        double cum[STACK_WORK], total[64], u[64];
        const int64_t m0 = c * cr, mn = M - m0 < cr ? M - m0 : cr;
        for (int64_t j = 0; j < mn; ++j) {
            const float *l = logits->data + (m0 + j) * ls;
            double max;
            total[j] = 1.0 + tre_categorical_tail_row(k, l, &max, NULL);
            double acc = 0.0;
            for (int64_t i = 0; i < k; ++i) {
                const double w = exp((double)l[i] - max);
                cum[j * k + i] = w <= 0.0 ? -1.0 : (acc += w);
            }
        }
        /* the positive-weight categories of each row in order: their cumulative weights do not
         * decrease, so those at or below a target are a prefix, and the draw (the first above
         * it, else the last) is the one at that prefix's length */
        int32_t pos[STACK_WORK], npos[64];
        for (int64_t j = 0; j < mn; ++j) {
            npos[j] = 0;
            for (int64_t i = 0; i < k; ++i)
                if (cum[j * k + i] >= 0.0) pos[j * k + npos[j]++] = (int32_t)i;
        }
        for (int64_t p = 0; p < P; ++p) {
            tre_cpu_uniform_block(seed, stream, (uint64_t)(p * M + m0), mn, u);
            for (int64_t j = 0; j < mn; ++j) {
                const double target = u[j] * total[j], *cj = cum + j * k;
                int32_t below = 0;
                for (int64_t i = 0; i < k; ++i) below += cj[i] >= 0.0 && cj[i] <= target;
                const int32_t at = below < npos[j] ? below : npos[j] - 1;
                out[p * M + m0 + j] = total[j] != total[j] ? NAN : npos[j] > 0 ? (float)pos[j * k + at] : 0.f;
            }
        });
    return 0;
}

/* Rows [r0, r1) of a chunk with values, a block at a time: their log-densities into out, or
 * (out NULL) their gradient w.r.t. the logits, scaled by g, into grad. */
static void scored_blocks(row_iter *it, int64_t k, const tre_karg *logits, const tre_karg *value, int64_t r0,
                          int64_t r1, float *out, const float *g, float *grad) {
    for (int64_t b0 = r0; b0 < r1; b0 += TRE_CAT_BLOCK) {
        const float *lp[TRE_CAT_BLOCK];
        float v[TRE_CAT_BLOCK];
        tre_cat_block blk;
        const int64_t n = block_rows(it, logits, value, b0, r1, lp, v);
        tre_cat_block_norm(&blk, n, k, lp);
        if (out) tre_cat_block_log_prob(&blk, lp, v, out + b0);
        else tre_cat_block_grad(&blk, v, g + b0, grad + b0 * k);
    }
}

int tre_categorical_log_prob_cpu(void *impl, const tre_kshape *rows, int64_t k, float *out,
                                 const tre_karg *logits, const tre_karg *value) {
    (void)impl;
    if (k < 1) return 1;
    if (shared_logit_rows(rows, logits, k)) return categorical_log_prob_shared(rows, k, out, logits, value);
    if (rows->ndim == 1 && logits->stride[0] == 0 && k <= LSM_TABLE)
        return categorical_log_prob_one_row(rows, k, out, logits, value);
    const int64_t total = rows_total(rows);
    const tre_karg *args[2] = {logits, value};
    /* blocks where consecutive rows have their own logits; where they share them (a prior
     * broadcast over the data) one normalizer serves a run of rows, which is cheaper still */
    const int blocked = k <= TRE_CAT_ROW_CACHE && rows->ndim > 0 && logits->stride[rows->ndim - 1] != 0;
#pragma omp parallel for schedule(static) PAR_IF(total, k)
    for (int64_t c = 0; c < CHUNKS(total); ++c) {
        row_iter it;
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < total ? r0 + ROW_CHUNK : total;
        row_iter_seek(&it, rows, 2, args, r0);
        if (blocked) {
            scored_blocks(&it, k, logits, value, r0, r1, out, NULL, NULL);
            continue;
        }
        const float *last = NULL;
        tre_cat_norm n = {0.0, 0.0};
        for (int64_t r = r0; r < r1; ++r, row_iter_next(&it)) {
            const float *l = logits->data + it.off[0];
            /* consecutive rows often share their logits (data under one set of weights) */
            if (l != last) {
                n = tre_categorical_norm_row(k, l);
                last = l;
            }
            out[r] = tre_categorical_log_prob_pre(k, l, &n, value->data[it.off[1]]);
        }
    }
    return 0;
}

int tre_categorical_log_prob_backward_cpu(void *impl, const tre_kshape *rows, int64_t k,
                                          const float *g, const tre_karg *logits,
                                          const tre_karg *value, float *grad_logits) {
    (void)impl;
    if (k < 1) return 1;
    const int64_t total = rows_total(rows);
    const tre_karg *args[2] = {logits, value};
#pragma omp parallel for schedule(static) PAR_IF(total, k)
    for (int64_t c = 0; c < CHUNKS(total); ++c) {
        row_iter it;
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < total ? r0 + ROW_CHUNK : total;
        row_iter_seek(&it, rows, 2, args, r0);
        if (k <= TRE_CAT_ROW_CACHE) {
            scored_blocks(&it, k, logits, value, r0, r1, NULL, g, grad_logits);
            continue;
        }
        for (int64_t r = r0; r < r1; ++r, row_iter_next(&it))
            tre_categorical_log_prob_grad_row(k, logits->data + it.off[0], value->data[it.off[1]],
                                              g[r], grad_logits + r * k);
    }
    return 0;
}

/* A chunk of logits rows at a time, its particles in the outer loop: each particle's g and
 * values for the chunk are a few contiguous lines, where a row at a time read one line per
 * particle, M floats apart (a page each: at P >= 2048 the TLB missed on nearly every read and
 * the step took 2.6x as long per particle as at P = 1024). Every row's sums still add its
 * particles in increasing order: the row function's results exactly. */
int tre_categorical_log_prob_backward_shared_cpu(void *impl, int64_t P, int64_t M, int64_t k,
                                                 const float *g, const float *logits, int64_t lstride,
                                                 const float *value, int64_t vstride0, int64_t vstride1,
                                                 float *grad_logits) {
    (void)impl;
    if (k < 1) return 1;
    if (k > STACK_WORK) { /* rows too long to chunk on the stack: a row at a time, heap sums */
        int failed = 0;
#pragma omp parallel for schedule(static) PAR_IF(M, P) reduction(| : failed)
        for (int64_t m = 0; m < M; ++m) {
            double stack[STACK_WORK], *count = work_get(stack, k);
            if (!count) {
                failed = 1;
                continue;
            }
            tre_categorical_shared_grad_row(k, logits + m * lstride, P, g + m, M, value + m * vstride1, vstride0,
                                            count, grad_logits + m * k);
            work_put(stack, count);
        }
        return failed ? TRE_KERR_OOM : 0;
    }
    const int64_t cr = shared_chunk_rows(k);
    TRE_CPU_FOR(P * M * k > TRE_CPU_PARALLEL_MIN / 8, c, (M + cr - 1) / cr,
        double count[STACK_WORK], total[64];
        bool bad[64];
        const int64_t m0 = c * cr, mn = M - m0 < cr ? M - m0 : cr;
        for (int64_t j = 0; j < mn * k; ++j) count[j] = 0.0;
        for (int64_t j = 0; j < mn; ++j) total[j] = 0.0, bad[j] = false;
        for (int64_t p = 0; p < P; ++p) {
            const float *gp = g + p * M + m0, *vp = value + p * vstride0 + m0 * vstride1;
            for (int64_t j = 0; j < mn; ++j) {
                const int64_t i = tre_categorical_index(k, vp[j * vstride1]);
                const double gj = (double)gp[j];
                if (i < 0) bad[j] = true;
                else count[j * k + i] += gj;
                total[j] += gj;
            }
        }
        for (int64_t j = 0; j < mn; ++j)
            tre_categorical_shared_grad_finish(k, logits + (m0 + j) * lstride, count + j * k, total[j], bad[j],
                                               grad_logits + (m0 + j) * k););
    return 0;
}

int tre_categorical_sample_cpu(void *impl, const tre_kshape *rows, int64_t k, float *out,
                               const tre_karg *logits, uint64_t seed, uint64_t stream) {
    (void)impl;
    if (k < 1) return 1;
    if (shared_logit_rows(rows, logits, k)) return categorical_sample_shared(rows, k, out, logits, seed, stream);
    const int64_t total = rows_total(rows);
    const tre_karg *args[1] = {logits};
#pragma omp parallel for schedule(static) PAR_IF(total, k)
    for (int64_t c = 0; c < CHUNKS(total); ++c) {
        row_iter it;
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < total ? r0 + ROW_CHUNK : total;
        row_iter_seek(&it, rows, 1, args, r0);
        if (k <= TRE_CAT_ROW_CACHE) {
            for (int64_t b0 = r0; b0 < r1; b0 += TRE_CAT_BLOCK) {
                const float *lp[TRE_CAT_BLOCK];
                double u[TRE_CAT_BLOCK];
                tre_cat_block blk;
                const int64_t n = block_rows(&it, logits, NULL, b0, r1, lp, NULL);
                for (int64_t j = 0; j < n; ++j) u[j] = tre_philox_uniform(seed, stream, (uint64_t)(b0 + j));
                tre_cat_block_norm(&blk, n, k, lp);
                tre_cat_block_sample(&blk, u, out + b0);
            }
            continue;
        }
        for (int64_t r = r0; r < r1; ++r, row_iter_next(&it)) {
            /* one uniform per draw, keyed by the draw's index in the output */
            double u = tre_philox_uniform(seed, stream, (uint64_t)r);
            out[r] = tre_categorical_sample_row(k, logits->data + it.off[0], u);
        }
    }
    return 0;
}

int tre_categorical_kl_cpu(void *impl, const tre_kshape *rows, int64_t k, float *out,
                           const tre_karg *p_logits, const tre_karg *q_logits) {
    (void)impl;
    if (k < 1) return 1;
    const int64_t total = rows_total(rows);
    const tre_karg *args[2] = {p_logits, q_logits};
#pragma omp parallel for schedule(static) PAR_IF(total, k)
    for (int64_t c = 0; c < CHUNKS(total); ++c) {
        row_iter it;
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < total ? r0 + ROW_CHUNK : total;
        row_iter_seek(&it, rows, 2, args, r0);
        for (int64_t r = r0; r < r1; ++r, row_iter_next(&it))
            out[r] = (float)tre_categorical_kl_row(k, p_logits->data + it.off[0],
                                                   q_logits->data + it.off[1]);
    }
    return 0;
}

int tre_categorical_kl_backward_cpu(void *impl, const tre_kshape *rows, int64_t k, const float *g,
                                    const tre_karg *p_logits, const tre_karg *q_logits,
                                    float *grad_p, float *grad_q) {
    (void)impl;
    if (k < 1) return 1;
    const int64_t total = rows_total(rows);
    const tre_karg *args[2] = {p_logits, q_logits};
#pragma omp parallel for schedule(static) PAR_IF(total, k)
    for (int64_t c = 0; c < CHUNKS(total); ++c) {
        row_iter it;
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < total ? r0 + ROW_CHUNK : total;
        row_iter_seek(&it, rows, 2, args, r0);
        for (int64_t r = r0; r < r1; ++r, row_iter_next(&it))
            tre_categorical_kl_grad_row(k, p_logits->data + it.off[0], q_logits->data + it.off[1],
                                        g[r], grad_p ? grad_p + r * k : NULL,
                                        grad_q ? grad_q + r * k : NULL);
    }
    return 0;
}

/* ---- MultivariateNormal ------------------------------------------------------------------ */

int tre_mvn_log_prob_cpu(void *impl, const tre_kshape *rows, int64_t d, float *out,
                         const tre_karg *value, const tre_karg *loc, const tre_karg *scale_tril) {
    (void)impl;
    if (d < 1) return 1;
    const int64_t total = rows_total(rows);
    const tre_karg *args[3] = {value, loc, scale_tril};
    int failed = 0;
#pragma omp parallel for schedule(static) PAR_IF(total, d * d) reduction(| : failed)
    for (int64_t c = 0; c < CHUNKS(total); ++c) {
        double stack[STACK_WORK], *work = work_get(stack, d);
        if (!work) {
            failed = 1;
            continue;
        }
        row_iter it;
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < total ? r0 + ROW_CHUNK : total;
        row_iter_seek(&it, rows, 3, args, r0);
        const float *last = NULL;
        double hld = 0.0;
        for (int64_t r = r0; r < r1; ++r, row_iter_next(&it)) {
            const float *L = scale_tril->data + it.off[2];
            if (L != last) {
                hld = tre_mvn_half_log_det(d, L);
                last = L;
            }
            out[r] = (float)tre_mvn_log_prob_pre(d, value->data + it.off[0], loc->data + it.off[1],
                                                 L, hld, work);
        }
        work_put(stack, work);
    }
    return failed;
}

int tre_mvn_log_prob_backward_cpu(void *impl, const tre_kshape *rows, int64_t d, const float *g,
                                  const tre_karg *value, const tre_karg *loc,
                                  const tre_karg *scale_tril, float *grad_value, float *grad_loc,
                                  float *grad_scale_tril) {
    (void)impl;
    if (d < 1) return 1;
    const int64_t total = rows_total(rows);
    const tre_karg *args[3] = {value, loc, scale_tril};
    int failed = 0;
#pragma omp parallel for schedule(static) PAR_IF(total, d * d) reduction(| : failed)
    for (int64_t c = 0; c < CHUNKS(total); ++c) {
        double stack[STACK_WORK], *work = work_get(stack, 2 * d);
        if (!work) {
            failed = 1;
            continue;
        }
        row_iter it;
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < total ? r0 + ROW_CHUNK : total;
        row_iter_seek(&it, rows, 3, args, r0);
        for (int64_t r = r0; r < r1; ++r, row_iter_next(&it))
            tre_mvn_log_prob_grad_row(d, value->data + it.off[0], loc->data + it.off[1],
                                      scale_tril->data + it.off[2], g[r],
                                      grad_value ? grad_value + r * d : NULL,
                                      grad_loc ? grad_loc + r * d : NULL,
                                      grad_scale_tril ? grad_scale_tril + r * d * d : NULL, work);
        work_put(stack, work);
    }
    return failed;
}

int tre_mvn_sample_cpu(void *impl, const tre_kshape *rows, int64_t d, float *out,
                       const tre_karg *loc, const tre_karg *scale_tril, uint64_t seed,
                       uint64_t stream) {
    (void)impl;
    if (d < 1) return 1;
    const int64_t total = rows_total(rows);
    const tre_karg *args[2] = {loc, scale_tril};
#pragma omp parallel for schedule(static) PAR_IF(total, d * d)
    for (int64_t c = 0; c < CHUNKS(total); ++c) {
        row_iter it;
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < total ? r0 + ROW_CHUNK : total;
        row_iter_seek(&it, rows, 2, args, r0);
        for (int64_t r = r0; r < r1; ++r, row_iter_next(&it))
            tre_mvn_sample_row(d, loc->data + it.off[0], scale_tril->data + it.off[1], seed, stream,
                               (uint64_t)(r * d), out + r * d);
    }
    return 0;
}

int tre_mvn_rsample_backward_cpu(void *impl, int64_t rows, int64_t d, const float *g,
                                 uint64_t seed, uint64_t stream, float *grad_scale_tril) {
    (void)impl;
    if (d < 1 || rows < 0) return 1;
#pragma omp parallel for schedule(static) PAR_IF(rows, d * d)
    for (int64_t r = 0; r < rows; ++r)
        tre_mvn_rsample_grad_row(d, g + r * d, seed, stream, (uint64_t)(r * d),
                                 grad_scale_tril + r * d * d);
    return 0;
}

int tre_dirichlet_sample_cpu(void *impl, const tre_kshape *rows, int64_t k, float *out,
                             const tre_karg *conc, uint64_t seed, uint64_t stream) {
    (void)impl;
    if (k < 1) return 1;
    const int64_t total = rows_total(rows);
#pragma omp parallel for schedule(static) PAR_IF(total, k * 64)
    for (int64_t c = 0; c < CHUNKS(total); ++c) {
        double stack[STACK_WORK], *lg = work_get(stack, k); /* NULL: the draws are regenerated */
        row_iter it;
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < total ? r0 + ROW_CHUNK : total;
        row_iter_seek(&it, rows, 1, &conc, r0);
        for (int64_t r = r0; r < r1; ++r, row_iter_next(&it))
            tre_dirichlet_sample_row(k, conc->data + it.off[0], seed, stream, (uint64_t)(r * k), lg, out + r * k);
        work_put(stack, lg);
    }
    return 0;
}

int tre_dirichlet_rsample_backward_cpu(void *impl, const tre_kshape *rows, int64_t k, const float *g,
                                       const tre_karg *conc, uint64_t seed, uint64_t stream,
                                       float *grad_conc) {
    (void)impl;
    if (k < 1) return 1;
    const int64_t total = rows_total(rows);
#pragma omp parallel for schedule(static) PAR_IF(total, k * 128)
    for (int64_t c = 0; c < CHUNKS(total); ++c) {
        double stack[STACK_WORK], *lg = work_get(stack, k); /* NULL: the draws are regenerated */
        row_iter it;
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < total ? r0 + ROW_CHUNK : total;
        row_iter_seek(&it, rows, 1, &conc, r0);
        for (int64_t r = r0; r < r1; ++r, row_iter_next(&it))
            tre_dirichlet_rsample_grad_row(k, conc->data + it.off[0], g + r * k, seed, stream,
                                           (uint64_t)(r * k), lg, grad_conc + r * k);
        work_put(stack, lg);
    }
    return 0;
}

int tre_mvn_kl_cpu(void *impl, const tre_kshape *rows, int64_t d, float *out, const tre_karg *p_loc,
                   const tre_karg *p_scale_tril, const tre_karg *q_loc,
                   const tre_karg *q_scale_tril) {
    (void)impl;
    if (d < 1) return 1;
    const int64_t total = rows_total(rows);
    const tre_karg *args[4] = {p_loc, p_scale_tril, q_loc, q_scale_tril};
    int failed = 0;
#pragma omp parallel for schedule(static) PAR_IF(total, d * d * d) reduction(| : failed)
    for (int64_t c = 0; c < CHUNKS(total); ++c) {
        double stack[STACK_WORK], *work = work_get(stack, d * d + d);
        if (!work) {
            failed = 1;
            continue;
        }
        row_iter it;
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < total ? r0 + ROW_CHUNK : total;
        row_iter_seek(&it, rows, 4, args, r0);
        for (int64_t r = r0; r < r1; ++r, row_iter_next(&it))
            out[r] = (float)tre_mvn_kl_row(d, p_loc->data + it.off[0], p_scale_tril->data + it.off[1],
                                           q_loc->data + it.off[2], q_scale_tril->data + it.off[3],
                                           work);
        work_put(stack, work);
    }
    return failed;
}

int tre_mvn_kl_backward_cpu(void *impl, const tre_kshape *rows, int64_t d, const float *g,
                            const tre_karg *p_loc, const tre_karg *p_scale_tril,
                            const tre_karg *q_loc, const tre_karg *q_scale_tril, float *grad_p_loc,
                            float *grad_p_scale_tril, float *grad_q_loc,
                            float *grad_q_scale_tril) {
    (void)impl;
    if (d < 1) return 1;
    const int64_t total = rows_total(rows);
    const tre_karg *args[4] = {p_loc, p_scale_tril, q_loc, q_scale_tril};
    int failed = 0;
#pragma omp parallel for schedule(static) PAR_IF(total, d * d * d) reduction(| : failed)
    for (int64_t c = 0; c < CHUNKS(total); ++c) {
        double stack[STACK_WORK], *work = work_get(stack, 2 * d * d + 2 * d);
        if (!work) {
            failed = 1;
            continue;
        }
        row_iter it;
        int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < total ? r0 + ROW_CHUNK : total;
        row_iter_seek(&it, rows, 4, args, r0);
        for (int64_t r = r0; r < r1; ++r, row_iter_next(&it))
            tre_mvn_kl_grad_row(d, p_loc->data + it.off[0], p_scale_tril->data + it.off[1],
                                q_loc->data + it.off[2], q_scale_tril->data + it.off[3], g[r],
                                grad_p_loc ? grad_p_loc + r * d : NULL,
                                grad_p_scale_tril ? grad_p_scale_tril + r * d * d : NULL,
                                grad_q_loc ? grad_q_loc + r * d : NULL,
                                grad_q_scale_tril ? grad_q_scale_tril + r * d * d : NULL, work);
        work_put(stack, work);
    }
    return failed;
}
