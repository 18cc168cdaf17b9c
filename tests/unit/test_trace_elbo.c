/* Trace_ELBO evaluation: one guide and one model call whatever P is, reproducible seeds,
 * model/guide mismatch rules, and a context that survives errors inside a model. */
#include <math.h>
#include <string.h>
#include "test_support.h"
#include "src/infer/elbo_impl.h" /* tre_log_r_to_plates */

typedef struct counts {
    int model_calls, guide_calls;
    tre_tensor *x;
    int fail_in_model;   /* 1: bad site inside the model */
    int guide_extra;     /* 1: guide-only site, 2: same but auxiliary, 3 and 4: is_auxiliary
                          * "false" and "0", which are not auxiliary */
} counts;

static tre_tensor *model(tre_ctx *c, const void *args) {
    counts *k = (counts *)args;
    k->model_calls++;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 10.f)), NULL);
    tre_plate(c, "data", k->x->shape[0], 0);
    tre_sample(c, "obs", tre_normal(c, mu, tre_scalar(c, 1.f)), k->x);
    tre_plate_end(c);
    if (k->fail_in_model) tre_sample(c, "mu", tre_normal(c, mu, tre_scalar(c, 1.f)), NULL);
    return mu;
}

static tre_tensor *guide(tre_ctx *c, const void *args) {
    counts *k = (counts *)args;
    k->guide_calls++;
    tre_tensor *loc = tre_param(c, "q_loc", tre_scalar(c, 1.f), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "q_scale", tre_scalar(c, 0.5f), TRE_C_POSITIVE);
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, loc, scale), NULL);
    if (k->guide_extra) {
        tre_infer inf = {0};
        const char *aux[5] = {NULL, NULL, "true", "false", "0"};
        if (aux[k->guide_extra]) tre_infer_set(&inf, "is_auxiliary", aux[k->guide_extra]);
        tre_sample_opts o = {.infer = &inf};
        tre_sample_ex(c, "extra", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), &o);
    }
    return mu;
}

static const float xs[5] = {0.3f, 1.2f, -0.4f, 2.2f, 0.9f};

static void test_model_and_guide_run_once_whatever_p(void **state) {
    (void)state;
    const int64_t ps[2] = {1, 10000};
    for (int i = 0; i < 2; ++i) {
        tre_ctx *ctx = tt_ctx(1);
        counts k = {.x = tt_data(ctx, 5, xs)};
        tre_elbo_result r;
        TT_OK(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = ps[i]}, &r));
        assert_int_equal(k.model_calls, 1);
        assert_int_equal(k.guide_calls, 1);
        assert_int_equal(r.num_particles, ps[i]);
        assert_true(isfinite(r.mean));
        TT_NEAR(r.loss, -r.mean, 0);
        if (ps[i] == 1) assert_true(r.stderr_ == 0.0);
        else assert_true(r.stderr_ > 0.0);
        tre_ctx_destroy(ctx);
    }
}

static void run_elbo(uint64_t seed, int64_t P, float *out, double *mean) {
    tre_ctx *ctx = tt_ctx(seed);
    counts k = {.x = tt_data(ctx, 5, xs)};
    tre_elbo_result r;
    for (int step = 0; step < 2; ++step) /* the second evaluation uses fresh noise */
        TT_OK(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = P}, &r));
    memcpy(out, r.particles, (size_t)P * sizeof *out);
    *mean = r.mean;
    tre_ctx_destroy(ctx);
}

static void test_same_seed_bit_identical_different_seed_differs(void **state) {
    (void)state;
    enum { P = 1000 };
    static float a[P], b[P], c[P];
    double ma, mb, mc;
    run_elbo(42, P, a, &ma);
    run_elbo(42, P, b, &mb);
    run_elbo(43, P, c, &mc);
    assert_memory_equal(a, b, sizeof a);
    assert_true(ma == mb);
    assert_memory_not_equal(a, c, sizeof a);
    assert_true(ma != mc);
}

static void test_steps_draw_fresh_noise(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    counts k = {.x = tt_data(ctx, 5, xs)};
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 8}, &r));
    float first[8];
    memcpy(first, r.particles, sizeof first);
    TT_OK(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 8}, &r));
    assert_memory_not_equal(first, r.particles, sizeof first);
    tre_ctx_destroy(ctx);
}

static void test_guide_only_site_must_be_auxiliary(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    counts k = {.x = tt_data(ctx, 5, xs), .guide_extra = 1};
    tre_elbo_result r;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 4}, &r),
                  TRE_ERR_MODEL, "\"extra\"");
    for (k.guide_extra = 3; k.guide_extra <= 4; ++k.guide_extra)
        TT_FAILS_WITH(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 4}, &r),
                      TRE_ERR_MODEL, "\"extra\"");
    k.guide_extra = 2;
    TT_OK(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 4}, &r));
    tre_ctx_destroy(ctx);
}

/* The standard error of the mean over particles: the sample standard deviation (divisor
 * P - 1) over sqrt(P), from the particles' own elbo_s */
static void test_stderr_is_the_sample_sd_over_sqrt_p(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(9);
    counts k = {.x = tt_data(ctx, 5, xs)};
    enum { P = 4 };
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = P}, &r));
    double mean = 0, ss = 0;
    for (int s = 0; s < P; ++s) mean += r.particles[s] / P;
    for (int s = 0; s < P; ++s) ss += (r.particles[s] - mean) * (r.particles[s] - mean);
    const double want = sqrt(ss / (P - 1) / P);
    assert_true(want > 0);
    TT_NEAR(r.stderr_, want, 1e-9 * want);
    TT_OK(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 1}, &r));
    assert_true(r.stderr_ == 0.0);
    tre_ctx_destroy(ctx);
}

/* Model and guide that disagree at site "z" in one way each (Pyro's check_model_guide_match
 * raises for the first two; a latent the model only observes is not a latent of the model). */
enum mismatch { MATCH, SHAPES, EVENT_DIMS, OBSERVED_IN_MODEL };

static tre_tensor *mismatch_model(tre_ctx *c, const void *args) {
    const enum mismatch k = *(const enum mismatch *)args;
    tre_dist *prior = tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f));
    if (k == EVENT_DIMS) prior = tre_dist_to_event(c, tre_dist_expand(c, prior, 1, (const int64_t[]){3}), 1);
    if (k == MATCH) prior = tre_dist_expand(c, prior, 1, (const int64_t[]){3});
    return tre_sample(c, "z", prior, k == OBSERVED_IN_MODEL ? tre_scalar(c, 0.5f) : NULL);
}

static tre_tensor *mismatch_guide(tre_ctx *c, const void *args) {
    const enum mismatch k = *(const enum mismatch *)args;
    tre_tensor *loc = tre_param(c, "loc", tre_full(c, 1, (const int64_t[]){3}, 0.f), TRE_C_REAL);
    if (k == OBSERVED_IN_MODEL) loc = tre_param(c, "loc0", tre_scalar(c, 0.f), TRE_C_REAL);
    return tre_sample(c, "z", tre_normal(c, loc, tre_scalar(c, 1.f)), NULL);
}

static void test_model_and_guide_must_agree_on_a_latent(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(8);
    const tre_elbo_opts o = {.num_particles = 4, .grad = true};
    tre_elbo_result r;
    enum mismatch k = MATCH;
    TT_OK(ctx, tre_elbo(ctx, mismatch_model, mismatch_guide, &k, &o, &r));
    k = SHAPES; /* model z [], guide z [3]: broadcasting would count log p(z) three times */
    TT_FAILS_WITH(ctx, tre_elbo(ctx, mismatch_model, mismatch_guide, &k, &o, &r), TRE_ERR_MODEL,
                  "site \"z\": model and guide shapes disagree ([] vs [3])");
    k = EVENT_DIMS;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, mismatch_model, mismatch_guide, &k, &o, &r), TRE_ERR_MODEL,
                  "site \"z\": model and guide event dims disagree (1 vs 0)");
    k = OBSERVED_IN_MODEL;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, mismatch_model, mismatch_guide, &k, &o, &r), TRE_ERR_MODEL,
                  "guide site \"z\" is observed in the model");
    /* the context is usable afterwards */
    k = MATCH;
    TT_OK(ctx, tre_elbo(ctx, mismatch_model, mismatch_guide, &k, &o, &r));
    tre_ctx_destroy(ctx);
    /* as Pyro's check_model_guide_match, these checks are validations: without validation the
     * shapes broadcast and the event dims are not compared (a site observed in the model is
     * still refused: the guide would replay a value into an observation) */
    tre_ctx *nv = NULL;
    TT_OK(nv, tre_ctx_create(&nv, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 8, .no_validation = true}));
    k = SHAPES;
    TT_OK(nv, tre_elbo(nv, mismatch_model, mismatch_guide, &k, &o, &r));
    k = EVENT_DIMS;
    TT_OK(nv, tre_elbo(nv, mismatch_model, mismatch_guide, &k, &o, &r));
    k = OBSERVED_IN_MODEL;
    TT_FAILS_WITH(nv, tre_elbo(nv, mismatch_model, mismatch_guide, &k, &o, &r), TRE_ERR_MODEL,
                  "guide site \"z\" is observed in the model");
    tre_ctx_destroy(nv);
}

/* A guide site observed in both programs is in elbo_s (as -log q(y)), so it is in the gradient:
 * loss = -mean(elbo) holds log s + y^2 / (2 s^2) with s = exp(u), and d loss / d u is
 * -1 + y^2 / s^2 whatever the particles drew. */
static tre_tensor *obs_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 10.f)), NULL);
    tre_sample(c, "y", tre_normal(c, mu, tre_scalar(c, 1.f)), tre_scalar(c, 0.7f));
    return mu;
}
static tre_tensor *obs_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *s = tre_param(c, "s", tre_scalar(c, 1.5f), TRE_C_POSITIVE);
    tre_sample(c, "y", tre_normal(c, tre_scalar(c, 0.f), s), tre_scalar(c, 0.7f));
    return tre_sample(c, "mu", tre_normal(c, tre_param(c, "loc", tre_scalar(c, 0.f), TRE_C_REAL),
                                          tre_scalar(c, 1.f)), NULL);
}

static void test_observed_guide_site_is_in_the_gradient(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(9);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, obs_model, obs_guide, NULL, &(tre_elbo_opts){.num_particles = 8, .grad = true}, &r));
    const tre_param_entry *e = tre_param_store_get(ctx, "s");
    assert_non_null(e);
    assert_non_null(e->grad);
    TT_NEAR(tt_at(ctx, e->grad, 0), -1.0 + 0.49 / 2.25, 1e-5);
    tre_ctx_destroy(ctx);
}

static tre_tensor *empty_guide(tre_ctx *c, const void *args) {
    (void)c;
    ((counts *)args)->guide_calls++;
    return NULL;
}

static void test_model_site_missing_from_guide_warns_and_samples_prior(void **state) {
    (void)state;
    int warnings = 0;
    tre_ctx *ctx = NULL;
    tre_ctx_opts o = {.backend = TRE_BACKEND_CPU, .seed = 5, .warn = tt_count_warnings,
                      .warn_user = &warnings};
    TT_OK(ctx, tre_ctx_create(&ctx, &o));
    counts k = {.x = tt_data(ctx, 5, xs)};
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, empty_guide, &k, &(tre_elbo_opts){.num_particles = 16}, &r));
    assert_int_equal(warnings, 1);
    assert_non_null(strstr(tt_last_warning, "\"mu\""));
    /* observed sites are no latents: only "mu" is named */
    assert_null(strstr(tt_last_warning, "obs"));
    /* mu came from its prior, so elbo_s = log p(x, mu) varies per particle */
    assert_true(r.particles[0] != r.particles[1]);
    tre_ctx_destroy(ctx);
}

static void test_error_in_model_leaves_context_usable(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    counts k = {.x = tt_data(ctx, 5, xs), .fail_in_model = 1};
    tre_elbo_result r;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 32}, &r),
                  TRE_ERR_DUPLICATE_SITE, "\"mu\"");
    assert_int_equal(tre_stack_depth(ctx), 0);
    assert_int_equal(tre_param_store_size(ctx), 2);
    assert_int_equal(tre_ctx_particles(ctx), 1);
    k.fail_in_model = 0;
    TT_OK(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 32}, &r));
    assert_true(isfinite(r.mean));
    /* bad options are errors naming the argument */
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 0}, &r),
                  TRE_ERR_INVALID_ARG, "num_particles");
    TT_FAILS_WITH(ctx, tre_elbo(ctx, NULL, guide, &k, &(tre_elbo_opts){.num_particles = 1}, &r),
                  TRE_ERR_INVALID_ARG, "model");
    tre_ctx_destroy(ctx);
}

static void test_training_loop_stops_allocating(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(7);
    counts k = {.x = tt_data(ctx, 5, xs)};
    tre_ctx_memory m1, m2;
    /* a training loop: value, gradient and an Adam update per step */
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.01}, &opt));
    double loss;
    for (int step = 0; step < 3; ++step)
        TT_OK(ctx, tre_svi_step(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 4096}, opt, &loss));
    tre_ctx_memory_stats(ctx, &m1);
    for (int step = 0; step < 20; ++step)
        TT_OK(ctx, tre_svi_step(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 4096}, opt, &loss));
    tre_ctx_memory_stats(ctx, &m2);
    tre_adam_destroy(ctx, opt);
    assert_int_equal(m1.host_grows, m2.host_grows);
    assert_int_equal(m1.data_grows, m2.data_grows);
    assert_true(m2.data_bytes > 0);
    tre_ctx_destroy(ctx);
}

/* ---- score weights over nested plates (log_r.c) ---- */

/* z in plate "data" [RD]; w in "feature" x "data" [RF, RD]; both Bernoulli(probs) */
enum { RD = 2, RF = 3, RP = 3 };
static tre_tensor *nested_bernoullis(tre_ctx *c, const void *args) {
    const float *pr = args;
    tre_plate(c, "data", RD, 0);
    tre_sample(c, "z", tre_bernoulli_probs(c, tre_full(c, 1, (const int64_t[]){RD}, pr[0])), NULL);
    tre_plate(c, "feature", RF, 0);
    tre_sample(c, "w", tre_bernoulli_probs(c, tre_full(c, 2, (const int64_t[]){RF, RD}, pr[1])), NULL);
    tre_plate_end(c);
    tre_plate_end(c);
    return NULL;
}

static double bern_lp(float v, float p) { return v != 0.f ? log(p) : log1p(-(double)p); }

/* The weight of w's score keeps each (feature, data) slice apart, that of z sums over
 * "feature"; computed for z first, the weights' cache (one entry per set of plates) must not
 * hand z's weight to w, whose plates include z's. Against the weights in double from the
 * drawn values: w_sfn = dz_sn + dw_sfn, z_sn = dz_sn + sum_f dw_sfn, d = log p - log q. */
static void test_score_weights_of_nested_plates(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(21);
    TT_OK(ctx, tre_ctx_set_particles(ctx, RP));
    const float pm[2] = {0.3f, 0.6f}, pg[2] = {0.5f, 0.2f};
    tre_messenger *tg = tre_trace_handler(ctx), *tm = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, nested_bernoullis, pg, &tg, 1, NULL));
    TT_OK(ctx, tre_run(ctx, nested_bernoullis, pm, &tm, 1, NULL));
    tre_trace *model = tre_trace_handler_trace(tm), *guide = tre_trace_handler_trace(tg);
    tre_tensor *elbo = tre_sub(ctx, tre_trace_log_prob_sum(ctx, model), tre_trace_log_prob_sum(ctx, guide));
    assert_non_null(elbo);
    tre_log_r_cache cache = {0};
    tre_tensor *rz = tre_log_r_to_plates(ctx, model, guide, &tre_trace_get(guide, "z")->msg, elbo, &cache);
    tre_tensor *rw = tre_log_r_to_plates(ctx, model, guide, &tre_trace_get(guide, "w")->msg, elbo, &cache);
    if (!rz || !rw) fail_msg("%s", tre_ctx_error(ctx));
    /* z's weight broadcasts against z's shape [RD]: [RD], or [1, RD] */
    assert_true(tre_shape_equal(rz->ndim, rz->shape, 1, (const int64_t[]){RD}) ||
                tre_shape_equal(rz->ndim, rz->shape, 2, (const int64_t[]){1, RD}));
    assert_true(tre_shape_equal(rw->ndim, rw->shape, 2, (const int64_t[]){RF, RD}));
    assert_int_equal(rz->particles, RP);
    assert_int_equal(rw->particles, RP);
    const float *mz = tt_host(ctx, tre_trace_get(model, "z")->msg.value, 0);
    const float *mw = tt_host(ctx, tre_trace_get(model, "w")->msg.value, 1);
    const float *gz = tt_host(ctx, tre_trace_get(guide, "z")->msg.value, 2);
    const float *gw = tt_host(ctx, tre_trace_get(guide, "w")->msg.value, 3);
    const float *hz = tt_host(ctx, rz, 4), *hw = tt_host(ctx, rw, 5);
    for (int s = 0; s < RP; ++s)
        for (int n = 0; n < RD; ++n) {
            const double dz = bern_lp(mz[s * RD + n], pm[0]) - bern_lp(gz[s * RD + n], pg[0]);
            double want_z = dz;
            for (int f = 0; f < RF; ++f) {
                const int e = s * RF * RD + f * RD + n;
                const double dw = bern_lp(mw[e], pm[1]) - bern_lp(gw[e], pg[1]);
                want_z += dw;
                TT_NEAR(hw[e], dz + dw, 1e-5);
            }
            TT_NEAR(hz[s * RD + n], want_z, 1e-5);
        }
    tre_ctx_destroy(ctx);
}

/* TraceMeanField_ELBO with no closed-form KL for a site (Delta || Normal) falls back to its
 * Monte Carlo term, log p(z) - log q(z): with z = 0.7 from Delta(0.7, log_density 1.5) that is
 * log N(0.7; 0, 2) - 1.5 for every particle. */
static tre_tensor *wide_prior(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 2.f)), NULL);
}
static tre_tensor *delta_guide(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "z", tre_delta(c, tre_scalar(c, 0.7f), tre_scalar(c, 1.5f)), NULL);
}

static void test_meanfield_without_kl_uses_the_mc_term(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(9);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, wide_prior, delta_guide, NULL,
                        &(tre_elbo_opts){.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 3}, &r));
    const double want = -0.5 * (0.7 / 2.0) * (0.7 / 2.0) - log(2.0) - 0.5 * log(2.0 * 3.14159265358979323846) - 1.5;
    TT_NEAR(r.mean, want, 1e-5);
    TT_NEAR(r.stderr_, 0.0, 1e-6);
    tre_ctx_destroy(ctx);
}

/* An evaluation starts a new step (it frees the step's values): refused with a handler still
 * on the stack, and from inside a running program. */
static tre_tensor *calls_elbo(tre_ctx *c, const void *args) {
    tre_status *inner = (tre_status *)args;
    tre_elbo_result r;
    *inner = tre_elbo(c, wide_prior, delta_guide, NULL, &(tre_elbo_opts){.num_particles = 1}, &r);
    return NULL;
}

static void test_elbo_refuses_a_busy_stack(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(10);
    tre_elbo_result r;
    const tre_elbo_opts o = {.num_particles = 1};
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_push(ctx, tr));
    TT_FAILS_WITH(ctx, tre_elbo(ctx, wide_prior, delta_guide, NULL, &o, &r), TRE_ERR_STACK,
                  "the handler stack must be empty (depth 1)");
    tre_ctx_clear_error(ctx);
    TT_OK(ctx, tre_pop(ctx, tr));
    tre_ctx_step_reset(ctx);
    tre_status inner = TRE_OK;
    TT_FAILS_WITH(ctx, tre_run(ctx, calls_elbo, &inner, NULL, 0, NULL), TRE_ERR_STACK,
                  "called inside a running program");
    assert_int_equal(inner, TRE_ERR_STACK);
    tre_ctx_step_reset(ctx);
    TT_OK(ctx, tre_elbo(ctx, wide_prior, delta_guide, NULL, &o, &r));
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meanfield_without_kl_uses_the_mc_term),
        cmocka_unit_test(test_elbo_refuses_a_busy_stack),
        cmocka_unit_test(test_model_and_guide_run_once_whatever_p),
        cmocka_unit_test(test_same_seed_bit_identical_different_seed_differs),
        cmocka_unit_test(test_steps_draw_fresh_noise),
        cmocka_unit_test(test_guide_only_site_must_be_auxiliary),
        cmocka_unit_test(test_stderr_is_the_sample_sd_over_sqrt_p),
        cmocka_unit_test(test_model_and_guide_must_agree_on_a_latent),
        cmocka_unit_test(test_observed_guide_site_is_in_the_gradient),
        cmocka_unit_test(test_model_site_missing_from_guide_warns_and_samples_prior),
        cmocka_unit_test(test_error_in_model_leaves_context_usable),
        cmocka_unit_test(test_training_loop_stops_allocating),
        cmocka_unit_test(test_score_weights_of_nested_plates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
