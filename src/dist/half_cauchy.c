/* HalfCauchy(scale): |Cauchy(0, scale)|, support [0, inf); reparameterized by its quantile
 * function. Log-density in kernels/math/half_cauchy.h. */
#include "dist_impl.h"

const tre_dist_family tre_half_cauchy_family = {
    .name = "HalfCauchy",
    .kernel = TRE_KDIST_HALF_CAUCHY,
    .nparams = 1,
    .param_names = {"scale"},
    .param_checks = {TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .support = TRE_CHECK(TRE_CHECK_NONNEGATIVE, "nonnegative"),
    .has_rsample = true,
};

tre_dist *tre_half_cauchy(tre_ctx *ctx, const tre_tensor *scale) {
    const tre_tensor *params[1] = {scale};
    return tre_dist_new(ctx, &tre_half_cauchy_family, params);
}
