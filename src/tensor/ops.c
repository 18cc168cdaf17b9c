/* The op front-end: argument checks, broadcasting, result allocation, then one backend call.
 * (Every op is the place where the gradient tape will record itself.) */
#include "ops_backward.h"

bool tre_check_arg(tre_ctx *ctx, const char *op, const char *which, const tre_tensor *t) {
    if (!t) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: argument %s is NULL", op, which);
        return false;
    }
    if (t->dtype != TRE_F32) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: argument %s must be float32", op, which);
        return false;
    }
    return true;
}

/* Result extent and shape of broadcasting a with b; NULL-free; false with the error set. */
static bool join(tre_ctx *ctx, const char *op, const tre_tensor *a, const tre_tensor *b,
                 int64_t *particles, int *ndim, int64_t *shape) {
    char sa[96], sb[96];
    if (!tre_shape_broadcast(a->ndim, a->shape, b->ndim, b->shape, ndim, shape)) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "%s: shapes %s and %s do not broadcast", op,
                     tre_shape_str(sa, sizeof sa, a->ndim, a->shape),
                     tre_shape_str(sb, sizeof sb, b->ndim, b->shape));
        return false;
    }
    *particles = tre_particles_join(a->particles, b->particles);
    if (*particles < 0) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "%s: particle extents %lld and %lld differ", op,
                     (long long)a->particles, (long long)b->particles);
        return false;
    }
    return true;
}

static tre_tensor *binary(tre_ctx *ctx, tre_binop op, const char *name, const tre_tensor *a,
                          const tre_tensor *b) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!tre_check_arg(ctx, name, "a", a) || !tre_check_arg(ctx, name, "b", b)) return NULL;
    int64_t p, shape[TRE_MAX_DIMS];
    int ndim;
    if (!join(ctx, name, a, b, &p, &ndim, shape)) return NULL;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, p, ndim, shape);
    if (!out) return NULL;
    tre_kshape ks;
    tre_karg ka[2];
    const tre_tensor *args[2] = {a, b};
    tre_kernel_layout(out, 2, args, &ks, ka);
    /* with validation on, the kernel notes on the way whether the result holds a NaN, so that a
     * distribution taking it as a parameter needs no NaN pass of its own */
    tre_backend_check(ctx,
                      ctx->be->binary(ctx->be->impl, op, &ks, out->data, &ka[0], &ka[1],
                                      ctx->validate ? &out->known_no_nan : NULL),
                      name);
    if (tre_grad_wanted(ctx, 2, args)) {
        tre_grad_node *n = tre_grad_record(ctx, out, name, tre_binary_backward, 2, args);
        if (n) n->code = op;
    }
    return tre_ok(ctx) ? out : NULL;
}

tre_tensor *tre_add(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b) {
    return binary(ctx, TRE_OP_ADD, "tre_add", a, b);
}
tre_tensor *tre_sub(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b) {
    return binary(ctx, TRE_OP_SUB, "tre_sub", a, b);
}
tre_tensor *tre_mul(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b) {
    return binary(ctx, TRE_OP_MUL, "tre_mul", a, b);
}
tre_tensor *tre_div(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b) {
    return binary(ctx, TRE_OP_DIV, "tre_div", a, b);
}

static tre_tensor *unary(tre_ctx *ctx, tre_unop op, const char *name, const tre_tensor *a) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!tre_check_arg(ctx, name, "a", a)) return NULL;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, a->particles, a->ndim, a->shape);
    if (!out) return NULL;
    tre_backend_check(ctx,
                      ctx->be->unary(ctx->be->impl, op, a->particles * a->numel, out->data, a->data,
                                     ctx->validate ? &out->known_no_nan : NULL),
                      name);
    if (tre_grad_wanted(ctx, 1, &a)) {
        tre_grad_node *n = tre_grad_record(ctx, out, name, tre_unary_backward, 1, &a);
        if (n) n->code = op;
    }
    return tre_ok(ctx) ? out : NULL;
}

tre_tensor *tre_neg(tre_ctx *ctx, const tre_tensor *a) { return unary(ctx, TRE_OP_NEG, "tre_neg", a); }
tre_tensor *tre_exp(tre_ctx *ctx, const tre_tensor *a) { return unary(ctx, TRE_OP_EXP, "tre_exp", a); }
tre_tensor *tre_log(tre_ctx *ctx, const tre_tensor *a) { return unary(ctx, TRE_OP_LOG, "tre_log", a); }
tre_tensor *tre_square(tre_ctx *ctx, const tre_tensor *a) {
    return unary(ctx, TRE_OP_SQUARE, "tre_square", a);
}
tre_tensor *tre_unary_op(tre_ctx *ctx, tre_unop op, const char *name, const tre_tensor *a) {
    return unary(ctx, op, name, a);
}

tre_tensor *tre_sum_trailing(tre_ctx *ctx, const tre_tensor *t, int n) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!tre_check_arg(ctx, "tre_sum", "a", t)) return NULL;
    if (n < 0 || n > t->ndim) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "sum: cannot sum %d trailing dims of a %d-dim tensor", n,
                     t->ndim);
        return NULL;
    }
    int keep = t->ndim - n;
    int64_t cols = tre_shape_numel(n, t->shape + keep);
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, t->particles, keep, t->shape);
    if (!out) return NULL;
    tre_backend_check(ctx,
                      ctx->be->sum_rows(ctx->be->impl, t->particles * out->numel, cols, t->data,
                                        out->data),
                      "sum");
    if (tre_grad_wanted(ctx, 1, &t)) tre_grad_record(ctx, out, "sum", tre_sum_trailing_backward, 1, &t);
    return tre_ok(ctx) ? out : NULL;
}

/* dot_rows over [particles] + the broadcast shape, the summed dim last and on its own (the
 * result drops it) */
static void vecdot_rows(tre_ctx *ctx, const tre_tensor *const *args, int64_t p, int ndim,
                        const int64_t *shape, tre_tensor *out) {
    tre_kshape ks;
    tre_karg ka[2];
    ks.ndim = ndim + 1;
    ks.dim[0] = p;
    for (int i = 0; i < ndim; ++i) ks.dim[i + 1] = shape[i];
    for (int k = 0; k < 2; ++k) {
        const tre_tensor *t = args[k];
        int64_t c = 1;
        for (int d = ks.ndim - 1; d >= 1; --d) {
            const int j = d - 1 - (ndim - t->ndim);
            ka[k].stride[d] = j < 0 || t->shape[j] == 1 ? 0 : c;
            if (j >= 0) c *= t->shape[j];
        }
        ka[k].stride[0] = t->particles == 1 ? 0 : t->numel;
        ka[k].data = t->data;
    }
    tre_backend_check(ctx, ctx->be->dot_rows(ctx->be->impl, &ks, out->data, &ka[0], &ka[1]), "tre_vecdot");
}

tre_tensor *tre_vecdot(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!tre_check_arg(ctx, "tre_vecdot", "a", a) || !tre_check_arg(ctx, "tre_vecdot", "b", b)) return NULL;
    if (a->ndim < 1 || b->ndim < 1) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "tre_vecdot: argument %s has no dim to sum over (shape [])",
                     a->ndim < 1 ? "a" : "b");
        return NULL;
    }
    int64_t p, shape[TRE_MAX_DIMS];
    int ndim;
    if (!join(ctx, "tre_vecdot", a, b, &p, &ndim, shape)) return NULL;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, p, ndim - 1, shape);
    if (!out) return NULL;
    const tre_tensor *args[2] = {a, b};
    /* one operand rows picked from a w by index_select: read w's rows, not the picked copy */
    const tre_grad_node *m = tre_gathered_rows(a, b);
    const tre_tensor *other = b;
    if (!m && (m = tre_gathered_rows(b, a))) other = a;
    if (m)
        tre_gathered_dot(ctx, m->in[0], m->saved[0], other, out);
    else
        vecdot_rows(ctx, args, p, ndim, shape, out);
    if (tre_grad_wanted(ctx, 2, args)) tre_grad_record(ctx, out, "tre_vecdot", tre_vecdot_backward, 2, args);
    return tre_ok(ctx) ? out : NULL;
}

tre_tensor *tre_sum(tre_ctx *ctx, const tre_tensor *a) {
    return a ? tre_sum_trailing(ctx, a, a->ndim) : tre_sum_trailing(ctx, a, 0);
}

tre_tensor *tre_mask_scale(tre_ctx *ctx, const tre_tensor *x, const tre_tensor *mask,
                           double scale, int64_t particles, int ndim, const int64_t *shape) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    int64_t p = tre_particles_join(x->particles, particles), bshape[TRE_MAX_DIMS];
    int bnd;
    char sx[96], sm[96];
    if (!tre_shape_broadcast(x->ndim, x->shape, ndim, shape, &bnd, bshape) ||
        (mask && !tre_shape_broadcast(mask->ndim, mask->shape, bnd, bshape, &bnd, bshape))) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "mask %s does not broadcast with log_prob %s",
                     mask ? tre_shape_str(sm, sizeof sm, mask->ndim, mask->shape) : "[]",
                     tre_shape_str(sx, sizeof sx, x->ndim, x->shape));
        return NULL;
    }
    if (mask && p > 0) p = tre_particles_join(p, mask->particles);
    if (p < 0) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "particle extents differ (log_prob %lld, mask %lld, target %lld)",
                     (long long)x->particles, (long long)(mask ? mask->particles : 1),
                     (long long)particles);
        return NULL;
    }
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, p, bnd, bshape);
    if (!out) return NULL;
    tre_kshape ks;
    tre_karg ka[2];
    const tre_tensor *args[2] = {x, mask};
    tre_kernel_layout(out, 2, args, &ks, ka);
    tre_backend_check(ctx,
                      ctx->be->mask_scale(ctx->be->impl, &ks, out->data, &ka[0],
                                          mask ? &ka[1] : NULL, (float)scale),
                      "mask_scale");
    if (tre_grad_wanted(ctx, 1, &x)) {
        tre_grad_node *n = tre_grad_record(ctx, out, "mask_scale", tre_mask_scale_backward, 1, &x);
        if (n) {
            n->saved[0] = mask;
            n->scalar = scale;
        }
    }
    return tre_ok(ctx) ? out : NULL;
}

tre_tensor *tre_broadcast_to(tre_ctx *ctx, const tre_tensor *t, int64_t particles, int ndim,
                             const int64_t *shape) {
    return tre_mask_scale(ctx, t, NULL, 1.0, particles, ndim, shape);
}

/* Indices are few (a minibatch, a datum's group): checking them on the host keeps a bad one
 * from reading outside the tensor on either backend. A step graph's capture cannot read them
 * back: there the eager steps before it checked the same program, the CUDA kernels give NaN
 * for an index out of range (never a read outside the tensor), and a replay whose loss is not
 * finite is rerun eagerly, where this check names the index. */
bool tre_index_arg(tre_ctx *ctx, const char *op, const tre_tensor *index) {
    if (index && index->dtype == TRE_I32 && index->ndim == 1 && index->particles == 1) return true;
    tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: index must be an int32 tensor of shape [k], extent 1", op);
    return false;
}

bool tre_index_in_range(tre_ctx *ctx, const char *op, const tre_tensor *index, int64_t n) {
    if (ctx->capturing) return true;
    int64_t k = index->shape[0];
    int32_t *host = tre_step_alloc(ctx, (size_t)(k ? k : 1) * sizeof *host);
    if (!host || tre_tensor_to_host(ctx, index, host, k) != TRE_OK) return false;
    for (int64_t j = 0; j < k; ++j)
        if (host[j] < 0 || host[j] >= n) {
            tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: index %d at position %lld is outside [0, %lld)", op,
                         host[j], (long long)j, (long long)n);
            return false;
        }
    return true;
}

tre_tensor *tre_index_select(tre_ctx *ctx, const tre_tensor *a, int dim, const tre_tensor *index) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!tre_check_arg(ctx, "tre_index_select", "a", a) || !tre_index_arg(ctx, "tre_index_select", index))
        return NULL;
    int d = dim < 0 ? a->ndim + dim : dim;
    if (d < 0 || d >= a->ndim) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "tre_index_select: dim %d out of range for %d dims", dim,
                     a->ndim);
        return NULL;
    }
    if (!tre_index_in_range(ctx, "tre_index_select", index, a->shape[d])) return NULL;
    int64_t shape[TRE_MAX_DIMS];
    for (int i = 0; i < a->ndim; ++i) shape[i] = a->shape[i];
    shape[d] = index->shape[0];
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, a->particles, a->ndim, shape);
    if (!out) return NULL;
    int64_t outer = a->particles * tre_shape_numel(d, a->shape);
    int64_t inner = tre_shape_numel(a->ndim - d - 1, a->shape + d + 1);
    tre_backend_check(ctx,
                      ctx->be->gather(ctx->be->impl, outer, a->shape[d], inner,
                                      (const int32_t *)index->data, index->shape[0], a->data,
                                      out->data),
                      "index_select");
    if (tre_grad_wanted(ctx, 1, &a)) {
        tre_grad_node *n = tre_grad_record(ctx, out, "index_select", tre_index_select_backward, 1, &a);
        if (n) {
            n->saved[0] = index;
            n->code = d;
        }
    }
    return tre_ok(ctx) ? out : NULL;
}

static void particle_mean_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *a = n->in[0];
    tre_tensor *scaled = tre_mul(ctx, g, tre_scalar(ctx, (float)(1.0 / (double)a->particles)));
    tre_grad_accumulate(ctx, a, scaled ? tre_broadcast_to(ctx, scaled, a->particles, a->ndim, a->shape) : NULL);
}

tre_tensor *tre_particle_mean(tre_ctx *ctx, const tre_tensor *a) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!tre_check_arg(ctx, "particle_mean", "a", a)) return NULL;
    bool was = ctx->grad_recording;
    ctx->grad_recording = false; /* the node below stands for the whole computation */
    tre_tensor *sum = tre_reduce_to(ctx, a, 1, a->ndim, a->shape);
    tre_tensor *out = sum ? tre_mul(ctx, sum, tre_scalar(ctx, (float)(1.0 / (double)a->particles))) : NULL;
    ctx->grad_recording = was;
    if (out && tre_grad_wanted(ctx, 1, &a))
        tre_grad_record(ctx, out, "particle_mean", particle_mean_backward, 1, &a);
    return tre_ok(ctx) ? out : NULL;
}
