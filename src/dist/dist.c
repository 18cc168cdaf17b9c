/* The generic distribution object: construction, to_event, expand, log_prob and sampling
 * through the backend's elementwise kernels. */
#include <string.h>
#include "dist_impl.h"
#include "../tensor/autograd.h"

/* After a constructor's error (the distribution is not built): the next tre_sample names its
 * site in the message. */
static tre_dist *constructor_failed(tre_ctx *ctx) {
    ctx->error_needs_site = true;
    return NULL;
}

tre_dist *tre_dist_new(tre_ctx *ctx, const tre_dist_family *family, const tre_tensor *const *params) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    tre_dist *d = tre_step_alloc(ctx, sizeof *d);
    if (!d) return NULL;
    d->family = family;
    int64_t p = 1;
    for (int i = 0; i < family->nparams; ++i) {
        const tre_tensor *t = params[i];
        if (!t || t->dtype != TRE_F32) {
            tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: parameter %s is %s", family->name,
                         family->param_names[i], t ? "not float32" : "NULL");
            return constructor_failed(ctx);
        }
        p = tre_particles_join(p, t->particles);
        if (p < 0) {
            tre_ctx_fail(ctx, TRE_ERR_SHAPE, "%s: parameter %s has particle extent %lld, unlike the others",
                         family->name, family->param_names[i], (long long)t->particles);
            return constructor_failed(ctx);
        }
        d->params[i] = t;
    }
    if (family->shapes) {
        if (family->shapes(ctx, d) != TRE_OK) {
            return constructor_failed(ctx);
        }
        return d;
    }
    for (int i = 0; i < family->nparams; ++i) {
        const tre_tensor *t = params[i];
        char s1[96], s2[96];
        if (!tre_shape_broadcast(d->batch_ndim, d->batch_shape, t->ndim, t->shape, &d->batch_ndim,
                                 d->batch_shape)) {
            tre_ctx_fail(ctx, TRE_ERR_SHAPE, "%s: parameter %s of shape %s does not broadcast with %s",
                         family->name, family->param_names[i],
                         tre_shape_str(s1, sizeof s1, t->ndim, t->shape),
                         tre_shape_str(s2, sizeof s2, d->batch_ndim, d->batch_shape));
            return constructor_failed(ctx);
        }
    }
    return d;
}

int64_t tre_dist_particles(const tre_dist *d) {
    int64_t p = 1;
    for (int i = 0; i < d->family->nparams; ++i) p = tre_particles_join(p, d->params[i]->particles);
    return p;
}

tre_dist *tre_dist_to_event(tre_ctx *ctx, const tre_dist *d, int n) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!d) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "to_event: distribution is NULL");
        return constructor_failed(ctx);
    }
    if (n < 0 || n > d->batch_ndim) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "to_event(%d): %s has only %d batch dims", n,
                     d->family->name, d->batch_ndim);
        return constructor_failed(ctx);
    }
    tre_dist *e = tre_step_alloc(ctx, sizeof *e);
    if (!e) return NULL;
    *e = *d;
    e->batch_ndim = d->batch_ndim - n;
    e->event_ndim = d->event_ndim + n;
    memcpy(e->event_shape, d->batch_shape + e->batch_ndim, (size_t)n * sizeof(int64_t));
    memcpy(e->event_shape + n, d->event_shape, (size_t)d->event_ndim * sizeof(int64_t));
    return e;
}

tre_dist *tre_dist_expand(tre_ctx *ctx, const tre_dist *d, int ndim, const int64_t *shape) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!d || (ndim > 0 && !shape) || ndim < 0 || ndim + d->event_ndim > TRE_MAX_DIMS) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "expand: bad arguments");
        return constructor_failed(ctx);
    }
    char s1[96], s2[96];
    for (int i = 0; i < ndim; ++i)
        if (shape[i] < 0) {
            tre_ctx_fail(ctx, TRE_ERR_SHAPE, "expand: %s to %s: sizes must be >= 0", d->family->name,
                         tre_shape_str(s2, sizeof s2, ndim, shape));
            return constructor_failed(ctx);
        }
    int bnd;
    int64_t b[TRE_MAX_DIMS];
    if (!tre_shape_broadcast(d->batch_ndim, d->batch_shape, ndim, shape, &bnd, b) ||
        !tre_shape_equal(bnd, b, ndim, shape)) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "expand: %s batch shape %s cannot expand to %s",
                     d->family->name, tre_shape_str(s1, sizeof s1, d->batch_ndim, d->batch_shape),
                     tre_shape_str(s2, sizeof s2, ndim, shape));
        return constructor_failed(ctx);
    }
    tre_dist *e = tre_step_alloc(ctx, sizeof *e);
    if (!e) return NULL;
    *e = *d;
    e->batch_ndim = ndim;
    memcpy(e->batch_shape, shape, (size_t)ndim * sizeof(int64_t));
    return e;
}

const char *tre_dist_name(const tre_dist *d) { return d ? d->family->name : "(null)"; }
bool tre_dist_has_rsample(const tre_dist *d) {
    return d && (d->rsample ? d->rsample > 0 : d->family->has_rsample);
}

tre_dist *tre_dist_with_rsample(tre_ctx *ctx, const tre_dist *d, bool has_rsample) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!d) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "has_rsample: distribution is NULL");
        return constructor_failed(ctx);
    }
    if (has_rsample && !d->family->has_rsample && !d->family->rsample_optional) {
        tre_ctx_fail(ctx, TRE_ERR_UNSUPPORTED, "has_rsample(true): %s has no reparameterized sampler",
                     d->family->name);
        return constructor_failed(ctx);
    }
    tre_dist *e = tre_step_alloc(ctx, sizeof *e);
    if (!e) return NULL;
    *e = *d;
    e->rsample = has_rsample ? 1 : -1;
    return e;
}
int tre_dist_batch_shape(const tre_dist *d, int64_t *shape) {
    if (!d) return 0;
    if (shape) memcpy(shape, d->batch_shape, (size_t)d->batch_ndim * sizeof(int64_t));
    return d->batch_ndim;
}
int tre_dist_event_shape(const tre_dist *d, int64_t *shape) {
    if (!d) return 0;
    if (shape) memcpy(shape, d->event_shape, (size_t)d->event_ndim * sizeof(int64_t));
    return d->event_ndim;
}

int tre_dist_full_shape(const tre_dist *d, int64_t *shape) {
    memcpy(shape, d->batch_shape, (size_t)d->batch_ndim * sizeof(int64_t));
    memcpy(shape + d->batch_ndim, d->event_shape, (size_t)d->event_ndim * sizeof(int64_t));
    return d->batch_ndim + d->event_ndim;
}

/* Shape (and particle extent) of the elementwise log-densities of value under d, before the
 * event dims are summed: batch + event shape broadcast with value's shape. */
static bool log_prob_shape(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value, int64_t *p,
                           int *ond, int64_t *oshape) {
    if (!d || !value || value->dtype != TRE_F32) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "log_prob: %s", !d ? "distribution is NULL"
                                                   : !value ? "value is NULL"
                                                            : "value must be float32");
        return false;
    }
    int64_t fshape[TRE_MAX_DIMS];
    int fnd = tre_dist_full_shape(d, fshape);
    char s1[96], s2[96];
    *p = tre_particles_join(tre_dist_particles(d), value->particles);
    if (value->ndim < d->event_ndim ||
        !tre_shape_equal(d->event_ndim, value->shape + value->ndim - d->event_ndim, d->event_ndim,
                         d->event_shape) ||
        !tre_shape_broadcast(fnd, fshape, value->ndim, value->shape, ond, oshape) || *p < 0) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "log_prob: value of shape %s does not fit %s of shape %s%s",
                     tre_shape_str(s1, sizeof s1, value->ndim, value->shape), d->family->name,
                     tre_shape_str(s2, sizeof s2, fnd, fshape),
                     *p < 0 ? " (particle extents differ)" : "");
        return false;
    }
    return true;
}

/* The per-particle layout shared by the fused log-prob kernels: every argument (value,
 * params, mask, and the upstream gradient in backward) laid out over the per-particle shape of
 * the log-densities, with particle strides kept apart. */
typedef struct lp_layout {
    int64_t particles;
    tre_tensor inner;                          /* shape of one particle's log-densities */
    tre_kshape ks;
    tre_karg ka[TRE_KDIST_ARGS + 1];           /* value, params, mask, g */
    int64_t pstride[TRE_KDIST_ARGS + 1];
} lp_layout;

static bool build_lp_layout(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                            const tre_tensor *mask, const tre_tensor *g, lp_layout *L) {
    int64_t p, oshape[TRE_MAX_DIMS];
    int ond;
    if (!log_prob_shape(ctx, d, value, &p, &ond, oshape)) return false;
    tre_tensor fake[TRE_KDIST_ARGS + 1];
    const tre_tensor *args[TRE_KDIST_ARGS + 1] = {NULL};
    const tre_tensor *src[TRE_KDIST_ARGS + 1] = {value};
    for (int i = 0; i < d->family->nparams; ++i) src[1 + i] = d->params[i];
    src[TRE_KDIST_ARGS - 1] = mask;
    src[TRE_KDIST_ARGS] = g;
    for (int a = 0; a <= TRE_KDIST_ARGS; ++a) {
        L->pstride[a] = 0;
        if (!src[a]) continue;
        fake[a] = *src[a];
        fake[a].particles = 1;
        L->pstride[a] = src[a]->particles == 1 ? 0 : src[a]->numel;
        args[a] = &fake[a];
    }
    if (mask) {
        /* the mask covers batch dims: pad it with the event dims on the right; like Pyro's
         * log_prob * mask it may broadcast the log-densities to a larger batch shape */
        tre_tensor *m = &fake[TRE_KDIST_ARGS - 1];
        char s1[96], s2[96];
        bool fits = mask->ndim + d->event_ndim <= TRE_MAX_DIMS;
        for (int i = 0; fits && i < d->event_ndim; ++i) m->shape[mask->ndim + i] = 1;
        m->ndim = mask->ndim + d->event_ndim;
        if (!fits || !tre_shape_broadcast(ond, oshape, m->ndim, m->shape, &ond, oshape) ||
            (p = tre_particles_join(p, mask->particles)) < 0) {
            tre_ctx_fail(ctx, TRE_ERR_SHAPE, "mask of shape %s does not broadcast to log_prob shape %s",
                         tre_shape_str(s1, sizeof s1, mask->ndim, mask->shape),
                         tre_shape_str(s2, sizeof s2, ond - d->event_ndim, oshape));
            return false;
        }
    }
    if (g) p = tre_particles_join(p, g->particles);
    L->particles = p;
    L->inner = (tre_tensor){.particles = 1, .ndim = ond, .numel = tre_shape_numel(ond, oshape)};
    for (int i = 0; i < ond; ++i) L->inner.shape[i] = oshape[i];
    tre_kernel_layout(&L->inner, TRE_KDIST_ARGS + 1, args, &L->ks, L->ka);
    return true;
}

/* Gradients of sum(scale * mask * g * log p(value)) w.r.t. the value and parameters that
 * require them; g broadcasts over the per-particle log-densities (a [P] upstream of a fused
 * sum, or an elementwise upstream of a materialized log_prob). */
static void lp_backward(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                        const tre_tensor *mask, double scale, const tre_tensor *g) {
    lp_layout L;
    if (!build_lp_layout(ctx, d, value, mask, g, &L)) return;
    const tre_tensor *targets[1 + TRE_KDIST_MAX_PARAMS] = {value};
    for (int i = 0; i < d->family->nparams; ++i) targets[1 + i] = d->params[i];
    /* one number per particle (a loc or scale broadcast over the data): summed in the kernel;
     * anything else: the full-shape gradient, summed down to the target by accumulate */
    tre_tensor *full[1 + TRE_KDIST_MAX_PARAMS] = {NULL}, *sums[1 + TRE_KDIST_MAX_PARAMS] = {NULL};
    float *fdata[1 + TRE_KDIST_MAX_PARAMS] = {NULL}, *sdata[1 + TRE_KDIST_MAX_PARAMS] = {NULL};
    bool any_full = false, any_sum = false;
    for (int a = 0; a <= d->family->nparams; ++a) {
        if (!targets[a]->requires_grad) continue;
        bool sum = targets[a]->numel == 1 && ctx->be->log_prob_backward_sum;
        tre_tensor *t = sum ? tre_tensor_new(ctx, TRE_F32, L.particles, 0, NULL)
                            : tre_tensor_new(ctx, TRE_F32, L.particles, L.inner.ndim, L.inner.shape);
        if (!t) return;
        if (sum) sums[a] = t, sdata[a] = t->data, any_sum = true;
        else full[a] = t, fdata[a] = t->data, any_full = true;
    }
    if (any_full &&
        tre_backend_check(ctx,
                          ctx->be->log_prob_backward(ctx->be->impl, d->family->kernel, L.particles,
                                                     &L.ks, L.ka, L.pstride, &L.ka[TRE_KDIST_ARGS],
                                                     L.pstride[TRE_KDIST_ARGS], (float)scale, fdata),
                          "log_prob backward") != TRE_OK)
        return;
    if (any_sum &&
        tre_backend_check(ctx,
                          ctx->be->log_prob_backward_sum(ctx->be->impl, d->family->kernel, L.particles,
                                                         &L.ks, L.ka, L.pstride, &L.ka[TRE_KDIST_ARGS],
                                                         L.pstride[TRE_KDIST_ARGS], (float)scale, sdata),
                          "log_prob backward sum") != TRE_OK)
        return;
    for (int a = 0; a <= d->family->nparams; ++a) {
        if (full[a]) tre_grad_accumulate(ctx, targets[a], full[a]);
        if (sums[a]) tre_grad_accumulate(ctx, targets[a], tre_tensor_reshape_view(ctx, sums[a], targets[a]->ndim, targets[a]->shape));
    }
}

static void log_prob_sum_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    lp_backward(ctx, n->extra, n->in[0], n->saved[0], n->scalar, g);
}

static void log_prob_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    lp_backward(ctx, n->extra, n->in[0], NULL, 1.0, g);
}

static void rsample_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_dist *d = n->extra;
    const tre_tensor *x = n->out;
    tre_tensor *grads[TRE_KDIST_MAX_PARAMS] = {NULL};
    float *gdata[TRE_KDIST_MAX_PARAMS] = {NULL};
    for (int i = 0; i < d->family->nparams; ++i) {
        if (!d->params[i]->requires_grad) continue;
        grads[i] = tre_tensor_new(ctx, TRE_F32, x->particles, x->ndim, x->shape);
        if (!grads[i]) return;
        gdata[i] = grads[i]->data;
    }
    tre_kshape ks;
    tre_karg ka[TRE_KDIST_MAX_PARAMS];
    tre_kernel_layout(x, d->family->nparams, d->params, &ks, ka);
    if (tre_backend_check(ctx, ctx->be->rsample_backward(ctx->be->impl, d->family->kernel, &ks, x->data,
                                                         ka, g->data, gdata),
                          "rsample backward") != TRE_OK)
        return;
    for (int i = 0; i < d->family->nparams; ++i)
        if (grads[i]) tre_grad_accumulate(ctx, d->params[i], grads[i]);
}

/* Records a log-prob or sample node whose inputs are (value,) params. */
static void record(tre_ctx *ctx, tre_tensor *out, const char *name, tre_backward_fn fn,
                   const tre_dist *d, const tre_tensor *value, const tre_tensor *mask, double scale) {
    const tre_tensor *in[1 + TRE_KDIST_MAX_PARAMS];
    int nin = 0;
    if (value) in[nin++] = value;
    for (int i = 0; i < d->family->nparams; ++i) in[nin++] = d->params[i];
    if (!tre_grad_wanted(ctx, nin, in)) return;
    tre_grad_node *n = tre_grad_record(ctx, out, name, fn, nin, in);
    if (!n) return;
    n->extra = d;
    n->saved[0] = mask;
    n->scalar = scale;
}

tre_tensor *tre_dist_log_prob(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    int64_t p, oshape[TRE_MAX_DIMS];
    int ond;
    if (!log_prob_shape(ctx, d, value, &p, &ond, oshape)) return NULL;
    const int reinterpreted = d->event_ndim - d->family->base_event_ndim;
    if (d->family->log_prob) {
        tre_tensor *lp = d->family->log_prob(ctx, d, value);
        return lp && reinterpreted ? tre_sum_trailing(ctx, lp, reinterpreted) : lp;
    }
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, p, ond, oshape);
    if (!out) return NULL;
    const tre_tensor *args[1 + TRE_KDIST_MAX_PARAMS] = {value};
    for (int i = 0; i < d->family->nparams; ++i) args[1 + i] = d->params[i];
    tre_kshape ks;
    tre_karg ka[1 + TRE_KDIST_MAX_PARAMS];
    tre_kernel_layout(out, 1 + d->family->nparams, args, &ks, ka);
    tre_backend_check(ctx, ctx->be->log_prob(ctx->be->impl, d->family->kernel, &ks, out->data, &ka[0],
                                             &ka[1]),
                      "log_prob");
    if (tre_ok(ctx)) record(ctx, out, "log_prob", log_prob_backward, d, value, NULL, 1.0);
    /* dims moved into the event are summed away (none: no copy) */
    if (!tre_ok(ctx)) return NULL;
    return reinterpreted ? tre_sum_trailing(ctx, out, reinterpreted) : out;
}

tre_tensor *tre_dist_log_prob_sum(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                                  const tre_tensor *mask, double scale) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (d->family->log_prob_sum) return d->family->log_prob_sum(ctx, d, value, mask, scale);
    return tre_dist_log_prob_sum_unfused(ctx, d, value, mask, scale);
}

tre_tensor *tre_dist_log_prob_sum_unfused(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                                          const tre_tensor *mask, double scale) {
    if (d->family->log_prob) { /* structured: materialize, then mask, scale and sum */
        tre_tensor *lp = tre_dist_log_prob(ctx, d, value);
        if (lp && (mask || scale != 1.0))
            lp = tre_mask_scale(ctx, lp, mask, scale, lp->particles, lp->ndim, lp->shape);
        return lp ? tre_sum(ctx, lp) : NULL;
    }
    lp_layout L;
    if (!build_lp_layout(ctx, d, value, mask, NULL, &L)) return NULL;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, L.particles, 0, NULL);
    if (!out) return NULL;
    tre_backend_check(ctx,
                      ctx->be->log_prob_sum(ctx->be->impl, d->family->kernel, L.particles, &L.ks,
                                            out->data, L.ka, L.pstride, (float)scale),
                      "log_prob_sum");
    if (tre_ok(ctx)) record(ctx, out, "log_prob_sum", log_prob_sum_backward, d, value, mask, scale);
    return tre_ok(ctx) ? out : NULL;
}

tre_tensor *tre_dist_sample(tre_ctx *ctx, const tre_dist *d, int64_t particles) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!d) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "sample: distribution is NULL");
        return NULL;
    }
    int64_t p = tre_particles_join(tre_dist_particles(d), particles);
    if (particles < 1 || p != particles) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "sample: %s parameters have particle extent %lld, not %lld",
                     d->family->name, (long long)tre_dist_particles(d), (long long)particles);
        return NULL;
    }
    if (d->family->sample) {
        /* a family's own sampler is pathwise when the family is; detached when asked */
        const bool was = ctx->grad_recording;
        if (d->rsample < 0) ctx->grad_recording = false;
        tre_tensor *draw = d->family->sample(ctx, d, particles);
        ctx->grad_recording = was;
        return draw;
    }
    int64_t shape[TRE_MAX_DIMS];
    int nd = tre_dist_full_shape(d, shape);
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, particles, nd, shape);
    if (!out) return NULL;
    tre_kshape ks;
    tre_karg ka[TRE_KDIST_MAX_PARAMS];
    tre_kernel_layout(out, d->family->nparams, d->params, &ks, ka);
    tre_backend_check(ctx, ctx->be->sample(ctx->be->impl, d->family->kernel, &ks, out->data, ka,
                                           ctx->seed, tre_rng_next_stream(ctx)),
                      "sample");
    if (tre_ok(ctx) && d->family->has_rsample && d->rsample >= 0)
        record(ctx, out, "rsample", rsample_backward, d, NULL, NULL, 1.0);
    return tre_ok(ctx) ? out : NULL;
}
