/* Adam and ClippedAdam over the param store (torch.optim.Adam / Pyro's ClippedAdam), and the
 * SVI step. Moments are persistent tensors, one state per param entry (by its id). */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "../core/binfile.h"
#include "../core/ctx_impl.h"
#include "elbo_impl.h"
#include "../tensor/tensor_impl.h"

typedef struct adam_state {
    char *name;
    uint64_t id;      /* the entry's id: a removed and re-created param starts over */
    tre_tensor *m, *v;
    int64_t step;
    double lr;        /* ClippedAdam's decayed rate, per param as in Pyro (one optimiser each) */
} adam_state;

struct tre_adam {
    tre_ctx_ref owner; /* the context whose store it updates */
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
    a->owner = tre_ctx_ref_of(ctx);
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
    if (!tre_ctx_ref_is(opt->owner, ctx)) ctx = NULL; /* another context cannot free its moments: host memory only */
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

/* A fresh state for e in *s (zero moments, the optimiser's rate); false with the error set,
 * nothing held. */
static bool make_state(tre_ctx *ctx, const tre_adam *opt, const tre_param_entry *e, adam_state *s) {
    *s = (adam_state){.id = tre_param_entry_id(e), .lr = opt->o.lr};
    const tre_tensor *u = e->unconstrained;
    s->name = malloc(strlen(e->name) + 1);
    if (!s->name) tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "adam: out of memory");
    if (!s->name || tre_tensor_create(ctx, &s->m, TRE_F32, 1, u->ndim, u->shape, NULL) != TRE_OK ||
        tre_tensor_create(ctx, &s->v, TRE_F32, 1, u->ndim, u->shape, NULL) != TRE_OK) {
        state_release(ctx, s);
        return false;
    }
    strcpy(s->name, e->name);
    return true;
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
    adam_state s;
    if (!make_state(ctx, opt, e, &s)) return false;
    opt->states[opt->count++] = s;
    return true;
}

static bool to_update(const tre_param_entry *e) { return e->grad && e->in_step; }

tre_status tre_adam_step(tre_ctx *ctx, tre_adam *opt) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (!opt) return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_adam_step: optimiser is NULL");
    if (!tre_ctx_ref_is(opt->owner, ctx))
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

/* ---- save and load (Pyro's PyroOptim.save / load) ---------------------------------------- */

static const char adam_magic[8] = {'T', 'R', 'E', 'A', 'D', 'A', 'M', 'S'};

static tre_status check_own(tre_ctx *ctx, const tre_adam *opt, const char *what) {
    if (!opt) return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: optimiser is NULL", what);
    if (!tre_ctx_ref_is(opt->owner, ctx))
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: the optimiser was created for another context", what);
    if (tre_ctx_in_program(ctx))
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: called inside a model or guide, or a step capture", what);
    return TRE_OK;
}

static tre_status adam_save(tre_ctx *ctx, const tre_adam *opt, const char *path) {
    const char *what = "tre_adam_save";
    const tre_status own = check_own(ctx, opt, what);
    if (own != TRE_OK) return own;
    uint64_t count = 0; /* the states of params still in the store */
    for (int64_t i = 0; i < opt->count; ++i)
        count += state_current(&opt->states[i], tre_param_store_get(ctx, opt->states[i].name));
    tre_bin_writer w;
    const tre_status created = tre_bin_create(ctx, &w, what, path, adam_magic);
    if (created != TRE_OK) return created;
    tre_bin_put_f64(&w, opt->lr);
    tre_bin_put_u64(&w, count);
    for (int64_t i = 0; i < opt->count; ++i) {
        const adam_state *st = &opt->states[i];
        if (!state_current(st, tre_param_store_get(ctx, st->name))) continue;
        tre_bin_put(&w, &st->step, sizeof st->step);
        tre_bin_put_f64(&w, st->lr);
        tre_bin_put_tensor(ctx, &w, st->name, st->m);
        tre_bin_put_tensor(ctx, &w, st->name, st->v);
    }
    return tre_bin_commit(ctx, &w, what);
}

tre_status tre_adam_save(tre_ctx *ctx, const tre_adam *opt, const char *path) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    tre_error_aside a; /* its own outcome, whatever error is pending (ctx.h) */
    tre_error_set_aside(ctx, &a);
    return tre_error_put_back(ctx, &a, adam_save(ctx, opt, path));
}

typedef struct saved_state {
    int64_t step;
    double lr;
    tre_bin_tensor m, v;
    const tre_param_entry *e;
} saved_state;

/* A saved rate: lr * lrd^t, which a long run with lrd < 1 may take down to 0. */
static bool valid_rate(double lr) { return lr >= 0 && isfinite(lr); }

/* Every state parsed and matched to its param (by name, of the same shape) before the
 * optimiser changes. */
static saved_state *parse_states(tre_ctx *ctx, tre_bin_reader *r, const char *path, double *lr,
                                 uint64_t *count) {
    const char *what = "tre_adam_load";
    if (!tre_bin_get(r, lr, sizeof *lr) || !valid_rate(*lr)) {
        tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" is cut short or damaged (its header)", what, path);
        return NULL;
    }
    /* a state: step and rate (16 bytes), then two tensor records (13 bytes or more each) */
    saved_state *ss = tre_bin_get_count(ctx, r, what, path, 42, sizeof *ss, count);
    if (!ss) return NULL;
    for (uint64_t i = 0; i < *count; ++i) {
        saved_state *s = &ss[i];
        const bool read = tre_bin_get(r, &s->step, sizeof s->step) && tre_bin_get(r, &s->lr, sizeof s->lr) &&
                          tre_bin_get_tensor(r, &s->m) && tre_bin_get_tensor(r, &s->v);
        if (!read || s->step < 0 || !valid_rate(s->lr) || s->m.name_len != s->v.name_len ||
            memcmp(s->m.name, s->v.name, s->m.name_len) != 0 ||
            !tre_shape_equal(s->m.ndim, s->m.shape, s->v.ndim, s->v.shape)) {
            tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" is cut short or damaged (state %llu of %llu)",
                         what, path, (unsigned long long)i + 1, (unsigned long long)*count);
            break;
        }
        char *name = tre_bin_name_dup(&s->m);
        s->e = name ? tre_param_store_get(ctx, name) : NULL;
        if (!name) {
            tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
        } else if (!s->e) {
            tre_ctx_fail(ctx, TRE_ERR_PARAM, "%s: \"%s\" holds a state for param \"%s\", which is "
                         "not in the store (load the param store first)", what, path, name);
        } else if (!tre_shape_equal(s->m.ndim, s->m.shape, s->e->unconstrained->ndim, s->e->unconstrained->shape)) {
            char s1[96], s2[96];
            tre_ctx_fail(ctx, TRE_ERR_PARAM, "%s: \"%s\" holds a state of shape %s for param \"%s\" "
                         "of unconstrained shape %s", what, path, tre_shape_str(s1, sizeof s1, s->m.ndim, s->m.shape),
                         name, tre_shape_str(s2, sizeof s2, s->e->unconstrained->ndim, s->e->unconstrained->shape));
        }
        for (uint64_t j = 0; j < i && tre_ok(ctx); ++j)
            if (ss[j].e == s->e)
                tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" holds two states for param \"%s\"", what, path, name);
        free(name);
        if (!tre_ok(ctx)) break;
    }
    if (tre_ok(ctx) && r->at != r->len)
        tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" has %zu bytes past its last state", what, path, r->len - r->at);
    if (!tre_ok(ctx)) {
        free(ss);
        return NULL;
    }
    return ss;
}

/* The saved states, made in full before the optimiser's change: a failure (out of memory, an
 * upload) leaves the optimiser as it was. */
static adam_state *load_states(tre_ctx *ctx, const tre_adam *opt, const saved_state *ss, uint64_t count) {
    adam_state *fresh = calloc((size_t)(count ? count : 1), sizeof *fresh);
    if (!fresh) {
        tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "tre_adam_load: out of memory");
        return NULL;
    }
    uint64_t made = 0; /* states held in fresh */
    bool ok = true;
    while (ok && made < count) {
        adam_state *st = &fresh[made];
        const saved_state *sv = &ss[made];
        if (!make_state(ctx, opt, sv->e, st)) { /* it holds nothing then */
            ok = false;
            break;
        }
        ++made;
        st->step = sv->step;
        st->lr = sv->lr;
        ok = tre_tensor_write(ctx, st->m, sv->m.data, sv->m.numel) == TRE_OK &&
             tre_tensor_write(ctx, st->v, sv->v.data, sv->v.numel) == TRE_OK;
        st->m->known_no_nan = st->v->known_no_nan = false; /* updated in place from now on */
    }
    if (ok) return fresh;
    for (uint64_t i = 0; i < made; ++i) state_release(ctx, &fresh[i]);
    free(fresh);
    return NULL;
}

/* Merges the loaded states into the optimiser's, as Pyro's PyroOptim.set_state: each replaces
 * the state of its param (the same entry id), the states of params not in the file stay. The
 * merged array is made before anything is released: false (out of memory) changes nothing. */
static bool merge_states(tre_ctx *ctx, tre_adam *opt, adam_state *fresh, uint64_t count) {
    qsort(fresh, (size_t)count, sizeof *fresh, by_id); /* count >= 1 here */
    const int64_t cap = opt->count + (int64_t)count;
    adam_state *merged = malloc((size_t)cap * sizeof *merged);
    if (!merged) {
        tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "tre_adam_load: out of memory");
        return false;
    }
    /* both sorted by id (the optimiser's kept so, the loaded ids distinct): a sorted merge */
    int64_t n = 0, i = 0;
    uint64_t j = 0;
    while (i < opt->count || j < count) {
        if (j == count || (i < opt->count && opt->states[i].id < fresh[j].id)) {
            merged[n++] = opt->states[i++];
        } else {
            if (i < opt->count && opt->states[i].id == fresh[j].id) state_release(ctx, &opt->states[i++]);
            merged[n++] = fresh[j++];
        }
    }
    free(opt->states);
    opt->states = merged;
    opt->count = n;
    opt->cap = cap;
    return true;
}

tre_status tre_adam_load(tre_ctx *ctx, tre_adam *opt, const char *path) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    const char *what = "tre_adam_load";
    const tre_status own = check_own(ctx, opt, what);
    if (own != TRE_OK) return own;
    tre_ctx_step_reset(ctx); /* clears a pending error: what follows reports its own */
    tre_bin_reader r;
    if (!tre_bin_open(ctx, &r, what, path, adam_magic)) return ctx->status;
    double lr = 0;
    uint64_t count = 0;
    saved_state *ss = parse_states(ctx, &r, path, &lr, &count);
    adam_state *fresh = ss ? load_states(ctx, opt, ss, count) : NULL;
    if (fresh && count > 0 && !merge_states(ctx, opt, fresh, count)) {
        for (uint64_t i = 0; i < count; ++i) state_release(ctx, &fresh[i]);
        free(fresh);
        fresh = NULL;
    }
    if (fresh) {
        opt->lr = lr;
        free(fresh); /* its states moved into the optimiser's */
    }
    free(ss);
    tre_bin_close(&r);
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
    return tre_svi_apply(ctx, opt, r.loss, loss);
}

tre_status tre_svi_apply(tre_ctx *ctx, tre_adam *opt, double value, double *loss) {
    const tre_status s = tre_adam_step(ctx, opt);
    if (loss) *loss = s == TRE_OK ? value : NAN;
    return s;
}
