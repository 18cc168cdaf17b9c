/* Simplified iteration spaces and block gathers for the CPU kernels. */
#include <stdbool.h>
#include <string.h>
#include "cpu_iter.h"

void tre_cpu_iter_init(tre_cpu_iter *it, int64_t particles, const tre_kshape *shape, int nargs,
                       const int64_t *const *strides, const int64_t *pstride) {
    if (particles <= 0 && shape->ndim == 1 && shape->dim[0] != 1) {
        /* one dim (as most layouts are once merged): what the general path below gives */
        const int64_t n = shape->dim[0];
        it->nargs = nargs;
        it->ndim = 1;
        it->dim[0] = it->total = n;
        for (int a = 0; a < nargs; ++a) {
            it->stride[a][0] = strides[a] ? strides[a][0] : 1;
            it->run[a] = it->stride[a][0] == 1 ? n : 0;
        }
        return;
    }
    /* the full space: [particles,] shape..., with the contiguous strides filled in */
    int nd = 0;
    int64_t dim[TRE_KDIMS + 1], st[TRE_CPU_MAX_ARGS][TRE_KDIMS + 1];
    const int lead = particles > 0;
    if (lead) dim[nd++] = particles;
    for (int d = 0; d < shape->ndim; ++d) dim[nd++] = shape->dim[d];
    int64_t inner_total = 1;
    for (int d = 0; d < shape->ndim; ++d) inner_total *= shape->dim[d];
    for (int a = 0; a < nargs; ++a) {
        int64_t c = 1;
        for (int d = shape->ndim - 1; d >= 0; --d) {
            st[a][lead + d] = strides[a] ? strides[a][d] : c;
            c *= shape->dim[d];
        }
        if (lead) st[a][0] = pstride ? pstride[a] : inner_total;
    }
    it->nargs = nargs;
    it->total = 1;
    for (int d = 0; d < nd; ++d) it->total *= dim[d];
    /* drop size-1 dims, then merge dim d into the one before when every argument steps through
     * the pair as one */
    int n = 0;
    for (int d = 0; d < nd; ++d) {
        if (dim[d] == 1) continue;
        bool merge = n > 0;
        for (int a = 0; a < nargs && merge; ++a) merge = it->stride[a][n - 1] == st[a][d] * dim[d];
        if (merge) {
            it->dim[n - 1] *= dim[d];
            for (int a = 0; a < nargs; ++a) it->stride[a][n - 1] = st[a][d];
        } else {
            it->dim[n] = dim[d];
            for (int a = 0; a < nargs; ++a) it->stride[a][n] = st[a][d];
            ++n;
        }
    }
    if (n == 0) { /* a single element */
        it->dim[0] = 1;
        for (int a = 0; a < nargs; ++a) it->stride[a][0] = 0;
        n = 1;
    }
    it->ndim = n;
    for (int a = 0; a < nargs; ++a) {
        int64_t run = 1;
        for (int d = n - 1; d >= 0 && it->stride[a][d] == run; --d) run *= it->dim[d];
        it->run[a] = run > 1 || it->stride[a][n - 1] == 1 ? run : 0;
    }
}

void tre_cpu_offsets(const tre_cpu_iter *it, int64_t start, int64_t *off) {
    if (it->ndim == 2) { /* the common case: one division */
        const int64_t i = start / it->dim[1], j = start - i * it->dim[1];
        for (int a = 0; a < it->nargs; ++a) off[a] = i * it->stride[a][0] + j * it->stride[a][1];
        return;
    }
    for (int a = 0; a < it->nargs; ++a) off[a] = 0;
    for (int d = it->ndim - 1; d >= 0 && start; --d) {
        int64_t i = start % it->dim[d];
        start /= it->dim[d];
        for (int a = 0; a < it->nargs; ++a) off[a] += i * it->stride[a][d];
    }
}

/* Whole rows of a constant length D (short rows, unrolled by the compiler): rows i0.., from
 * base + i * s0, contiguous (S1 = 1) or one value repeated (S1 = 0) */
#define TRE_ROWS(D, S1)                                                                          \
    for (; done + (D) <= n; done += (D), ++i) {                                                  \
        const float *src = base + i * s0;                                                        \
        for (int64_t k = 0; k < (D); ++k) dst[done + k] = src[(S1) * k];                         \
    }
#define TRE_ROWS_1(D) TRE_ROWS(D, 1)
#define TRE_ROWS_0(D) TRE_ROWS(D, 0)

/* One argument of a 2-dim space (the common case after simplification: [particles, row] or
 * [rows, cols]): a partial first row, whole rows (of constant length when short), a partial
 * last row; the stride branch taken once per call. */
static void gather_2d(const tre_cpu_iter *it, int a, int64_t start, int64_t n, const float *base,
                      float *dst) {
    const int64_t d1 = it->dim[1], s0 = it->stride[a][0], s1 = it->stride[a][1];
    int64_t i = start / d1, j = start - i * d1, done = 0;
    if (j) { /* the rest of a started row */
        const int64_t len = d1 - j < n ? d1 - j : n;
        tre_cpu_load_run(dst, base + i * s0 + j * s1, s1, len);
        done = len;
        ++i;
    }
    if (s1 == 1) {
        TRE_CPU_SWITCH_LEN(d1, TRE_ROWS_1)
    } else if (s1 == 0) {
        TRE_CPU_SWITCH_LEN(d1, TRE_ROWS_0)
    } else {
        for (; done + d1 <= n; done += d1, ++i) tre_cpu_load_run(dst + done, base + i * s0, s1, d1);
    }
    if (done < n) tre_cpu_load_run(dst + done, base + i * s0, s1, n - done); /* a started last row */
}
#undef TRE_ROWS_0
#undef TRE_ROWS_1
#undef TRE_ROWS

/* Rows of the innermost dim in spaces of 3 or more dims: the row offset steps like an odometer
 * over the outer dims; then, as in gather_2d, whole short rows with constant-length loops.
 * (gather_2d is this with the odometer reduced to one register: serving 2-dim spaces from here
 * instead made eight schools' step 25% slower, 0.147 -> 0.183 ms.) */
#define TRE_ROWS_ND(D, S1)                                                                       \
    for (; done + (D) <= n; done += (D)) {                                                       \
        const float *src = base + row;                                                           \
        for (int64_t k = 0; k < (D); ++k) dst[done + k] = src[(S1) * k];                         \
        next_row(it, a, idx, &row);                                                              \
    }
#define TRE_ROWS_ND_1(D) TRE_ROWS_ND(D, 1)
#define TRE_ROWS_ND_0(D) TRE_ROWS_ND(D, 0)

/* to the start of the next row: idx holds the outer dims' indices, *row the offset */
static inline void next_row(const tre_cpu_iter *it, int a, int64_t *idx, int64_t *row) {
    int d = it->ndim - 2;
    *row += it->stride[a][d];
    while (++idx[d] == it->dim[d] && d > 0) {
        *row += it->stride[a][d - 1] - it->dim[d] * it->stride[a][d];
        idx[d] = 0;
        --d;
    }
}

static void gather_nd(const tre_cpu_iter *it, int a, int64_t start, int64_t n, const float *base,
                      float *dst) {
    const int last = it->ndim - 1;
    const int64_t dl = it->dim[last], sl = it->stride[a][last];
    int64_t idx[TRE_KDIMS + 1], rem = start / dl, j = start % dl, row = 0, done = 0;
    for (int d = last - 1; d >= 0; --d) {
        idx[d] = rem % it->dim[d];
        rem /= it->dim[d];
        row += idx[d] * it->stride[a][d];
    }
    if (j) { /* the rest of a started row */
        const int64_t len = dl - j < n ? dl - j : n;
        tre_cpu_load_run(dst, base + row + j * sl, sl, len);
        done = len;
        next_row(it, a, idx, &row);
    }
    if (sl == 1) {
        TRE_CPU_SWITCH_LEN(dl, TRE_ROWS_ND_1)
    } else if (sl == 0) {
        TRE_CPU_SWITCH_LEN(dl, TRE_ROWS_ND_0)
    } else {
        for (; done + dl <= n; done += dl) {
            tre_cpu_load_run(dst + done, base + row, sl, dl);
            next_row(it, a, idx, &row);
        }
    }
    if (done < n) tre_cpu_load_run(dst + done, base + row, sl, n - done); /* a started last row */
}
#undef TRE_ROWS_ND_0
#undef TRE_ROWS_ND_1
#undef TRE_ROWS_ND

/* dst[k] = A[k * sa] op B[k * sb] for k < len, with the stride cases that vectorize spelled out */
static inline void binop_run(tre_binop op, int64_t len, float *dst, const float *A, int64_t sa,
                             const float *B, int64_t sb) {
#define TRE_BINOP_RUN(SA, SB)                                                                    \
    switch (op) {                                                                                \
    case TRE_OP_ADD: for (int64_t k = 0; k < len; ++k) dst[k] = A[(SA) * k] + B[(SB) * k]; break; \
    case TRE_OP_SUB: for (int64_t k = 0; k < len; ++k) dst[k] = A[(SA) * k] - B[(SB) * k]; break; \
    case TRE_OP_MUL: for (int64_t k = 0; k < len; ++k) dst[k] = A[(SA) * k] * B[(SB) * k]; break; \
    case TRE_OP_DIV: for (int64_t k = 0; k < len; ++k) dst[k] = A[(SA) * k] / B[(SB) * k]; break; \
    }
    if (sa == 1 && sb == 1) { TRE_BINOP_RUN(1, 1) }
    else if (sa == 1 && sb == 0) { TRE_BINOP_RUN(1, 0) }
    else if (sa == 0 && sb == 1) { TRE_BINOP_RUN(0, 1) }
    else { TRE_BINOP_RUN(sa, sb) }
#undef TRE_BINOP_RUN
}

void tre_cpu_gather_binop(const tre_cpu_iter *it, int a, int b, tre_binop op, int64_t start, int64_t n,
                          const float *base_a, const float *base_b, float *dst) {
    const int last = it->ndim - 1;
    const int64_t dl = it->dim[last], sa = it->stride[a][last], sb = it->stride[b][last];
    int64_t ia[TRE_KDIMS + 1], ib[TRE_KDIMS + 1], rem = start / dl, j = start % dl, ra = 0, rb = 0;
    for (int d = last - 1; d >= 0; --d) {
        ia[d] = ib[d] = rem % it->dim[d];
        rem /= it->dim[d];
        ra += ia[d] * it->stride[a][d];
        rb += ib[d] * it->stride[b][d];
    }
    int64_t done = 0;
    if (j) { /* the rest of a started row */
        const int64_t len = dl - j < n ? dl - j : n;
        binop_run(op, len, dst, base_a + ra + j * sa, sa, base_b + rb + j * sb, sb);
        done = len;
        if (last > 0) next_row(it, a, ia, &ra), next_row(it, b, ib, &rb);
    }
    /* whole rows, of constant length when short (a few features per row) */
#define TRE_WALK_ROWS(L)                                                                         \
    for (; done + (L) <= n; done += (L)) {                                                       \
        binop_run(op, (L), dst + done, base_a + ra, sa, base_b + rb, sb);                        \
        if (last > 0) next_row(it, a, ia, &ra), next_row(it, b, ib, &rb);                        \
    }
    TRE_CPU_SWITCH_LEN(dl, TRE_WALK_ROWS)
#undef TRE_WALK_ROWS
    if (done < n) binop_run(op, n - done, dst + done, base_a + ra, sa, base_b + rb, sb); /* a started last row */
}

void tre_cpu_gather(const tre_cpu_iter *it, int64_t start, int64_t n, const float *const *base,
                    float *const *dst) {
    for (int a = 0; a < it->nargs; ++a) {
        if (!base[a] || !dst[a]) continue;
        if (it->ndim == 1) tre_cpu_load_run(dst[a], base[a] + start * it->stride[a][0], it->stride[a][0], n);
        else if (it->ndim == 2) gather_2d(it, a, start, n, base[a], dst[a]);
        else gather_nd(it, a, start, n, base[a], dst[a]);
    }
}

void tre_cpu_repeats_init(tre_cpu_repeats *r, const tre_cpu_iter *it, const float *const *base) {
    r->any = false;
    if (it->total <= TRE_CPU_BLOCK) return;
    for (int a = 0; a < it->nargs; ++a) {
        r->len[a] = 0;
        if (!base[a]) continue;
        /* the trailing dims a steps through as one run of memory (none: a scalar), then
         * stride 0 over every dim before them */
        int k = it->ndim;
        int64_t len = 1;
        if (it->run[a])
            for (len = 1; k > 0 && it->stride[a][k - 1] == len; --k) len *= it->dim[k - 1];
        bool repeats = len <= TRE_CPU_REPEAT_MAX && len < it->total;
        for (int d = 0; d < k && repeats; ++d) repeats = it->stride[a][d] == 0;
        if (!repeats) continue;
        r->len[a] = len;
        r->any = true;
        float *b = r->buf[a];
        for (int64_t j = 0; j < len; ++j) b[j] = base[a][j];
        for (int64_t have = len, want = TRE_CPU_BLOCK + len; have < want; have *= 2)
            memcpy(b + have, b, (size_t)(have < want - have ? have : want - have) * sizeof *b);
    }
}

void tre_cpu_gather_view_rep(const tre_cpu_iter *it, const tre_cpu_repeats *r, int64_t start,
                             int64_t n, const float *const *base, float *const *dst,
                             const float **view) {
    int64_t off[TRE_CPU_MAX_ARGS];
    bool offs_known = false;
    const float *copy_base[TRE_CPU_MAX_ARGS] = {NULL};
    bool any_copy = false;
    for (int a = 0; a < it->nargs; ++a) {
        view[a] = dst[a];
        if (!base[a] || !dst[a]) continue;
        if (r && r->any && r->len[a]) {
            view[a] = r->buf[a] + start % r->len[a];
        } else if (tre_cpu_one_run(it, a, start, n)) {
            if (!offs_known) {
                tre_cpu_offsets(it, start, off);
                offs_known = true;
            }
            view[a] = base[a] + off[a];
        } else {
            copy_base[a] = base[a];
            any_copy = true;
        }
    }
    if (any_copy) tre_cpu_gather(it, start, n, copy_base, dst);
}

void tre_cpu_gather_view(const tre_cpu_iter *it, int64_t start, int64_t n, const float *const *base,
                         float *const *dst, const float **view) {
    tre_cpu_gather_view_rep(it, NULL, start, n, base, dst, view);
}
