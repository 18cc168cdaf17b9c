/* The param store: named unconstrained tensors and their constraints. */
#ifndef TRELBO_PARAM_H
#define TRELBO_PARAM_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tre_constraint_kind {
    TRE_REAL = 0,         /* identity */
    TRE_POSITIVE,         /* exp */
    TRE_SOFTPLUS_POSITIVE,/* softplus */
    TRE_GREATER_THAN,     /* lower + exp(u) */
    TRE_UNIT_INTERVAL,    /* sigmoid */
    TRE_INTERVAL,         /* lower + (upper - lower) * sigmoid(u) */
    TRE_SIMPLEX,          /* stick-breaking over the last dim: K-1 unconstrained -> K (as
                           * NumPyro's biject_to; Pyro's param store takes a softmax of K) */
    TRE_LOWER_CHOLESKY    /* strictly-lower part as is, exp on the diagonal */
} tre_constraint_kind;

typedef struct tre_constraint {
    tre_constraint_kind kind;
    float lower, upper;   /* for GREATER_THAN (lower) and INTERVAL */
} tre_constraint;

/* Shorthands for constraint literals. */
#define TRE_C_REAL ((tre_constraint){TRE_REAL, 0.f, 0.f})
#define TRE_C_POSITIVE ((tre_constraint){TRE_POSITIVE, 0.f, 0.f})
#define TRE_C_UNIT_INTERVAL ((tre_constraint){TRE_UNIT_INTERVAL, 0.f, 0.f})
#define TRE_C_GREATER_THAN(a) ((tre_constraint){TRE_GREATER_THAN, (a), 0.f})
#define TRE_C_INTERVAL(a, b) ((tre_constraint){TRE_INTERVAL, (a), (b)})
#define TRE_C_SIMPLEX ((tre_constraint){TRE_SIMPLEX, 0.f, 0.f})
#define TRE_C_LOWER_CHOLESKY ((tre_constraint){TRE_LOWER_CHOLESKY, 0.f, 0.f})

/* An entry of the store. `unconstrained` is persistent and owned by the store. */
typedef struct tre_param_entry {
    const char *name;
    tre_constraint constraint;
    tre_tensor *unconstrained;
    /* d loss / d unconstrained of the last evaluation with gradients (persistent, same shape) */
    tre_tensor *grad;
    /* whether that evaluation used the param (sent it a gradient, or read it from the store
     * after some earlier evaluation had sent it one): tre_adam_step updates only those, as
     * Pyro's SVI with torch's optimisers (a param read but never differentiated has .grad None
     * and is skipped; after a gradient, zero_grads leaves zeros, which are stepped) */
    bool in_step;
} tre_param_entry;

/* The param primitive (goes through the handler stack as a "param" message). On first use it
 * stores T^-1(init); later calls ignore init and constraint (as Pyro's param store does: the
 * stored constraint stays) and return T(u), a step-scoped constrained value
 * whose `param` field names its entry. init NULL for a missing param is an error, and so is a
 * constraint with bounds that are not finite (greater_than's lower; an interval's, which needs
 * lower < upper) or an init of a shape it does not take (the transforms' rules, below). */
tre_tensor *tre_param(tre_ctx *ctx, const char *name, const tre_tensor *init,
                      tre_constraint constraint);

/* Store access outside the stack. */
const tre_param_entry *tre_param_store_get(const tre_ctx *ctx, const char *name);
int64_t tre_param_store_size(const tre_ctx *ctx);
const tre_param_entry *tre_param_store_at(const tre_ctx *ctx, int64_t i);
/* Remove one param, or all. Between steps only: inside a model or guide (or a step capture)
 * they fail, and otherwise they end the current step first, so values from that step are no
 * longer valid afterwards (as after the next evaluation). */
tre_status tre_param_store_remove(tre_ctx *ctx, const char *name);
tre_status tre_param_store_clear(tre_ctx *ctx);
/* Save the store to a file (each param's name, constraint and unconstrained value), or merge
 * a saved one into the store, as Pyro's ParamStoreDict.save / load: each saved param replaces
 * the one of its name, or joins the store; the others stay. A loaded param is a new param to an
 * optimiser (load the optimiser's state after the store's to continue it: tre_adam_load).
 * Not inside a model or guide (or a step capture); loading ends the current step first, as
 * removing does. The file is written to "<path>.tmp" and renamed over path when complete, so a
 * run stopped during a save keeps its previous file (it is fsync'ed before the rename). A file
 * that cannot be read, is not a param store, or is cut short or damaged (a checksum covers every
 * byte) gives TRE_ERR_IO naming the path, and leaves the store as it was; so does one holding a
 * param that tre_param would not make (an unknown constraint, bounds that are not finite or an
 * interval's lower >= upper, an unconstrained value of a shape its constraint does not take:
 * simplex needs a dim, lower_cholesky a square [..., n, n]) or a name twice, and that error
 * names the param too; and so does a load whose values cannot all be put on the backend (out of
 * memory, a failed upload): every record is checked before the store changes. The format is
 * trelbo's own (versioned), in the machine's byte order. */
tre_status tre_param_store_save(tre_ctx *ctx, const char *path);
tre_status tre_param_store_load(tre_ctx *ctx, const char *path);
/* The constrained value T(u) of an entry (step-scoped). */
tre_tensor *tre_param_constrained(tre_ctx *ctx, const tre_param_entry *e);

/* Constraint transforms on tensors (step-scoped results); used by the store and by tests. */
tre_tensor *tre_transform_to(tre_ctx *ctx, tre_constraint c, const tre_tensor *u);   /* T(u) */
tre_tensor *tre_transform_inv(tre_ctx *ctx, tre_constraint c, const tre_tensor *y);  /* T^-1(y) */
/* log |det dT/du| per particle summed over the whole tensor (extent kept, shape []). */
tre_tensor *tre_transform_log_abs_det_jacobian(tre_ctx *ctx, tre_constraint c,
                                               const tre_tensor *u);

#ifdef __cplusplus
}
#endif
#endif
