/* The fused Bernoulli(logits = x . w_p) likelihood on the CPU (backend.h bernoulli_glm_sum): a
 * logistic regression's value and gradient in one pass that never writes the [P, n] logits.
 *
 * Unfused, the step is a GEMM writing the logits (40 MB at P = 1024, n = 10,000), a pass of
 * log-masses reading them, a pass writing their gradient, and a second GEMM reading it: twice
 * the time of the two products alone on this project's machines. Here, per block of GLM_R
 * particles and tile of GLM_T data rows, the forward product runs into GLM_R x GLM_C vector
 * registers, the tile's log-masses and y - sigmoid(l) are formed in L1
 * (tre_bernoulli_logits_glm_tile, the unfused kernels' own math), and the gradient product
 * reads them back from L1 into the block's [GLM_R, d] partial sums. x is packed once per call
 * as [d, n] (tiles padded with zeros), so each step of the products loads whole vectors.
 *
 * The vectors are GCC's generic vector extension (AVX-512 registers under -march=native; the
 * compiler splits them on narrower machines). This file alone is compiled with
 * -ffp-contract=fast (CMakeLists.txt) so that the products are fused multiply-adds, as in BLAS;
 * the log-density math lives in dist_discrete_cpu.c and rounds exactly as the unfused kernel.
 * Each particle's sums run in a fixed order (tile by tile), whatever the thread count. */
#include <stdlib.h>
#include <string.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "dist_families_cpu.h"

#define GLM_R 6            /* particles per register block */
#define GLM_T TRE_GLM_TILE /* data rows per tile */
#define GLM_C (GLM_T / 16) /* vectors of 16 data rows per tile */

typedef float glm_v16 __attribute__((vector_size(64)));

static inline glm_v16 load16(const float *p) {
    glm_v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* One block of `rows` <= GLM_R particles (w: their [rows, d] coefficients) over all tiles.
 * wb: GLM_R * d floats of scratch; gacc: GLM_R * d vectors (NULL: no gradient). */
static void glm_block(int rows, int64_t n, int64_t np, int64_t d, const float *xt, const float *yp,
                      const float *w, float scale, float *wb, glm_v16 *gacc, float *out,
                      float *grad) {
    for (int r = 0; r < GLM_R; ++r) /* rows past the last particle: zero coefficients */
        for (int64_t j = 0; j < d; ++j) wb[r * d + j] = r < rows ? w[r * d + j] : 0.f;
    if (gacc) memset(gacc, 0, (size_t)(GLM_R * d) * sizeof *gacc);
    double lp[GLM_R] = {0};
    _Alignas(64) float l[GLM_R * GLM_T];
    for (int64_t t0 = 0; t0 < np; t0 += GLM_T) {
        glm_v16 a[GLM_R][GLM_C];
        for (int r = 0; r < GLM_R; ++r)
            for (int c = 0; c < GLM_C; ++c) a[r][c] = (glm_v16){0};
        for (int64_t j = 0; j < d; ++j) {
            glm_v16 xv[GLM_C];
            for (int c = 0; c < GLM_C; ++c) xv[c] = load16(xt + j * np + t0 + 16 * c);
            for (int r = 0; r < GLM_R; ++r) {
                const float wr = wb[r * d + j];
                for (int c = 0; c < GLM_C; ++c) a[r][c] += wr * xv[c];
            }
        }
        for (int r = 0; r < GLM_R; ++r)
            for (int c = 0; c < GLM_C; ++c) memcpy(l + r * GLM_T + 16 * c, &a[r][c], sizeof a[r][c]);
        const int64_t valid = n - t0 < GLM_T ? n - t0 : GLM_T;
        tre_bernoulli_logits_glm_tile(GLM_R, valid, l, yp + t0, gacc != NULL, lp);
        if (!gacc) continue;
        for (int r = 0; r < GLM_R; ++r)
            for (int c = 0; c < GLM_C; ++c) a[r][c] = load16(l + r * GLM_T + 16 * c);
        for (int64_t j = 0; j < d; ++j) {
            glm_v16 xv[GLM_C];
            for (int c = 0; c < GLM_C; ++c) xv[c] = load16(xt + j * np + t0 + 16 * c);
            for (int r = 0; r < GLM_R; ++r) {
                glm_v16 g = gacc[r * d + j];
                for (int c = 0; c < GLM_C; ++c) g += a[r][c] * xv[c];
                gacc[r * d + j] = g;
            }
        }
    }
    for (int r = 0; r < rows; ++r) {
        out[r] = (float)(scale * lp[r]);
        if (!gacc) continue;
        for (int64_t j = 0; j < d; ++j) {
            float s = 0.f;
            for (int k = 0; k < 16; ++k) s += gacc[r * d + j][k];
            grad[r * d + j] = scale * s;
        }
    }
}

int tre_bernoulli_glm_sum_cpu(void *impl, int64_t P, int64_t n, int64_t d, const float *x,
                              const float *w, const float *y, float scale, float *out, float *grad) {
    (void)impl;
    if (P < 0 || n < 0 || d < 0) return 1;
    if (P == 0) return 0;
    const int64_t tiles = (n + GLM_T - 1) / GLM_T, np = tiles * GLM_T;
    /* x packed as [d, np] then y padded to np: a multiple of 64 floats, as aligned_alloc wants */
    float *xt = np > 0 ? aligned_alloc(64, (size_t)((d + 1) * np) * sizeof(float)) : NULL;
    if (np > 0 && !xt) return TRE_KERR_OOM;
    float *yp = xt ? xt + d * np : NULL;
    const bool parallel = P * (n + 1) * (d + 1) >= TRE_CPU_PARALLEL_MIN;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t t = 0; t < tiles; ++t)
        for (int64_t i = t * GLM_T; i < (t + 1) * GLM_T; ++i) {
            for (int64_t j = 0; j < d; ++j) xt[j * np + i] = i < n ? x[i * d + j] : 0.f;
            yp[i] = i < n ? y[i] : 0.f;
        }
    const int64_t blocks = (P + GLM_R - 1) / GLM_R;
    int failed = 0;
#pragma omp parallel if (parallel)
    {
        float *wb = malloc((size_t)(GLM_R * d + 1) * sizeof *wb);
        glm_v16 *gacc = grad ? aligned_alloc(64, (size_t)(GLM_R * d + 1) * sizeof *gacc) : NULL;
        const bool ok = wb && (gacc || !grad);
        if (!ok) {
            TRE_CPU_ATOMIC_WRITE
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t b = 0; b < blocks; ++b) {
            if (!ok) continue;
            const int64_t p0 = b * GLM_R;
            const int rows = P - p0 < GLM_R ? (int)(P - p0) : GLM_R;
            glm_block(rows, n, np, d, xt, yp, w + p0 * d, scale, wb, gacc, out + p0,
                      grad ? grad + p0 * d : NULL);
        }
        free(wb);
        free(gacc);
    }
    free(xt);
    return failed ? TRE_KERR_OOM : 0;
}
