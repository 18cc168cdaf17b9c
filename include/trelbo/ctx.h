/* The context: everything (backend, RNG, param store, handler stack, arenas) hangs off it. */
#ifndef TRELBO_CTX_H
#define TRELBO_CTX_H

#include <stdbool.h>
#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tre_ctx tre_ctx;

typedef enum tre_backend_kind {
    TRE_BACKEND_AUTO = 0, /* CUDA when a device and the CUDA backend exist, else CPU;
                             the TRELBO_BACKEND environment variable (cpu|cuda) overrides */
    TRE_BACKEND_CPU,
    TRE_BACKEND_CUDA
} tre_backend_kind;

/* Called for warnings (e.g. a model site missing from the guide); each distinct message once
 * per context, as Python's default warnings filter does. */
typedef void (*tre_warn_fn)(void *user, const char *message);

typedef struct tre_ctx_opts {
    tre_backend_kind backend;
    uint64_t seed;            /* seed of the context's Philox stream */
    bool no_validation;       /* skip distribution argument / support checks */
    tre_warn_fn warn;         /* NULL: print "trelbo warning: ..." to stderr */
    void *warn_user;
} tre_ctx_opts;

/* opts may be NULL (AUTO backend, seed 0, validation on). A CUDA context lives on the device
 * current in the creating thread (cudaSetDevice before tre_ctx_create picks another); any
 * thread may then use it, one at a time: each call runs on the context's device and leaves the
 * calling thread's current device as it found it. */
tre_status tre_ctx_create(tre_ctx **out, const tre_ctx_opts *opts);
void tre_ctx_destroy(tre_ctx *ctx);

/* The backend actually in use ("cpu" or "cuda"). */
const char *tre_ctx_backend_name(const tre_ctx *ctx);

/* Sticky error state. After an error inside a model run, ops become no-ops returning NULL and
 * the enclosing public call returns the error. tre_ctx_error gives its text ("" when none)
 * until tre_ctx_clear_error or the next step (tre_ctx_step_reset) clears it. The calls that
 * move data between host and tensors (tre_tensor_create, tre_tensor_write, tre_tensor_to_host)
 * and the checkpoint calls (tre_param_store_save / _load, tre_adam_save / _load) return their
 * own outcome even while an earlier error is pending, so that a training loop can refill its
 * data or save a checkpoint after a failed step. */
tre_status tre_ctx_status(const tre_ctx *ctx);
const char *tre_ctx_error(const tre_ctx *ctx);
void tre_ctx_clear_error(tre_ctx *ctx);
/* Put the context in the error state (first error wins); returns s. For user handlers. */
tre_status tre_ctx_fail(tre_ctx *ctx, tre_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Wait until the backend has finished all queued work (a no-op on the CPU backend). */
tre_status tre_ctx_sync(tre_ctx *ctx);

/* Particle extent P of values sampled from now on (tre_elbo sets it for its evaluation). */
tre_status tre_ctx_set_particles(tre_ctx *ctx, int64_t particles);
int64_t tre_ctx_particles(const tre_ctx *ctx);

/* Where the context's random stream stands: its random ops draw, in turn, from the Philox
 * streams at positions 0, 1, 2, ... under its seed. A training loop resumed from a checkpoint
 * (tre_param_store_save, tre_adam_save, and this position) in a context made with the same
 * seed draws the numbers the uninterrupted run would have drawn once it sets the position
 * saved with it (torch.get_rng_state / set_rng_state). Setting is for between steps: inside a
 * model or guide, or a step capture, it fails. */
uint64_t tre_ctx_rng_position(const tre_ctx *ctx);
tre_status tre_ctx_set_rng_position(tre_ctx *ctx, uint64_t position);

/* Start a new step: pops every handler still on the stack (calling its exit hook), releases
 * every step-scoped object (tensors made by ops, traces, handlers made by the constructors,
 * dicts) and clears the error state. After the first step the step
 * arena does not allocate again while the step's footprint does not grow. tre_elbo calls it.
 * Inside a model or guide (or a step capture) it refuses: the error is set, nothing is reset. */
void tre_ctx_step_reset(tre_ctx *ctx);

/* Bytes held by the step arenas (host structures, backend data) and how many times they had to
 * ask the system for memory since creation; lets a training loop check it stopped allocating.
 * backend_bytes: all the memory the backend holds for this context now (on CUDA the device
 * memory: tensors, params, the step arena, scratch, the cuBLAS workspace; on the CPU the same
 * blocks in host memory); backend_peak_bytes: the most it held at once since the context was
 * created or tre_ctx_memory_reset_peak. */
typedef struct tre_ctx_memory {
    uint64_t host_bytes, data_bytes;
    uint64_t host_grows, data_grows;
    uint64_t backend_bytes, backend_peak_bytes;
} tre_ctx_memory;
void tre_ctx_memory_stats(const tre_ctx *ctx, tre_ctx_memory *out);
/* Starts backend_peak_bytes again from what the backend holds now (e.g. to measure one phase). */
void tre_ctx_memory_reset_peak(tre_ctx *ctx);
/* Gives back the memory that a larger step left the context holding: the step arenas and the
 * backend's scratch, which otherwise keep the largest size any step needed (e.g. after one
 * evaluation with many more particles than training uses). Starts a new step first, as
 * tre_ctx_step_reset does, so the last step's tensors are gone; params and tensors made with
 * tre_tensor_create are kept. The next step grows the arenas again to what it needs, and a
 * tre_step_graph captured before is captured again. Not inside a model or a capture. */
tre_status tre_ctx_memory_trim(tre_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
