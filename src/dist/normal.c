/* Normal(loc, scale): reparameterized; log-density in kernels/math/normal.h. */
#include <math.h>
#include "dist_impl.h"

const tre_dist_family tre_normal_family = {
    .name = "Normal",
    .kernel = TRE_KDIST_NORMAL,
    .nparams = 2,
    .param_names = {"loc", "scale"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
                     TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .support = TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
    .has_rsample = true,
};

tre_dist *tre_normal(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale) {
    const tre_tensor *params[2] = {loc, scale};
    return tre_dist_new(ctx, &tre_normal_family, params);
}

/* KL(N(m1, s1) || N(m2, s2)) = log(s2/s1) + (s1^2 + (m1-m2)^2) / (2 s2^2) - 1/2 */
tre_tensor *tre_kl_normal_normal(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *m1 = p->params[0], *s1 = p->params[1], *m2 = q->params[0], *s2 = q->params[1];
    tre_tensor *ratio = tre_div(ctx, s1, s2);
    tre_tensor *diff = tre_div(ctx, tre_sub(ctx, m1, m2), s2);
    tre_tensor *quad = tre_add(ctx, tre_square(ctx, ratio), tre_square(ctx, diff));
    return tre_sub(ctx, tre_mul(ctx, tre_scalar(ctx, 0.5f), tre_sub(ctx, quad, tre_scalar(ctx, 1.f))),
                   tre_log(ctx, ratio));
}

/* KL(Normal(m1, s1) || Laplace(m2, b2)) = -H(p) - E_p[log q], with H(p) = (1 + log(2 pi s1^2)) / 2
 * and E_p[log q] = -log(2 b2) - E_p|x - m2| / b2. |x - m2| is folded normal, of mean
 *   E_p|x - m2| = s1 sqrt(2 / pi) exp(-u^2) + d erf(u),  d = m1 - m2, u = d / (s1 sqrt(2)),
 * so KL = log(b2 / s1) + log(2 / pi) / 2 - 1/2 + (s1 sqrt(2 / pi) exp(-u^2) + d erf(u)) / b2 */
tre_tensor *tre_kl_normal_laplace(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *m1 = p->params[0], *s1 = p->params[1], *m2 = q->params[0], *b2 = q->params[1];
    const double pi = 3.14159265358979323846;
    tre_tensor *ratio = tre_div(ctx, s1, b2);
    tre_tensor *d = tre_sub(ctx, m1, m2);
    tre_tensor *u = tre_div(ctx, d, tre_mul(ctx, s1, tre_scalar(ctx, (float)sqrt(2.0))));
    tre_tensor *spread = tre_mul(ctx, tre_mul(ctx, ratio, tre_scalar(ctx, (float)sqrt(2.0 / pi))),
                                 tre_exp(ctx, tre_neg(ctx, tre_square(ctx, u))));
    tre_tensor *shift = tre_div(ctx, tre_mul(ctx, d, tre_unary_op(ctx, TRE_OP_ERF, "erf", u)), b2);
    const double c = 0.5 * log(2.0 / pi) - 0.5;
    return tre_add(ctx, tre_sub(ctx, tre_add(ctx, spread, shift), tre_log(ctx, ratio)),
                   tre_scalar(ctx, (float)c));
}
