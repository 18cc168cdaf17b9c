/* The tape and the backward pass (see autograd.h). */
#include <string.h>
#include "autograd.h"

bool tre_grad_wanted(const tre_ctx *ctx, int nin, const tre_tensor *const *in) {
    if (!ctx->grad_recording) return false;
    for (int i = 0; i < nin; ++i)
        if (in[i] && in[i]->requires_grad) return true;
    return false;
}

tre_grad_node *tre_grad_record(tre_ctx *ctx, tre_tensor *out, const char *name,
                               tre_backward_fn backward, int nin, const tre_tensor *const *in) {
    if (!tre_ok(ctx) || !out) return NULL;
    if (ctx->tape_len == ctx->tape_cap) {
        int64_t cap = ctx->tape_cap ? ctx->tape_cap * 2 : 256;
        tre_grad_node **tape = tre_step_alloc(ctx, (size_t)cap * sizeof *tape);
        if (!tape) return NULL;
        if (ctx->tape_len) memcpy(tape, ctx->tape, (size_t)ctx->tape_len * sizeof *tape);
        ctx->tape = tape;
        ctx->tape_cap = cap;
    }
    tre_grad_node *n = tre_step_alloc(ctx, sizeof *n);
    if (!n) return NULL;
    n->backward = backward;
    n->name = name;
    if (ctx->step_sig_on) tre_step_sig_mix(ctx, name, strlen(name));
    n->out = out;
    n->nin = nin;
    for (int i = 0; i < nin; ++i) n->in[i] = in[i];
    out->requires_grad = true;
    out->grad_fn = n;
    ctx->tape[ctx->tape_len++] = n;
    return n;
}

/* g already has this extent and shape: nothing to sum */
static bool same_extent(const tre_tensor *g, int64_t particles, int ndim, const int64_t *shape) {
    return g->particles == particles && tre_shape_equal(g->ndim, g->shape, ndim, shape);
}

tre_tensor *tre_reduce_to(tre_ctx *ctx, const tre_tensor *g, int64_t particles, int ndim,
                          const int64_t *shape) {
    if (!tre_ok(ctx)) return NULL;
    if (same_extent(g, particles, ndim, shape)) return (tre_tensor *)g;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, particles, ndim, shape);
    if (!out) return NULL;
    /* lay g out as the "output" and the target as a broadcast argument: its strides are 0
     * exactly on the dims that are summed */
    tre_kshape ks;
    tre_karg ka;
    const tre_tensor *args[1] = {out};
    tre_kernel_layout(g, 1, args, &ks, &ka);
    tre_backend_check(ctx, ctx->be->reduce_sum(ctx->be->impl, &ks, g->data, out->data, ka.stride),
                      "reduce_sum");
    return tre_ok(ctx) ? out : NULL;
}

void tre_reduce_to_pair(tre_ctx *ctx, const tre_tensor *g, const tre_tensor *a, const tre_tensor *b,
                        tre_tensor **ra, tre_tensor **rb) {
    *ra = *rb = NULL;
    if (!tre_ok(ctx)) return;
    if (same_extent(g, a->particles, a->ndim, a->shape) || same_extent(g, b->particles, b->ndim, b->shape)) {
        *ra = tre_reduce_to(ctx, g, a->particles, a->ndim, a->shape);
        *rb = *ra ? tre_reduce_to(ctx, g, b->particles, b->ndim, b->shape) : NULL;
        return;
    }
    tre_tensor *oa = tre_tensor_new(ctx, TRE_F32, a->particles, a->ndim, a->shape);
    tre_tensor *ob = oa ? tre_tensor_new(ctx, TRE_F32, b->particles, b->ndim, b->shape) : NULL;
    if (!ob) return;
    tre_kshape ks;
    tre_karg ka[2];
    const tre_tensor *args[2] = {oa, ob};
    tre_kernel_layout(g, 2, args, &ks, ka);
    if (tre_backend_check(ctx,
                          ctx->be->reduce_sum_pair(ctx->be->impl, &ks, g->data, oa->data, ka[0].stride,
                                                   ob->data, ka[1].stride),
                          "reduce_sum_pair") == TRE_OK)
        *ra = oa, *rb = ob;
}

void tre_grad_accumulate(tre_ctx *ctx, const tre_tensor *t, const tre_tensor *g) {
    if (!tre_ok(ctx) || !t || !g || !t->requires_grad) return;
    tre_tensor *r = tre_reduce_to(ctx, g, t->particles, t->ndim, t->shape);
    if (!r) return;
    tre_tensor *mt = (tre_tensor *)t; /* gradient bookkeeping is not part of the value */
    if (!mt->grad) {
        /* the first contribution is kept as it is, not copied: a rule's g may be another
         * node's gradient (a sum passes its g on to both terms), so it is only borrowed */
        mt->grad = r;
        mt->grad_borrowed = r == g;
        return;
    }
    /* Reverse tape order runs a node's rule after every contribution to its gradient, so a
     * gradient this node owns is not lent out yet and can take the sum in place; a borrowed
     * one gets a new tensor for the sum. */
    tre_tensor *sum = mt->grad;
    if (mt->grad_borrowed && !(sum = tre_tensor_new(ctx, TRE_F32, t->particles, t->ndim, t->shape))) return;
    sum->known_no_nan = false; /* written in place below, unchecked */
    tre_kshape ks;
    tre_karg ka[2];
    const tre_tensor *args[2] = {mt->grad, r};
    tre_kernel_layout(sum, 2, args, &ks, ka);
    if (tre_backend_check(ctx, ctx->be->binary(ctx->be->impl, TRE_OP_ADD, &ks, sum->data, &ka[0], &ka[1], NULL),
                          "gradient accumulation") == TRE_OK) {
        mt->grad = sum;
        mt->grad_borrowed = false;
    }
}

void tre_grad_begin(tre_ctx *ctx) { ctx->grad_recording = true; }
void tre_grad_end(tre_ctx *ctx) { ctx->grad_recording = false; }

tre_status tre_grad_backward(tre_ctx *ctx, const tre_tensor *loss) {
    if (!tre_ok(ctx)) return ctx->status;
    if (!loss) return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "backward: the loss is NULL");
    if (!loss->requires_grad) return TRE_OK; /* depends on no param: every gradient is 0 */
    bool was = ctx->grad_recording;
    ctx->grad_recording = false;
    tre_tensor *seed = tre_tensor_new(ctx, TRE_F32, loss->particles, loss->ndim, loss->shape);
    if (seed)
        tre_backend_check(ctx, ctx->be->fill(ctx->be->impl, seed->data, 1.f, loss->particles * loss->numel),
                          "fill");
    tre_grad_accumulate(ctx, loss, seed);
    for (int64_t i = ctx->tape_len - 1; i >= 0 && tre_ok(ctx); --i) {
        const tre_grad_node *n = ctx->tape[i];
        if (n->out->grad) n->backward(ctx, n, n->out->grad);
    }
    ctx->grad_recording = was;
    return ctx->status;
}

tre_tensor *tre_stop_grad(tre_ctx *ctx, const tre_tensor *a) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!a) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_stop_grad: argument a is NULL");
        return NULL;
    }
    bool was = ctx->grad_recording;
    ctx->grad_recording = false; /* the view is not recorded: nothing flows back through it */
    tre_tensor *v = tre_tensor_reshape_view(ctx, a, a->ndim, a->shape);
    ctx->grad_recording = was;
    return v;
}
