/* Laplace(loc, scale): reparameterized by its quantile function. Log-density in
 * kernels/math/laplace.h. */
#include "dist_impl.h"

const tre_dist_family tre_laplace_family = {
    .name = "Laplace",
    .kernel = TRE_KDIST_LAPLACE,
    .nparams = 2,
    .param_names = {"loc", "scale"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
                     TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .support = TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
    .has_rsample = true,
};

tre_dist *tre_laplace(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale) {
    const tre_tensor *params[2] = {loc, scale};
    return tre_dist_new(ctx, &tre_laplace_family, params);
}
