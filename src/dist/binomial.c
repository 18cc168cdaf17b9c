/* Binomial(total_count, probs): not reparameterized; log-mass and sampler in
 * kernels/math/binomial.h. total_count is a float tensor holding a nonnegative integer. */
#include "dist_impl.h"

const tre_dist_family tre_binomial_probs_family = {
    .name = "Binomial",
    .kernel = TRE_KDIST_BINOMIAL_PROBS,
    .nparams = 2,
    .param_names = {"total_count", "probs"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NONNEG_INTEGER, "a nonnegative integer"),
                     TRE_CHECK(TRE_CHECK_UNIT_INTERVAL, "in [0, 1]")},
    /* integers 0..total_count: the bound is parameter 0, broadcast against the value */
    .support = TRE_CHECK_PARAMS(TRE_CHECK_INTEGER_UPTO, 0, -1, "an integer in [0, total_count]"),
    .has_rsample = false,
};

tre_dist *tre_binomial_probs(tre_ctx *ctx, const tre_tensor *total_count, const tre_tensor *probs) {
    const tre_tensor *params[2] = {total_count, probs};
    return tre_dist_new(ctx, &tre_binomial_probs_family, params);
}
