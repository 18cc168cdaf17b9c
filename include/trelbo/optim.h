/* Optimisers over the param store, and the SVI step (loss and gradient, then an update). */
#ifndef TRELBO_OPTIM_H
#define TRELBO_OPTIM_H

#include "infer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tre_adam tre_adam;

typedef struct tre_adam_opts {
    double lr;          /* learning rate (0: 1e-3) */
    double beta1, beta2;/* (0, 0: 0.9, 0.999) */
    double eps;         /* (0: 1e-8) */
    double weight_decay;
    /* ClippedAdam (Pyro's): clip each gradient element to [-clip_norm, clip_norm] (0: off) and
     * multiply each param's lr by lrd before each of its updates (0: 1), so that its t-th update
     * uses lr * lrd^t, as Pyro's per-param ClippedAdam does. */
    double clip_norm;
    double lrd;
} tre_adam_opts;

/* Adam over the context's param store, as Pyro's SVI: each step updates the params that the
 * last evaluation with gradients used (tre_param_entry.in_step); a param that a step did not
 * use keeps its value, moments and rate. Params created later join on their first step. State
 * (moments, step count, decayed rate) is kept per param; a param removed from the store loses
 * it, and one re-created under the same name starts afresh. An optimiser belongs to the context
 * it was created with. A step that fails before updating (out of memory for a new param's
 * moments) changes nothing. */
tre_status tre_adam_create(tre_ctx *ctx, const tre_adam_opts *opts, tre_adam **out);
/* Frees the optimiser and its moments, with its own context (or NULL, or any other context,
 * when that one is gone: then only host memory is freed, the context freed the moments). */
void tre_adam_destroy(tre_ctx *ctx, tre_adam *opt);
/* One update from the gradients in the store (tre_param_entry.grad). */
tre_status tre_adam_step(tre_ctx *ctx, tre_adam *opt);
/* lr * lrd^(steps done): the rate the latest step used for a param updated in every step. */
double tre_adam_lr(const tre_adam *opt);
/* Save the optimiser's state (per param: moments, step count, decayed rate) to a file, or
 * merge a saved one into it, as Pyro's PyroOptim.save / load: each saved state replaces the
 * state of the store's param of its name, and the states of params the file does not hold are
 * kept as they are (a param that joined after the save goes on with its own moments, step count
 * and rate). tre_adam_lr becomes the file's. The hyperparameters are the optimiser's own
 * (tre_adam_opts), not the file's. A saved state belongs to a param of the store by name and
 * must match its unconstrained shape: load the param store first. Errors name the path and the
 * param (TRE_ERR_IO for a file that cannot be read or is damaged, TRE_ERR_PARAM for a param
 * missing or of another shape, or the backend's error when the state cannot be put on it) and
 * leave the state as it was: it changes only once every saved state is complete. Not inside a
 * model or guide; loading ends the current step. Same file handling as tre_param_store_save. */
tre_status tre_adam_save(tre_ctx *ctx, const tre_adam *opt, const char *path);
tre_status tre_adam_load(tre_ctx *ctx, tre_adam *opt, const char *path);

/* One SVI step: tre_elbo with gradients, then tre_adam_step. *loss receives the loss, or NaN
 * when the step fails. A step whose evaluation fails, or whose update cannot make a new param's
 * moments (out of memory), changes no param. If the backend fails inside the update itself
 * (a device fault), params updated before the failing one keep their update. */
tre_status tre_svi_step(tre_ctx *ctx, tre_program model, tre_program guide, const void *args,
                        const tre_elbo_opts *opts, tre_adam *opt, double *loss);

/* ---- one graph per static SVI step ----------------------------------------------------------
 * tre_svi_step_graphed is tre_svi_step for a training loop: the same results, bit for bit (the
 * same loss trajectory, params and random numbers), but on a backend with launch graphs (CUDA)
 * a step whose program is static is captured once and then replayed with one launch, instead of
 * running the host program and one launch per op every step. The first steps run eagerly; once
 * a step's program (sites, ops, shapes, host constants, random ops) repeats the previous one,
 * the next step is captured and later steps replay it, then download the loss and check
 * it and the gradients for NaN/Inf before the Adam update (which runs outside the graph). A
 * replay with a non-finite loss or gradient is not applied: that step runs again eagerly and
 * returns the usual error naming the site or param.
 * Replayed steps do not run the host program: validation (which the eager steps did), warnings
 * and host-side effects of the model and guide do not happen, and a host value they read (a
 * constant computed from args, a tre_scale_handler factor) stays as captured; a program whose
 * host values change between steps must use tre_svi_step. Steps are run eagerly for good (no
 * error) when the backend has no graphs (CPU), for RenyiELBO (it reads elbo_s on the host
 * mid-step), with a subsampled plate or a seed handler inside the step, when the step needs
 * the host mid-step (tre_tensor_to_host in the model, a sync or a growth of backend scratch
 * during the capture), when the backend cannot capture the step, or after 3 captures whose
 * program differed from the step before (the program changes from step to step);
 * tre_step_graph_stats_get gives the reason. The index checks of
 * tre_index_select and tre_vecdot_index_select run in the eager steps; in a replay an index
 * out of range gives NaN (never a read outside the tensor), so that step is rerun eagerly and
 * its error names the index. A kept graph is
 * captured again when the model, guide, args or options change, a param is added, removed or
 * replaced, or the step arena or backend scratch had to move. One tre_step_graph per loop; it
 * belongs to the context it was created with (another context is refused). */
typedef struct tre_step_graph tre_step_graph;

typedef struct tre_step_graph_stats {
    int64_t steps;         /* tre_svi_step_graphed calls */
    int64_t eager_steps;   /* steps whose host program ran eagerly (warm-up, fallback, reruns) */
    int64_t captures;      /* graphs captured and kept */
    int64_t replays;       /* steps run by launching a kept graph */
    int64_t invalidations; /* kept graphs dropped because the step or what it points to changed */
    int64_t reruns;        /* replays with a non-finite loss or gradient, rerun eagerly */
    /* NULL while steps may be graphed; else why every step runs eagerly (static text) */
    const char *eager_reason;
} tre_step_graph_stats;

tre_status tre_step_graph_create(tre_ctx *ctx, tre_step_graph **out);
/* Releases the graph; call it with its own context, before destroying that (with NULL or
 * another context, only host memory is freed). */
void tre_step_graph_destroy(tre_ctx *ctx, tre_step_graph *graph);
/* One SVI step, as tre_svi_step, captured or replayed through `graph` where possible. */
tre_status tre_svi_step_graphed(tre_ctx *ctx, tre_step_graph *graph, tre_program model,
                                tre_program guide, const void *args, const tre_elbo_opts *opts,
                                tre_adam *opt, double *loss);
void tre_step_graph_stats_get(const tre_step_graph *graph, tre_step_graph_stats *out);

#ifdef __cplusplus
}
#endif
#endif
