/* Unit(log_factor): Pyro's Unit, the distribution behind tre_factor. Its log-density is
 * log_factor whatever the value (batch shape log_factor's, no event dims), so an observed Unit
 * site adds an arbitrary term to its program's log-density; gradients flow through log_factor.
 * Pyro's Unit has event shape (0,) and samples an empty tensor; here a draw is zeros of the
 * batch shape, which any value broadcasts against alike. has_rsample is false by default and
 * may be set either way (rsample_optional): a guide's tre_factor_ex says which. */
#include "dist_impl.h"

static tre_tensor *unit_log_prob(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value) {
    int64_t shape[TRE_MAX_DIMS];
    int nd;
    const int64_t p = tre_particles_join(tre_dist_particles(d), value->particles);
    if (p < 0 || !tre_shape_broadcast(d->batch_ndim, d->batch_shape, value->ndim, value->shape, &nd, shape)) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "log_prob: value does not broadcast with Unit's log_factor");
        return NULL;
    }
    /* always a new tensor: the site's log-density must not be log_factor itself */
    return tre_broadcast_to(ctx, d->params[0], p, nd, shape);
}

static tre_tensor *unit_sample(tre_ctx *ctx, const tre_dist *d, int64_t particles) {
    return tre_broadcast_to(ctx, tre_scalar(ctx, 0.f), particles, d->batch_ndim, d->batch_shape);
}

const tre_dist_family tre_unit_family = {
    .name = "Unit",
    .nparams = 1,
    .param_names = {"log_factor"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)")},
    .log_prob = unit_log_prob,
    .sample = unit_sample,
    .rsample_optional = true,
};

tre_dist *tre_unit(tre_ctx *ctx, const tre_tensor *log_factor) {
    const tre_tensor *params[1] = {log_factor};
    return tre_dist_new(ctx, &tre_unit_family, params);
}
