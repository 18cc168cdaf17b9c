/* CUDA structured constraint transforms over the shared math in kernels/math/transform.h:
 * stick-breaking onto the simplex (a thread per row) and the lower-Cholesky map (a thread per
 * entry), their adjoints, and their log-determinants (a thread per row or matrix, summed in its
 * fixed order). */
#include "cuda_common.cuh"
#include "../math/transform.h"

int tre_simplex_cuda(void *impl, int inverse, int64_t rows, int64_t k, float *out,
                     const float *in) {
    if (k < (inverse ? 2 : 1) || rows < 0) return 1;
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (inverse)
        return tre_cuda_each(im, rows, [=] TRE_CUDA_FN(int64_t r) {
            tre_simplex_inverse_row(k, in + r * k, 1, out + r * (k - 1), 1);
        });
    return tre_cuda_each(im, rows, [=] TRE_CUDA_FN(int64_t r) {
        tre_simplex_forward_row(k, in + r * (k - 1), 1, out + r * k, 1);
    });
}

int tre_simplex_log_det_cuda(void *impl, int64_t rows, int64_t k, float *out, const float *in) {
    if (k < 1 || rows < 0) return 1;
    return tre_cuda_each((tre_cuda_impl *)impl, rows, [=] TRE_CUDA_FN(int64_t r) {
        out[r] = (float)tre_simplex_log_det_row(k, in + r * (k - 1), 1);
    });
}

int tre_lower_cholesky_cuda(void *impl, int inverse, int64_t batch, int64_t n, float *out,
                            const float *in) {
    if (n < 0 || batch < 0) return 1;
    return tre_cuda_each((tre_cuda_impl *)impl, batch * n * n, [=] TRE_CUDA_FN(int64_t t) {
        const int64_t j = t % n, i = t / n % n;
        out[t] = tre_lower_cholesky_entry(inverse, i, j, in[t]);
    });
}

int tre_lower_cholesky_log_det_cuda(void *impl, int64_t batch, int64_t n, float *out,
                                    const float *in) {
    if (n < 0 || batch < 0) return 1;
    return tre_cuda_each((tre_cuda_impl *)impl, batch, [=] TRE_CUDA_FN(int64_t b) {
        out[b] = (float)tre_lower_cholesky_log_det(n, in + b * n * n, n + 1);
    });
}

int tre_simplex_backward_cuda(void *impl, int64_t rows, int64_t k, const float *u, const float *g,
                              float *gu) {
    if (k < 1 || rows < 0) return 1;
    return tre_cuda_each((tre_cuda_impl *)impl, rows, [=] TRE_CUDA_FN(int64_t r) {
        tre_simplex_backward_row(k, u + r * (k - 1), 1, g + r * k, 1, gu + r * (k - 1), 1);
    });
}

int tre_lower_cholesky_backward_cuda(void *impl, int64_t batch, int64_t n, const float *u,
                                     const float *g, float *gu) {
    if (n < 0 || batch < 0) return 1;
    return tre_cuda_each((tre_cuda_impl *)impl, batch * n * n, [=] TRE_CUDA_FN(int64_t t) {
        const int64_t j = t % n, i = t / n % n;
        gu[t] = tre_lower_cholesky_backward_entry(i, j, u[t], g[t]);
    });
}
