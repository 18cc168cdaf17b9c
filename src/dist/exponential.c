/* Exponential(rate): support [0, inf); reparameterized by its quantile function. Log-density
 * in kernels/math/exponential.h. */
#include "dist_impl.h"

const tre_dist_family tre_exponential_family = {
    .name = "Exponential",
    .kernel = TRE_KDIST_EXPONENTIAL,
    .nparams = 1,
    .param_names = {"rate"},
    .param_checks = {TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .support = TRE_CHECK(TRE_CHECK_NONNEGATIVE, "nonnegative"),
    .has_rsample = true,
};

tre_dist *tre_exponential(tre_ctx *ctx, const tre_tensor *rate) {
    const tre_tensor *params[1] = {rate};
    return tre_dist_new(ctx, &tre_exponential_family, params);
}
