/* The param store: unconstrained tensors by name (insertion order kept), the param primitive,
 * and constrained reads that remember their entry. */
#include <stdlib.h>
#include <string.h>
#include "constraint.h"
#include "../core/binfile.h"
#include "../poutine/poutine_impl.h"

static void *heap_alloc(void *user, size_t bytes) { (void)user; return malloc(bytes); }
static void heap_free(void *user, void *p) { (void)user; free(p); }

void tre_param_store_init(tre_ctx *ctx) {
    memset(&ctx->params, 0, sizeof ctx->params);
    tre_strmap_init(&ctx->params.by_name, heap_alloc, heap_free, NULL);
}

static void entry_free(tre_ctx *ctx, tre_param_entry *e) {
    tre_tensor_destroy(ctx, e->unconstrained);
    tre_tensor_destroy(ctx, e->grad);
    free((char *)e->name);
    free((tre_param_entry_impl *)e);
}

static void store_clear(tre_ctx *ctx) {
    for (int64_t i = 0; i < ctx->params.count; ++i) entry_free(ctx, ctx->params.entries[i]);
    ctx->params.count = 0;
    ctx->params.generation++;
    tre_strmap_release(&ctx->params.by_name);
}

/* Entries are freed at once, and the current step's values (a REAL param's value is a view of
 * its entry's tensor), its tape (which writes the entries' gradients) and the backend's queued
 * work may point at them: removing is refused while a program runs or a step is captured, and
 * otherwise ends the step first, as tre_ctx_memory_trim does. */
static tre_status end_step_for_removal(tre_ctx *ctx, const char *what) {
    if (tre_ctx_in_program(ctx))
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "%s: called inside a model or guide, or a step capture", what);
    tre_ctx_step_reset(ctx);
    return TRE_OK;
}

tre_status tre_param_store_clear(tre_ctx *ctx) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (end_step_for_removal(ctx, "tre_param_store_clear") != TRE_OK) return ctx->status;
    store_clear(ctx);
    return TRE_OK;
}

void tre_param_store_release(tre_ctx *ctx) {
    store_clear(ctx);
    free(ctx->params.entries);
    ctx->params.entries = NULL;
    ctx->params.cap = 0;
}

const tre_param_entry *tre_param_store_get(const tre_ctx *ctx, const char *name) {
    return ctx && name ? tre_strmap_get(&ctx->params.by_name, name) : NULL;
}
int64_t tre_param_store_size(const tre_ctx *ctx) { return ctx ? ctx->params.count : 0; }
const tre_param_entry *tre_param_store_at(const tre_ctx *ctx, int64_t i) {
    return ctx && i >= 0 && i < ctx->params.count ? ctx->params.entries[i] : NULL;
}

tre_status tre_param_store_remove(tre_ctx *ctx, const char *name) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    tre_param_entry *e = name ? tre_strmap_get(&ctx->params.by_name, name) : NULL;
    if (!e) return tre_ctx_fail(ctx, TRE_ERR_PARAM, "param store has no param \"%s\"", name ? name : "");
    if (end_step_for_removal(ctx, "tre_param_store_remove") != TRE_OK) return ctx->status;
    tre_strmap_remove(&ctx->params.by_name, name);
    int64_t i = 0;
    while (ctx->params.entries[i] != e) ++i;
    memmove(ctx->params.entries + i, ctx->params.entries + i + 1,
            (size_t)(ctx->params.count - i - 1) * sizeof *ctx->params.entries);
    ctx->params.count--;
    ctx->params.generation++;
    entry_free(ctx, e);
    return TRE_OK;
}

tre_tensor *tre_param_constrained(tre_ctx *ctx, const tre_param_entry *e) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!e) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_param_constrained: entry is NULL");
        return NULL;
    }
    tre_tensor *v = tre_transform_to(ctx, e->constraint, e->unconstrained);
    if (v) v->param = e;
    ((tre_param_entry_impl *)e)->read_step = ctx->step_serial; /* the step uses it */
    return v;
}

/* A new entry holding `stored` (a persistent unconstrained tensor it then owns; destroyed
 * when the entry cannot be made). */
static tre_param_entry *store_add(tre_ctx *ctx, const char *name, tre_constraint c, tre_tensor *stored) {
    tre_param_store *st = &ctx->params;
    if (st->count == st->cap) {
        int64_t cap = st->cap ? st->cap * 2 : 16;
        tre_param_entry **es = realloc(st->entries, (size_t)cap * sizeof *es);
        if (!es) {
            tre_tensor_destroy(ctx, stored);
            tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "param \"%s\": out of memory", name);
            return NULL;
        }
        st->entries = es;
        st->cap = cap;
    }
    tre_param_entry_impl *ei = calloc(1, sizeof *ei);
    tre_param_entry *e = ei ? &ei->pub : NULL;
    char *n = e ? malloc(strlen(name) + 1) : NULL;
    if (n) strcpy(n, name);
    if (!n || !tre_strmap_put(&st->by_name, n, e)) {
        tre_tensor_destroy(ctx, stored);
        free(n);
        free(ei);
        tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "param \"%s\": out of memory", name);
        return NULL;
    }
    e->name = n;
    e->constraint = c;
    e->unconstrained = stored;
    ei->id = ++st->next_id;
    stored->requires_grad = true; /* a leaf: recorded ops on it flow back here */
    st->entries[st->count++] = e;
    st->generation++;
    return e;
}

static tre_param_entry *store_insert(tre_ctx *ctx, const char *name, tre_constraint c,
                                     const tre_tensor *init) {
    if (init->dtype != TRE_F32) {
        tre_ctx_fail(ctx, TRE_ERR_PARAM, "param \"%s\": init must be a float32 tensor", name);
        return NULL;
    }
    if (init->particles != 1) {
        tre_ctx_fail(ctx, TRE_ERR_PARAM, "param \"%s\": init must be shared by all particles "
                     "(extent 1), got extent %lld", name, (long long)init->particles);
        return NULL;
    }
    tre_tensor *u = tre_transform_inv(ctx, c, init);
    tre_tensor *stored = u ? tre_tensor_persist_copy(ctx, u) : NULL; /* sets the error */
    return stored ? store_add(ctx, name, c, stored) : NULL;
}

tre_tensor *tre_param_store_read(tre_ctx *ctx, const tre_msg *msg) {
    const tre_param_entry *e = tre_param_store_get(ctx, msg->name);
    if (!e) {
        if (!msg->init) {
            tre_ctx_fail(ctx, TRE_ERR_PARAM, "param \"%s\" is not in the store and has no init",
                         msg->name);
            return NULL;
        }
        e = store_insert(ctx, msg->name, msg->constraint, msg->init);
        if (!e) return NULL;
    }
    return tre_param_constrained(ctx, e);
}

tre_tensor *tre_param(tre_ctx *ctx, const char *name, const tre_tensor *init,
                      tre_constraint constraint) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!name || !*name) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_param: name is empty");
        return NULL;
    }
    tre_msg *msg = tre_step_alloc(ctx, sizeof *msg);
    if (!msg || !(msg->name = tre_step_strdup(ctx, name))) return NULL;
    msg->type = TRE_SITE_PARAM;
    msg->init = init;
    msg->constraint = constraint;
    msg->scale = 1.0;
    return tre_apply_stack(ctx, msg) == TRE_OK ? msg->value : NULL;
}

void tre_param_store_forget_step_grads(tre_ctx *ctx) {
    for (int64_t i = 0; i < ctx->params.count; ++i) ctx->params.entries[i]->unconstrained->grad = NULL;
}

tre_status tre_param_store_collect_grads(tre_ctx *ctx) {
    for (int64_t i = 0; i < ctx->params.count && tre_ok(ctx); ++i) {
        tre_param_entry *e = ctx->params.entries[i];
        tre_tensor *u = e->unconstrained, *g = u->grad;
        if (!e->grad) {
            tre_tensor *t = NULL;
            if (tre_tensor_create(ctx, &t, TRE_F32, 1, u->ndim, u->shape, NULL) != TRE_OK) break;
            e->grad = t;
            ctx->params.generation++;
        }
        /* as Pyro's SVI with torch's optimisers: a param with no gradient yet is skipped (its
         * .grad is None); one that has had a gradient is stepped with zeros when the step
         * read it but sent it none (zero_grads left zeros in its .grad) */
        tre_param_entry_impl *ei = (tre_param_entry_impl *)e;
        if (g) ei->had_grad = true;
        e->in_step = g || (ei->had_grad && ei->read_step == ctx->step_serial);
        size_t bytes = (size_t)u->numel * 4;
        int rc = g ? ctx->be->copy(ctx->be->impl, e->grad->data, g->data, bytes)
                   : ctx->be->fill(ctx->be->impl, e->grad->data, 0.f, u->numel);
        tre_backend_check(ctx, rc, "param gradient copy");
    }
    tre_param_store_forget_step_grads(ctx);
    return ctx->status;
}

/* ---- save and load (Pyro's ParamStoreDict.save / load) ---------------------------------- */

static const char param_magic[8] = {'T', 'R', 'E', 'P', 'A', 'R', 'A', 'M'};

typedef struct saved_param {
    tre_constraint constraint;
    tre_bin_tensor value;
} saved_param;

static tre_status store_save(tre_ctx *ctx, const char *path) {
    const char *what = "tre_param_store_save";
    if (tre_ctx_in_program(ctx))
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: called inside a model or guide, or a step capture", what);
    tre_bin_writer w;
    const tre_status created = tre_bin_create(ctx, &w, what, path, param_magic);
    if (created != TRE_OK) return created;
    tre_bin_put_u64(&w, (uint64_t)ctx->params.count);
    for (int64_t i = 0; i < ctx->params.count; ++i) {
        const tre_param_entry *e = ctx->params.entries[i];
        const int32_t kind = (int32_t)e->constraint.kind;
        tre_bin_put(&w, &kind, sizeof kind);
        tre_bin_put(&w, &e->constraint.lower, sizeof e->constraint.lower);
        tre_bin_put(&w, &e->constraint.upper, sizeof e->constraint.upper);
        tre_bin_put_tensor(ctx, &w, e->name, e->unconstrained);
    }
    return tre_bin_commit(ctx, &w, what);
}

tre_status tre_param_store_save(tre_ctx *ctx, const char *path) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    tre_error_aside a; /* its own outcome, whatever error is pending (ctx.h) */
    tre_error_set_aside(ctx, &a);
    return tre_error_put_back(ctx, &a, store_save(ctx, path));
}

/* Record order by name, for finding a name saved twice */
static int by_name(const void *a, const void *b) {
    const tre_bin_tensor *x = *(const tre_bin_tensor *const *)a, *y = *(const tre_bin_tensor *const *)b;
    if (x->name_len != y->name_len) return x->name_len < y->name_len ? -1 : 1;
    return memcmp(x->name, y->name, x->name_len);
}

/* A name from the file, for a message (at most 200 bytes of it) */
#define NAME_ARG(t) (int)((t)->name_len < 200 ? (t)->name_len : 200), (t)->name

/* No name twice: a load would otherwise make the first a param and replace it by the second */
static bool names_distinct(tre_ctx *ctx, const saved_param *ps, uint64_t count, const char *path) {
    const char *what = "tre_param_store_load";
    if (count < 2) return true;
    const tre_bin_tensor **by = malloc((size_t)count * sizeof *by);
    if (!by) {
        tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
        return false;
    }
    for (uint64_t i = 0; i < count; ++i) by[i] = &ps[i].value;
    qsort(by, (size_t)count, sizeof *by, by_name);
    for (uint64_t i = 1; i < count && tre_ok(ctx); ++i)
        if (by_name(&by[i - 1], &by[i]) == 0)
            tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" holds two params named \"%.*s\"", what, path,
                         NAME_ARG(by[i]));
    free(by);
    return tre_ok(ctx);
}

/* Every record parsed and checked before the store changes: a damaged file, or one holding a
 * param that tre_param would not make (the rules of tre_constraint_fits, on the unconstrained
 * value), or a name twice, changes nothing. */
static saved_param *parse_params(tre_ctx *ctx, tre_bin_reader *r, const char *path, uint64_t *count) {
    const char *what = "tre_param_store_load";
    /* a record: the constraint (12 bytes), then a tensor record (13 bytes or more) */
    saved_param *ps = tre_bin_get_count(ctx, r, what, path, 25, sizeof *ps, count);
    if (!ps) return NULL;
    for (uint64_t i = 0; i < *count; ++i) {
        int32_t kind;
        saved_param *p = &ps[i];
        const bool read = tre_bin_get(r, &kind, sizeof kind) &&
                          tre_bin_get(r, &p->constraint.lower, sizeof p->constraint.lower) &&
                          tre_bin_get(r, &p->constraint.upper, sizeof p->constraint.upper) &&
                          tre_bin_get_tensor(r, &p->value);
        if (!read) {
            tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" is cut short or damaged (param %llu of %llu)",
                         what, path, (unsigned long long)i + 1, (unsigned long long)*count);
            free(ps);
            return NULL;
        }
        p->constraint.kind = (tre_constraint_kind)kind;
        tre_status status;
        char why[256];
        if (!tre_constraint_fits(p->constraint, true, p->value.ndim, p->value.shape, "its unconstrained value",
                                 &status, why, sizeof why)) {
            tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" holds param \"%.*s\" (param %llu of %llu), which is "
                         "not a valid param: %s", what, path, NAME_ARG(&p->value), (unsigned long long)i + 1,
                         (unsigned long long)*count, why);
            free(ps);
            return NULL;
        }
    }
    if (r->at != r->len) {
        tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" has %zu bytes past its last param", what, path, r->len - r->at);
        free(ps);
        return NULL;
    }
    if (!names_distinct(ctx, ps, *count, path)) {
        free(ps);
        return NULL;
    }
    return ps;
}

/* The saved value as a param, in the tensor t made for it (owned from here on): a new tensor
 * for an existing entry (a new param to the optimiser: its id changes, its gradient buffer
 * goes), or a new entry. */
static tre_status load_param(tre_ctx *ctx, const saved_param *p, tre_tensor *t) {
    char *name = tre_bin_name_dup(&p->value);
    if (!name) {
        tre_tensor_destroy(ctx, t);
        return tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "tre_param_store_load: out of memory");
    }
    t->known_no_nan = false; /* the optimiser updates it in place */
    tre_param_entry *e = tre_strmap_get(&ctx->params.by_name, name);
    if (!e) {
        store_add(ctx, name, p->constraint, t);
    } else {
        tre_tensor_destroy(ctx, e->unconstrained);
        tre_tensor_destroy(ctx, e->grad);
        e->grad = NULL;
        e->unconstrained = t;
        e->constraint = p->constraint;
        t->requires_grad = true;
        ((tre_param_entry_impl *)e)->id = ++ctx->params.next_id;
        ((tre_param_entry_impl *)e)->had_grad = false; /* a new tensor: its .grad is None in Pyro */
        ctx->params.generation++;
    }
    free(name);
    return ctx->status;
}

tre_status tre_param_store_load(tre_ctx *ctx, const char *path) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (end_step_for_removal(ctx, "tre_param_store_load") != TRE_OK) return ctx->status;
    tre_bin_reader r;
    if (!tre_bin_open(ctx, &r, "tre_param_store_load", path, param_magic)) return ctx->status;
    uint64_t count = 0, made = 0;
    saved_param *ps = parse_params(ctx, &r, path, &count);
    /* every value on the backend before the store changes: a failed allocation or upload
     * leaves it as it was */
    tre_tensor **ts = ps ? calloc((size_t)(count ? count : 1), sizeof *ts) : NULL;
    if (ps && !ts) tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "tre_param_store_load: out of memory");
    while (ts && made < count &&
           tre_tensor_create(ctx, &ts[made], TRE_F32, 1, ps[made].value.ndim, ps[made].value.shape,
                             ps[made].value.data) == TRE_OK)
        ++made;
    if (ts && made < count)
        for (uint64_t i = 0; i < made; ++i) tre_tensor_destroy(ctx, ts[i]);
    else
        for (uint64_t i = 0; ts && i < count; ++i)
            if (load_param(ctx, &ps[i], ts[i]) != TRE_OK) { /* out of host memory: the rest go */
                for (uint64_t j = i + 1; j < count; ++j) tre_tensor_destroy(ctx, ts[j]);
                break;
            }
    free(ts);
    free(ps);
    tre_bin_close(&r);
    return ctx->status;
}
