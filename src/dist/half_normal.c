/* HalfNormal(scale): |Normal(0, scale)|, support [0, inf); reparameterized. Log-density in
 * kernels/math/half_normal.h. */
#include "dist_impl.h"

const tre_dist_family tre_half_normal_family = {
    .name = "HalfNormal",
    .kernel = TRE_KDIST_HALF_NORMAL,
    .nparams = 1,
    .param_names = {"scale"},
    .param_checks = {TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .support = TRE_CHECK(TRE_CHECK_NONNEGATIVE, "nonnegative"),
    .has_rsample = true,
};

tre_dist *tre_half_normal(tre_ctx *ctx, const tre_tensor *scale) {
    const tre_tensor *params[1] = {scale};
    return tre_dist_new(ctx, &tre_half_normal_family, params);
}

/* KL(HalfNormal(s1) || HalfNormal(s2)) = (s1^2 / s2^2 - 1) / 2 - log(s1 / s2): Normal's with
 * both locations 0 (the half-line's mass is 2 x the density on both sides, and cancels) */
tre_tensor *tre_kl_half_normal_half_normal(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    tre_tensor *ratio = tre_div(ctx, p->params[0], q->params[0]);
    return tre_sub(ctx, tre_mul(ctx, tre_scalar(ctx, 0.5f), tre_sub(ctx, tre_square(ctx, ratio), tre_scalar(ctx, 1.f))),
                   tre_log(ctx, ratio));
}
