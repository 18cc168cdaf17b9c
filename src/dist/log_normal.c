/* LogNormal(loc, scale): exp of a Normal; reparameterized. Log-density in
 * kernels/math/log_normal.h. KL(LogNormal || LogNormal) equals the KL of the underlying
 * Normals (KL is invariant under the shared bijection exp). */
#include "dist_impl.h"

const tre_dist_family tre_log_normal_family = {
    .name = "LogNormal",
    .kernel = TRE_KDIST_LOG_NORMAL,
    .nparams = 2,
    .param_names = {"loc", "scale"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
                     TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .support = TRE_CHECK(TRE_CHECK_POSITIVE, "positive"),
    .has_rsample = true,
};

tre_dist *tre_log_normal(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale) {
    const tre_tensor *params[2] = {loc, scale};
    return tre_dist_new(ctx, &tre_log_normal_family, params);
}

tre_tensor *tre_kl_log_normal_log_normal(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    return tre_kl_normal_normal(ctx, p, q); /* same (loc, scale) layout */
}
