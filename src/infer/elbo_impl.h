/* The estimators behind tre_elbo (elbo.c runs the traces, the estimator reduces them). */
#ifndef TRELBO_INFER_ELBO_IMPL_H
#define TRELBO_INFER_ELBO_IMPL_H
#include "../poutine/poutine_impl.h"
#include "../tensor/autograd.h"

typedef struct tre_estimate {
    tre_tensor *elbo;       /* per-particle elbo_s (values) */
    tre_tensor *loss;       /* differentiable loss (shape [], extent 1) when gradients are asked */
    double bound;           /* the estimator's value when it is not mean(elbo_s) (Renyi); NAN */
    float *host_elbo;       /* elbo_s already read to the host (P values, step memory), or NULL */
} tre_estimate;

/* Fills est from the traces of one evaluation; `grad` says whether est->loss is needed. */
typedef tre_status (*tre_estimator_fn)(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                       const tre_elbo_opts *opts, bool grad, tre_estimate *est);

tre_status tre_trace_elbo_estimate(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                   const tre_elbo_opts *opts, bool grad, tre_estimate *est);
tre_status tre_meanfield_elbo_estimate(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                       const tre_elbo_opts *opts, bool grad, tre_estimate *est);
tre_status tre_renyi_elbo_estimate(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                   const tre_elbo_opts *opts, bool grad, tre_estimate *est);

/* tre_elbo for a step graph's capture: the caller has checked the stack and reset the step.
 * Nothing is read back and nothing is checked on the host: *elbo_s receives the device buffer
 * of elbo_s [P] (out: the traces; its numbers stay 0), the backward pass and the gradient
 * collection are queued behind it. */
tre_status tre_elbo_deferred(tre_ctx *ctx, tre_program model, tre_program guide, const void *args,
                             const tre_elbo_opts *opts, tre_elbo_result *out,
                             const float **elbo_s);

/* The end of an SVI step whose evaluation succeeded with loss `value` (adam.c): the Adam
 * update, then *loss (when not NULL) receives `value`, or NaN when the update failed. */
tre_status tre_svi_apply(tre_ctx *ctx, tre_adam *opt, double value, double *loss);

/* The weights already summed to one set of plates, within one surrogate (log_r.c). */
#define TRE_LOG_R_CACHE 8
typedef struct tre_log_r_cache {
    int n;
    const tre_msg *target[TRE_LOG_R_CACHE];
    tre_tensor *weight[TRE_LOG_R_CACHE];
} tre_log_r_cache;

/* Trace_ELBO's weight for the score of the guide site `target` (log_r.c): detached log p -
 * log q of both traces, each site's term summed down to the plates it shares with target
 * (Pyro's Rao-Blackwellization over plates); elbo_detached itself for a site in no plate.
 * Broadcasts against the site's batch shape. Needs the traces' log_prob_sums computed. */
tre_tensor *tre_log_r_to_plates(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                const tre_msg *target, const tre_tensor *elbo_detached,
                                tre_log_r_cache *cache);

/* Whether message m carries plate frame f (same name and dim). */
bool tre_msg_has_frame(const tre_msg *m, const tre_frame *f);
/* One site's scaled and masked log-density summed to the plates it shares with `target`: its
 * per-particle total when they share none, else its log_prob with every other dim summed
 * (kept as size 1), so that terms of different sites broadcast against each other. */
tre_tensor *tre_term_to_plates(tre_ctx *ctx, tre_trace *tr, const tre_trace_node *node,
                               const tre_msg *target);

/* Whether the estimators differentiate a guide sample site by its score function (Pyro's
 * ScoreParts with score_function = log_prob): a latent site without rsample. An observed guide
 * site's value is data, so it is pathwise whatever its family, unless its distribution was set
 * has_rsample false (tre_factor_ex of non-reparameterized origin), which Pyro scores. */
bool tre_guide_site_scored(const tre_msg *g);

/* Trace_ELBO's per-particle surrogate (also Renyi's), given elbo_s:
 * model terms + reparameterized guide terms + weight * log q for the other guide sites. For
 * Trace_ELBO the weight is tre_log_r_to_plates (score_weight = stop_grad(elbo_s)) and log q
 * the site's unscaled, unmasked score (Pyro's ScoreParts.score_function), summed after the
 * product; with scaled_score (Renyi) the weight is score_weight and log q the site's scaled
 * and masked log-prob sum (Pyro's RenyiELBO adds alpha / (1 - alpha) times the site's
 * log_prob_sum). */
tre_tensor *tre_surrogate_particles(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                    const tre_tensor *score_weight, bool scaled_score);
#endif
