/* CPU reductions and gathers: per-row sums and dot products accumulated in double, index
 * gathers. */
#include <string.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "index_groups.h"

#define BLOCK TRE_CPU_BLOCK

int tre_sum_rows_cpu(void *impl, int64_t rows, int64_t cols, const float *in, float *out) {
    (void)impl;
    TRE_CPU_FOR(rows * cols > TRE_CPU_PARALLEL_MIN && rows > 1, r, rows,
        out[r] = tre_cpu_row_sum(in + r * cols, cols););
    return 0;
}

/* out[r] = sum_k A[r * cols + k] * B[r * cols + k]: the products in float (one vectorized
 * loop), each row's sum in double, in order (constant length when short) */
static void row_dots(int64_t rows, int64_t cols, const float *A, const float *B, float *out) {
    float prod[BLOCK];
    for (int64_t j = 0; j < rows * cols; ++j) prod[j] = A[j] * B[j];
#define ROW_DOTS(LEN)                                                                              \
    for (int64_t r = 0; r < rows; ++r) {                                                           \
        double acc = 0.0;                                                                          \
        for (int64_t k = 0; k < (LEN); ++k) acc += (double)prod[r * (LEN) + k];                    \
        out[r] = (float)acc;                                                                       \
    }
    TRE_CPU_SWITCH_LEN(cols, ROW_DOTS)
#undef ROW_DOTS
}

/* the dot of one long row, a block at a time, in 8 lanes */
static double long_row_dot(const tre_cpu_iter *it, const float *const *base, int64_t start, int64_t cols) {
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t s = 0; s < cols; s += BLOCK) {
        const int64_t n = cols - s < BLOCK ? cols - s : BLOCK;
        float ab[BLOCK], bb[BLOCK];
        float *dst[2] = {ab, bb};
        const float *view[2];
        tre_cpu_gather_view(it, start + s, n, base, dst, view);
        for (int64_t j = 0; j < n; ++j) lane[j % 8] += (double)(view[0][j] * view[1][j]);
    }
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

int tre_dot_rows_cpu(void *impl, const tre_kshape *shape, float *out, const tre_karg *a,
                     const tre_karg *b) {
    (void)impl;
    if (shape->ndim < 1) return 1;
    const int64_t cols = shape->dim[shape->ndim - 1];
    int64_t rows = 1;
    for (int d = 0; d < shape->ndim - 1; ++d) rows *= shape->dim[d];
    if (cols == 0) {
        for (int64_t r = 0; r < rows; ++r) out[r] = 0.f;
        return 0;
    }
    tre_cpu_iter it;
    const int64_t *st[2] = {a->stride, b->stride};
    tre_cpu_iter_init(&it, 0, shape, 2, st, NULL);
    const float *base[2] = {a->data, b->data};
    /* blocks of whole rows; a row longer than a block is one unit of its own */
    const int64_t rpb = cols <= BLOCK ? BLOCK / cols : 1, units = (rows + rpb - 1) / rpb;
    TRE_CPU_FOR(it.total > TRE_CPU_PARALLEL_MIN && units > 1, u, units,
        const int64_t r0 = u * rpb, r1 = r0 + rpb < rows ? r0 + rpb : rows;
        if (cols > BLOCK) {
            out[r0] = (float)long_row_dot(&it, base, r0 * cols, cols);
            continue;
        }
        float ab[BLOCK], bb[BLOCK];
        float *dst[2] = {ab, bb};
        const float *view[2];
        tre_cpu_gather_view(&it, r0 * cols, (r1 - r0) * cols, base, dst, view);
        row_dots(r1 - r0, cols, view[0], view[1], out + r0););
    return 0;
}

/* out[perm[q]] = v[q] for q < m as plain stores: vectorized, GCC makes this a vscatterdps,
 * which AMD's Zen 4 runs several times slower than the scalar stores (the grouped dot below
 * spent more time in it than in its arithmetic) */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noinline, optimize("no-tree-vectorize")))
#endif
static void store_permuted(int64_t m, const int32_t *perm, const float *v, float *out) {
    for (int64_t q = 0; q < m; ++q) out[perm[q]] = v[q];
}

/* dot_gathered_rows with a shared x and rows picked many times each: per particle, one picked
 * row at a time (its values broadcast) against the columns of the x rows that pick it, a
 * vectorized loop over those positions; the same products and the same sums in the same order
 * as the row-by-row loop. Nonzero, with nothing done, when the grouping's memory is not there. */
static int dot_gathered_grouped(int64_t outer, int64_t n, int64_t inner, const int32_t *index, int64_t k,
                                const float *w, const float *x, float *out) {
    tre_cpu_index_groups G;
    if (!tre_cpu_index_groups_build(&G, index, k, n, x, inner, false, true)) return 1;
#define DOT_GROUPED(LEN)                                                                           \
    TRE_CPU_FOR(outer * k * inner > TRE_CPU_PARALLEL_MIN, o, outer,                                \
        const float *wo = w + o * n * (LEN);                                                       \
        float *oo = out + o * k, dots[BLOCK];                                                      \
        for (int64_t g = 0; g < n; ++g)                                                            \
            for (int64_t q0 = G.start[g]; q0 < G.start[g + 1]; q0 += BLOCK) {                      \
                const int64_t m = G.start[g + 1] - q0 < BLOCK ? G.start[g + 1] - q0 : BLOCK;       \
                const float *wr = wo + g * (LEN), *xc = G.x_cols + q0;                             \
                for (int64_t q = 0; q < m; ++q) {                                                  \
                    double acc = 0.0;                                                              \
                    for (int64_t i = 0; i < (LEN); ++i) acc += (double)(xc[i * k + q] * wr[i]);    \
                    dots[q] = (float)acc;                                                          \
                }                                                                                  \
                store_permuted(m, G.perm + q0, dots, oo);                                          \
            })
    TRE_CPU_SWITCH_LEN(inner, DOT_GROUPED)
#undef DOT_GROUPED
    tre_cpu_index_groups_free(&G);
    return 0;
}

int tre_dot_gathered_rows_cpu(void *impl, int64_t outer, int64_t n, int64_t inner,
                              const int32_t *index, int64_t k, const float *w, const float *x,
                              int64_t xstride, float *out) {
    (void)impl;
    /* grouped when it pays; without memory for the grouping, position by position */
    if (tre_cpu_index_groups_pay(outer, n, k, xstride) &&
        dot_gathered_grouped(outer, n, inner, index, k, w, x, out) == 0)
        return 0;
#define DOT_GATHERED(LEN)                                                                          \
    TRE_CPU_FOR(outer * k * inner > TRE_CPU_PARALLEL_MIN, o, outer,                                \
        const float *xo = x + o * xstride, *wo = w + o * n * inner;                                \
        for (int64_t j = 0; j < k; ++j) {                                                          \
            const float *xr = xo + j * (LEN), *wr = wo + (int64_t)index[j] * (LEN);                \
            double acc = 0.0;                                                                      \
            for (int64_t i = 0; i < (LEN); ++i) acc += (double)(xr[i] * wr[i]);                    \
            out[o * k + j] = (float)acc;                                                           \
        })
    TRE_CPU_SWITCH_LEN(inner, DOT_GATHERED)
#undef DOT_GATHERED
    return 0;
}

int tre_gather_cpu(void *impl, int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                   int64_t k, const float *in, float *out) {
    (void)impl;
    /* short rows (a few features per index) get a copy of constant length, unrolled */
#define GATHER_ROWS(LEN)                                                                           \
    TRE_CPU_FOR(outer * k * inner > TRE_CPU_PARALLEL_MIN, o, outer,                                \
        for (int64_t j = 0; j < k; ++j) {                                                          \
            const float *src = in + (o * n + index[j]) * inner;                                    \
            float *dst = out + (o * k + j) * inner;                                                \
            memcpy(dst, src, (size_t)(LEN) * sizeof *dst); /* a few wide moves when constant */   \
        })
    TRE_CPU_SWITCH_LEN(inner, GATHER_ROWS)
#undef GATHER_ROWS
    return 0;
}
