/* RenyiELBO(alpha) (SPEC.md section 6; alpha = 0 is the IWAE bound), as Pyro's:
 *   L = sum_n [logsumexp_s((1 - alpha) elbo_sn) - log N] / (1 - alpha),
 * where n runs over the elements of the plates that every sample site is in (Pyro's
 * get_dependent_plate_dims keeps those and sums the others), so a model whose sites are all
 * local to a data plate gets a bound per datum, summed; with no such plate, elbo_sn is the
 * particle's whole elbo_s (SPEC.md's formula). Gradients: the per-element surrogates weighted by
 * the detached normalized weights softmax_s((1 - alpha) elbo_sn); non-reparameterized guide
 * sites add alpha / (1 - alpha) times their log q, scaled and masked like the site (Pyro's
 * log_prob_sum; Trace_ELBO's score term is neither).
 *
 * One choice differs from Pyro's, toward the sane side: the common plates are taken over the
 * guide's sample sites too (Pyro takes the model's only), so a guide site outside the plates
 * (auxiliary) makes the bound whole-particle instead of being counted once per element. */
#include <math.h>
#include "elbo_impl.h"

/* The plates that every sample site of both traces is in, as the frames of *common; false
 * when there are none (index sites are not sample sites here, as Pyro prunes them). */
static bool common_plates(tre_trace *model, tre_trace *guide, tre_msg *common) {
    bool first = true;
    tre_trace *traces[2] = {model, guide};
    for (int t = 0; t < 2; ++t)
        for (int64_t i = 0; i < tre_trace_size(traces[t]); ++i) {
            const tre_msg *m = &tre_trace_at(traces[t], i)->msg;
            if (m->type != TRE_SITE_SAMPLE) continue;
            if (first) {
                common->n_frames = m->n_frames;
                for (int k = 0; k < m->n_frames; ++k) common->frames[k] = m->frames[k];
                first = false;
                continue;
            }
            int kept = 0;
            for (int k = 0; k < common->n_frames; ++k)
                if (tre_msg_has_frame(m, &common->frames[k])) common->frames[kept++] = common->frames[k];
            common->n_frames = kept;
        }
    return !first && common->n_frames > 0;
}

/* elbo_sn (values) and, when `sur` is given, the surrogate per element of the common plates:
 * model terms + pathwise guide terms + sf * log q of the scored guide sites. */
static void element_terms(tre_ctx *ctx, tre_trace *model, tre_trace *guide, const tre_msg *common,
                          float sf, tre_tensor **elbo, tre_tensor **sur) {
    tre_tensor *e = NULL, *s = NULL;
    tre_tensor *factor = sur ? tre_scalar(ctx, sf) : NULL;
    tre_trace *traces[2] = {model, guide};
    for (int t = 0; t < 2 && tre_ok(ctx); ++t)
        for (int64_t i = 0; i < tre_trace_size(traces[t]) && tre_ok(ctx); ++i) {
            const tre_trace_node *node = tre_trace_at(traces[t], i);
            if (node->msg.type != TRE_SITE_SAMPLE) continue;
            tre_tensor *term = tre_term_to_plates(ctx, traces[t], node, common);
            if (!term) break;
            e = !e ? (t ? tre_neg(ctx, term) : term) : t ? tre_sub(ctx, e, term) : tre_add(ctx, e, term);
            if (!sur) continue;
            if (t && tre_guide_site_scored(&node->msg)) term = tre_mul(ctx, factor, term);
            else if (t) term = tre_neg(ctx, term);
            s = s ? tre_add(ctx, s, term) : term;
        }
    *elbo = e;
    if (sur) *sur = s;
}

/* The bound from elbo_sn (P x M, particle-major) and, when w is given, the normalized weights
 * times P: exp((1 - alpha) elbo_sn - log_mean_weight_n). In double, max-shifted per element. */
static double bound_and_weights(const float *h, int64_t P, int64_t M, double alpha, float *w) {
    double total = 0.0;
    for (int64_t m = 0; m < M; ++m) {
        double mx = -INFINITY;
        for (int64_t s = 0; s < P; ++s) mx = fmax(mx, (1 - alpha) * h[s * M + m]);
        double acc = 0.0;
        for (int64_t s = 0; s < P; ++s) acc += exp((1 - alpha) * h[s * M + m] - mx);
        const double log_mean_weight = mx + log(acc) - log((double)P);
        total += log_mean_weight;
        if (w)
            for (int64_t s = 0; s < P; ++s) w[s * M + m] = (float)exp((1 - alpha) * h[s * M + m] - log_mean_weight);
    }
    return total / (1 - alpha);
}

tre_status tre_renyi_elbo_estimate(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                   const tre_elbo_opts *opts, bool grad, tre_estimate *est) {
    const double alpha = opts->alpha;
    const float sf = (float)(alpha / (1 - alpha));
    est->elbo = tre_sub(ctx, tre_trace_log_prob_sum(ctx, model), tre_trace_log_prob_sum(ctx, guide));
    if (!est->elbo) return ctx->status;
    tre_msg common = {0};
    const bool local = common_plates(model, guide, &common);
    tre_tensor *e = est->elbo, *sur = NULL;
    if (local) element_terms(ctx, model, guide, &common, sf, &e, grad ? &sur : NULL);
    const int64_t P = opts->num_particles;
    if (e && e->particles != P) e = tre_broadcast_to(ctx, e, P, e->ndim, e->shape);
    if (!e) return ctx->status;
    const int64_t M = e->numel;
    float *h = tre_step_alloc(ctx, (size_t)(P * M) * sizeof *h);
    if (!h || tre_tensor_to_host(ctx, e, h, P * M) != TRE_OK) return ctx->status;
    if (!local) est->host_elbo = h; /* tre_elbo's statistics reuse it */
    float *w = grad ? tre_step_alloc(ctx, (size_t)(P * M) * sizeof *w) : NULL;
    if (grad && !w) return ctx->status;
    est->bound = bound_and_weights(h, P, M, alpha, w);
    if (!grad) return ctx->status;
    /* the surrogate loss: -sum_{s,n} w_sn surrogate_sn / P */
    tre_tensor *weights = tre_from_host(ctx, P, e->ndim, e->shape, w);
    if (!local) sur = tre_surrogate_particles(ctx, model, guide, tre_scalar(ctx, sf), true);
    tre_tensor *ws = tre_mul(ctx, weights, sur);
    est->loss = tre_neg(ctx, tre_particle_mean(ctx, local ? tre_sum(ctx, ws) : ws));
    return ctx->status;
}
