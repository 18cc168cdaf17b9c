/* CPU elementwise kernels: broadcast binary ops, unary ops, mask-and-scale. */
#include <math.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "../math/elementwise.h"
#include "../math/special.h"

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
    TRE_CPU_FOR(n > TRE_CPU_PARALLEL_MIN, i, n,
        float x = in[i], y;
        switch (op) {
        case TRE_OP_NEG: y = -x; break;
        case TRE_OP_EXP: y = expf(x); break;
        case TRE_OP_LOG: y = logf(x); break;
        case TRE_OP_SQUARE: y = x * x; break;
        case TRE_OP_SOFTPLUS: y = tre_softplus(x); break;
        case TRE_OP_SOFTPLUS_INV: y = tre_softplus_inv(x); break;
        case TRE_OP_SIGMOID: y = tre_sigmoid(x); break;
        case TRE_OP_LOGIT: y = tre_logit(x); break;
        case TRE_OP_LOG_SIGMOID: y = tre_log_sigmoid(x); break;
        case TRE_OP_LGAMMA: y = (float)tre_lgamma(x); break;
        case TRE_OP_DIGAMMA: y = (float)tre_digamma(x); break;
        case TRE_OP_LOG1P: y = log1pf(x); break;
        case TRE_OP_EXPM1: y = expm1f(x); break;
        case TRE_OP_ABS: y = fabsf(x); break;
        case TRE_OP_SIGN: y = x > 0.f ? 1.f : x < 0.f ? -1.f : x; break;
        default: y = NAN; break;
        }
        out[i] = y;
        );
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
