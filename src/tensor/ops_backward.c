/* Backward rules of the tensor ops (recorded by ops.c, run by tre_grad_backward with recording
 * off, so they are plain forward ops on the gradients). */
#include "autograd.h"
#include "ops_backward.h"

void tre_binary_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *a = n->in[0], *b = n->in[1];
    switch ((tre_binop)n->code) {
    case TRE_OP_ADD:
    case TRE_OP_SUB: {
        /* both sides of a broadcast (an outer sum or difference) summed from g in one pass */
        const tre_tensor *ga = g, *gb = g;
        if (a->requires_grad && b->requires_grad) {
            tre_tensor *ra, *rb;
            tre_reduce_to_pair(ctx, g, a, b, &ra, &rb);
            ga = ra, gb = rb;
        }
        tre_grad_accumulate(ctx, a, ga);
        /* b reduced to its shape first: the negation then touches b's elements, not g's */
        if (b->requires_grad && (tre_binop)n->code == TRE_OP_SUB)
            gb = tre_neg(ctx, tre_reduce_to(ctx, gb, b->particles, b->ndim, b->shape));
        tre_grad_accumulate(ctx, b, gb);
        break;
    }
    case TRE_OP_MUL:
        if (a->requires_grad) tre_grad_accumulate(ctx, a, tre_mul(ctx, g, b));
        if (b->requires_grad) tre_grad_accumulate(ctx, b, tre_mul(ctx, g, a));
        break;
    case TRE_OP_DIV: {
        tre_tensor *ga = tre_div(ctx, g, b);
        if (a->requires_grad) tre_grad_accumulate(ctx, a, ga);
        /* d(a/b)/db = -(a/b)/b, so g * that = -(g/b) * (a/b) */
        if (b->requires_grad) tre_grad_accumulate(ctx, b, tre_neg(ctx, tre_mul(ctx, ga, n->out)));
        break;
    }
    }
}

void tre_unary_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *a = n->in[0], *y = n->out;
    tre_tensor *d = NULL; /* g * dy/da */
    switch ((tre_unop)n->code) {
    case TRE_OP_NEG: d = tre_neg(ctx, g); break;
    case TRE_OP_EXP: d = tre_mul(ctx, g, y); break;
    case TRE_OP_LOG: d = tre_div(ctx, g, a); break;
    case TRE_OP_SQUARE: d = tre_mul(ctx, g, tre_mul(ctx, tre_scalar(ctx, 2.f), a)); break;
    case TRE_OP_SOFTPLUS: d = tre_mul(ctx, g, tre_unary_op(ctx, TRE_OP_SIGMOID, "sigmoid", a)); break;
    case TRE_OP_SOFTPLUS_INV: /* 1 / sigmoid(y) with y = softplus_inv(a) ... as a function of a: */
        d = tre_div(ctx, g, tre_neg(ctx, tre_unary_op(ctx, TRE_OP_EXPM1, "expm1", tre_neg(ctx, a))));
        break;
    case TRE_OP_SIGMOID:
        d = tre_mul(ctx, g, tre_mul(ctx, y, tre_sub(ctx, tre_scalar(ctx, 1.f), y)));
        break;
    case TRE_OP_LOGIT:
        d = tre_div(ctx, g, tre_mul(ctx, a, tre_sub(ctx, tre_scalar(ctx, 1.f), a)));
        break;
    case TRE_OP_LOG_SIGMOID:
        d = tre_mul(ctx, g, tre_unary_op(ctx, TRE_OP_SIGMOID, "sigmoid", tre_neg(ctx, a)));
        break;
    case TRE_OP_LGAMMA: d = tre_mul(ctx, g, tre_unary_op(ctx, TRE_OP_DIGAMMA, "digamma", a)); break;
    case TRE_OP_LOG1P: d = tre_div(ctx, g, tre_add(ctx, a, tre_scalar(ctx, 1.f))); break;
    case TRE_OP_EXPM1: d = tre_mul(ctx, g, tre_add(ctx, y, tre_scalar(ctx, 1.f))); break;
    case TRE_OP_ABS: /* sign(a); 0 at 0, the subgradient PyTorch picks too */
        d = tre_mul(ctx, g, tre_unary_op(ctx, TRE_OP_SIGN, "sign", a));
        break;
    case TRE_OP_SIGN: d = tre_mul(ctx, g, tre_scalar(ctx, 0.f)); break;
    case TRE_OP_DIGAMMA: d = tre_mul(ctx, g, tre_unary_op(ctx, TRE_OP_TRIGAMMA, "trigamma", a)); break;
    case TRE_OP_TRIGAMMA: d = tre_mul(ctx, g, tre_unary_op(ctx, TRE_OP_TETRAGAMMA, "tetragamma", a)); break;
    case TRE_OP_ERF: /* 2 / sqrt(pi) exp(-a^2) */
        d = tre_mul(ctx, g, tre_mul(ctx, tre_scalar(ctx, 1.12837916709551257f),
                                    tre_exp(ctx, tre_neg(ctx, tre_square(ctx, a)))));
        break;
    case TRE_OP_TETRAGAMMA:
        tre_ctx_fail(ctx, TRE_ERR_UNSUPPORTED, "backward: tetragamma has no gradient (a third derivative of digamma)");
        return;
    }
    tre_grad_accumulate(ctx, a, d);
}

void tre_view_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *a = n->in[0];
    tre_grad_accumulate(ctx, a, tre_tensor_reshape_view(ctx, g, a->ndim, a->shape));
}

const tre_grad_node *tre_gathered_rows(const tre_tensor *x, const tre_tensor *other) {
    const tre_grad_node *m = x->grad_fn;
    if (!m || m->backward != tre_index_select_backward || m->code != 0) return NULL;
    const tre_tensor *w = m->in[0];
    if (w->ndim != 2 || x->ndim != 2 || other->ndim != 2 || !tre_shape_equal(2, other->shape, 2, x->shape) ||
        (other->particles != 1 && other->particles != w->particles))
        return NULL;
    return m;
}

/* x = index_select(w, -2, index), rows [k, D] picked from w [n, D], dotted with other [k, D]
 * (x_j . other_j, a group's weights times a datum's features): backward is linear, so the
 * gradient may go straight to w's rows, w[index[j]] += g_j other_j, without the [P, k, D]
 * product and its scatter. index_select's own rule still runs for any other consumer's share
 * of x's gradient. False (nothing done) for the layouts this does not cover. */
static bool gathered_rows_grad(tre_ctx *ctx, const tre_tensor *x, const tre_tensor *g,
                               const tre_tensor *other) {
    const tre_grad_node *m = tre_gathered_rows(x, other);
    if (!m) return false;
    const tre_tensor *w = m->in[0], *index = m->saved[0];
    if (!w->requires_grad || g->particles != w->particles || g->ndim != 1) return false;
    tre_tensor *gw = tre_gathered_dot_grad_w(ctx, w, index, g, other);
    if (!gw) return true;
    tre_grad_accumulate(ctx, w, gw);
    return true;
}

/* d (a . b) / d a = b: g with a trailing 1 times the other operand (expanded where that
 * product does not reach a's summed dim, as for b of shape [..., 1]), then summed down to the
 * operand's shape where it was broadcast */
static void vecdot_operand_grad(tre_ctx *ctx, const tre_tensor *x, const tre_tensor *g,
                                const tre_tensor *col, const tre_tensor *other) {
    if (!x->requires_grad) return;
    if (gathered_rows_grad(ctx, x, g, other)) return;
    tre_tensor *gx = tre_mul(ctx, col, other);
    if (gx && gx->shape[gx->ndim - 1] < x->shape[x->ndim - 1]) {
        int64_t shape[TRE_MAX_DIMS];
        for (int i = 0; i < gx->ndim; ++i) shape[i] = gx->shape[i];
        shape[gx->ndim - 1] = x->shape[x->ndim - 1];
        gx = tre_broadcast_to(ctx, gx, gx->particles, gx->ndim, shape);
    }
    tre_grad_accumulate(ctx, x, gx);
}

void tre_vecdot_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *a = n->in[0], *b = n->in[1];
    int64_t shape[TRE_MAX_DIMS];
    for (int i = 0; i < g->ndim; ++i) shape[i] = g->shape[i];
    shape[g->ndim] = 1;
    tre_tensor *col = tre_tensor_reshape_view(ctx, g, g->ndim + 1, shape);
    if (!col) return;
    vecdot_operand_grad(ctx, a, g, col, b);
    vecdot_operand_grad(ctx, b, g, col, a);
}

void tre_sum_trailing_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *a = n->in[0];
    /* g has a's leading dims: pad it with ones on the right, then broadcast */
    int64_t shape[TRE_MAX_DIMS];
    for (int i = 0; i < a->ndim; ++i) shape[i] = i < g->ndim ? g->shape[i] : 1;
    tre_tensor *padded = tre_tensor_reshape_view(ctx, g, a->ndim, shape);
    tre_grad_accumulate(ctx, a, padded ? tre_broadcast_to(ctx, padded, a->particles, a->ndim, a->shape) : NULL);
}

void tre_mask_scale_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *x = n->in[0];
    tre_grad_accumulate(ctx, x, tre_mask_scale(ctx, g, n->saved[0], n->scalar, g->particles, g->ndim, g->shape));
}

void tre_index_select_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g) {
    const tre_tensor *a = n->in[0], *index = n->saved[0];
    int d = n->code;
    tre_tensor *ga = tre_tensor_new(ctx, TRE_F32, a->particles, a->ndim, a->shape);
    if (!ga) return;
    int64_t outer = a->particles * tre_shape_numel(d, a->shape);
    int64_t inner = tre_shape_numel(a->ndim - d - 1, a->shape + d + 1);
    if (tre_backend_check(ctx, ctx->be->fill(ctx->be->impl, ga->data, 0.f, a->particles * a->numel), "fill") ||
        tre_backend_check(ctx, ctx->be->scatter_add(ctx->be->impl, outer, a->shape[d], inner,
                                                    (const int32_t *)index->data, index->shape[0],
                                                    g->data, ga->data),
                          "scatter_add"))
        return;
    tre_grad_accumulate(ctx, a, ga);
}
