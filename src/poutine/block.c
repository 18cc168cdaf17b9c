/* block handler: sets stop on the sites it hides, so handlers outside it never see them.
 * The hiding rules follow Pyro's BlockMessenger (SPEC.md section 4): a predicate alone decides
 * when given; otherwise name lists, type lists and a hide-all default that the last list given
 * (in the order hide, expose, hide_types, expose_types) switches off or on.
 * A list counts as given when its pointer is non-NULL, even with a count of 0: that is how
 * Pyro tells `hide=[]` (given, empty) from `hide=None`. */
#include <string.h>
#include "poutine_impl.h"

/* Site kinds of the type lists; observed sample sites are their own kind, as in Pyro. A plate's
 * index site is a sample site in Pyro (its fn is a _Subsample distribution), so "sample" covers
 * it, and "subsample" names index sites alone: hiding "sample" from a guide must not let the
 * guide's minibatch go unrecorded while its local sites are replayed. */
enum { KIND_SAMPLE, KIND_PARAM, KIND_SUBSAMPLE, KIND_OBSERVE, KIND_DETERMINISTIC, KIND_COUNT };
static const char *const kind_names[KIND_COUNT] = {"sample", "param", "subsample", "observe",
                                                   "deterministic"};

typedef struct name_list {
    const char **names;  /* step-scoped copies: the caller's arrays may not outlive the handler */
    int n;
} name_list;

typedef struct block_state {
    name_list hide, expose;
    unsigned hide_types, expose_types;  /* one bit per KIND_ */
    bool hide_all;
    bool (*hide_fn)(const tre_msg *msg, void *user);
    void *hide_fn_user;
} block_state;

static unsigned msg_kind_bit(const tre_msg *msg) {
    if (msg->type == TRE_SITE_SAMPLE) return 1u << (msg->is_observed ? KIND_OBSERVE : KIND_SAMPLE);
    if (msg->type == TRE_SITE_PARAM) return 1u << KIND_PARAM;
    if (msg->type == TRE_SITE_DETERMINISTIC) return 1u << KIND_DETERMINISTIC;
    return 1u << KIND_SUBSAMPLE | 1u << KIND_SAMPLE;
}

static bool list_has(const name_list *l, const char *name) {
    for (int i = 0; i < l->n; ++i)
        if (strcmp(l->names[i], name) == 0) return true;
    return false;
}

static bool is_hidden(const block_state *st, const tre_msg *msg) {
    if (st->hide_fn) return st->hide_fn(msg, st->hide_fn_user);
    unsigned kind = msg_kind_bit(msg);
    if (list_has(&st->hide, msg->name) || (st->hide_types & kind)) return true;
    bool exposed = list_has(&st->expose, msg->name) || (st->expose_types & kind);
    return st->hide_all && !exposed;
}

static tre_status block_process(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    (void)ctx;
    msg->stop = is_hidden(self->state, msg);
    return TRE_OK;
}

/* A caller's (pointer, count) pair must be usable before anything is copied out of it. */
static bool check_list(tre_ctx *ctx, const char *arg, const char *const *names, int n) {
    if (n < 0 || (n > 0 && !names)) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "block: %s has count %d but %s", arg, n,
                     names ? "a negative count is invalid" : "the list is NULL");
        return false;
    }
    for (int i = 0; i < n; ++i)
        if (!names[i]) {
            tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "block: %s[%d] is NULL", arg, i);
            return false;
        }
    return true;
}

static bool copy_names(tre_ctx *ctx, const char *arg, const char *const *names, int n,
                       name_list *out) {
    if (!check_list(ctx, arg, names, n)) return false;
    out->n = n;
    if (n == 0) return true;
    if (!(out->names = tre_step_alloc(ctx, (size_t)n * sizeof *out->names))) return false;
    for (int i = 0; i < n; ++i)
        if (!(out->names[i] = tre_step_strdup(ctx, names[i]))) return false;
    return true;
}

static bool parse_types(tre_ctx *ctx, const char *arg, const char *const *types, int n,
                        unsigned *bits) {
    if (!check_list(ctx, arg, types, n)) return false;
    for (int i = 0; i < n; ++i) {
        int k = 0;
        while (k < KIND_COUNT && strcmp(types[i], kind_names[k]) != 0) ++k;
        /* Pyro would let an unknown type match nothing; here it can only be a typo */
        if (k == KIND_COUNT) {
            tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                         "block: %s[%d] is site type \"%s\", not one of \"sample\", \"param\", "
                         "\"subsample\", \"observe\", \"deterministic\"",
                         arg, i, types[i]);
            return false;
        }
        *bits |= 1u << k;
    }
    return true;
}

static bool check_disjoint(tre_ctx *ctx, const block_state *st) {
    for (int i = 0; i < st->hide.n; ++i)
        if (list_has(&st->expose, st->hide.names[i])) {
            tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "block: cannot hide and expose site \"%s\"",
                         st->hide.names[i]);
            return false;
        }
    unsigned both = st->hide_types & st->expose_types;
    for (int k = 0; k < KIND_COUNT; ++k)
        if (both & (1u << k)) {
            tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "block: cannot hide and expose site type \"%s\"",
                         kind_names[k]);
            return false;
        }
    return true;
}

static bool init_from_lists(tre_ctx *ctx, block_state *st, const tre_block_opts *o) {
    if (!copy_names(ctx, "hide", o->hide, o->n_hide, &st->hide) ||
        !copy_names(ctx, "expose", o->expose, o->n_expose, &st->expose) ||
        !parse_types(ctx, "hide_types", o->hide_types, o->n_hide_types, &st->hide_types) ||
        !parse_types(ctx, "expose_types", o->expose_types, o->n_expose_types, &st->expose_types))
        return false;
    /* Pyro's precedence: each list given overrides the hide-all default, later ones winning */
    st->hide_all = true;
    if (o->hide) st->hide_all = false;
    if (o->expose) st->hide_all = true;
    if (o->hide_types) st->hide_all = false;
    if (o->expose_types) st->hide_all = true;
    return check_disjoint(ctx, st);
}

tre_messenger *tre_block_handler(tre_ctx *ctx, const tre_block_opts *opts) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    tre_messenger *m = tre_messenger_new(ctx, "block", sizeof(block_state));
    if (!m) return NULL;
    block_state *st = m->state;
    if (!opts) {
        st->hide_all = true;
    } else if (opts->hide_fn) {
        /* as in Pyro, a predicate makes every list irrelevant */
        st->hide_fn = opts->hide_fn;
        st->hide_fn_user = opts->hide_fn_user;
    } else if (!init_from_lists(ctx, st, opts)) {
        return NULL;
    }
    m->process = block_process;
    return m;
}
