/* replay handler: sample sites take their values (and infer) from a trace, param sites take
 * constrained values from a params map (Pyro's ReplayMessenger rules, SPEC.md section 4). */
#include "poutine_impl.h"

typedef struct replay_state {
    const tre_trace *trace;
    const tre_dict *params;
} replay_state;

static tre_status replay_process(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    const replay_state *st = self->state;
    if (msg->type == TRE_SITE_PARAM) {
        tre_tensor *v = tre_dict_get(st->params, msg->name);
        if (!v) return TRE_OK;
        if (!v->param)
            return tre_ctx_fail(ctx, TRE_ERR_REPLAY,
                                "replay: params value for site \"%s\" is not a constrained param "
                                "value (it has no unconstrained tensor)",
                                msg->name);
        msg->value = v;
        msg->done = true;
        return TRE_OK;
    }
    if (msg->type == TRE_SITE_DETERMINISTIC) return TRE_OK; /* a value of its own program */
    const tre_trace_node *node = tre_trace_get(st->trace, msg->name);
    if (!node) return TRE_OK;          /* missing from the trace: samples from its own fn */
    if (msg->is_observed) return TRE_OK; /* the observation wins */
    if (node->msg.type != msg->type || node->msg.is_observed)
        return tre_ctx_fail(ctx, TRE_ERR_REPLAY, "site \"%s\" must be sampled in trace", msg->name);
    msg->done = true;
    msg->value = node->msg.value;
    msg->infer = node->msg.infer;
    return TRE_OK;
}

tre_messenger *tre_replay_handler(tre_ctx *ctx, const tre_trace *trace, const tre_dict *params) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!trace && !params) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "replay: needs a trace or params (both are NULL)");
        return NULL;
    }
    tre_messenger *m = tre_messenger_new(ctx, "replay", sizeof(replay_state));
    if (!m) return NULL;
    replay_state *st = m->state;
    st->trace = trace;
    st->params = params;
    m->process = replay_process;
    return m;
}
