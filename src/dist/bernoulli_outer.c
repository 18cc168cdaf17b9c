/* Bernoulli(logits)'s log_prob_sum when the logits are a broadcast a_i +- b_j (an item-response
 * model's ability - difficulty, a Bradley-Terry model's strengths), as a model writes them:
 * Bernoulli(logits = tre_sub(a [M, 1], b [N])) over an [M, N] grid of data.
 *
 * The eager tre_sub has written the [P, M, N] logits already. Unfused, the site then reads them
 * for the log-masses, reads them again in backward for their gradient, writes that gradient,
 * and the subtraction's backward reads it to sum it down to a and b: four more passes over
 * P * M * N floats, which run at the memory bandwidth on the project's machines (IRT:
 * docs/cpu-backend.md). Instead the backend's
 * bernoulli_outer_sum computes the log-masses' sum and both operands' gradient sums from a and
 * b in one pass, and the site's tape node takes a and b as its inputs: the subtraction's own
 * node then receives no gradient from this site and, if nothing else reads the logits, does
 * nothing in backward (another reader's gradient still flows through it). Same distribution, same
 * per-element math; the sums' order differs (tolerances in tests/unit/test_bernoulli_outer.c).
 * Anything else (no gradients recorded, a mask, gradients w.r.t. the value, other shapes, a
 * backend without the op) takes the unfused path. */
#include "dist_impl.h"
#include "../tensor/autograd.h"
#include "../tensor/ops_backward.h"

/* a [M, 1] broadcast against b [N] or [1, N] into [M, N]: the operand shapes this pass reads
 * (one value of a per row, one contiguous row of b) */
static bool is_column(const tre_tensor *t, int64_t M) {
    return t->ndim == 2 && t->shape[0] == M && t->shape[1] == 1;
}
static bool is_row(const tre_tensor *t, int64_t N) {
    return (t->ndim == 1 && t->shape[0] == N) || (t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == N);
}
static bool per_particle_ok(const tre_tensor *t, int64_t P) {
    return t->dtype == TRE_F32 && (t->particles == 1 || t->particles == P);
}

/* d/da, d/db of the fused sum: the forward pass left the scaled gradient sums in saved */
static void outer_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    tre_grad_accumulate(ctx, n->in[0], tre_mul(ctx, g, n->saved[0]));
    tre_grad_accumulate(ctx, n->in[1], tre_mul(ctx, g, n->saved[1]));
}

tre_tensor *tre_bernoulli_logits_log_prob_sum(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                                              const tre_tensor *mask, double scale) {
    const tre_tensor *t = d->params[0];
    const tre_grad_node *made = t->grad_fn;
    const int64_t P = t->particles;
    const bool candidate =
        ctx->be->bernoulli_outer_sum && !mask && made && made->backward == tre_binary_backward &&
        (made->code == TRE_OP_SUB || made->code == TRE_OP_ADD) && t->ndim == 2 && value &&
        value->dtype == TRE_F32 &&
        value->particles == 1 && !value->requires_grad && tre_shape_equal(value->ndim, value->shape, 2, t->shape);
    if (!candidate) return tre_dist_log_prob_sum_unfused(ctx, d, value, mask, scale);
    const int64_t M = t->shape[0], N = t->shape[1];
    const tre_tensor *a = made->in[0], *b = made->in[1];
    int64_t full[TRE_MAX_DIMS];
    if (!is_column(a, M) || !is_row(b, N) || !per_particle_ok(a, P) || !per_particle_ok(b, P) ||
        tre_dist_full_shape(d, full) != 2 || !tre_shape_equal(2, full, 2, t->shape))
        return tre_dist_log_prob_sum_unfused(ctx, d, value, mask, scale);
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, P, 0, NULL);
    tre_tensor *ga = out ? tre_tensor_new(ctx, TRE_F32, P, a->ndim, a->shape) : NULL;
    tre_tensor *gb = ga ? tre_tensor_new(ctx, TRE_F32, P, b->ndim, b->shape) : NULL;
    if (!gb) return NULL;
    if (tre_backend_check(ctx,
                          ctx->be->bernoulli_outer_sum(ctx->be->impl, P, M, N, a->data,
                                                       a->particles == 1 ? 0 : M, b->data,
                                                       b->particles == 1 ? 0 : N,
                                                       made->code == TRE_OP_SUB ? -1.f : 1.f,
                                                       value->data, (float)scale, out->data,
                                                       ga->data, gb->data),
                          "bernoulli_outer_sum") != TRE_OK)
        return NULL;
    const tre_tensor *in[2] = {a, b};
    tre_grad_node *node = tre_grad_record(ctx, out, "bernoulli_outer_log_prob_sum", outer_backward, 2, in);
    if (!node) return NULL;
    node->saved[0] = ga;
    node->saved[1] = gb;
    return out;
}
