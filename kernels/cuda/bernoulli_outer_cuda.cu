/* Bernoulli(logits = a_i + sign * b_j) over an [M, N] grid on CUDA (backend.h
 * bernoulli_outer_sum), as three segmented sums over the same per-element math
 * (kernels/math/bernoulli.h), none of which writes the [P, M, N] logits: the log-masses per
 * particle, their derivatives per (particle, row) for ga, and per (particle, column) for gb,
 * each in double in an order fixed by the sizes (tre_cuda_seg_sum: no atomics). The derivative
 * is computed twice (once per operand); a one-pass kernel with a deterministic column reduction
 * is left for when a device can measure it. */
#include "cuda_common.cuh"
#include "../math/bernoulli.h"

struct outer_args {
    const float *a, *b, *y;
    int64_t M, N, as, bs;
    float sign;
    TRE_CUDA_FN float logit(int64_t p, int64_t i, int64_t j) const {
        return TRE_FMAF(sign, b[p * bs + j], a[p * as + i]); /* one rounding, as a +- b */
    }
};

/* segment p: its M * N log-masses */
struct outer_lp_src {
    outer_args g;
    TRE_CUDA_FN tre_cuda_seg row(int64_t p) const { return tre_cuda_seg_at(p, p); }
    TRE_CUDA_FN double term(const tre_cuda_seg &s, int64_t k) const {
        const int64_t i = k / g.N, j = k % g.N;
        return (double)tre_bernoulli_logits_log_prob(g.y[k], g.logit(s.base[0], i, j));
    }
};
/* the derivatives by row (segment p * M + i, for ga) or by column (segment p * N + j, times sign,
 * for gb) */
struct outer_grad_src {
    outer_args g;
    bool cols;
    TRE_CUDA_FN tre_cuda_seg row(int64_t r) const {
        const int64_t n = cols ? g.N : g.M;
        tre_cuda_seg s;
        s.out = r;
        s.base[0] = r / n;
        s.base[1] = r % n;
        return s;
    }
    TRE_CUDA_FN double term(const tre_cuda_seg &s, int64_t t) const {
        const int64_t i = cols ? t : s.base[1], j = cols ? s.base[1] : t;
        const double d = tre_bernoulli_logits_dlp_dlogits(g.y[i * g.N + j], g.logit(s.base[0], i, j));
        return cols ? (double)g.sign * d : d;
    }
};

int tre_bernoulli_outer_sum_cuda(void *impl, int64_t P, int64_t M, int64_t N, const float *a,
                                 int64_t a_pstride, const float *b, int64_t b_pstride, float sign,
                                 const float *y, float scale, float *out, float *ga, float *gb) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (P < 0 || M < 0 || N < 0 || (ga == NULL) != (gb == NULL)) return 1;
    if (P == 0) return 0;
    const outer_args g = {a, b, y, M, N, a_pstride, b_pstride, sign};
    /* the sums' own scratch, asked for at once so that it cannot move between them */
    size_t need = tre_cuda_seg_scratch_bytes(P, M * N);
    if (ga) {
        const size_t r = tre_cuda_seg_scratch_bytes(P * M, N), c = tre_cuda_seg_scratch_bytes(P * N, M);
        need = need > r ? need : r;
        need = need > c ? need : c;
    }
    if (need && !tre_cuda_scratch(im, need)) return tre_cuda_scratch_error(im);
    int rc = 0;
    if (M * N == 0)
        rc = tre_cuda_each(im, P, [=] TRE_CUDA_FN(int64_t p) { out[p] = 0.f; });
    else
        rc = tre_cuda_seg_sum(im, P, M * N, outer_lp_src{g}, out, (double)scale);
    if (rc || !ga) return rc;
    if (M > 0) {
        if (N > 0) rc = tre_cuda_seg_sum(im, P * M, N, outer_grad_src{g, false}, ga, (double)scale);
        else rc = tre_cuda_each(im, P * M, [=] TRE_CUDA_FN(int64_t k) { ga[k] = 0.f; });
    }
    if (!rc && N > 0) {
        if (M > 0) rc = tre_cuda_seg_sum(im, P * N, M, outer_grad_src{g, true}, gb, (double)scale);
        else rc = tre_cuda_each(im, P * N, [=] TRE_CUDA_FN(int64_t k) { gb[k] = 0.f; });
    }
    return rc;
}
