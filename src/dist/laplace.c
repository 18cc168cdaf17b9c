/* Laplace(loc, scale): reparameterized by its quantile function. Log-density in
 * kernels/math/laplace.h. */
#include <math.h>
#include "dist_impl.h"

const tre_dist_family tre_laplace_family = {
    .name = "Laplace",
    .kernel = TRE_KDIST_LAPLACE,
    .nparams = 2,
    .param_names = {"loc", "scale"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
                     TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .support = TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
    .has_rsample = true,
};

tre_dist *tre_laplace(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale) {
    const tre_tensor *params[2] = {loc, scale};
    return tre_dist_new(ctx, &tre_laplace_family, params);
}

/* KL(Laplace(m1, b1) || Laplace(m2, b2)) = log(b2 / b1) + |m1 - m2| / b2
 *   + (b1 / b2) exp(-|m1 - m2| / b1) - 1 (PyTorch's closed form) */
tre_tensor *tre_kl_laplace_laplace(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *m1 = p->params[0], *b1 = p->params[1], *m2 = q->params[0], *b2 = q->params[1];
    tre_tensor *ratio = tre_div(ctx, b1, b2);
    tre_tensor *dist = tre_unary_op(ctx, TRE_OP_ABS, "abs", tre_sub(ctx, m1, m2));
    tre_tensor *t3 = tre_mul(ctx, ratio, tre_exp(ctx, tre_neg(ctx, tre_div(ctx, dist, b1))));
    return tre_sub(ctx, tre_add(ctx, tre_sub(ctx, tre_div(ctx, dist, b2), tre_log(ctx, ratio)), t3),
                   tre_scalar(ctx, 1.f));
}

/* KL(Laplace(m1, b1) || Normal(m2, s2)) = -H(p) - E_p[log q], with H(p) = 1 + log(2 b1) and
 * E_p[log q] = -log(s2) - log(2 pi) / 2 - E_p[(x - m2)^2] / (2 s2^2), where
 * E_p[(x - m2)^2] = Var + bias^2 = 2 b1^2 + (m1 - m2)^2:
 *   = log(s2 / b1) + log(pi / 2) / 2 - 1 + (b1 / s2)^2 + (m1 - m2)^2 / (2 s2^2) */
tre_tensor *tre_kl_laplace_normal(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *m1 = p->params[0], *b1 = p->params[1], *m2 = q->params[0], *s2 = q->params[1];
    tre_tensor *ratio = tre_div(ctx, b1, s2);
    tre_tensor *diff = tre_div(ctx, tre_sub(ctx, m1, m2), s2);
    tre_tensor *quad = tre_add(ctx, tre_square(ctx, ratio),
                               tre_mul(ctx, tre_scalar(ctx, 0.5f), tre_square(ctx, diff)));
    const double c = 0.5 * log(3.14159265358979323846 / 2.0) - 1.0;
    return tre_add(ctx, tre_sub(ctx, quad, tre_log(ctx, ratio)), tre_scalar(ctx, (float)c));
}
