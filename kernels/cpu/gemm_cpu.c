/* CPU matrix products through BLAS (OpenBLAS's cblas_sgemm). */
#include <cblas.h>
#include "cpu_backend.h"

int tre_gemm_cpu(void *impl, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, int64_t strideA, const float *B, int64_t ldb,
                 int64_t strideB, float beta, float *C, int64_t ldc, int64_t strideC, int64_t batch) {
    (void)impl;
    if (M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff) return 1; /* BLAS takes int sizes */
    for (int64_t b = 0; b < batch; ++b)
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    (int)M, (int)N, (int)K, alpha, A + b * strideA, (int)lda, B + b * strideB, (int)ldb,
                    beta, C + b * strideC, (int)ldc);
    return 0;
}
