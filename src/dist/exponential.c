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

/* KL(Exponential(r1) || Exponential(r2)) = r2 / r1 - 1 - log(r2 / r1) */
tre_tensor *tre_kl_exponential_exponential(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    tre_tensor *ratio = tre_div(ctx, q->params[0], p->params[0]);
    return tre_sub(ctx, tre_sub(ctx, ratio, tre_scalar(ctx, 1.f)), tre_log(ctx, ratio));
}
