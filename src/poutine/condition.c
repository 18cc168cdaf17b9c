/* condition handler: sample sites named in its data take that value and become observed, as if
 * the model had passed it as obs (Pyro's ConditionMessenger, SPEC.md section 4). */
#include "poutine_impl.h"

static tre_status condition_process(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    if (msg->type != TRE_SITE_SAMPLE) return TRE_OK;
    tre_tensor *v = tre_dict_get(self->state, msg->name);
    if (!v) return TRE_OK;
    /* caught here, the error names the site instead of surfacing later inside a log_prob */
    if (v->dtype != TRE_F32)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "condition: value for site \"%s\" must be float32", msg->name);
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
