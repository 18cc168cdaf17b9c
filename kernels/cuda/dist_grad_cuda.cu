/* CUDA gradients of the elementwise families (dist_families_cuda.cuh): of log-densities with
 * respect to the value and the parameters (upstream factor masked and scaled as on the CPU),
 * full-shape (a thread per element) or summed per particle (double, fixed tree order), and
 * pathwise gradients of reparameterized draws; only the requested outputs are computed. */
#include "dist_families_cuda.cuh"

enum { ARGS = TRE_KDIST_ARGS, MASK = TRE_KDIST_ARGS - 1, GSLOT = TRE_KDIST_ARGS };
static const int64_t no_strides[TRE_KDIMS] = {0};

/* The log-density gradient terms of a family: element c of particle p gives f = (mask ? scale
 * * g : 0) times d log p / d argument, as the CPU's grad_run computes it. It is also a
 * tre_cuda_seg_sum source of the per-particle sums of argument `arg`. */
template <class F> struct lp_grad_src {
    tre_cuda_layout<ARGS + 1> L; /* slots: value, params, mask, then the upstream g */
    const float *data[ARGS + 1];
    int64_t ps[ARGS + 1];
    float scale;
    int arg; /* for the sums */

    TRE_CUDA_FN void eval(int64_t p, int64_t c, unsigned want, float *dv, float *dp) const {
        int64_t off[ARGS + 1];
        L.offsets(c, off);
        float f = data[GSLOT][p * ps[GSLOT] + off[GSLOT]];
        if (data[MASK]) f = data[MASK][p * ps[MASK] + off[MASK]] != 0.f ? scale * f : 0.f;
        else f *= scale;
        float pv[TRE_KDIST_MAX_PARAMS];
#pragma unroll
        for (int i = 0; i < TRE_KDIST_MAX_PARAMS; ++i)
            pv[i] = i < F::NP ? data[1 + i][p * ps[1 + i] + off[1 + i]] : 0.f;
        F::lp_grad(data[0][p * ps[0] + off[0]], pv, f, want, dv, dp);
    }
    TRE_CUDA_FN tre_cuda_seg row(int64_t p) const { return tre_cuda_seg_at(p, p); }
    TRE_CUDA_FN double term(const tre_cuda_seg &s, int64_t c) const {
        float d[1 + TRE_KDIST_MAX_PARAMS] = {0.f, 0.f, 0.f, 0.f};
        eval(s.base[0], c, 1u << arg, &d[0], d + 1);
        return (double)d[arg];
    }
};

/* The source over `inner` for these arguments; returns the elements per particle. */
template <class F>
static int64_t lp_grad_src_init(lp_grad_src<F> *s, const tre_kshape *inner, const tre_karg *args,
                                const int64_t *pstride, const tre_karg *g, int64_t gstride,
                                float scale) {
    const int64_t *st[ARGS + 1];
    for (int a = 0; a < ARGS; ++a) {
        const int used = args[a].data && (a == 0 || a == MASK || a <= F::NP);
        st[a] = used ? args[a].stride : no_strides;
        s->data[a] = used ? args[a].data : NULL;
        s->ps[a] = used ? pstride[a] : 0;
    }
    st[GSLOT] = g->stride;
    s->data[GSLOT] = g->data;
    s->ps[GSLOT] = gstride;
    s->scale = scale;
    s->arg = 0;
    return tre_cuda_layout_init(&s->L, inner, st);
}

template <class F>
static int log_prob_backward_fam(tre_cuda_impl *im, int64_t particles, const tre_kshape *inner,
                                 const tre_karg *args, const int64_t *pstride, const tre_karg *g,
                                 int64_t gstride, float scale, float *const *grads) {
    lp_grad_src<F> src;
    const int64_t n = lp_grad_src_init(&src, inner, args, pstride, g, gstride, scale);
    unsigned want = 0;
    float *gout[1 + TRE_KDIST_MAX_PARAMS] = {NULL, NULL, NULL, NULL};
    for (int a = 0; a <= F::NP; ++a)
        if (grads[a]) {
            want |= 1u << a;
            gout[a] = grads[a];
        }
    if (!want || n <= 0) return 0;
    float *gv = gout[0], *g0 = gout[1], *g1 = gout[2], *g2 = gout[3];
    return tre_cuda_each(im, particles * n, [=] TRE_CUDA_FN(int64_t t) {
        const int64_t p = t / n, c = t - p * n;
        float dv = 0.f, dp[TRE_KDIST_MAX_PARAMS] = {0.f, 0.f, 0.f};
        src.eval(p, c, want, &dv, dp);
        if (gv) gv[t] = dv;
        if (g0) g0[t] = dp[0];
        if (g1) g1[t] = dp[1];
        if (g2) g2[t] = dp[2];
    });
}

/* Per-particle sums of the same terms, in double in a fixed order, one argument at a time. */
template <class F>
static int log_prob_backward_sum_fam(tre_cuda_impl *im, int64_t particles,
                                     const tre_kshape *inner, const tre_karg *args,
                                     const int64_t *pstride, const tre_karg *g, int64_t gstride,
                                     float scale, float *const *sums) {
    lp_grad_src<F> src;
    const int64_t n = lp_grad_src_init(&src, inner, args, pstride, g, gstride, scale);
    for (int a = 0; a <= F::NP; ++a) {
        if (!sums[a]) continue;
        src.arg = a;
        int rc = tre_cuda_seg_sum(im, particles, n, src, sums[a], 1.0);
        if (rc) return rc;
    }
    return 0;
}

int tre_log_prob_backward_sum_cuda(void *impl, tre_kdist kind, int64_t particles,
                                   const tre_kshape *inner, const tre_karg *args,
                                   const int64_t *pstride, const tre_karg *g, int64_t gstride,
                                   float scale, float *const *sums) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    switch (kind) {
#define X(K, F) \
    case K: return log_prob_backward_sum_fam<F>(im, particles, inner, args, pstride, g, gstride, scale, sums);
        TRE_CUDA_FAMILIES(X)
#undef X
    default: return 1;
    }
}

int tre_log_prob_backward_cuda(void *impl, tre_kdist kind, int64_t particles,
                               const tre_kshape *inner, const tre_karg *args,
                               const int64_t *pstride, const tre_karg *g, int64_t gstride,
                               float scale, float *const *grads) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    switch (kind) {
#define X(K, F) \
    case K: return log_prob_backward_fam<F>(im, particles, inner, args, pstride, g, gstride, scale, grads);
        TRE_CUDA_FAMILIES(X)
#undef X
    default: return 1;
    }
}

/* F::rs_grad, for the families that have one (the others never get this far) */
template <class F>
static inline TRE_CUDA_FN void rs_grad_of(float x, const float *p, float g, unsigned want, float *gp) {
    if constexpr (F::RGRAD != 0) F::rs_grad(x, p, g, want, gp);
}

template <class F>
static int rsample_backward_fam(tre_cuda_impl *im, const tre_kshape *shape, const float *x,
                                const tre_karg *params, const float *g, float *const *grads) {
    if (!F::RGRAD) return 1; /* not reparameterized: the CPU backend refuses it too */
    tre_cuda_layout<F::NP> L;
    const int64_t *st[F::NP];
    const float *data[TRE_KDIST_MAX_PARAMS] = {NULL, NULL, NULL};
    float *gout[TRE_KDIST_MAX_PARAMS] = {NULL, NULL, NULL};
    unsigned want = 0;
    for (int i = 0; i < F::NP; ++i) {
        st[i] = params[i].stride;
        data[i] = params[i].data;
        if (grads[i]) {
            want |= 1u << (1 + i);
            gout[i] = grads[i];
        }
    }
    const int64_t n = tre_cuda_layout_init(&L, shape, st);
    if (!want) return 0;
    const float *d0 = data[0], *d1 = data[1], *d2 = data[2];
    float *g0 = gout[0], *g1 = gout[1], *g2 = gout[2];
    return tre_cuda_each(im, n, [=] TRE_CUDA_FN(int64_t e) {
        const float *pd[TRE_KDIST_MAX_PARAMS] = {d0, d1, d2};
        int64_t off[F::NP];
        L.offsets(e, off);
        float pv[TRE_KDIST_MAX_PARAMS], dp[TRE_KDIST_MAX_PARAMS] = {0.f, 0.f, 0.f};
        tre_load_params<F::NP>(pv, pd, off);
        rs_grad_of<F>(x[e], pv, g[e], want, dp);
        if (g0) g0[e] = dp[0];
        if (g1) g1[e] = dp[1];
        if (g2) g2[e] = dp[2];
    });
}

int tre_rsample_backward_cuda(void *impl, tre_kdist kind, const tre_kshape *shape, const float *x,
                              const tre_karg *params, const float *g, float *const *grads) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    switch (kind) {
#define X(K, F) \
    case K: return rsample_backward_fam<F>(im, shape, x, params, g, grads);
        TRE_CUDA_FAMILIES(X)
#undef X
    default: return 1;
    }
}
