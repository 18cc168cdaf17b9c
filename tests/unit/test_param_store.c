/* The param store and the constraint transforms (SPEC.md section 5): T^-1(init) stored on first
 * use, T(u) linked to its entry afterwards, missing params, remove / clear, and for the
 * elementwise constraints T(T^-1(y)) = y and log|dT/du| against finite differences in double.
 * (simplex and lower_cholesky are tested with their implementation.) */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "test_support.h"
#include "src/core/strmap.h"

/* ---- the store ---- */

static void test_first_use_stores_unconstrained(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    const float init_h[3] = {0.5f, 2.f, 8.f};
    tre_tensor *init = tre_from_host(ctx, 1, 1, (const int64_t[]){3}, init_h);
    tre_tensor *v1 = tre_param(ctx, "s", init, TRE_C_POSITIVE);
    assert_non_null(v1);
    assert_int_equal(tre_param_store_size(ctx), 1);
    const tre_param_entry *e = tre_param_store_get(ctx, "s");
    assert_non_null(e);
    assert_string_equal(e->name, "s");
    assert_int_equal(e->constraint.kind, TRE_POSITIVE);
    assert_true(e->unconstrained->persistent);
    assert_int_equal(e->unconstrained->particles, 1);
    assert_true(tre_shape_equal(e->unconstrained->ndim, e->unconstrained->shape, 1,
                                (const int64_t[]){3}));
    /* u = log(init) */
    const float *u = tt_host(ctx, e->unconstrained, 0);
    for (int i = 0; i < 3; ++i) TT_NEAR(u[i], log((double)init_h[i]), 1e-6);
    /* the value is T(u) = init, linked to the entry */
    assert_ptr_equal(v1->param, e);
    const float *h = tt_host(ctx, v1, 1);
    for (int i = 0; i < 3; ++i) TT_NEAR(h[i], init_h[i], 1e-6 * init_h[i]);

    /* later calls ignore init (another value, another shape, or none) */
    tre_ctx_step_reset(ctx);
    tre_tensor *v2 = tre_param(ctx, "s", tre_scalar(ctx, 100.f), TRE_C_POSITIVE);
    tre_tensor *v3 = tre_param(ctx, "s", NULL, TRE_C_POSITIVE);
    assert_non_null(v2);
    assert_non_null(v3);
    assert_ptr_equal(v2->param, e);
    assert_ptr_equal(v3->param, e);
    assert_int_equal(tre_param_store_size(ctx), 1);
    assert_true(tre_shape_equal(v2->ndim, v2->shape, 1, (const int64_t[]){3}));
    h = tt_host(ctx, v2, 1);
    for (int i = 0; i < 3; ++i) TT_NEAR(h[i], init_h[i], 1e-6 * init_h[i]);
    /* the constrained value follows the stored u: change u, read again */
    const float u_new[3] = {0.f, 1.f, -1.f};
    memcpy(e->unconstrained->data, u_new, sizeof u_new); /* CPU backend: host memory */
    tre_tensor *v4 = tre_param(ctx, "s", init, TRE_C_POSITIVE);
    h = tt_host(ctx, v4, 1);
    for (int i = 0; i < 3; ++i) TT_NEAR(h[i], exp((double)u_new[i]), 1e-6 * exp((double)u_new[i]));
    tre_tensor *direct = tre_param_constrained(ctx, e);
    assert_ptr_equal(direct->param, e);
    const float *hd = tt_host(ctx, direct, 2);
    for (int i = 0; i < 3; ++i) assert_true(hd[i] == h[i]);
    tre_ctx_destroy(ctx);
}

static void test_real_param_value_is_not_the_stored_tensor(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    tre_tensor *v = tre_param(ctx, "loc", tre_scalar(ctx, -3.5f), TRE_C_REAL);
    const tre_param_entry *e = tre_param_store_get(ctx, "loc");
    assert_non_null(v);
    assert_ptr_equal(v->param, e);
    /* identity transform, but the value is its own step-scoped handle */
    assert_ptr_not_equal(v, e->unconstrained);
    assert_false(v->persistent);
    assert_true(tt_at(ctx, v, 0) == -3.5f);
    assert_true(tt_at(ctx, e->unconstrained, 0) == -3.5f);
    tre_ctx_destroy(ctx);
}

static void test_missing_param_without_init(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    assert_null(tre_param(ctx, "ghost", NULL, TRE_C_REAL));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_PARAM);
    assert_non_null(strstr(tre_ctx_error(ctx), "\"ghost\""));
    assert_int_equal(tre_param_store_size(ctx), 0);
    assert_null(tre_param_store_get(ctx, "ghost"));
    tre_ctx_destroy(ctx);
}

static void test_init_with_particle_extent_is_refused(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    const float h[4] = {1, 2, 3, 4};
    tre_tensor *init = tre_from_host(ctx, 4, 0, NULL, h);
    assert_null(tre_param(ctx, "per_particle", init, TRE_C_REAL));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_PARAM);
    assert_non_null(strstr(tre_ctx_error(ctx), "\"per_particle\""));
    assert_int_equal(tre_param_store_size(ctx), 0);
    tre_ctx_destroy(ctx);
}

static void test_integer_init_is_refused(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(14);
    const int32_t h[2] = {1, 2};
    tre_tensor *init = NULL;
    TT_OK(ctx, tre_tensor_create(ctx, &init, TRE_I32, 1, 1, (const int64_t[]){2}, h));
    assert_null(tre_param(ctx, "counts", init, TRE_C_REAL));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_PARAM);
    assert_non_null(strstr(tre_ctx_error(ctx), "\"counts\""));
    assert_non_null(strstr(tre_ctx_error(ctx), "float32"));
    assert_int_equal(tre_param_store_size(ctx), 0);
    tre_tensor_destroy(ctx, init);
    tre_ctx_step_reset(ctx);
    assert_non_null(tre_param(ctx, "counts", tre_scalar(ctx, 1.f), TRE_C_REAL));
    tre_ctx_destroy(ctx);
}

/* A program that removes (or clears) the params it has just read: their values (a REAL
 * param's is a view of the stored tensor) and the tape would point at freed entries. */
static tre_tensor *model_removing_params(tre_ctx *c, const void *args) {
    const int mode = *(const int *)args; /* 0: remove "w", 1: clear, 2: neither */
    tre_tensor *w = tre_param(c, "w", tre_scalar(c, 2.f), TRE_C_REAL);
    tre_tensor *s = tre_param(c, "s", tre_scalar(c, 1.f), TRE_C_POSITIVE);
    if (mode == 1)
        tre_param_store_clear(c);
    else if (mode == 0)
        tre_param_store_remove(c, "w");
    tre_sample(c, "x", tre_normal(c, w, s), tre_scalar(c, 0.5f));
    return w;
}
static tre_tensor *guide_without_latents(tre_ctx *c, const void *args) {
    (void)c, (void)args;
    return NULL;
}

static void test_remove_inside_a_program_is_refused(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(15);
    for (int mode = 0; mode < 2; ++mode) {
        const bool clear = mode == 1;
        tre_elbo_result r;
        const tre_elbo_opts o = {.num_particles = 4, .grad = true};
        TT_FAILS_WITH(ctx, tre_elbo(ctx, model_removing_params, guide_without_latents, &mode, &o, &r),
                      TRE_ERR_INVALID_ARG, clear ? "tre_param_store_clear" : "tre_param_store_remove");
        assert_non_null(strstr(tre_ctx_error(ctx), "inside a model"));
        /* nothing was removed, and a plain run refuses it too (no handler on the stack) */
        assert_int_equal(tre_param_store_size(ctx), 2);
        assert_non_null(tre_param_store_get(ctx, "w"));
        tre_ctx_step_reset(ctx);
        TT_FAILS_WITH(ctx, tre_run(ctx, model_removing_params, &mode, NULL, 0, NULL),
                      TRE_ERR_INVALID_ARG, "inside a model");
        assert_int_equal(tre_param_store_size(ctx), 2);
        tre_ctx_step_reset(ctx);
    }
    /* between steps: allowed, and the context goes on (the evaluation's values are gone) */
    const int keep = 2;
    const tre_elbo_opts o = {.num_particles = 4, .grad = true};
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model_removing_params, guide_without_latents, &keep, &o, &r));
    TT_OK(ctx, tre_param_store_remove(ctx, "w"));
    assert_int_equal(tre_param_store_size(ctx), 1);
    TT_OK(ctx, tre_elbo(ctx, model_removing_params, guide_without_latents, &keep, &o, &r));
    assert_int_equal(tre_param_store_size(ctx), 2);
    TT_NEAR(r.mean, -0.5 * log(2 * 3.14159265358979323846) - 0.5 * 1.5 * 1.5, 1e-5); /* log N(0.5; 2, 1) */
    TT_OK(ctx, tre_param_store_clear(ctx));
    assert_int_equal(tre_param_store_size(ctx), 0);
    tre_ctx_destroy(ctx);
}

static void test_remove_and_clear(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    const char *names[4] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; ++i)
        assert_non_null(tre_param(ctx, names[i], tre_scalar(ctx, (float)i + 1.f), TRE_C_POSITIVE));
    assert_int_equal(tre_param_store_size(ctx), 4);
    for (int i = 0; i < 4; ++i) assert_string_equal(tre_param_store_at(ctx, i)->name, names[i]);
    TT_OK(ctx, tre_param_store_remove(ctx, "b"));
    assert_int_equal(tre_param_store_size(ctx), 3);
    assert_null(tre_param_store_get(ctx, "b"));
    /* insertion order of the others is kept, and they are still found by name */
    assert_string_equal(tre_param_store_at(ctx, 0)->name, "a");
    assert_string_equal(tre_param_store_at(ctx, 1)->name, "c");
    assert_string_equal(tre_param_store_at(ctx, 2)->name, "d");
    assert_null(tre_param_store_at(ctx, 3));
    assert_null(tre_param_store_at(ctx, -1)); /* out of range on either side: no entry */
    for (int i = 0; i < 4; ++i) {
        if (i == 1) continue;
        const tre_param_entry *e = tre_param_store_get(ctx, names[i]);
        assert_non_null(e);
        TT_NEAR(tt_at(ctx, tre_param_constrained(ctx, e), 0), i + 1.0, 1e-5);
    }
    /* removing a missing one is an error naming it */
    TT_FAILS_WITH(ctx, tre_param_store_remove(ctx, "b"), TRE_ERR_PARAM, "\"b\"");
    tre_ctx_clear_error(ctx);
    /* a removed name takes a new init */
    assert_true(tt_at(ctx, tre_param(ctx, "b", tre_scalar(ctx, 7.f), TRE_C_REAL), 0) == 7.f);
    assert_int_equal(tre_param_store_get(ctx, "b")->constraint.kind, TRE_REAL);
    assert_string_equal(tre_param_store_at(ctx, 3)->name, "b");
    /* reading it without init now works */
    assert_non_null(tre_param(ctx, "b", NULL, TRE_C_REAL));
    tre_param_store_clear(ctx);
    assert_int_equal(tre_param_store_size(ctx), 0);
    for (int i = 0; i < 4; ++i) assert_null(tre_param_store_get(ctx, names[i]));
    assert_null(tre_param(ctx, "a", NULL, TRE_C_POSITIVE));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_PARAM);
    tre_ctx_step_reset(ctx);
    /* the store works after a clear */
    for (int i = 0; i < 40; ++i) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        assert_non_null(tre_param(ctx, name, tre_scalar(ctx, (float)i), TRE_C_REAL));
    }
    assert_int_equal(tre_param_store_size(ctx), 40);
    assert_true(tt_at(ctx, tre_param(ctx, "p33", NULL, TRE_C_REAL), 0) == 33.f);
    tre_ctx_destroy(ctx);
}

/* Many entries, many removals: lookups stay right (the name map deletes without tombstones). */
static void test_remove_many(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(11);
    enum { M = 300 };
    char name[16];
    for (int i = 0; i < M; ++i) {
        snprintf(name, sizeof name, "w%d", i);
        assert_non_null(tre_param(ctx, name, tre_scalar(ctx, (float)i), TRE_C_REAL));
    }
    for (int i = 0; i < M; i += 3) {
        snprintf(name, sizeof name, "w%d", i);
        TT_OK(ctx, tre_param_store_remove(ctx, name));
    }
    assert_int_equal(tre_param_store_size(ctx), M - (M + 2) / 3);
    for (int i = 0; i < M; ++i) {
        snprintf(name, sizeof name, "w%d", i);
        const tre_param_entry *e = tre_param_store_get(ctx, name);
        if (i % 3 == 0) {
            assert_null(e);
        } else {
            if (!e) fail_msg("%s is missing after removals", name);
            assert_string_equal(e->name, name);
            assert_true(tt_at(ctx, e->unconstrained, 0) == (float)i);
        }
    }
    /* insertion order of the survivors */
    int64_t k = 0;
    for (int i = 0; i < M; ++i)
        if (i % 3) {
            snprintf(name, sizeof name, "w%d", i);
            assert_string_equal(tre_param_store_at(ctx, k++)->name, name);
        }
    tre_ctx_destroy(ctx);
}

static void *sm_alloc(void *user, size_t n) { (void)user; return malloc(n); }
static void sm_free(void *user, void *p) { (void)user; free(p); }

/* The name map directly, kept at 12 keys in 16 slots (its fullest), so that clusters often
 * wrap past the last slot: after every removal, in random orders, each key still in the map is
 * found with its value and each removed key is not. */
static void test_name_map_removals_in_wrapping_clusters(void **state) {
    (void)state;
    enum { N = 12, TRIALS = 3000 };
    char keys[N][16];
    uint64_t s = 0x2545F4914F6CDD1Dull;
    for (int trial = 0; trial < TRIALS; ++trial) {
        tre_strmap m;
        tre_strmap_init(&m, sm_alloc, sm_free, NULL);
        for (int i = 0; i < N; ++i) {
            snprintf(keys[i], sizeof keys[i], "p%d_%d", trial, i);
            assert_true(tre_strmap_put(&m, keys[i], keys[i]));
        }
        assert_int_equal(m.cap, 16);
        int order[N];
        bool gone[N] = {false};
        for (int i = 0; i < N; ++i) order[i] = i;
        for (int i = N - 1; i > 0; --i) { /* a random removal order */
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            const int j = (int)(s % (uint64_t)(i + 1)), t = order[i];
            order[i] = order[j], order[j] = t;
        }
        for (int r = 0; r < N; ++r) {
            assert_true(tre_strmap_remove(&m, keys[order[r]]));
            gone[order[r]] = true;
            for (int i = 0; i < N; ++i) {
                void *v = tre_strmap_get(&m, keys[i]);
                if (gone[i] ? v != NULL : v != keys[i])
                    fail_msg("trial %d, after removing %s: lookup of %s gives %p", trial, keys[order[r]], keys[i], v);
            }
        }
        tre_strmap_release(&m);
    }
}

/* The store survives steps (its tensors are persistent). */
static void test_store_survives_steps(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    assert_non_null(tre_param(ctx, "q", tre_scalar(ctx, 0.25f), TRE_C_UNIT_INTERVAL));
    for (int s = 0; s < 3; ++s) {
        tre_ctx_step_reset(ctx);
        for (int i = 0; i < 100; ++i) tre_full(ctx, 1, (const int64_t[]){1000}, 5.f);
        TT_NEAR(tt_at(ctx, tre_param(ctx, "q", NULL, TRE_C_UNIT_INTERVAL), 0), 0.25, 1e-6);
    }
    tre_ctx_destroy(ctx);
}

/* ---- constraint transforms ---- */

typedef struct ccase {
    tre_constraint c;
    const char *name;
    float y[4];       /* points of the support */
} ccase;

static const ccase cases[] = {
    {TRE_C_REAL, "real", {-3.f, 0.f, 2.5f, 40.f}},
    {TRE_C_POSITIVE, "positive", {1e-3f, 0.7f, 1.f, 50.f}},
    {{TRE_SOFTPLUS_POSITIVE, 0.f, 0.f}, "softplus_positive", {1e-3f, 0.5f, 3.f, 30.f}},
    {TRE_C_GREATER_THAN(-1.5f), "greater_than", {-1.4f, 0.f, 2.f, 10.f}},
    {TRE_C_GREATER_THAN(2.f), "greater_than(2)", {2.01f, 2.5f, 3.f, 100.f}},
    {TRE_C_UNIT_INTERVAL, "unit_interval", {0.01f, 0.3f, 0.5f, 0.99f}},
    {TRE_C_INTERVAL(-2.f, 3.f), "interval", {-1.9f, 0.f, 1.f, 2.9f}},
    {TRE_C_INTERVAL(0.5f, 0.75f), "interval(0.5,0.75)", {0.51f, 0.6f, 0.7f, 0.74f}},
};

/* T in double, written from the definitions. */
static double T_host(tre_constraint c, double u) {
    switch (c.kind) {
    case TRE_REAL: return u;
    case TRE_POSITIVE: return exp(u);
    case TRE_SOFTPLUS_POSITIVE: return u > 0 ? u + log1p(exp(-u)) : log1p(exp(u));
    case TRE_GREATER_THAN: return c.lower + exp(u);
    case TRE_UNIT_INTERVAL: return 1.0 / (1.0 + exp(-u));
    case TRE_INTERVAL: return c.lower + ((double)c.upper - c.lower) / (1.0 + exp(-u));
    default: return NAN;
    }
}

/* T^-1 in double. */
static double Tinv_host(tre_constraint c, double y) {
    switch (c.kind) {
    case TRE_REAL: return y;
    case TRE_POSITIVE: return log(y);
    case TRE_SOFTPLUS_POSITIVE: return log(expm1(y));
    case TRE_GREATER_THAN: return log(y - c.lower);
    case TRE_UNIT_INTERVAL: return log(y / (1 - y));
    case TRE_INTERVAL: {
        double t = (y - c.lower) / ((double)c.upper - c.lower);
        return log(t / (1 - t));
    }
    default: return NAN;
    }
}

static void test_transform_round_trip(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(7);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
        const ccase *cc = &cases[k];
        tre_tensor *y = tre_from_host(ctx, 1, 1, (const int64_t[]){4}, cc->y);
        tre_tensor *u = tre_transform_inv(ctx, cc->c, y);
        tre_tensor *y2 = tre_transform_to(ctx, cc->c, u);
        if (!u || !y2) fail_msg("%s: %s", cc->name, tre_ctx_error(ctx));
        const float *hu = tt_host(ctx, u, 0), *hy = tt_host(ctx, y2, 1);
        for (int i = 0; i < 4; ++i) {
            double want_u = Tinv_host(cc->c, cc->y[i]);
            if (!(fabs(hu[i] - want_u) <= 2e-4 * (1 + fabs(want_u))))
                fail_msg("%s: T^-1(%g) = %.7g, expected %.7g", cc->name, (double)cc->y[i],
                         (double)hu[i], want_u);
            if (!(fabs(hy[i] - cc->y[i]) <= 1e-5 * (1 + fabs(cc->y[i]))))
                fail_msg("%s: T(T^-1(%g)) = %.7g", cc->name, (double)cc->y[i], (double)hy[i]);
            /* inside the support */
            double lo = cc->c.kind == TRE_REAL ? -INFINITY
                      : cc->c.kind == TRE_GREATER_THAN || cc->c.kind == TRE_INTERVAL ? cc->c.lower
                                                                                       : 0.0;
            assert_true(hy[i] > lo);
        }
        tre_ctx_step_reset(ctx);
    }
    tre_ctx_destroy(ctx);
}

/* T(u) on unconstrained points matches the double definition, including large |u|. */
static void test_transform_to_values(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(8);
    const float us[6] = {-30.f, -3.f, -0.2f, 0.f, 1.7f, 25.f};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
        const ccase *cc = &cases[k];
        tre_tensor *y = tre_transform_to(ctx, cc->c, tre_from_host(ctx, 1, 1, (const int64_t[]){6}, us));
        if (!y) fail_msg("%s: %s", cc->name, tre_ctx_error(ctx));
        const float *h = tt_host(ctx, y, 0);
        for (int i = 0; i < 6; ++i) {
            double want = T_host(cc->c, us[i]);
            if (!(fabs(h[i] - want) <= 1e-6 * (1 + fabs(want)) + 1e-30))
                fail_msg("%s: T(%g) = %.8g, expected %.8g", cc->name, (double)us[i], (double)h[i],
                         want);
        }
        tre_ctx_step_reset(ctx);
    }
    tre_ctx_destroy(ctx);
}

/* An init on the bound of a unit_interval or interval param, as PyTorch's SigmoidTransform
 * inverts it (clamped to [FLT_MIN, 1 - FLT_EPSILON]): a finite unconstrained value, so that
 * Adam can move the param off the bound (an infinite one stays there, whatever the gradient). */
static tre_tensor *bound_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *p = tre_param(c, "p", tre_scalar(c, 0.f), TRE_C_UNIT_INTERVAL);
    tre_tensor *q = tre_param(c, "q", tre_scalar(c, 5.f), TRE_C_INTERVAL(2.f, 5.f));
    /* loss -log p - log(5 - q): finite on the clamped bounds, with gradients of about 1 that
     * push p up and q down (at p = 0 exactly the loss would be infinite) */
    tre_factor(c, "f", tre_add(c, tre_log(c, p), tre_log(c, tre_sub(c, tre_scalar(c, 5.f), q))));
    return NULL;
}
static tre_tensor *no_guide(tre_ctx *c, const void *args) {
    (void)c, (void)args;
    return NULL;
}

static void test_init_on_the_bound_is_finite(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(9);
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = 1.0}, &opt));
    double loss;
    TT_OK(ctx, tre_svi_step(ctx, bound_model, no_guide, NULL, &(tre_elbo_opts){.num_particles = 1}, opt, &loss));
    float up, uq;
    /* the stored values before the step were logit(FLT_MIN) = -87.34 and logit(1 - 2^-23) = 15.94 */
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "p")->unconstrained, &up, 1));
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "q")->unconstrained, &uq, 1));
    TT_NEAR(up, log(FLT_MIN) + 1.0, 1e-3);
    TT_NEAR(uq, log1p(-FLT_EPSILON) - log(FLT_EPSILON) - 1.0, 1e-3);
    assert_true(isfinite(loss));
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
}

/* log|det dT/du|, summed per particle, against central differences of T in double. */
static void test_log_abs_det_jacobian_finite_differences(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(9);
    enum { NP = 2, NE = 5 };
    const float us[NP * NE] = {-2.f, -0.3f, 0.f, 0.7f, 3.f, /* particle 0 */
                               1.f, -4.f, 0.25f, 2.f, -1.f}; /* particle 1 */
    for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
        const ccase *cc = &cases[k];
        tre_tensor *u = tre_from_host(ctx, NP, 1, (const int64_t[]){NE}, us);
        tre_tensor *ld = tre_transform_log_abs_det_jacobian(ctx, cc->c, u);
        if (!ld) fail_msg("%s: %s", cc->name, tre_ctx_error(ctx));
        assert_int_equal(ld->particles, NP);
        assert_int_equal(ld->ndim, 0);
        const float *h = tt_host(ctx, ld, 0);
        for (int p = 0; p < NP; ++p) {
            double want = 0;
            for (int i = 0; i < NE; ++i) {
                double x = us[p * NE + i], eps = 1e-5;
                double d = (T_host(cc->c, x + eps) - T_host(cc->c, x - eps)) / (2 * eps);
                want += log(fabs(d));
            }
            if (!(fabs(h[p] - want) <= 1e-4 * (1 + fabs(want))))
                fail_msg("%s particle %d: log|det J| = %.7g, finite differences %.7g", cc->name, p,
                         (double)h[p], want);
        }
        tre_ctx_step_reset(ctx);
    }
    tre_ctx_destroy(ctx);
}

static void test_transform_errors(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(10);
    tre_tensor *x = tre_scalar(ctx, 0.5f);
    assert_null(tre_transform_to(ctx, TRE_C_INTERVAL(1.f, 1.f), x));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_INVALID_ARG);
    tre_ctx_clear_error(ctx);
    assert_null(tre_transform_inv(ctx, TRE_C_REAL, NULL));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_INVALID_ARG);
    tre_ctx_clear_error(ctx);
    assert_null(tre_transform_log_abs_det_jacobian(ctx, (tre_constraint){(tre_constraint_kind)99, 0, 0}, x));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_INVALID_ARG);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_on_the_bound_is_finite),
        cmocka_unit_test(test_first_use_stores_unconstrained),
        cmocka_unit_test(test_real_param_value_is_not_the_stored_tensor),
        cmocka_unit_test(test_missing_param_without_init),
        cmocka_unit_test(test_init_with_particle_extent_is_refused),
        cmocka_unit_test(test_integer_init_is_refused),
        cmocka_unit_test(test_remove_inside_a_program_is_refused),
        cmocka_unit_test(test_remove_and_clear),
        cmocka_unit_test(test_remove_many),
        cmocka_unit_test(test_name_map_removals_in_wrapping_clusters),
        cmocka_unit_test(test_store_survives_steps),
        cmocka_unit_test(test_transform_round_trip),
        cmocka_unit_test(test_transform_to_values),
        cmocka_unit_test(test_log_abs_det_jacobian_finite_differences),
        cmocka_unit_test(test_transform_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
