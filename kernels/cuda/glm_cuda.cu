/* The Bernoulli(logits = x . w_p) likelihood on CUDA (backend.h bernoulli_glm_sum), composed of
 * the backend's own pieces rather than fused: cuBLAS writes a chunk of particles' [P, n] logits
 * into scratch, one segmented sum adds each particle's log-masses (in double, in a fixed order,
 * as every log_prob_sum here), one pass turns the logits into y - sigmoid(l) in place, and cuBLAS
 * multiplies those by x for the gradient. Same math as the CPU's fused kernel
 * (kernels/math/bernoulli.h); the GPU's memory bandwidth makes the round trip of the logits far
 * cheaper than on the CPU. A fused kernel (tiles of x in shared memory) is left for when a
 * device can measure it. */
#include "cuda_common.cuh"
#include "../math/bernoulli.h"

/* particle p's log-masses: segment p, term i = data row i */
struct glm_lp_src {
    const float *l, *y;
    int64_t n;
    TRE_CUDA_FN tre_cuda_seg row(int64_t p) const { return tre_cuda_seg_at(p, p * n); }
    TRE_CUDA_FN double term(const tre_cuda_seg &s, int64_t i) const {
        return (double)tre_bernoulli_logits_log_prob(y[i], l[s.base[0] + i]);
    }
};

/* The logits are made for a chunk of particles at a time, at most this many bytes of them, so
 * that the scratch stays bounded whatever P and n (P = 65536 by n = 10^5 would be 26 GB at
 * once). Rows are independent: the chunks give the same results as one pass. The emulated
 * build takes small chunks, so that the parity test goes through more than one. */
#if defined(TRE_CUDA_EMULATE)
#define GLM_LOGITS_CAP ((int64_t)1 << 20)
#else
#define GLM_LOGITS_CAP ((int64_t)1 << 30)
#endif

/* the particles [p0, p0 + P) of the sum; l: the chunk's logits in scratch */
static int glm_chunk(tre_cuda_impl *im, int64_t P, int64_t n, int64_t d, const float *x,
                     const float *w, const float *y, float scale, float *out, float *grad,
                     float *l, size_t lbytes) {
    int rc = 0;
    /* l [P, n] = w [P, d] x^T */
    if (n > 0) rc = tre_gemm_cuda(im, 0, 1, P, n, d, 1.f, w, d, 0, x, d, 0, 0.f, l, n, 0, 1);
    if (!rc) rc = tre_cuda_seg_sum(im, P, n, glm_lp_src{l, y, n}, out, (double)scale, lbytes);
    if (rc || !grad) return rc;
    if (n > 0)
        rc = tre_cuda_each(im, P * n, [=] TRE_CUDA_FN(int64_t i) {
            l[i] = tre_bernoulli_logits_dlp_dlogits(y[i % n], l[i]);
        });
    /* grad [P, d] = scale * l [P, n] x [n, d] (n = 0: zeros) */
    if (!rc) rc = tre_gemm_cuda(im, 0, 0, P, d, n, scale, l, n, 0, x, d, 0, 0.f, grad, d, 0, 1);
    return rc;
}

int tre_bernoulli_glm_sum_cuda(void *impl, int64_t P, int64_t n, int64_t d, const float *x,
                               const float *w, const float *y, float scale, float *out,
                               float *grad) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (P < 0 || n < 0 || d < 0) return 1;
    if (P == 0) return 0;
    const int64_t chunk = tre_cuda_chunk_rows(P, n * (int64_t)sizeof(float), GLM_LOGITS_CAP);
    /* the logits at the front of the scratch, the segmented sum's part after them: asked for
     * at once, so that the sum cannot move the scratch under the logits */
    const size_t lbytes = tre_cuda_align((size_t)(chunk * n) * sizeof(float));
    size_t sum_bytes = tre_cuda_seg_scratch_bytes(chunk, n); /* the last, shorter chunk's too */
    if (P % chunk && tre_cuda_seg_scratch_bytes(P % chunk, n) > sum_bytes)
        sum_bytes = tre_cuda_seg_scratch_bytes(P % chunk, n);
    float *l = (float *)tre_cuda_scratch(im, lbytes + sum_bytes + 1);
    if (!l) return tre_cuda_scratch_error(im);
    for (int64_t p0 = 0; p0 < P; p0 += chunk) {
        const int64_t pc = P - p0 < chunk ? P - p0 : chunk;
        int rc = glm_chunk(im, pc, n, d, x, w + p0 * d, y, scale, out + p0,
                           grad ? grad + p0 * d : NULL, l, lbytes);
        if (rc) return rc;
    }
    return 0;
}
