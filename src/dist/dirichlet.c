/* Dirichlet(concentration [..., K]): reparameterized; event shape [K], batch shape
 * concentration.shape[:-1], support the simplex. A structured family:
 *   - draws: a row kernel (kernels/math/dirichlet.h) divides independent Gamma(concentration, 1)
 *     draws by their sum in log space, so that rows whose draws all underflow (total
 *     concentration below about 0.05) keep their law; pathwise gradients by the Gamma draws'
 *     implicit gradients through the normalization, the draws regenerated in the backward;
 *   - log-density and KL: composed on the host from tensor ops and the elementwise Gamma kernel:
 *   - log-density: sum_k [(a_k - 1) log x_k - lgamma(a_k)] + lgamma(sum_k a_k), written as
 *     sum_k GammaLP(x_k; a_k, 1) + sum_k x_k + lgamma(sum_k a_k), so that the Gamma kernel's
 *     xlogy convention gives PyTorch's values on the faces of the simplex (x_k = 0 with a_k = 1
 *     contributes 0, not 0 * -inf).
 * Accuracy: the per-component terms are rounded to float32 before they are summed, so the
 * absolute error is about 2^-24 (sum_k |lgamma(a_k)| + lgamma(sum_k a_k)); relative to the
 * result that is only large for concentrations in the thousands. */
#include "dist_rows.h"
#include "../tensor/autograd.h"

static int64_t num_components_of(const tre_tensor *t) { return t->shape[t->ndim - 1]; }
static int64_t num_components(const tre_dist *d) { return num_components_of(d->params[0]); }

static tre_status dir_shapes(tre_ctx *ctx, tre_dist *d) {
    const tre_tensor *c = d->params[0];
    char s[96];
    if (c->ndim < 1 || c->shape[c->ndim - 1] < 1)
        return tre_ctx_fail(ctx, TRE_ERR_SHAPE,
                            "Dirichlet: parameter concentration of shape %s needs a last dim K >= 1",
                            tre_shape_str(s, sizeof s, c->ndim, c->shape));
    d->batch_ndim = c->ndim - 1;
    for (int i = 0; i < d->batch_ndim; ++i) d->batch_shape[i] = c->shape[i];
    d->event_ndim = 1;
    d->event_shape[0] = c->shape[c->ndim - 1];
    return TRE_OK;
}

/* A view of t with a trailing dim of 1 appended, so that a per-row quantity broadcasts
 * against the rows. */
static tre_tensor *with_unit_dim(tre_ctx *ctx, const tre_tensor *t) {
    if (!t) return NULL;
    int64_t shape[TRE_MAX_DIMS];
    for (int i = 0; i < t->ndim; ++i) shape[i] = t->shape[i];
    shape[t->ndim] = 1;
    return tre_tensor_reshape_view(ctx, t, t->ndim + 1, shape);
}

static tre_tensor *dir_log_prob(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value) {
    tre_dist_rows grid;
    if (!tre_dist_rows_for_value(ctx, d, value, &grid)) return NULL;
    const tre_tensor *conc = d->params[0];
    tre_dist *g = tre_gamma(ctx, conc, tre_scalar(ctx, 1.f));
    tre_tensor *lp = g ? tre_sum_trailing(ctx, tre_dist_log_prob(ctx, g, value), 1) : NULL;
    if (!lp) return NULL;
    tre_tensor *xs = tre_sum_trailing(ctx, value, 1);
    tre_tensor *la = tre_unary_op(ctx, TRE_OP_LGAMMA, "lgamma", tre_sum_trailing(ctx, conc, 1));
    lp = tre_add(ctx, tre_add(ctx, lp, xs), la);
    /* an expanded distribution has a larger batch than its concentration */
    if (lp && (lp->particles != grid.particles || !tre_shape_equal(lp->ndim, lp->shape, grid.ndim, grid.shape)))
        lp = tre_broadcast_to(ctx, lp, grid.particles, grid.ndim, grid.shape);
    return lp;
}

/* The Philox counters of a draw, kept so that the backward pass regenerates it. */
typedef struct dir_draw {
    uint64_t seed, stream;
} dir_draw;

static const int conc_row_nd[1] = {1};

static void dir_rsample_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *conc = n->in[0], *x = n->out;
    const dir_draw *draw = n->extra;
    tre_dist_rows grid;
    tre_dist_rows_of(x, 1, &grid);
    tre_kshape ks;
    tre_karg ka[1];
    tre_dist_row_layout(&grid, 1, &conc, conc_row_nd, &ks, ka);
    tre_tensor *gc = tre_tensor_new(ctx, TRE_F32, x->particles, x->ndim, x->shape);
    if (!gc) return;
    if (tre_backend_check(ctx, ctx->be->dirichlet_rsample_backward(ctx->be->impl, &ks, num_components_of(x),
                                                                   g->data, &ka[0], draw->seed,
                                                                   draw->stream, gc->data),
                          "Dirichlet rsample backward") == TRE_OK)
        tre_grad_accumulate(ctx, conc, gc);
}

static tre_tensor *dir_sample(tre_ctx *ctx, const tre_dist *d, int64_t particles) {
    tre_dist_rows grid;
    tre_dist_rows_join(d, NULL, &grid);
    grid.particles = particles;
    const int64_t K = num_components(d);
    int64_t shape[TRE_MAX_DIMS];
    for (int i = 0; i < grid.ndim; ++i) shape[i] = grid.shape[i];
    shape[grid.ndim] = K;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, particles, grid.ndim + 1, shape);
    if (!out) return NULL;
    const tre_tensor *conc = d->params[0];
    tre_kshape ks;
    tre_karg ka[1];
    tre_dist_row_layout(&grid, 1, &conc, conc_row_nd, &ks, ka);
    const uint64_t stream = tre_rng_next_stream(ctx);
    if (tre_backend_check(ctx, ctx->be->dirichlet_sample(ctx->be->impl, &ks, K, out->data, &ka[0], ctx->seed, stream),
                          "Dirichlet sample") != TRE_OK)
        return NULL;
    if (tre_grad_wanted(ctx, 1, &conc)) {
        dir_draw *draw = tre_step_alloc(ctx, sizeof *draw);
        if (!draw) return NULL;
        *draw = (dir_draw){ctx->seed, stream};
        tre_grad_node *n = tre_grad_record(ctx, out, "Dirichlet rsample", dir_rsample_backward, 1, &conc);
        if (n) n->extra = draw;
    }
    return tre_ok(ctx) ? out : NULL;
}

/* The simplex, with PyTorch's tolerance 1e-6 on the row sums widened by one float32 ulp of 1
 * per component: a float32 row normalized by its sum misses 1 by up to about K half-ulps. */
static tre_status dir_validate_value(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value) {
    const int64_t k = num_components(d);
    char s[96];
    if (value->ndim < 1 || value->shape[value->ndim - 1] != k)
        return tre_ctx_fail(ctx, TRE_ERR_SHAPE, "Dirichlet value of shape %s must end in the event dim %lld",
                            tre_shape_str(s, sizeof s, value->ndim, value->shape), (long long)k);
    int64_t bad = tre_count_invalid(ctx, TRE_CHECK_NONNEGATIVE, value, NULL, NULL, 0.f);
    if (bad < 0) return ctx->status;
    if (bad > 0)
        return tre_ctx_fail(ctx, TRE_ERR_DIST,
                            "Dirichlet value must be on the simplex (%lld of %lld components are negative or NaN)",
                            (long long)bad, (long long)(value->particles * value->numel));
    const double tol = 1e-6 + (double)k * 1.1920928955078125e-7;
    tre_tensor *sums = tre_sum_trailing(ctx, tre_stop_grad(ctx, value), 1);
    if (!sums) return ctx->status;
    bad = tre_count_invalid(ctx, TRE_CHECK_BETWEEN, sums, tre_scalar(ctx, (float)(1.0 - tol)),
                            tre_scalar(ctx, (float)(1.0 + tol)), 0.f);
    if (bad < 0) return ctx->status;
    if (bad > 0)
        return tre_ctx_fail(ctx, TRE_ERR_DIST,
                            "Dirichlet value must be on the simplex (%lld of %lld rows do not sum to 1 within %.2g)",
                            (long long)bad, (long long)(sums->particles * sums->numel), tol);
    return TRE_OK;
}

const tre_dist_family tre_dirichlet_family = {
    .name = "Dirichlet",
    .nparams = 1,
    .param_names = {"concentration"},
    .param_checks = {TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .has_rsample = true,
    .base_event_ndim = 1,
    .shapes = dir_shapes,
    .log_prob = dir_log_prob,
    .sample = dir_sample,
    .validate_value = dir_validate_value,
};

tre_dist *tre_dirichlet(tre_ctx *ctx, const tre_tensor *concentration) {
    const tre_tensor *params[1] = {concentration};
    return tre_dist_new(ctx, &tre_dirichlet_family, params);
}

/* KL(Dir(a) || Dir(b)) = lgamma(A) - lgamma(B) - sum_k [lgamma(a_k) - lgamma(b_k)]
 *   + sum_k (a_k - b_k) (digamma(a_k) - digamma(A)),  A = sum_k a_k, B = sum_k b_k */
tre_tensor *tre_kl_dirichlet_dirichlet(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *a = p->params[0], *b = q->params[0];
    if (num_components(p) != num_components(q)) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "kl_divergence: Dirichlet with %lld components || Dirichlet with %lld",
                     (long long)num_components(p), (long long)num_components(q));
        return NULL;
    }
    tre_tensor *A = tre_sum_trailing(ctx, a, 1), *B = tre_sum_trailing(ctx, b, 1);
    tre_tensor *lg_rows = tre_sub(ctx, tre_unary_op(ctx, TRE_OP_LGAMMA, "lgamma", A),
                                  tre_unary_op(ctx, TRE_OP_LGAMMA, "lgamma", B));
    tre_tensor *lg_comp = tre_sub(ctx, tre_unary_op(ctx, TRE_OP_LGAMMA, "lgamma", a),
                                  tre_unary_op(ctx, TRE_OP_LGAMMA, "lgamma", b));
    tre_tensor *dg = tre_sub(ctx, tre_unary_op(ctx, TRE_OP_DIGAMMA, "digamma", a),
                             with_unit_dim(ctx, tre_unary_op(ctx, TRE_OP_DIGAMMA, "digamma", A)));
    tre_tensor *comp = tre_sub(ctx, tre_mul(ctx, tre_sub(ctx, a, b), dg), lg_comp);
    return tre_add(ctx, lg_rows, tre_sum_trailing(ctx, comp, 1));
}
