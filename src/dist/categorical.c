/* Categorical(logits): not reparameterized; batch shape logits.shape[:-1], event shape [];
 * values are category indices 0..K-1 held in floats. Row math in kernels/math/categorical.h. */
#include <float.h>
#include "dist_rows.h"
#include "../tensor/autograd.h"

static int64_t num_categories(const tre_dist *d) {
    const tre_tensor *l = d->params[0];
    return l->shape[l->ndim - 1];
}

static tre_status cat_shapes(tre_ctx *ctx, tre_dist *d) {
    const tre_tensor *l = d->params[0];
    char s[96];
    if (l->ndim < 1 || l->shape[l->ndim - 1] < 1)
        return tre_ctx_fail(ctx, TRE_ERR_SHAPE,
                            "Categorical: parameter logits of shape %s needs a last dim of at least one category",
                            tre_shape_str(s, sizeof s, l->ndim, l->shape));
    d->batch_ndim = l->ndim - 1;
    for (int i = 0; i < d->batch_ndim; ++i) d->batch_shape[i] = l->shape[i];
    d->event_ndim = 0;
    return TRE_OK;
}

static const int row_nd[2] = {1, 0}; /* logits rows of K, scalar values */

static void cat_log_prob_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *logits = n->in[0], *value = n->saved[0];
    tre_dist_rows grid;
    tre_dist_rows_of(n->out, 0, &grid);
    const int64_t k = logits->shape[logits->ndim - 1];
    int64_t shape[TRE_MAX_DIMS];
    for (int i = 0; i < grid.ndim; ++i) shape[i] = grid.shape[i];
    shape[grid.ndim] = k;
    const tre_tensor *args[2] = {logits, value};
    tre_kshape ks;
    tre_karg ka[2];
    tre_dist_row_layout(&grid, 2, args, row_nd, &ks, ka);
    /* rows [P, M] whose M logits rows every particle shares (a guide's per-datum logits scoring
     * each particle's draws): the gradient summed over the particles straight away, instead of
     * [P, M, k] terms that would only be summed back to the logits' shape */
    if (ks.ndim == 2 && ks.dim[0] > 1 && logits->particles == 1 && ka[0].stride[0] == 0 &&
        ka[0].stride[1] == k && logits->numel == ks.dim[1] * k &&
        g->particles * g->numel == ks.dim[0] * ks.dim[1]) {
        tre_tensor *gs = tre_tensor_new(ctx, TRE_F32, 1, logits->ndim, logits->shape);
        if (gs && tre_backend_check(ctx, ctx->be->categorical_log_prob_backward_shared(
                                             ctx->be->impl, ks.dim[0], ks.dim[1], k, g->data, logits->data, k,
                                             value->data, ka[1].stride[0], ka[1].stride[1], gs->data),
                                    "Categorical log_prob backward") == TRE_OK)
            tre_grad_accumulate(ctx, logits, gs);
        return;
    }
    tre_tensor *gl = tre_tensor_new(ctx, TRE_F32, grid.particles, grid.ndim + 1, shape);
    if (!gl) return;
    if (tre_backend_check(ctx, ctx->be->categorical_log_prob_backward(ctx->be->impl, &ks, k, g->data,
                                                                      &ka[0], &ka[1], gl->data),
                          "Categorical log_prob backward") == TRE_OK)
        tre_grad_accumulate(ctx, logits, gl);
}

static tre_tensor *cat_log_prob(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value) {
    tre_dist_rows grid;
    if (!tre_dist_rows_for_value(ctx, d, value, &grid)) return NULL;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, grid.particles, grid.ndim, grid.shape);
    if (!out) return NULL;
    const tre_tensor *args[2] = {d->params[0], value};
    tre_kshape ks;
    tre_karg ka[2];
    tre_dist_row_layout(&grid, 2, args, row_nd, &ks, ka);
    if (tre_backend_check(ctx, ctx->be->categorical_log_prob(ctx->be->impl, &ks, num_categories(d),
                                                             out->data, &ka[0], &ka[1]),
                          "Categorical log_prob") != TRE_OK)
        return NULL;
    /* the value is discrete: gradients flow to the logits only */
    if (tre_grad_wanted(ctx, 1, args)) {
        tre_grad_node *n = tre_grad_record(ctx, out, "Categorical log_prob", cat_log_prob_backward, 1, args);
        if (n) n->saved[0] = value;
    }
    return tre_ok(ctx) ? out : NULL;
}

static tre_tensor *cat_sample(tre_ctx *ctx, const tre_dist *d, int64_t particles) {
    tre_dist_rows grid;
    tre_dist_rows_join(d, NULL, &grid); /* event [] beyond the moved dims: one row per draw */
    grid.particles = particles;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, particles, grid.ndim, grid.shape);
    if (!out) return NULL;
    const tre_tensor *args[1] = {d->params[0]};
    tre_kshape ks;
    tre_karg ka[1];
    tre_dist_row_layout(&grid, 1, args, row_nd, &ks, ka);
    tre_backend_check(ctx, ctx->be->categorical_sample(ctx->be->impl, &ks, num_categories(d), out->data,
                                                       &ka[0], ctx->seed, tre_rng_next_stream(ctx)),
                      "Categorical sample");
    return tre_ok(ctx) ? out : NULL;
}

/* Each row of logits must have a finite normalizer, as PyTorch's check of the normalized logits:
 * no NaN or +inf, and not only -inf. Usually every logit is finite, which one comparison pass
 * shows; else a row's log-probability of category 0 is NaN exactly when the row is invalid
 * (rows with some -inf are fine). */
static tre_status cat_validate(tre_ctx *ctx, const tre_dist *d) {
    const tre_tensor *logits = d->params[0];
    const int64_t non_finite = tre_count_invalid(ctx, TRE_CHECK_BETWEEN, logits, tre_scalar(ctx, -FLT_MAX),
                                                 tre_scalar(ctx, FLT_MAX), 0.f);
    if (non_finite <= 0) return non_finite < 0 ? ctx->status : TRE_OK;
    const bool was = ctx->grad_recording; /* a check, not part of the step's gradient */
    ctx->grad_recording = false;
    tre_tensor *lp = cat_log_prob(ctx, d, tre_scalar(ctx, 0.f));
    ctx->grad_recording = was;
    if (!lp) return ctx->status;
    const int64_t bad = tre_count_invalid(ctx, TRE_CHECK_NOT_NAN, lp, NULL, NULL, 0.f);
    if (bad < 0) return ctx->status;
    if (bad == 0) return TRE_OK;
    return tre_ctx_fail(ctx, TRE_ERR_DIST,
                        "Categorical parameter logits must be real rows with a finite normalizer: no NaN "
                        "or +inf, and not only -inf (%lld of %lld rows are not)",
                        (long long)bad, (long long)(lp->particles * lp->numel));
}

static tre_status cat_validate_value(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value) {
    const int64_t k = num_categories(d);
    int64_t bad = tre_count_invalid(ctx, TRE_CHECK_CATEGORY, value, NULL, NULL, (float)k);
    if (bad < 0) return ctx->status;
    if (bad == 0) return TRE_OK;
    return tre_ctx_fail(ctx, TRE_ERR_DIST,
                        "Categorical value must be an integer category in [0, %lld) (%lld of %lld values are not)",
                        (long long)k, (long long)bad, (long long)(value->particles * value->numel));
}

const tre_dist_family tre_categorical_family = {
    .name = "Categorical",
    .nparams = 1,
    .param_names = {"logits"},
    .has_rsample = false,
    .base_event_ndim = 0,
    .validate = cat_validate,
    .shapes = cat_shapes,
    .log_prob = cat_log_prob,
    .sample = cat_sample,
    .validate_value = cat_validate_value,
};

tre_dist *tre_categorical_logits(tre_ctx *ctx, const tre_tensor *logits) {
    const tre_tensor *params[1] = {logits};
    return tre_dist_new(ctx, &tre_categorical_family, params);
}

static void kl_cat_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *lp = n->in[0], *lq = n->in[1];
    tre_dist_rows grid;
    tre_dist_rows_of(n->out, 0, &grid);
    const int64_t k = lp->shape[lp->ndim - 1];
    int64_t shape[TRE_MAX_DIMS];
    for (int i = 0; i < grid.ndim; ++i) shape[i] = grid.shape[i];
    shape[grid.ndim] = k;
    tre_tensor *gp = NULL, *gq = NULL;
    if (lp->requires_grad && !(gp = tre_tensor_new(ctx, TRE_F32, grid.particles, grid.ndim + 1, shape)))
        return;
    if (lq->requires_grad && !(gq = tre_tensor_new(ctx, TRE_F32, grid.particles, grid.ndim + 1, shape)))
        return;
    const tre_tensor *args[2] = {lp, lq};
    const int nd[2] = {1, 1};
    tre_kshape ks;
    tre_karg ka[2];
    tre_dist_row_layout(&grid, 2, args, nd, &ks, ka);
    if (tre_backend_check(ctx, ctx->be->categorical_kl_backward(ctx->be->impl, &ks, k, g->data, &ka[0],
                                                                &ka[1], gp ? gp->data : NULL,
                                                                gq ? gq->data : NULL),
                          "Categorical KL backward") != TRE_OK)
        return;
    if (gp) tre_grad_accumulate(ctx, lp, gp);
    if (gq) tre_grad_accumulate(ctx, lq, gq);
}

/* KL(p || q) = sum_k p_k (log p_k - log q_k), one row per broadcast batch element. */
tre_tensor *tre_kl_categorical_categorical(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const int64_t k = num_categories(p);
    if (num_categories(q) != k) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "kl_divergence: Categorical with %lld categories || Categorical with %lld",
                     (long long)k, (long long)num_categories(q));
        return NULL;
    }
    tre_dist_rows grid;
    if (!tre_dist_rows_join(p, q, &grid)) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "kl_divergence: batch shapes of Categorical and Categorical do not broadcast");
        return NULL;
    }
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, grid.particles, grid.ndim, grid.shape);
    if (!out) return NULL;
    const tre_tensor *args[2] = {p->params[0], q->params[0]};
    const int nd[2] = {1, 1};
    tre_kshape ks;
    tre_karg ka[2];
    tre_dist_row_layout(&grid, 2, args, nd, &ks, ka);
    if (tre_backend_check(ctx, ctx->be->categorical_kl(ctx->be->impl, &ks, k, out->data, &ka[0], &ka[1]),
                          "Categorical KL") != TRE_OK)
        return NULL;
    if (tre_grad_wanted(ctx, 2, args)) tre_grad_record(ctx, out, "Categorical KL", kl_cat_backward, 2, args);
    return tre_ok(ctx) ? out : NULL;
}
