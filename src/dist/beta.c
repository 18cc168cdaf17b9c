/* Beta(concentration1, concentration0): reparameterized (a draw is X / (X + Y) of two standard
 * gamma draws; its gradient is the implicit one at fixed CDF value); support [0, 1].
 * Log-density, sampler and derivatives in kernels/math/beta.h. */
#include "dist_impl.h"

const tre_dist_family tre_beta_family = {
    .name = "Beta",
    .kernel = TRE_KDIST_BETA,
    .nparams = 2,
    .param_names = {"concentration1", "concentration0"},
    .param_checks = {TRE_CHECK(TRE_CHECK_POSITIVE, "positive"),
                     TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .support = TRE_CHECK(TRE_CHECK_UNIT_INTERVAL, "in [0, 1]"),
    .has_rsample = true,
};

tre_dist *tre_beta(tre_ctx *ctx, const tre_tensor *concentration1, const tre_tensor *concentration0) {
    const tre_tensor *params[2] = {concentration1, concentration0};
    return tre_dist_new(ctx, &tre_beta_family, params);
}

static tre_tensor *lgamma_of(tre_ctx *ctx, const tre_tensor *x) {
    return tre_unary_op(ctx, TRE_OP_LGAMMA, "lgamma", x);
}
static tre_tensor *digamma_of(tre_ctx *ctx, const tre_tensor *x) {
    return tre_unary_op(ctx, TRE_OP_DIGAMMA, "digamma", x);
}

/* KL(Beta(a1, b1) || Beta(a2, b2)) = log B(a2, b2) - log B(a1, b1) + (a1 - a2) digamma(a1)
 *   + (b1 - b2) digamma(b1) + (a2 - a1 + b2 - b1) digamma(a1 + b1) */
tre_tensor *tre_kl_beta_beta(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *a1 = p->params[0], *b1 = p->params[1], *a2 = q->params[0], *b2 = q->params[1];
    tre_tensor *s1 = tre_add(ctx, a1, b1), *s2 = tre_add(ctx, a2, b2);
    tre_tensor *lb2 = tre_sub(ctx, tre_add(ctx, lgamma_of(ctx, a2), lgamma_of(ctx, b2)), lgamma_of(ctx, s2));
    tre_tensor *lb1 = tre_sub(ctx, tre_add(ctx, lgamma_of(ctx, a1), lgamma_of(ctx, b1)), lgamma_of(ctx, s1));
    tre_tensor *ta = tre_mul(ctx, tre_sub(ctx, a1, a2), digamma_of(ctx, a1));
    tre_tensor *tb = tre_mul(ctx, tre_sub(ctx, b1, b2), digamma_of(ctx, b1));
    tre_tensor *ts = tre_mul(ctx, tre_sub(ctx, s2, s1), digamma_of(ctx, s1));
    return tre_add(ctx, tre_sub(ctx, lb2, lb1), tre_add(ctx, tre_add(ctx, ta, tb), ts));
}
