/* Cauchy(loc, scale): reparameterized by its quantile function. Log-density in
 * kernels/math/cauchy.h. */
#include "dist_impl.h"

const tre_dist_family tre_cauchy_family = {
    .name = "Cauchy",
    .kernel = TRE_KDIST_CAUCHY,
    .nparams = 2,
    .param_names = {"loc", "scale"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
                     TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .support = TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
    .has_rsample = true,
};

tre_dist *tre_cauchy(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale) {
    const tre_tensor *params[2] = {loc, scale};
    return tre_dist_new(ctx, &tre_cauchy_family, params);
}

/* KL(Cauchy(m1, g1) || Cauchy(m2, g2)) = log((g1 + g2)^2 + (m1 - m2)^2) - log(4 g1 g2)
 * (Chyzak and Nielsen's closed form, as in PyTorch) */
tre_tensor *tre_kl_cauchy_cauchy(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *m1 = p->params[0], *g1 = p->params[1], *m2 = q->params[0], *g2 = q->params[1];
    tre_tensor *num = tre_add(ctx, tre_square(ctx, tre_add(ctx, g1, g2)), tre_square(ctx, tre_sub(ctx, m1, m2)));
    tre_tensor *den = tre_mul(ctx, tre_scalar(ctx, 4.f), tre_mul(ctx, g1, g2));
    return tre_log(ctx, tre_div(ctx, num, den));
}
