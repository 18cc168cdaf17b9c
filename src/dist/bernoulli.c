/* Bernoulli(probs) and Bernoulli(logits): not reparameterized; log-mass and sampler in
 * kernels/math/bernoulli.h. Two families (one per parameterization) so that each kernel reads
 * its parameter directly; both carry PyTorch's name "Bernoulli". */
#include "dist_impl.h"

const tre_dist_family tre_bernoulli_probs_family = {
    .name = "Bernoulli",
    .kernel = TRE_KDIST_BERNOULLI_PROBS,
    .nparams = 1,
    .param_names = {"probs"},
    .param_checks = {TRE_CHECK(TRE_CHECK_UNIT_INTERVAL, "in [0, 1]")},
    .support = TRE_CHECK(TRE_CHECK_BOOLEAN, "0 or 1"),
    .has_rsample = false,
};

const tre_dist_family tre_bernoulli_logits_family = {
    .name = "Bernoulli",
    .kernel = TRE_KDIST_BERNOULLI_LOGITS,
    .nparams = 1,
    .param_names = {"logits"},
    .param_checks = {TRE_CHECK(TRE_CHECK_NOT_NAN, "a real number (not NaN)")},
    .support = TRE_CHECK(TRE_CHECK_BOOLEAN, "0 or 1"),
    .has_rsample = false,
    .log_prob_sum = tre_bernoulli_logits_log_prob_sum,
};

tre_dist *tre_bernoulli_probs(tre_ctx *ctx, const tre_tensor *probs) {
    const tre_tensor *params[1] = {probs};
    return tre_dist_new(ctx, &tre_bernoulli_probs_family, params);
}

tre_dist *tre_bernoulli_logits(tre_ctx *ctx, const tre_tensor *logits) {
    const tre_tensor *params[1] = {logits};
    return tre_dist_new(ctx, &tre_bernoulli_logits_family, params);
}

/* The four pieces of a Bernoulli that the KL needs, from either parameter. From logits they
 * come through (log-)sigmoid of l and of -l, which keeps 1 - p and log(1 - p) accurate for
 * confident logits, where 1 - sigmoid(l) would round to 0. */
typedef struct bern_parts {
    const tre_tensor *p1, *p0;        /* P(1), P(0) */
    const tre_tensor *log_p1, *log_p0;
} bern_parts;

static bern_parts parts(tre_ctx *ctx, const tre_tensor *t, bool logits) {
    bern_parts r;
    if (logits) {
        tre_tensor *neg = tre_neg(ctx, t);
        r.p1 = tre_unary_op(ctx, TRE_OP_SIGMOID, "sigmoid", t);
        r.p0 = tre_unary_op(ctx, TRE_OP_SIGMOID, "sigmoid", neg);
        r.log_p1 = tre_unary_op(ctx, TRE_OP_LOG_SIGMOID, "log_sigmoid", t);
        r.log_p0 = tre_unary_op(ctx, TRE_OP_LOG_SIGMOID, "log_sigmoid", neg);
    } else {
        r.p1 = t;
        r.p0 = tre_sub(ctx, tre_scalar(ctx, 1.f), t);
        r.log_p1 = tre_log(ctx, t);
        r.log_p0 = tre_unary_op(ctx, TRE_OP_LOG1P, "log1p", tre_neg(ctx, t));
    }
    return r;
}

/* weight * (log_a - log_b), exactly 0 where weight is 0: the outcome p cannot produce adds
 * nothing, even where its log-masses are -inf (0 * -inf would be NaN), while an outcome that
 * p can produce and q cannot gives +inf, as in PyTorch. */
static tre_tensor *kl_term(tre_ctx *ctx, const tre_tensor *weight, const tre_tensor *log_a,
                           const tre_tensor *log_b) {
    tre_tensor *x = tre_mul(ctx, weight, tre_sub(ctx, log_a, log_b));
    return x ? tre_mask_scale(ctx, x, weight, 1.0, x->particles, x->ndim, x->shape) : NULL;
}

/* KL(p || q) = p1 (log p1 - log q1) + p0 (log p0 - log q0), from probs or logits on either
 * side. Differentiable in both sides' parameters through the tensor ops. */
tre_tensor *tre_kl_bernoulli_terms(tre_ctx *ctx, const tre_tensor *p, bool p_logits,
                                   const tre_tensor *q, bool q_logits) {
    bern_parts a = parts(ctx, p, p_logits), b = parts(ctx, q, q_logits);
    if (!tre_ok(ctx)) return NULL;
    return tre_add(ctx, kl_term(ctx, a.p1, a.log_p1, b.log_p1), kl_term(ctx, a.p0, a.log_p0, b.log_p0));
}

/* any of the four pairs of parameterizations */
tre_tensor *tre_kl_bernoulli_bernoulli(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    return tre_kl_bernoulli_terms(ctx, p->params[0], p->family == &tre_bernoulli_logits_family,
                                  q->params[0], q->family == &tre_bernoulli_logits_family);
}
