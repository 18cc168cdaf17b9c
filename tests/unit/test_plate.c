/* plate (SPEC.md section 4): batch dims allocated from the right, explicit dims and their
 * clashes, broadcasting of distributions, frames, scale = size / subsample_size, subsample
 * indices, and replay of those indices from the guide into the model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"

#define P 6

static double normal_lp(double x, double m, double s) {
    return -0.5 * ((x - m) / s) * ((x - m) / s) - log(s) - 0.5 * log(2 * 3.14159265358979323846);
}

static const tre_dist *std_normal(tre_ctx *c) {
    return tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f));
}

static void indices_to_host(tre_ctx *ctx, const tre_tensor *idx, int32_t *out, int64_t k) {
    assert_non_null(idx);
    assert_int_equal(idx->dtype, TRE_I32);
    assert_int_equal(idx->particles, 1);
    assert_int_equal(idx->ndim, 1);
    assert_int_equal(idx->shape[0], k);
    TT_OK(ctx, tre_tensor_to_host(ctx, idx, out, k));
}

/* ---- dims ---- */

typedef struct dims_args {
    int dim_a, dim_b;           /* explicit dims (0: default) */
    tre_tensor *ia, *ib, *z;
} dims_args;

static tre_tensor *nested(tre_ctx *c, const void *args) {
    dims_args *a = (dims_args *)args;
    a->ia = tre_plate_dim(c, "a", 3, 0, a->dim_a);
    a->ib = tre_plate_dim(c, "b", 4, 0, a->dim_b);
    a->z = tre_sample(c, "z", std_normal(c), NULL);
    tre_plate_end(c);
    tre_plate_end(c);
    return a->z;
}

static void check_frames(const tre_msg *m, int dim_a, int dim_b, const dims_args *a) {
    assert_int_equal(m->n_frames, 2);
    /* outermost first */
    assert_string_equal(m->frames[0].name, "a");
    assert_int_equal(m->frames[0].dim, dim_a);
    assert_int_equal(m->frames[0].size, 3);
    assert_int_equal(m->frames[0].subsample_size, 3);
    assert_ptr_equal(m->frames[0].indices, a->ia);
    assert_string_equal(m->frames[1].name, "b");
    assert_int_equal(m->frames[1].dim, dim_b);
    assert_int_equal(m->frames[1].size, 4);
    assert_ptr_equal(m->frames[1].indices, a->ib);
}

static void test_default_dims_rightmost_free(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    dims_args args = {0};
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, nested, &args, &tr, 1, NULL));
    const tre_trace_node *n = tre_trace_get(tre_trace_handler_trace(tr), "z");
    check_frames(&n->msg, -1, -2, &args);
    /* "a" at -1 (size 3), "b" at -2 (size 4): shape [4, 3] */
    assert_int_equal(args.z->particles, P);
    assert_true(tre_shape_equal(args.z->ndim, args.z->shape, 2, (const int64_t[]){4, 3}));
    /* without subsampling the indices are 0..size-1 */
    int32_t ia[3], ib[4];
    indices_to_host(ctx, args.ia, ia, 3);
    indices_to_host(ctx, args.ib, ib, 4);
    for (int i = 0; i < 3; ++i) assert_int_equal(ia[i], i);
    for (int i = 0; i < 4; ++i) assert_int_equal(ib[i], i);
    /* the index sites of the plates are in the trace: "a" outside both plates, "b" inside "a" */
    const tre_trace_node *na = tre_trace_get(tre_trace_handler_trace(tr), "a");
    const tre_trace_node *nb = tre_trace_get(tre_trace_handler_trace(tr), "b");
    assert_int_equal(na->msg.type, TRE_SITE_SUBSAMPLE);
    assert_int_equal(na->msg.n_frames, 0);
    assert_int_equal(nb->msg.n_frames, 1);
    assert_string_equal(nb->msg.frames[0].name, "a");
    tre_ctx_destroy(ctx);
}

static void test_explicit_dims(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    /* "a" takes -2 explicitly; "b" by default takes the rightmost free one, -1 */
    dims_args args = {.dim_a = -2};
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, nested, &args, &tr, 1, NULL));
    check_frames(&tre_trace_get(tre_trace_handler_trace(tr), "z")->msg, -2, -1, &args);
    assert_true(tre_shape_equal(args.z->ndim, args.z->shape, 2, (const int64_t[]){3, 4}));
    /* a gap: "a" at -3, "b" at -1: shape [3, 1, 4] */
    tre_ctx_step_reset(ctx);
    dims_args gap = {.dim_a = -3, .dim_b = -1};
    tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, nested, &gap, &tr, 1, NULL));
    check_frames(&tre_trace_get(tre_trace_handler_trace(tr), "z")->msg, -3, -1, &gap);
    assert_true(tre_shape_equal(gap.z->ndim, gap.z->shape, 3, (const int64_t[]){3, 1, 4}));
    /* a positive dim is refused, naming the plate */
    tre_ctx_step_reset(ctx);
    dims_args bad = {.dim_a = 1};
    TT_FAILS_WITH(ctx, tre_run(ctx, nested, &bad, NULL, 0, NULL), TRE_ERR_PLATE, "\"a\"");
    tre_ctx_destroy(ctx);
}

static void test_dim_clash_and_duplicate_name(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    dims_args clash = {.dim_a = -1, .dim_b = -1};
    TT_FAILS_WITH(ctx, tre_run(ctx, nested, &clash, NULL, 0, NULL), TRE_ERR_PLATE, "\"b\"");
    assert_non_null(strstr(tre_ctx_error(ctx), "\"a\"")); /* and the plate holding the dim */
    assert_int_equal(tre_stack_depth(ctx), 0);
    tre_ctx_step_reset(ctx);
    /* a plate with the name of an active plate */
    TT_OK(ctx, tre_ctx_status(ctx));
    assert_non_null(tre_plate(ctx, "a", 3, 0));
    assert_null(tre_plate(ctx, "a", 5, 0));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_PLATE);
    assert_non_null(strstr(tre_ctx_error(ctx), "plate(\"a\") is already active"));
    /* the same sizes too: the name is what clashes, even with the innermost handler */
    tre_ctx_clear_error(ctx);
    assert_null(tre_plate(ctx, "a", 3, 0));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_PLATE, "plate(\"a\") is already active");
    assert_int_equal(tre_stack_depth(ctx), 1);
    TT_OK(ctx, tre_plate_end(ctx));
    tre_ctx_step_reset(ctx);
    /* once it ended, the name and its dim are free again */
    tre_tensor *i1 = tre_plate_dim(ctx, "a", 2, 0, -1);
    assert_non_null(i1);
    TT_OK(ctx, tre_plate_end(ctx));
    tre_ctx_destroy(ctx);
}

static void test_dim_is_free_after_end(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_push(ctx, tr));
    assert_non_null(tre_plate(ctx, "a", 3, 0));           /* -1 */
    TT_OK(ctx, tre_plate_end(ctx));
    assert_non_null(tre_plate(ctx, "b", 5, 0));           /* -1 again */
    tre_tensor *z = tre_sample(ctx, "z", std_normal(ctx), NULL);
    assert_true(tre_shape_equal(z->ndim, z->shape, 1, (const int64_t[]){5}));
    TT_OK(ctx, tre_plate_end(ctx));
    assert_non_null(tre_plate_dim(ctx, "c", 2, 0, -1));   /* explicitly */
    TT_OK(ctx, tre_plate_end(ctx));
    TT_OK(ctx, tre_pop(ctx, tr));
    assert_int_equal(tre_trace_get(tre_trace_handler_trace(tr), "z")->msg.frames[0].dim, -1);
    assert_int_equal(tre_trace_get(tre_trace_handler_trace(tr), "z")->msg.n_frames, 1);
    /* a plate left open by a failing program is ended by tre_run's unwinding */
    dims_args clash = {.dim_a = -1, .dim_b = -1};
    assert_int_equal(tre_run(ctx, nested, &clash, NULL, 0, NULL), TRE_ERR_PLATE);
    assert_int_equal(tre_stack_depth(ctx), 0);
    tre_ctx_step_reset(ctx);
    assert_non_null(tre_plate_dim(ctx, "a", 3, 0, -1));
    TT_OK(ctx, tre_plate_end(ctx));
    tre_ctx_destroy(ctx);
}

static void test_plate_end_pops_only_a_plate(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    assert_non_null(tre_plate(ctx, "a", 3, 0));
    tre_messenger user = {.kind = "user"};
    TT_OK(ctx, tre_push(ctx, &user));
    TT_FAILS_WITH(ctx, tre_plate_end(ctx), TRE_ERR_STACK, "not a plate");
    assert_int_equal(tre_stack_depth(ctx), 2);
    tre_ctx_clear_error(ctx);
    TT_OK(ctx, tre_pop(ctx, &user));
    TT_OK(ctx, tre_plate_end(ctx));
    assert_int_equal(tre_stack_depth(ctx), 0);
    /* nothing left to end */
    assert_int_equal(tre_plate_end(ctx), TRE_ERR_STACK);
    tre_ctx_destroy(ctx);
}

/* ---- broadcasting ---- */

static void test_distribution_broadcast_to_plate(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_push(ctx, tr));
    assert_non_null(tre_plate(ctx, "n", 5, 0));
    tre_tensor *z = tre_sample(ctx, "z", std_normal(ctx), NULL);
    assert_non_null(z);
    assert_int_equal(z->particles, P);
    assert_true(tre_shape_equal(z->ndim, z->shape, 1, (const int64_t[]){5}));
    /* independent draws along the plate and across particles */
    const float *h = tt_host(ctx, z, 0);
    assert_true(h[0] != h[1]);
    assert_true(h[0] != h[5]);
    /* the recorded fn has the plate's batch shape */
    int64_t bs[TRE_MAX_DIMS];
    const tre_trace_node *n = tre_trace_get(tre_trace_handler_trace(tr), "z");
    assert_int_equal(tre_dist_batch_shape(n->msg.fn, bs), 1);
    assert_int_equal(bs[0], 5);
    /* a size that already matches is kept; a size-1 dim broadcasts */
    tre_tensor *loc5 = tre_full(ctx, 1, (const int64_t[]){5}, 1.f);
    tre_tensor *loc1 = tre_full(ctx, 1, (const int64_t[]){1}, 1.f);
    tre_tensor *y5 = tre_sample(ctx, "y5", tre_normal(ctx, loc5, tre_scalar(ctx, 1.f)), NULL);
    tre_tensor *y1 = tre_sample(ctx, "y1", tre_normal(ctx, loc1, tre_scalar(ctx, 1.f)), NULL);
    assert_true(tre_shape_equal(y5->ndim, y5->shape, 1, (const int64_t[]){5}));
    assert_true(tre_shape_equal(y1->ndim, y1->shape, 1, (const int64_t[]){5}));
    /* a batch dim left of the plate's is kept: [2, 1] inside plate n at -1 gives [2, 5] */
    tre_tensor *loc21 = tre_full(ctx, 2, (const int64_t[]){2, 1}, 0.f);
    tre_tensor *y21 = tre_sample(ctx, "y21", tre_normal(ctx, loc21, tre_scalar(ctx, 1.f)), NULL);
    assert_true(tre_shape_equal(y21->ndim, y21->shape, 2, (const int64_t[]){2, 5}));
    /* a mismatching size is an error naming the plate and the site */
    tre_tensor *loc3 = tre_full(ctx, 1, (const int64_t[]){3}, 1.f);
    assert_null(tre_sample(ctx, "bad", tre_normal(ctx, loc3, tre_scalar(ctx, 1.f)), NULL));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_PLATE);
    assert_non_null(strstr(tre_ctx_error(ctx), "\"n\""));
    assert_non_null(strstr(tre_ctx_error(ctx), "\"bad\""));
    tre_ctx_clear_error(ctx);
    TT_OK(ctx, tre_plate_end(ctx));
    TT_OK(ctx, tre_pop(ctx, tr));
    tre_ctx_destroy(ctx);
}

/* ---- scale and subsampling ---- */

typedef struct sub_args {
    const tre_tensor *x;   /* full data [size] */
    int64_t size, k;
    tre_tensor *idx;
} sub_args;

static tre_tensor *sub_model(tre_ctx *c, const void *args) {
    sub_args *a = (sub_args *)args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    a->idx = tre_plate(c, "data", a->size, a->k);
    tre_tensor *xs = tre_index_select(c, a->x, 0, a->idx);
    tre_sample(c, "obs", tre_normal(c, mu, tre_scalar(c, 2.f)), xs);
    tre_plate_end(c);
    return mu;
}

static void test_subsample_scale(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(7);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    enum { SIZE = 10, K = 4 };
    float xs[SIZE];
    for (int i = 0; i < SIZE; ++i) xs[i] = (float)i * 0.5f - 2.f;
    sub_args args = {.x = tt_data(ctx, SIZE, xs), .size = SIZE, .k = K};
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, sub_model, &args, &tr, 1, NULL));
    tre_trace *t = tre_trace_handler_trace(tr);
    int32_t idx[K];
    indices_to_host(ctx, args.idx, idx, K);
    const tre_trace_node *obs = tre_trace_get(t, "obs");
    assert_true(obs->msg.scale == (double)SIZE / K);
    assert_int_equal(obs->msg.frames[0].subsample_size, K);
    assert_int_equal(obs->msg.frames[0].size, SIZE);
    assert_true(tre_trace_get(t, "mu")->msg.scale == 1.0);
    const float *mu = tt_host(ctx, tre_trace_get(t, "mu")->msg.value, 0);
    const float *lp = tt_host(ctx, tre_trace_log_prob_sum(ctx, t), 1);
    for (int p = 0; p < P; ++p) {
        double obs_lp = 0;
        for (int j = 0; j < K; ++j) obs_lp += normal_lp(xs[idx[j]], mu[p], 2.0);
        double want = normal_lp(mu[p], 0, 1) + (double)SIZE / K * obs_lp;
        TT_NEAR(lp[p], want, 1e-4 * (1 + fabs(want)));
    }
    tre_ctx_destroy(ctx);
}

static tre_tensor *nested_scale(tre_ctx *c, const void *args) {
    (void)args;
    tre_plate(c, "outer", 6, 2);
    tre_plate(c, "inner", 9, 3);
    tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_plate_end(c);
    tre_plate_end(c);
    return NULL;
}

static void test_nested_scales_multiply(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(8);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, nested_scale, NULL, &tr, 1, NULL));
    const tre_trace_node *z = tre_trace_get(tre_trace_handler_trace(tr), "z");
    TT_NEAR(z->msg.scale, 3.0 * 3.0, 1e-12);
    assert_true(tre_shape_equal(z->msg.value->ndim, z->msg.value->shape, 2,
                                (const int64_t[]){3, 2}));
    tre_ctx_destroy(ctx);
}

static void test_subsample_indices(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(9);
    enum { SIZE = 100, K = 10, STEPS = 5 };
    int32_t seen[STEPS][K];
    for (int s = 0; s < STEPS; ++s) {
        tre_ctx_step_reset(ctx);
        tre_tensor *idx = tre_plate(ctx, "data", SIZE, K);
        indices_to_host(ctx, idx, seen[s], K);
        TT_OK(ctx, tre_plate_end(ctx));
        bool used[SIZE] = {false};
        for (int j = 0; j < K; ++j) {
            assert_true(seen[s][j] >= 0 && seen[s][j] < SIZE);
            assert_false(used[seen[s][j]]); /* distinct */
            used[seen[s][j]] = true;
        }
    }
    for (int s = 1; s < STEPS; ++s) assert_true(memcmp(seen[s], seen[0], sizeof seen[0]) != 0);
    /* over many draws every index turns up (the minibatches cover the data) */
    bool hit[SIZE] = {false};
    for (int s = 0; s < 200; ++s) {
        tre_ctx_step_reset(ctx);
        int32_t idx[K];
        indices_to_host(ctx, tre_plate(ctx, "data", SIZE, K), idx, K);
        TT_OK(ctx, tre_plate_end(ctx));
        for (int j = 0; j < K; ++j) hit[idx[j]] = true;
    }
    for (int i = 0; i < SIZE; ++i) assert_true(hit[i]);
    /* subsample_size == size is no subsampling: 0..size-1, scale 1 */
    tre_ctx_step_reset(ctx);
    int32_t all[5];
    indices_to_host(ctx, tre_plate(ctx, "full", 5, 5), all, 5);
    for (int i = 0; i < 5; ++i) assert_int_equal(all[i], i);
    TT_OK(ctx, tre_plate_end(ctx));
    /* bad sizes */
    assert_null(tre_plate(ctx, "bad", 5, 6));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_INVALID_ARG);
    assert_non_null(strstr(tre_ctx_error(ctx), "\"bad\""));
    tre_ctx_clear_error(ctx);
    assert_null(tre_plate(ctx, "bad", 0, 0));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_INVALID_ARG);
    /* the plate itself refuses bad sizes, with its rule, before its index site is sent (the
     * stack's own check of an index message would catch some of them too, saying less) */
    const int64_t bad_sizes[][2] = {{5, 6}, {0, 0}, {5, -1}, {(int64_t)INT32_MAX + 1, 1}};
    for (int i = 0; i < 4; ++i) {
        tre_ctx_clear_error(ctx);
        assert_null(tre_plate(ctx, "bad", bad_sizes[i][0], bad_sizes[i][1]));
        TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_INVALID_ARG, "plate(\"bad\"): size");
        assert_int_equal(tre_stack_depth(ctx), 0);
    }
    tre_ctx_destroy(ctx);
}

/* ---- guide and model see one minibatch ---- */

typedef struct mb_args {
    int64_t size, k;
    tre_tensor *idx;
} mb_args;

static tre_tensor *mb_guide(tre_ctx *c, const void *args) {
    mb_args *a = (mb_args *)args;
    a->idx = tre_plate(c, "data", a->size, a->k);
    tre_sample(c, "local", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_plate_end(c);
    return NULL;
}

static tre_tensor *mb_model(tre_ctx *c, const void *args) {
    mb_args *a = (mb_args *)args;
    a->idx = tre_plate(c, "data", a->size, a->k);
    tre_sample(c, "local", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 3.f)), NULL);
    tre_plate_end(c);
    return NULL;
}

static void test_guide_indices_replayed_into_model(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(10);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    enum { SIZE = 1000, K = 8 };
    mb_args g = {.size = SIZE, .k = K}, m = {.size = SIZE, .k = K}, free_run = {.size = SIZE, .k = K};
    tre_messenger *gt = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, mb_guide, &g, &gt, 1, NULL));
    tre_trace *guide = tre_trace_handler_trace(gt);
    const tre_trace_node *gidx = tre_trace_get(guide, "data");
    assert_non_null(gidx);
    assert_int_equal(gidx->msg.type, TRE_SITE_SUBSAMPLE);
    assert_ptr_equal(gidx->msg.value, g.idx);
    tre_messenger *mh[2] = {tre_trace_handler(ctx), tre_replay_handler(ctx, guide, NULL)};
    TT_OK(ctx, tre_run(ctx, mb_model, &m, mh, 2, NULL));
    int32_t gi[K], mi[K], fi[K];
    indices_to_host(ctx, g.idx, gi, K);
    indices_to_host(ctx, m.idx, mi, K);
    assert_memory_equal(gi, mi, sizeof gi);
    /* the model's frame carries them too, and its local site is the guide's value */
    tre_trace *model = tre_trace_handler_trace(mh[0]);
    const tre_trace_node *ml = tre_trace_get(model, "local");
    int32_t fr[K];
    indices_to_host(ctx, ml->msg.frames[0].indices, fr, K);
    assert_memory_equal(gi, fr, sizeof gi);
    assert_ptr_equal(ml->msg.value, tre_trace_get(guide, "local")->msg.value);
    /* without replay the model draws another minibatch (so the check above can fail) */
    TT_OK(ctx, tre_run(ctx, mb_model, &free_run, NULL, 0, NULL));
    indices_to_host(ctx, free_run.idx, fi, K);
    assert_true(memcmp(gi, fi, sizeof gi) != 0);
    tre_ctx_destroy(ctx);
}

static tre_tensor *mb_guide_of_8(tre_ctx *c, const void *args) {
    mb_args a = *(const mb_args *)args;
    a.k = 8;
    return mb_guide(c, &a);
}

/* The usual Pyro pattern: the guide subsamples, the model's plate leaves subsample_size
 * unspecified (0); the model takes the guide's minibatch, its size and its scale (Pyro's
 * plate(subsample_size=None) replayed). Without replay the model's plate is the whole data. */
static void test_unsized_model_plate_takes_the_guides_minibatch(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(12);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    enum { SIZE = 100, K = 8 };
    mb_args g = {.size = SIZE, .k = K}, m = {.size = SIZE, .k = 0}, whole = {.size = SIZE, .k = 0};
    tre_messenger *gt = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, mb_guide, &g, &gt, 1, NULL));
    tre_trace *guide = tre_trace_handler_trace(gt);
    tre_messenger *mh[2] = {tre_trace_handler(ctx), tre_replay_handler(ctx, guide, NULL)};
    TT_OK(ctx, tre_run(ctx, mb_model, &m, mh, 2, NULL));
    int32_t gi[K], mi[K];
    assert_int_equal(m.idx->shape[0], K);
    indices_to_host(ctx, g.idx, gi, K);
    indices_to_host(ctx, m.idx, mi, K);
    assert_memory_equal(gi, mi, sizeof gi);
    const tre_msg *local = &tre_trace_get(tre_trace_handler_trace(mh[0]), "local")->msg;
    assert_int_equal(local->frames[0].subsample_size, K);
    assert_true(local->scale == (double)SIZE / K);
    TT_OK(ctx, tre_run(ctx, mb_model, &whole, NULL, 0, NULL));
    assert_int_equal(whole.idx->shape[0], SIZE);
    /* and through tre_elbo: the model's local site is scaled as the guide's */
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, mb_model, mb_guide_of_8, &(mb_args){.size = SIZE, .k = 0}, &(tre_elbo_opts){.num_particles = P}, &r));
    assert_true(tre_trace_get(r.model_trace, "local")->msg.scale == (double)SIZE / K);
    tre_ctx_destroy(ctx);
}

/* condition fixes a plate's minibatch (Pyro conditions the plate's index site, a sample site):
 * the given int32 indices, in order, and the scale of their number; a float value is an error
 * naming the site. */
static void test_condition_fixes_the_minibatch(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(13);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    const int32_t want[2] = {7, 3};
    tre_tensor *idx = NULL;
    TT_OK(ctx, tre_tensor_create(ctx, &idx, TRE_I32, 1, 1, (int64_t[]){2}, want));
    tre_dict *data = tre_dict_new(ctx);
    TT_OK(ctx, tre_dict_set(ctx, data, "data", idx));
    for (int64_t k = 0; k <= 2; k += 2) { /* subsample_size unspecified, and 2 */
        mb_args a = {.size = 10, .k = k};
        tre_messenger *h[2] = {tre_trace_handler(ctx), tre_condition_handler(ctx, data)};
        TT_OK(ctx, tre_run(ctx, mb_model, &a, h, 2, NULL));
        int32_t got[2];
        indices_to_host(ctx, a.idx, got, 2);
        assert_memory_equal(got, want, sizeof got);
        const tre_trace *t = tre_trace_handler_trace(h[0]);
        assert_true(tre_trace_get(t, "data")->msg.is_observed);
        assert_true(tre_trace_get(t, "local")->msg.scale == 5.0);
    }
    tre_dict *bad = tre_dict_new(ctx);
    TT_OK(ctx, tre_dict_set(ctx, bad, "data", tre_scalar(ctx, 1.f)));
    tre_messenger *cb = tre_condition_handler(ctx, bad);
    TT_FAILS_WITH(ctx, tre_run(ctx, mb_model, &(mb_args){.size = 10, .k = 2}, &cb, 1, NULL),
                  TRE_ERR_INVALID_ARG, "subsample site \"data\" must be int32");
    /* an unsized plate takes the minibatch's size from the indices, but an empty minibatch
     * is refused (a plate of 0 elements would scale its sites by size / 0) */
    tre_ctx_step_reset(ctx);
    tre_tensor *none = NULL;
    TT_OK(ctx, tre_tensor_create(ctx, &none, TRE_I32, 1, 1, (int64_t[]){0}, NULL));
    tre_dict *empty = tre_dict_new(ctx);
    TT_OK(ctx, tre_dict_set(ctx, empty, "data", none));
    tre_messenger *ce = tre_condition_handler(ctx, empty);
    TT_FAILS_WITH(ctx, tre_run(ctx, mb_model, &(mb_args){.size = 10, .k = 0}, &ce, 1, NULL),
                  TRE_ERR_PLATE, "1 <= n <= 10");
    /* the minibatch is shared by all particles: indices with a particle extent are refused */
    tre_ctx_step_reset(ctx);
    tre_tensor *per_particle = NULL;
    const int32_t two_rows[4] = {7, 3, 1, 2};
    TT_OK(ctx, tre_tensor_create(ctx, &per_particle, TRE_I32, 2, 1, (int64_t[]){2}, two_rows));
    tre_dict *pp = tre_dict_new(ctx);
    TT_OK(ctx, tre_dict_set(ctx, pp, "data", per_particle));
    tre_messenger *cp = tre_condition_handler(ctx, pp);
    TT_FAILS_WITH(ctx, tre_run(ctx, mb_model, &(mb_args){.size = 10, .k = 2}, &cp, 1, NULL),
                  TRE_ERR_PLATE, "(extent 1)");
    tre_ctx_step_reset(ctx);
    tre_tensor_destroy(ctx, per_particle);
    tre_tensor_destroy(ctx, none);
    tre_tensor_destroy(ctx, idx);
    tre_ctx_destroy(ctx);
}

/* A guide under block(expose_types = {"sample"}) (the usual way to keep only its latents):
 * the index site is a sample site, as in Pyro, so the outer trace still records the minibatch
 * and the model replays it. */
static tre_tensor *mb_guide_exposing_samples(tre_ctx *c, const void *args) {
    const char *sample[] = {"sample"};
    tre_messenger *b = tre_block_handler(c, &(tre_block_opts){.expose_types = sample, .n_expose_types = 1});
    tre_push(c, b);
    mb_guide(c, args);
    tre_pop(c, b);
    return NULL;
}

static void test_blocked_guide_keeps_its_minibatch(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(12);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    enum { SIZE = 1000, K = 8 };
    mb_args g = {.size = SIZE, .k = K}, m = {.size = SIZE, .k = K};
    tre_messenger *gt = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, mb_guide_exposing_samples, &g, &gt, 1, NULL));
    tre_trace *guide = tre_trace_handler_trace(gt);
    assert_non_null(tre_trace_get(guide, "data"));
    assert_non_null(tre_trace_get(guide, "local"));
    tre_messenger *mh[2] = {tre_trace_handler(ctx), tre_replay_handler(ctx, guide, NULL)};
    TT_OK(ctx, tre_run(ctx, mb_model, &m, mh, 2, NULL));
    int32_t gi[K], mi[K];
    indices_to_host(ctx, g.idx, gi, K);
    indices_to_host(ctx, m.idx, mi, K);
    assert_memory_equal(gi, mi, sizeof gi);
    tre_ctx_destroy(ctx);
}

/* A program run from inside another (a nested tre_run) shares the enclosing program's plates:
 * re-entering "data" after it reuses the minibatch instead of declaring a second index site. */
static tre_tensor *inner_program(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "inner", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
}

static tre_tensor *guide_with_nested_run(tre_ctx *c, const void *args) {
    mb_args *a = (mb_args *)args;
    tre_tensor *first = tre_plate(c, "data", a->size, a->k);
    tre_plate_end(c);
    tre_messenger *scale = tre_scale_handler(c, 2.0);
    tre_run(c, inner_program, NULL, &scale, 1, NULL);
    a->idx = tre_plate(c, "data", a->size, a->k);
    tre_plate_end(c);
    return first;
}

static void test_nested_run_keeps_the_plates(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(13);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    enum { SIZE = 1000, K = 8 };
    mb_args g = {.size = SIZE, .k = K};
    tre_messenger *gt = tre_trace_handler(ctx);
    tre_tensor *first = NULL;
    TT_OK(ctx, tre_run(ctx, guide_with_nested_run, &g, &gt, 1, &first));
    int32_t a[K], b[K];
    indices_to_host(ctx, first, a, K);
    indices_to_host(ctx, g.idx, b, K);
    assert_memory_equal(a, b, sizeof a);
    assert_non_null(tre_trace_get(tre_trace_handler_trace(gt), "inner"));
    tre_ctx_destroy(ctx);
}

/* Re-entering a plate in one program (Pyro's `with plate:` twice) reuses its dim and indices:
 * one index site in the trace, the same minibatch inside both blocks. */
static tre_tensor *reenter_program(tre_ctx *c, const void *args) {
    const int *bad = args;
    tre_tensor *i1 = tre_plate_dim(c, "rows", 10, 4, -2);
    tre_sample(c, "a", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_plate_end(c);
    /* bad: 1 another subsample size, 2 another explicit dim */
    tre_tensor *i2 = *bad == 2 ? tre_plate_dim(c, "rows", 10, 4, -1) : tre_plate(c, "rows", 10, *bad ? 5 : 4);
    tre_sample(c, "b", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_plate_end(c);
    return i1 == i2 ? i1 : NULL;
}

static void test_reentered_plate_reuses_index_site(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(9);
    int bad = 0;
    tre_messenger *tr = tre_trace_handler(ctx);
    tre_tensor *ret = NULL;
    TT_OK(ctx, tre_run(ctx, reenter_program, &bad, &tr, 1, &ret));
    assert_non_null(ret); /* the same index tensor both times */
    tre_trace *t = tre_trace_handler_trace(tr);
    int64_t index_sites = 0;
    for (int64_t i = 0; i < tre_trace_size(t); ++i)
        index_sites += tre_trace_at(t, i)->msg.type == TRE_SITE_SUBSAMPLE;
    assert_int_equal(index_sites, 1);
    /* the dim of the first entry (-2), though the second asked for the default */
    const tre_trace_node *b = tre_trace_get(t, "b");
    assert_int_equal(b->msg.frames[0].dim, -2);
    assert_int_equal(b->msg.value->ndim, 2);
    assert_int_equal(b->msg.value->shape[0], 4);
    /* a different size on re-entry is an error naming the plate */
    bad = 1;
    tre_ctx_step_reset(ctx);
    TT_FAILS_WITH(ctx, tre_run(ctx, reenter_program, &bad, NULL, 0, NULL), TRE_ERR_PLATE, "plate(\"rows\") re-entered");
    /* so is an explicit dim other than the first entry's */
    bad = 2;
    tre_ctx_step_reset(ctx);
    TT_FAILS_WITH(ctx, tre_run(ctx, reenter_program, &bad, NULL, 0, NULL), TRE_ERR_PLATE, "plate(\"rows\") re-entered");
    tre_ctx_destroy(ctx);
}

/* An unsized plate entered twice in a model replayed against a subsampling guide: the second
 * entry takes the first's minibatch (its memo), not the whole data; in Pyro each entry of
 * plate("data", 100) sends the index site "data" again and replay gives it the guide's
 * indices both times. */
static tre_tensor *mb_model_twice(tre_ctx *c, const void *args) {
    const mb_args *a = args;
    tre_tensor *i1 = tre_plate(c, "data", a->size, 0);
    tre_sample(c, "local", std_normal(c), NULL);
    tre_plate_end(c);
    tre_tensor *i2 = tre_plate(c, "data", a->size, 0);
    tre_sample(c, "local2", std_normal(c), NULL);
    tre_plate_end(c);
    return i1 && i1 == i2 ? i1 : NULL;
}

static void test_unsized_plate_reentered_keeps_the_minibatch(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(13);
    enum { SIZE = 100, K = 8 };
    mb_args g = {.size = SIZE, .k = K}, m = {.size = SIZE, .k = 0};
    tre_messenger *gt = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, mb_guide, &g, &gt, 1, NULL));
    tre_messenger *mh[2] = {tre_trace_handler(ctx),
                            tre_replay_handler(ctx, tre_trace_handler_trace(gt), NULL)};
    tre_tensor *ret = NULL;
    TT_OK(ctx, tre_run(ctx, mb_model_twice, &m, mh, 2, &ret));
    assert_ptr_equal(ret, g.idx);
    const tre_msg *l2 = &tre_trace_get(tre_trace_handler_trace(mh[0]), "local2")->msg;
    assert_int_equal(l2->frames[0].subsample_size, K);
    assert_true(l2->scale == (double)SIZE / K);
    assert_int_equal(l2->value->shape[0], K);
    tre_ctx_destroy(ctx);
}

/* A site already done when the plate sees it (here replayed by a handler inside the plate) is
 * neither broadcast nor checked against the plate's size, as Pyro's BroadcastMessenger returns
 * early on msg["done"]: its fn stays as the program gave it. */
static tre_tensor *replay_inside_plate(tre_ctx *c, const void *args) {
    const tre_trace *src = args;
    tre_plate(c, "p", 3, 0);
    tre_messenger *rp = tre_replay_handler(c, src, NULL);
    tre_push(c, rp);
    /* batch shape [2]: would not broadcast against the plate's 3 */
    const float two[2] = {0.f, 1.f};
    tre_tensor *loc = tre_from_host(c, 1, 1, (const int64_t[]){2}, two);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, loc, tre_scalar(c, 1.f)), NULL);
    tre_pop(c, rp);
    tre_plate_end(c);
    return z;
}

static tre_tensor *scalar_z(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "z", std_normal(c), NULL);
}

static void test_done_site_is_not_broadcast(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(14);
    tre_messenger *src = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, scalar_z, NULL, &src, 1, NULL));
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, replay_inside_plate, tre_trace_handler_trace(src), &tr, 1, NULL));
    const tre_msg *z = &tre_trace_get(tre_trace_handler_trace(tr), "z")->msg;
    int64_t bs[TRE_MAX_DIMS];
    assert_int_equal(tre_dist_batch_shape(z->fn, bs), 1);
    assert_int_equal(bs[0], 2);
    assert_ptr_equal(z->value, tre_trace_get(tre_trace_handler_trace(src), "z")->msg.value);
    /* still in the plate: its frame and scale apply */
    assert_int_equal(z->n_frames, 1);
    tre_ctx_destroy(ctx);
}

/* Default dims fill every batch dim, the leftmost (-TRE_MAX_DIMS) last; one more plate has
 * no dim left. */
static void test_default_dims_use_every_dim(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(16);
    const char *names[TRE_MAX_DIMS] = {"d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"};
    for (int k = 0; k < TRE_MAX_DIMS; ++k) assert_non_null(tre_plate(ctx, names[k], 1, 0));
    tre_msg msg = {.type = TRE_SITE_SAMPLE, .name = "z", .fn = std_normal(ctx), .scale = 1.0};
    TT_OK(ctx, tre_apply_stack(ctx, &msg));
    assert_int_equal(msg.n_frames, TRE_MAX_DIMS);
    for (int k = 0; k < TRE_MAX_DIMS; ++k) {
        assert_string_equal(msg.frames[k].name, names[k]);
        assert_int_equal(msg.frames[k].dim, -(k + 1));
    }
    /* every batch dim is a plate's: a site with an event dim has no room left */
    const tre_dist *vec = tre_dist_to_event(ctx, tre_normal(ctx, tre_full(ctx, 1, (int64_t[]){2}, 0.f),
                                                             tre_scalar(ctx, 1.f)), 1);
    tre_msg ev = {.type = TRE_SITE_SAMPLE, .name = "ev", .fn = vec, .scale = 1.0};
    TT_FAILS_WITH(ctx, tre_apply_stack(ctx, &ev), TRE_ERR_PLATE, "site \"ev\": too many dims inside plate");
    tre_ctx_clear_error(ctx);
    assert_null(tre_plate(ctx, "d9", 1, 0));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_PLATE, "no free batch dim");
    tre_ctx_destroy(ctx);
    /* and the leftmost dim can be asked for by number */
    tre_ctx *c2 = tt_ctx(17);
    assert_non_null(tre_plate_dim(c2, "left", 2, 0, -TRE_MAX_DIMS));
    TT_OK(c2, tre_plate_end(c2));
    assert_null(tre_plate_dim(c2, "beyond", 2, 0, -TRE_MAX_DIMS - 1));
    TT_FAILS_WITH(c2, tre_ctx_status(c2), TRE_ERR_PLATE, "dim must be negative");
    tre_ctx_destroy(c2);
}

/* A message that already carries TRE_MAX_PLATES frames (a caller's own, through
 * tre_apply_stack) cannot take one more: an error naming the site, not a write past frames. */
static void test_too_many_frames(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(15);
    assert_non_null(tre_plate(ctx, "p", 2, 0));
    tre_msg msg = {.type = TRE_SITE_SAMPLE, .name = "deep", .fn = std_normal(ctx), .scale = 1.0,
                   .n_frames = TRE_MAX_PLATES};
    TT_FAILS_WITH(ctx, tre_apply_stack(ctx, &msg), TRE_ERR_PLATE, "\"deep\": more than");
    assert_int_equal(msg.n_frames, TRE_MAX_PLATES);
    tre_ctx_destroy(ctx);
}

/* A handler may give the index site any value; the plate takes only int32 indices (a float
 * tensor of the right shape too is refused, naming the plate). */
static tre_status float_indices(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    (void)self;
    if (msg->type == TRE_SITE_SUBSAMPLE) msg->value = tre_full(ctx, 1, (int64_t[]){2}, 0.f);
    return TRE_OK;
}

static void test_index_site_value_must_be_int32(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(18);
    tre_messenger h = {.kind = "float indices", .process = float_indices};
    TT_FAILS_WITH(ctx, tre_run(ctx, mb_model, &(mb_args){.size = 10, .k = 2}, (tre_messenger *[]){&h}, 1, NULL),
                  TRE_ERR_PLATE, "plate(\"data\"): its index site must be int32");
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_dims_rightmost_free),
        cmocka_unit_test(test_explicit_dims),
        cmocka_unit_test(test_dim_clash_and_duplicate_name),
        cmocka_unit_test(test_dim_is_free_after_end),
        cmocka_unit_test(test_plate_end_pops_only_a_plate),
        cmocka_unit_test(test_distribution_broadcast_to_plate),
        cmocka_unit_test(test_subsample_scale),
        cmocka_unit_test(test_nested_scales_multiply),
        cmocka_unit_test(test_subsample_indices),
        cmocka_unit_test(test_guide_indices_replayed_into_model),
        cmocka_unit_test(test_unsized_model_plate_takes_the_guides_minibatch),
        cmocka_unit_test(test_condition_fixes_the_minibatch),
        cmocka_unit_test(test_blocked_guide_keeps_its_minibatch),
        cmocka_unit_test(test_nested_run_keeps_the_plates),
        cmocka_unit_test(test_reentered_plate_reuses_index_site),
        cmocka_unit_test(test_unsized_plate_reentered_keeps_the_minibatch),
        cmocka_unit_test(test_done_site_is_not_broadcast),
        cmocka_unit_test(test_too_many_frames),
        cmocka_unit_test(test_default_dims_use_every_dim),
        cmocka_unit_test(test_index_site_value_must_be_int32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
