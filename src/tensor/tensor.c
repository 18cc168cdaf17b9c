/* Tensor construction: step-scoped tensors in the arenas, persistent ones on the context's list. */
#include <stdlib.h>
#include <string.h>
#include "ops_backward.h"

struct tre_ptensor {
    tre_tensor t;   /* first member: a tre_tensor* of a persistent tensor is its tre_ptensor* */
    tre_ptensor *prev, *next;
    const tre_ctx *owner; /* whose list it is on, and whose backend holds its data */
};

static bool check_shape(tre_ctx *ctx, const char *what, int64_t particles, int ndim,
                        const int64_t *shape) {
    if (particles < 1)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: particles must be >= 1", what), false;
    if (ndim < 0 || ndim > TRE_MAX_DIMS || (ndim > 0 && !shape))
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: ndim must be in 0..%d", what,
                            TRE_MAX_DIMS), false;
    for (int i = 0; i < ndim; ++i)
        if (shape[i] < 0)
            return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: negative size in dim %d", what, i),
                   false;
    /* particles times the sizes, without overflowing (tre_shape_numel saturates; a size 0
     * makes the tensor empty, whatever the others) */
    const int64_t numel = tre_shape_numel(ndim, shape);
    if (numel > 0 && (particles > TRE_MAX_ELEMENTS || numel > TRE_MAX_ELEMENTS / particles)) {
        char s[96];
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "%s: %lld particles of shape %s are more than 2^60 elements", what,
                            (long long)particles, tre_shape_str(s, sizeof s, ndim, shape)),
               false;
    }
    return true;
}

static void set_shape(tre_tensor *t, tre_dtype dtype, int64_t particles, int ndim,
                      const int64_t *shape) {
    t->dtype = dtype;
    t->particles = particles;
    t->ndim = ndim;
    for (int i = 0; i < ndim; ++i) t->shape[i] = shape[i];
    t->numel = tre_shape_numel(ndim, shape);
}

tre_tensor *tre_tensor_new(tre_ctx *ctx, tre_dtype dtype, int64_t particles, int ndim,
                           const int64_t *shape) {
    if (!tre_ok(ctx) || !check_shape(ctx, "tensor", particles, ndim, shape)) return NULL;
    tre_tensor *t = tre_step_alloc(ctx, sizeof *t);
    if (!t) return NULL;
    set_shape(t, dtype, particles, ndim, shape);
    if (ctx->step_sig_on) {
        const int64_t key[3] = {dtype, particles, ndim};
        tre_step_sig_mix(ctx, key, sizeof key);
        tre_step_sig_mix(ctx, shape, (size_t)ndim * sizeof *shape);
    }
    t->data = tre_step_data(ctx, (size_t)(particles * t->numel) * 4);
    return t->data ? t : NULL;
}

tre_tensor *tre_tensor_reshape_view(tre_ctx *ctx, const tre_tensor *t, int ndim,
                                    const int64_t *shape) {
    if (!tre_ok(ctx)) return NULL;
    if (tre_shape_numel(ndim, shape) != t->numel) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "reshape: element count differs");
        return NULL;
    }
    tre_tensor *v = tre_step_alloc(ctx, sizeof *v);
    if (!v) return NULL;
    set_shape(v, t->dtype, t->particles, ndim, shape);
    v->data = t->data;
    if (tre_grad_wanted(ctx, 1, &t)) tre_grad_record(ctx, v, "view", tre_view_backward, 1, &t);
    return v;
}

/* A persistent tensor on the context's list (uninitialized data); NULL with the error set,
 * which names `what`. */
static tre_ptensor *ptensor_new(tre_ctx *ctx, const char *what, tre_dtype dtype, int64_t particles,
                                int ndim, const int64_t *shape) {
    tre_ptensor *p = calloc(1, sizeof *p);
    if (!p) {
        tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "%s: out of host memory", what);
        return NULL;
    }
    set_shape(&p->t, dtype, particles, ndim, shape);
    p->t.persistent = true;
    const size_t bytes = (size_t)(particles * p->t.numel) * 4;
    p->t.data = ctx->be->alloc(ctx->be->impl, bytes);
    if (!p->t.data) {
        free(p);
        tre_backend_alloc_failed(ctx, what, bytes);
        return NULL;
    }
    p->owner = ctx;
    p->next = ctx->persistent;
    if (p->next) p->next->prev = p;
    ctx->persistent = p;
    return p;
}

/* Whether float data coming in from the host is free of NaN: validation then skips its NaN
 * pass over the tensor every step (tensor.h: data changes only through tre_tensor_write). */
static bool host_no_nan(tre_dtype dtype, const void *host, int64_t n) {
    if (dtype != TRE_F32) return false;
    const unsigned char *b = host; /* any alignment (a checkpoint's records are packed) */
    bool nan = false;
    for (int64_t i = 0; i < n; ++i) {
        float v;
        memcpy(&v, b + 4 * i, sizeof v);
        nan |= v != v;
    }
    return !nan;
}

static tre_status tensor_create(tre_ctx *ctx, tre_tensor **out, tre_dtype dtype, int64_t particles,
                                int ndim, const int64_t *shape, const void *host) {
    *out = NULL;
    if (dtype != TRE_F32 && dtype != TRE_I32)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_tensor_create: unknown dtype");
    if (!check_shape(ctx, "tre_tensor_create", particles, ndim, shape)) return ctx->status;
    tre_ptensor *p = ptensor_new(ctx, "tre_tensor_create", dtype, particles, ndim, shape);
    if (!p) return ctx->status;
    size_t bytes = (size_t)(particles * p->t.numel) * 4;
    int rc = host ? ctx->be->upload(ctx->be->impl, p->t.data, host, bytes)
                  : ctx->be->fill(ctx->be->impl, p->t.data, 0.f, particles * p->t.numel);
    if (rc) {
        tre_tensor_destroy(ctx, &p->t);
        return tre_backend_check(ctx, rc, "upload");
    }
    /* zeros (no host data) are not marked: the library's own buffers made so (gradients,
     * moments) are then written in place */
    p->t.known_no_nan = host && host_no_nan(dtype, host, particles * p->t.numel);
    *out = &p->t;
    return TRE_OK;
}

tre_tensor *tre_tensor_persist_copy(tre_ctx *ctx, const tre_tensor *t) {
    tre_ptensor *p = ptensor_new(ctx, "copying a tensor", t->dtype, t->particles, t->ndim, t->shape);
    if (!p) return NULL;
    int rc = ctx->be->copy(ctx->be->impl, p->t.data, t->data, (size_t)(t->particles * t->numel) * 4);
    if (tre_backend_check(ctx, rc, "copy") != TRE_OK) {
        tre_tensor_destroy(ctx, &p->t);
        return NULL;
    }
    return &p->t;
}

void tre_tensor_destroy(tre_ctx *ctx, tre_tensor *t) {
    if (!ctx || !t || !t->persistent) return;
    tre_ptensor *p = (tre_ptensor *)t;
    if (p->owner != ctx) { /* another context's list and backend: freeing it here corrupts both */
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_tensor_destroy: the tensor belongs to another context");
        return;
    }
    if (p->prev) p->prev->next = p->next;
    else ctx->persistent = p->next;
    if (p->next) p->next->prev = p->prev;
    ctx->be->free(ctx->be->impl, p->t.data);
    free(p);
}

void tre_persistent_release_all(tre_ctx *ctx) {
    while (ctx->persistent) tre_tensor_destroy(ctx, &ctx->persistent->t);
}

static tre_status tensor_to_host(tre_ctx *ctx, const tre_tensor *t, void *host, int64_t capacity) {
    if (!t || !host)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_tensor_to_host: %s is NULL",
                            t ? "host" : "tensor");
    int64_t n = t->particles * t->numel;
    if (capacity < n)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "tre_tensor_to_host: capacity %lld < %lld elements",
                            (long long)capacity, (long long)n);
    int rc = ctx->be->sync(ctx->be->impl);
    if (!rc) rc = ctx->be->download(ctx->be->impl, host, t->data, (size_t)n * 4);
    return rc ? tre_backend_check(ctx, rc, "download") : TRE_OK;
}

static tre_status tensor_write(tre_ctx *ctx, tre_tensor *t, const void *host, int64_t count) {
    if (!t || !host)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_tensor_write: %s is NULL",
                            t ? "host" : "tensor");
    if (!t->persistent)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "tre_tensor_write: the tensor is step-scoped (made by an op); only "
                            "tensors from tre_tensor_create can be written");
    int64_t n = t->particles * t->numel;
    if (count != n)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "tre_tensor_write: count %lld differs from the tensor's %lld elements",
                            (long long)count, (long long)n);
    t->known_no_nan = false;
    const int rc = ctx->be->upload(ctx->be->impl, t->data, host, (size_t)n * 4);
    if (rc) return tre_backend_check(ctx, rc, "upload");
    t->known_no_nan = host_no_nan(t->dtype, host, n);
    return TRE_OK;
}

/* The public calls report their own outcome whatever error is pending (ctx.h). */
tre_status tre_tensor_create(tre_ctx *ctx, tre_tensor **out, tre_dtype dtype, int64_t particles,
                             int ndim, const int64_t *shape, const void *host) {
    if (!ctx || !out) return TRE_ERR_INVALID_ARG;
    tre_error_aside a;
    tre_error_set_aside(ctx, &a);
    return tre_error_put_back(ctx, &a, tensor_create(ctx, out, dtype, particles, ndim, shape, host));
}

tre_status tre_tensor_to_host(tre_ctx *ctx, const tre_tensor *t, void *host, int64_t capacity) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    tre_error_aside a;
    tre_error_set_aside(ctx, &a);
    return tre_error_put_back(ctx, &a, tensor_to_host(ctx, t, host, capacity));
}

tre_status tre_tensor_write(tre_ctx *ctx, tre_tensor *t, const void *host, int64_t count) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    tre_error_aside a;
    tre_error_set_aside(ctx, &a);
    return tre_error_put_back(ctx, &a, tensor_write(ctx, t, host, count));
}

tre_tensor *tre_full(tre_ctx *ctx, int ndim, const int64_t *shape, float v) {
    if (!ctx || !tre_ok(ctx) || !check_shape(ctx, "tre_full", 1, ndim, shape)) return NULL;
    tre_tensor *t = tre_tensor_new(ctx, TRE_F32, 1, ndim, shape);
    if (!t) return NULL;
    tre_step_sig_mix(ctx, &v, sizeof v); /* a host constant: a graph would freeze it */
    tre_backend_check(ctx, ctx->be->fill(ctx->be->impl, t->data, v, t->numel), "fill");
    t->known_no_nan = v == v; /* validation needs no pass to know it */
    return tre_ok(ctx) ? t : NULL;
}

tre_tensor *tre_scalar(tre_ctx *ctx, float v) { return tre_full(ctx, 0, NULL, v); }

tre_tensor *tre_from_host(tre_ctx *ctx, int64_t particles, int ndim, const int64_t *shape,
                          const float *host) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!host) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_from_host: host is NULL");
        return NULL;
    }
    if (!check_shape(ctx, "tre_from_host", particles, ndim, shape)) return NULL;
    tre_tensor *t = tre_tensor_new(ctx, TRE_F32, particles, ndim, shape);
    if (!t) return NULL;
    tre_step_sig_mix(ctx, host, (size_t)(particles * t->numel) * sizeof *host);
    tre_backend_check(ctx,
                      ctx->be->upload(ctx->be->impl, t->data, host,
                                      (size_t)(particles * t->numel) * 4),
                      "upload");
    return tre_ok(ctx) ? t : NULL;
}
