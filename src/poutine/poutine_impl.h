/* Internals shared by the stack runtime and the handlers. */
#ifndef TRELBO_POUTINE_IMPL_H
#define TRELBO_POUTINE_IMPL_H
#include "../dist/dist_impl.h"

/* Pop handlers until the stack is `depth` deep, calling their exit hooks (error unwinding). */
void tre_stack_unwind(tre_ctx *ctx, int depth);
/* A step-scoped messenger with the given callbacks and zeroed state of `state_bytes`. */
tre_messenger *tre_messenger_new(tre_ctx *ctx, const char *kind, size_t state_bytes);
/* Default actions of apply_stack for param and subsample messages. */
tre_tensor *tre_param_store_read(tre_ctx *ctx, const tre_msg *msg);
tre_tensor *tre_subsample_draw(tre_ctx *ctx, const tre_msg *msg);
/* Trace internals (trace_struct.c). */
tre_trace *tre_trace_new(tre_ctx *ctx);
tre_status tre_trace_add(tre_ctx *ctx, tre_trace *tr, const tre_msg *msg);
void tre_trace_set_io(tre_trace *tr, const void *args, tre_tensor *ret);
#endif
