/* RenyiELBO(alpha) (SPEC.md section 6; alpha = 0 is the IWAE bound):
 *   L = [logsumexp_s((1 - alpha) elbo_s) - log N] / (1 - alpha),
 * differentiated through the per-particle surrogates weighted by the detached normalized weights
 * softmax((1 - alpha) elbo_s), as Pyro does; non-reparameterized guide sites add
 * alpha / (1 - alpha) times their log q sum to the surrogate, scaled and masked like the site
 * (Pyro's log_prob_sum; Trace_ELBO's score term is neither). */
#include <math.h>
#include "elbo_impl.h"

tre_status tre_renyi_elbo_estimate(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                   const tre_elbo_opts *opts, bool grad, tre_estimate *est) {
    const double alpha = opts->alpha;
    est->elbo = tre_sub(ctx, tre_trace_log_prob_sum(ctx, model), tre_trace_log_prob_sum(ctx, guide));
    if (!est->elbo) return ctx->status;
    const int64_t P = opts->num_particles;
    tre_tensor *elbo = est->elbo->particles == P ? est->elbo
                                                 : tre_broadcast_to(ctx, est->elbo, P, 0, NULL);
    float *h = elbo ? tre_step_alloc(ctx, (size_t)P * sizeof *h) : NULL;
    if (!h || tre_tensor_to_host(ctx, elbo, h, P) != TRE_OK) return ctx->status;
    est->host_elbo = h; /* tre_elbo's statistics reuse it */
    /* the bound and the weights on the host: P numbers, in double, max-shifted */
    double mx = -INFINITY;
    for (int64_t s = 0; s < P; ++s) mx = fmax(mx, (1 - alpha) * h[s]);
    double acc = 0.0;
    for (int64_t s = 0; s < P; ++s) acc += exp((1 - alpha) * h[s] - mx);
    double log_mean_weight = mx + log(acc) - log((double)P);
    est->bound = log_mean_weight / (1 - alpha);
    if (!grad) return ctx->status;
    /* normalized weights times P: exp(log w_s - log_mean_weight); the surrogate loss is
     * -sum_s w_s surrogate_s / P = -mean_s (w_s * surrogate_s) */
    float *w = tre_step_alloc(ctx, (size_t)P * sizeof *w);
    if (!w) return ctx->status;
    for (int64_t s = 0; s < P; ++s) w[s] = (float)exp((1 - alpha) * h[s] - log_mean_weight);
    tre_tensor *weights = tre_from_host(ctx, P, 0, NULL, w);
    tre_tensor *sf = tre_scalar(ctx, (float)(alpha / (1 - alpha)));
    tre_tensor *sur = tre_surrogate_particles(ctx, model, guide, sf, true);
    est->loss = tre_neg(ctx, tre_particle_mean(ctx, tre_mul(ctx, weights, sur)));
    return ctx->status;
}
