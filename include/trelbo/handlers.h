/* Ready-made handlers (docs/SPEC.md section 4). Each constructor returns a step-scoped
 * messenger to push (tre_push / tre_pop) or to pass to tre_run; NULL on bad arguments, with
 * the context in the error state and a message naming the argument. */
#ifndef TRELBO_HANDLERS_H
#define TRELBO_HANDLERS_H

#include "trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* trace: records every message reaching its postprocess. */
tre_messenger *tre_trace_handler(tre_ctx *ctx);
tre_trace *tre_trace_handler_trace(tre_messenger *m);

/* replay: reuse sample values of `trace` and/or constrained param values of `params`
 * (at least one of the two). */
tre_messenger *tre_replay_handler(tre_ctx *ctx, const tre_trace *trace, const tre_dict *params);

/* block: sets stop on the sites it hides. Exactly Pyro's rules: with no lists at all every
 * site is hidden; types are "sample", "param", "subsample", "observe" (observed samples) and
 * "deterministic".
 * A plate's index site is of type "sample", as in Pyro, and also of type "subsample" (which
 * names index sites alone). */
typedef struct tre_block_opts {
    const char *const *hide;          int n_hide;
    const char *const *expose;        int n_expose;
    const char *const *hide_types;    int n_hide_types;
    const char *const *expose_types;  int n_expose_types;
    bool (*hide_fn)(const tre_msg *msg, void *user);  /* a predicate: true hides */
    void *hide_fn_user;
} tre_block_opts;
tre_messenger *tre_block_handler(tre_ctx *ctx, const tre_block_opts *opts);

/* condition: sample sites named in data take that value and become observed. */
tre_messenger *tre_condition_handler(tre_ctx *ctx, const tre_dict *data);
/* substitute: param sites named in data take that value instead of the store's. */
tre_messenger *tre_substitute_handler(tre_ctx *ctx, const tre_dict *data);
/* scale: multiplies every message's scale by s (> 0). */
tre_messenger *tre_scale_handler(tre_ctx *ctx, double s);
/* mask: ANDs a mask (nonzero = keep) into every message's mask. */
tre_messenger *tre_mask_handler(tre_ctx *ctx, const tre_tensor *mask);
/* seed: sampling inside restarts the Philox stream at seed; the outer stream resumes after. */
tre_messenger *tre_seed_handler(tre_ctx *ctx, uint64_t seed);

/* plate: a vectorized conditional-independence context, pushed at once. subsample_size == size
 * means no subsampling; 0 (Pyro's subsample_size=None) means none either, unless the plate's
 * index site (a site named as the plate) is given a minibatch by a handler: a model replayed
 * against a guide that subsamples takes the guide's indices, and their number, as in Pyro;
 * condition can fix them too (int32 [n], extent 1). dim 0 picks the rightmost free batch dim,
 * else a negative dim. Returns the plate's indices (int32, extent 1, [subsample size]); NULL
 * on error. */
tre_tensor *tre_plate(tre_ctx *ctx, const char *name, int64_t size, int64_t subsample_size);
tre_tensor *tre_plate_dim(tre_ctx *ctx, const char *name, int64_t size, int64_t subsample_size,
                          int dim);
/* Pops the innermost plate (it must be on top of the stack). */
tre_status tre_plate_end(tre_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
