/* scale handler: multiplies the scale of every message passing through it (Pyro's
 * ScaleMessenger), so nested scales and plates multiply (SPEC.md section 4). */
#include <math.h>
#include "poutine_impl.h"

static tre_status scale_process(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    (void)ctx;
    msg->scale *= *(const double *)self->state;
    return TRE_OK;
}

tre_messenger *tre_scale_handler(tre_ctx *ctx, double s) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    /* NaN fails the comparison too; an infinite factor would turn every log_prob into +-inf/NaN */
    if (!(s > 0.0) || !isfinite(s)) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "scale: argument s must be finite and > 0, got %g",
                     s);
        return NULL;
    }
    tre_messenger *m = tre_messenger_new(ctx, "scale", sizeof(double));
    if (!m) return NULL;
    *(double *)m->state = s;
    m->process = scale_process;
    return m;
}
