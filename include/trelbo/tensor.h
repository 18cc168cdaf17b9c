/* Tensors: float32 (or int32 index) values with a particle extent beside their shape.
 *
 * A tensor's element (p, i) lives at data[p * numel + i] when particles == P, and every
 * particle reads element i when particles == 1 (data, constants, params). `shape` never holds
 * the particle extent: ops broadcast shapes right-aligned and particle extents separately.
 * Tensors made by ops live until the next tre_ctx_step_reset; tensors made by tre_tensor_create
 * live until tre_tensor_destroy (or tre_ctx_destroy). Data sits on the context's backend. */
#ifndef TRELBO_TENSOR_H
#define TRELBO_TENSOR_H

#include <stdbool.h>
#include <stdint.h>
#include "ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRE_MAX_DIMS 8
/* Most elements (particles times the shape's product) one tensor may have: 2^60, so that its
 * byte count and every index into it fit in int64 (larger shapes are TRE_ERR_INVALID_ARG). */
#define TRE_MAX_ELEMENTS ((int64_t)1 << 60)

typedef enum tre_dtype { TRE_F32 = 0, TRE_I32 = 1 } tre_dtype;

struct tre_param_entry;

typedef struct tre_tensor {
    void *data;              /* backend memory: particles * numel elements */
    int64_t particles;       /* P (differs per particle) or 1 (shared by all) */
    int ndim;
    int64_t shape[TRE_MAX_DIMS];
    int64_t numel;           /* elements per particle: product of shape */
    tre_dtype dtype;
    bool persistent;         /* made by tre_tensor_create: the user destroys it */
    /* Non-NULL for a constrained param value: the store entry that owns its unconstrained
     * tensor. Replay's params map accepts only such values. */
    const struct tre_param_entry *param;
    /* Reverse mode (set by the library): whether gradients flow to this tensor, the op that
     * made it, and its gradient after a backward pass (same extent and shape). */
    bool requires_grad;
    struct tre_grad_node *grad_fn;
    struct tre_tensor *grad;
    /* grad is another tensor's (a backward rule passed it on unchanged): a further
     * accumulation makes a new sum instead of adding into it */
    bool grad_borrowed;
    /* Set by the library: the op that wrote this tensor, or tre_tensor_create or
     * tre_tensor_write from host data, found no NaN in it, so validation skips its NaN pass. */
    bool known_no_nan;
} tre_tensor;

/* Persistent tensor from host data (NULL host: zeros). particles is 1 or P. Its data then
 * changes only through tre_tensor_write: validation checks host data for NaN as it comes in
 * (once, on the host) instead of in every step, so a NaN written into `data` directly is not
 * named by validation (the ELBO's check for a non-finite log-prob still names the site). A
 * tensor of zeros (NULL host) is checked by validation as usual until its first write. */
tre_status tre_tensor_create(tre_ctx *ctx, tre_tensor **out, tre_dtype dtype, int64_t particles,
                             int ndim, const int64_t *shape, const void *host);
/* Frees a tensor of tre_tensor_create (NULL and step-scoped tensors: nothing); one of another
 * context is refused with an error, and stays. */
void tre_tensor_destroy(tre_ctx *ctx, tre_tensor *t);

/* Replace all particles * numel elements (count, 4 bytes each) of a tensor from
 * tre_tensor_create with host data: how a data buffer is refilled between steps (a new
 * minibatch) on either backend. Its memory stays, so a step graph that reads it stays valid;
 * work already queued reads the old values, and host may be reused on return. */
tre_status tre_tensor_write(tre_ctx *ctx, tre_tensor *t, const void *host, int64_t count);

/* Copy all particles * numel elements to host memory (4 bytes each). */
tre_status tre_tensor_to_host(tre_ctx *ctx, const tre_tensor *t, void *host, int64_t capacity);

/* Step-scoped constructors (NULL on error, with the context in the error state). */
tre_tensor *tre_scalar(tre_ctx *ctx, float v);
tre_tensor *tre_full(tre_ctx *ctx, int ndim, const int64_t *shape, float v);
tre_tensor *tre_from_host(tre_ctx *ctx, int64_t particles, int ndim, const int64_t *shape,
                          const float *host);

/* Elementwise ops with broadcasting (step-scoped results). */
tre_tensor *tre_add(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b);
tre_tensor *tre_sub(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b);
tre_tensor *tre_mul(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b);
tre_tensor *tre_div(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b);
tre_tensor *tre_neg(tre_ctx *ctx, const tre_tensor *a);
tre_tensor *tre_exp(tre_ctx *ctx, const tre_tensor *a);
tre_tensor *tre_log(tre_ctx *ctx, const tre_tensor *a);
tre_tensor *tre_square(tre_ctx *ctx, const tre_tensor *a);
/* Matrix product like numpy.matmul for 1-D and 2-D operands: a [n, k] or [k], b [k, m] or [k]
 * gives [n, m], [n], [m] or []; particle extents broadcast. A shared matrix times per-particle
 * vectors (X [N, D] times w of extent P, [D]) is one matrix-matrix product over all particles. */
tre_tensor *tre_matmul(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b);
/* values[index]: values is a vector [K] (extent 1 or P), index a float tensor of integer
 * positions in [0, K) of any shape (extent 1 or P); the result has index's shape. Used to pick
 * each particle's component parameters by its (sampled) assignments. */
tre_tensor *tre_take(tre_ctx *ctx, const tre_tensor *values, const tre_tensor *index);
/* Sum of every element of each particle: extent kept, shape []. */
tre_tensor *tre_sum(tre_ctx *ctx, const tre_tensor *a);
/* Sum over the trailing n dims (n <= ndim): the result keeps the leading dims. */
tre_tensor *tre_sum_trailing(tre_ctx *ctx, const tre_tensor *a, int n);
/* Dot products along the last dim, sum(a * b, -1) with a and b broadcast (PyTorch's
 * linalg.vecdot for real tensors): each particle's rows x_n . w_n without forming the product,
 * so one read of a [P, N, D] operand instead of a write and two reads. Both need >= 1 dim. */
tre_tensor *tre_vecdot(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b);
/* Elements of `a` along dimension `dim` (negative counts from the right) picked by the int32
 * index tensor `index` (extent 1, shape [k]): how data is gathered by a plate's subsample. */
tre_tensor *tre_index_select(tre_ctx *ctx, const tre_tensor *a, int dim, const tre_tensor *index);
/* tre_vecdot(x, tre_index_select(w, -2, index)) without the picked rows: out[j] =
 * x_j . w[index_j] (PyTorch: (x * w[index]).sum(-1)), e.g. each datum's features dotted with
 * its group's weights. x [k, D] and w [n, D] read in place when x needs no gradient; other
 * shapes, and gradients w.r.t. x, take the composed ops (same values). */
tre_tensor *tre_vecdot_index_select(tre_ctx *ctx, const tre_tensor *x, const tre_tensor *w,
                                    const tre_tensor *index);

/* The same values with no gradient flowing through (Pyro's detach). */
tre_tensor *tre_stop_grad(tre_ctx *ctx, const tre_tensor *a);

/* Shape helpers. */
bool tre_shape_equal(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b);
/* Right-aligned broadcast; false when they clash (or an argument is invalid). out holds
 * TRE_MAX_DIMS. */
bool tre_shape_broadcast(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b,
                         int *ndim_out, int64_t *out);

#ifdef __cplusplus
}
#endif
#endif
