/* Adam and ClippedAdam updates against the formulas (three steps: plain, clipped from above and
 * below, with weight decay, with lrd alone and a large eps), from gradients computed by a
 * deterministic evaluation (MeanField with no observations: the ELBO is exactly -KL); and the
 * optimiser's state over a run, as Pyro's SVI keeps it: only the params a step used move, a
 * re-created param starts afresh (and so does a param loaded from a file), state of removed
 * params is freed, a failed step leaves no stale loss, and a warning repeated every step is
 * given once. */
#include <math.h>
#include <stdio.h>
#include "test_support.h"

/* The prior's mean and the guide's initial loc, for run (NULL: 0 and 2) */
typedef struct adam_case {
    double prior_mean, loc0;
} adam_case;
static const adam_case default_case = {0.0, 2.0};

static tre_tensor *model(tre_ctx *c, const void *args) {
    const adam_case *k = args ? args : &default_case;
    return tre_sample(c, "z", tre_normal(c, tre_scalar(c, (float)k->prior_mean), tre_scalar(c, 1.f)), NULL);
}
static tre_tensor *guide(tre_ctx *c, const void *args) {
    const adam_case *k = args ? args : &default_case;
    tre_tensor *loc = tre_param(c, "loc", tre_scalar(c, (float)k->loc0), TRE_C_REAL);
    return tre_sample(c, "z", tre_normal(c, loc, tre_scalar(c, 1.f)), NULL);
}

/* loss = KL(N(loc, 1) || N(m0, 1)) = (loc - m0)^2 / 2: gradient loc - m0; three steps against
 * the formulas in double, with the options' eps, weight decay, clipping and decay */
static void run(const tre_adam_opts *o, adam_case k) {
    tre_ctx *ctx = tt_ctx(1);
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, o, &opt));
    double u = k.loc0, m = 0, v = 0, lr = o->lr;
    const bool default_betas = o->beta1 == 0 && o->beta2 == 0; /* optim.h: (0, 0) is (0.9, 0.999) */
    const double b1 = default_betas ? 0.9 : o->beta1, b2 = default_betas ? 0.999 : o->beta2;
    const double eps = o->eps ? o->eps : 1e-8, clip = o->clip_norm;
    for (int t = 1; t <= 3; ++t) {
        tre_elbo_result r;
        TT_OK(ctx, tre_elbo(ctx, model, guide, &k,
                            &(tre_elbo_opts){.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 1, .grad = true}, &r));
        TT_OK(ctx, tre_adam_step(ctx, opt));
        double g = u - k.prior_mean;
        if (clip > 0) g = fmax(-clip, fmin(clip, g));
        g += o->weight_decay * u; /* torch's decay: after the clip, into both moments */
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
        if (o->lrd) lr *= o->lrd; /* Pyro's ClippedAdam decays before the update */
        if (clip > 0 || o->lrd) /* Pyro's ClippedAdam: eps outside the bias correction */
            u -= lr * sqrt(bc2) / bc1 * m / (sqrt(v) + eps);
        else
            u -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps);
        float got;
        TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "loc")->unconstrained, &got, 1));
        TT_NEAR(got, u, 1e-6 * (1 + fabs(u)));
    }
    if (o->lrd) TT_NEAR(tre_adam_lr(opt), o->lr * pow(o->lrd, 3), 1e-12);
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
}

static void test_adam(void **state) {
    (void)state;
    run(&(tre_adam_opts){.lr = 0.1}, default_case);
}
static void test_clipped_adam(void **state) {
    (void)state;
    run(&(tre_adam_opts){.lr = 0.1, .clip_norm = 0.5, .lrd = 0.9}, default_case);
    /* a negative gradient, clipped from below */
    run(&(tre_adam_opts){.lr = 0.1, .clip_norm = 0.5, .lrd = 0.9}, (adam_case){0.0, -2.0});
}
/* weight decay: g = (u - 3) + 1.0 u is +1 at u = 2, so loc moves down, against the prior's pull
 * (a first step moves by lr whatever g's size: only later steps see the decay's weight) */
static void test_weight_decay(void **state) {
    (void)state;
    run(&(tre_adam_opts){.lr = 0.1, .weight_decay = 1.0}, (adam_case){3.0, 2.0});
}
/* lrd alone makes it ClippedAdam, eps outside the bias correction: with a large eps the two
 * placements differ by ~1e-3, not by float rounding */
static void test_decay_alone_is_clipped_adam(void **state) {
    (void)state;
    run(&(tre_adam_opts){.lr = 0.1, .lrd = 0.9, .eps = 0.1}, default_case);
}
/* Only both betas 0 means the defaults: one beta given keeps the other's 0 (beta1 = 0 is
 * torch's Adam without momentum, beta2 = 0 normalises by the last gradient alone) */
static void test_one_beta_given_keeps_the_other_zero(void **state) {
    (void)state;
    run(&(tre_adam_opts){.lr = 0.1, .beta2 = 0.5}, default_case);
    run(&(tre_adam_opts){.lr = 0.1, .beta1 = 0.5}, (adam_case){0.0, -2.0});
}
static void test_bad_options(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    tre_adam *opt = NULL;
    TT_FAILS_WITH(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = -1}, &opt), TRE_ERR_INVALID_ARG, "lr");
    assert_null(opt);
    /* NaN passes a `< 0` test: every option is checked so that it cannot */
    const tre_adam_opts bad[] = {{.weight_decay = NAN}, {.weight_decay = INFINITY}, {.clip_norm = NAN},
                                 {.lr = NAN}, {.lrd = NAN}, {.eps = NAN},
                                 /* betas in [0, 1), as torch checks: 1 would never forget */
                                 {.beta1 = 1.0, .beta2 = 0.999}, {.beta1 = 0.9, .beta2 = 1.0},
                                 {.beta1 = -0.1, .beta2 = 0.999}, {.beta1 = 0.9, .beta2 = -0.1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        TT_FAILS_WITH(ctx, tre_adam_create(ctx, &bad[i], &opt), TRE_ERR_INVALID_ARG, "tre_adam_create");
        assert_null(opt);
    }
    tre_ctx_destroy(ctx);
}

/* Two guides over one model, each with a param of its own ("a", "b"); the gradient of each
 * is its value (loss = KL(N(p, 1) || N(0, 1)) = p^2 / 2). */
static tre_tensor *guide_a(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *a = tre_param(c, "a", tre_scalar(c, 2.f), TRE_C_REAL);
    return tre_sample(c, "z", tre_normal(c, a, tre_scalar(c, 1.f)), NULL);
}
static tre_tensor *guide_b(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *b = tre_param(c, "b", tre_scalar(c, -1.f), TRE_C_REAL);
    return tre_sample(c, "z", tre_normal(c, b, tre_scalar(c, 1.f)), NULL);
}
static const tre_elbo_opts mf = {.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 1};

static float value_of(tre_ctx *ctx, const char *name) {
    float v;
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, name)->unconstrained, &v, 1));
    return v;
}

static void test_only_the_params_a_step_used_move(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.1, .lrd = 0.5, .clip_norm = 10}, &opt));
    double loss;
    for (int t = 0; t < 3; ++t) TT_OK(ctx, tre_svi_step(ctx, model, guide_a, NULL, &mf, opt, &loss));
    const float a3 = value_of(ctx, "a");
    assert_true(tre_param_store_get(ctx, "a")->in_step);
    /* "b" joins: its first update is a first Adam step at its own first decayed rate,
     * lr * lrd, whatever "a" went through: -1 + 0.05 */
    TT_OK(ctx, tre_svi_step(ctx, model, guide_b, NULL, &mf, opt, &loss));
    TT_NEAR(value_of(ctx, "b"), -1.0 + 0.05, 1e-6);
    /* and "a", not used by that step, has not moved (no momentum, no step counted) */
    assert_false(tre_param_store_get(ctx, "a")->in_step);
    assert_true(value_of(ctx, "a") == a3);
    TT_OK(ctx, tre_svi_step(ctx, model, guide_b, NULL, &mf, opt, &loss));
    assert_true(value_of(ctx, "a") == a3);
    /* back to "a": its 4th update uses lr * lrd^4 */
    TT_OK(ctx, tre_svi_step(ctx, model, guide_a, NULL, &mf, opt, &loss));
    assert_true(value_of(ctx, "a") < a3);
    assert_true(value_of(ctx, "a") > a3 - 0.1 * pow(0.5, 4) * 1.01);
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
}

/* loss = -(b + a) in steps 3 and 4, -b otherwise; every step reads both */
static tre_tensor *reads_a_model(tre_ctx *c, const void *args) {
    const int t = *(const int *)args;
    tre_tensor *a = tre_param(c, "a", tre_scalar(c, 0.5f), TRE_C_REAL);
    tre_tensor *lf = tre_param(c, "b", tre_scalar(c, 0.f), TRE_C_REAL);
    if (t == 3 || t == 4) lf = tre_add(c, lf, a);
    tre_factor(c, "f", lf);
    return NULL;
}
static tre_tensor *empty_guide(tre_ctx *c, const void *args) {
    (void)c, (void)args;
    return NULL;
}

/* As Pyro's SVI with torch's Adam: a param read but never yet differentiated has .grad None and
 * is skipped (no step counted, no weight decay); once it has had a gradient, a step that reads
 * it without one updates it with zeros (zero_grads left zeros), so its momentum carries on. */
static void test_read_param_moves_only_after_its_first_gradient(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.1, .weight_decay = 0.1}, &opt));
    const tre_elbo_opts o = {.num_particles = 1};
    double loss;
    float after[6];
    for (int t = 0; t < 6; ++t) {
        TT_OK(ctx, tre_svi_step(ctx, reads_a_model, empty_guide, &t, &o, opt, &loss));
        after[t] = value_of(ctx, "a");
        assert_true(tre_param_store_get(ctx, "a")->in_step == (t >= 3));
    }
    for (int t = 0; t < 3; ++t) assert_true(after[t] == 0.5f);
    /* a first Adam step moves by lr whatever the gradient (here -1 + 0.1 * 0.5, decay included) */
    TT_NEAR(after[3], 0.6, 1e-5);
    TT_NEAR(after[4], 0.7, 1e-4);
    assert_true(after[5] > after[4]); /* zero gradient, momentum still pushing up */
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
}

/* A loaded param is a new tensor, whose .grad is None in Pyro: a step that reads it without a
 * gradient skips it (as one never differentiated), and its next gradient is a first Adam step
 * (the optimiser's state for it starts afresh: the entry's id changed), which moves it by lr. */
static void test_loaded_param_has_no_gradient_history(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.1}, &opt));
    const tre_elbo_opts o = {.num_particles = 1};
    char path[96];
    snprintf(path, sizeof path, "%s/store", tt_dir);
    double loss;
    int t = 3; /* a gradient for "a" */
    TT_OK(ctx, tre_svi_step(ctx, reads_a_model, empty_guide, &t, &o, opt, &loss));
    TT_OK(ctx, tre_param_store_save(ctx, path));
    TT_OK(ctx, tre_param_store_load(ctx, path));
    const float a0 = value_of(ctx, "a");
    t = 0; /* "a" read, no gradient */
    TT_OK(ctx, tre_svi_step(ctx, reads_a_model, empty_guide, &t, &o, opt, &loss));
    assert_false(tre_param_store_get(ctx, "a")->in_step);
    assert_true(value_of(ctx, "a") == a0);
    t = 3;
    TT_OK(ctx, tre_svi_step(ctx, reads_a_model, empty_guide, &t, &o, opt, &loss));
    TT_NEAR(value_of(ctx, "a"), a0 + 0.1, 1e-6);
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
}

static void test_recreated_param_starts_afresh_and_removed_state_is_freed(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.1}, &opt));
    double loss;
    for (int t = 0; t < 5; ++t) TT_OK(ctx, tre_svi_step(ctx, model, guide_a, NULL, &mf, opt, &loss));
    TT_OK(ctx, tre_param_store_remove(ctx, "a"));
    /* re-created at 2: a first Adam step moves it by lr (times sign g), as a new param */
    TT_OK(ctx, tre_svi_step(ctx, model, guide_a, NULL, &mf, opt, &loss));
    TT_NEAR(value_of(ctx, "a"), 1.9, 1e-6);
    /* removing and re-creating params again and again: the optimiser's memory stays flat */
    tre_ctx_memory mem0, mem1;
    for (int k = 0; k < 20; ++k) {
        TT_OK(ctx, tre_param_store_remove(ctx, "a"));
        TT_OK(ctx, tre_svi_step(ctx, model, guide_a, NULL, &mf, opt, &loss));
        if (k == 4) tre_ctx_memory_stats(ctx, &mem0);
    }
    tre_ctx_memory_stats(ctx, &mem1);
    assert_true(mem1.backend_bytes == mem0.backend_bytes);
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
}

/* States are looked up by the entry's id: a param created early ("a", before any step) whose
 * first update comes after a later one's ("b") gets a first Adam step of its own, and "b" its
 * second, whatever order their states were made in. */
static tre_tensor *guide_ab(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *a = tre_param(c, "a", tre_scalar(c, 2.f), TRE_C_REAL);
    tre_tensor *b = tre_param(c, "b", tre_scalar(c, -1.f), TRE_C_REAL);
    return tre_sample(c, "z", tre_normal(c, tre_add(c, a, b), tre_scalar(c, 1.f)), NULL);
}

static void test_states_follow_entries_in_any_order(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.1}, &opt));
    for (int k = 0; k < 40; ++k) { /* older entries, removed again: ids to sort among */
        char name[16];
        snprintf(name, sizeof name, "old%d", k);
        assert_non_null(tre_param(ctx, name, tre_scalar(ctx, 1.f), TRE_C_REAL));
    }
    assert_non_null(tre_param(ctx, "a", tre_scalar(ctx, 2.f), TRE_C_REAL));
    double loss;
    TT_OK(ctx, tre_svi_step(ctx, model, guide_b, NULL, &mf, opt, &loss));
    TT_NEAR(value_of(ctx, "b"), -1.0 + 0.1, 1e-6);     /* b's first step: lr times sign(g) */
    assert_true(value_of(ctx, "a") == 2.f);             /* a untouched */
    for (int k = 0; k < 40; k += 2) {
        char name[16];
        snprintf(name, sizeof name, "old%d", k);
        TT_OK(ctx, tre_param_store_remove(ctx, name));
    }
    /* loss = (a + b)^2 / 2: both gradients are a + b > 0; a's first step moves it by lr */
    TT_OK(ctx, tre_svi_step(ctx, model, guide_ab, NULL, &mf, opt, &loss));
    TT_NEAR(value_of(ctx, "a"), 2.0 - 0.1, 1e-6);
    const double g1 = -1.0, g2 = 2.0 - 0.9, b1 = 0.9, b2 = 0.999; /* b's two gradients */
    const double m = b1 * (1 - b1) * g1 + (1 - b1) * g2, v = b2 * (1 - b2) * g1 * g1 + (1 - b2) * g2 * g2;
    const double want = -0.9 - 0.1 / (1 - b1 * b1) * m / (sqrt(v) / sqrt(1 - b2 * b2) + 1e-8);
    TT_NEAR(value_of(ctx, "b"), want, 1e-5);
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
}

static tre_tensor *failing_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, -1.f)), NULL); /* bad scale */
    return NULL;
}

static void test_failed_step_leaves_no_stale_loss(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.1}, &opt));
    double loss = 123;
    TT_OK(ctx, tre_svi_step(ctx, model, guide_a, NULL, &mf, opt, &loss));
    assert_true(isfinite(loss) && loss != 123);
    const float a1 = value_of(ctx, "a");
    assert_int_equal(tre_svi_step(ctx, failing_model, guide_a, NULL, &mf, opt, &loss), TRE_ERR_DIST);
    assert_true(isnan(loss));
    tre_ctx_clear_error(ctx);
    assert_true(value_of(ctx, "a") == a1);
    TT_OK(ctx, tre_svi_step(ctx, model, guide_a, NULL, &mf, opt, &loss));
    assert_true(isfinite(loss));
    /* an optimiser belongs to its context */
    tre_ctx *other = tt_ctx(5);
    TT_FAILS_WITH(other, tre_adam_step(other, opt), TRE_ERR_INVALID_ARG, "another context");
    tre_ctx_destroy(other);
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
}

static tre_tensor *guide_missing_z(tre_ctx *c, const void *args) {
    (void)c, (void)args;
    return NULL;
}

static void test_repeated_warning_is_given_once(void **state) {
    (void)state;
    int warnings = 0;
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 6,
                                                     .warn = tt_count_warnings, .warn_user = &warnings}));
    tre_elbo_result r;
    for (int t = 0; t < 5; ++t)
        TT_OK(ctx, tre_elbo(ctx, model, guide_missing_z, NULL, &(tre_elbo_opts){.num_particles = 2}, &r));
    assert_int_equal(warnings, 1);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_clipped_adam),
        cmocka_unit_test(test_weight_decay),
        cmocka_unit_test(test_decay_alone_is_clipped_adam),
        cmocka_unit_test(test_one_beta_given_keeps_the_other_zero),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_only_the_params_a_step_used_move),
        cmocka_unit_test(test_read_param_moves_only_after_its_first_gradient),
        cmocka_unit_test(test_loaded_param_has_no_gradient_history),
        cmocka_unit_test(test_states_follow_entries_in_any_order),
        cmocka_unit_test(test_recreated_param_starts_afresh_and_removed_state_is_freed),
        cmocka_unit_test(test_failed_step_leaves_no_stale_loss),
        cmocka_unit_test(test_repeated_warning_is_given_once),
    };
    return cmocka_run_group_tests(tests, tt_make_dir, tt_remove_dir);
}
