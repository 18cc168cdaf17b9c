/* Trace_ELBO (SPEC.md section 6): the guide once under trace, the model once under
 * trace(replay(guide trace)), elbo_s = log p - log q for every particle s at once. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "../poutine/poutine_impl.h"
#include "../tensor/autograd.h"

static bool is_auxiliary(const tre_msg *m) {
    const char *v = tre_infer_get(&m->infer, "is_auxiliary");
    return v && strcmp(v, "false") != 0 && strcmp(v, "0") != 0;
}

/* Guide-only sample sites must be auxiliary; model latents missing from the guide are sampled
 * from the prior, with a warning naming them (as Pyro warns). */
static tre_status check_match(tre_ctx *ctx, const tre_trace *model, const tre_trace *guide) {
    for (int64_t i = 0; i < tre_trace_size(guide); ++i) {
        const tre_msg *g = &tre_trace_at(guide, i)->msg;
        if (g->type == TRE_SITE_SAMPLE && !tre_trace_get(model, g->name) && !is_auxiliary(g))
            return tre_ctx_fail(ctx, TRE_ERR_MODEL,
                                "guide site \"%s\" is not in the model; mark it is_auxiliary if "
                                "that is intended",
                                g->name);
    }
    char missing[384] = "";
    size_t len = 0;
    for (int64_t i = 0; i < tre_trace_size(model); ++i) {
        const tre_msg *m = &tre_trace_at(model, i)->msg;
        if (m->type != TRE_SITE_SAMPLE || m->is_observed || tre_trace_get(guide, m->name)) continue;
        if (len < sizeof missing - 1)
            len += (size_t)snprintf(missing + len, sizeof missing - len, "%s\"%s\"", len ? ", " : "",
                                    m->name);
    }
    if (len) tre_warn(ctx, "found sample sites in the model but not the guide: %s", missing);
    return TRE_OK;
}

static tre_status finish(tre_ctx *ctx, int64_t old_particles) {
    ctx->particles = old_particles;
    tre_grad_end(ctx);
    return ctx->status;
}

/* The surrogate whose gradient is the ELBO's (per particle): model terms and reparameterized
 * guide terms as they are, and for every other guide site stop_grad(elbo_s) * log q(site)
 * (unscaled, unmasked, as Pyro's score_function term). Uses the per-site sums cached by
 * tre_trace_log_prob_sum. */
static tre_tensor *surrogate_elbo(tre_ctx *ctx, tre_trace *model, tre_trace *guide,
                                  const tre_tensor *elbo) {
    tre_tensor *sur = tre_trace_log_prob_sum(ctx, model);
    tre_tensor *detached = tre_stop_grad(ctx, elbo);
    for (int64_t i = 0; i < tre_trace_size(guide) && tre_ok(ctx); ++i) {
        const tre_trace_node *node = tre_trace_at(guide, i);
        if (node->msg.type != TRE_SITE_SAMPLE || node->msg.is_observed) continue;
        if (tre_dist_has_rsample(node->msg.fn)) {
            sur = tre_sub(ctx, sur, node->log_prob_sum);
        } else {
            tre_tensor *score = NULL;
            tre_trace_score_parts(ctx, guide, node->msg.name, NULL, &score, NULL);
            if (score) sur = tre_add(ctx, sur, tre_mul(ctx, detached, tre_sum(ctx, score)));
        }
    }
    return sur;
}

tre_status tre_elbo(tre_ctx *ctx, tre_program model, tre_program guide, const void *args,
                    const tre_elbo_opts *opts, tre_elbo_result *out) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (ctx->depth != 0)
        return tre_ctx_fail(ctx, TRE_ERR_STACK,
                            "tre_elbo: the handler stack must be empty (depth %d): an evaluation "
                            "starts a new step",
                            ctx->depth);
    tre_ctx_step_reset(ctx);
    if (!model || !guide || !opts || !out)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_elbo: %s is NULL",
                            !model ? "model" : !guide ? "guide" : !opts ? "opts" : "out");
    memset(out, 0, sizeof *out);
    if (opts->num_particles < 1)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_elbo: num_particles must be >= 1, got %lld",
                            (long long)opts->num_particles);
    if (opts->kind != TRE_TRACE_ELBO)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_elbo: unknown estimator %d", (int)opts->kind);

    int64_t P = opts->num_particles, old_particles = ctx->particles;
    ctx->particles = P;
    if (opts->grad) tre_grad_begin(ctx);

    tre_messenger *gtrace = tre_trace_handler(ctx);
    if (tre_run(ctx, guide, args, &gtrace, 1, NULL) != TRE_OK) return finish(ctx, old_particles);
    tre_trace *guide_tr = tre_trace_handler_trace(gtrace);

    tre_messenger *mh[2] = {tre_trace_handler(ctx), tre_replay_handler(ctx, guide_tr, NULL)};
    if (!tre_ok(ctx) || tre_run(ctx, model, args, mh, 2, NULL) != TRE_OK)
        return finish(ctx, old_particles);
    tre_trace *model_tr = tre_trace_handler_trace(mh[0]);
    if (check_match(ctx, model_tr, guide_tr) != TRE_OK) return finish(ctx, old_particles);

    tre_tensor *elbo = tre_sub(ctx, tre_trace_log_prob_sum(ctx, model_tr),
                               tre_trace_log_prob_sum(ctx, guide_tr));
    if (opts->grad && tre_ok(ctx)) {
        /* loss = -mean_s surrogate_s; its gradient lands in the param store */
        tre_tensor *loss = tre_neg(ctx, tre_particle_mean(ctx, surrogate_elbo(ctx, model_tr, guide_tr, elbo)));
        tre_grad_end(ctx);
        if (!loss || tre_grad_backward(ctx, loss) != TRE_OK ||
            tre_param_store_collect_grads(ctx) != TRE_OK)
            return finish(ctx, old_particles);
    }
    if (elbo && elbo->particles != P) elbo = tre_broadcast_to(ctx, elbo, P, 0, NULL);
    float *host = elbo ? tre_step_alloc(ctx, (size_t)P * sizeof *host) : NULL;
    if (!host || tre_tensor_to_host(ctx, elbo, host, P) != TRE_OK) return finish(ctx, old_particles);

    double mean = 0.0, m2 = 0.0; /* Welford: stable for large P */
    for (int64_t s = 0; s < P; ++s) {
        double d = host[s] - mean;
        mean += d / (double)(s + 1);
        m2 += d * (host[s] - mean);
    }
    out->mean = mean;
    out->stderr_ = P > 1 ? sqrt(m2 / (double)(P - 1) / (double)P) : 0.0;
    out->loss = -mean;
    out->num_particles = P;
    out->particles = host;
    out->guide_trace = guide_tr;
    out->model_trace = model_tr;
    return finish(ctx, old_particles);
}
