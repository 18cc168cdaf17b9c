/* Adam and ClippedAdam over the param store (torch.optim.Adam / Pyro's ClippedAdam), and the
 * SVI step. Moments are persistent tensors, one state per param entry (by its id). */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "../core/ctx_impl.h"
#include "../tensor/tensor_impl.h"

typedef struct adam_state {
    char *name;
    uint64_t id;      /* the entry's id: a removed and re-created param starts over */
    tre_tensor *m, *v;
    int64_t step;
    double lr;        /* ClippedAdam's decayed rate, per param as in Pyro (one optimiser each) */
} adam_state;

struct tre_adam {
    tre_ctx *ctx;     /* the context whose store it updates */
    tre_adam_opts o;
    double lr;        /* o.lr * lrd^(steps done): the rate of a param updated in every step */
    adam_state *states;
    int64_t count, cap;
};

tre_status tre_adam_create(tre_ctx *ctx, const tre_adam_opts *opts, tre_adam **out) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (!out) return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_adam_create: out is NULL");
    *out = NULL;
    tre_adam_opts o = {0};
    if (opts) o = *opts;
    if (o.lr == 0) o.lr = 1e-3;
    if (o.beta1 == 0 && o.beta2 == 0) {
        o.beta1 = 0.9;
        o.beta2 = 0.999;
    }
    if (o.eps == 0) o.eps = 1e-8;
    if (o.lrd == 0) o.lrd = 1.0;
    /* written so that NaN fails every test; clip_norm may be inf (no clipping) */
    if (!(o.lr > 0 && isfinite(o.lr)) || !(o.beta1 >= 0 && o.beta1 < 1) ||
        !(o.beta2 >= 0 && o.beta2 < 1) || !(o.eps > 0 && isfinite(o.eps)) || !(o.clip_norm >= 0) ||
        !(o.lrd > 0 && isfinite(o.lrd)) || !(o.weight_decay >= 0 && isfinite(o.weight_decay)))
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "tre_adam_create: need finite lr > 0, betas in [0, 1), finite eps > 0, "
                            "clip_norm >= 0, finite lrd > 0, finite weight_decay >= 0");
    tre_adam *a = calloc(1, sizeof *a);
    if (!a) return tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "tre_adam_create: out of memory");
    a->ctx = ctx;
    a->o = o;
    a->lr = o.lr;
    *out = a;
    return TRE_OK;
}

static void state_release(tre_ctx *ctx, adam_state *s) {
    if (ctx) {
        tre_tensor_destroy(ctx, s->m);
        tre_tensor_destroy(ctx, s->v);
    }
    free(s->name);
}

void tre_adam_destroy(tre_ctx *ctx, tre_adam *opt) {
    if (!opt) return;
    if (ctx != opt->ctx) ctx = NULL; /* another context cannot free its moments: host memory only */
    for (int64_t i = 0; i < opt->count; ++i) state_release(ctx, &opt->states[i]);
    free(opt->states);
    free(opt);
}

double tre_adam_lr(const tre_adam *opt) { return opt ? opt->lr : 0.0; }

static bool state_current(const adam_state *s, const tre_param_entry *e) {
    return e && s->id == tre_param_entry_id(e); /* an entry's tensor never changes shape */
}

/* Drops the state of params no longer in the store (or removed and re-created): their moments
 * would otherwise live, and be searched, for the rest of the run. */
static void prune_states(tre_ctx *ctx, tre_adam *opt) {
    int64_t k = 0;
    for (int64_t i = 0; i < opt->count; ++i) {
        adam_state *s = &opt->states[i];
        if (state_current(s, tre_param_store_get(ctx, s->name)))
            opt->states[k++] = *s;
        else
            state_release(ctx, s);
    }
    opt->count = k;
}

/* The states are kept in increasing id order (prune keeps the order, new ones are sorted in
 * after each step's additions): a lookup among the first n is a binary search, not a scan. */
static adam_state *find_state(const tre_adam *opt, int64_t n, uint64_t id) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (opt->states[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && opt->states[lo].id == id ? &opt->states[lo] : NULL;
}
static int by_id(const void *a, const void *b) {
    const uint64_t x = ((const adam_state *)a)->id, y = ((const adam_state *)b)->id;
    return (x > y) - (x < y);
}

/* A fresh state for e, added only once both moments exist. */
static bool add_state(tre_ctx *ctx, tre_adam *opt, const tre_param_entry *e) {
    if (opt->count == opt->cap) {
        int64_t cap = opt->cap ? opt->cap * 2 : 16;
        adam_state *st = realloc(opt->states, (size_t)cap * sizeof *st);
        if (!st) {
            tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "adam: out of memory");
            return false;
        }
        opt->states = st;
        opt->cap = cap;
    }
    adam_state s = {.id = tre_param_entry_id(e), .lr = opt->o.lr};
    const tre_tensor *u = e->unconstrained;
    s.name = malloc(strlen(e->name) + 1);
    if (!s.name) tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "adam: out of memory");
    if (!s.name || tre_tensor_create(ctx, &s.m, TRE_F32, 1, u->ndim, u->shape, NULL) != TRE_OK ||
        tre_tensor_create(ctx, &s.v, TRE_F32, 1, u->ndim, u->shape, NULL) != TRE_OK) {
        state_release(ctx, &s);
        return false;
    }
    strcpy(s.name, e->name);
    opt->states[opt->count++] = s;
    return true;
}

static bool to_update(const tre_param_entry *e) { return e->grad && e->in_step; }

tre_status tre_adam_step(tre_ctx *ctx, tre_adam *opt) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (!opt) return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_adam_step: optimiser is NULL");
    if (opt->ctx != ctx)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "tre_adam_step: the optimiser was created for another context");
    if (!tre_ok(ctx)) return ctx->status;
    const tre_adam_opts *o = &opt->o;
    prune_states(ctx, opt);
    /* every state the update needs, before any param changes: running out of memory here
     * leaves params, moments and rates as they were */
    const int64_t known = opt->count;
    bool made = true;
    for (int64_t i = 0; i < tre_param_store_size(ctx) && made; ++i) {
        const tre_param_entry *e = tre_param_store_at(ctx, i);
        if (to_update(e) && !find_state(opt, known, tre_param_entry_id(e))) made = add_state(ctx, opt, e);
    }
    if (opt->count > known) qsort(opt->states, (size_t)opt->count, sizeof *opt->states, by_id);
    if (!made) return ctx->status;
    /* Pyro's ClippedAdam puts eps outside the bias correction, torch's Adam inside */
    const bool clipped = o->clip_norm > 0 || o->lrd != 1.0;
    for (int64_t i = 0; i < tre_param_store_size(ctx) && tre_ok(ctx); ++i) {
        const tre_param_entry *e = tre_param_store_at(ctx, i);
        if (!to_update(e)) continue; /* no gradient yet, or the last step did not use it */
        adam_state *s = find_state(opt, opt->count, tre_param_entry_id(e));
        s->step++;
        s->lr *= o->lrd; /* Pyro decays first: a param's t-th update uses lr * lrd^t */
        double bc1 = 1.0 - pow(o->beta1, (double)s->step), bc2 = 1.0 - pow(o->beta2, (double)s->step);
        double step_size = clipped ? s->lr * sqrt(bc2) / bc1 : s->lr / bc1;
        double bc2_sqrt = clipped ? 1.0 : sqrt(bc2);
        tre_backend_check(ctx,
                          ctx->be->adam_update(ctx->be->impl, e->unconstrained->numel,
                                               e->unconstrained->data, e->grad->data, s->m->data,
                                               s->v->data, (float)o->beta1, (float)o->beta2,
                                               (float)o->eps, (float)o->weight_decay,
                                               (float)o->clip_norm, (float)step_size, (float)bc2_sqrt),
                          "adam_update");
    }
    if (tre_ok(ctx)) opt->lr *= o->lrd;
    return ctx->status;
}

tre_status tre_svi_step(tre_ctx *ctx, tre_program model, tre_program guide, const void *args,
                        const tre_elbo_opts *opts, tre_adam *opt, double *loss) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (!opts || !opt)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_svi_step: %s is NULL", !opts ? "opts" : "optimiser");
    tre_elbo_opts o = *opts;
    o.grad = true;
    tre_elbo_result r;
    if (loss) *loss = NAN; /* a failed step leaves no stale loss behind */
    if (tre_elbo(ctx, model, guide, args, &o, &r) != TRE_OK) return ctx->status;
    if (loss) *loss = r.loss;
    return tre_adam_step(ctx, opt);
}
