/* One graph per static SVI step (include/trelbo/optim.h): warm up eagerly while recording each
 * step's signature, capture the step once its program repeats, then replay the graph with the
 * random op numbers shifted to the current step (the backend's rng delta), read the loss back
 * after the launch and run Adam eagerly on the gradients the graph left in the param store.
 *
 * Adam stays outside the graph: its bias corrections change every step (they are launch
 * arguments), the finiteness checks must come before the update (a bad replay is then simply
 * rerun eagerly), and it costs one launch per param, against the step's hundreds of ops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "elbo_impl.h"

#define MAX_DISCARDED_CAPTURES 3 /* captures whose program differed from the previous step */

/* What a graph is valid for, beyond the pointers it holds. */
typedef struct step_key {
    tre_program model, guide;
    const void *args;
    tre_elbo_kind kind;
    int64_t particles;
    uint64_t seed;
} step_key;

struct tre_step_graph {
    tre_ctx_ref owner;      /* the context it was created for: its graph lives on that backend */
    void *graph;            /* the backend's graph; NULL while warming up */
    step_key key;           /* of the kept graph */
    uint64_t param_gen;     /* param store generation it points into */
    const void *data_chunk; /* step arena chunk (and its grows count) it points into */
    uint64_t data_grows;
    uint64_t rng_base;      /* ctx->rng_stream when it was captured */
    uint64_t rng_drawn;     /* random ops one step draws */
    const float *d_elbo;    /* elbo_s [P] on the device */

    /* warm-up: the signature of the last step whose program ran (have_sig: usable) */
    bool have_sig;
    step_key sig_key;
    uint64_t sig;
    int discarded;

    float *host;            /* readback buffer */
    int64_t host_cap;
    tre_step_graph_stats stats;
};

static bool key_equal(const step_key *a, const step_key *b) {
    return a->model == b->model && a->guide == b->guide && a->args == b->args && a->kind == b->kind &&
           a->particles == b->particles && a->seed == b->seed;
}

static bool has_graphs(const tre_backend *be) {
    return be->graph_begin && be->graph_end && be->graph_launch && be->graph_destroy && be->set_rng_delta;
}

tre_status tre_step_graph_create(tre_ctx *ctx, tre_step_graph **out) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (!out) return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_step_graph_create: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "tre_step_graph_create: out of memory");
    (*out)->owner = tre_ctx_ref_of(ctx);
    if (!has_graphs(ctx->be)) (*out)->stats.eager_reason = "the backend has no launch graphs";
    return TRE_OK;
}

static void drop_graph(tre_ctx *ctx, tre_step_graph *g) {
    if (!g->graph) return;
    ctx->be->graph_destroy(ctx->be->impl, g->graph);
    g->graph = NULL;
}

void tre_step_graph_destroy(tre_ctx *ctx, tre_step_graph *g) {
    if (!g) return;
    if (tre_ctx_ref_is(g->owner, ctx)) drop_graph(ctx, g); /* another context's backend cannot free it */
    free(g->host);
    free(g);
}

void tre_step_graph_stats_get(const tre_step_graph *g, tre_step_graph_stats *out) {
    if (!out) return;
    if (g) *out = g->stats;
    else memset(out, 0, sizeof *out);
}

static void go_eager(tre_ctx *ctx, tre_step_graph *g, const char *reason) {
    drop_graph(ctx, g);
    g->have_sig = false;
    if (!g->stats.eager_reason) g->stats.eager_reason = reason;
}

static float *host_buffer(tre_ctx *ctx, tre_step_graph *g, int64_t n) {
    if (n > g->host_cap) {
        float *h = realloc(g->host, (size_t)n * sizeof *h);
        if (!h) {
            tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "step graph: out of host memory");
            return NULL;
        }
        g->host = h;
        g->host_cap = n;
    }
    return g->host;
}

/* The step's program as the host ran it: what the front-end mixed in while step_sig_on
 * (tensor shapes, host constants, tape ops), the random ops drawn, and each site's name, type
 * and scale (a scale is a launch argument). */
static uint64_t step_signature(tre_ctx *ctx, const tre_elbo_result *r, uint64_t rng0) {
    const bool on = ctx->step_sig_on;
    ctx->step_sig_on = true;
    const uint64_t drawn = ctx->rng_stream - rng0;
    tre_step_sig_mix(ctx, &drawn, sizeof drawn);
    const tre_trace *traces[2] = {r->guide_trace, r->model_trace};
    for (int t = 0; t < 2; ++t)
        for (int64_t i = 0; i < tre_trace_size(traces[t]); ++i) {
            const tre_msg *m = &tre_trace_at(traces[t], i)->msg;
            const int64_t site[3] = {t, m->type, m->is_observed};
            tre_step_sig_mix(ctx, site, sizeof site);
            tre_step_sig_mix(ctx, &m->scale, sizeof m->scale);
            if (m->name) tre_step_sig_mix(ctx, m->name, strlen(m->name) + 1);
        }
    ctx->step_sig_on = on;
    return ctx->step_sig;
}

/* After a step whose program ran: keep its signature for the next one (or give up graphs). */
static void note_signature(tre_ctx *ctx, tre_step_graph *g, const step_key *key,
                           const tre_elbo_result *r, uint64_t rng0, uint64_t pgen0) {
    g->have_sig = false;
    if (ctx->step_dynamic) {
        go_eager(ctx, g, ctx->step_dynamic);
        return;
    }
    if (ctx->params.generation != pgen0) return; /* params were created: not settled yet */
    g->sig = step_signature(ctx, r, rng0);
    g->sig_key = *key;
    g->have_sig = true;
}

/* tre_svi_step; with `sign`, also the step's signature for the warm-up. */
static tre_status eager_step(tre_ctx *ctx, tre_step_graph *g, const step_key *key,
                             tre_program model, tre_program guide, const void *args,
                             const tre_elbo_opts *o, tre_adam *opt, double *loss, bool sign) {
    g->stats.eager_steps++;
    const uint64_t rng0 = ctx->rng_stream, pgen0 = ctx->params.generation;
    ctx->step_sig_on = sign;
    tre_elbo_result r;
    tre_status s = tre_elbo(ctx, model, guide, args, o, &r);
    ctx->step_sig_on = false;
    if (s == TRE_OK && sign) note_signature(ctx, g, key, &r, rng0, pgen0);
    else g->have_sig = false;
    if (s != TRE_OK) return s;
    return tre_svi_apply(ctx, opt, r.loss, loss);
}

/* 1 when any of the n floats at d_src (device) is NaN or Inf, 0 when none, -1 on error. */
static int any_non_finite(tre_ctx *ctx, tre_step_graph *g, const void *d_src, int64_t n) {
    float *h = host_buffer(ctx, g, n > 0 ? n : 1);
    if (!h || tre_backend_check(ctx, ctx->be->download(ctx->be->impl, h, d_src, (size_t)n * sizeof *h),
                                "download") != TRE_OK)
        return -1;
    for (int64_t i = 0; i < n; ++i)
        if (!isfinite(h[i])) return 1;
    return 0;
}

/* After a launch: the loss from elbo_s, the host checks, then Adam; a non-finite loss or
 * gradient reruns the step eagerly (from the same random ops) for its error. */
static tre_status finish_launched(tre_ctx *ctx, tre_step_graph *g, const step_key *key,
                                  tre_program model, tre_program guide, const void *args,
                                  const tre_elbo_opts *o, tre_adam *opt, double *loss,
                                  uint64_t rng_start) {
    const int64_t P = o->num_particles;
    if (tre_backend_check(ctx, ctx->be->sync(ctx->be->impl), "graph launch") != TRE_OK) return ctx->status;
    int bad = any_non_finite(ctx, g, g->d_elbo, P);
    double mean = 0.0;
    for (int64_t s = 0; bad == 0 && s < P; ++s) mean += ((double)g->host[s] - mean) / (double)(s + 1);
    for (int64_t i = 0; bad == 0 && i < tre_param_store_size(ctx); ++i) {
        const tre_param_entry *e = tre_param_store_at(ctx, i);
        if (e->grad) bad = any_non_finite(ctx, g, e->grad->data, e->grad->numel);
    }
    if (bad < 0) return ctx->status;
    if (bad) {
        g->stats.reruns++;
        ctx->rng_stream = rng_start;
        return eager_step(ctx, g, key, model, guide, args, o, opt, loss, false);
    }
    /* -mean as tre_elbo's Welford mean gives it: the same double, bit for bit */
    return tre_svi_apply(ctx, opt, -mean, loss);
}

static bool graph_valid(const tre_ctx *ctx, const tre_step_graph *g, const step_key *key) {
    return key_equal(&g->key, key) && ctx->params.generation == g->param_gen &&
           ctx->data.chunks && (const void *)ctx->data.chunks == g->data_chunk &&
           ctx->data.grows == g->data_grows;
}

static tre_status replay_step(tre_ctx *ctx, tre_step_graph *g, const step_key *key,
                              tre_program model, tre_program guide, const void *args,
                              const tre_elbo_opts *o, tre_adam *opt, double *loss) {
    tre_backend *be = ctx->be;
    const uint64_t s0 = ctx->rng_stream;
    int rc = be->set_rng_delta(be->impl, s0 - g->rng_base);
    if (!rc) rc = be->graph_launch(be->impl, g->graph);
    const int rc0 = be->set_rng_delta(be->impl, 0);
    if (rc == TRE_KERR_STALE) { /* the backend's scratch moved (an eager step grew it) */
        drop_graph(ctx, g);
        g->stats.invalidations++;
        return eager_step(ctx, g, key, model, guide, args, o, opt, loss, true);
    }
    if (tre_backend_check(ctx, rc ? rc : rc0, "graph launch") != TRE_OK) return ctx->status;
    ctx->rng_stream = s0 + g->rng_drawn;
    g->stats.replays++;
    return finish_launched(ctx, g, key, model, guide, args, o, opt, loss, s0);
}

/* Captures this step (nothing runs while capturing), launches what was recorded, and keeps the
 * graph when the program is the previous step's and nothing it points to moved. */
static tre_status capture_step(tre_ctx *ctx, tre_step_graph *g, const step_key *key,
                               tre_program model, tre_program guide, const void *args,
                               const tre_elbo_opts *o, tre_adam *opt, double *loss) {
    tre_backend *be = ctx->be;
    tre_ctx_step_reset(ctx);
    const uint64_t rng0 = ctx->rng_stream, pgen0 = ctx->params.generation, grows0 = ctx->data.grows;
    if (be->graph_begin(be->impl) != 0) {
        tre_backend_forget_failure(ctx);
        go_eager(ctx, g, "the backend could not start a capture");
        return eager_step(ctx, g, key, model, guide, args, o, opt, loss, false);
    }
    /* no validation in a capture: its counts are read back on the host. The eager steps
     * before it validated the same program; replays are checked for NaN/Inf after the launch. */
    const bool validate = ctx->validate;
    ctx->validate = false;
    ctx->step_sig_on = true;
    ctx->capturing = true;
    tre_elbo_result r;
    const float *d_elbo = NULL;
    const tre_status s = tre_elbo_deferred(ctx, model, guide, args, o, &r, &d_elbo);
    ctx->capturing = false;
    ctx->step_sig_on = false;
    ctx->validate = validate;
    void *graph = NULL;
    const int end = be->graph_end(be->impl, &graph);
    /* what was recorded is the device side of what the host just did (a param created in this
     * step included): run it whatever happens next */
    const int launched = graph ? be->graph_launch(be->impl, graph) : 1;
    if (end != 0 || s != TRE_OK || !d_elbo || launched != 0) {
        if (graph) be->graph_destroy(be->impl, graph);
        tre_backend_forget_failure(ctx); /* the eager step reports its own */
        if (end == TRE_KERR_CAPTURE)
            go_eager(ctx, g, "the step needs the host mid-step (a readback, a sync or scratch growth)");
        else if (end != 0)
            go_eager(ctx, g, "the backend could not capture the step");
        g->have_sig = false;
        ctx->rng_stream = rng0;
        tre_ctx_clear_error(ctx);
        return eager_step(ctx, g, key, model, guide, args, o, opt, loss, !g->stats.eager_reason);
    }
    const uint64_t sig = step_signature(ctx, &r, rng0);
    const bool same = g->have_sig && key_equal(&g->sig_key, key) && sig == g->sig;
    const bool keep = same && !ctx->step_dynamic && ctx->params.generation == pgen0 &&
                      ctx->data.grows == grows0;
    g->graph = graph;
    g->key = *key;
    g->param_gen = ctx->params.generation;
    g->data_chunk = ctx->data.chunks;
    g->data_grows = ctx->data.grows;
    g->rng_base = rng0;
    g->rng_drawn = ctx->rng_stream - rng0;
    g->d_elbo = d_elbo;
    tre_status fs = finish_launched(ctx, g, key, model, guide, args, o, opt, loss, rng0);
    if (keep) {
        g->stats.captures++;
        g->discarded = 0;
        return fs;
    }
    drop_graph(ctx, g);
    if (ctx->step_dynamic) {
        go_eager(ctx, g, ctx->step_dynamic);
    } else if (!same && ++g->discarded >= MAX_DISCARDED_CAPTURES) {
        go_eager(ctx, g, "the step's program changes from step to step");
    } else { /* settled now? the next step tells */
        g->sig = sig;
        g->sig_key = *key;
        g->have_sig = ctx->params.generation == pgen0;
    }
    return fs;
}

tre_status tre_svi_step_graphed(tre_ctx *ctx, tre_step_graph *g, tre_program model,
                                tre_program guide, const void *args, const tre_elbo_opts *opts,
                                tre_adam *opt, double *loss) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (!g || !opts || !opt)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_svi_step_graphed: %s is NULL",
                            !g ? "graph" : !opts ? "opts" : "optimiser");
    if (loss) *loss = NAN; /* a failed step leaves no stale loss behind */
    if (!tre_ctx_ref_is(g->owner, ctx))
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "tre_svi_step_graphed: the step graph was created for another context");
    tre_elbo_opts o = *opts;
    o.grad = true;
    const step_key key = {model, guide, args, o.kind, o.num_particles, ctx->seed};
    g->stats.steps++;
    if (o.kind == TRE_RENYI_ELBO) go_eager(ctx, g, "RenyiELBO reads elbo_s on the host mid-step");
    /* tre_elbo reports a bad call (a pushed handler, bad options) */
    const bool ok_call = ctx->depth == 0 && model && guide && o.num_particles >= 1;
    if (g->stats.eager_reason || !ok_call)
        return eager_step(ctx, g, &key, model, guide, args, &o, opt, loss, false);
    if (g->graph) {
        tre_ctx_step_reset(ctx);
        if (graph_valid(ctx, g, &key)) return replay_step(ctx, g, &key, model, guide, args, &o, opt, loss);
        drop_graph(ctx, g);
        g->stats.invalidations++;
    }
    if (g->have_sig && key_equal(&g->sig_key, &key))
        return capture_step(ctx, g, &key, model, guide, args, &o, opt, loss);
    return eager_step(ctx, g, &key, model, guide, args, &o, opt, loss, true);
}
