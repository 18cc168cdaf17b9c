/* Trace_ELBO (SPEC.md section 6): elbo_s = log p(x, z_s) - log q(z_s) for every particle at
 * once, and the surrogate whose gradient is the ELBO's. */
#include "elbo_impl.h"

tre_tensor *tre_surrogate_particles(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                    const tre_tensor *score_weight, bool scaled_score) {
    tre_tensor *sur = tre_trace_log_prob_sum(ctx, model);
    for (int64_t i = 0; i < tre_trace_size(guide) && tre_ok(ctx); ++i) {
        const tre_trace_node *node = tre_trace_at(guide, i);
        if (node->msg.type != TRE_SITE_SAMPLE) continue;
        /* an observed guide site is in elbo_s like any other: pathwise, its value is data */
        if (node->msg.is_observed || tre_dist_has_rsample(node->msg.fn)) {
            sur = tre_sub(ctx, sur, node->log_prob_sum);
        } else if (scaled_score) {
            sur = tre_add(ctx, sur, tre_mul(ctx, (tre_tensor *)score_weight, node->log_prob_sum));
        } else {
            /* the score-function term carries neither scale nor mask (Pyro's ScoreParts) */
            tre_tensor *score = NULL;
            tre_trace_score_parts(ctx, guide, node->msg.name, NULL, &score, NULL);
            if (score) sur = tre_add(ctx, sur, tre_mul(ctx, (tre_tensor *)score_weight, tre_sum(ctx, score)));
        }
    }
    return sur;
}

tre_status tre_trace_elbo_estimate(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                   const tre_elbo_opts *opts, bool grad, tre_estimate *est) {
    (void)opts;
    est->elbo = tre_sub(ctx, tre_trace_log_prob_sum(ctx, model), tre_trace_log_prob_sum(ctx, guide));
    if (grad && est->elbo) {
        /* score-function sites are weighted by the whole particle's detached elbo_s: unbiased
         * (Pyro additionally Rao-Blackwellizes over plates) */
        tre_tensor *sur = tre_surrogate_particles(ctx, model, guide, tre_stop_grad(ctx, est->elbo), false);
        est->loss = tre_neg(ctx, tre_particle_mean(ctx, sur));
    }
    return ctx->status;
}
