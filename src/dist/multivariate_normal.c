/* MultivariateNormal(loc [..., D], scale_tril [..., D, D]): reparameterized; event shape [D],
 * batch shape broadcast(loc.shape[:-1], scale_tril.shape[:-2]). Row math in
 * kernels/math/mvn.h; scale_tril must be lower triangular with a positive diagonal. */
#include <float.h>
#include <math.h>
#include "dist_rows.h"
#include "../tensor/autograd.h"

static int64_t dim_of(const tre_dist *d) {
    const tre_tensor *loc = d->params[0];
    return loc->shape[loc->ndim - 1];
}

static tre_status mvn_shapes(tre_ctx *ctx, tre_dist *d) {
    const tre_tensor *loc = d->params[0], *L = d->params[1];
    char s1[96], s2[96];
    if (loc->ndim < 1 || loc->shape[loc->ndim - 1] < 1)
        return tre_ctx_fail(ctx, TRE_ERR_SHAPE,
                            "MultivariateNormal: parameter loc of shape %s needs a last dim D >= 1",
                            tre_shape_str(s1, sizeof s1, loc->ndim, loc->shape));
    if (L->ndim < 2 || L->shape[L->ndim - 1] != L->shape[L->ndim - 2])
        return tre_ctx_fail(ctx, TRE_ERR_SHAPE,
                            "MultivariateNormal: parameter scale_tril of shape %s is not a (batch of) square matrices",
                            tre_shape_str(s1, sizeof s1, L->ndim, L->shape));
    const int64_t D = loc->shape[loc->ndim - 1];
    if (L->shape[L->ndim - 1] != D)
        return tre_ctx_fail(ctx, TRE_ERR_SHAPE,
                            "MultivariateNormal: parameter scale_tril of shape %s does not match loc of shape %s (D = %lld)",
                            tre_shape_str(s1, sizeof s1, L->ndim, L->shape),
                            tre_shape_str(s2, sizeof s2, loc->ndim, loc->shape), (long long)D);
    if (!tre_shape_broadcast(loc->ndim - 1, loc->shape, L->ndim - 2, L->shape, &d->batch_ndim,
                             d->batch_shape) ||
        d->batch_ndim + 1 > TRE_MAX_DIMS)
        return tre_ctx_fail(ctx, TRE_ERR_SHAPE,
                            "MultivariateNormal: batch dims of parameter scale_tril (shape %s) do not broadcast with loc (shape %s)",
                            tre_shape_str(s1, sizeof s1, L->ndim, L->shape),
                            tre_shape_str(s2, sizeof s2, loc->ndim, loc->shape));
    d->event_ndim = 1;
    d->event_shape[0] = D;
    return TRE_OK;
}

/* value rows of D, loc rows of D, scale_tril rows of D x D */
static const int row_nd[3] = {1, 1, 2};

static tre_tensor *grad_buffer(tre_ctx *ctx, const tre_tensor *t, const tre_dist_rows *grid, int row_ndim) {
    if (!t->requires_grad) return NULL;
    int64_t shape[TRE_MAX_DIMS];
    int nd = grid->ndim;
    for (int i = 0; i < nd; ++i) shape[i] = grid->shape[i];
    for (int i = 0; i < row_ndim; ++i) shape[nd + i] = t->shape[t->ndim - row_ndim + i];
    return tre_tensor_new(ctx, TRE_F32, grid->particles, nd + row_ndim, shape);
}

static void mvn_log_prob_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    tre_dist_rows grid;
    tre_dist_rows_of(n->out, 0, &grid);
    const int64_t D = n->in[1]->shape[n->in[1]->ndim - 1];
    tre_tensor *gr[3];
    for (int a = 0; a < 3; ++a) {
        gr[a] = grad_buffer(ctx, n->in[a], &grid, row_nd[a]);
        if (!tre_ok(ctx)) return;
    }
    tre_kshape ks;
    tre_karg ka[3];
    tre_dist_row_layout(&grid, 3, n->in, row_nd, &ks, ka);
    if (tre_backend_check(ctx,
                          ctx->be->mvn_log_prob_backward(ctx->be->impl, &ks, D, g->data, &ka[0], &ka[1],
                                                         &ka[2], gr[0] ? gr[0]->data : NULL,
                                                         gr[1] ? gr[1]->data : NULL,
                                                         gr[2] ? gr[2]->data : NULL),
                          "MultivariateNormal log_prob backward") != TRE_OK)
        return;
    for (int a = 0; a < 3; ++a)
        if (gr[a]) tre_grad_accumulate(ctx, n->in[a], gr[a]);
}

static tre_tensor *mvn_log_prob(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value) {
    tre_dist_rows grid;
    if (!tre_dist_rows_for_value(ctx, d, value, &grid)) return NULL;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, grid.particles, grid.ndim, grid.shape);
    if (!out) return NULL;
    const tre_tensor *args[3] = {value, d->params[0], d->params[1]};
    tre_kshape ks;
    tre_karg ka[3];
    tre_dist_row_layout(&grid, 3, args, row_nd, &ks, ka);
    if (tre_backend_check(ctx, ctx->be->mvn_log_prob(ctx->be->impl, &ks, dim_of(d), out->data, &ka[0],
                                                     &ka[1], &ka[2]),
                          "MultivariateNormal log_prob") != TRE_OK)
        return NULL;
    if (tre_grad_wanted(ctx, 3, args))
        tre_grad_record(ctx, out, "MultivariateNormal log_prob", mvn_log_prob_backward, 3, args);
    return tre_ok(ctx) ? out : NULL;
}

/* The Philox counters of a draw, kept so that the backward pass regenerates its noise. */
typedef struct mvn_draw {
    uint64_t seed, stream;
} mvn_draw;

static void mvn_rsample_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *loc = n->in[0], *L = n->in[1];
    const mvn_draw *draw = n->extra;
    tre_grad_accumulate(ctx, loc, g); /* d x / d loc = identity */
    if (!L->requires_grad) return;
    const tre_tensor *x = n->out;
    const int64_t D = x->shape[x->ndim - 1];
    int64_t shape[TRE_MAX_DIMS];
    for (int i = 0; i < x->ndim; ++i) shape[i] = x->shape[i];
    shape[x->ndim] = D;
    tre_tensor *gl = tre_tensor_new(ctx, TRE_F32, x->particles, x->ndim + 1, shape);
    if (!gl) return;
    const int64_t rows = x->particles * (x->numel / D);
    if (tre_backend_check(ctx, ctx->be->mvn_rsample_backward(ctx->be->impl, rows, D, g->data, draw->seed,
                                                             draw->stream, gl->data),
                          "MultivariateNormal rsample backward") == TRE_OK)
        tre_grad_accumulate(ctx, L, gl);
}

static tre_tensor *mvn_sample(tre_ctx *ctx, const tre_dist *d, int64_t particles) {
    tre_dist_rows grid;
    tre_dist_rows_join(d, NULL, &grid);
    grid.particles = particles;
    const int64_t D = dim_of(d);
    int64_t shape[TRE_MAX_DIMS];
    for (int i = 0; i < grid.ndim; ++i) shape[i] = grid.shape[i];
    shape[grid.ndim] = D;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, particles, grid.ndim + 1, shape);
    if (!out) return NULL;
    const tre_tensor *args[2] = {d->params[0], d->params[1]};
    tre_kshape ks;
    tre_karg ka[2];
    tre_dist_row_layout(&grid, 2, args, row_nd + 1, &ks, ka);
    const uint64_t stream = tre_rng_next_stream(ctx);
    if (tre_backend_check(ctx, ctx->be->mvn_sample(ctx->be->impl, &ks, D, out->data, &ka[0], &ka[1],
                                                   ctx->seed, stream),
                          "MultivariateNormal sample") != TRE_OK)
        return NULL;
    if (tre_grad_wanted(ctx, 2, args)) {
        mvn_draw *draw = tre_step_alloc(ctx, sizeof *draw);
        if (!draw) return NULL;
        draw->seed = ctx->seed;
        draw->stream = stream;
        tre_grad_node *n = tre_grad_record(ctx, out, "MultivariateNormal rsample", mvn_rsample_backward, 2, args);
        if (n) n->extra = draw;
    }
    return tre_ok(ctx) ? out : NULL;
}

/* Counts the entries of scale_tril outside [lo, hi] where lo/hi depend on the position
 * (above, on or below the diagonal); NaN never passes. -1 on failure. */
static int64_t count_tril(tre_ctx *ctx, const tre_tensor *L, const float lo3[3], const float hi3[3]) {
    const int64_t D = L->shape[L->ndim - 1];
    float *lo = tre_step_alloc(ctx, (size_t)(2 * D * D) * sizeof(float));
    if (!lo) return -1;
    float *hi = lo + D * D;
    for (int64_t i = 0; i < D; ++i)
        for (int64_t j = 0; j < D; ++j) {
            int where = j > i ? 0 : j == i ? 1 : 2;
            lo[i * D + j] = lo3[where];
            hi[i * D + j] = hi3[where];
        }
    const int64_t shape[2] = {D, D};
    tre_tensor *tlo = tre_from_host(ctx, 1, 2, shape, lo), *thi = tre_from_host(ctx, 1, 2, shape, hi);
    if (!tlo || !thi) return -1;
    return tre_count_invalid(ctx, TRE_CHECK_BETWEEN, L, tlo, thi, 0.f);
}

/* scale_tril: zero above the diagonal, a positive diagonal, no NaN (PyTorch's lower_cholesky).
 * One backend pass with position-dependent bounds; on failure, more passes to say what. */
static tre_status mvn_validate(tre_ctx *ctx, const tre_dist *d) {
    const tre_tensor *L = d->params[1];
    const float inf = INFINITY;
    const float lo_all[3] = {0.f, FLT_TRUE_MIN, -inf}, hi_all[3] = {0.f, inf, inf};
    int64_t bad = count_tril(ctx, L, lo_all, hi_all);
    if (bad < 0) return ctx->status;
    if (bad == 0) return TRE_OK;
    const char *what = "has a diagonal entry that is not positive";
    int64_t nan = tre_count_invalid(ctx, TRE_CHECK_NOT_NAN, L, NULL, NULL, 0.f);
    if (nan < 0) return ctx->status;
    if (nan > 0) {
        what = "has NaN entries";
    } else {
        const float lo_up[3] = {0.f, -inf, -inf}, hi_up[3] = {0.f, inf, inf};
        int64_t upper = count_tril(ctx, L, lo_up, hi_up);
        if (upper < 0) return ctx->status;
        if (upper > 0) what = "has nonzero entries above the diagonal";
    }
    return tre_ctx_fail(ctx, TRE_ERR_DIST,
                        "MultivariateNormal parameter scale_tril must be lower triangular with a positive "
                        "diagonal: it %s (%lld of %lld entries are invalid)",
                        what, (long long)bad, (long long)(L->particles * L->numel));
}

const tre_dist_family tre_multivariate_normal_family = {
    .name = "MultivariateNormal",
    .nparams = 2,
    .param_names = {"loc", "scale_tril"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)")},
    .support = TRE_CHECK(TRE_CHECK_NOT_NAN, "a real vector (not NaN)"),
    .has_rsample = true,
    .base_event_ndim = 1,
    .shapes = mvn_shapes,
    .log_prob = mvn_log_prob,
    .sample = mvn_sample,
    .validate = mvn_validate,
};

tre_dist *tre_multivariate_normal(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale_tril) {
    const tre_tensor *params[2] = {loc, scale_tril};
    return tre_dist_new(ctx, &tre_multivariate_normal_family, params);
}

static void kl_mvn_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    tre_dist_rows grid;
    tre_dist_rows_of(n->out, 0, &grid);
    const int nd[4] = {1, 2, 1, 2};
    const int64_t D = n->in[0]->shape[n->in[0]->ndim - 1];
    tre_tensor *gr[4];
    for (int a = 0; a < 4; ++a) {
        gr[a] = grad_buffer(ctx, n->in[a], &grid, nd[a]);
        if (!tre_ok(ctx)) return;
    }
    tre_kshape ks;
    tre_karg ka[4];
    tre_dist_row_layout(&grid, 4, n->in, nd, &ks, ka);
    if (tre_backend_check(ctx,
                          ctx->be->mvn_kl_backward(ctx->be->impl, &ks, D, g->data, &ka[0], &ka[1], &ka[2],
                                                   &ka[3], gr[0] ? gr[0]->data : NULL,
                                                   gr[1] ? gr[1]->data : NULL, gr[2] ? gr[2]->data : NULL,
                                                   gr[3] ? gr[3]->data : NULL),
                          "MultivariateNormal KL backward") != TRE_OK)
        return;
    for (int a = 0; a < 4; ++a)
        if (gr[a]) tre_grad_accumulate(ctx, n->in[a], gr[a]);
}

/* KL(p || q) in closed form, one row per broadcast batch element (kernels/math/mvn.h). */
tre_tensor *tre_kl_mvn_mvn(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const int64_t D = dim_of(p);
    if (dim_of(q) != D) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "kl_divergence: MultivariateNormal of dim %lld || dim %lld",
                     (long long)D, (long long)dim_of(q));
        return NULL;
    }
    tre_dist_rows grid;
    if (!tre_dist_rows_join(p, q, &grid)) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE,
                     "kl_divergence: batch shapes of MultivariateNormal and MultivariateNormal do not broadcast");
        return NULL;
    }
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, grid.particles, grid.ndim, grid.shape);
    if (!out) return NULL;
    const tre_tensor *args[4] = {p->params[0], p->params[1], q->params[0], q->params[1]};
    const int nd[4] = {1, 2, 1, 2};
    tre_kshape ks;
    tre_karg ka[4];
    tre_dist_row_layout(&grid, 4, args, nd, &ks, ka);
    if (tre_backend_check(ctx, ctx->be->mvn_kl(ctx->be->impl, &ks, D, out->data, &ka[0], &ka[1], &ka[2],
                                               &ka[3]),
                          "MultivariateNormal KL") != TRE_OK)
        return NULL;
    if (tre_grad_wanted(ctx, 4, args)) tre_grad_record(ctx, out, "MultivariateNormal KL", kl_mvn_backward, 4, args);
    return tre_ok(ctx) ? out : NULL;
}

/* KL(Normal(loc, scale).to_event(k + 1) || MultivariateNormal.to_event(k)) as Pyro's
 * Independent || MultivariateNormal takes it: p's last dim as an MVN with a diagonal scale_tril
 * (scale[..., D, 1] times the identity, so gradients reach scale through the product), then
 * the MVN KL. */
tre_tensor *tre_kl_normal_mvn(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const int64_t D = p->event_shape[p->event_ndim - 1];
    const tre_tensor *loc = p->params[0], *scale = p->params[1];
    int64_t shape[TRE_MAX_DIMS];
    if (loc->ndim == 0 || loc->shape[loc->ndim - 1] != D) { /* loc broadcast over the last dim */
        const int nd = loc->ndim ? loc->ndim : 1;
        for (int i = 0; i < loc->ndim; ++i) shape[i] = loc->shape[i];
        shape[nd - 1] = D;
        loc = tre_broadcast_to(ctx, loc, loc->particles, nd, shape);
    }
    if (scale->ndim + 1 > TRE_MAX_DIMS) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "kl_divergence: Normal || MultivariateNormal needs more than %d dims",
                     TRE_MAX_DIMS);
        return NULL;
    }
    int nd = 0; /* [..., d] -> [..., d, 1]; a scalar -> [1, 1] */
    if (!scale->ndim) shape[nd++] = 1;
    for (int i = 0; i < scale->ndim; ++i) shape[nd++] = scale->shape[i];
    shape[nd++] = 1;
    float *eye = tre_step_alloc(ctx, (size_t)(D * D) * sizeof *eye);
    if (!loc || !eye) return NULL;
    for (int64_t i = 0; i < D * D; ++i) eye[i] = i % (D + 1) == 0 ? 1.f : 0.f;
    tre_tensor *tril = tre_mul(ctx, tre_tensor_reshape_view(ctx, scale, nd, shape),
                               tre_from_host(ctx, 1, 2, (int64_t[]){D, D}, eye));
    const tre_dist *pm = tril ? tre_multivariate_normal(ctx, loc, tril) : NULL;
    return pm ? tre_kl_mvn_mvn(ctx, pm, q) : NULL;
}
