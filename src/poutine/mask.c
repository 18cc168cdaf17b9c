/* mask handler: ANDs its mask (a float tensor, nonzero = keep) into every message's mask, as
 * Pyro's MaskMessenger does (SPEC.md section 4). A message without a mask takes the handler's
 * tensor as is; one that already has a mask gets a new 0/1 tensor, broadcast over both. */
#include "poutine_impl.h"

typedef struct mask_state {
    const tre_tensor *mask;
    const tre_tensor *mask01;  /* the same mask as exact 0/1 values, made on first use */
} mask_state;

/* (m != 0) as 1 or 0: the AND below multiplies by it, so it must not carry NaN or a magnitude */
static const tre_tensor *as_01(tre_ctx *ctx, const tre_tensor *m) {
    tre_tensor *one = tre_scalar(ctx, 1.f);
    return one ? tre_mask_scale(ctx, one, m, 1.0, 1, 0, NULL) : NULL;
}

static tre_status check_joinable(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b,
                                 const char *site) {
    int nd;
    int64_t shape[TRE_MAX_DIMS];
    char sa[96], sb[96];
    if (tre_shape_broadcast(a->ndim, a->shape, b->ndim, b->shape, &nd, shape) &&
        tre_particles_join(a->particles, b->particles) > 0)
        return TRE_OK;
    return tre_ctx_fail(ctx, TRE_ERR_SHAPE,
                        "mask: mask of shape %s (extent %lld) does not broadcast with the mask of "
                        "shape %s (extent %lld) already on site \"%s\"",
                        tre_shape_str(sa, sizeof sa, a->ndim, a->shape), (long long)a->particles,
                        tre_shape_str(sb, sizeof sb, b->ndim, b->shape), (long long)b->particles,
                        site);
}

static tre_status mask_process(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    mask_state *st = self->state;
    if (!msg->mask) {
        msg->mask = st->mask;
        return TRE_OK;
    }
    tre_status s = check_joinable(ctx, st->mask, msg->mask, msg->name);
    if (s != TRE_OK) return s;
    if (!st->mask01 && !(st->mask01 = as_01(ctx, st->mask))) return ctx->status;
    /* 0/1 of ours where the old mask keeps, 0 elsewhere: the AND, already 0/1 */
    const tre_tensor *both = tre_mask_scale(ctx, st->mask01, msg->mask, 1.0, 1, 0, NULL);
    if (!both) {
        tre_ctx_name_site(ctx, msg->name);
        return ctx->status;
    }
    msg->mask = both;
    return TRE_OK;
}

tre_messenger *tre_mask_handler(tre_ctx *ctx, const tre_tensor *mask) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!mask || mask->dtype != TRE_F32) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "mask: argument mask %s",
                     mask ? "must be a float32 tensor (nonzero = keep)" : "is NULL");
        return NULL;
    }
    tre_messenger *m = tre_messenger_new(ctx, "mask", sizeof(mask_state));
    if (!m) return NULL;
    ((mask_state *)m->state)->mask = mask;
    m->process = mask_process;
    return m;
}
