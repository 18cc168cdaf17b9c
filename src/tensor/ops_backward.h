/* Backward rules of the tensor ops (ops_backward.c). */
#ifndef TRELBO_TENSOR_OPS_BACKWARD_H
#define TRELBO_TENSOR_OPS_BACKWARD_H
#include "autograd.h"

void tre_binary_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
void tre_unary_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
void tre_view_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
void tre_vecdot_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
void tre_sum_trailing_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
void tre_mask_scale_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
void tre_index_select_backward(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);
#endif
