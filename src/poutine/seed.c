/* seed handler: sampling inside it restarts the Philox stream at a fixed key, so the same seed
 * draws bit-identical values (on either backend); leaving it puts the outer key and counter
 * back, so the outer sampling goes on as if the block had drawn nothing (SPEC.md section 4). */
#include "poutine_impl.h"

typedef struct seed_state {
    uint64_t seed;
    uint64_t saved_seed, saved_stream;
} seed_state;

static tre_status seed_enter(tre_ctx *ctx, tre_messenger *self) {
    seed_state *st = self->state;
    st->saved_seed = ctx->seed;
    st->saved_stream = ctx->rng_stream;
    ctx->seed = st->seed;
    ctx->rng_stream = 0;
    /* a graph replay shifts every random op by the steps between; a seeded block must not move */
    ctx->step_dynamic = "a seed handler inside the step pins its random numbers";
    return TRE_OK;
}

/* also runs when tre_run unwinds after an error, so the outer stream survives a failed run */
static void seed_exit(tre_ctx *ctx, tre_messenger *self) {
    const seed_state *st = self->state;
    ctx->seed = st->saved_seed;
    ctx->rng_stream = st->saved_stream;
}

tre_messenger *tre_seed_handler(tre_ctx *ctx, uint64_t seed) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    tre_messenger *m = tre_messenger_new(ctx, "seed", sizeof(seed_state));
    if (!m) return NULL;
    ((seed_state *)m->state)->seed = seed;
    m->enter = seed_enter;
    m->exit = seed_exit;
    return m;
}
