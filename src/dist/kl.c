/* Analytic KL divergences: dispatch on the (p, q) family pair, then the generic part (batch
 * broadcasting and the to_event dims summed), like Pyro's kl_divergence registry. A pair may
 * join families of different base event dims: p_shift of p's to_event dims are event dims of
 * q's family (Normal.to_event(k + 1) || MultivariateNormal.to_event(k), as Pyro's
 * Independent || MultivariateNormal). */
#include <math.h>
#include "dist_impl.h"

typedef struct kl_entry {
    const tre_dist_family *p, *q;
    tre_kl_fn fn;
    int p_shift; /* base event dims of q's family that are to_event dims of p */
} kl_entry;
static const kl_entry kl_table[] = {
    {&tre_normal_family, &tre_normal_family, tre_kl_normal_normal, 0},
    {&tre_normal_family, &tre_multivariate_normal_family, tre_kl_normal_mvn, 1},
    {&tre_categorical_family, &tre_categorical_family, tre_kl_categorical_categorical, 0},
    {&tre_multivariate_normal_family, &tre_multivariate_normal_family, tre_kl_mvn_mvn, 0},
    {&tre_log_normal_family, &tre_log_normal_family, tre_kl_log_normal_log_normal, 0},
    {&tre_bernoulli_probs_family, &tre_bernoulli_probs_family, tre_kl_bernoulli_bernoulli, 0},
    {&tre_bernoulli_logits_family, &tre_bernoulli_logits_family, tre_kl_bernoulli_bernoulli, 0},
    {&tre_bernoulli_probs_family, &tre_bernoulli_logits_family, tre_kl_bernoulli_bernoulli, 0},
    {&tre_bernoulli_logits_family, &tre_bernoulli_probs_family, tre_kl_bernoulli_bernoulli, 0},
    {&tre_gamma_family, &tre_gamma_family, tre_kl_gamma_gamma, 0},
    {&tre_beta_family, &tre_beta_family, tre_kl_beta_beta, 0},
    {&tre_dirichlet_family, &tre_dirichlet_family, tre_kl_dirichlet_dirichlet, 0},
    {&tre_half_normal_family, &tre_half_normal_family, tre_kl_half_normal_half_normal, 0},
    {&tre_exponential_family, &tre_exponential_family, tre_kl_exponential_exponential, 0},
    {&tre_poisson_family, &tre_poisson_family, tre_kl_poisson_poisson, 0},
    {&tre_gamma_family, &tre_exponential_family, tre_kl_gamma_exponential, 0},
    {&tre_exponential_family, &tre_gamma_family, tre_kl_exponential_gamma, 0},
    {&tre_laplace_family, &tre_laplace_family, tre_kl_laplace_laplace, 0},
    {&tre_cauchy_family, &tre_cauchy_family, tre_kl_cauchy_cauchy, 0},
    {&tre_uniform_family, &tre_uniform_family, tre_kl_uniform_uniform, 0},
    {&tre_binomial_probs_family, &tre_binomial_probs_family, tre_kl_binomial_binomial, 0},
    {&tre_laplace_family, &tre_normal_family, tre_kl_laplace_normal, 0},
    {&tre_normal_family, &tre_laplace_family, tre_kl_normal_laplace, 0},
    {&tre_gamma_family, &tre_normal_family, tre_kl_gamma_normal, 0},
    {&tre_beta_family, &tre_uniform_family, tre_kl_beta_uniform, 0},
    {&tre_uniform_family, &tre_normal_family, tre_kl_uniform_normal, 0},
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

/* p's to_event dims (those its family does not hold as event dims) */
static int reinterpreted(const tre_dist *d) { return d->event_ndim - d->family->base_event_ndim; }

/* The entry for p's and q's families where it fits their to_event dims and their event shapes
 * agree (else NULL); *families_match: whether the two families have an entry at all. */
static const kl_entry *kl_lookup(const tre_dist *p, const tre_dist *q, bool *families_match) {
    *families_match = false;
    for (size_t i = 0; i < sizeof kl_table / sizeof *kl_table; ++i) {
        if (kl_table[i].p != p->family || kl_table[i].q != q->family) continue;
        *families_match = true;
        if (reinterpreted(p) - kl_table[i].p_shift == reinterpreted(q))
            return tre_shape_equal(p->event_ndim, p->event_shape, q->event_ndim, q->event_shape)
                       ? &kl_table[i] : NULL;
    }
    return NULL;
}

bool tre_kl_exists(const tre_dist *p, const tre_dist *q) {
    bool families;
    return p && q && kl_lookup(p, q, &families);
}

tre_tensor *tre_kl_divergence(tre_ctx *ctx, const tre_dist *p, const tre_dist *q) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!p || !q) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "kl_divergence: %s is NULL", !p ? "p" : "q");
        return NULL;
    }
    bool families;
    const kl_entry *e = kl_lookup(p, q, &families);
    if (!families) {
        tre_ctx_fail(ctx, TRE_ERR_UNSUPPORTED, "kl_divergence: no closed form for %s || %s",
                     p->family->name, q->family->name);
        return NULL;
    }
    if (!e) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "kl_divergence: %s and %s have different event shapes",
                     p->family->name, q->family->name);
        return NULL;
    }
    /* full shape (batch + q's to_event dims) of the elementwise KL, then sum those dims */
    const int r = reinterpreted(q);
    int64_t shape[TRE_MAX_DIMS];
    int nd;
    int64_t pshape[TRE_MAX_DIMS], qshape[TRE_MAX_DIMS];
    for (int i = 0; i < p->batch_ndim; ++i) pshape[i] = p->batch_shape[i];
    for (int i = 0; i < r; ++i) pshape[p->batch_ndim + i] = p->event_shape[i];
    for (int i = 0; i < q->batch_ndim; ++i) qshape[i] = q->batch_shape[i];
    for (int i = 0; i < r; ++i) qshape[q->batch_ndim + i] = q->event_shape[i];
    if (!tre_shape_broadcast(p->batch_ndim + r, pshape, q->batch_ndim + r, qshape, &nd, shape)) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "kl_divergence: batch shapes of %s and %s do not broadcast",
                     p->family->name, q->family->name);
        return NULL;
    }
    tre_tensor *kl = e->fn(ctx, p, q);
    if (!kl) return NULL;
    if (!tre_shape_equal(kl->ndim, kl->shape, nd, shape))
        kl = tre_broadcast_to(ctx, kl, kl->particles, nd, shape);
    return kl && r ? tre_sum_trailing(ctx, kl, r) : kl; /* no event dims: no copy */
}
