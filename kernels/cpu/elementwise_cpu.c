/* CPU elementwise kernels: broadcast binary ops, unary ops, mask-and-scale. */
#include <math.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "../math/elementwise.h"

int tre_binary_cpu(void *impl, tre_binop op, const tre_kshape *shape, float *out,
                   const tre_karg *a, const tre_karg *b) {
    (void)impl;
    tre_cpu_runs R;
    tre_cpu_runs_init(&R, shape);
    const int64_t *st[3] = {NULL, a->stride, b->stride};
    const int64_t sa = tre_cpu_inner_stride(&R, a->stride), sb = tre_cpu_inner_stride(&R, b->stride);
    TRE_CPU_FOR(R.total > TRE_CPU_PARALLEL_MIN, k, R.nruns,
        int64_t off[3];
        int64_t len = tre_cpu_run_at(&R, k, 3, st, off);
        float *o = out + off[0];
        const float *pa = a->data + off[1], *pb = b->data + off[2];
        if (sa == 1 && sb == 1) {
            switch (op) {
            case TRE_OP_ADD: for (int64_t i = 0; i < len; ++i) o[i] = pa[i] + pb[i]; break;
            case TRE_OP_SUB: for (int64_t i = 0; i < len; ++i) o[i] = pa[i] - pb[i]; break;
            case TRE_OP_MUL: for (int64_t i = 0; i < len; ++i) o[i] = pa[i] * pb[i]; break;
            case TRE_OP_DIV: for (int64_t i = 0; i < len; ++i) o[i] = pa[i] / pb[i]; break;
            }
        } else {
            for (int64_t i = 0; i < len; ++i) o[i] = tre_binop_apply(op, pa[i * sa], pb[i * sb]);
        }
        );
    return 0;
}

int tre_unary_cpu(void *impl, tre_unop op, int64_t n, float *out, const float *in) {
    (void)impl;
    if ((int)op < (int)TRE_OP_NEG || (int)op > (int)TRE_OP_TRIGAMMA) return 1;
    TRE_CPU_FOR(n > TRE_CPU_PARALLEL_MIN, i, n, out[i] = tre_unary_apply((int)op, in[i]););
    return 0;
}

int tre_mask_scale_cpu(void *impl, const tre_kshape *shape, float *out, const tre_karg *x,
                       const tre_karg *mask, float scale) {
    (void)impl;
    tre_cpu_runs R;
    tre_cpu_runs_init(&R, shape);
    const int64_t *st[3] = {NULL, x->stride, mask ? mask->stride : x->stride};
    const int64_t sx = tre_cpu_inner_stride(&R, x->stride);
    const int64_t sm = mask ? tre_cpu_inner_stride(&R, mask->stride) : 0;
    TRE_CPU_FOR(R.total > TRE_CPU_PARALLEL_MIN, k, R.nruns,
        int64_t off[3];
        int64_t len = tre_cpu_run_at(&R, k, 3, st, off);
        float *o = out + off[0];
        const float *px = x->data + off[1];
        if (mask) {
            const float *pm = mask->data + off[2];
            for (int64_t i = 0; i < len; ++i) o[i] = pm[i * sm] != 0.f ? scale * px[i * sx] : 0.f;
        } else {
            for (int64_t i = 0; i < len; ++i) o[i] = scale * px[i * sx];
        }
        );
    return 0;
}
