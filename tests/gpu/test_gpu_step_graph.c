/* Step graphs on the CUDA backend: SVI steps through tre_svi_step_graphed give bit for bit the
 * losses and params of eager tre_svi_step from the same seed (random op numbers shifted by the
 * rng delta on replay), the graph is really replayed, it is captured again when what it points
 * to changes (params removed, P changed, the step arena moved), a replay with a NaN is rerun
 * eagerly for its error, and steps that cannot be graphed (subsampled plates, RenyiELBO, a
 * readback inside the model) run eagerly with the same results; and a graphed run checkpointed
 * (param store, optimiser, random stream) and resumed in a fresh context continues the eager
 * one bit for bit.
 *
 * Without a CUDA device this exits 77 ("Not Run"). In a -DTRELBO_CUDA_EMULATE=ON build the
 * device is the CUDA backend's code on the host, whose graphs record and replay closures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "src/core/ctx_impl.h" /* TRE_ERR_LEN and the device probe */

#define N 40  /* data rows */
#define D 3   /* regression weights */
#define G 4   /* groups of the grouped regression */
#define STEPS 10

typedef struct sdata {
    tre_tensor *x, *X, *y;
    tre_tensor *group; /* int32 [N]: each row's group */
    int64_t subsample; /* of the "data" plate (0: none) */
    bool readback;     /* the model reads a value back mid-step */
    double obs_scale;  /* a scale handler around "obs" (0: none) */
} sdata;

/* Reparameterized Normal and Gamma sites (the Gamma draws by rejection), a score-function
 * Bernoulli, an MVN-free matmul through a Bernoulli(logits) likelihood, a grouped regression
 * (each row's features with its group's weights: an index the host checks outside a capture),
 * plates. */
static tre_tensor *model(tre_ctx *c, const void *args) {
    const sdata *d = args;
    const int64_t dd = D;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 3.f)), NULL);
    tre_tensor *tau = tre_sample(c, "tau", tre_gamma(c, tre_scalar(c, 2.f), tre_scalar(c, 2.f)), NULL);
    tre_tensor *b = tre_sample(c, "b", tre_bernoulli_probs(c, tre_scalar(c, 0.3f)), NULL);
    if (d->readback && mu) {
        float host[64]; /* P <= 64 here */
        tre_tensor_to_host(c, mu, host, 64); /* fails during a capture: the step is not graphable */
    }
    tre_tensor *idx = tre_plate(c, "data", N, d->subsample);
    tre_tensor *x = d->subsample ? tre_index_select(c, d->x, 0, idx) : d->x;
    tre_tensor *loc = tre_add(c, mu, tre_mul(c, b, tre_scalar(c, 0.5f)));
    tre_messenger *sc = d->obs_scale > 0 ? tre_scale_handler(c, d->obs_scale) : NULL;
    if (sc) tre_push(c, sc);
    tre_sample(c, "obs", tre_normal(c, loc, tre_div(c, tre_scalar(c, 1.f), tau)), x);
    if (sc) tre_pop(c, sc);
    tre_plate_end(c);
    tre_tensor *w = tre_sample(c, "w", tre_dist_to_event(c, tre_dist_expand(c, tre_normal(c, tre_scalar(c, 0.f),
                                                                                      tre_scalar(c, 1.f)), 1, &dd), 1), NULL);
    tre_plate(c, "groups", G, 0);
    tre_tensor *gw = tre_sample(c, "gw", tre_dist_to_event(c, tre_dist_expand(c, tre_normal(c, tre_scalar(c, 0.f),
                                                                                        tre_scalar(c, 1.f)), 1, &dd), 1), NULL);
    tre_plate_end(c);
    tre_plate(c, "rows", N, 0);
    tre_sample(c, "y", tre_bernoulli_logits(c, tre_matmul(c, d->X, w)), d->y);
    tre_sample(c, "yg", tre_normal(c, tre_vecdot_index_select(c, d->X, gw, d->group), tre_scalar(c, 1.f)), d->x);
    tre_plate_end(c);
    return mu;
}

static tre_tensor *guide(tre_ctx *c, const void *args) {
    (void)args;
    const int64_t dd = D;
    tre_sample(c, "mu", tre_normal(c, tre_param(c, "mu_loc", tre_scalar(c, 0.2f), TRE_C_REAL),
                                   tre_param(c, "mu_scale", tre_scalar(c, 0.5f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "tau", tre_gamma(c, tre_param(c, "tau_a", tre_scalar(c, 3.f), TRE_C_POSITIVE),
                                   tre_param(c, "tau_b", tre_scalar(c, 2.f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "b", tre_bernoulli_probs(c, tre_param(c, "b_p", tre_scalar(c, 0.4f), TRE_C_UNIT_INTERVAL)), NULL);
    tre_tensor *wl = tre_param(c, "w_loc", tre_full(c, 1, &dd, 0.1f), TRE_C_REAL);
    tre_tensor *ws = tre_param(c, "w_scale", tre_full(c, 1, &dd, 0.4f), TRE_C_POSITIVE);
    const int64_t gd[2] = {G, D};
    tre_tensor *gl = tre_param(c, "gw_loc", tre_full(c, 2, gd, -0.1f), TRE_C_REAL);
    tre_tensor *gs = tre_param(c, "gw_scale", tre_full(c, 2, gd, 0.3f), TRE_C_POSITIVE);
    tre_plate(c, "groups", G, 0);
    tre_sample(c, "gw", tre_dist_to_event(c, tre_normal(c, gl, gs), 1), NULL);
    tre_plate_end(c);
    return tre_sample(c, "w", tre_dist_to_event(c, tre_normal(c, wl, ws), 1), NULL);
}

static tre_ctx *make_ctx(uint64_t seed) {
    tre_ctx *ctx = NULL;
    tre_status s = tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CUDA, .seed = seed});
    if (s != TRE_OK) fail_msg("tre_ctx_create: %s", tre_status_name(s));
    assert_string_not_equal(tre_ctx_backend_name(ctx), "cpu");
    return ctx;
}

static tre_tensor *persistent(tre_ctx *ctx, int ndim, const int64_t *shape, const float *v) {
    tre_tensor *t = NULL;
    TT_OK(ctx, tre_tensor_create(ctx, &t, TRE_F32, 1, ndim, shape, v));
    return t;
}

static void setup(tre_ctx *ctx, sdata *d) {
    float x[N], X[N * D], y[N];
    for (int i = 0; i < N; ++i) {
        x[i] = (float)(1.5 + sin(0.7 * i));
        double s = 0;
        for (int j = 0; j < D; ++j) {
            X[i * D + j] = (float)cos(0.31 * i + 0.9 * j);
            s += X[i * D + j] * (j - 1.0);
        }
        y[i] = (float)(s > 0.1);
    }
    const int64_t n = N, nd[2] = {N, D};
    memset(d, 0, sizeof *d);
    d->x = persistent(ctx, 1, &n, x);
    d->X = persistent(ctx, 2, nd, X);
    d->y = persistent(ctx, 1, &n, y);
    int32_t group[N];
    for (int i = 0; i < N; ++i) group[i] = (i * 3) % G;
    TT_OK(ctx, tre_tensor_create(ctx, &d->group, TRE_I32, 1, 1, &n, group));
}

/* An eager context and a graphed one, same seed, same data. */
typedef struct pair {
    tre_ctx *e, *g;
    sdata de, dg;
    tre_adam *oe, *og;
    tre_step_graph *graph;
} pair;

static void pair_open(pair *p, uint64_t seed) {
    p->e = make_ctx(seed);
    p->g = make_ctx(seed);
    setup(p->e, &p->de);
    setup(p->g, &p->dg);
    TT_OK(p->e, tre_adam_create(p->e, &(tre_adam_opts){.lr = 0.05}, &p->oe));
    TT_OK(p->g, tre_adam_create(p->g, &(tre_adam_opts){.lr = 0.05}, &p->og));
    TT_OK(p->g, tre_step_graph_create(p->g, &p->graph));
}

static void pair_close(pair *p) {
    tre_step_graph_destroy(p->g, p->graph);
    tre_adam_destroy(p->e, p->oe);
    tre_adam_destroy(p->g, p->og);
    tre_ctx_destroy(p->e);
    tre_ctx_destroy(p->g);
}

static char last_error[TRE_ERR_LEN]; /* of the last step that failed (both contexts agreed) */

/* One step on each; the losses must be the same double and the statuses the same. */
static tre_status pair_step(pair *p, const tre_elbo_opts *o, int step) {
    double le = 0, lg = 0;
    tre_status se = tre_svi_step(p->e, model, guide, &p->de, o, p->oe, &le);
    tre_status sg = tre_svi_step_graphed(p->g, p->graph, model, guide, &p->dg, o, p->og, &lg);
    if (se != sg)
        fail_msg("step %d: eager %s (%s), graphed %s (%s)", step, tre_status_name(se), tre_ctx_error(p->e),
                 tre_status_name(sg), tre_ctx_error(p->g));
    if (se != TRE_OK) {
        assert_string_equal(tre_ctx_error(p->e), tre_ctx_error(p->g));
        snprintf(last_error, sizeof last_error, "%s", tre_ctx_error(p->e));
        print_message("step %d: %s (as expected where the test says so)\n", step, tre_ctx_error(p->e));
        tre_ctx_clear_error(p->e);
        tre_ctx_clear_error(p->g);
        return se;
    }
    if (memcmp(&le, &lg, sizeof le) != 0) fail_msg("step %d: loss eager %.17g, graphed %.17g", step, le, lg);
    return se;
}

/* Every param (unconstrained), bit for bit. */
static void pair_same_params(pair *p) {
    assert_int_equal(tre_param_store_size(p->e), tre_param_store_size(p->g));
    for (int64_t i = 0; i < tre_param_store_size(p->e); ++i) {
        const tre_param_entry *a = tre_param_store_at(p->e, i), *b = tre_param_store_get(p->g, a->name);
        assert_non_null(b);
        const int64_t n = a->unconstrained->numel;
        float *ha = calloc((size_t)n, sizeof *ha), *hb = calloc((size_t)n, sizeof *hb);
        TT_OK(p->e, tre_tensor_to_host(p->e, a->unconstrained, ha, n));
        TT_OK(p->g, tre_tensor_to_host(p->g, b->unconstrained, hb, n));
        if (memcmp(ha, hb, (size_t)n * sizeof *ha) != 0) fail_msg("param %s differs", a->name);
        free(ha);
        free(hb);
    }
}

static tre_step_graph_stats stats_of(const pair *p) {
    tre_step_graph_stats s;
    tre_step_graph_stats_get(p->graph, &s);
    return s;
}

static void test_replay_matches_eager(void **state) {
    (void)state;
    pair p;
    pair_open(&p, 7);
    tre_elbo_opts o = {.kind = TRE_TRACE_ELBO, .num_particles = 64};
    for (int step = 0; step < STEPS; ++step) assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    pair_same_params(&p);
    tre_step_graph_stats s = stats_of(&p);
    print_message("steps %lld, eager %lld, captures %lld, replays %lld\n", (long long)s.steps,
                  (long long)s.eager_steps, (long long)s.captures, (long long)s.replays);
    assert_null(s.eager_reason);
    /* step 1 creates the params, step 2 settles the signature, step 3 is captured */
    assert_int_equal(s.eager_steps, 2);
    assert_int_equal(s.captures, 1);
    assert_int_equal(s.replays, STEPS - 3);
    assert_int_equal(s.invalidations, 0);

    pair_close(&p);
}

/* Steps 0..4 graphed, a checkpoint, then steps 5..9 graphed in a fresh context that loaded it:
 * the losses and params of ten eager steps. */
static void test_resume_from_checkpoint(void **state) {
    (void)state;
    pair p;
    pair_open(&p, 9);
    tre_elbo_opts o = {.kind = TRE_TRACE_ELBO, .num_particles = 64};
    for (int step = 0; step < 5; ++step) assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    char store[96], adam[96];
    snprintf(store, sizeof store, "%s/store", tt_dir); /* removed with the directory */
    snprintf(adam, sizeof adam, "%s/adam", tt_dir);
    TT_OK(p.g, tre_param_store_save(p.g, store));
    TT_OK(p.g, tre_adam_save(p.g, p.og, adam));
    const uint64_t position = tre_ctx_rng_position(p.g);
    tre_step_graph_destroy(p.g, p.graph);
    tre_adam_destroy(p.g, p.og);
    tre_ctx_destroy(p.g);
    p.g = make_ctx(9);
    setup(p.g, &p.dg);
    TT_OK(p.g, tre_adam_create(p.g, &(tre_adam_opts){.lr = 0.05}, &p.og));
    TT_OK(p.g, tre_step_graph_create(p.g, &p.graph));
    TT_OK(p.g, tre_param_store_load(p.g, store));
    TT_OK(p.g, tre_adam_load(p.g, p.og, adam));
    TT_OK(p.g, tre_ctx_set_rng_position(p.g, position));
    for (int step = 5; step < STEPS; ++step) assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    pair_same_params(&p);
    assert_true(stats_of(&p).replays > 0);
    pair_close(&p);
}

static void test_recapture(void **state) {
    (void)state;
    pair p;
    pair_open(&p, 21);
    tre_elbo_opts o = {.kind = TRE_TRACE_ELBO, .num_particles = 48};
    int step = 0;
    for (; step < 6; ++step) assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    assert_int_equal(stats_of(&p).captures, 1);

    /* another particle count: the key changes */
    o.num_particles = 33;
    for (int k = 0; k < 5; ++k, ++step) assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    tre_step_graph_stats s = stats_of(&p);
    assert_int_equal(s.invalidations, 1);
    assert_int_equal(s.captures, 2);
    pair_same_params(&p);

    /* a param removed from the store (recreated from its init by the next step) */
    TT_OK(p.e, tre_param_store_remove(p.e, "w_loc"));
    TT_OK(p.g, tre_param_store_remove(p.g, "w_loc"));
    for (int k = 0; k < 5; ++k, ++step) assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    s = stats_of(&p);
    assert_int_equal(s.invalidations, 2);
    assert_int_equal(s.captures, 3);
    pair_same_params(&p);

    /* an evaluation with many more particles between steps grows the step arena, whose chunks
     * are consolidated (moved) at the next step */
    tre_ctx_memory m0, m1;
    tre_ctx_memory_stats(p.g, &m0);
    const tre_elbo_opts big = {.kind = TRE_TRACE_ELBO, .num_particles = 4096};
    tre_elbo_result r;
    TT_OK(p.e, tre_elbo(p.e, model, guide, &p.de, &big, &r));
    TT_OK(p.g, tre_elbo(p.g, model, guide, &p.dg, &big, &r));
    tre_ctx_memory_stats(p.g, &m1);
    assert_true(m1.data_grows > m0.data_grows);
    for (int k = 0; k < 5; ++k, ++step) assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    s = stats_of(&p);
    assert_int_equal(s.invalidations, 3);
    assert_int_equal(s.captures, 4);
    assert_true(s.replays >= 8);
    pair_same_params(&p);

    /* the memory that evaluation left behind, given back: the graph is captured again, and
     * the steps are still the eager ones bit for bit */
    tre_ctx_memory_stats(p.g, &m1);
    TT_OK(p.e, tre_ctx_memory_trim(p.e));
    TT_OK(p.g, tre_ctx_memory_trim(p.g));
    tre_ctx_memory m2;
    tre_ctx_memory_stats(p.g, &m2);
    assert_int_equal(m2.data_bytes, 0);
    assert_true(m2.backend_bytes + m1.data_bytes <= m1.backend_bytes);
    for (int k = 0; k < 5; ++k, ++step) assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    s = stats_of(&p);
    assert_int_equal(s.invalidations, 4);
    assert_int_equal(s.captures, 5);
    pair_same_params(&p);
    pair_close(&p);
}

/* a data tensor refilled in place between steps, as a training loop refills its minibatch */
static void poke_bytes(tre_ctx *ctx, tre_tensor *t, const void *v, size_t bytes) {
    TT_OK(ctx, tre_tensor_write(ctx, t, v, (int64_t)(bytes / 4)));
}
static void poke(tre_ctx *ctx, tre_tensor *t, const float *v) { poke_bytes(ctx, t, v, (size_t)t->numel * sizeof *v); }

/* A NaN in the data after the capture: the replay's loss is not finite, its update is not
 * applied, and the step is rerun eagerly, which returns the eager step's error. */
static void test_non_finite_replay(void **state) {
    (void)state;
    pair p;
    pair_open(&p, 3);
    const tre_elbo_opts o = {.kind = TRE_TRACE_ELBO, .num_particles = 32};
    int step = 0;
    for (; step < 5; ++step) assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    assert_int_equal(stats_of(&p).replays, 2);
    float x[N];
    TT_OK(p.e, tre_tensor_to_host(p.e, p.de.x, x, N));
    const float saved = x[5];
    x[5] = NAN;
    poke(p.e, p.de.x, x);
    poke(p.g, p.dg.x, x);
    assert_int_not_equal(pair_step(&p, &o, step++), TRE_OK);
    assert_int_equal(stats_of(&p).reruns, 1);
    pair_same_params(&p);
    x[5] = saved;
    poke(p.e, p.de.x, x);
    poke(p.g, p.dg.x, x);
    for (int k = 0; k < 4; ++k, ++step) assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    assert_true(stats_of(&p).replays >= 5); /* the graph survived */
    pair_same_params(&p);
    pair_close(&p);
}

/* A group index out of range after the capture: the host cannot check it in a replay, the
 * kernels give NaN instead of reading outside w, and the rerun eager step names the index. */
static void test_index_out_of_range_in_replay(void **state) {
    (void)state;
    pair p;
    pair_open(&p, 4);
    const tre_elbo_opts o = {.kind = TRE_TRACE_ELBO, .num_particles = 32};
    int step = 0;
    for (; step < 5; ++step) assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    assert_int_equal(stats_of(&p).replays, 2);
    int32_t group[N];
    for (int i = 0; i < N; ++i) group[i] = (i * 3) % G;
    group[7] = G; /* one past the last group */
    poke_bytes(p.e, p.de.group, group, sizeof group);
    poke_bytes(p.g, p.dg.group, group, sizeof group);
    assert_int_not_equal(pair_step(&p, &o, step++), TRE_OK); /* the same error from both */
    assert_non_null(strstr(last_error, "tre_vecdot_index_select: index 4 at position 7"));
    assert_int_equal(stats_of(&p).reruns, 1);
    pair_same_params(&p);
    group[7] = (7 * 3) % G;
    poke_bytes(p.e, p.de.group, group, sizeof group);
    poke_bytes(p.g, p.dg.group, group, sizeof group);
    for (int k = 0; k < 3; ++k, ++step) assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    assert_true(stats_of(&p).replays >= 4); /* the graph survived */
    pair_same_params(&p);
    pair_close(&p);
}

/* Steps that cannot be graphed run eagerly, with the eager results. */
static void fallback(uint64_t seed, const tre_elbo_opts *o, int64_t subsample, bool readback,
                     const char *reason) {
    pair p;
    pair_open(&p, seed);
    p.de.subsample = p.dg.subsample = subsample;
    p.de.readback = p.dg.readback = readback;
    for (int step = 0; step < 6; ++step) assert_int_equal(pair_step(&p, o, step), TRE_OK);
    pair_same_params(&p);
    tre_step_graph_stats s = stats_of(&p);
    assert_int_equal(s.replays, 0);
    assert_int_equal(s.captures, 0);
    assert_non_null(s.eager_reason);
    if (!strstr(s.eager_reason, reason)) fail_msg("reason \"%s\" lacks \"%s\"", s.eager_reason, reason);
    pair_close(&p);
}

static void test_fallbacks(void **state) {
    (void)state;
    const tre_elbo_opts trace = {.kind = TRE_TRACE_ELBO, .num_particles = 16};
    fallback(5, &trace, 12, false, "subsample");
    fallback(6, &trace, 0, true, "host mid-step");
    const tre_elbo_opts renyi = {.kind = TRE_RENYI_ELBO, .alpha = 0.5, .num_particles = 16};
    fallback(8, &renyi, 0, false, "RenyiELBO");
}

/* A program that changes every step (here a site's scale, a launch argument the step's
 * signature holds): each capture is discarded, and after three of them the steps run eagerly
 * for good. Step 0 creates the params (no signature yet), step 1 signs, steps 2 to 4 are
 * captured and discarded, steps 5 and 6 are eager. */
static void test_changing_program_goes_eager(void **state) {
    (void)state;
    pair p;
    pair_open(&p, 9);
    const tre_elbo_opts o = {.kind = TRE_TRACE_ELBO, .num_particles = 16};
    for (int step = 0; step < 7; ++step) {
        p.de.obs_scale = p.dg.obs_scale = 1.0 + 0.25 * step;
        assert_int_equal(pair_step(&p, &o, step), TRE_OK);
    }
    pair_same_params(&p);
    const tre_step_graph_stats s = stats_of(&p);
    assert_int_equal(s.steps, 7);
    assert_int_equal(s.captures, 0);
    assert_int_equal(s.replays, 0);
    assert_int_equal(s.eager_steps, 4);
    assert_non_null(s.eager_reason);
    if (!strstr(s.eager_reason, "changes from step to step")) fail_msg("reason \"%s\"", s.eager_reason);
    pair_close(&p);
}

int main(void) {
    if (tre_cuda_device_count() <= 0) {
        printf("no CUDA device: the step graph tests are not run\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_matches_eager),
        cmocka_unit_test(test_resume_from_checkpoint),
        cmocka_unit_test(test_recapture),
        cmocka_unit_test(test_non_finite_replay),
        cmocka_unit_test(test_index_out_of_range_in_replay),
        cmocka_unit_test(test_fallbacks),
        cmocka_unit_test(test_changing_program_goes_eager),
    };
    return cmocka_run_group_tests(tests, tt_make_dir, tt_remove_dir);
}
