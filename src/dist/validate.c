/* Validation of distribution parameters and values (on by default, off with
 * tre_ctx_opts.no_validation): one backend pass per check, a count read back, and an error that
 * names the distribution and the parameter (the caller adds the site). */
#include "dist_impl.h"

int64_t tre_count_invalid(tre_ctx *ctx, tre_kcheck check, const tre_tensor *x, const tre_tensor *a,
                          const tre_tensor *b, float ca) {
    if (!tre_ok(ctx)) return -1;
    /* the kernel that wrote x already looked for NaNs (no bounds: the shape is x's own) */
    if (check == TRE_CHECK_NOT_NAN && x->known_no_nan && !a && !b) return 0;
    int64_t p = x->particles, shape[TRE_MAX_DIMS];
    int nd = x->ndim;
    for (int i = 0; i < nd; ++i) shape[i] = x->shape[i];
    const tre_tensor *bounds[2] = {a, b};
    for (int k = 0; k < 2; ++k) {
        const tre_tensor *t = bounds[k];
        if (!t) continue;
        if (!tre_shape_broadcast(nd, shape, t->ndim, t->shape, &nd, shape) ||
            (p = tre_particles_join(p, t->particles)) < 0) {
            tre_ctx_fail(ctx, TRE_ERR_SHAPE, "validation: bounds do not broadcast with the value");
            return -1;
        }
    }
    tre_tensor out = {.particles = p, .ndim = nd, .numel = tre_shape_numel(nd, shape)};
    for (int i = 0; i < nd; ++i) out.shape[i] = shape[i];
    const tre_tensor *args[3] = {x, a, b};
    tre_kshape ks;
    tre_karg ka[3];
    tre_kernel_layout(&out, 3, args, &ks, ka);
    int64_t count = 0;
    if (tre_backend_check(ctx, ctx->be->validate(ctx->be->impl, check, &ks, &ka[0], &ka[1], &ka[2], ca, &count),
                          "validate") != TRE_OK)
        return -1;
    return count;
}

static const tre_tensor *bound(const tre_dist *d, int i) { return i >= 0 ? d->params[i] : NULL; }

/* what: "parameter <param>" for param >= 0, else "value" (formatted only for an error: a step
 * validates every distribution's parameters) */
static tre_status check_one(tre_ctx *ctx, const tre_dist *d, const tre_dist_check *c,
                            const tre_tensor *x, int param) {
    if (!c->on) return TRE_OK;
    int64_t bad = tre_count_invalid(ctx, c->check, x, bound(d, c->a), bound(d, c->b), c->ca);
    if (bad < 0) return ctx->status;
    if (bad == 0) return TRE_OK;
    return tre_ctx_fail(ctx, TRE_ERR_DIST, "%s %s%s must be %s (%lld of %lld values are not)",
                        d->family->name, param >= 0 ? "parameter " : "value",
                        param >= 0 ? d->family->param_names[param] : "", c->text, (long long)bad,
                        (long long)(x->particles * x->numel));
}

tre_status tre_dist_validate_params(tre_ctx *ctx, const tre_dist *d) {
    if (!tre_ok(ctx)) return ctx->status;
    for (int i = 0; i < d->family->nparams; ++i)
        if (check_one(ctx, d, &d->family->param_checks[i], d->params[i], i) != TRE_OK)
            return ctx->status;
    return d->family->validate ? d->family->validate(ctx, d) : TRE_OK;
}

tre_status tre_dist_validate_value(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value) {
    if (!tre_ok(ctx)) return ctx->status;
    if (!d || !value || value->dtype != TRE_F32)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "value must be a float32 tensor");
    if (d->family->validate_value) return d->family->validate_value(ctx, d, value);
    return check_one(ctx, d, &d->family->support, value, -1);
}
