/* Binomial(total_count, probs): not reparameterized; log-mass and sampler in
 * kernels/math/binomial.h. total_count is a float tensor holding a nonnegative integer. */
#include "dist_impl.h"

const tre_dist_family tre_binomial_probs_family = {
    .name = "Binomial",
    .kernel = TRE_KDIST_BINOMIAL_PROBS,
    .nparams = 2,
    .param_names = {"total_count", "probs"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NONNEG_INTEGER, "a nonnegative integer"),
                     TRE_CHECK(TRE_CHECK_UNIT_INTERVAL, "in [0, 1]")},
    /* integers 0..total_count: the bound is parameter 0, broadcast against the value */
    .support = TRE_CHECK_PARAMS(TRE_CHECK_INTEGER_UPTO, 0, -1, "an integer in [0, total_count]"),
    .has_rsample = false,
};

tre_dist *tre_binomial_probs(tre_ctx *ctx, const tre_tensor *total_count, const tre_tensor *probs) {
    const tre_tensor *params[2] = {total_count, probs};
    return tre_dist_new(ctx, &tre_binomial_probs_family, params);
}

/* KL(Binomial(n1, p1) || Binomial(n2, p2)) = n1 KL(Bernoulli(p1) || Bernoulli(p2)) where the
 * counts agree, +inf where n1 > n2 (p reaches counts q cannot). n1 < n2 has no closed form: an
 * error, as in PyTorch. */
tre_tensor *tre_kl_binomial_binomial(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    const tre_tensor *n1 = p->params[0], *n2 = q->params[0];
    int64_t below = tre_count_invalid(ctx, TRE_CHECK_INTEGER_UPTO, n2, n1, NULL, 0.f);
    if (below < 0) return NULL;
    if (below > 0) {
        tre_ctx_fail(ctx, TRE_ERR_UNSUPPORTED,
                     "kl_divergence: Binomial || Binomial has no closed form where q's total_count "
                     "exceeds p's (%lld values)", (long long)below);
        return NULL;
    }
    tre_tensor *kl = tre_mul(ctx, n1, tre_kl_bernoulli_terms(ctx, p->params[1], false, q->params[1], false));
    /* n1 = 0 (then n2 = 0): both are a point mass at 0, KL 0 even where a probs is 0 or 1 */
    if (kl) kl = tre_mask_scale(ctx, kl, n1, 1.0, kl->particles, kl->ndim, kl->shape);
    return tre_kl_inf_where(ctx, kl, tre_kl_positive(ctx, tre_sub(ctx, n1, n2)));
}
