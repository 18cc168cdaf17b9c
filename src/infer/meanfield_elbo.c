/* TraceMeanField_ELBO (SPEC.md section 6): observed sites add their log-prob; each latent site
 * subtracts the analytic KL(q || p) (times the guide site's scale and mask) where a closed form
 * exists, else its Monte Carlo term log p - log q. The guide must be fully reparameterized and
 * hold every model latent. */
#include "elbo_impl.h"

tre_status tre_meanfield_elbo_estimate(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                       const tre_elbo_opts *opts, bool grad, tre_estimate *est) {
    (void)opts;
    /* per-site sums, cached on the nodes */
    tre_trace_log_prob_sum(ctx, guide);
    tre_trace_log_prob_sum(ctx, model);
    tre_tensor *elbo = tre_scalar(ctx, 0.f);
    for (int64_t i = 0; i < tre_trace_size(model) && tre_ok(ctx); ++i) {
        const tre_trace_node *m = tre_trace_at(model, i);
        if (m->msg.type != TRE_SITE_SAMPLE) continue;
        tre_tensor *lp = m->log_prob_sum;
        if (m->msg.is_observed) {
            elbo = tre_add(ctx, elbo, lp);
            continue;
        }
        const tre_trace_node *g = tre_trace_get(guide, m->msg.name);
        if (!g) /* Pyro's TraceMeanField_ELBO fails here too (a KeyError): no KL to take */
            return tre_ctx_fail(ctx, TRE_ERR_MODEL,
                                "TraceMeanField_ELBO: model latent site \"%s\" is not in the guide "
                                "(every model latent needs a guide site here; Trace_ELBO samples "
                                "it from the prior)",
                                m->msg.name);
        if (tre_guide_site_scored(&g->msg))
            return tre_ctx_fail(ctx, TRE_ERR_MODEL,
                                "TraceMeanField_ELBO: guide site \"%s\" (%s) is not reparameterized",
                                g->msg.name, tre_dist_name(g->msg.fn));
        if (tre_kl_exists(g->msg.fn, m->msg.fn)) {
            tre_tensor *kl = tre_kl_divergence(ctx, g->msg.fn, m->msg.fn);
            if (kl && (g->msg.mask || g->msg.scale != 1.0))
                kl = tre_mask_scale(ctx, kl, g->msg.mask, g->msg.scale, kl->particles, kl->ndim, kl->shape);
            if (!kl) {
                tre_ctx_name_site(ctx, m->msg.name);
                return ctx->status;
            }
            elbo = tre_sub(ctx, elbo, tre_sum(ctx, kl));
        } else {
            elbo = tre_sub(ctx, tre_add(ctx, elbo, lp), g->log_prob_sum);
        }
    }
    for (int64_t i = 0; i < tre_trace_size(guide) && tre_ok(ctx); ++i) {
        const tre_trace_node *g = tre_trace_at(guide, i);
        if (g->msg.type != TRE_SITE_SAMPLE || tre_trace_get(model, g->msg.name)) continue;
        /* auxiliary guide sites: differentiated pathwise too, as Pyro checks all guide sites */
        if (tre_guide_site_scored(&g->msg))
            return tre_ctx_fail(ctx, TRE_ERR_MODEL,
                                "TraceMeanField_ELBO: guide site \"%s\" (%s) is not reparameterized",
                                g->msg.name, tre_dist_name(g->msg.fn));
        elbo = tre_sub(ctx, elbo, g->log_prob_sum);
    }
    est->elbo = elbo;
    /* fully reparameterized: the estimate is its own surrogate */
    if (grad && elbo) est->loss = tre_neg(ctx, tre_particle_mean(ctx, elbo));
    return ctx->status;
}
