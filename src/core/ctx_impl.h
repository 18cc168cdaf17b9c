/* The context's layout and the helpers every host module uses (not part of the public API). */
#ifndef TRELBO_CORE_CTX_IMPL_H
#define TRELBO_CORE_CTX_IMPL_H

#include "trelbo.h"
#include "../../kernels/backend.h"
#include "arena.h"
#include "strmap.h"

#define TRE_MAX_STACK 64
#define TRE_ERR_LEN 1024

typedef struct tre_ptensor tre_ptensor;   /* a persistent tensor on the context's list */

typedef struct tre_param_store {
    tre_strmap by_name;          /* name -> tre_param_entry* */
    tre_param_entry **entries;   /* insertion order */
    int64_t count, cap;
    uint64_t generation;         /* bumped when an entry or its gradient buffer comes or goes */
    uint64_t next_id;            /* entry ids: unique over the context's lifetime */
} tre_param_store;

/* A store entry with what only the library sees (the public part first). */
typedef struct tre_param_entry_impl {
    tre_param_entry pub;
    uint64_t id;                 /* a removed and re-created param gets a new one */
    uint64_t read_step;          /* ctx->step_serial of the last step that read it */
    bool had_grad;               /* some evaluation has sent it a gradient */
} tre_param_entry_impl;
static inline uint64_t tre_param_entry_id(const tre_param_entry *e) {
    return ((const tre_param_entry_impl *)e)->id;
}

struct tre_ctx {
    tre_backend *be;
    tre_status status;
    char error[TRE_ERR_LEN];
    tre_warn_fn warn;
    void *warn_user;
    bool validate;
    bool error_needs_site;  /* the error came from a distribution constructor: the next
                               tre_sample names its site */

    uint64_t nonce;         /* drawn at creation: tre_ctx_ref tells a context from a later one
                               at the same address */
    uint64_t seed;          /* Philox key of the current stream */
    uint64_t rng_stream;    /* random ops drawn so far under that key */
    int64_t particles;

    tre_arena host;         /* step-scoped host structures */
    tre_arena data;         /* step-scoped backend buffers */

    tre_messenger *stack[TRE_MAX_STACK];
    int depth;
    int running;            /* tre_run calls in progress (nested runs count each) */
    const char *plate_dim_owner[TRE_MAX_DIMS]; /* dims -1 .. -TRE_MAX_DIMS: the active plate holding it */
    /* plates entered during the current program run, by name: re-entering one (Pyro's
     * `with plate:` twice) reuses its dim and indices instead of declaring a new index site */
    tre_strmap plate_memo;

    bool grad_recording;          /* ops append to the tape */
    struct tre_grad_node **tape;  /* step-scoped, forward order */
    int64_t tape_len, tape_cap;

    tre_param_store params;
    uint64_t step_serial;      /* steps begun (tre_ctx_step_reset calls) */
    uint64_t *warned;          /* hashes of warnings given: each is given once (Python's default) */
    int n_warned, cap_warned;
    tre_ptensor *persistent;   /* list of live persistent tensors */

    /* Step graphs (src/infer/step_graph.c): while step_sig_on, the front-end mixes what a step
     * queues (tensor shapes, host constants, tape ops) into step_sig, so two steps can be seen
     * to be the same program; step_dynamic names what made the current step unrepeatable by a
     * graph (NULL: nothing). Both are reset with the step. */
    bool step_sig_on;
    uint64_t step_sig;
    const char *step_dynamic;
    /* a step graph's capture is recording the step: nothing runs, the host cannot read back */
    bool capturing;
};

/* Whether a program runs (with or without handlers) or a step is captured: the step's values,
 * tape and arenas are in use, so nothing may free them (memory trim, param removal). */
static inline bool tre_ctx_in_program(const tre_ctx *ctx) {
    return ctx->running > 0 || ctx->depth > 0 || ctx->capturing;
}

/* True while the context has no sticky error. */
static inline bool tre_ok(const tre_ctx *ctx) { return ctx->status == TRE_OK; }

/* Step-scoped host memory (zeroed); NULL with TRE_ERR_OUT_OF_MEMORY set on failure. */
void *tre_step_alloc(tre_ctx *ctx, size_t bytes);
char *tre_step_strdup(tre_ctx *ctx, const char *s);
/* tre_step_alloc as a tre_strmap allocator (user: the context): step-scoped maps. */
void *tre_step_alloc_cb(void *ctx, size_t bytes);
/* Step-scoped backend buffer of `bytes`; NULL with the error set on failure. */
void *tre_step_data(tre_ctx *ctx, size_t bytes);
/* Prefix the sticky error with site "name" unless it already names that site. */
void tre_ctx_name_site(tre_ctx *ctx, const char *site);
/* Map a backend return code to the sticky error. Returns the context's status for rc 0, else
 * this failure's own status (even where an earlier error is pending and keeps the message). */
tre_status tre_backend_check(tre_ctx *ctx, int rc, const char *what);
/* The error for a NULL from the backend's alloc: out of memory, or the device failure that
 * the backend names as its cause. `what` names the caller. */
tre_status tre_backend_alloc_failed(tre_ctx *ctx, const char *what, size_t bytes);
/* Drops the cause of a backend failure that the host handled itself (a capture it gave up
 * on), so that it cannot be reported for a later failure. */
void tre_backend_forget_failure(tre_ctx *ctx);
/* 64-bit FNV-1a of n bytes, continued from h (start from TRE_FNV_OFFSET). */
#define TRE_FNV_OFFSET 0xcbf29ce484222325ull
static inline uint64_t tre_fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
/* The calls that report their own outcome while an earlier error is pending (ctx.h) run with
 * that error set aside, as if there were none; afterwards it is put back unless the call
 * failed, whose own error then replaces it. put_back returns the call's status. */
typedef struct tre_error_aside {
    tre_status status;
    bool needs_site;
    char error[TRE_ERR_LEN];
} tre_error_aside;
void tre_error_set_aside(tre_ctx *ctx, tre_error_aside *a);
tre_status tre_error_put_back(tre_ctx *ctx, const tre_error_aside *a, tre_status own);

/* A context as named by an object that may outlive it (an optimiser, a step graph): its address
 * and its nonce, so that a new context created at a destroyed one's address is not taken for
 * it (the object would free or update memory of the dead context's backend). */
typedef struct tre_ctx_ref {
    const tre_ctx *ctx;
    uint64_t nonce;
} tre_ctx_ref;
static inline tre_ctx_ref tre_ctx_ref_of(const tre_ctx *ctx) { return (tre_ctx_ref){ctx, ctx->nonce}; }
static inline bool tre_ctx_ref_is(tre_ctx_ref r, const tre_ctx *ctx) {
    return ctx && r.ctx == ctx && ctx->nonce == r.nonce;
}

/* Mix n bytes into the step signature (a no-op unless a step graph asked for it). */
void tre_step_sig_mix(tre_ctx *ctx, const void *p, size_t n);
/* Validation is not part of a step's program (a graph capture skips it): checks pause the
 * signature and resume it with the returned state. */
static inline bool tre_step_sig_pause(tre_ctx *ctx) {
    bool on = ctx->step_sig_on;
    ctx->step_sig_on = false;
    return on;
}
/* Next random op number of the context's stream. */
uint64_t tre_rng_next_stream(tre_ctx *ctx);
void tre_warn(tre_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Forget the plates of the previous program run (tre_run and the step reset call it). */
void tre_plate_memo_reset(tre_ctx *ctx);
/* Param store lifetime (src/params). */
void tre_param_store_init(tre_ctx *ctx);
void tre_param_store_release(tre_ctx *ctx);
/* Copy each param's step gradient d loss / d u into its persistent entry->grad (0 when the
 * step did not touch it), then drop the step references. */
tre_status tre_param_store_collect_grads(tre_ctx *ctx);
void tre_param_store_forget_step_grads(tre_ctx *ctx);
/* Persistent tensors (src/tensor): release every live one. */
void tre_persistent_release_all(tre_ctx *ctx);

#endif
