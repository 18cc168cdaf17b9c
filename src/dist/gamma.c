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
static tre_tensor *kl_gamma(tre_ctx *ctx, const tre_tensor *a1, const tre_tensor *b1,
                            const tre_tensor *a2, const tre_tensor *b2) {
    tre_tensor *t1 = tre_mul(ctx, tre_sub(ctx, a1, a2), tre_unary_op(ctx, TRE_OP_DIGAMMA, "digamma", a1));
    tre_tensor *t2 = tre_sub(ctx, tre_unary_op(ctx, TRE_OP_LGAMMA, "lgamma", a2),
                             tre_unary_op(ctx, TRE_OP_LGAMMA, "lgamma", a1));
    tre_tensor *t3 = tre_mul(ctx, a2, tre_log(ctx, tre_div(ctx, b1, b2)));
    tre_tensor *t4 = tre_mul(ctx, a1, tre_div(ctx, tre_sub(ctx, b2, b1), b1));
    return tre_add(ctx, tre_add(ctx, t1, t2), tre_add(ctx, t3, t4));
}

tre_tensor *tre_kl_gamma_gamma(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    return kl_gamma(ctx, p->params[0], p->params[1], q->params[0], q->params[1]);
}
/* Exponential(r) is Gamma(1, r): PyTorch's Gamma || Exponential and Exponential || Gamma are
 * the same closed form with that concentration */
tre_tensor *tre_kl_gamma_exponential(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    return kl_gamma(ctx, p->params[0], p->params[1], tre_scalar(ctx, 1.f), q->params[0]);
}
tre_tensor *tre_kl_exponential_gamma(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    return kl_gamma(ctx, tre_scalar(ctx, 1.f), p->params[0], q->params[0], q->params[1]);
}
