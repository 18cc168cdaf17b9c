/* Backward rules of the tensor ops (ops_backward.c). */
#ifndef TRELBO_TENSOR_OPS_BACKWARD_H
#define TRELBO_TENSOR_OPS_BACKWARD_H
#include "autograd.h"

void tre_binary_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
void tre_unary_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
void tre_view_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
/* The index_select node when x = index_select(w, -2, index) picks rows of a w [n, D] and
 * `other` is [k, D] like x (extent 1 or w's): x . other can then read w's rows directly, in
 * tre_vecdot's forward and backward. NULL otherwise. */
const tre_grad_node *tre_gathered_rows(const tre_tensor *x, const tre_tensor *other);
/* The dot with gathered rows (vecdot_index_select.c): out [P, k] = x_j . w[index_j] for w
 * [P, n, D] and x [k, D] (extent 1 or P), and its adjoint w.r.t. w: a new [P, n, D] tensor with
 * g_j x_j added into row index_j (NULL with the error set). Neither forms the picked rows. */
void tre_gathered_dot(tre_ctx *ctx, const tre_tensor *w, const tre_tensor *index, const tre_tensor *x,
                      tre_tensor *out);
tre_tensor *tre_gathered_dot_grad_w(tre_ctx *ctx, const tre_tensor *w, const tre_tensor *index,
                                    const tre_tensor *g, const tre_tensor *x);
void tre_vecdot_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
void tre_sum_trailing_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
void tre_mask_scale_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
void tre_index_select_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
#endif
