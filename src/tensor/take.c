/* tre_take: values[..., index] along the last dim with per-particle indices (a mixture's
 * component parameters picked by each particle's assignments), and its adjoint. */
#include "autograd.h"
#include "../dist/dist_impl.h"

static void take_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *values = n->in[0], *index = n->saved[0];
    tre_tensor *gv = tre_tensor_new(ctx, TRE_F32, values->particles, values->ndim, values->shape);
    if (!gv || tre_backend_check(ctx, ctx->be->fill(ctx->be->impl, gv->data, 0.f, values->particles * values->numel), "fill"))
        return;
    const int64_t K = values->numel;
    if (tre_backend_check(ctx, ctx->be->take_backward(ctx->be->impl, g->particles, g->numel, g->data, index->data,
                                                      index->particles > 1 ? index->numel : 0, gv->data,
                                                      values->particles > 1 ? K : 0, K),
                          "take backward"))
        return;
    tre_grad_accumulate(ctx, values, gv);
}

tre_tensor *tre_take(tre_ctx *ctx, const tre_tensor *values, const tre_tensor *index) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!values || !index || values->dtype != TRE_F32 || index->dtype != TRE_F32 || values->ndim != 1) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                     "tre_take: values must be a float32 vector [K] and index a float32 tensor");
        return NULL;
    }
    int64_t P = tre_particles_join(values->particles, index->particles);
    if (P < 0) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "tre_take: particle extents %lld and %lld differ",
                     (long long)values->particles, (long long)index->particles);
        return NULL;
    }
    const int64_t K = values->numel;
    if (ctx->validate) {
        const bool sig = tre_step_sig_pause(ctx);
        int64_t bad = tre_count_invalid(ctx, TRE_CHECK_CATEGORY, index, NULL, NULL, (float)K);
        ctx->step_sig_on = sig;
        if (bad != 0) {
            if (bad > 0)
                tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                             "tre_take: %lld indices are not integers in [0, %lld)", (long long)bad, (long long)K);
            return NULL;
        }
    }
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, P, index->ndim, index->shape);
    if (!out) return NULL;
    /* an index shared by all particles is read with stride 0 */
    tre_backend_check(ctx, ctx->be->take(ctx->be->impl, P, index->numel, values->data,
                                         values->particles > 1 ? K : 0, K, index->data,
                                         index->particles > 1 ? index->numel : 0, out->data),
                      "take");
    if (tre_ok(ctx) && tre_grad_wanted(ctx, 1, &values)) {
        tre_grad_node *n = tre_grad_record(ctx, out, "take", take_backward, 1, &values);
        if (n) n->saved[0] = index;
    }
    return tre_ok(ctx) ? out : NULL;
}
