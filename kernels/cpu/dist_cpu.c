/* CPU distribution kernels: elementwise log-densities and reparameterized draws over the
 * shared math in kernels/math, with the shared Philox stream. */
#include <math.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "../math/normal.h"
#include "../math/philox.h"

int tre_log_prob_cpu(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                     const tre_karg *value, const tre_karg *params) {
    (void)impl;
    if (kind != TRE_KDIST_NORMAL) return 1;
    tre_cpu_runs R;
    tre_cpu_runs_init(&R, shape);
    const int64_t *st[4] = {NULL, value->stride, params[0].stride, params[1].stride};
    const int64_t sx = tre_cpu_inner_stride(&R, value->stride);
    const int64_t sl = tre_cpu_inner_stride(&R, params[0].stride);
    const int64_t ss = tre_cpu_inner_stride(&R, params[1].stride);
#pragma omp parallel for schedule(static) if (R.total > TRE_CPU_PARALLEL_MIN)
    for (int64_t k = 0; k < R.nruns; ++k) {
        int64_t off[4];
        int64_t len = tre_cpu_run_at(&R, k, 4, st, off);
        float *o = out + off[0];
        const float *x = value->data + off[1], *loc = params[0].data + off[2],
                    *sc = params[1].data + off[3];
        for (int64_t i = 0; i < len; ++i)
            o[i] = tre_normal_log_prob(x[i * sx], loc[i * sl], sc[i * ss]);
    }
    return 0;
}

int tre_sample_cpu(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                   const tre_karg *params, uint64_t seed, uint64_t stream) {
    (void)impl;
    if (kind != TRE_KDIST_NORMAL) return 1;
    tre_cpu_runs R;
    tre_cpu_runs_init(&R, shape);
    const int64_t *st[3] = {NULL, params[0].stride, params[1].stride};
    const int64_t sl = tre_cpu_inner_stride(&R, params[0].stride);
    const int64_t ss = tre_cpu_inner_stride(&R, params[1].stride);
#pragma omp parallel for schedule(static) if (R.total > TRE_CPU_PARALLEL_MIN / 8)
    for (int64_t k = 0; k < R.nruns; ++k) {
        int64_t off[3];
        int64_t len = tre_cpu_run_at(&R, k, 3, st, off);
        float *o = out + off[0];
        const float *loc = params[0].data + off[1], *sc = params[1].data + off[2];
        for (int64_t i = 0; i < len; ++i) {
            uint64_t e = (uint64_t)(off[0] + i);
            tre_u32x4 w = tre_philox_block(seed, stream, e >> 2);
            float eps = tre_philox_normal(w, (int)(e & 3));
            o[i] = tre_normal_rsample(eps, loc[i * sl], sc[i * ss]);
        }
    }
    return 0;
}
