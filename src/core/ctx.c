/* Context lifetime, backend choice, step arenas and the random stream. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "ctx_impl.h"

static void *host_alloc(void *user, size_t bytes) { (void)user; return malloc(bytes); }
static void host_free(void *user, void *p) { (void)user; free(p); }
static void *data_alloc(void *user, size_t bytes) {
    tre_backend *be = user;
    return be->alloc(be->impl, bytes);
}
static void data_free(void *user, void *p) {
    tre_backend *be = user;
    be->free(be->impl, p);
}

static tre_status pick_backend(tre_backend_kind kind, tre_backend **out) {
    const char *env = getenv("TRELBO_BACKEND");
    if (kind == TRE_BACKEND_AUTO && env && *env) {
        if (strcmp(env, "cpu") == 0) kind = TRE_BACKEND_CPU;
        else if (strcmp(env, "cuda") == 0) kind = TRE_BACKEND_CUDA;
        else return TRE_ERR_INVALID_ARG;
    }
    if (kind != TRE_BACKEND_AUTO && kind != TRE_BACKEND_CPU && kind != TRE_BACKEND_CUDA)
        return TRE_ERR_INVALID_ARG;
#ifdef TRELBO_HAVE_CUDA
    /* AUTO takes the GPU when there is one that can be set up, else falls back to the CPU */
    if (kind != TRE_BACKEND_CPU && tre_cuda_device_count() > 0) {
        *out = tre_backend_cuda_create();
        if (*out) return TRE_OK;
    }
    if (kind == TRE_BACKEND_CUDA) return TRE_ERR_BACKEND; /* no device, or its set-up failed */
#else
    if (kind == TRE_BACKEND_CUDA) return TRE_ERR_UNSUPPORTED; /* built without the CUDA backend */
#endif
    *out = tre_backend_cpu_create();
    return *out ? TRE_OK : TRE_ERR_OUT_OF_MEMORY;
}

tre_status tre_ctx_create(tre_ctx **out, const tre_ctx_opts *opts) {
    if (!out) return TRE_ERR_INVALID_ARG;
    *out = NULL;
    tre_ctx_opts o = {0};
    if (opts) o = *opts;
    tre_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return TRE_ERR_OUT_OF_MEMORY;
    tre_status s = pick_backend(o.backend, &ctx->be);
    if (s != TRE_OK) {
        free(ctx);
        return s;
    }
    /* a process-wide count: a context at a destroyed one's address gets another nonce, however
     * soon it is created and on whichever thread */
    static atomic_uint_fast64_t contexts_created = 0;
    ctx->nonce = (uint64_t)atomic_fetch_add(&contexts_created, 1) + 1;
    ctx->warn = o.warn;
    ctx->warn_user = o.warn_user;
    ctx->validate = !o.no_validation;
    ctx->seed = o.seed;
    ctx->particles = 1;
    tre_arena_init(&ctx->host, host_alloc, host_free, NULL, 64 * 1024);
    tre_arena_init(&ctx->data, data_alloc, data_free, ctx->be, 1024 * 1024);
    tre_param_store_init(ctx);
    tre_plate_memo_reset(ctx);
    *out = ctx;
    return TRE_OK;
}

void tre_ctx_destroy(tre_ctx *ctx) {
    if (!ctx) return;
    tre_param_store_release(ctx);
    tre_persistent_release_all(ctx);
    tre_arena_release(&ctx->host);
    tre_arena_release(&ctx->data);
    ctx->be->destroy(ctx->be->impl);
    free(ctx->be);
    free(ctx->warned);
    free(ctx);
}

tre_status tre_ctx_sync(tre_ctx *ctx) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    return tre_backend_check(ctx, ctx->be->sync(ctx->be->impl), "sync");
}

const char *tre_ctx_backend_name(const tre_ctx *ctx) { return ctx ? ctx->be->name : "none"; }

tre_status tre_ctx_set_particles(tre_ctx *ctx, int64_t particles) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (particles < 1 || particles > TRE_MAX_ELEMENTS)
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "particles must be in 1..2^60, got %lld",
                            (long long)particles);
    ctx->particles = particles;
    return TRE_OK;
}
int64_t tre_ctx_particles(const tre_ctx *ctx) { return ctx ? ctx->particles : 0; }

void tre_ctx_step_reset(tre_ctx *ctx) {
    if (!ctx) return;
    if (ctx->running > 0 || ctx->capturing) { /* the step's traces, tape and values are in use */
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                     "tre_ctx_step_reset: called inside a model or guide, or a step capture");
        return;
    }
    ctx->be->sync(ctx->be->impl);
    /* Handlers still pushed (a plate never ended) may live in the arena reset below: pop them,
     * with their exit hooks (plate dims, seed streams), while their state is still valid. */
    while (ctx->depth > 0) {
        tre_messenger *m = ctx->stack[--ctx->depth];
        if (m->exit) m->exit(ctx, m);
    }
    ctx->step_serial++;
    ctx->tape = NULL;
    ctx->tape_len = ctx->tape_cap = 0;
    ctx->grad_recording = false;
    tre_param_store_forget_step_grads(ctx); /* they pointed into the step arena */
    tre_arena_reset(&ctx->host);
    tre_plate_memo_reset(ctx);
    tre_arena_reset(&ctx->data);
    ctx->step_sig = 0;
    ctx->step_dynamic = NULL;
    tre_ctx_clear_error(ctx);
}

void tre_ctx_memory_stats(const tre_ctx *ctx, tre_ctx_memory *out) {
    if (!ctx || !out) return;
    out->host_bytes = ctx->host.capacity;
    out->data_bytes = ctx->data.capacity;
    out->host_grows = ctx->host.grows;
    out->data_grows = ctx->data.grows;
    tre_kmemory m;
    ctx->be->memory(ctx->be->impl, &m, false);
    out->backend_bytes = m.bytes;
    out->backend_peak_bytes = m.peak;
}

tre_status tre_ctx_memory_trim(tre_ctx *ctx) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (tre_ctx_in_program(ctx))
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "tre_ctx_memory_trim: called inside a model or a step capture");
    tre_ctx_step_reset(ctx);
    tre_arena_release(&ctx->host);
    tre_arena_release(&ctx->data);
    return tre_backend_check(ctx, ctx->be->trim(ctx->be->impl), "trim");
}

void tre_ctx_memory_reset_peak(tre_ctx *ctx) {
    if (!ctx) return;
    tre_kmemory m;
    ctx->be->memory(ctx->be->impl, &m, true);
}

void *tre_step_alloc(tre_ctx *ctx, size_t bytes) {
    void *p = tre_arena_alloc(&ctx->host, bytes, 16);
    if (!p) {
        tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "out of host memory (%zu bytes)", bytes);
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

char *tre_step_strdup(tre_ctx *ctx, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = tre_arena_alloc(&ctx->host, n, 1);
    if (!p) {
        tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "out of host memory (%zu bytes)", n);
        return NULL;
    }
    memcpy(p, s, n);
    return p;
}

void *tre_step_data(tre_ctx *ctx, size_t bytes) {
    void *p = tre_arena_alloc(&ctx->data, bytes, 64);
    if (!p) tre_backend_alloc_failed(ctx, "step data", bytes);
    return p;
}

uint64_t tre_rng_next_stream(tre_ctx *ctx) { return ctx->rng_stream++; }

uint64_t tre_ctx_rng_position(const tre_ctx *ctx) { return ctx ? ctx->rng_stream : 0; }

tre_status tre_ctx_set_rng_position(tre_ctx *ctx, uint64_t position) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (tre_ctx_in_program(ctx))
        return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                            "tre_ctx_set_rng_position: called inside a model or guide, or a step capture");
    ctx->rng_stream = position;
    return TRE_OK;
}

void tre_step_sig_mix(tre_ctx *ctx, const void *p, size_t n) {
    if (!ctx->step_sig_on) return;
    /* FNV-1a over the bytes, continued from the signature so far */
    ctx->step_sig = tre_fnv1a(ctx->step_sig ^ TRE_FNV_OFFSET, p, n);
}

void *tre_step_alloc_cb(void *ctx, size_t bytes) { return tre_step_alloc(ctx, bytes); }
void tre_plate_memo_reset(tre_ctx *ctx) { tre_strmap_init(&ctx->plate_memo, tre_step_alloc_cb, NULL, ctx); }
