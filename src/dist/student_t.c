/* StudentT(df, loc, scale): reparameterized (loc + scale * Z / sqrt(V / df), V a chi-square
 * draw; the df gradient is the implicit one at fixed CDF value); support the real line.
 * Log-density, sampler and derivatives in kernels/math/student_t.h. */
#include "dist_impl.h"

const tre_dist_family tre_student_t_family = {
    .name = "StudentT",
    .kernel = TRE_KDIST_STUDENT_T,
    .nparams = 3,
    .param_names = {"df", "loc", "scale"},
    .param_checks = {TRE_CHECK(TRE_CHECK_POSITIVE, "positive"),
                     TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
                     TRE_CHECK(TRE_CHECK_POSITIVE, "positive")},
    .support = TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)"),
    .has_rsample = true,
};

tre_dist *tre_student_t(tre_ctx *ctx, const tre_tensor *df, const tre_tensor *loc,
                        const tre_tensor *scale) {
    const tre_tensor *params[3] = {df, loc, scale};
    return tre_dist_new(ctx, &tre_student_t_family, params);
}
