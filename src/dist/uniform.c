/* Uniform(low, high): support [low, high], low < high checked elementwise against the other
 * parameter; reparameterized (low + (high - low) u). Log-density in kernels/math/uniform.h. */
#include "dist_impl.h"

const tre_dist_family tre_uniform_family = {
    .name = "Uniform",
    .kernel = TRE_KDIST_UNIFORM,
    .nparams = 2,
    .param_names = {"low", "high"},
    .param_checks = {TRE_CHECK_PARAMS(TRE_CHECK_LESS_THAN, 1, -1, "less than high"),
                     TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)")},
    .support = TRE_CHECK_PARAMS(TRE_CHECK_BETWEEN, 0, 1, "in [low, high]"),
    .has_rsample = true,
};

tre_dist *tre_uniform(tre_ctx *ctx, const tre_tensor *low, const tre_tensor *high) {
    const tre_tensor *params[2] = {low, high};
    return tre_dist_new(ctx, &tre_uniform_family, params);
}
