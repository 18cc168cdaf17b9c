/* Uniform(low, high): support [low, high], low < high checked elementwise against the other
 * parameter; reparameterized (low + (high - low) u). Log-density in kernels/math/uniform.h. */
#include <math.h>
#include "dist_impl.h"

const tre_dist_family tre_uniform_family = {
    .name = "Uniform",
    .kernel = TRE_KDIST_UNIFORM,
    .nparams = 2,
    .param_names = {"low", "high"},
    .param_checks = {TRE_CHECK_PARAMS(TRE_CHECK_LESS_THAN, 1, -1, "less than high"),
                     TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)")},
    .support = TRE_CHECK_PARAMS(TRE_CHECK_BETWEEN, 0, 1, "in [low, high]"),
    .has_rsample = true,
};

tre_dist *tre_uniform(tre_ctx *ctx, const tre_tensor *low, const tre_tensor *high) {
    const tre_tensor *params[2] = {low, high};
    return tre_dist_new(ctx, &tre_uniform_family, params);
}

/* KL(Uniform(l1, h1) || Uniform(l2, h2)) = log((h2 - l2) / (h1 - l1)) where [l1, h1] lies
 * inside [l2, h2], else +inf (p puts mass where q has none), as in PyTorch */
tre_tensor *tre_kl_uniform_uniform(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *l1 = p->params[0], *h1 = p->params[1], *l2 = q->params[0], *h2 = q->params[1];
    tre_tensor *kl = tre_log(ctx, tre_div(ctx, tre_sub(ctx, h2, l2), tre_sub(ctx, h1, l1)));
    tre_tensor *outside = tre_add(ctx, tre_kl_positive(ctx, tre_sub(ctx, l2, l1)),
                                  tre_kl_positive(ctx, tre_sub(ctx, h1, h2)));
    return tre_kl_inf_where(ctx, kl, outside);
}

/* KL(Uniform(l, h) || Normal(m, s)) = -H(p) - E_p[log q], with H(p) = log(h - l) and
 * E_p[log q] = -log(s) - log(2 pi) / 2 - E_p[(x - m)^2] / (2 s^2), where
 * E_p[(x - m)^2] = Var + bias^2 = (h - l)^2 / 12 + ((l + h) / 2 - m)^2:
 *   = log(s / (h - l)) + log(2 pi) / 2 + ((h - l)^2 / 12 + ((l + h) / 2 - m)^2) / (2 s^2) */
tre_tensor *tre_kl_uniform_normal(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *l = p->params[0], *h = p->params[1], *m = q->params[0], *s = q->params[1];
    tre_tensor *ratio = tre_div(ctx, tre_sub(ctx, h, l), s);
    tre_tensor *mid = tre_mul(ctx, tre_scalar(ctx, 0.5f), tre_add(ctx, l, h));
    tre_tensor *diff = tre_div(ctx, tre_sub(ctx, mid, m), s);
    tre_tensor *quad = tre_add(ctx, tre_mul(ctx, tre_scalar(ctx, 1.f / 24.f), tre_square(ctx, ratio)),
                               tre_mul(ctx, tre_scalar(ctx, 0.5f), tre_square(ctx, diff)));
    const double c = 0.5 * log(2.0 * 3.14159265358979323846);
    return tre_add(ctx, tre_sub(ctx, quad, tre_log(ctx, ratio)), tre_scalar(ctx, (float)c));
}
