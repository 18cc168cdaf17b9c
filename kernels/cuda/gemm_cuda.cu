/* CUDA matrix products through cuBLAS (full fp32, no TF32). cuBLAS is column-major: a
 * row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, so the call swaps the
 * operands and keeps the transpose flags. A batch is strided-batched calls of at most 65535
 * products (stride 0 shares an operand across the batch); a shared C is accumulated one
 * product after another, in order. */
#include "cuda_common.cuh"

/* C = beta C, for each product (a shared C, strideC 0, is scaled once a product, as it would
 * be accumulated): what a gemm with nothing to add (K = 0, or alpha = 0) leaves, as BLAS
 * defines it (beta = 0: C is not read, so NaN there goes). Written here in both builds rather
 * than left to cuBLAS, which does not document k = 0 (some versions return without writing C)
 * and would read A and B with alpha = 0. */
static int scale_c(tre_cuda_impl *im, int64_t M, int64_t N, float beta, float *C, int64_t ldc,
                   int64_t strideC, int64_t batch) {
    const int64_t mats = strideC ? batch : 1, times = strideC ? 1 : batch, mn = M * N;
    return tre_cuda_each(im, mats * mn, [=] TRE_CUDA_FN(int64_t e) {
        float *c = C + (e / mn) * strideC + (e % mn) / N * ldc + e % N;
        float v = 0.f;
        if (beta != 0.f) {
            v = *c;
            for (int64_t t = 0; t < times; ++t) v *= beta;
        }
        *c = v;
    });
}

int tre_gemm_cuda(void *impl, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, int64_t strideA, const float *B, int64_t ldb,
                  int64_t strideB, float beta, float *C, int64_t ldc, int64_t strideC,
                  int64_t batch) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    const int64_t big = 0x7fffffff; /* cuBLAS takes int sizes */
    if (M < 0 || N < 0 || K < 0 || batch < 0 || M > big || N > big || K > big || lda > big ||
        ldb > big || ldc > big || batch > big)
        return 1;
    if (M == 0 || N == 0 || batch == 0) return 0;
    if (K == 0 || alpha == 0.f) return scale_c(im, M, N, beta, C, ldc, strideC, batch);
#if defined(TRE_CUDA_EMULATE)
    return tre_cuda_emu_run(im, [=]() {
        for (int64_t b = 0; b < batch; ++b) {
            const float *a = A + b * strideA, *bb = B + b * strideB;
            float *c = C + b * strideC;
            for (int64_t i = 0; i < M; ++i)
                for (int64_t j = 0; j < N; ++j) {
                    float acc = 0.f;
                    for (int64_t l = 0; l < K; ++l)
                        acc += (transA ? a[l * lda + i] : a[i * lda + l]) *
                               (transB ? bb[j * ldb + l] : bb[l * ldb + j]);
                    float *cij = c + i * ldc + j;
                    *cij = beta == 0.f ? alpha * acc : alpha * acc + beta * *cij;
                }
        }
    });
#else
    const cublasOperation_t opA = transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t opB = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (batch == 1 || strideC == 0) {
        for (int64_t b = 0; b < batch; ++b) {
            int rc = tre_cuda_blas_status(cublasSgemm(im->blas, opB, opA, (int)N, (int)M, (int)K, &alpha,
                                             B + b * strideB, (int)ldb, A + b * strideA, (int)lda,
                                             &beta, C + b * strideC, (int)ldc));
            if (rc) return rc;
        }
        return 0;
    }
    /* at most 65535 products a call: batched kernels that put the batch on a grid's y or z
     * dim cannot launch more, and P = 65536 particles is a batch of 65536 */
    const int64_t most = 65535;
    for (int64_t b0 = 0; b0 < batch; b0 += most) {
        const int64_t n = batch - b0 < most ? batch - b0 : most;
        int rc = tre_cuda_blas_status(cublasSgemmStridedBatched(
            im->blas, opB, opA, (int)N, (int)M, (int)K, &alpha, B + b0 * strideB, (int)ldb,
            strideB, A + b0 * strideA, (int)lda, strideA, &beta, C + b0 * strideC, (int)ldc,
            strideC, (int)n));
        if (rc) return rc;
    }
    return 0;
#endif
}
