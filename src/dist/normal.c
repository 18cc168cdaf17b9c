/* Normal(loc, scale): reparameterized; log-density in kernels/math/normal.h. */
#include "dist_impl.h"

static const tre_dist_family normal_family = {
    .name = "Normal",
    .kernel = TRE_KDIST_NORMAL,
    .nparams = 2,
    .param_names = {"loc", "scale"},
    .has_rsample = true,
};

tre_dist *tre_normal(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale) {
    const tre_tensor *params[2] = {loc, scale};
    return tre_dist_elementwise(ctx, &normal_family, params);
}
