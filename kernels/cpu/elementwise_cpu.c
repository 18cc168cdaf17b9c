/* CPU elementwise kernels: broadcast binary ops, unary ops, mask-and-scale. The output is
 * contiguous, so linear element i of the iteration space is out[i]. */
#include <math.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "../math/check.h"
#include "../math/elementwise.h"

#define BLOCK TRE_CPU_BLOCK

static void binop_block(tre_binop op, int64_t n, float *o, const float *pa, const float *pb) {
    switch (op) {
    case TRE_OP_ADD: for (int64_t i = 0; i < n; ++i) o[i] = pa[i] + pb[i]; break;
    case TRE_OP_SUB: for (int64_t i = 0; i < n; ++i) o[i] = pa[i] - pb[i]; break;
    case TRE_OP_MUL: for (int64_t i = 0; i < n; ++i) o[i] = pa[i] * pb[i]; break;
    case TRE_OP_DIV: for (int64_t i = 0; i < n; ++i) o[i] = pa[i] / pb[i]; break;
    }
}

/* Whether out[0..n) holds an element that validation's NaN check rejects: run over a block just
 * written (in cache), one vectorized comparison per element. The same test as that check, since
 * a pass of the block spares the check its own. */
static bool block_has_nan(const float *out, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) bad |= !tre_check_value(TRE_CHECK_NOT_NAN, out[i], 0.f, 0.f, 0.f);
    return bad != 0;
}

int tre_binary_cpu(void *impl, tre_binop op, const tre_kshape *shape, float *out,
                   const tre_karg *a, const tre_karg *b, bool *no_nan) {
    (void)impl;
    tre_cpu_iter it;
    const int64_t *st[2] = {a->stride, b->stride};
    tre_cpu_iter_init(&it, 0, shape, 2, st, NULL);
    const int64_t total = it.total;
    /* broadcast rows (an outer difference [P, N, 1] - [P, 1, M], a gradient g[P, N, 1] * x[N, D])
     * are read and combined in one walk, except the short rows of a 2-dim space, which the
     * gathers' constant-length row loops take faster */
    const bool walk_rows = it.ndim > 2 || (it.ndim == 2 && it.dim[1] >= 32);
    int nan_seen = 0;
    TRE_CPU_BLOCKS(total, TRE_CPU_PARALLEL_MIN, s, n,
        if (walk_rows && !(tre_cpu_one_run(&it, 0, s, n) && tre_cpu_one_run(&it, 1, s, n))) {
            tre_cpu_gather_binop(&it, 0, 1, op, s, n, a->data, b->data, out + s);
        } else {
            float ab[BLOCK], bb[BLOCK];
            const float *base[2] = {a->data, b->data}, *view[2];
            float *dst[2] = {ab, bb};
            tre_cpu_gather_view(&it, s, n, base, dst, view);
            binop_block(op, n, out + s, view[0], view[1]);
        }
        if (no_nan && block_has_nan(out + s, n)) {
            TRE_CPU_ATOMIC_WRITE
            nan_seen = 1;
        });
    if (no_nan) *no_nan = !nan_seen;
    return 0;
}

int tre_unary_cpu(void *impl, tre_unop op, int64_t n, float *out, const float *in, bool *no_nan) {
    (void)impl;
    if ((int)op < (int)TRE_OP_NEG || (int)op > (int)TRE_OP_TETRAGAMMA) return 1;
    int nan_seen = 0;
    TRE_CPU_BLOCKS(n, TRE_CPU_PARALLEL_MIN, s, m,
        for (int64_t i = s; i < s + m; ++i) out[i] = tre_unary_apply((int)op, in[i]);
        if (no_nan && block_has_nan(out + s, m)) {
            TRE_CPU_ATOMIC_WRITE
            nan_seen = 1;
        });
    if (no_nan) *no_nan = !nan_seen;
    return 0;
}

int tre_mask_scale_cpu(void *impl, const tre_kshape *shape, float *out, const tre_karg *x,
                       const tre_karg *mask, float scale) {
    (void)impl;
    tre_cpu_iter it;
    const int64_t *st[2] = {x->stride, mask ? mask->stride : x->stride};
    tre_cpu_iter_init(&it, 0, shape, 2, st, NULL);
    const int64_t total = it.total;
    TRE_CPU_BLOCKS(total, TRE_CPU_PARALLEL_MIN, s, n,
        float xb[BLOCK], mb[BLOCK];
        float *o = out + s;
        if (!mask && scale == 1.f) { /* a broadcast copy: gather straight into the output */
            const float *base[2] = {x->data, NULL};
            float *dst[2] = {o, NULL};
            tre_cpu_gather(&it, s, n, base, dst);
            continue;
        }
        const float *base[2] = {x->data, mask ? mask->data : NULL}, *view[2];
        float *dst[2] = {xb, mb};
        tre_cpu_gather_view(&it, s, n, base, dst, view);
        if (mask)
            for (int64_t i = 0; i < n; ++i) o[i] = view[1][i] != 0.f ? scale * view[0][i] : 0.f;
        else
            for (int64_t i = 0; i < n; ++i) o[i] = scale * view[0][i];);
    return 0;
}
