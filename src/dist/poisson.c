/* Poisson(rate): not reparameterized; log-mass and sampler in kernels/math/poisson.h. */
#include "dist_impl.h"

const tre_dist_family tre_poisson_family = {
    .name = "Poisson",
    .kernel = TRE_KDIST_POISSON,
    .nparams = 1,
    .param_names = {"rate"},
    /* nonnegative as in PyTorch: Poisson(0) is the point mass at 0 */
    .param_checks = {TRE_CHECK(TRE_CHECK_NONNEGATIVE, "nonnegative")},
    .support = TRE_CHECK(TRE_CHECK_NONNEG_INTEGER, "a nonnegative integer"),
    .has_rsample = false,
};

tre_dist *tre_poisson(tre_ctx *ctx, const tre_tensor *rate) {
    const tre_tensor *params[1] = {rate};
    return tre_dist_new(ctx, &tre_poisson_family, params);
}

/* KL(Poisson(r1) || Poisson(r2)) = r1 log(r1 / r2) - (r1 - r2) */
tre_tensor *tre_kl_poisson_poisson(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *r1 = p->params[0], *r2 = q->params[0];
    return tre_sub(ctx, tre_mul(ctx, r1, tre_log(ctx, tre_div(ctx, r1, r2))), tre_sub(ctx, r1, r2));
}
