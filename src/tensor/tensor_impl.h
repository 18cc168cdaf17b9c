/* Internal tensor helpers: step-scoped allocation, kernel layouts, shape text. */
#ifndef TRELBO_TENSOR_IMPL_H
#define TRELBO_TENSOR_IMPL_H
#include "../core/ctx_impl.h"

/* A new step-scoped tensor (uninitialized data); NULL with the error set. */
tre_tensor *tre_tensor_new(tre_ctx *ctx, tre_dtype dtype, int64_t particles, int ndim,
                           const int64_t *shape);
/* A persistent deep copy (the param store's storage). */
tre_tensor *tre_tensor_persist_copy(tre_ctx *ctx, const tre_tensor *t);
/* A step-scoped view of t with another shape of the same numel (no copy). */
tre_tensor *tre_tensor_reshape_view(tre_ctx *ctx, const tre_tensor *t, int ndim,
                                    const int64_t *shape);

/* Particle extent of a result: P with P, 1 with either; -1 when they clash. */
int64_t tre_particles_join(int64_t a, int64_t b);

/* Kernel shape and per-argument broadcast strides for writing `out` from `args` (NULL args get
 * zero strides and NULL data). Dims of size 1 are dropped and mergeable dims merged. */
void tre_kernel_layout(const tre_tensor *out, int nargs, const tre_tensor *const *args,
                       tre_kshape *ks, tre_karg *ka);

/* "[3, 4]" into buf. */
const char *tre_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);
int64_t tre_shape_numel(int ndim, const int64_t *shape);

/* out = mask ? scale * x : 0, with x (and mask, may be NULL) broadcast to extent `particles`
 * and `shape` (and to each other). */
tre_tensor *tre_mask_scale(tre_ctx *ctx, const tre_tensor *x, const tre_tensor *mask,
                           double scale, int64_t particles, int ndim, const int64_t *shape);
tre_tensor *tre_unary_op(tre_ctx *ctx, tre_unop op, const char *name, const tre_tensor *a);
/* Argument checks of the ops, false with an error naming `op` (and the argument): a float32
 * tensor; an index, an int32 tensor of shape [k] with extent 1. */
bool tre_check_arg(tre_ctx *ctx, const char *op, const char *which, const tre_tensor *t);
bool tre_index_arg(tre_ctx *ctx, const char *op, const tre_tensor *index);
/* True when every element of the int32 index [k] lies in [0, n); else false with an error
 * naming `op` and the first bad position. */
bool tre_index_in_range(tre_ctx *ctx, const char *op, const tre_tensor *index, int64_t n);
/* Mean over the particle extent (result extent 1, same shape). */
tre_tensor *tre_particle_mean(tre_ctx *ctx, const tre_tensor *a);
/* Broadcast (copy) t to particles p and shape. */
tre_tensor *tre_broadcast_to(tre_ctx *ctx, const tre_tensor *t, int64_t particles, int ndim,
                             const int64_t *shape);
#endif
