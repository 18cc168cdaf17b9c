/* plate handler: a vectorized conditional-independence context. Allocates a batch dim, adds
 * its frame to every message inside, broadcasts distributions to its size and scales by
 * size / subsample_size. Its index site (a subsample site named after the plate) is sent before
 * the plate is entered, so replay gives the model the guide's minibatch. */
#include <string.h>
#include "poutine_impl.h"
#include "../../kernels/math/philox.h"

typedef struct plate_state {
    tre_frame frame;
} plate_state;

static tre_status plate_process(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    const tre_frame *f = &((plate_state *)self->state)->frame;
    if (msg->n_frames == TRE_MAX_PLATES)
        return tre_ctx_fail(ctx, TRE_ERR_PLATE, "site \"%s\": more than %d nested plates", msg->name,
                            TRE_MAX_PLATES);
    /* the innermost plate processes first: prepend, so the stack ends outermost first */
    memmove(msg->frames + 1, msg->frames, (size_t)msg->n_frames * sizeof *msg->frames);
    msg->frames[0] = *f;
    msg->n_frames++;
    msg->scale *= (double)f->size / (double)f->subsample_size;
    if (msg->type != TRE_SITE_SAMPLE || msg->done || !msg->fn) return TRE_OK;

    const tre_dist *d = msg->fn;
    int64_t shape[TRE_MAX_DIMS];
    int nd = tre_dist_batch_shape(d, NULL), need = -f->dim;
    int target = nd > need ? nd : need;
    /* batch shape right-aligned into `target` dims, 1 where absent */
    for (int i = 0; i < target; ++i) shape[i] = 1;
    tre_dist_batch_shape(d, shape + (target - nd));
    int64_t *slot = &shape[target + f->dim];
    if (*slot != 1 && *slot != f->subsample_size)
        return tre_ctx_fail(ctx, TRE_ERR_PLATE,
                            "shape mismatch inside plate(\"%s\") at site \"%s\" dim %d: %lld vs %lld",
                            f->name, msg->name, f->dim, (long long)*slot,
                            (long long)f->subsample_size);
    *slot = f->subsample_size;
    if (target == nd && tre_shape_equal(nd, d->batch_shape, target, shape)) return TRE_OK;
    if (target + d->event_ndim > TRE_MAX_DIMS)
        return tre_ctx_fail(ctx, TRE_ERR_PLATE, "site \"%s\": too many dims inside plate(\"%s\")",
                            msg->name, f->name);
    msg->fn = tre_dist_expand(ctx, d, target, shape);
    return ctx->status;
}

static tre_status plate_enter(tre_ctx *ctx, tre_messenger *self) {
    const tre_frame *f = &((plate_state *)self->state)->frame;
    ctx->plate_dim_owner[-f->dim - 1] = f->name;
    return TRE_OK;
}

static void plate_exit(tre_ctx *ctx, tre_messenger *self) {
    const tre_frame *f = &((plate_state *)self->state)->frame;
    ctx->plate_dim_owner[-f->dim - 1] = NULL;
}

static bool is_plate(const tre_messenger *m) { return m->process == plate_process; }

typedef struct plate_memo {
    int64_t size, subsample_size;
    int dim;
    const tre_tensor *indices;
} plate_memo;


tre_tensor *tre_subsample_draw(tre_ctx *ctx, const tre_msg *msg) {
    int64_t n = msg->size, k = msg->subsample_size;
    int32_t *idx = tre_step_alloc(ctx, (size_t)n * sizeof *idx);
    if (!idx) return NULL;
    for (int64_t i = 0; i < n; ++i) idx[i] = (int32_t)i;
    if (k < n) {
        ctx->step_dynamic = "a subsampled plate draws new indices every step";
        /* partial Fisher-Yates over the Philox stream: the first k of a random permutation */
        uint64_t stream = tre_rng_next_stream(ctx);
        for (int64_t i = 0; i < k; ++i) {
            tre_u32x4 w = tre_philox_block(ctx->seed, stream, (uint64_t)i);
            uint64_t r = ((uint64_t)w.v[0] << 32) | w.v[1];
            int64_t j = i + (int64_t)(r % (uint64_t)(n - i));
            int32_t t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
    }
    tre_tensor *t = tre_tensor_new(ctx, TRE_I32, 1, 1, &k);
    if (!t) return NULL;
    tre_backend_check(ctx, ctx->be->upload(ctx->be->impl, t->data, idx, (size_t)k * 4),
                      "upload of subsample indices");
    return tre_ok(ctx) ? t : NULL;
}

tre_tensor *tre_plate_dim(tre_ctx *ctx, const char *name, int64_t size, int64_t subsample_size,
                          int dim) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!name || !*name) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "plate: name is empty");
        return NULL;
    }
    if (size < 1 || size > INT32_MAX || subsample_size < 0 || subsample_size > size) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG,
                     "plate(\"%s\"): size %lld and subsample_size %lld must satisfy "
                     "0 <= subsample_size <= size, 1 <= size < 2^31",
                     name, (long long)size, (long long)subsample_size);
        return NULL;
    }
    /* unspecified: the whole plate, unless its index site comes back with a minibatch (a model
     * replayed against a guide that subsamples, as Pyro's plate(subsample_size=None)) */
    const bool sized_by_indices = subsample_size == 0;
    if (sized_by_indices) subsample_size = size;
    for (int i = 0; i < ctx->depth; ++i)
        if (is_plate(ctx->stack[i]) &&
            strcmp(((plate_state *)ctx->stack[i]->state)->frame.name, name) == 0) {
            tre_ctx_fail(ctx, TRE_ERR_PLATE, "plate(\"%s\") is already active", name);
            return NULL;
        }
    const plate_memo *memo = tre_strmap_get(&ctx->plate_memo, name);
    if (memo && sized_by_indices) subsample_size = memo->subsample_size;
    if (memo) {
        if (memo->size != size || memo->subsample_size != subsample_size || (dim != 0 && dim != memo->dim)) {
            tre_ctx_fail(ctx, TRE_ERR_PLATE,
                         "plate(\"%s\") re-entered with size %lld, subsample %lld, dim %d; it was "
                         "first entered with %lld, %lld, %d",
                         name, (long long)size, (long long)subsample_size, dim, (long long)memo->size,
                         (long long)memo->subsample_size, memo->dim);
            return NULL;
        }
        dim = memo->dim;
    }
    if (dim == 0) {
        for (int k = 1; k <= TRE_MAX_DIMS && dim == 0; ++k)
            if (!ctx->plate_dim_owner[k - 1]) dim = -k;
        if (dim == 0) {
            tre_ctx_fail(ctx, TRE_ERR_PLATE, "plate(\"%s\"): no free batch dim", name);
            return NULL;
        }
    } else if (dim > 0 || dim < -TRE_MAX_DIMS) {
        tre_ctx_fail(ctx, TRE_ERR_PLATE, "plate(\"%s\"): dim must be negative (>= %d), got %d",
                     name, -TRE_MAX_DIMS, dim);
        return NULL;
    } else if (ctx->plate_dim_owner[-dim - 1]) {
        tre_ctx_fail(ctx, TRE_ERR_PLATE, "plate(\"%s\"): dim %d is already used by plate(\"%s\")",
                     name, dim, ctx->plate_dim_owner[-dim - 1]);
        return NULL;
    }
    tre_messenger *m = tre_messenger_new(ctx, "plate", sizeof(plate_state));
    tre_msg *msg = tre_step_alloc(ctx, sizeof *msg);
    const char *pname = tre_step_strdup(ctx, name);
    if (!m || !msg || !pname) return NULL;
    const tre_tensor *idx = memo ? memo->indices : NULL;
    if (!memo) {
        /* the index site goes through the stack before the plate is entered */
        msg->type = TRE_SITE_SUBSAMPLE;
        msg->name = pname;
        msg->size = size;
        msg->subsample_size = subsample_size;
        msg->scale = 1.0;
        if (tre_apply_stack(ctx, msg) != TRE_OK) return NULL;
        idx = msg->value;
        if (sized_by_indices && idx && idx->ndim == 1 && idx->shape[0] >= 1 && idx->shape[0] <= size)
            subsample_size = idx->shape[0];
    }
    if (!idx || idx->dtype != TRE_I32 || idx->ndim != 1 || idx->shape[0] != subsample_size ||
        idx->particles != 1) {
        tre_ctx_fail(ctx, TRE_ERR_PLATE,
                     sized_by_indices ? "plate(\"%s\"): its index site must be int32 of shape [n], "
                                        "1 <= n <= %lld (extent 1)"
                                      : "plate(\"%s\"): its index site must be int32 of shape [%lld] "
                                        "(extent 1)",
                     name, (long long)subsample_size);
        return NULL;
    }
    plate_state *st = m->state;
    st->frame = (tre_frame){.name = pname, .dim = dim, .size = size,
                            .subsample_size = subsample_size, .indices = idx};
    m->process = plate_process;
    m->enter = plate_enter;
    m->exit = plate_exit;
    if (!memo) {
        plate_memo *mm = tre_step_alloc(ctx, sizeof *mm);
        if (!mm) return NULL;
        *mm = (plate_memo){size, subsample_size, dim, idx};
        if (!tre_strmap_put(&ctx->plate_memo, pname, mm)) {
            tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "plate(\"%s\"): out of memory", name);
            return NULL;
        }
    }
    return tre_push(ctx, m) == TRE_OK ? (tre_tensor *)idx : NULL;
}

tre_tensor *tre_plate(tre_ctx *ctx, const char *name, int64_t size, int64_t subsample_size) {
    return tre_plate_dim(ctx, name, size, subsample_size, 0);
}

tre_status tre_plate_end(tre_ctx *ctx) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (ctx->depth > 0 && is_plate(ctx->stack[ctx->depth - 1]))
        return tre_pop(ctx, ctx->stack[ctx->depth - 1]);
    if (!tre_ok(ctx)) return ctx->status; /* the plate was never entered */
    return tre_ctx_fail(ctx, TRE_ERR_STACK, "tre_plate_end: the innermost handler is not a plate");
}
