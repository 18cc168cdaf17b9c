/* Cauchy(loc, scale): reparameterized by its quantile function. Log-density in
 * kernels/math/cauchy.h. */
#include "dist_impl.h"

const tre_dist_family tre_cauchy_family = {
    .name = "Cauchy",
    .kernel = TRE_KDIST_CAUCHY,
    .nparams = 2,
    .param_names = {"loc", "scale"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
                     TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .support = TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
    .has_rsample = true,
};

tre_dist *tre_cauchy(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale) {
    const tre_tensor *params[2] = {loc, scale};
    return tre_dist_new(ctx, &tre_cauchy_family, params);
}
