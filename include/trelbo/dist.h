/* Distributions: constructors, reshaping (to_event, expand), log_prob and sampling. */
#ifndef TRELBO_DIST_H
#define TRELBO_DIST_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tre_dist tre_dist;

/* Constructors (step-scoped; NULL on error, sticky, and the next tre_sample names its site).
 * Parameters broadcast against each other; a parameter may have particle extent P. With
 * validation on, parameters are checked against their constraints at the sample site, and
 * values against the support before their first log_prob. Semantics follow PyTorch/Pyro. */
tre_dist *tre_normal(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale);
tre_dist *tre_log_normal(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale);
tre_dist *tre_half_normal(tre_ctx *ctx, const tre_tensor *scale);
tre_dist *tre_cauchy(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale);
tre_dist *tre_half_cauchy(tre_ctx *ctx, const tre_tensor *scale);
tre_dist *tre_laplace(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale);
tre_dist *tre_student_t(tre_ctx *ctx, const tre_tensor *df, const tre_tensor *loc,
                        const tre_tensor *scale);
tre_dist *tre_uniform(tre_ctx *ctx, const tre_tensor *low, const tre_tensor *high);
tre_dist *tre_exponential(tre_ctx *ctx, const tre_tensor *rate);
tre_dist *tre_gamma(tre_ctx *ctx, const tre_tensor *concentration, const tre_tensor *rate);
tre_dist *tre_beta(tre_ctx *ctx, const tre_tensor *concentration1, const tre_tensor *concentration0);
/* Dirichlet: event shape [K] from the last dim of concentration. */
tre_dist *tre_dirichlet(tre_ctx *ctx, const tre_tensor *concentration);
/* MultivariateNormal(loc [..., D], scale_tril [..., D, D]): event shape [D]. */
tre_dist *tre_multivariate_normal(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale_tril);
/* Delta(v) with log_density (NULL: 0); log_prob is log_density where value == v, else -inf. */
tre_dist *tre_delta(tre_ctx *ctx, const tre_tensor *v, const tre_tensor *log_density);
/* Unit(log_factor): log_prob is log_factor whatever the value (batch shape log_factor's); the
 * distribution of tre_factor's sites (Pyro's Unit). Draws are zeros. has_rsample is false
 * unless set (tre_dist_with_rsample may set it true, as Pyro's Unit(has_rsample=True)). */
tre_dist *tre_unit(tre_ctx *ctx, const tre_tensor *log_factor);
tre_dist *tre_bernoulli_probs(tre_ctx *ctx, const tre_tensor *probs);
tre_dist *tre_bernoulli_logits(tre_ctx *ctx, const tre_tensor *logits);
/* Bernoulli(logits = x w), a logistic regression's likelihood as one distribution (as Stan's
 * bernoulli_logit_glm): x [N, D] (usually data), w [D] (usually per particle); batch shape [N].
 * The same distribution, with the same values and gradients up to rounding, as
 * tre_bernoulli_logits(ctx, tre_matmul(ctx, x, w)); but the log-density of an unmasked site of
 * data x and y [N], with P >= 8 particles, is summed in one fused pass: on the CPU it never
 * forms the [P, N] logits and takes about the time of the two matrix products alone; on CUDA
 * it forms them in bounded chunks. Other sites take the unfused path. */
tre_dist *tre_bernoulli_logits_glm(tre_ctx *ctx, const tre_tensor *x, const tre_tensor *w);
/* Categorical over the last dim of logits (unnormalized); values are indices (as floats). */
tre_dist *tre_categorical_logits(tre_ctx *ctx, const tre_tensor *logits);
tre_dist *tre_poisson(tre_ctx *ctx, const tre_tensor *rate);
tre_dist *tre_binomial_probs(tre_ctx *ctx, const tre_tensor *total_count, const tre_tensor *probs);

/* Analytic KL(p || q) over the batch shape (to_event dims summed); TRE_ERR_UNSUPPORTED when
 * the pair has no closed form here. tre_kl_exists says whether it has. Pairs of one family:
 * Normal, LogNormal, HalfNormal, Laplace, Cauchy, Uniform, Exponential, Gamma, Beta, Dirichlet,
 * MultivariateNormal, Categorical, Poisson, Binomial; Bernoulli with probs or logits on either
 * side; Gamma || Exponential and Exponential || Gamma; Laplace || Normal, Normal || Laplace,
 * Gamma || Normal, Uniform || Normal and Beta || Uniform; Normal.to_event(k + 1) ||
 * MultivariateNormal.to_event(k) (Pyro's Independent || MultivariateNormal: p's last dim as an
 * MVN with a diagonal scale_tril). Both sides need the same event shape and, but for that last
 * pair, the same number of to_event dims (tre_kl_exists checks both: a TRE_ERR_SHAPE
 * error here). As in PyTorch, a p with mass where q has none gives +inf (Uniform || Uniform
 * outside q's bounds, Beta || Uniform unless [0, 1] lies inside q's [low, high], Binomial ||
 * Binomial with p's total_count above q's), and Binomial || Binomial with q's total_count
 * above p's has no closed form: TRE_ERR_UNSUPPORTED (it reads the counts back: one
 * synchronization on a GPU). */
tre_tensor *tre_kl_divergence(tre_ctx *ctx, const tre_dist *p, const tre_dist *q);
bool tre_kl_exists(const tre_dist *p, const tre_dist *q);

/* Move the rightmost n batch dims into the event (Pyro's to_event / Independent). */
tre_dist *tre_dist_to_event(tre_ctx *ctx, const tre_dist *d, int n);
/* Broadcast the batch shape to `shape` (Pyro's expand). */
tre_dist *tre_dist_expand(tre_ctx *ctx, const tre_dist *d, int ndim, const int64_t *shape);

/* Pyro's has_rsample_: d with its sampling forced pathwise (true) or detached (false), whatever
 * its family's default. A guide site whose distribution has has_rsample false gets Trace_ELBO's
 * score-function term instead of the pathwise gradient (for a site that could be either, to
 * compare the estimators, or for samples that decide control flow downstream); the draws are
 * the same numbers either way. Kept by to_event and expand (and so inside plates). true for a
 * family with no reparameterized sampler (Bernoulli, Categorical, Poisson, Binomial) is
 * TRE_ERR_UNSUPPORTED naming the family. */
tre_dist *tre_dist_with_rsample(tre_ctx *ctx, const tre_dist *d, bool has_rsample);

const char *tre_dist_name(const tre_dist *d);
/* Whether draws are reparameterized: the family's default, or what tre_dist_with_rsample set. */
bool tre_dist_has_rsample(const tre_dist *d);
int tre_dist_batch_shape(const tre_dist *d, int64_t *shape);  /* returns ndim (0 for NULL) */
int tre_dist_event_shape(const tre_dist *d, int64_t *shape);  /* returns ndim (0 for NULL) */

/* log_prob of value: shape = batch shape broadcast with value's batch dims; particle extent
 * of the inputs. Sample: particles draws (extent `particles`), shape batch + event. */
tre_tensor *tre_dist_log_prob(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value);
tre_tensor *tre_dist_sample(tre_ctx *ctx, const tre_dist *d, int64_t particles);

#ifdef __cplusplus
}
#endif
#endif
