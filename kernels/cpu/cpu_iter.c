/* Simplified iteration spaces and block gathers for the CPU kernels. */
#include <stdbool.h>
#include "cpu_iter.h"

void tre_cpu_iter_init(tre_cpu_iter *it, int64_t particles, const tre_kshape *shape, int nargs,
                       const int64_t *const *strides, const int64_t *pstride) {
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

void tre_cpu_gather(const tre_cpu_iter *it, int64_t start, int64_t n, const float *const *base,
                    float *const *dst) {
    if (it->ndim <= 2) {
        for (int a = 0; a < it->nargs; ++a) {
            if (!base[a] || !dst[a]) continue;
            if (it->ndim == 1) tre_cpu_load_run(dst[a], base[a] + start * it->stride[a][0], it->stride[a][0], n);
            else gather_2d(it, a, start, n, base[a], dst[a]);
        }
        return;
    }
    const int last = it->ndim - 1, na = it->nargs;
    int64_t off[TRE_CPU_MAX_ARGS], idx[TRE_KDIMS + 1];
    /* position of `start`: index per dim and offset per argument */
    int64_t rem = start;
    for (int a = 0; a < na; ++a) off[a] = 0;
    for (int d = last; d >= 0; --d) {
        idx[d] = rem % it->dim[d];
        rem /= it->dim[d];
        for (int a = 0; a < na; ++a) off[a] += idx[d] * it->stride[a][d];
    }
    for (int64_t done = 0; done < n;) {
        int64_t len = it->dim[last] - idx[last];
        if (len > n - done) len = n - done;
        for (int a = 0; a < na; ++a)
            if (base[a] && dst[a]) tre_cpu_load_run(dst[a] + done, base[a] + off[a], it->stride[a][last], len);
        done += len;
        if (done == n) break;
        /* advance the odometer by len (to the start of the next run) */
        idx[last] += len;
        for (int a = 0; a < na; ++a) off[a] += len * it->stride[a][last];
        for (int d = last; d > 0 && idx[d] == it->dim[d]; --d) {
            idx[d] = 0;
            ++idx[d - 1];
            for (int a = 0; a < na; ++a) off[a] += it->stride[a][d - 1] - it->dim[d] * it->stride[a][d];
        }
    }
}

void tre_cpu_gather_view(const tre_cpu_iter *it, int64_t start, int64_t n, const float *const *base,
                         float *const *dst, const float **view) {
    const int last = it->ndim - 1;
    const int64_t j = last ? start % it->dim[last] : start; /* position in the innermost run */
    const bool one_run = j + n <= it->dim[last];
    int64_t off[TRE_CPU_MAX_ARGS];
    bool offs_known = false;
    const float *copy_base[TRE_CPU_MAX_ARGS] = {NULL};
    bool any_copy = false;
    for (int a = 0; a < it->nargs; ++a) {
        view[a] = dst[a];
        if (!base[a] || !dst[a]) continue;
        if (one_run && it->stride[a][last] == 1) {
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
