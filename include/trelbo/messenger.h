/* Messages, the messenger (effect handler) stack, and the sample primitive.
 * docs/SPEC.md section 2: apply_stack walks handlers innermost first calling process
 * (stopping after one that sets stop), runs the default action if the message is not done,
 * then calls postprocess on the visited handlers outermost first. */
#ifndef TRELBO_MESSENGER_H
#define TRELBO_MESSENGER_H

#include "dist.h"
#include "param.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRE_MAX_PLATES 8
#define TRE_MAX_INFER 4

typedef enum tre_site_type {
    TRE_SITE_SAMPLE = 0,
    TRE_SITE_PARAM,
    TRE_SITE_SUBSAMPLE,  /* a plate's index site: a sample site whose value is the indices */
    TRE_SITE_DETERMINISTIC /* tre_deterministic: a value recorded by name, no log-density */
} tre_site_type;

const char *tre_site_type_name(tre_site_type t);

/* A small string key/value set (Pyro's msg["infer"]), e.g. {"is_auxiliary": "true"}. */
typedef struct tre_infer {
    int n;
    const char *keys[TRE_MAX_INFER];
    const char *values[TRE_MAX_INFER];
} tre_infer;
const char *tre_infer_get(const tre_infer *inf, const char *key);
bool tre_infer_set(tre_infer *inf, const char *key, const char *value);

/* A plate's frame in a message's cond_indep_stack. */
typedef struct tre_frame {
    const char *name;
    int dim;                  /* negative, counted from the right of the batch shape */
    int64_t size;             /* full size */
    int64_t subsample_size;   /* == size without subsampling */
    const tre_tensor *indices;/* int32 [subsample_size] */
} tre_frame;

typedef struct tre_msg {
    tre_site_type type;
    const char *name;
    const tre_dist *fn;           /* sample: the distribution; NULL for params */
    const tre_tensor *init;       /* param: init value (may be NULL) */
    tre_constraint constraint;    /* param: constraint */
    int64_t subsample_size;       /* subsample: sizes of the plate */
    int64_t size;
    tre_tensor *value;
    bool is_observed;
    tre_infer infer;
    double scale;                 /* 1 by default */
    const tre_tensor *mask;       /* NULL: no mask; else nonzero = keep, broadcast on batch */
    int n_frames;                 /* cond_indep_stack, outermost first */
    tre_frame frames[TRE_MAX_PLATES];
    bool done;
    bool stop;
} tre_msg;

typedef struct tre_messenger tre_messenger;
typedef tre_status (*tre_msg_fn)(tre_ctx *ctx, tre_messenger *self, tre_msg *msg);

/* A handler. Users write their own by filling one in (process and postprocess may be NULL)
 * and pushing it; on errors a callback returns a status (tre_ctx_fail gives it a message). */
struct tre_messenger {
    const char *kind;           /* "trace", "replay", ... used in error messages */
    tre_msg_fn process;
    tre_msg_fn postprocess;
    tre_status (*enter)(tre_ctx *ctx, tre_messenger *self);  /* on push (optional) */
    void (*exit)(tre_ctx *ctx, tre_messenger *self);         /* on pop (optional) */
    /* Called by tre_run after the program returned (optional): the trace handler records its
     * input and _RETURN nodes with it. */
    void (*on_return)(tre_ctx *ctx, tre_messenger *self, const void *args, tre_tensor *ret);
    void *state;
};

tre_status tre_push(tre_ctx *ctx, tre_messenger *m);
tre_status tre_pop(tre_ctx *ctx, tre_messenger *m);
int tre_stack_depth(const tre_ctx *ctx);

/* Send a message through the stack (apply_stack). Returns the context's status. */
tre_status tre_apply_stack(tre_ctx *ctx, tre_msg *msg);

/* The sample primitive. obs non-NULL makes the site observed. Returns the site value. */
tre_tensor *tre_sample(tre_ctx *ctx, const char *name, const tre_dist *fn, const tre_tensor *obs);
typedef struct tre_sample_opts {
    const tre_tensor *obs;
    const tre_infer *infer;
} tre_sample_opts;
tre_tensor *tre_sample_ex(tre_ctx *ctx, const char *name, const tre_dist *fn,
                          const tre_sample_opts *opts);

/* Pyro's factor: adds log_factor (any shape; inside plates its batch dims are theirs, and the
 * handlers' scale and mask apply) to the log-density of the program it is called in, as an
 * observed site `name` of Unit(log_factor) marked is_auxiliary. In a model it adds to log p,
 * and gradients flow through log_factor pathwise.
 * In a guide it counts in log q (the ELBO subtracts it), and, as in Pyro, the guide must say
 * how log_factor arose, with tre_factor_ex: has_rsample true when from reparameterized
 * sampling (say a Jacobian of a transform of a reparameterized draw): then it is
 * differentiated pathwise; false when from non-reparameterized sampling (discrete draws): then
 * Trace_ELBO gives it a score-function term, its unscaled log_factor times the downstream cost,
 * and no pathwise term, as Pyro's Unit(has_rsample=False) (RenyiELBO: alpha / (1 - alpha)
 * times its log-density; TraceMeanField_ELBO refuses it, as Pyro does). A tre_factor in a
 * guide is an error naming the site when the ELBO checks model and guide. */
tre_status tre_factor(tre_ctx *ctx, const char *name, const tre_tensor *log_factor);
tre_status tre_factor_ex(tre_ctx *ctx, const char *name, const tre_tensor *log_factor, bool has_rsample);

/* Pyro's and NumPyro's deterministic: records `value` (any tensor, typically a function of
 * sampled sites) in the trace under `name`, so that it can be read back from a model's or a
 * guide's trace, and returns it. It adds nothing to any log-density and no estimator reads it.
 * As in NumPyro it is a site type of its own (TRE_SITE_DETERMINISTIC; block's type list calls
 * it "deterministic"); replay and condition leave it alone, so a guide's deterministic site
 * never overrides the model's of the same name. (Pyro records it as an observed sample site of
 * a masked Delta, which also contributes nothing.) Its name must be unique among sample and
 * deterministic sites. Returns NULL on error. */
tre_tensor *tre_deterministic(tre_ctx *ctx, const char *name, tre_tensor *value);

/* A model or guide: a plain C function, run once per evaluation whatever P is. */
typedef tre_tensor *(*tre_program)(tre_ctx *ctx, const void *args);

/* Run fn under handlers[0] (outermost) ... handlers[n-1] (innermost): push them in that order,
 * call fn, tell each its return value, pop them all (also on error). Returns the context's
 * status; *ret (may be NULL) receives the return value. */
tre_status tre_run(tre_ctx *ctx, tre_program fn, const void *args, tre_messenger *const *handlers,
                   int n, tre_tensor **ret);

/* A step-scoped name -> tensor map, for replay's params, condition and substitute. */
typedef struct tre_dict tre_dict;
tre_dict *tre_dict_new(tre_ctx *ctx);
tre_status tre_dict_set(tre_ctx *ctx, tre_dict *d, const char *name, tre_tensor *value);
tre_tensor *tre_dict_get(const tre_dict *d, const char *name);
int64_t tre_dict_size(const tre_dict *d);

#ifdef __cplusplus
}
#endif
#endif
