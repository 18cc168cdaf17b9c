/* Reverse-mode differentiation over the step's tape (internal).
 *
 * While gradients are enabled (tre_elbo with grad, or tre_grad_begin), every op whose inputs
 * require gradients appends a node to the context's tape: a backward function, its inputs and
 * whatever it saved. Ops are created in forward order, so walking the tape backwards visits
 * each node after every node that consumed its output. Gradients of step tensors live in the
 * step arena; a param's unconstrained tensor accumulates into its persistent store gradient. */
#ifndef TRELBO_TENSOR_AUTOGRAD_H
#define TRELBO_TENSOR_AUTOGRAD_H
#include "tensor_impl.h"

#define TRE_GRAD_MAX_IN 5

typedef struct tre_grad_node tre_grad_node;
/* Accumulates into the inputs' gradients given the output's gradient `g` (same extent/shape
 * as the output). Runs with recording off. */
typedef void (*tre_backward_fn)(tre_ctx *ctx, const tre_grad_node *n, const tre_tensor *g);

struct tre_grad_node {
    tre_backward_fn backward;
    const char *name;                         /* the op, for error messages */
    tre_tensor *out;
    const tre_tensor *in[TRE_GRAD_MAX_IN];
    int nin;
    int code;                                 /* op code (binop/unop/kdist) */
    double scalar;
    const tre_tensor *saved[2];
    const void *extra;
};

/* True when gradients are being recorded and one of the inputs requires them. */
bool tre_grad_wanted(const tre_ctx *ctx, int nin, const tre_tensor *const *in);
/* Appends a node producing `out` (marks out as requiring grad); NULL on allocation failure. */
tre_grad_node *tre_grad_record(tre_ctx *ctx, tre_tensor *out, const char *name,
                               tre_backward_fn backward, int nin, const tre_tensor *const *in);
/* Adds g (broadcast-compatible with t, possibly larger: it is summed down to t's extent and
 * shape) into t's gradient. Tensors that do not require grad are skipped. */
void tre_grad_accumulate(tre_ctx *ctx, const tre_tensor *t, const tre_tensor *g);
/* Sum g down to extent `particles` and `shape` (the inverse of broadcasting). */
tre_tensor *tre_reduce_to(tre_ctx *ctx, const tre_tensor *g, int64_t particles, int ndim,
                          const int64_t *shape);
/* g summed down to a's and to b's extent and shape, in one pass over g where the backend can
 * (both sides of a broadcast binary op); *ra, *rb NULL on error. */
void tre_reduce_to_pair(tre_ctx *ctx, const tre_tensor *g, const tre_tensor *a, const tre_tensor *b,
                        tre_tensor **ra, tre_tensor **rb);

/* Tape control: tre_elbo brackets its forward pass with begin/end and calls tre_backward. */
void tre_grad_begin(tre_ctx *ctx);
void tre_grad_end(tre_ctx *ctx);
/* Backward from `loss` (any extent and shape; its gradient is seeded with ones). */
tre_status tre_grad_backward(tre_ctx *ctx, const tre_tensor *loss);
#endif
