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

/* Trace_ELBO's per-particle surrogate (also Renyi's), given elbo_s:
 * model terms + reparameterized guide terms + score_weight * log q for the other guide
 * sites, where score_weight is stop_grad(elbo_s) for Trace_ELBO. log q there is the site's
 * unscaled, unmasked score (Trace_ELBO, as Pyro's ScoreParts.score_function) or, with
 * scaled_score, its scaled and masked log-prob sum (Renyi: Pyro's RenyiELBO adds
 * alpha / (1 - alpha) times the site's log_prob_sum). */
tre_tensor *tre_surrogate_particles(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                    const tre_tensor *score_weight, bool scaled_score);
#endif
