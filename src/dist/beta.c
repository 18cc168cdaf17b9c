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

/* KL(Beta(a, b) || Uniform(l, h)) = -H(p) - E_p[log q] = log(h - l) - H(p) where [0, 1] lies
 * inside [l, h], with H(p) = log B(a, b) - (a - 1) digamma(a) - (b - 1) digamma(b)
 * + (a + b - 2) digamma(a + b); else +inf (p puts mass where q has none), as Uniform || Uniform */
tre_tensor *tre_kl_beta_uniform(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *a = p->params[0], *b = p->params[1], *l = q->params[0], *h = q->params[1];
    tre_tensor *one = tre_scalar(ctx, 1.f), *s = tre_add(ctx, a, b);
    tre_tensor *lb = tre_sub(ctx, tre_add(ctx, lgamma_of(ctx, a), lgamma_of(ctx, b)), lgamma_of(ctx, s));
    tre_tensor *ta = tre_mul(ctx, tre_sub(ctx, a, one), digamma_of(ctx, a));
    tre_tensor *tb = tre_mul(ctx, tre_sub(ctx, b, one), digamma_of(ctx, b));
    tre_tensor *ts = tre_mul(ctx, tre_sub(ctx, s, tre_scalar(ctx, 2.f)), digamma_of(ctx, s));
    tre_tensor *entropy = tre_add(ctx, tre_sub(ctx, lb, tre_add(ctx, ta, tb)), ts);
    tre_tensor *kl = tre_sub(ctx, tre_log(ctx, tre_sub(ctx, h, l)), entropy);
    /* l > 0 or h < 1 */
    tre_tensor *outside = tre_add(ctx, tre_kl_positive(ctx, l), tre_kl_positive(ctx, tre_sub(ctx, one, h)));
    return tre_kl_inf_where(ctx, kl, outside);
}
