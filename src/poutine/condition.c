/* condition handler: sample sites named in its data take that value and become observed, as if
 * the model had passed it as obs (Pyro's ConditionMessenger, SPEC.md section 4). A plate's index
 * site is a sample site in Pyro, so it can be conditioned too: its value (int32 indices) is
 * the plate's minibatch. */
#include "poutine_impl.h"

static tre_status condition_process(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    if (msg->type != TRE_SITE_SAMPLE && msg->type != TRE_SITE_SUBSAMPLE) return TRE_OK;
    tre_tensor *v = tre_dict_get(self->state, msg->name);
    if (!v) return TRE_OK;
    /* caught here, the error names the site instead of surfacing later inside a log_prob (the
     * plate checks an index site's shape) */
    const tre_dtype want = msg->type == TRE_SITE_SAMPLE ? TRE_F32 : TRE_I32;
    if (v->dtype != want)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "condition: value for %s site \"%s\" must be %s",
                            tre_site_type_name(msg->type), msg->name,
                            want == TRE_F32 ? "float32" : "int32 (a plate's indices)");
    /* like Pyro, this also overrides an observation or a value set by an inner handler */
    msg->value = v;
    msg->is_observed = true;
    return TRE_OK;
}

tre_messenger *tre_condition_handler(tre_ctx *ctx, const tre_dict *data) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!data) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "condition: argument data is NULL");
        return NULL;
    }
    tre_messenger *m = tre_messenger_new(ctx, "condition", 0);
    if (!m) return NULL;
    m->state = (void *)data; /* only read */
    m->process = condition_process;
    return m;
}
