/* Constraint transforms T (unconstrained -> constrained), their inverses and log-Jacobians. */
#include <math.h>
#include "../tensor/tensor_impl.h"

static tre_tensor *affine(tre_ctx *ctx, const tre_tensor *x, float shift, float mul) {
    tre_tensor *y = mul == 1.f ? (tre_tensor *)x : tre_mul(ctx, x, tre_scalar(ctx, mul));
    return shift == 0.f ? y : tre_add(ctx, y, tre_scalar(ctx, shift));
}

static bool check(tre_ctx *ctx, const char *what, tre_constraint c, const tre_tensor *x) {
    if (!ctx || !tre_ok(ctx)) return false;
    if (!x) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: tensor is NULL", what);
        return false;
    }
    if (c.kind == TRE_INTERVAL && !(c.upper > c.lower)) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: interval needs lower < upper (%g, %g)", what,
                     (double)c.lower, (double)c.upper);
        return false;
    }
    if (c.kind == TRE_SIMPLEX || c.kind == TRE_LOWER_CHOLESKY) {
        tre_ctx_fail(ctx, TRE_ERR_UNSUPPORTED, "%s: %s transform is not implemented yet", what,
                     c.kind == TRE_SIMPLEX ? "simplex" : "lower_cholesky");
        return false;
    }
    if (c.kind > TRE_LOWER_CHOLESKY) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: unknown constraint %d", what, (int)c.kind);
        return false;
    }
    return true;
}

tre_tensor *tre_transform_to(tre_ctx *ctx, tre_constraint c, const tre_tensor *u) {
    if (!check(ctx, "transform_to", c, u)) return NULL;
    switch (c.kind) {
    case TRE_REAL: return tre_tensor_reshape_view(ctx, u, u->ndim, u->shape);
    case TRE_POSITIVE: return tre_exp(ctx, u);
    case TRE_SOFTPLUS_POSITIVE: return tre_unary_op(ctx, TRE_OP_SOFTPLUS, "softplus", u);
    case TRE_GREATER_THAN: return affine(ctx, tre_exp(ctx, u), c.lower, 1.f);
    case TRE_UNIT_INTERVAL: return tre_unary_op(ctx, TRE_OP_SIGMOID, "sigmoid", u);
    case TRE_INTERVAL:
        return affine(ctx, tre_unary_op(ctx, TRE_OP_SIGMOID, "sigmoid", u), c.lower,
                      c.upper - c.lower);
    default: return NULL;
    }
}

tre_tensor *tre_transform_inv(tre_ctx *ctx, tre_constraint c, const tre_tensor *y) {
    if (!check(ctx, "transform_inv", c, y)) return NULL;
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
    default: return NULL;
    }
}

tre_tensor *tre_transform_log_abs_det_jacobian(tre_ctx *ctx, tre_constraint c,
                                               const tre_tensor *u) {
    if (!check(ctx, "log_abs_det_jacobian", c, u)) return NULL;
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
    default: return NULL;
    }
    return tre_sum(ctx, terms);
}
