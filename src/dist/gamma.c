/* Gamma(concentration, rate): reparameterized (implicit gradient of the standard gamma draw);
 * support x >= 0. Log-density, sampler and derivatives in kernels/math/gamma.h. */
#include <math.h>
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

/* KL(Gamma(a, r) || Normal(m, s)) = -H(p) - E_p[log q], with
 * H(p) = a - log r + lgamma(a) + (1 - a) digamma(a) and E_p[log q] = -log(s) - log(2 pi) / 2
 * - E_p[(x - m)^2] / (2 s^2), where E_p[(x - m)^2] = Var + bias^2 = a / r^2 + (a / r - m)^2:
 *   = log(r s) + log(2 pi) / 2 - a - lgamma(a) + (a - 1) digamma(a)
 *     + (a / r^2 + (a / r - m)^2) / (2 s^2) */
tre_tensor *tre_kl_gamma_normal(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *a = p->params[0], *r = p->params[1], *m = q->params[0], *s = q->params[1];
    tre_tensor *mean = tre_div(ctx, a, r);
    tre_tensor *sq = tre_add(ctx, tre_div(ctx, mean, r), tre_square(ctx, tre_sub(ctx, mean, m)));
    tre_tensor *quad = tre_div(ctx, sq, tre_mul(ctx, tre_scalar(ctx, 2.f), tre_square(ctx, s)));
    tre_tensor *neg_entropy =
        tre_sub(ctx, tre_mul(ctx, tre_sub(ctx, a, tre_scalar(ctx, 1.f)),
                             tre_unary_op(ctx, TRE_OP_DIGAMMA, "digamma", a)),
                tre_add(ctx, a, tre_unary_op(ctx, TRE_OP_LGAMMA, "lgamma", a)));
    const double c = 0.5 * log(2.0 * 3.14159265358979323846);
    tre_tensor *logs = tre_add(ctx, tre_log(ctx, tre_mul(ctx, r, s)), tre_scalar(ctx, (float)c));
    return tre_add(ctx, tre_add(ctx, logs, neg_entropy), quad);
}
