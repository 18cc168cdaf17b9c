/* Gamma(concentration, rate): reparameterized (implicit gradient of the standard gamma draw);
 * support x >= 0. Log-density, sampler and derivatives in kernels/math/gamma.h. */
#include "dist_impl.h"

const tre_dist_family tre_gamma_family = {
    .name = "Gamma",
    .kernel = TRE_KDIST_GAMMA,
    .nparams = 2,
    .param_names = {"concentration", "rate"},
    .param_checks = {TRE_CHECK(TRE_CHECK_POSITIVE, "positive"),
                     TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .support = TRE_CHECK(TRE_CHECK_NONNEGATIVE, "nonnegative"),
    .has_rsample = true,
};

tre_dist *tre_gamma(tre_ctx *ctx, const tre_tensor *concentration, const tre_tensor *rate) {
    const tre_tensor *params[2] = {concentration, rate};
    return tre_dist_new(ctx, &tre_gamma_family, params);
}

/* KL(Gamma(a1, b1) || Gamma(a2, b2))
 *   = (a1 - a2) digamma(a1) - lgamma(a1) + lgamma(a2) + a2 log(b1 / b2) + a1 (b2 - b1) / b1 */
tre_tensor *tre_kl_gamma_gamma(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *a1 = p->params[0], *b1 = p->params[1], *a2 = q->params[0], *b2 = q->params[1];
    tre_tensor *t1 = tre_mul(ctx, tre_sub(ctx, a1, a2), tre_unary_op(ctx, TRE_OP_DIGAMMA, "digamma", a1));
    tre_tensor *t2 = tre_sub(ctx, tre_unary_op(ctx, TRE_OP_LGAMMA, "lgamma", a2),
                             tre_unary_op(ctx, TRE_OP_LGAMMA, "lgamma", a1));
    tre_tensor *t3 = tre_mul(ctx, a2, tre_log(ctx, tre_div(ctx, b1, b2)));
    tre_tensor *t4 = tre_mul(ctx, a1, tre_div(ctx, tre_sub(ctx, b2, b1), b1));
    return tre_add(ctx, tre_add(ctx, t1, t2), tre_add(ctx, t3, t4));
}
