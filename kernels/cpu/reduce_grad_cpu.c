/* CPU adjoints of broadcasting and gathering: sums over broadcast dims, scatter-adds.
 * Deterministic: every output slot is accumulated by one thread in a fixed order. */
#include "cpu_backend.h"
#include "cpu_iter.h"

int tre_reduce_sum_cpu(void *impl, const tre_kshape *shape, const float *in, float *out,
                       const int64_t *out_stride) {
    (void)impl;
    /* split the dims into kept ones (nonzero out stride: distinct output slots) and summed
     * ones; each slot is summed in double by one thread, in a fixed order */
    int nk = 0, nr = 0, kd[TRE_KDIMS], rd[TRE_KDIMS];
    int64_t in_stride[TRE_KDIMS], c = 1, slots = 1, count = 1;
    for (int d = shape->ndim - 1; d >= 0; --d) {
        in_stride[d] = c;
        c *= shape->dim[d];
    }
    for (int d = 0; d < shape->ndim; ++d) {
        if (out_stride[d]) {
            kd[nk++] = d;
            slots *= shape->dim[d];
        } else {
            rd[nr++] = d;
            count *= shape->dim[d];
        }
    }
    TRE_CPU_FOR(slots * count > TRE_CPU_PARALLEL_MIN && slots > 1, s, slots,
        int64_t rem = s, ioff = 0, ooff = 0;
        for (int k = nk - 1; k >= 0; --k) {
            int d = kd[k];
            int64_t i = rem % shape->dim[d];
            rem /= shape->dim[d];
            ioff += i * in_stride[d];
            ooff += i * out_stride[d];
        }
        double acc = 0.0;
        if (nr == 1) {
            const int64_t st = in_stride[rd[0]];
            for (int64_t j = 0; j < count; ++j) acc += in[ioff + j * st];
        } else {
            int64_t idx[TRE_KDIMS] = {0}, off = ioff;
            for (int64_t j = 0; j < count; ++j) {
                acc += in[off];
                for (int r = nr - 1; r >= 0; --r) { /* odometer over the summed dims */
                    int d = rd[r];
                    off += in_stride[d];
                    if (++idx[r] < shape->dim[d]) break;
                    off -= idx[r] * in_stride[d];
                    idx[r] = 0;
                }
            }
        }
        out[ooff] = (float)acc;
        );
    return 0;
}

int tre_scatter_add_cpu(void *impl, int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                        int64_t k, const float *g, float *out) {
    (void)impl;
    TRE_CPU_FOR(outer * k * inner > TRE_CPU_PARALLEL_MIN, o, outer,
        for (int64_t j = 0; j < k; ++j) {
            const float *src = g + (o * k + j) * inner;
            float *dst = out + (o * n + index[j]) * inner;
            for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
        });
    return 0;
}

int tre_take_cpu(void *impl, int64_t P, int64_t n, const float *values, int64_t vstride,
                 const float *index, int64_t istride, float *out) {
    (void)impl;
    TRE_CPU_FOR(P * n > TRE_CPU_PARALLEL_MIN, p, P,
        const float *v = values + p * vstride, *ix = index + p * istride;
        float *o = out + p * n;
        for (int64_t i = 0; i < n; ++i) o[i] = v[(int64_t)ix[i]];
        );
    return 0;
}

int tre_take_backward_cpu(void *impl, int64_t P, int64_t n, const float *g, const float *index,
                          int64_t istride, float *gvalues, int64_t vstride) {
    (void)impl;
    if (vstride == 0) { /* one shared row: accumulate serially, in particle order */
        for (int64_t p = 0; p < P; ++p)
            for (int64_t i = 0; i < n; ++i) gvalues[(int64_t)index[p * istride + i]] += g[p * n + i];
        return 0;
    }
    TRE_CPU_FOR(P * n > TRE_CPU_PARALLEL_MIN, p, P,
        for (int64_t i = 0; i < n; ++i)
            gvalues[p * vstride + (int64_t)index[p * istride + i]] += g[p * n + i];);
    return 0;
}
