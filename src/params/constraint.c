/* Constraint transforms T (unconstrained -> constrained), their inverses and log-Jacobians.
 * Elementwise constraints are compositions of tensor ops; the structured ones (simplex,
 * lower_cholesky) act on the last dim or the trailing matrix and have their own backend kernels
 * (kernels/math/transform.h holds their formulas and conventions). */
#include "constraint.h"
#include <math.h>
#include <stdio.h>
#include "../tensor/autograd.h"

static tre_tensor *affine(tre_ctx *ctx, const tre_tensor *x, float shift, float mul) {
    tre_tensor *y = mul == 1.f ? (tre_tensor *)x : tre_mul(ctx, x, tre_scalar(ctx, mul));
    return shift == 0.f ? y : tre_add(ctx, y, tre_scalar(ctx, shift));
}

bool tre_constraint_fits(tre_constraint c, bool unconstrained, int ndim, const int64_t *shape,
                         const char *arg, tre_status *status, char *why, size_t n) {
    *status = TRE_ERR_INVALID_ARG;
    if ((int)c.kind < 0 || c.kind > TRE_LOWER_CHOLESKY) {
        snprintf(why, n, "unknown constraint %d", (int)c.kind);
        return false;
    }
    if (c.kind == TRE_GREATER_THAN && !isfinite(c.lower)) {
        snprintf(why, n, "greater_than needs a finite lower bound, got %g", (double)c.lower);
        return false;
    }
    /* written so that NaN fails; the width is what T scales by, in float */
    if (c.kind == TRE_INTERVAL &&
        !(isfinite(c.lower) && isfinite(c.upper) && c.upper > c.lower && isfinite(c.upper - c.lower))) {
        snprintf(why, n, "interval needs finite bounds with lower < upper (and a finite width), got (%g, %g)",
                 (double)c.lower, (double)c.upper);
        return false;
    }
    *status = TRE_ERR_SHAPE;
    char sh[96];
    tre_shape_str(sh, sizeof sh, ndim, shape);
    if (c.kind == TRE_SIMPLEX) {
        if (ndim < 1) {
            snprintf(why, n, "simplex acts on the last dim, so %s needs at least 1 dim, got shape %s", arg, sh);
            return false;
        }
        if (!unconstrained && shape[ndim - 1] < 2) {
            snprintf(why, n, "simplex needs %s with K >= 2 entries in its last dim, got shape %s", arg, sh);
            return false;
        }
    } else if (c.kind == TRE_LOWER_CHOLESKY && (ndim < 2 || shape[ndim - 1] != shape[ndim - 2])) {
        snprintf(why, n, "lower_cholesky needs %s to end in a square matrix [..., n, n], got shape %s", arg, sh);
        return false;
    }
    *status = TRE_OK;
    return true;
}

/* Which way a transform's argument is read: the unconstrained side (T and its log-Jacobian
 * take u) or the constrained side (T^-1 takes y). Errors name the function and argument. */
typedef enum { SIDE_U, SIDE_Y } side;

static bool check(tre_ctx *ctx, const char *what, tre_constraint c, const tre_tensor *x, side s) {
    if (!ctx || !tre_ok(ctx)) return false;
    const char *arg = s == SIDE_U ? "argument u" : "argument y";
    if (!x) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: %s is NULL", what, arg);
        return false;
    }
    tre_status status;
    char why[256];
    if (!tre_constraint_fits(c, s == SIDE_U, x->ndim, x->shape, arg, &status, why, sizeof why)) {
        tre_ctx_fail(ctx, status, "%s: %s", what, why);
        return false;
    }
    if ((c.kind == TRE_SIMPLEX || c.kind == TRE_LOWER_CHOLESKY) && x->dtype != TRE_F32) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: %s must be float32", what, arg);
        return false;
    }
    return true;
}

/* A backend built before these kernels existed (a NULL entry) fails cleanly. */
static bool has_kernel(tre_ctx *ctx, bool present, const char *what, const char *kernel) {
    if (present) return true;
    tre_ctx_fail(ctx, TRE_ERR_UNSUPPORTED, "%s: the %s backend has no %s kernel", what,
                 ctx->be->name, kernel);
    return false;
}

/* The adjoints of the forward structured maps (the inverses run only at param init). */
static void structured_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *u = n->in[0];
    tre_tensor *gu = tre_tensor_new(ctx, TRE_F32, u->particles, u->ndim, u->shape);
    if (!gu) return;
    int rc;
    if (n->code == TRE_SIMPLEX) {
        if (!ctx->be->simplex_backward) {
            tre_ctx_fail(ctx, TRE_ERR_UNSUPPORTED, "the %s backend has no simplex gradient", ctx->be->name);
            return;
        }
        int64_t k = u->shape[u->ndim - 1] + 1, rows = u->particles * tre_shape_numel(u->ndim - 1, u->shape);
        rc = ctx->be->simplex_backward(ctx->be->impl, rows, k, u->data, g->data, gu->data);
    } else {
        if (!ctx->be->lower_cholesky_backward) {
            tre_ctx_fail(ctx, TRE_ERR_UNSUPPORTED, "the %s backend has no lower_cholesky gradient",
                         ctx->be->name);
            return;
        }
        int64_t nn = u->shape[u->ndim - 1], batch = u->particles * tre_shape_numel(u->ndim - 2, u->shape);
        rc = ctx->be->lower_cholesky_backward(ctx->be->impl, batch, nn, u->data, g->data, gu->data);
    }
    if (tre_backend_check(ctx, rc, "structured transform backward") == TRE_OK) tre_grad_accumulate(ctx, u, gu);
}

static void record_structured(tre_ctx *ctx, tre_tensor *out, const tre_tensor *u, tre_constraint_kind kind) {
    if (!out || !tre_grad_wanted(ctx, 1, &u)) return;
    tre_grad_node *n = tre_grad_record(ctx, out, kind == TRE_SIMPLEX ? "simplex" : "lower_cholesky",
                                       structured_backward, 1, &u);
    if (n) n->code = kind;
}

/* Stick-breaking over the last dim: [..., K-1] -> [..., K] (inverse: [..., K] -> [..., K-1]).
 * Rows are every particle's leading entries: particles * (numel / last dim). */
static tre_tensor *simplex_apply(tre_ctx *ctx, const char *what, int inverse,
                                 const tre_tensor *x) {
    if (!has_kernel(ctx, ctx->be->simplex != NULL, what, "simplex")) return NULL;
    int nd = x->ndim;
    int64_t shape[TRE_MAX_DIMS];
    for (int i = 0; i < nd; ++i) shape[i] = x->shape[i];
    int64_t k = inverse ? x->shape[nd - 1] : x->shape[nd - 1] + 1;
    shape[nd - 1] = inverse ? k - 1 : k;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, x->particles, nd, shape);
    if (!out) return NULL;
    int64_t rows = x->particles * tre_shape_numel(nd - 1, x->shape);
    tre_backend_check(ctx, ctx->be->simplex(ctx->be->impl, inverse, rows, k, out->data, x->data),
                      inverse ? "simplex inverse" : "simplex");
    if (!inverse && tre_ok(ctx)) record_structured(ctx, out, x, TRE_SIMPLEX);
    return tre_ok(ctx) ? out : NULL;
}

/* [..., n, n] -> [..., n, n], matrix by matrix. */
static tre_tensor *lower_cholesky_apply(tre_ctx *ctx, const char *what, int inverse,
                                        const tre_tensor *x) {
    if (!has_kernel(ctx, ctx->be->lower_cholesky != NULL, what, "lower_cholesky"))
        return NULL;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, x->particles, x->ndim, x->shape);
    if (!out) return NULL;
    int64_t n = x->shape[x->ndim - 1];
    int64_t batch = x->particles * tre_shape_numel(x->ndim - 2, x->shape);
    tre_backend_check(ctx,
                      ctx->be->lower_cholesky(ctx->be->impl, inverse, batch, n, out->data, x->data),
                      inverse ? "lower_cholesky inverse" : "lower_cholesky");
    if (!inverse && tre_ok(ctx)) record_structured(ctx, out, x, TRE_LOWER_CHOLESKY);
    return tre_ok(ctx) ? out : NULL;
}

/* Per-row (simplex) or per-matrix (lower_cholesky) log-Jacobians, shape = u's leading dims. */
static tre_tensor *structured_log_det_terms(tre_ctx *ctx, const char *what, tre_constraint c,
                                            const tre_tensor *u) {
    bool simplex = c.kind == TRE_SIMPLEX;
    bool present = simplex ? ctx->be->simplex_log_det != NULL
                           : ctx->be->lower_cholesky_log_det != NULL;
    if (!has_kernel(ctx, present, what, simplex ? "simplex_log_det" : "lower_cholesky_log_det"))
        return NULL;
    int keep = u->ndim - (simplex ? 1 : 2);
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, u->particles, keep, u->shape);
    if (!out) return NULL;
    int64_t rows = u->particles * out->numel, last = u->shape[u->ndim - 1];
    int rc = simplex ? ctx->be->simplex_log_det(ctx->be->impl, rows, last + 1, out->data, u->data)
                     : ctx->be->lower_cholesky_log_det(ctx->be->impl, rows, last, out->data,
                                                       u->data);
    tre_backend_check(ctx, rc, simplex ? "simplex_log_det" : "lower_cholesky_log_det");
    return tre_ok(ctx) ? out : NULL;
}

tre_tensor *tre_transform_to(tre_ctx *ctx, tre_constraint c, const tre_tensor *u) {
    if (!check(ctx, "transform_to", c, u, SIDE_U)) return NULL;
    switch (c.kind) {
    case TRE_REAL: return tre_tensor_reshape_view(ctx, u, u->ndim, u->shape);
    case TRE_POSITIVE: return tre_exp(ctx, u);
    case TRE_SOFTPLUS_POSITIVE: return tre_unary_op(ctx, TRE_OP_SOFTPLUS, "softplus", u);
    case TRE_GREATER_THAN: return affine(ctx, tre_exp(ctx, u), c.lower, 1.f);
    case TRE_UNIT_INTERVAL: return tre_unary_op(ctx, TRE_OP_SIGMOID, "sigmoid", u);
    case TRE_INTERVAL:
        return affine(ctx, tre_unary_op(ctx, TRE_OP_SIGMOID, "sigmoid", u), c.lower,
                      c.upper - c.lower);
    case TRE_SIMPLEX: return simplex_apply(ctx, "transform_to", 0, u);
    case TRE_LOWER_CHOLESKY: return lower_cholesky_apply(ctx, "transform_to", 0, u);
    default: return NULL;
    }
}

tre_tensor *tre_transform_inv(tre_ctx *ctx, tre_constraint c, const tre_tensor *y) {
    if (!check(ctx, "transform_inv", c, y, SIDE_Y)) return NULL;
    switch (c.kind) {
    case TRE_REAL: return tre_tensor_reshape_view(ctx, y, y->ndim, y->shape);
    case TRE_POSITIVE: return tre_log(ctx, y);
    case TRE_SOFTPLUS_POSITIVE: return tre_unary_op(ctx, TRE_OP_SOFTPLUS_INV, "softplus_inv", y);
    case TRE_GREATER_THAN: return tre_log(ctx, affine(ctx, y, -c.lower, 1.f));
    case TRE_UNIT_INTERVAL: return tre_unary_op(ctx, TRE_OP_LOGIT, "logit", y);
    case TRE_INTERVAL:
        return tre_unary_op(ctx, TRE_OP_LOGIT, "logit",
                            affine(ctx, affine(ctx, y, -c.lower, 1.f), 0.f,
                                   1.f / (c.upper - c.lower)));
    case TRE_SIMPLEX: return simplex_apply(ctx, "transform_inv", 1, y);
    case TRE_LOWER_CHOLESKY: return lower_cholesky_apply(ctx, "transform_inv", 1, y);
    default: return NULL;
    }
}

tre_tensor *tre_transform_log_abs_det_jacobian(tre_ctx *ctx, tre_constraint c,
                                               const tre_tensor *u) {
    if (!check(ctx, "log_abs_det_jacobian", c, u, SIDE_U)) return NULL;
    tre_tensor *terms = NULL;
    switch (c.kind) {
    case TRE_REAL: terms = tre_mul(ctx, u, tre_scalar(ctx, 0.f)); break;
    case TRE_POSITIVE:
    case TRE_GREATER_THAN: terms = tre_tensor_reshape_view(ctx, u, u->ndim, u->shape); break;
    case TRE_SOFTPLUS_POSITIVE: /* d softplus = sigmoid */
        terms = tre_unary_op(ctx, TRE_OP_LOG_SIGMOID, "log_sigmoid", u);
        break;
    case TRE_UNIT_INTERVAL:
    case TRE_INTERVAL: /* d sigmoid = sigmoid(u) sigmoid(-u) */
        terms = tre_add(ctx, tre_unary_op(ctx, TRE_OP_LOG_SIGMOID, "log_sigmoid", u),
                        tre_unary_op(ctx, TRE_OP_LOG_SIGMOID, "log_sigmoid", tre_neg(ctx, u)));
        if (c.kind == TRE_INTERVAL) terms = affine(ctx, terms, logf(c.upper - c.lower), 1.f);
        break;
    case TRE_SIMPLEX:        /* onto the first K-1 simplex entries (the last is implied) */
    case TRE_LOWER_CHOLESKY: /* sum of the unconstrained diagonal; see kernels/math/transform.h */
        terms = structured_log_det_terms(ctx, "log_abs_det_jacobian", c, u);
        break;
    default: return NULL;
    }
    return tre_sum(ctx, terms);
}
