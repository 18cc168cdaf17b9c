/* substitute handler: param sites named in its data take that value instead of the store's,
 * and the store is neither read nor created (Pyro's SubstituteMessenger, SPEC.md section 4).
 * Sample sites are left alone. With validation on, leaving the handler warns when some names in
 * data matched no param site, as Pyro does: such a name is usually a typo. */
#include "poutine_impl.h"

typedef struct substitute_state {
    const tre_dict *data;
    tre_strmap hits;  /* names of data that matched a param site since the last enter */
} substitute_state;

static tre_status substitute_process(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    substitute_state *st = self->state;
    if (msg->type != TRE_SITE_PARAM) return TRE_OK;
    tre_tensor *v = tre_dict_get(st->data, msg->name);
    if (!v) return TRE_OK;
    if (v->dtype != TRE_F32)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "substitute: value for param site \"%s\" must be float32", msg->name);
    if (ctx->validate && !tre_strmap_put(&st->hits, msg->name, v))
        return tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "substitute: out of memory");
    msg->value = v;
    msg->done = true; /* the default action must not touch the store */
    return TRE_OK;
}

static tre_status substitute_enter(tre_ctx *ctx, tre_messenger *self) {
    substitute_state *st = self->state;
    /* the map lives in the step arena: dropping it is enough */
    tre_strmap_init(&st->hits, tre_step_alloc_cb, NULL, ctx);
    return TRE_OK;
}

static void substitute_exit(tre_ctx *ctx, tre_messenger *self) {
    const substitute_state *st = self->state;
    int64_t size = tre_dict_size(st->data);
    /* after an error the run stopped early: unmatched names say nothing then */
    if (!ctx->validate || !tre_ok(ctx) || st->hits.count >= size) return;
    tre_warn(ctx, "substitute: %lld of the %lld names in data matched no param site",
             (long long)(size - st->hits.count), (long long)size);
}

tre_messenger *tre_substitute_handler(tre_ctx *ctx, const tre_dict *data) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!data) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "substitute: argument data is NULL");
        return NULL;
    }
    tre_messenger *m = tre_messenger_new(ctx, "substitute", sizeof(substitute_state));
    if (!m) return NULL;
    substitute_state *st = m->state;
    st->data = data;
    m->process = substitute_process;
    m->enter = substitute_enter;
    m->exit = substitute_exit;
    return m;
}
