/* CUDA log-densities of the elementwise families (dist_families_cuda.cuh): materialized, one
 * thread per element, or reduced to one number per particle with mask and scale fused in
 * (double accumulation in a fixed tree order); and validation counts. */
#include "dist_families_cuda.cuh"
#include "../math/check.h"

/* Argument slots of log_prob_sum: value, params, mask (backend.h). */
enum { ARGS = TRE_KDIST_ARGS, MASK = TRE_KDIST_ARGS - 1 };
/* strides of an argument slot that is not used (no mask, a family's missing parameters) */
static const int64_t no_strides[TRE_KDIMS] = {0};

template <class F>
static int log_prob_fam(tre_cuda_impl *im, const tre_kshape *shape, float *out,
                        const tre_karg *value, const tre_karg *params) {
    tre_cuda_layout<1 + F::NP> L;
    const int64_t *st[1 + F::NP];
    const float *data[TRE_KDIST_MAX_PARAMS] = {NULL, NULL, NULL};
    st[0] = value->stride;
    for (int i = 0; i < F::NP; ++i) {
        st[1 + i] = params[i].stride;
        data[i] = params[i].data;
    }
    const int64_t n = tre_cuda_layout_init(&L, shape, st);
    const float *x = value->data, *d0 = data[0], *d1 = data[1], *d2 = data[2];
    return tre_cuda_each(im, n, [=] TRE_CUDA_FN(int64_t i) {
        int64_t off[1 + F::NP];
        L.offsets(i, off);
        const float *pd[TRE_KDIST_MAX_PARAMS] = {d0, d1, d2};
        float pv[TRE_KDIST_MAX_PARAMS];
        tre_load_params<F::NP>(pv, pd, off + 1);
        out[i] = F::lp(x[off[0]], pv);
    });
}

int tre_log_prob_cuda(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                      const tre_karg *value, const tre_karg *params) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    switch (kind) {
#define X(K, F) \
    case K: return log_prob_fam<F>(im, shape, out, value, params);
        TRE_CUDA_FAMILIES(X)
#undef X
    default: return 1;
    }
}

/* A particle's masked log-density terms: segment p, term c = element c of the inner shape. */
template <class F> struct lp_sum_src {
    tre_cuda_layout<ARGS> L;
    const float *data[ARGS];
    int64_t pstride[ARGS];
    TRE_CUDA_FN tre_cuda_seg row(int64_t p) const {
        tre_cuda_seg s;
        s.out = p;
#pragma unroll
        for (int a = 0; a < ARGS; ++a) s.base[a] = p * pstride[a];
        return s;
    }
    TRE_CUDA_FN double term(const tre_cuda_seg &s, int64_t c) const {
        int64_t off[ARGS];
        L.offsets(c, off);
        /* masked out: exactly 0, even where the density is NaN (NaN masks keep the term, as the
         * CPU's `mask != 0` does) */
        if (data[MASK] && !(data[MASK][s.base[MASK] + off[MASK]] != 0.f)) return 0.0;
        float pv[TRE_KDIST_MAX_PARAMS];
#pragma unroll
        for (int i = 0; i < TRE_KDIST_MAX_PARAMS; ++i)
            pv[i] = i < F::NP ? data[1 + i][s.base[1 + i] + off[1 + i]] : 0.f;
        return (double)F::lp(data[0][s.base[0] + off[0]], pv);
    }
};

template <class F>
static int log_prob_sum_fam(tre_cuda_impl *im, int64_t particles, const tre_kshape *inner,
                            float *out, const tre_karg *args, const int64_t *pstride, float scale) {
    lp_sum_src<F> s;
    const int64_t *st[ARGS];
    for (int a = 0; a < ARGS; ++a) {
        const int used = args[a].data && (a == 0 || a == MASK || a <= F::NP);
        st[a] = used ? args[a].stride : no_strides;
        s.data[a] = used ? args[a].data : NULL;
        s.pstride[a] = used ? pstride[a] : 0;
    }
    const int64_t n = tre_cuda_layout_init(&s.L, inner, st);
    /* scaled after the double sum, as the CPU backend does */
    return tre_cuda_seg_sum(im, particles, n, s, out, (double)scale);
}

int tre_log_prob_sum_cuda(void *impl, tre_kdist kind, int64_t particles, const tre_kshape *inner,
                          float *out, const tre_karg *args, const int64_t *pstride, float scale) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    switch (kind) {
#define X(K, F) \
    case K: return log_prob_sum_fam<F>(im, particles, inner, out, args, pstride, scale);
        TRE_CUDA_FAMILIES(X)
#undef X
    default: return 1;
    }
}

/* Failures of a constraint as a sum of 0/1 terms in double: exact, whatever the order. */
struct check_src {
    tre_cuda_layout<3> L;
    const float *x, *a, *b;
    float ca;
    int check;
    TRE_CUDA_FN tre_cuda_seg row(int64_t) const {
        tre_cuda_seg s;
        s.out = 0;
        return s;
    }
    TRE_CUDA_FN double term(const tre_cuda_seg &, int64_t c) const {
        int64_t off[3];
        L.offsets(c, off);
        return tre_check_value((tre_kcheck)check, x[off[0]], a ? a[off[1]] : 0.f,
                               b ? b[off[2]] : 0.f, ca) ? 0.0 : 1.0;
    }
};

int tre_validate_cuda(void *impl, tre_kcheck check, const tre_kshape *shape, const tre_karg *x,
                      const tre_karg *a, const tre_karg *b, float ca, int64_t *count) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    check_src s;
    const int64_t *st[3] = {x->stride, a->data ? a->stride : no_strides,
                            b->data ? b->stride : no_strides};
    const int64_t n = tre_cuda_layout_init(&s.L, shape, st);
    s.x = x->data;
    s.a = a->data;
    s.b = b->data;
    s.ca = ca;
    s.check = (int)check;
    int rc = tre_cuda_seg_sum(im, 1, n, s, im->d_result, 1.0);
    double bad = 0.0;
    if (!rc) rc = tre_cuda_read_result(im, &bad, im->d_result);
    if (!rc) *count = (int64_t)bad;
    return rc;
}
