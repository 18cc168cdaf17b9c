/* Trace_ELBO (SPEC.md section 6): elbo_s = log p(x, z_s) - log q(z_s) for every particle at
 * once, and the surrogate whose gradient is the ELBO's. */
#include "elbo_impl.h"

bool tre_guide_site_scored(const tre_msg *g) {
    return !tre_dist_has_rsample(g->fn) && (!g->is_observed || g->fn->rsample < 0);
}

tre_tensor *tre_surrogate_particles(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                    const tre_tensor *score_weight, bool scaled_score) {
    tre_tensor *sur = tre_trace_log_prob_sum(ctx, model);
    tre_log_r_cache cache = {0};
    for (int64_t i = 0; i < tre_trace_size(guide) && tre_ok(ctx); ++i) {
        const tre_trace_node *node = tre_trace_at(guide, i);
        if (node->msg.type != TRE_SITE_SAMPLE) continue;
        if (!tre_guide_site_scored(&node->msg)) {
            sur = tre_sub(ctx, sur, node->log_prob_sum);
        } else if (scaled_score) {
            sur = tre_add(ctx, sur, tre_mul(ctx, (tre_tensor *)score_weight, node->log_prob_sum));
        } else {
            /* the score-function term carries neither scale nor mask (Pyro's ScoreParts) */
            tre_tensor *score = NULL;
            tre_trace_score_parts(ctx, guide, node->msg.name, NULL, &score, NULL);
            tre_tensor *w = tre_log_r_to_plates(ctx, model, guide, &node->msg, score_weight, &cache);
            if (!score || !w) break;
            /* sum(w * score) without writing the product when both have dims */
            tre_tensor *ws = w->ndim == 0 ? tre_mul(ctx, w, tre_sum(ctx, score))
                             : score->ndim == 0 ? tre_sum(ctx, tre_mul(ctx, w, score))
                                                : tre_sum(ctx, tre_vecdot(ctx, w, score));
            sur = tre_add(ctx, sur, ws);
        }
    }
    return sur;
}

tre_status tre_trace_elbo_estimate(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                   const tre_elbo_opts *opts, bool grad, tre_estimate *est) {
    (void)opts;
    est->elbo = tre_sub(ctx, tre_trace_log_prob_sum(ctx, model), tre_trace_log_prob_sum(ctx, guide));
    if (grad && est->elbo) {
        /* score-function sites are weighted by the particle's detached log p - log q,
         * Rao-Blackwellized over plates as Pyro does (log_r.c) */
        tre_tensor *sur = tre_surrogate_particles(ctx, model, guide, tre_stop_grad(ctx, est->elbo), false);
        est->loss = tre_neg(ctx, tre_particle_mean(ctx, sur));
    }
    return ctx->status;
}
