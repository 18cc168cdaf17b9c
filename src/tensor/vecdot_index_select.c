/* tre_vecdot_index_select: x_j . w[index_j], each datum's features dotted with the weights of
 * the group it belongs to, read straight from w's rows; and the two kernel calls it shares with
 * tre_vecdot's reading of a recorded index_select (ops.c, ops_backward.c). The picked rows
 * [P, k, D] are never written: in a hierarchical model they are the step's largest tensor. */
#include "ops_backward.h"

void tre_gathered_dot(tre_ctx *ctx, const tre_tensor *w, const tre_tensor *index, const tre_tensor *x,
                      tre_tensor *out) {
    tre_backend_check(ctx,
                      ctx->be->dot_gathered_rows(ctx->be->impl, w->particles, w->shape[0], w->shape[1],
                                                 (const int32_t *)index->data, index->shape[0], w->data,
                                                 x->data, x->particles == 1 ? 0 : x->numel, out->data),
                      "tre_vecdot (gathered rows)");
}

tre_tensor *tre_gathered_dot_grad_w(tre_ctx *ctx, const tre_tensor *w, const tre_tensor *index,
                                    const tre_tensor *g, const tre_tensor *x) {
    tre_tensor *gw = tre_tensor_new(ctx, TRE_F32, w->particles, 2, w->shape);
    if (!gw) return NULL;
    if (tre_backend_check(ctx, ctx->be->fill(ctx->be->impl, gw->data, 0.f, w->particles * w->numel), "fill") ||
        tre_backend_check(ctx,
                          ctx->be->scatter_add_scaled(ctx->be->impl, w->particles, w->shape[0], w->shape[1],
                                                      (const int32_t *)index->data, index->shape[0], g->data,
                                                      x->data, x->particles == 1 ? 0 : x->numel, gw->data),
                          "tre_vecdot backward (gathered rows)"))
        return NULL;
    return gw;
}

/* in[0] = w; saved: index, x (which needs no gradient on this path) */
static void vecdot_index_select_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *w = n->in[0];
    tre_tensor *gw = tre_gathered_dot_grad_w(ctx, w, n->saved[0], g, n->saved[1]);
    if (gw) tre_grad_accumulate(ctx, w, gw);
}

tre_tensor *tre_vecdot_index_select(tre_ctx *ctx, const tre_tensor *x, const tre_tensor *w,
                                    const tre_tensor *index) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    const char *op = "tre_vecdot_index_select";
    if (!tre_check_arg(ctx, op, "x", x) || !tre_check_arg(ctx, op, "w", w) || !tre_index_arg(ctx, op, index))
        return NULL;
    const tre_tensor *xs[1] = {x};
    /* The layout the kernels cover: w [n, D] per particle, x [k, D] shared or per particle, no
     * gradient for x. Anything else is the same value by the composed ops (which check it). */
    const int64_t k = index->shape[0];
    if (w->ndim != 2 || x->ndim != 2 || x->shape[0] != k || x->shape[1] != w->shape[1] ||
        (x->particles != 1 && x->particles != w->particles) || tre_grad_wanted(ctx, 1, xs))
        return tre_vecdot(ctx, x, tre_index_select(ctx, w, -2, index));
    if (!tre_index_in_range(ctx, op, index, w->shape[0])) return NULL;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, w->particles, 1, &k);
    if (!out) return NULL;
    tre_gathered_dot(ctx, w, index, x, out);
    if (tre_ok(ctx) && tre_grad_wanted(ctx, 1, &w)) {
        tre_grad_node *n = tre_grad_record(ctx, out, "tre_vecdot_index_select", vecdot_index_select_backward, 1, &w);
        if (n) {
            n->saved[0] = index;
            n->saved[1] = x;
        }
    }
    return tre_ok(ctx) ? out : NULL;
}
