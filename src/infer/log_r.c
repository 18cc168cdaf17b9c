/* The weight of a score-function site in Trace_ELBO's surrogate, Rao-Blackwellized over plates
 * as Pyro's Trace_ELBO does (its _compute_log_r and MultiFrameTensor.sum_to): log_r = log p -
 * log q, each site's term summed down to the plates it shares with the score site. Within a
 * plate the slices are conditionally independent, so the score of z_n is weighted by the
 * global terms and by slice n's own terms only, not by every other slice's: the same
 * expectation, with far less variance when a plate is large (a mixture's assignments).
 *
 * Two choices differ from Pyro's sum_to, both toward the unbiased side: a batch dim that is not
 * one of the shared plates is summed (Pyro keeps it and broadcasts), and a guide site absent
 * from the model (auxiliary), or observed there, adds its -log q term as it does to elbo_s
 * (Pyro's log_r takes guide terms only for the model's latent sites). */
#include <string.h>
#include "elbo_impl.h"

bool tre_msg_has_frame(const tre_msg *m, const tre_frame *f) {
    for (int i = 0; i < m->n_frames; ++i)
        if (m->frames[i].dim == f->dim && strcmp(m->frames[i].name, f->name) == 0) return true;
    return false;
}

static bool shares_a_frame(const tre_msg *term, const tre_msg *target) {
    for (int i = 0; i < term->n_frames; ++i)
        if (tre_msg_has_frame(target, &term->frames[i])) return true;
    return false;
}

tre_tensor *tre_term_to_plates(tre_ctx *ctx, tre_trace *tr, const tre_trace_node *node,
                                  const tre_msg *target) {
    if (!shares_a_frame(&node->msg, target)) return node->log_prob_sum;
    tre_tensor *lp = tre_trace_site_log_prob(ctx, tr, node->msg.name);
    if (!lp) return NULL;
    int64_t keep[TRE_MAX_DIMS];
    for (int i = 0; i < lp->ndim; ++i) {
        keep[i] = 1;
        const int dim = i - lp->ndim;
        for (int k = 0; k < node->msg.n_frames; ++k) {
            const tre_frame *f = &node->msg.frames[k];
            if (f->dim == dim && tre_msg_has_frame(target, f)) keep[i] = lp->shape[i];
        }
    }
    return tre_reduce_to(ctx, lp, lp->particles, lp->ndim, keep);
}

static bool same_plates(const tre_msg *a, const tre_msg *b) {
    if (a->n_frames != b->n_frames) return false;
    for (int i = 0; i < a->n_frames; ++i)
        if (!tre_msg_has_frame(b, &a->frames[i])) return false;
    return true;
}

tre_tensor *tre_log_r_to_plates(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                const tre_msg *target, const tre_tensor *elbo_detached,
                                tre_log_r_cache *cache) {
    if (!tre_ok(ctx)) return NULL;
    if (target->n_frames == 0) return (tre_tensor *)elbo_detached;
    for (int i = 0; i < cache->n; ++i)
        if (same_plates(cache->target[i], target)) return cache->weight[i];
    /* the per-particle totals first, then the elementwise terms: one pass over the site's
     * shape per elementwise term, and one for the totals */
    tre_tensor *sums[2] = {NULL, NULL}; /* [0]: totals, [1]: elementwise */
    tre_trace *traces[2] = {model, guide};
    for (int t = 0; t < 2 && tre_ok(ctx); ++t)
        for (int64_t i = 0; i < tre_trace_size(traces[t]) && tre_ok(ctx); ++i) {
            const tre_trace_node *node = tre_trace_at(traces[t], i);
            if (node->msg.type != TRE_SITE_SAMPLE) continue;
            tre_tensor *term = tre_term_to_plates(ctx, traces[t], node, target);
            if (!term) break;
            tre_tensor **w = &sums[term->ndim > 0];
            *w = !*w ? (t ? tre_neg(ctx, term) : term) : t ? tre_sub(ctx, *w, term) : tre_add(ctx, *w, term);
        }
    tre_tensor *w = sums[0] && sums[1] ? tre_add(ctx, sums[1], sums[0]) : sums[1] ? sums[1] : sums[0];
    w = w ? tre_stop_grad(ctx, w) : tre_scalar(ctx, 0.f);
    if (w && cache->n < TRE_LOG_R_CACHE) {
        cache->target[cache->n] = target;
        cache->weight[cache->n++] = w;
    }
    return tre_ok(ctx) ? w : NULL;
}
