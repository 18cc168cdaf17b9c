/* Adam and ClippedAdam over the param store (torch.optim.Adam / Pyro's ClippedAdam), and the
 * SVI step. Moments are persistent tensors keyed by param name. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../core/ctx_impl.h"
#include "../tensor/tensor_impl.h"

typedef struct adam_state {
    char *name;
    tre_tensor *m, *v;
    int64_t step;
} adam_state;

struct tre_adam {
    tre_adam_opts o;
    double lr;
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
    if (!(o.lr > 0) || !(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1) ||
        !(o.eps > 0) || o.clip_norm < 0 || !(o.lrd > 0) || o.weight_decay < 0)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "tre_adam_create: need lr > 0, betas in [0, 1), eps > 0, clip_norm >= 0, "
                            "lrd > 0, weight_decay >= 0");
    tre_adam *a = calloc(1, sizeof *a);
    if (!a) return tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "tre_adam_create: out of memory");
    a->o = o;
    a->lr = o.lr;
    *out = a;
    return TRE_OK;
}

void tre_adam_destroy(tre_ctx *ctx, tre_adam *opt) {
    if (!opt) return;
    for (int64_t i = 0; i < opt->count; ++i) {
        if (ctx) {
            tre_tensor_destroy(ctx, opt->states[i].m);
            tre_tensor_destroy(ctx, opt->states[i].v);
        }
        free(opt->states[i].name);
    }
    free(opt->states);
    free(opt);
}

double tre_adam_lr(const tre_adam *opt) { return opt ? opt->lr : 0.0; }

static adam_state *state_for(tre_ctx *ctx, tre_adam *opt, const tre_param_entry *e) {
    for (int64_t i = 0; i < opt->count; ++i)
        if (strcmp(opt->states[i].name, e->name) == 0) {
            adam_state *s = &opt->states[i];
            if (s->m->numel == e->unconstrained->numel) return s;
            /* the param was removed and recreated with another shape: start over */
            tre_tensor_destroy(ctx, s->m);
            tre_tensor_destroy(ctx, s->v);
            s->m = s->v = NULL;
            s->step = 0;
            if (tre_tensor_create(ctx, &s->m, TRE_F32, 1, e->unconstrained->ndim, e->unconstrained->shape, NULL) ||
                tre_tensor_create(ctx, &s->v, TRE_F32, 1, e->unconstrained->ndim, e->unconstrained->shape, NULL))
                return NULL;
            return s;
        }
    if (opt->count == opt->cap) {
        int64_t cap = opt->cap ? opt->cap * 2 : 16;
        adam_state *st = realloc(opt->states, (size_t)cap * sizeof *st);
        if (!st) {
            tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "adam: out of memory");
            return NULL;
        }
        opt->states = st;
        opt->cap = cap;
    }
    adam_state *s = &opt->states[opt->count];
    memset(s, 0, sizeof *s);
    s->name = malloc(strlen(e->name) + 1);
    if (!s->name) {
        tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "adam: out of memory");
        return NULL;
    }
    strcpy(s->name, e->name);
    opt->count++;
    const tre_tensor *u = e->unconstrained;
    if (tre_tensor_create(ctx, &s->m, TRE_F32, 1, u->ndim, u->shape, NULL) != TRE_OK ||
        tre_tensor_create(ctx, &s->v, TRE_F32, 1, u->ndim, u->shape, NULL) != TRE_OK)
        return NULL;
    return s;
}

tre_status tre_adam_step(tre_ctx *ctx, tre_adam *opt) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (!opt) return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_adam_step: optimiser is NULL");
    if (!tre_ok(ctx)) return ctx->status;
    const tre_adam_opts *o = &opt->o;
    for (int64_t i = 0; i < tre_param_store_size(ctx) && tre_ok(ctx); ++i) {
        const tre_param_entry *e = tre_param_store_at(ctx, i);
        if (!e->grad) continue; /* no gradient computed for it yet */
        adam_state *s = state_for(ctx, opt, e);
        if (!s) break;
        s->step++;
        double bc1 = 1.0 - pow(o->beta1, (double)s->step), bc2 = 1.0 - pow(o->beta2, (double)s->step);
        /* Pyro's ClippedAdam puts eps outside the bias correction; torch's Adam inside */
        bool clipped = o->clip_norm > 0 || o->lrd != 1.0;
        double step_size = clipped ? opt->lr * sqrt(bc2) / bc1 : opt->lr / bc1;
        double bc2_sqrt = clipped ? 1.0 : sqrt(bc2);
        tre_backend_check(ctx,
                          ctx->be->adam_update(ctx->be->impl, e->unconstrained->numel,
                                               e->unconstrained->data, e->grad->data, s->m->data,
                                               s->v->data, (float)o->beta1, (float)o->beta2,
                                               (float)o->eps, (float)o->weight_decay,
                                               (float)o->clip_norm, (float)step_size, (float)bc2_sqrt),
                          "adam_update");
    }
    opt->lr *= o->lrd;
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
    if (tre_elbo(ctx, model, guide, args, &o, &r) != TRE_OK) return ctx->status;
    if (loss) *loss = r.loss;
    return tre_adam_step(ctx, opt);
}
