/* The messenger stack: push/pop, apply_stack (SPEC.md section 2), the sample primitive,
 * tre_run, and the small infer and dict helpers messages use. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "poutine_impl.h"

const char *tre_site_type_name(tre_site_type t) {
    switch (t) {
    case TRE_SITE_SAMPLE: return "sample";
    case TRE_SITE_PARAM: return "param";
    case TRE_SITE_SUBSAMPLE: return "subsample";
    case TRE_SITE_DETERMINISTIC: return "deterministic";
    }
    return "unknown";
}

tre_messenger *tre_messenger_new(tre_ctx *ctx, const char *kind, size_t state_bytes) {
    tre_messenger *m = tre_step_alloc(ctx, sizeof *m);
    if (!m) return NULL;
    m->kind = kind;
    if (state_bytes && !(m->state = tre_step_alloc(ctx, state_bytes))) return NULL;
    return m;
}

tre_status tre_push(tre_ctx *ctx, tre_messenger *m) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (!m) return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "push: handler is NULL");
    for (int i = 0; i < ctx->depth; ++i)
        if (ctx->stack[i] == m)
            return tre_ctx_fail(ctx, TRE_ERR_STACK, "push: %s handler is already on the stack",
                                m->kind ? m->kind : "user");
    if (ctx->depth == TRE_MAX_STACK)
        return tre_ctx_fail(ctx, TRE_ERR_STACK, "push: handler stack is full (%d)", TRE_MAX_STACK);
    if (m->enter) {
        tre_status s = m->enter(ctx, m);
        if (s != TRE_OK)
            return tre_ctx_fail(ctx, s, "push: %s handler failed to enter", m->kind ? m->kind : "user");
    }
    ctx->stack[ctx->depth++] = m;
    return TRE_OK;
}

tre_status tre_pop(tre_ctx *ctx, tre_messenger *m) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (!m || ctx->depth == 0 || ctx->stack[ctx->depth - 1] != m)
        return tre_ctx_fail(ctx, TRE_ERR_STACK, "pop: %s handler is not on top of the stack",
                            m && m->kind ? m->kind : "user");
    ctx->depth--;
    if (m->exit) m->exit(ctx, m);
    return TRE_OK;
}

void tre_stack_unwind(tre_ctx *ctx, int depth) {
    while (ctx->depth > depth) {
        tre_messenger *m = ctx->stack[--ctx->depth];
        if (m->exit) m->exit(ctx, m);
    }
}

int tre_stack_depth(const tre_ctx *ctx) { return ctx ? ctx->depth : 0; }

static tre_status callback_failed(tre_ctx *ctx, tre_messenger *m, tre_status s, const char *phase,
                                  const tre_msg *msg) {
    tre_ctx_fail(ctx, s, "%s handler failed in %s at site \"%s\"", m->kind ? m->kind : "user",
                 phase, msg->name);
    /* a callback that failed with its own message (tre_ctx_fail) still gets the site named */
    tre_ctx_name_site(ctx, msg->name);
    return ctx->status;
}

static void default_action(tre_ctx *ctx, tre_msg *msg) {
    if (msg->done || msg->is_observed || msg->value) {
        msg->done = true;
        return;
    }
    switch (msg->type) {
    case TRE_SITE_SAMPLE: msg->value = tre_dist_sample(ctx, msg->fn, ctx->particles); break;
    case TRE_SITE_PARAM: msg->value = tre_param_store_read(ctx, msg); break;
    case TRE_SITE_SUBSAMPLE: msg->value = tre_subsample_draw(ctx, msg); break;
    case TRE_SITE_DETERMINISTIC: break; /* its value is given (and checked) */
    }
    tre_ctx_name_site(ctx, msg->name); /* errors raised below name the site */
    msg->done = true;
}

/* A message built by a caller: its fields in range before any handler trusts them. */
static bool message_valid(tre_ctx *ctx, const tre_msg *msg) {
    const char *bad = NULL;
    if (msg->type < TRE_SITE_SAMPLE || msg->type > TRE_SITE_DETERMINISTIC) bad = "an unknown site type";
    else if (msg->n_frames < 0 || msg->n_frames > TRE_MAX_PLATES) bad = "n_frames outside 0..TRE_MAX_PLATES";
    else if (msg->infer.n < 0 || msg->infer.n > TRE_MAX_INFER) bad = "infer.n outside 0..TRE_MAX_INFER";
    else if (!(msg->scale > 0.0 && isfinite(msg->scale))) bad = "a scale that is not positive and finite";
    else if (msg->type == TRE_SITE_SAMPLE && !msg->fn) bad = "no distribution";
    else if (msg->type == TRE_SITE_DETERMINISTIC && !msg->value) bad = "no value";
    else if (msg->type == TRE_SITE_SUBSAMPLE &&
             (msg->size < 1 || msg->size > INT32_MAX || msg->subsample_size < 1 || msg->subsample_size > msg->size))
        bad = "plate sizes outside 1 <= subsample_size <= size < 2^31";
    if (!bad) return true;
    tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_apply_stack: site \"%s\" has %s", msg->name, bad);
    return false;
}

tre_status tre_apply_stack(tre_ctx *ctx, tre_msg *msg) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (!tre_ok(ctx)) return ctx->status;
    if (!msg || !msg->name || !*msg->name)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_apply_stack: %s",
                            msg ? "the message has no site name" : "message is NULL");
    if (!message_valid(ctx, msg)) return ctx->status;
    int first = ctx->depth; /* outermost handler visited */
    for (int i = ctx->depth - 1; i >= 0; --i) {
        tre_messenger *m = ctx->stack[i];
        first = i;
        if (m->process) {
            tre_status s = m->process(ctx, m, msg);
            if (s != TRE_OK || !tre_ok(ctx)) return callback_failed(ctx, m, s, "process", msg);
        }
        if (msg->stop) break;
    }
    default_action(ctx, msg);
    if (!tre_ok(ctx)) return ctx->status;
    for (int i = first; i < ctx->depth; ++i) {
        tre_messenger *m = ctx->stack[i];
        if (m->postprocess) {
            tre_status s = m->postprocess(ctx, m, msg);
            if (s != TRE_OK || !tre_ok(ctx)) return callback_failed(ctx, m, s, "postprocess", msg);
        }
    }
    return TRE_OK;
}

/* The caller's infer set, checked and copied (its strings may not outlive the program, and a
 * trace keeps them for the whole step). */
static bool copy_infer(tre_ctx *ctx, const char *name, const tre_infer *from, tre_infer *to) {
    if (from->n < 0 || from->n > TRE_MAX_INFER) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_sample(\"%s\"): infer holds %d entries, not 0..%d",
                     name, from->n, TRE_MAX_INFER);
        return false;
    }
    to->n = from->n;
    for (int i = 0; i < from->n; ++i) {
        if (!from->keys[i] || !from->values[i]) {
            tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_sample(\"%s\"): infer entry %d has a NULL %s", name,
                         i, from->keys[i] ? "value" : "key");
            return false;
        }
        if (!(to->keys[i] = tre_step_strdup(ctx, from->keys[i])) ||
            !(to->values[i] = tre_step_strdup(ctx, from->values[i])))
            return false;
    }
    return true;
}

/* A new message of a site named `name` (scale 1); NULL after an error (an empty name is
 * reported as `primitive`'s). */
static tre_msg *new_site(tre_ctx *ctx, tre_site_type type, const char *name, const char *primitive) {
    if (!name || !*name) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: site name is empty", primitive);
        return NULL;
    }
    tre_msg *msg = tre_step_alloc(ctx, sizeof *msg);
    if (!msg || !(msg->name = tre_step_strdup(ctx, name))) return NULL;
    msg->type = type;
    msg->scale = 1.0;
    return msg;
}

tre_tensor *tre_sample_ex(tre_ctx *ctx, const char *name, const tre_dist *fn,
                          const tre_sample_opts *opts) {
    if (!ctx) return NULL;
    if (!tre_ok(ctx)) {
        /* the distribution of this very site failed to build: name the site */
        if (ctx->error_needs_site && name) tre_ctx_name_site(ctx, name);
        ctx->error_needs_site = false;
        return NULL;
    }
    tre_msg *msg = new_site(ctx, TRE_SITE_SAMPLE, name, "tre_sample");
    if (!msg) return NULL;
    if (!fn) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_sample(\"%s\"): distribution is NULL", name);
        return NULL;
    }
    msg->fn = fn;
    if (opts && opts->obs) {
        msg->value = (tre_tensor *)opts->obs;
        msg->is_observed = true;
    }
    if (opts && opts->infer && !copy_infer(ctx, name, opts->infer, &msg->infer)) return NULL;
    if (ctx->validate) {
        const bool sig = tre_step_sig_pause(ctx);
        const tre_status vs = tre_dist_validate_params(ctx, fn);
        ctx->step_sig_on = sig;
        if (vs != TRE_OK) {
            tre_ctx_name_site(ctx, name);
            return NULL;
        }
    }
    return tre_apply_stack(ctx, msg) == TRE_OK ? msg->value : NULL;
}

tre_tensor *tre_sample(tre_ctx *ctx, const char *name, const tre_dist *fn, const tre_tensor *obs) {
    tre_sample_opts o = {.obs = obs};
    return tre_sample_ex(ctx, name, fn, &o);
}

tre_tensor *tre_deterministic(tre_ctx *ctx, const char *name, tre_tensor *value) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    tre_msg *msg = new_site(ctx, TRE_SITE_DETERMINISTIC, name, "tre_deterministic");
    if (!msg) return NULL;
    if (!value) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_deterministic(\"%s\"): value is NULL", name);
        return NULL;
    }
    msg->value = value;
    return tre_apply_stack(ctx, msg) == TRE_OK ? msg->value : NULL;
}

/* has_rsample: 0 unspecified (a model's factor), 1 / -1 said true / false */
static tre_status factor(tre_ctx *ctx, const char *name, const tre_tensor *log_factor, int has_rsample) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (!tre_ok(ctx)) return ctx->status;
    if (!name || !*name) return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_factor: site name is empty");
    if (!log_factor)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_factor(\"%s\"): log_factor is NULL", name);
    tre_infer inf = {0};
    tre_infer_set(&inf, "is_auxiliary", "true"); /* an empty set has room */
    tre_dist *unit = tre_unit(ctx, log_factor);
    if (has_rsample) unit = tre_dist_with_rsample(ctx, unit, has_rsample > 0);
    /* the value is never read: a scalar broadcasts against any batch shape */
    tre_sample_opts o = {.obs = tre_scalar(ctx, 0.f), .infer = &inf};
    tre_sample_ex(ctx, name, unit, &o);
    return ctx->status;
}

tre_status tre_factor(tre_ctx *ctx, const char *name, const tre_tensor *log_factor) {
    return factor(ctx, name, log_factor, 0);
}

tre_status tre_factor_ex(tre_ctx *ctx, const char *name, const tre_tensor *log_factor, bool has_rsample) {
    return factor(ctx, name, log_factor, has_rsample ? 1 : -1);
}

tre_status tre_run(tre_ctx *ctx, tre_program fn, const void *args, tre_messenger *const *handlers,
                   int n, tre_tensor **ret) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (ret) *ret = NULL;
    if (!fn) return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_run: program is NULL");
    if (n < 0 || (n > 0 && !handlers))
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_run: bad handler list");
    if (!tre_ok(ctx)) return ctx->status;
    /* a new program: its plates declare their index sites again; a program run from inside
     * another (a nested tre_run) shares the enclosing one's plates */
    if (ctx->running == 0) tre_plate_memo_reset(ctx);
    int base = ctx->depth;
    for (int i = 0; i < n && tre_ok(ctx); ++i) tre_push(ctx, handlers[i]);
    tre_tensor *r = NULL;
    ctx->running++;
    if (tre_ok(ctx)) r = fn(ctx, args);
    ctx->running--;
    for (int i = n - 1; i >= 0 && tre_ok(ctx); --i)
        if (handlers[i]->on_return) handlers[i]->on_return(ctx, handlers[i], args, r);
    tre_stack_unwind(ctx, base); /* also drops whatever the program left pushed */
    if (ret && tre_ok(ctx)) *ret = r;
    return ctx->status;
}

const char *tre_infer_get(const tre_infer *inf, const char *key) {
    if (!inf || !key) return NULL;
    for (int i = 0; i < inf->n; ++i)
        if (strcmp(inf->keys[i], key) == 0) return inf->values[i];
    return NULL;
}

bool tre_infer_set(tre_infer *inf, const char *key, const char *value) {
    if (!inf || !key) return false;
    for (int i = 0; i < inf->n; ++i)
        if (strcmp(inf->keys[i], key) == 0) {
            inf->values[i] = value;
            return true;
        }
    if (inf->n == TRE_MAX_INFER) return false;
    inf->keys[inf->n] = key;
    inf->values[inf->n++] = value;
    return true;
}

struct tre_dict {
    tre_strmap map;
};

tre_dict *tre_dict_new(tre_ctx *ctx) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    tre_dict *d = tre_step_alloc(ctx, sizeof *d);
    if (d) tre_strmap_init(&d->map, tre_step_alloc_cb, NULL, ctx);
    return d;
}

tre_status tre_dict_set(tre_ctx *ctx, tre_dict *d, const char *name, tre_tensor *value) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (!d || !name || !value)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_dict_set: %s is NULL",
                            !d ? "dict" : !name ? "name" : "value");
    const char *key = tre_step_strdup(ctx, name);
    if (!key) return ctx->status;
    if (!tre_strmap_put(&d->map, key, value))
        return tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "tre_dict_set: out of memory");
    return TRE_OK;
}

tre_tensor *tre_dict_get(const tre_dict *d, const char *name) {
    return d && name ? tre_strmap_get(&d->map, name) : NULL;
}
int64_t tre_dict_size(const tre_dict *d) { return d ? d->map.count : 0; }
