/* CPU adjoints of broadcasting and gathering: sums over broadcast dims, scatter-adds.
 * Deterministic: every output slot is accumulated by one thread in a fixed order. */
#include <math.h>
#include <stdbool.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "index_groups.h"
#include "../math/check.h"

/* sum of n floats at stride st, in double, in a fixed order */
static double strided_sum(const float *in, int64_t n, int64_t st) {
    if (st == 1) return tre_cpu_sum_d(in, n);
    double acc = 0.0;
    for (int64_t j = 0; j < n; ++j) acc += (double)in[j * st];
    return acc;
}

#define ROW_CHUNK 1024 /* kept innermost elements accumulated together */

/* Column sums of rows of n <= ROW_CHUNK floats, added one row after the other, in double, in an
 * order fixed by n and the row count: short rows (n <= 64) go round four independent chains of
 * additions over the first rows / 4 * 4 rows, which are then joined, and the rows left over are
 * added to the joined sums in order. col[] holds the result after the last row. */
typedef struct col_sums {
    int64_t n, chained;
    double col[ROW_CHUNK], a4[4][64];
} col_sums;

static void col_sums_begin(col_sums *c, int64_t n, int64_t rows) {
    c->n = n;
    c->chained = n <= 64 ? rows / 4 * 4 : 0;
    for (int64_t i = 0; i < n; ++i) c->col[i] = 0.0;
    if (c->chained)
        for (int q = 0; q < 4; ++q)
            for (int64_t i = 0; i < n; ++i) c->a4[q][i] = 0.0;
}

/* row r (rows come in order r = 0, 1, ...) */
static inline void col_sums_add(col_sums *c, int64_t r, const float *row) {
    const int64_t n = c->n;
    if (r < c->chained) {
        double *chain = c->a4[r % 4];
        for (int64_t i = 0; i < n; ++i) chain[i] += (double)row[i];
        if (r + 1 == c->chained)
            for (int64_t i = 0; i < n; ++i) c->col[i] = (c->a4[0][i] + c->a4[1][i]) + (c->a4[2][i] + c->a4[3][i]);
    } else {
        for (int64_t i = 0; i < n; ++i) c->col[i] += (double)row[i];
    }
}

/* col_sums over `count` rows of LEN floats, st apart, for a constant LEN: the same additions in
 * the same order (four chains over the first count / 4 * 4 rows, joined, then the rest), with
 * the row loop unrolled and the sums in registers (eight schools' [P, 8] -> [8] gradients spent
 * more time in the generic loop's per-row overhead than in the additions). Writes out[i * os]. */
#define COL_SUMS_SHORT(LEN)                                                                        \
    do {                                                                                           \
        double a4[4][LEN], col[LEN];                                                               \
        for (int q = 0; q < 4; ++q)                                                                \
            for (int64_t i = 0; i < (LEN); ++i) a4[q][i] = 0.0;                                    \
        for (int64_t i = 0; i < (LEN); ++i) col[i] = 0.0;                                          \
        const int64_t chained = count / 4 * 4;                                                     \
        const float *rp = first;                                                                   \
        for (int64_t j = 0; j < chained; j += 4, rp += 4 * st)                                     \
            for (int q = 0; q < 4; ++q)                                                            \
                for (int64_t i = 0; i < (LEN); ++i) a4[q][i] += (double)rp[q * st + i];            \
        if (chained)                                                                               \
            for (int64_t i = 0; i < (LEN); ++i) col[i] = (a4[0][i] + a4[1][i]) + (a4[2][i] + a4[3][i]); \
        for (int64_t j = chained; j < count; ++j, rp += st)                                        \
            for (int64_t i = 0; i < (LEN); ++i) col[i] += (double)rp[i];                           \
        for (int64_t i = 0; i < (LEN); ++i) out[i * os] = (float)col[i];                           \
    } while (0)

static void col_sums_short(int64_t n, int64_t count, const float *first, int64_t st, float *out,
                           int64_t os) {
    switch (n) {
    case 1: COL_SUMS_SHORT(1); break;
    case 2: COL_SUMS_SHORT(2); break;
    case 3: COL_SUMS_SHORT(3); break;
    case 4: COL_SUMS_SHORT(4); break;
    case 5: COL_SUMS_SHORT(5); break;
    case 6: COL_SUMS_SHORT(6); break;
    case 7: COL_SUMS_SHORT(7); break;
    case 8: COL_SUMS_SHORT(8); break;
    case 16: COL_SUMS_SHORT(16); break;
    }
}
#undef COL_SUMS_SHORT

int tre_reduce_sum_cpu(void *impl, const tre_kshape *shape, const float *in, float *out,
                       const int64_t *out_stride) {
    (void)impl;
    /* split the dims into kept ones (nonzero out stride: distinct output slots) and summed
     * ones; every output element is summed in double in an order fixed by the shape alone */
    int nk = 0, nr = 0, kd[TRE_KDIMS], rd[TRE_KDIMS];
    int64_t in_stride[TRE_KDIMS], c = 1, slots = 1, count = 1;
    for (int d = shape->ndim - 1; d >= 0; --d) {
        in_stride[d] = c;
        c *= shape->dim[d];
    }
    for (int d = 0; d < shape->ndim; ++d) {
        if (shape->dim[d] == 1) continue;
        if (out_stride[d]) {
            kd[nk++] = d;
            slots *= shape->dim[d];
        } else {
            rd[nr++] = d;
            count *= shape->dim[d];
        }
    }
    if (nk == 0) { /* everything into one slot */
        out[0] = (float)strided_sum(in, count, 1); /* the input is contiguous */
        return 0;
    }
    /* trailing dims summed into a contiguous output ([P, 8] -> [P]): sums of whole rows */
    bool rows = nr > 0 && kd[nk - 1] < rd[0];
    int64_t c2 = 1;
    for (int k = nk - 1; rows && k >= 0; c2 *= shape->dim[kd[k]], --k) rows = out_stride[kd[k]] == c2;
    if (rows) return tre_sum_rows_cpu(impl, slots, count, in, out);
    /* the innermost kept dim runs contiguously in the input when it is the last dim: then
     * whole rows of it are accumulated at once (vectorized across the row), one summed index
     * after the other */
    const int last = shape->ndim - 1;
    const int row_kept = shape->dim[last] > 1 && kd[nk - 1] == last && nr > 0;
    const int64_t row = row_kept ? shape->dim[last] : 1, row_chunks = (row + ROW_CHUNK - 1) / ROW_CHUNK;
    const int nko = row_kept ? nk - 1 : nk;
    const int64_t outer = slots / row * row_chunks;
    TRE_CPU_FOR(slots * count > TRE_CPU_PARALLEL_MIN && outer > 1, s, outer,
        int64_t rem = row_kept ? s / row_chunks : s, ioff = 0, ooff = 0;
        for (int k = nko - 1; k >= 0; --k) {
            int d = kd[k];
            int64_t i = rem % shape->dim[d];
            rem /= shape->dim[d];
            ioff += i * in_stride[d];
            ooff += i * out_stride[d];
        }
        if (row_kept) {
            const int64_t r0 = (s % row_chunks) * ROW_CHUNK, rn = row - r0 < ROW_CHUNK ? row - r0 : ROW_CHUNK;
            int64_t idx[TRE_KDIMS] = {0}, off = ioff + r0;
            col_sums cs;
            if (nr == 1 && (rn <= 8 || rn == 16)) { /* short rows: sums in registers */
                col_sums_short(rn, count, in + off, in_stride[rd[0]], out + ooff + r0 * out_stride[last],
                               out_stride[last]);
                continue;
            }
            if (nr == 1) { /* one summed dim (a broadcast over the particles): plain rows */
                const int64_t st = in_stride[rd[0]];
                col_sums_begin(&cs, rn, count);
                for (int64_t j = 0; j < count; ++j, off += st) col_sums_add(&cs, j, in + off);
            } else { /* the rows in the summed dims' order, one chain */
                col_sums_begin(&cs, rn, 0);
                for (int64_t j = 0; j < count; ++j) {
                    col_sums_add(&cs, j, in + off);
                    for (int r = nr - 1; r >= 0; --r) { /* odometer over the summed dims */
                        int d = rd[r];
                        off += in_stride[d];
                        if (++idx[r] < shape->dim[d]) break;
                        off -= idx[r] * in_stride[d];
                        idx[r] = 0;
                    }
                }
            }
            const int64_t os = out_stride[last];
            for (int64_t i = 0; i < rn; ++i) out[ooff + (r0 + i) * os] = (float)cs.col[i];
        } else if (nr == 0) { /* only size-1 dims summed: a copy */
            out[ooff] = in[ioff];
        } else if (nr == 1) {
            out[ooff] = (float)strided_sum(in + ioff, count, in_stride[rd[0]]);
        } else {
            /* innermost summed dim contiguous: lanes per run of it */
            const int dl = rd[nr - 1];
            const int64_t run = shape->dim[dl], rst = in_stride[dl];
            double acc = 0.0;
            int64_t idx[TRE_KDIMS] = {0}, off = ioff;
            for (int64_t j = 0; j < count; j += run) {
                acc += strided_sum(in + off, run, rst);
                for (int r = nr - 2; r >= 0; --r) { /* odometer over the outer summed dims */
                    int d = rd[r];
                    off += in_stride[d];
                    if (++idx[r] < shape->dim[d]) break;
                    off -= idx[r] * in_stride[d];
                    idx[r] = 0;
                }
            }
            out[ooff] = (float)acc;
        });
    return 0;
}

/* Whether the pair is an outer difference's adjoint ([..., M, L] summed to a [..., M, 1] and a
 * [..., 1, L]: every earlier dim kept by both), which one walk over `in` gives; the kept dims
 * of each output contiguous, L within one ROW_CHUNK (the order tre_reduce_sum_cpu sums in). */
static bool outer_pair(const tre_kshape *shape, const int64_t *sa, const int64_t *sb, int *mdim) {
    int d[TRE_KDIMS], n = 0;
    for (int k = 0; k < shape->ndim; ++k)
        if (shape->dim[k] > 1) d[n++] = k;
    if (n < 2) return false;
    const int L = d[n - 1], M = d[n - 2];
    if (sa[L] != 0 || sa[M] != 1 || sb[M] != 0 || sb[L] != 1 || shape->dim[L] > ROW_CHUNK)
        return false;
    int64_t ca = shape->dim[M], cb = shape->dim[L];
    for (int k = n - 3; k >= 0; ca *= shape->dim[d[k]], cb *= shape->dim[d[k]], --k)
        if (sa[d[k]] != ca || sb[d[k]] != cb) return false;
    *mdim = M;
    return true;
}

int tre_reduce_sum_pair_cpu(void *impl, const tre_kshape *shape, const float *in, float *out_a,
                            const int64_t *stride_a, float *out_b, const int64_t *stride_b) {
    int M;
    if (!outer_pair(shape, stride_a, stride_b, &M)) /* two walks */
        return tre_reduce_sum_cpu(impl, shape, in, out_a, stride_a) ||
               tre_reduce_sum_cpu(impl, shape, in, out_b, stride_b);
    const int64_t rows = shape->dim[M], cols = shape->dim[shape->ndim - 1];
    int64_t outer = 1;
    for (int k = 0; k < M; ++k) outer *= shape->dim[k];
    /* per outer slice, one walk: each row's sum (tre_cpu_row_sum, as tre_sum_rows_cpu) and the
     * column sums (col_sums, as tre_reduce_sum_cpu's one summed dim): the same additions in the
     * same order as the two walks */
    TRE_CPU_FOR(outer * rows * cols > TRE_CPU_PARALLEL_MIN && outer > 1, o, outer,
        const float *slice = in + o * rows * cols;
        float *oa = out_a + o * rows, *ob = out_b + o * cols;
        col_sums cs;
        col_sums_begin(&cs, cols, rows);
        for (int64_t r = 0; r < rows; ++r) {
            const float *row = slice + r * cols;
            oa[r] = tre_cpu_row_sum(row, cols);
            col_sums_add(&cs, r, row);
        }
        for (int64_t i = 0; i < cols; ++i) ob[i] = (float)cs.col[i];);
    return 0;
}

int tre_scatter_add_cpu(void *impl, int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                        int64_t k, const float *g, float *out) {
    (void)impl;
    /* short rows get an add of constant length, unrolled (as tre_gather_cpu) */
#define SCATTER_ROWS(LEN)                                                                          \
    TRE_CPU_FOR(outer * k * inner > TRE_CPU_PARALLEL_MIN, o, outer,                                \
        for (int64_t j = 0; j < k; ++j) {                                                          \
            const float *src = g + (o * k + j) * inner;                                            \
            float *dst = out + (o * n + index[j]) * inner;                                         \
            for (int64_t i = 0; i < (LEN); ++i) dst[i] += src[i];                                  \
        })
    TRE_CPU_SWITCH_LEN(inner, SCATTER_ROWS)
#undef SCATTER_ROWS
    return 0;
}

/* scatter_add_scaled with a shared x and rows picked many times each: per particle, one
 * output row at a time kept in registers while the terms of the positions that pick it are
 * added, in increasing j (the grouping is stable): the same float operations in the same order
 * as the position-by-position loop, without a load and store of the row per term. Nonzero, with
 * nothing done, when the grouping's memory is not there. */
static int scatter_scaled_grouped(int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                                  int64_t k, const float *s, const float *x, float *out) {
    tre_cpu_index_groups G;
    if (!tre_cpu_index_groups_build(&G, index, k, n, x, inner, true, false)) return 1;
#define SCATTER_GROUPED(LEN)                                                                       \
    TRE_CPU_FOR(outer * k * inner > TRE_CPU_PARALLEL_MIN, o, outer,                                \
        const float *so = s + o * k;                                                               \
        for (int64_t g = 0; g < n; ++g) {                                                          \
            if (G.start[g] == G.start[g + 1]) continue;                                            \
            float *dst = out + (o * n + g) * (LEN), acc[(LEN)];                                    \
            for (int64_t i = 0; i < (LEN); ++i) acc[i] = dst[i];                                   \
            for (int64_t q = G.start[g]; q < G.start[g + 1]; ++q) {                                \
                const float f = so[G.perm[q]], *src = G.x_rows + q * (LEN);                        \
                for (int64_t i = 0; i < (LEN); ++i) acc[i] += f * src[i];                          \
            }                                                                                      \
            for (int64_t i = 0; i < (LEN); ++i) dst[i] = acc[i];                                   \
        })
    switch (inner) { /* acc is a register array: constant lengths only */
    case 1: SCATTER_GROUPED(1); break;
    case 2: SCATTER_GROUPED(2); break;
    case 3: SCATTER_GROUPED(3); break;
    case 4: SCATTER_GROUPED(4); break;
    case 5: SCATTER_GROUPED(5); break;
    case 6: SCATTER_GROUPED(6); break;
    case 7: SCATTER_GROUPED(7); break;
    default: SCATTER_GROUPED(8); break;
    }
#undef SCATTER_GROUPED
    tre_cpu_index_groups_free(&G);
    return 0;
}

int tre_scatter_add_scaled_cpu(void *impl, int64_t outer, int64_t n, int64_t inner,
                               const int32_t *index, int64_t k, const float *s, const float *x,
                               int64_t xstride, float *out) {
    (void)impl;
    /* grouped when it pays; without memory for the grouping, position by position */
    if (inner >= 1 && inner <= 8 && tre_cpu_index_groups_pay(outer, n, k, xstride) &&
        scatter_scaled_grouped(outer, n, inner, index, k, s, x, out) == 0)
        return 0;
#define SCATTER_SCALED_ROWS(LEN)                                                                   \
    TRE_CPU_FOR(outer * k * inner > TRE_CPU_PARALLEL_MIN, o, outer,                                \
        const float *xo = x + o * xstride, *so = s + o * k;                                        \
        for (int64_t j = 0; j < k; ++j) {                                                          \
            const float *src = xo + j * inner, f = so[j];                                          \
            float *dst = out + (o * n + index[j]) * inner;                                         \
            for (int64_t i = 0; i < (LEN); ++i) dst[i] += f * src[i];                              \
        })
    TRE_CPU_SWITCH_LEN(inner, SCATTER_SCALED_ROWS)
#undef SCATTER_SCALED_ROWS
    return 0;
}

int tre_take_cpu(void *impl, int64_t P, int64_t n, const float *values, int64_t vstride,
                 int64_t K, const float *index, int64_t istride, float *out) {
    (void)impl;
    TRE_CPU_FOR(P * n > TRE_CPU_PARALLEL_MIN, p, P,
        const float *v = values + p * vstride, *ix = index + p * istride;
        float *o = out + p * n;
        for (int64_t i = 0; i < n; ++i) o[i] = tre_index_in_range(ix[i], K) ? v[(int64_t)ix[i]] : NAN;
        );
    return 0;
}

int tre_take_backward_cpu(void *impl, int64_t P, int64_t n, const float *g, const float *index,
                          int64_t istride, float *gvalues, int64_t vstride, int64_t K) {
    (void)impl;
    if (vstride == 0) { /* one shared row: accumulate serially, in particle order */
        for (int64_t p = 0; p < P; ++p)
            for (int64_t i = 0; i < n; ++i) {
                const float x = index[p * istride + i];
                if (tre_index_in_range(x, K)) gvalues[(int64_t)x] += g[p * n + i];
            }
        return 0;
    }
    TRE_CPU_FOR(P * n > TRE_CPU_PARALLEL_MIN, p, P,
        for (int64_t i = 0; i < n; ++i) {
            const float x = index[p * istride + i];
            if (tre_index_in_range(x, K)) gvalues[p * vstride + (int64_t)x] += g[p * n + i];
        });
    return 0;
}
