/* The fused Bernoulli(logits = x . w_p) likelihood on the CPU (backend.h bernoulli_glm_sum): a
 * logistic regression's value and gradient in one pass that never writes the [P, n] logits.
 *
 * Unfused, the step is a GEMM writing the logits (40 MB at P = 1024, n = 10,000), a pass of
 * log-masses reading them, a pass writing their gradient, and a second GEMM reading it: twice
 * the time of the two products alone on this project's machines. Here, per block of GLM_R
 * particles (single particles for the last P % GLM_R) and tile of GLM_T data rows, all in
 * GLM_R x GLM_C vector registers:
 *  - the forward product (x packed once per call as [d, n], tiles padded with zeros, so that each
 *    step loads whole vectors);
 *  - the tile's log-masses x l - max(l, 0) - log1p(e), e = exp(-|l|), summed per particle and
 *    lane: the first part in float over the tile, then in double; the log1p as the log of the
 *    product of 1 + e over GLM_FOLD tiles (one multiply-add per row instead of log1p's
 *    polynomial: 10% of the step at P = 1024; the products' rounding is that of a float sum);
 *  - y - sigmoid(l), over vmath_v16.h's lane-for-lane twins of the unfused kernels' math (the
 *    same bits);
 *  - the gradient product from those registers into the block's [GLM_R, d] partial sums (L1).
 * Each particle's sums run in a fixed order (tile by tile), whatever the thread count. */
#include <stdlib.h>
#include <string.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "vmath_v16.h"

#define GLM_R 6            /* particles per register block */
#define GLM_C 4            /* vectors of 16 data rows per tile */
#define GLM_T (16 * GLM_C) /* data rows per tile */
#define GLM_FOLD 16        /* tiles per product of 1 + e (64 factors in [1, 2]: under 2^64) */

typedef double glm_v8d __attribute__((vector_size(64)));
typedef float glm_v8f __attribute__((vector_size(32)));

/* acc (8 double lanes x 2) += the 16 float lanes of v */
static inline void add_to_double(glm_v8d *acc, tre_v16 v) {
    glm_v8f h[2];
    memcpy(h, &v, sizeof v);
    acc[0] += __builtin_convertvector(h[0], glm_v8d);
    acc[1] += __builtin_convertvector(h[1], glm_v8d);
}

/* log1p(s) = k log 2 + f lane by lane, for s in [0, 2^64) or NaN: returns f and sets *k (an
 * integer, 0 where s <= 1 or NaN). s <= 1: f = log1p(s) (a tiny s keeps its relative accuracy);
 * else 1 + s = (1 + m) 2^k with m in [0, 1) exactly and f = log1p(m). k log 2 is left to the
 * caller, in double. */
static inline tre_v16 log1p_split(tre_v16 s, tre_v16 *k) {
    const tre_i16 bits = (tre_i16)(1.0f + s);
    const tre_i16 small = (s <= 1.0f) | (s != s);
    *k = tre_v16_select(small, (tre_v16){0}, __builtin_convertvector((bits >> 23) - 127, tre_v16));
    const tre_v16 m = (tre_v16)((bits & 0x007fffff) | 0x3f800000) - 1.0f;
    return tre_v16_log1p_unit(tre_v16_select(small, s, m));
}

/* One block of R particles (w: their [R, d] coefficients) over all tiles: R = GLM_R, or 1 for
 * the last P % GLM_R particles. Always inlined into the two callers below, so that R is a
 * constant there and a[R][GLM_C] lives in registers. gacc: R * d vectors of scratch (NULL: no
 * gradient). */
static inline __attribute__((always_inline)) void
glm_rows(const int R, int64_t n, int64_t np, int64_t d, const float *xt, const float *yp,
         const float *w, float scale, tre_v16 *gacc, float *out, float *grad) {
    if (gacc) memset(gacc, 0, (size_t)(R * d) * sizeof *gacc);
    /* per particle and lane: the sum of x l - max(l, 0) and of -log1p's f parts (lp), of its
     * k parts (lk), and the product of 1 + e since the last fold, less 1 (tail: a tiny product
     * keeps its relative accuracy) */
    glm_v8d lp[GLM_R][2], lk[GLM_R][2];
    memset(lp, 0, sizeof lp);
    memset(lk, 0, sizeof lk);
    tre_v16 tail[GLM_R];
    for (int r = 0; r < R; ++r) tail[r] = (tre_v16){0};
    const tre_i16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int64_t t0 = 0; t0 < np; t0 += GLM_T) {
        tre_v16 a[GLM_R][GLM_C];
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < GLM_C; ++c) a[r][c] = (tre_v16){0};
        for (int64_t j = 0; j < d; ++j) {
            tre_v16 xv[GLM_C];
            for (int c = 0; c < GLM_C; ++c) xv[c] = tre_v16_load(xt + j * np + t0 + 16 * c);
            for (int r = 0; r < R; ++r) {
                const tre_v16 wr = tre_v16_splat(w[r * d + j]);
                for (int c = 0; c < GLM_C; ++c) a[r][c] = tre_v16_fma(wr, xv[c], a[r][c]);
            }
        }
        /* the log-masses and their gradient; rows of the last tile past n (padding) count 0 */
        tre_v16 sum[GLM_R];
        for (int r = 0; r < R; ++r) sum[r] = (tre_v16){0};
        for (int c = 0; c < GLM_C; ++c) {
            const tre_v16 y = tre_v16_load(yp + t0 + 16 * c);
            const tre_i16 in = iota < (int32_t)(n - t0 - 16 * c < 16 ? n - t0 - 16 * c : 16);
            for (int r = 0; r < R; ++r) {
                const tre_v16 l = a[r][c], e = tre_v16_bernoulli_e(l);
                sum[r] += tre_v16_select(in, tre_v16_bernoulli_logits_linear(y, l), (tre_v16){0});
                /* (1 + tail)(1 + e) - 1 */
                tail[r] = tre_v16_fma(tail[r], tre_v16_select(in, 1.0f + e, tre_v16_splat(1.f)),
                                      tre_v16_select(in, e, (tre_v16){0}));
                if (gacc)
                    a[r][c] = tre_v16_select(in, tre_v16_bernoulli_logits_dlp_dlogits_e(y, l, e), (tre_v16){0});
            }
        }
        for (int r = 0; r < R; ++r) add_to_double(lp[r], sum[r]);
        if ((t0 / GLM_T) % GLM_FOLD == GLM_FOLD - 1 || t0 + GLM_T == np)
            for (int r = 0; r < R; ++r) {
                tre_v16 k;
                add_to_double(lp[r], -log1p_split(tail[r], &k));
                add_to_double(lk[r], k);
                tail[r] = (tre_v16){0};
            }
        if (!gacc) continue;
        for (int64_t j = 0; j < d; ++j) {
            tre_v16 xv[GLM_C];
            for (int c = 0; c < GLM_C; ++c) xv[c] = tre_v16_load(xt + j * np + t0 + 16 * c);
            for (int r = 0; r < R; ++r) {
                tre_v16 g = gacc[r * d + j];
                for (int c = 0; c < GLM_C; ++c) g = tre_v16_fma(a[r][c], xv[c], g);
                gacc[r * d + j] = g;
            }
        }
    }
    for (int r = 0; r < R; ++r) {
        double s = 0, k2 = 0;
        for (int h = 0; h < 2; ++h)
            for (int k = 0; k < 8; ++k) s += lp[r][h][k], k2 += lk[r][h][k];
        s -= k2 * 0.693147180559945309;
        out[r] = (float)(scale * s);
        if (!gacc) continue;
        for (int64_t j = 0; j < d; ++j) {
            float g = 0.f;
            for (int k = 0; k < 16; ++k) g += gacc[r * d + j][k];
            grad[r * d + j] = scale * g;
        }
    }
}

static void glm_block(int64_t n, int64_t np, int64_t d, const float *xt, const float *yp,
                      const float *w, float scale, tre_v16 *gacc, float *out, float *grad) {
    glm_rows(GLM_R, n, np, d, xt, yp, w, scale, gacc, out, grad);
}
static void glm_row(int64_t n, int64_t np, int64_t d, const float *xt, const float *yp,
                    const float *w, float scale, tre_v16 *gacc, float *out, float *grad) {
    glm_rows(1, n, np, d, xt, yp, w, scale, gacc, out, grad);
}

int tre_bernoulli_glm_sum_cpu(void *impl, int64_t P, int64_t n, int64_t d, const float *x,
                              const float *w, const float *y, float scale, float *out, float *grad) {
    if (P < 0 || n < 0 || d < 0) return 1;
    if (P == 0) return 0;
    const int64_t tiles = (n + GLM_T - 1) / GLM_T, np = tiles * GLM_T;
    /* x packed as [d, np] then y padded to np, in the backend's scratch */
    float *xt = tre_cpu_scratch(impl, (size_t)((d + 1) * np) * sizeof(float) + 64);
    if (!xt) return TRE_KERR_OOM;
    float *yp = xt + d * np;
    const bool parallel = P * (n + 1) * (d + 1) >= TRE_CPU_PARALLEL_MIN;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t t = 0; t < tiles; ++t)
        for (int64_t i = t * GLM_T; i < (t + 1) * GLM_T; ++i) {
            for (int64_t j = 0; j < d; ++j) xt[j * np + i] = i < n ? x[i * d + j] : 0.f;
            yp[i] = i < n ? y[i] : 0.f;
        }
    /* work items: whole blocks of GLM_R particles, then one item per particle left over */
    const int64_t blocks = P / GLM_R, items = blocks + P % GLM_R;
    int failed = 0;
#pragma omp parallel if (parallel)
    {
        /* per thread, small; not carved from the scratch right after the packed x: that
         * measured 7% slower (their stores beside x's loads; 4 KiB aliasing, presumably) */
        tre_v16 *gacc = grad ? aligned_alloc(64, (size_t)(GLM_R * d + 1) * sizeof *gacc) : NULL;
        const bool ok = gacc || !grad;
        if (!ok) {
            TRE_CPU_ATOMIC_WRITE
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t b = 0; b < items; ++b) {
            if (!ok) continue;
            const int64_t p0 = b < blocks ? b * GLM_R : blocks * GLM_R + (b - blocks);
            (b < blocks ? glm_block : glm_row)(n, np, d, xt, yp, w + p0 * d, scale, gacc, out + p0,
                                               grad ? grad + p0 * d : NULL);
        }
        free(gacc);
    }
    return failed ? TRE_KERR_OOM : 0;
}
