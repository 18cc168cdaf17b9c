/* Bernoulli(logits = a_i + s b_j) summed over an [M, N] grid on the CPU (backend.h
 * bernoulli_outer_sum): an item-response or Bradley-Terry likelihood's value and gradient in one
 * pass that never writes the [P, M, N] logits, their log-masses or their gradient.
 *
 * Per particle, row by row: the logits a_i + s b_j of 16 columns at a time in a vector register
 * (the row padded to whole vectors: y and b copied once per call and per particle, padding
 * masked), the log-mass and y - sigmoid(l) through vmath_v16.h's twins of the unfused kernels'
 * math (each term the unfused kernel's bits), the row's gradient sum into ga, the columns' into
 * a per-thread accumulator. Each particle's sums run in a fixed order, whatever the thread count:
 * log-masses in float over a row, then in double. */
#include <stdlib.h>
#include <string.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "vmath_v16.h"

/* one particle: a [M], b [np] (padded), yp [M, np] (padded), col: np floats of scratch */
static void outer_particle(int64_t M, int64_t N, int64_t np, const float *a, const float *b,
                           float sign, const float *yp, float scale, float *out, float *ga,
                           float *gb, float *col) {
    const int64_t nv = np / 16;
    const tre_i16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const tre_i16 last_in = iota < (int32_t)(N - 16 * (nv - 1));
    const tre_v16 s = tre_v16_splat(sign);
    if (gb) memset(col, 0, (size_t)np * sizeof *col);
    double lp = 0.0;
    for (int64_t i = 0; i < M; ++i) {
        const tre_v16 ai = tre_v16_splat(a[i]);
        tre_v16 sum = (tre_v16){0}, gs = (tre_v16){0};
        for (int64_t c = 0; c < nv; ++c) {
            const tre_i16 in = c == nv - 1 ? last_in : (tre_i16){0} == 0;
            const tre_v16 y = tre_v16_load(yp + i * np + 16 * c);
            const tre_v16 l = tre_v16_fma(s, tre_v16_load(b + 16 * c), ai);
            const tre_v16 e = tre_v16_bernoulli_e(l);
            sum += tre_v16_select(in, tre_v16_bernoulli_logits_log_prob_e(y, l, e), (tre_v16){0});
            if (!ga) continue;
            const tre_v16 g = tre_v16_select(in, tre_v16_bernoulli_logits_dlp_dlogits_e(y, l, e), (tre_v16){0});
            gs += g;
            tre_v16 cv = tre_v16_load(col + 16 * c);
            cv += g;
            memcpy(col + 16 * c, &cv, sizeof cv);
        }
        lp += (double)tre_v16_hsum(sum);
        if (ga) ga[i] = scale * tre_v16_hsum(gs);
    }
    *out = (float)((double)scale * lp);
    if (gb)
        for (int64_t j = 0; j < N; ++j) gb[j] = scale * sign * col[j];
}

int tre_bernoulli_outer_sum_cpu(void *impl, int64_t P, int64_t M, int64_t N, const float *a,
                                int64_t a_pstride, const float *b, int64_t b_pstride, float sign,
                                const float *y, float scale, float *out, float *ga, float *gb) {
    if (P < 0 || M < 0 || N < 0 || (ga == NULL) != (gb == NULL)) return 1;
    if (P == 0) return 0;
    if (M == 0 || N == 0) {
        for (int64_t p = 0; p < P; ++p) out[p] = 0.f;
        if (ga) memset(ga, 0, (size_t)(P * M) * sizeof *ga), memset(gb, 0, (size_t)(P * N) * sizeof *gb);
        return 0;
    }
    const int64_t np = (N + 15) / 16 * 16;
    /* y padded to [M, np] in the backend's scratch */
    float *yp = tre_cpu_scratch(impl, (size_t)(M * np) * sizeof(float) + 64);
    if (!yp) return TRE_KERR_OOM;
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < np; ++j) yp[i * np + j] = j < N ? y[i * N + j] : 0.f;
    const bool parallel = P * M * N >= TRE_CPU_PARALLEL_MIN;
    int failed = 0;
#pragma omp parallel if (parallel)
    {
        /* per thread: b's row padded, and the column sums */
        float *buf = aligned_alloc(64, (size_t)(2 * np) * sizeof(float));
        if (!buf) {
            TRE_CPU_ATOMIC_WRITE
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t p = 0; p < P; ++p) {
            if (!buf) continue;
            const float *bp = b + p * b_pstride;
            for (int64_t j = 0; j < np; ++j) buf[j] = j < N ? bp[j] : 0.f;
            outer_particle(M, N, np, a + p * a_pstride, buf, sign, yp, scale, out + p,
                           ga ? ga + p * M : NULL, gb ? gb + p * N : NULL, buf + np);
        }
        free(buf);
    }
    return failed ? TRE_KERR_OOM : 0;
}
