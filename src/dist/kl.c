/* Analytic KL divergences: dispatch on the (p, q) family pair, then the generic part (batch
 * broadcasting and the to_event dims summed), like Pyro's kl_divergence registry. */
#include <math.h>
#include "dist_impl.h"

static const struct {
    const tre_dist_family *p, *q;
    tre_kl_fn fn;
} kl_table[] = {
    {&tre_normal_family, &tre_normal_family, tre_kl_normal_normal},
    {&tre_categorical_family, &tre_categorical_family, tre_kl_categorical_categorical},
    {&tre_multivariate_normal_family, &tre_multivariate_normal_family, tre_kl_mvn_mvn},
    {&tre_log_normal_family, &tre_log_normal_family, tre_kl_log_normal_log_normal},
    {&tre_bernoulli_probs_family, &tre_bernoulli_probs_family, tre_kl_bernoulli_bernoulli},
    {&tre_bernoulli_logits_family, &tre_bernoulli_logits_family, tre_kl_bernoulli_bernoulli},
    {&tre_bernoulli_probs_family, &tre_bernoulli_logits_family, tre_kl_bernoulli_bernoulli},
    {&tre_bernoulli_logits_family, &tre_bernoulli_probs_family, tre_kl_bernoulli_bernoulli},
    {&tre_gamma_family, &tre_gamma_family, tre_kl_gamma_gamma},
    {&tre_beta_family, &tre_beta_family, tre_kl_beta_beta},
    {&tre_dirichlet_family, &tre_dirichlet_family, tre_kl_dirichlet_dirichlet},
    {&tre_half_normal_family, &tre_half_normal_family, tre_kl_half_normal_half_normal},
    {&tre_exponential_family, &tre_exponential_family, tre_kl_exponential_exponential},
    {&tre_poisson_family, &tre_poisson_family, tre_kl_poisson_poisson},
    {&tre_gamma_family, &tre_exponential_family, tre_kl_gamma_exponential},
    {&tre_exponential_family, &tre_gamma_family, tre_kl_exponential_gamma},
    {&tre_laplace_family, &tre_laplace_family, tre_kl_laplace_laplace},
    {&tre_cauchy_family, &tre_cauchy_family, tre_kl_cauchy_cauchy},
    {&tre_uniform_family, &tre_uniform_family, tre_kl_uniform_uniform},
    {&tre_binomial_probs_family, &tre_binomial_probs_family, tre_kl_binomial_binomial},
};

/* sign(d) + |sign(d)|: 2 where d > 0, exactly 0 where d <= 0 */
tre_tensor *tre_kl_positive(tre_ctx *ctx, const tre_tensor *d) {
    tre_tensor *s = tre_unary_op(ctx, TRE_OP_SIGN, "sign", d);
    return tre_add(ctx, s, tre_unary_op(ctx, TRE_OP_ABS, "abs", s));
}

/* kl + (where ? inf : 0); the inf term is a constant, so gradients flow through kl alone */
tre_tensor *tre_kl_inf_where(tre_ctx *ctx, const tre_tensor *kl, const tre_tensor *where) {
    if (!kl || !where) return NULL;
    int64_t shape[TRE_MAX_DIMS];
    int nd;
    if (!tre_shape_broadcast(kl->ndim, kl->shape, where->ndim, where->shape, &nd, shape)) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "kl_divergence: support bounds do not broadcast");
        return NULL;
    }
    tre_tensor *inf = tre_mask_scale(ctx, tre_scalar(ctx, INFINITY), where, 1.0, where->particles, nd, shape);
    return inf ? tre_add(ctx, kl, inf) : NULL;
}

bool tre_kl_exists(const tre_dist *p, const tre_dist *q) {
    if (!p || !q) return false;
    for (size_t i = 0; i < sizeof kl_table / sizeof *kl_table; ++i)
        if (kl_table[i].p == p->family && kl_table[i].q == q->family) return true;
    return false;
}

tre_tensor *tre_kl_divergence(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!p || !q) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "kl_divergence: %s is NULL", !p ? "p" : "q");
        return NULL;
    }
    tre_kl_fn fn = NULL;
    for (size_t i = 0; i < sizeof kl_table / sizeof *kl_table && !fn; ++i)
        if (kl_table[i].p == p->family && kl_table[i].q == q->family) fn = kl_table[i].fn;
    if (!fn) {
        tre_ctx_fail(ctx, TRE_ERR_UNSUPPORTED, "kl_divergence: no closed form for %s || %s",
                     p->family->name, q->family->name);
        return NULL;
    }
    int rp = p->event_ndim - p->family->base_event_ndim, rq = q->event_ndim - q->family->base_event_ndim;
    if (rp != rq || !tre_shape_equal(p->event_ndim, p->event_shape, q->event_ndim, q->event_shape)) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "kl_divergence: %s and %s have different event shapes",
                     p->family->name, q->family->name);
        return NULL;
    }
    /* full shape (batch + reinterpreted dims) of the elementwise KL, then sum the event part */
    int64_t shape[TRE_MAX_DIMS];
    int nd;
    int64_t pshape[TRE_MAX_DIMS], qshape[TRE_MAX_DIMS];
    for (int i = 0; i < p->batch_ndim; ++i) pshape[i] = p->batch_shape[i];
    for (int i = 0; i < rp; ++i) pshape[p->batch_ndim + i] = p->event_shape[i];
    for (int i = 0; i < q->batch_ndim; ++i) qshape[i] = q->batch_shape[i];
    for (int i = 0; i < rq; ++i) qshape[q->batch_ndim + i] = q->event_shape[i];
    if (!tre_shape_broadcast(p->batch_ndim + rp, pshape, q->batch_ndim + rq, qshape, &nd, shape)) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "kl_divergence: batch shapes of %s and %s do not broadcast",
                     p->family->name, q->family->name);
        return NULL;
    }
    tre_tensor *kl = fn(ctx, p, q);
    if (!kl) return NULL;
    if (!tre_shape_equal(kl->ndim, kl->shape, nd, shape))
        kl = tre_broadcast_to(ctx, kl, kl->particles, nd, shape);
    return kl && rp ? tre_sum_trailing(ctx, kl, rp) : kl; /* no event dims: no copy */
}
