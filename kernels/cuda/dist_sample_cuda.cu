/* CUDA draws of the elementwise families (dist_families_cuda.cuh). Element e of the output is
 * draw e of random op `stream`, as on the CPU: for the families that take a Philox block's
 * numbers, one thread owns a block (elements 4b .. 4b+3), gets its words from cuRAND once and
 * hands number e % 4 to the family's shared transform; rejection samplers (own per-element
 * sequences, tre_philox_elem) get one thread per element and call the shared sampler as is.
 * The op number is `stream` plus the backend's rng delta (cuda_common.cuh). */
#include "dist_families_cuda.cuh"

template <class F>
static int sample_fam(tre_cuda_impl *im, const tre_kshape *shape, float *out,
                      const tre_karg *params, uint64_t seed, uint64_t stream0) {
    tre_cuda_layout<F::NP> L;
    const int64_t *st[F::NP];
    const float *data[TRE_KDIST_MAX_PARAMS] = {NULL, NULL, NULL};
    for (int i = 0; i < F::NP; ++i) {
        st[i] = params[i].stride;
        data[i] = params[i].data;
    }
    const int64_t n = tre_cuda_layout_init(&L, shape, st);
    const float *d0 = data[0], *d1 = data[1], *d2 = data[2];
    const uint64_t *dl = im->d_rng_delta; /* read when the kernel runs: graphs replay it */
    if (F::NOISE == NOISE_NORMAL || F::NOISE == NOISE_UNIFORM)
        return tre_cuda_each(im, tre_cuda_ceil_div(n, 4), [=] TRE_CUDA_FN(int64_t blk) {
            const uint64_t stream = tre_cuda_stream(dl, stream0);
            const tre_u32x4 w = tre_philox_block(seed, stream, (uint64_t)blk);
            const float *pd[TRE_KDIST_MAX_PARAMS] = {d0, d1, d2};
            for (int j = 0; j < 4; ++j) {
                const int64_t e = 4 * blk + j;
                if (e >= n) break;
                int64_t off[F::NP];
                L.offsets(e, off);
                float pv[TRE_KDIST_MAX_PARAMS];
                tre_load_params<F::NP>(pv, pd, off);
                out[e] = F::sample(w, j, seed, stream, (uint64_t)e, pv);
            }
        });
    return tre_cuda_each(im, n, [=] TRE_CUDA_FN(int64_t e) {
        const uint64_t stream = tre_cuda_stream(dl, stream0);
        const float *pd[TRE_KDIST_MAX_PARAMS] = {d0, d1, d2};
        int64_t off[F::NP];
        L.offsets(e, off);
        float pv[TRE_KDIST_MAX_PARAMS];
        tre_load_params<F::NP>(pv, pd, off);
        tre_u32x4 w;
        w.v[0] = w.v[1] = w.v[2] = w.v[3] = 0u; /* unused: the family draws its own words */
        out[e] = F::sample(w, 0, seed, stream, (uint64_t)e, pv);
    });
}

int tre_sample_cuda(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                    const tre_karg *params, uint64_t seed, uint64_t stream) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    switch (kind) {
#define X(K, F) \
    case K: return sample_fam<F>(im, shape, out, params, seed, stream);
        TRE_CUDA_FAMILIES(X)
#undef X
    default: return 1;
    }
}
