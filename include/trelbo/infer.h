/* ELBO estimators (docs/SPEC.md section 6). */
#ifndef TRELBO_INFER_H
#define TRELBO_INFER_H

#include "handlers.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tre_elbo_kind {
    TRE_TRACE_ELBO = 0,         /* Pyro's Trace_ELBO */
    TRE_TRACE_MEANFIELD_ELBO,   /* TraceMeanField_ELBO: analytic KL where a closed form exists */
    TRE_RENYI_ELBO              /* RenyiELBO(alpha); alpha = 0 is IWAE, alpha = 1 an error. As
                                 * Pyro's, the bound is taken per element of the plates that
                                 * every sample site is in (a bound per datum when all sites are
                                 * local to a data plate), summed; else over whole particles */
} tre_elbo_kind;

typedef struct tre_elbo_opts {
    tre_elbo_kind kind;
    int64_t num_particles;   /* P >= 1 */
    double alpha;            /* RenyiELBO only */
    /* Also compute d loss / d u for every param of the store (tre_param_entry.grad) by the
     * surrogate of docs/SPEC.md section 6: pathwise through reparameterized sites, score function
     * for the others, times the particle's detached log p - log q Rao-Blackwellized over
     * plates as Pyro's Trace_ELBO does (a site in plate "data" is weighted by the global terms
     * and its own slice's; a site in no plate by the whole elbo_s). RenyiELBO weights by its
     * particle weights. */
    bool grad;
} tre_elbo_opts;

typedef struct tre_elbo_result {
    double mean;     /* the estimate: mean over particles of elbo_s (RenyiELBO: its bound) */
    double stderr_;  /* standard error of the mean of elbo_s (0 when P == 1) */
    double loss;     /* -mean */
    int64_t num_particles;
    /* elbo_s per particle (step-scoped, host memory, num_particles values) */
    const float *particles;
    /* the traces of this evaluation (step-scoped) */
    tre_trace *guide_trace, *model_trace;
} tre_elbo_result;

/* One evaluation: resets the step, runs the guide once under trace, the model once under
 * trace(replay(guide trace)), and reduces elbo_s = log p - log q over P particles. */
tre_status tre_elbo(tre_ctx *ctx, tre_program model, tre_program guide, const void *args,
                    const tre_elbo_opts *opts, tre_elbo_result *out);

#ifdef __cplusplus
}
#endif
#endif
