/* CPU kernels of the structured constraint transforms (simplex, lower Cholesky): one row or
 * matrix per iteration over the shared math in kernels/math/transform.h, OpenMP over rows.
 * Param transforms run once per step on small tensors, so the double-precision scalar math is
 * not a hot loop worth vectorizing. */
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "../math/transform.h"

/* Transcendentals make each element cost far more than an add: go parallel sooner. */
#define TRE_CPU_TRANSFORM_PARALLEL_MIN (TRE_CPU_PARALLEL_MIN / 8)

int tre_simplex_cpu(void *impl, int inverse, int64_t rows, int64_t k, float *out,
                    const float *in) {
    (void)impl;
    if (k < (inverse ? 2 : 1) || rows < 0) return 1;
#pragma omp parallel for schedule(static) if (rows * k > TRE_CPU_TRANSFORM_PARALLEL_MIN && rows > 1)
    for (int64_t r = 0; r < rows; ++r) {
        if (inverse)
            tre_simplex_inverse_row(k, in + r * k, 1, out + r * (k - 1), 1);
        else
            tre_simplex_forward_row(k, in + r * (k - 1), 1, out + r * k, 1);
    }
    return 0;
}

int tre_simplex_log_det_cpu(void *impl, int64_t rows, int64_t k, float *out, const float *in) {
    (void)impl;
    if (k < 1 || rows < 0) return 1;
#pragma omp parallel for schedule(static) if (rows * k > TRE_CPU_TRANSFORM_PARALLEL_MIN && rows > 1)
    for (int64_t r = 0; r < rows; ++r)
        out[r] = (float)tre_simplex_log_det_row(k, in + r * (k - 1), 1);
    return 0;
}

int tre_lower_cholesky_cpu(void *impl, int inverse, int64_t batch, int64_t n, float *out,
                           const float *in) {
    (void)impl;
    if (n < 0 || batch < 0) return 1;
#pragma omp parallel for schedule(static) if (batch * n * n > TRE_CPU_PARALLEL_MIN && batch > 1)
    for (int64_t b = 0; b < batch; ++b)
        tre_lower_cholesky_matrix(inverse, n, in + b * n * n, n, 1, out + b * n * n, n, 1);
    return 0;
}

int tre_lower_cholesky_log_det_cpu(void *impl, int64_t batch, int64_t n, float *out,
                                   const float *in) {
    (void)impl;
    if (n < 0 || batch < 0) return 1;
#pragma omp parallel for schedule(static) if (batch * n > TRE_CPU_PARALLEL_MIN && batch > 1)
    for (int64_t b = 0; b < batch; ++b)
        out[b] = (float)tre_lower_cholesky_log_det(n, in + b * n * n, n + 1);
    return 0;
}

int tre_simplex_backward_cpu(void *impl, int64_t rows, int64_t k, const float *u, const float *g,
                             float *gu) {
    (void)impl;
    if (k < 1 || rows < 0) return 1;
    TRE_CPU_FOR(rows * k > TRE_CPU_TRANSFORM_PARALLEL_MIN && rows > 1, r, rows,
        tre_simplex_backward_row(k, u + r * (k - 1), 1, g + r * k, 1, gu + r * (k - 1), 1););
    return 0;
}

int tre_lower_cholesky_backward_cpu(void *impl, int64_t batch, int64_t n, const float *u,
                                    const float *g, float *gu) {
    (void)impl;
    if (n < 0 || batch < 0) return 1;
    TRE_CPU_FOR(batch * n * n > TRE_CPU_PARALLEL_MIN && batch > 1, b, batch,
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < n; ++j) {
                int64_t o = b * n * n + i * n + j;
                gu[o] = tre_lower_cholesky_backward_entry(i, j, u[o], g[o]);
            });
    return 0;
}
