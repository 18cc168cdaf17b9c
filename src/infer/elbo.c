/* tre_elbo: one evaluation of any estimator. The guide runs once under trace, the model once
 * under trace(replay(guide trace)); the estimator reduces the two traces to elbo_s for every
 * particle (and a loss to differentiate); then the statistics, the backward pass, and the
 * checks that name the first site whose log-prob or gradient is not finite. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "elbo_impl.h"
#include "../tensor/tensor_impl.h"

static bool is_auxiliary(const tre_msg *m) {
    const char *v = tre_infer_get(&m->infer, "is_auxiliary");
    return v && strcmp(v, "false") != 0 && strcmp(v, "0") != 0;
}

/* Model and guide must agree on a latent's event dims and shape (Pyro checks both when
 * validation is on, as it is by default): broadcasting one against the other would count a
 * log-density several times. */
static tre_status check_shapes(tre_ctx *ctx, const tre_msg *m, const tre_msg *g) {
    if (m->fn->event_ndim != g->fn->event_ndim)
        return tre_ctx_fail(ctx, TRE_ERR_MODEL,
                            "site \"%s\": model and guide event dims disagree (%d vs %d)", m->name,
                            m->fn->event_ndim, g->fn->event_ndim);
    int64_t ms[TRE_MAX_DIMS], gs[TRE_MAX_DIMS];
    const int mn = tre_dist_full_shape(m->fn, ms), gn = tre_dist_full_shape(g->fn, gs);
    if (tre_shape_equal(mn, ms, gn, gs)) return TRE_OK;
    char s1[96], s2[96];
    return tre_ctx_fail(ctx, TRE_ERR_MODEL, "site \"%s\": model and guide shapes disagree (%s vs %s)",
                        m->name, tre_shape_str(s1, sizeof s1, mn, ms), tre_shape_str(s2, sizeof s2, gn, gs));
}

/* Guide sample sites must be latent sample sites of the model (or auxiliary), of the same shape;
 * model latents missing from the guide are sampled from the prior, with a warning naming them
 * (as Pyro warns). */
static tre_status check_match(tre_ctx *ctx, const tre_trace *model, const tre_trace *guide) {
    for (int64_t i = 0; i < tre_trace_size(guide); ++i) {
        const tre_msg *g = &tre_trace_at(guide, i)->msg;
        if (g->type != TRE_SITE_SAMPLE) continue;
        if (g->fn->family->rsample_optional && g->fn->rsample == 0) /* as Pyro's check */
            return tre_ctx_fail(ctx, TRE_ERR_MODEL,
                                "guide site \"%s\": a factor in a guide must say whether its "
                                "log_factor arose from reparameterized sampling: "
                                "tre_factor_ex(..., has_rsample) (Pyro's has_rsample=)",
                                g->name);
        if (is_auxiliary(g)) continue;
        const tre_trace_node *mn = tre_trace_get(model, g->name);
        if (!mn)
            return tre_ctx_fail(ctx, TRE_ERR_MODEL,
                                "guide site \"%s\" is not in the model; mark it is_auxiliary if "
                                "that is intended",
                                g->name);
        const tre_msg *m = &mn->msg;
        if (m->type != TRE_SITE_SAMPLE || m->is_observed) {
            if (g->is_observed) continue; /* observed in both: a likelihood term of each */
            return tre_ctx_fail(ctx, TRE_ERR_MODEL,
                                "guide site \"%s\" is %s in the model, not a latent sample site; "
                                "mark it is_auxiliary if that is intended",
                                g->name, m->type == TRE_SITE_SAMPLE ? "observed" : "not a sample site");
        }
        if (ctx->validate && !g->is_observed && check_shapes(ctx, m, g) != TRE_OK) return ctx->status;
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

/* First non-finite element of a tensor (-1 when all are finite). */
static int64_t first_non_finite(tre_ctx *ctx, const tre_tensor *t) {
    if (!t) return -1;
    int64_t n = t->particles * t->numel;
    float *h = tre_step_alloc(ctx, (size_t)(n ? n : 1) * sizeof *h);
    if (!h || tre_tensor_to_host(ctx, t, h, n) != TRE_OK) return -1;
    for (int64_t i = 0; i < n; ++i)
        if (!isfinite(h[i])) return i;
    return -1;
}

/* The first site (guide first: it ran first) whose log-prob sum is not finite. */
static tre_status report_non_finite_log_prob(tre_ctx *ctx, tre_trace *const *traces) {
    for (int t = 0; t < 2; ++t)
        for (int64_t i = 0; i < tre_trace_size(traces[t]); ++i) {
            const tre_trace_node *n = tre_trace_at(traces[t], i);
            int64_t k = n->msg.type == TRE_SITE_SAMPLE ? first_non_finite(ctx, n->log_prob_sum) : -1;
            if (k >= 0)
                return tre_ctx_fail(ctx, TRE_ERR_DIST,
                                    "site \"%s\" (%s trace): log_prob is not finite for particle %lld",
                                    n->msg.name, t ? "model" : "guide", (long long)k);
        }
    return tre_ctx_fail(ctx, TRE_ERR_DIST, "the ELBO is not finite");
}

/* After a backward pass with a non-finite param gradient: the first site whose value
 * gradient is not finite, else the param itself. */
static tre_status check_grads(tre_ctx *ctx, tre_trace *const *traces) {
    const tre_param_entry *bad = NULL;
    for (int64_t i = 0; i < tre_param_store_size(ctx) && !bad; ++i) {
        const tre_param_entry *e = tre_param_store_at(ctx, i);
        if (e->grad && first_non_finite(ctx, e->grad) >= 0) bad = e;
    }
    if (!bad) return ctx->status;
    for (int t = 0; t < 2; ++t)
        for (int64_t i = 0; i < tre_trace_size(traces[t]); ++i) {
            const tre_trace_node *n = tre_trace_at(traces[t], i);
            if (n->msg.type == TRE_SITE_SAMPLE && n->msg.value && first_non_finite(ctx, n->msg.value->grad) >= 0)
                return tre_ctx_fail(ctx, TRE_ERR_DIST,
                                    "site \"%s\" (%s trace): gradient is not finite (param \"%s\")",
                                    n->msg.name, t ? "model" : "guide", bad->name);
        }
    return tre_ctx_fail(ctx, TRE_ERR_DIST, "gradient of param \"%s\" is not finite", bad->name);
}

static const tre_estimator_fn estimators[] = {
    [TRE_TRACE_ELBO] = tre_trace_elbo_estimate,
    [TRE_TRACE_MEANFIELD_ELBO] = tre_meanfield_elbo_estimate,
    [TRE_RENYI_ELBO] = tre_renyi_elbo_estimate,
};

static tre_status finish(tre_ctx *ctx, int64_t old_particles) {
    ctx->particles = old_particles;
    tre_grad_end(ctx);
    return ctx->status;
}

/* One evaluation after the step reset. With `deferred` (a step graph's capture), nothing is
 * read back: *deferred receives the device buffer of elbo_s [P], the backward pass and the
 * gradient collection are queued, and the host checks are the caller's. */
static tre_status elbo_eval(tre_ctx *ctx, tre_program model, tre_program guide, const void *args,
                            const tre_elbo_opts *opts, tre_elbo_result *out,
                            const float **deferred) {
    if (!model || !guide || !opts || !out)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_elbo: %s is NULL",
                            !model ? "model" : !guide ? "guide" : !opts ? "opts" : "out");
    memset(out, 0, sizeof *out);
    if (opts->num_particles < 1 || opts->num_particles > TRE_MAX_ELEMENTS)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_elbo: num_particles must be in 1..2^60, got %lld",
                            (long long)opts->num_particles);
    if ((unsigned)opts->kind >= sizeof estimators / sizeof *estimators)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_elbo: unknown estimator %d", (int)opts->kind);
    if (opts->kind == TRE_RENYI_ELBO && !(isfinite(opts->alpha) && opts->alpha != 1.0))
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "tre_elbo: RenyiELBO alpha must be finite and != 1 (alpha = 1 is "
                            "Trace_ELBO), got %g",
                            opts->alpha);

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
    tre_trace *traces[2] = {guide_tr, model_tr};
    if (check_match(ctx, model_tr, guide_tr) != TRE_OK) return finish(ctx, old_particles);

    tre_estimate est = {.bound = NAN};
    if (estimators[opts->kind](ctx, model_tr, guide_tr, opts, opts->grad, &est) != TRE_OK)
        return finish(ctx, old_particles);
    tre_grad_end(ctx);

    tre_tensor *elbo = est.elbo;
    if (elbo && elbo->particles != P) elbo = tre_broadcast_to(ctx, elbo, P, 0, NULL);
    if (deferred) {
        if (!elbo || elbo->numel != 1) return finish(ctx, old_particles); /* the host path reports it */
        *deferred = elbo->data;
        out->num_particles = P;
        out->guide_trace = guide_tr;
        out->model_trace = model_tr;
        if (opts->grad && tre_grad_backward(ctx, est.loss) == TRE_OK) tre_param_store_collect_grads(ctx);
        return finish(ctx, old_particles);
    }
    float *host = est.host_elbo; /* RenyiELBO read it already */
    if (!host && (!elbo || !(host = tre_step_alloc(ctx, (size_t)P * sizeof *host)) ||
                  tre_tensor_to_host(ctx, elbo, host, P) != TRE_OK))
        return finish(ctx, old_particles);

    double mean = 0.0, m2 = 0.0; /* Welford: stable for large P */
    bool finite = true;
    for (int64_t s = 0; s < P; ++s) {
        finite = finite && isfinite(host[s]);
        double d = host[s] - mean;
        mean += d / (double)(s + 1);
        m2 += d * (host[s] - mean);
    }
    if (!finite) {
        report_non_finite_log_prob(ctx, traces);
        return finish(ctx, old_particles);
    }
    if (opts->grad && (tre_grad_backward(ctx, est.loss) != TRE_OK ||
                       tre_param_store_collect_grads(ctx) != TRE_OK || check_grads(ctx, traces) != TRE_OK))
        return finish(ctx, old_particles);

    out->mean = isnan(est.bound) ? mean : est.bound;
    out->stderr_ = P > 1 ? sqrt(m2 / (double)(P - 1) / (double)P) : 0.0;
    out->loss = -out->mean;
    out->num_particles = P;
    out->particles = host;
    out->guide_trace = guide_tr;
    out->model_trace = model_tr;
    return finish(ctx, old_particles);
}

tre_status tre_elbo(tre_ctx *ctx, tre_program model, tre_program guide, const void *args,
                    const tre_elbo_opts *opts, tre_elbo_result *out) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (ctx->depth != 0)
        return tre_ctx_fail(ctx, TRE_ERR_STACK,
                            "tre_elbo: the handler stack must be empty (depth %d): an evaluation "
                            "starts a new step",
                            ctx->depth);
    if (ctx->running != 0)
        return tre_ctx_fail(ctx, TRE_ERR_STACK,
                            "tre_elbo: called inside a running program: an evaluation starts a new "
                            "step, which would free that program's values");
    tre_ctx_step_reset(ctx);
    return elbo_eval(ctx, model, guide, args, opts, out, NULL);
}

tre_status tre_elbo_deferred(tre_ctx *ctx, tre_program model, tre_program guide, const void *args,
                             const tre_elbo_opts *opts, tre_elbo_result *out,
                             const float **elbo_s) {
    *elbo_s = NULL;
    return elbo_eval(ctx, model, guide, args, opts, out, elbo_s);
}
