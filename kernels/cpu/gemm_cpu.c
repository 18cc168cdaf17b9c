/* CPU matrix products through BLAS (OpenBLAS's cblas_sgemm). A product with nothing to add
 * (K = 0, or alpha = 0) is C = beta C, written here as BLAS defines it (A and B not read; beta = 0
 * writes zeros without reading C) and as the CUDA backend does: OpenBLAS's kernels differ by CPU
 * there (on an AMD EPYC, 0.3.21's sgemm with alpha = 0 multiplies a NaN in A or B into C). */
#include <cblas.h>
#include "cpu_backend.h"

static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
}

int tre_gemm_cpu(void *impl, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, int64_t strideA, const float *B, int64_t ldb,
                 int64_t strideB, float beta, float *C, int64_t ldc, int64_t strideC, int64_t batch) {
    (void)impl;
    if (M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff) return 1; /* BLAS takes int sizes */
    if (K == 0 || alpha == 0.f) {
        for (int64_t b = 0; b < batch; ++b) scale_c(M, N, beta, C + b * strideC, ldc);
        return 0;
    }
    for (int64_t b = 0; b < batch; ++b)
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    (int)M, (int)N, (int)K, alpha, A + b * strideA, (int)lda, B + b * strideB, (int)ldb,
                    beta, C + b * strideC, (int)ldc);
    return 0;
}
