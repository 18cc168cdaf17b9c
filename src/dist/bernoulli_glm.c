/* Bernoulli(logits = x w): a logistic regression's likelihood as one distribution, the same
 * distribution as Bernoulli(logits = tre_matmul(x, w)) (as Stan's bernoulli_logit_glm is).
 *
 * Why a family of its own: a site's log_prob_sum has one upstream gradient per particle, so one
 * fused pass can return the value and the gradient w.r.t. w (scaled only in backward), and the
 * [P, N] logits, their log-masses and their gradient never reach memory (the backend's
 * bernoulli_glm_sum). That pass serves the common case: data x and y, no mask. Everything else
 * (log_prob, sampling, a mask, gradients w.r.t. x or the value) forms the logits with
 * tre_matmul and goes through the Bernoulli(logits) family. */
#include "dist_impl.h"
#include "../tensor/autograd.h"

static tre_status glm_shapes(tre_ctx *ctx, tre_dist *d) {
    const tre_tensor *x = d->params[0], *w = d->params[1];
    char s1[96], s2[96];
    if (x->ndim != 2)
        return tre_ctx_fail(ctx, TRE_ERR_SHAPE, "Bernoulli: parameter x must be a matrix [N, D], not of shape %s",
                            tre_shape_str(s1, sizeof s1, x->ndim, x->shape));
    if (w->ndim != 1 || w->shape[0] != x->shape[1])
        return tre_ctx_fail(ctx, TRE_ERR_SHAPE, "Bernoulli: parameter w of shape %s does not fit x of shape %s (w must be [D])",
                            tre_shape_str(s1, sizeof s1, w->ndim, w->shape),
                            tre_shape_str(s2, sizeof s2, x->ndim, x->shape));
    d->batch_ndim = 1;
    d->batch_shape[0] = x->shape[0];
    d->event_ndim = 0;
    return TRE_OK;
}

/* Bernoulli(logits = x w) of d's shape; flat: d's event dims made batch dims (for log_prob,
 * whose caller sums the event dims itself), else d's own batch and event dims */
static tre_dist *logits_dist(tre_ctx *ctx, const tre_dist *d, bool flat) {
    tre_dist *b = tre_bernoulli_logits(ctx, tre_matmul(ctx, d->params[0], d->params[1]));
    if (!b) return NULL;
    b->batch_ndim = d->batch_ndim + (flat ? d->event_ndim : 0);
    b->event_ndim = flat ? 0 : d->event_ndim;
    for (int i = 0; i < d->batch_ndim; ++i) b->batch_shape[i] = d->batch_shape[i];
    for (int i = 0; i < d->event_ndim; ++i) {
        if (flat) b->batch_shape[d->batch_ndim + i] = d->event_shape[i];
        else b->event_shape[i] = d->event_shape[i];
    }
    return b;
}

static tre_tensor *glm_log_prob(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value) {
    const tre_dist *b = logits_dist(ctx, d, true);
    return b ? tre_dist_log_prob(ctx, b, value) : NULL;
}

static tre_tensor *glm_sample(tre_ctx *ctx, const tre_dist *d, int64_t particles) {
    const tre_dist *b = logits_dist(ctx, d, true);
    return b ? tre_dist_sample(ctx, b, particles) : NULL;
}

/* d/dw of the fused sum: the forward pass left the unscaled gradient G [P, D] in saved[0] */
static void glm_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    tre_grad_accumulate(ctx, n->in[0], tre_mul(ctx, g, n->saved[0]));
}

static tre_tensor *glm_log_prob_sum(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                                    const tre_tensor *mask, double scale) {
    const tre_tensor *x = d->params[0], *w = d->params[1];
    const int64_t n = x->shape[0], dim = x->shape[1], P = w->particles;
    /* the fused pass: shared data x and y over the plain shape [N], gradients for w only, and
     * enough particles (below 8 the products are matrix-vector products, and packing x for the
     * fused pass costs more than the logits' round trip: 0.31 against 0.13 ms a step at P = 1) */
    if (!ctx->be->bernoulli_glm_sum || P < 8 || mask || x->particles != 1 || x->requires_grad ||
        !value || value->dtype != TRE_F32 || value->particles != 1 || value->requires_grad ||
        value->ndim != 1 || value->shape[0] != n || d->batch_ndim + d->event_ndim != 1) {
        const tre_dist *b = logits_dist(ctx, d, false); /* the Bernoulli(logits) sum */
        return b ? tre_dist_log_prob_sum(ctx, b, value, mask, scale) : NULL;
    }
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, P, 0, NULL);
    if (!out) return NULL;
    const tre_tensor *in[1] = {w};
    const bool grad = tre_grad_wanted(ctx, 1, in);
    tre_tensor *gw = grad ? tre_tensor_new(ctx, TRE_F32, P, 1, &dim) : NULL;
    if (grad && !gw) return NULL;
    if (tre_backend_check(ctx,
                          ctx->be->bernoulli_glm_sum(ctx->be->impl, P, n, dim, x->data, w->data,
                                                     value->data, (float)scale, out->data,
                                                     gw ? gw->data : NULL),
                          "bernoulli_glm_sum") != TRE_OK)
        return NULL;
    if (grad) {
        tre_grad_node *node = tre_grad_record(ctx, out, "bernoulli_glm_log_prob_sum", glm_backward, 1, in);
        if (!node) return NULL;
        node->saved[0] = gw;
    }
    return out;
}

const tre_dist_family tre_bernoulli_logits_glm_family = {
    .name = "Bernoulli",
    .nparams = 2,
    .param_names = {"x", "w"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
                     TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)")},
    .support = TRE_CHECK(TRE_CHECK_BOOLEAN, "0 or 1"),
    .has_rsample = false,
    .shapes = glm_shapes,
    .log_prob = glm_log_prob,
    .sample = glm_sample,
    .log_prob_sum = glm_log_prob_sum,
};

tre_dist *tre_bernoulli_logits_glm(tre_ctx *ctx, const tre_tensor *x, const tre_tensor *w) {
    const tre_tensor *params[2] = {x, w};
    return tre_dist_new(ctx, &tre_bernoulli_logits_glm_family, params);
}
