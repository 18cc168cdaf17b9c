/* Distribution internals: a family table per distribution and the generic dist object.
 *
 * Elementwise families (every scalar distribution) need only their table: parameter names and
 * checks, support, and the tre_kdist kernel that the backend evaluates elementwise. Structured
 * families (event dims of their own: Dirichlet, MultivariateNormal; or Categorical, whose
 * parameter has one more dim than its values) add hooks for their shapes, log_prob and sample. */
#ifndef TRELBO_DIST_IMPL_H
#define TRELBO_DIST_IMPL_H
#include "../tensor/tensor_impl.h"

/* How a parameter (or a value, for the support) is validated: a backend check whose bounds are
 * other parameters (indices a, b; -1: none) or the constant ca. */
typedef struct tre_dist_check {
    bool on;
    tre_kcheck check;
    int a, b;
    float ca;
    const char *text;   /* for messages: "positive", "in [0, 1]", ... */
} tre_dist_check;

#define TRE_CHECK(kind, txt) ((tre_dist_check){true, (kind), -1, -1, 0.f, (txt)})
#define TRE_CHECK_PARAMS(kind, ia, ib, txt) ((tre_dist_check){true, (kind), (ia), (ib), 0.f, (txt)})

typedef struct tre_dist tre_dist;

typedef struct tre_dist_family {
    const char *name;
    tre_kdist kernel;                 /* the elementwise kernel (when log_prob/sample hooks are NULL) */
    int nparams;
    const char *param_names[TRE_KDIST_MAX_PARAMS];
    tre_dist_check param_checks[TRE_KDIST_MAX_PARAMS];
    tre_dist_check support;           /* values; for structured families see validate_value */
    bool has_rsample;
    /* has_rsample is false by default, yet the draw is pathwise when asked (Pyro's Unit, whose
     * draws are constants): whether the site's log-density arose from reparameterized sampling
     * is its caller's to say, and a guide site of such a family must say it (tre_factor_ex) */
    bool rsample_optional;
    /* structured families only (all NULL / 0 for elementwise ones): */
    int base_event_ndim;
    /* fill d->batch_* and d->event_* from d->params (shape errors name the parameter) */
    tre_status (*shapes)(tre_ctx *ctx, tre_dist *d);
    /* log-densities with the base event consumed: shape = batch shape broadcast with the
     * value's batch dims (to_event dims are summed by the caller), extent of the inputs */
    tre_tensor *(*log_prob)(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value);
    /* `particles` draws of shape batch + event */
    tre_tensor *(*sample)(tre_ctx *ctx, const tre_dist *d, int64_t particles);
    /* checks beyond param_checks (e.g. scale_tril lower-triangular) / support of a value */
    tre_status (*validate)(tre_ctx *ctx, const tre_dist *d);
    tre_status (*validate_value)(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value);
    /* any family (NULL: none): the per-particle sum of scale * mask * log_prob(value), for a
     * family that has a faster way than materializing its log_prob */
    tre_tensor *(*log_prob_sum)(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                                const tre_tensor *mask, double scale);
} tre_dist_family;

struct tre_dist {
    const tre_dist_family *family;
    const tre_tensor *params[TRE_KDIST_MAX_PARAMS];
    int batch_ndim;
    int64_t batch_shape[TRE_MAX_DIMS];
    int event_ndim;                   /* base event dims + dims moved by to_event */
    int64_t event_shape[TRE_MAX_DIMS];
    signed char rsample;              /* 0: the family's has_rsample; 1 / -1: set true / false
                                       * by tre_dist_with_rsample (kept by to_event, expand) */
};

/* A distribution of `family` from its parameters: checks them (NULL, dtype, particle extents),
 * then batch shape = broadcast of the parameters' shapes, or the family's shapes hook. A
 * failure is reported with the site named by the next tre_sample. */
tre_dist *tre_dist_new(tre_ctx *ctx, const tre_dist_family *family, const tre_tensor *const *params);
/* Particle extent shared by the parameters (P or 1). */
int64_t tre_dist_particles(const tre_dist *d);
/* Per-particle sum of scale * mask * log_prob(value), fused in one kernel for elementwise
 * families without materializing the elementwise log-densities (mask: NULL, or batch dims). */
tre_tensor *tre_dist_log_prob_sum(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                                  const tre_tensor *mask, double scale);
/* tre_dist_log_prob_sum without the family's own log_prob_sum (its fallback) */
tre_tensor *tre_dist_log_prob_sum_unfused(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                                          const tre_tensor *mask, double scale);
/* Bernoulli(logits)'s log_prob_sum (bernoulli_outer.c): one fused pass where the logits are a
 * recorded broadcast a_i +- b_j over the observed grid, else the unfused sum */
tre_tensor *tre_bernoulli_logits_log_prob_sum(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                                              const tre_tensor *mask, double scale);

/* Validation (validate.c): parameters against their constraints, values against the support.
 * Errors name the distribution and the parameter; the caller names the site. */
tre_status tre_dist_validate_params(tre_ctx *ctx, const tre_dist *d);
tre_status tre_dist_validate_value(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value);
/* Count of elements of x (broadcast with a and b, either may be NULL) failing `check`. */
int64_t tre_count_invalid(tre_ctx *ctx, tre_kcheck check, const tre_tensor *x, const tre_tensor *a,
                          const tre_tensor *b, float ca);

/* Analytic KL(p || q) of one family pair, elementwise over the batch (kl.c dispatches). */
typedef tre_tensor *(*tre_kl_fn)(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);

/* The families (one file each in src/dist/). */
extern const tre_dist_family tre_normal_family;
extern const tre_dist_family tre_categorical_family;
extern const tre_dist_family tre_multivariate_normal_family;
extern const tre_dist_family tre_bernoulli_probs_family;
extern const tre_dist_family tre_bernoulli_logits_family;
extern const tre_dist_family tre_bernoulli_logits_glm_family;
extern const tre_dist_family tre_poisson_family;
extern const tre_dist_family tre_binomial_probs_family;
extern const tre_dist_family tre_log_normal_family;
extern const tre_dist_family tre_half_normal_family;
extern const tre_dist_family tre_cauchy_family;
extern const tre_dist_family tre_half_cauchy_family;
extern const tre_dist_family tre_laplace_family;
extern const tre_dist_family tre_uniform_family;
extern const tre_dist_family tre_exponential_family;
extern const tre_dist_family tre_delta_family;
extern const tre_dist_family tre_gamma_family;
extern const tre_dist_family tre_beta_family;
extern const tre_dist_family tre_student_t_family;
extern const tre_dist_family tre_dirichlet_family;
extern const tre_dist_family tre_unit_family;

/* Batch shape followed by event shape (at most TRE_MAX_DIMS dims); returns their count. */
int tre_dist_full_shape(const tre_dist *d, int64_t *shape);

/* KL functions, defined beside their families. */
tre_tensor *tre_kl_normal_normal(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
/* Categorical || Categorical (categorical.c), MultivariateNormal || MultivariateNormal and
 * Normal.to_event(k + 1) || MultivariateNormal.to_event(k) (multivariate_normal.c) */
tre_tensor *tre_kl_categorical_categorical(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_mvn_mvn(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_normal_mvn(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
/* LogNormal || LogNormal (log_normal.c) */
tre_tensor *tre_kl_log_normal_log_normal(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
/* Bernoulli || Bernoulli, probs or logits on either side (bernoulli.c) */
tre_tensor *tre_kl_bernoulli_bernoulli(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
/* The Bernoulli KL from its parameter tensors (probs, or logits where *_logits) */
tre_tensor *tre_kl_bernoulli_terms(tre_ctx *ctx, const tre_tensor *p, bool p_logits,
                                   const tre_tensor *q, bool q_logits);
/* Binomial || Binomial (binomial.c), Cauchy || Cauchy (cauchy.c), Uniform || Uniform
 * (uniform.c) */
tre_tensor *tre_kl_binomial_binomial(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_cauchy_cauchy(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_uniform_uniform(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
/* Support mismatches in a KL (kl.c): a tensor that is nonzero exactly where d > 0 (NaN stays
 * NaN), and kl with +inf wherever `where` is nonzero (kl broadcast to both shapes). */
tre_tensor *tre_kl_positive(tre_ctx *ctx, const tre_tensor *d);
tre_tensor *tre_kl_inf_where(tre_ctx *ctx, const tre_tensor *kl, const tre_tensor *where);
/* Gamma || Gamma, Gamma || Exponential, Exponential || Gamma (gamma.c), Beta || Beta (beta.c),
 * Dirichlet || Dirichlet (dirichlet.c), Laplace || Laplace (laplace.c) */
tre_tensor *tre_kl_gamma_gamma(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_gamma_exponential(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_exponential_gamma(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_laplace_laplace(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_beta_beta(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_dirichlet_dirichlet(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
/* HalfNormal || HalfNormal (half_normal.c), Exponential || Exponential (exponential.c),
 * Poisson || Poisson (poisson.c) */
tre_tensor *tre_kl_half_normal_half_normal(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_exponential_exponential(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_poisson_poisson(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
/* Pairs of two families, beside p's family (PyTorch's cross-family closed forms):
 * Laplace || Normal (laplace.c), Normal || Laplace (normal.c), Gamma || Normal (gamma.c),
 * Beta || Uniform (beta.c; +inf unless [0, 1] lies inside q's bounds), Uniform || Normal
 * (uniform.c) */
tre_tensor *tre_kl_laplace_normal(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_normal_laplace(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_gamma_normal(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_beta_uniform(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
tre_tensor *tre_kl_uniform_normal(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
#endif
