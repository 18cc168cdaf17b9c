/* trace handler: records a copy of every message reaching its postprocess, plus the program's
 * input and return value. */
#include "poutine_impl.h"

static tre_status trace_postprocess(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    return tre_trace_add(ctx, self->state, msg);
}

static void trace_on_return(tre_ctx *ctx, tre_messenger *self, const void *args, tre_tensor *ret) {
    (void)ctx;
    tre_trace_set_io(self->state, args, ret);
}

tre_messenger *tre_trace_handler(tre_ctx *ctx) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    tre_messenger *m = tre_messenger_new(ctx, "trace", 0);
    if (!m || !(m->state = tre_trace_new(ctx))) return NULL;
    m->postprocess = trace_postprocess;
    m->on_return = trace_on_return;
    return m;
}

tre_trace *tre_trace_handler_trace(tre_messenger *m) {
    return m && m->postprocess == trace_postprocess ? m->state : NULL;
}
