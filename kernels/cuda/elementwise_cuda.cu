/* CUDA elementwise kernels: broadcast binary ops, unary ops through the shared math, mask-and-
 * scale, fill; one thread per output element (contiguous output, broadcast strided inputs). */
#include <math.h>
#include "cuda_common.cuh"
#include "../math/elementwise.h"
#include "../math/special.h"

int tre_binary_cuda(void *impl, tre_binop op, const tre_kshape *shape, float *out,
                    const tre_karg *a, const tre_karg *b, bool *no_nan) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (no_nan) *no_nan = false; /* not checked: the launch is asynchronous */
    tre_cuda_layout<2> L;
    const int64_t *st[2] = {a->stride, b->stride};
    const int64_t n = tre_cuda_layout_init(&L, shape, st);
    const float *pa = a->data, *pb = b->data;
    const int o = (int)op;
    return tre_cuda_each(im, n, [=] TRE_CUDA_FN(int64_t i) {
        int64_t off[2];
        L.offsets(i, off);
        out[i] = tre_binop_apply(o, pa[off[0]], pb[off[1]]);
    });
}

int tre_unary_cuda(void *impl, tre_unop op, int64_t n, float *out, const float *in, bool *no_nan) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (no_nan) *no_nan = false; /* not checked: the launch is asynchronous */
    const int o = (int)op;
    if (o < (int)TRE_OP_NEG || o > (int)TRE_OP_TETRAGAMMA) return 1;
    return tre_cuda_each(im, n, [=] TRE_CUDA_FN(int64_t i) { out[i] = tre_unary_apply(o, in[i]); });
}

int tre_mask_scale_cuda(void *impl, const tre_kshape *shape, float *out, const tre_karg *x,
                        const tre_karg *mask, float scale) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    tre_cuda_layout<2> L;
    const int64_t *st[2] = {x->stride, mask ? mask->stride : x->stride};
    const int64_t n = tre_cuda_layout_init(&L, shape, st);
    const float *px = x->data, *pm = mask ? mask->data : NULL;
    return tre_cuda_each(im, n, [=] TRE_CUDA_FN(int64_t i) {
        int64_t off[2];
        L.offsets(i, off);
        /* exact 0 where masked out, even where x is NaN */
        out[i] = pm ? (pm[off[1]] != 0.f ? scale * px[off[0]] : 0.f) : scale * px[off[0]];
    });
}

int tre_fill_cuda(void *impl, float *dst, float v, int64_t n) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    return tre_cuda_each(im, n, [=] TRE_CUDA_FN(int64_t i) { dst[i] = v; });
}
