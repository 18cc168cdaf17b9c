/* Delta(v, log_density): a point mass at v (Pyro's Delta, elementwise; to_event makes it a
 * point mass on a vector). Sampling returns v, reparameterized (gradients flow to v).
 * Log-density in kernels/math/delta.h. */
#include "dist_impl.h"

const tre_dist_family tre_delta_family = {
    .name = "Delta",
    .kernel = TRE_KDIST_DELTA,
    .nparams = 2,
    .param_names = {"v", "log_density"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
                     TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)")},
    .support = TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
    .has_rsample = true,
};

tre_dist *tre_delta(tre_ctx *ctx, const tre_tensor *v, const tre_tensor *log_density) {
    /* no log_density: 0, a scalar that broadcasts against v */
    if (!log_density && ctx && tre_ok(ctx)) log_density = tre_scalar(ctx, 0.f);
    const tre_tensor *params[2] = {v, log_density};
    return tre_dist_new(ctx, &tre_delta_family, params);
}
