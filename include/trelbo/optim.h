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
     * multiply lr by lrd after every step (0: 1). */
    double clip_norm;
    double lrd;
} tre_adam_opts;

/* Adam over every param of the context's store (params created later join on first step).
 * State (moments) is kept per param name; a param removed from the store loses it. */
tre_status tre_adam_create(tre_ctx *ctx, const tre_adam_opts *opts, tre_adam **out);
void tre_adam_destroy(tre_ctx *ctx, tre_adam *opt);
/* One update from the gradients in the store (tre_param_entry.grad). */
tre_status tre_adam_step(tre_ctx *ctx, tre_adam *opt);
double tre_adam_lr(const tre_adam *opt);

/* One SVI step: tre_elbo with gradients, then tre_adam_step. *loss receives the loss. */
tre_status tre_svi_step(tre_ctx *ctx, tre_program model, tre_program guide, const void *args,
                        const tre_elbo_opts *opts, tre_adam *opt, double *loss);

#ifdef __cplusplus
}
#endif
#endif
