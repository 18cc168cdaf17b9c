/* Validation of Categorical and MultivariateNormal (SPEC.md section 7): bad parameters at a
 * traced sample site and bad observed values under tre_elbo are TRE_ERR_DIST errors naming the
 * site, the distribution and the parameter; shape errors name the parameter and the site;
 * no_validation turns the value checks off. */
#include <math.h>
#include <string.h>
#include "test_support.h"

typedef struct args {
    const float *logits;   /* 3 logits */
    const float *loc;      /* 2 */
    const float *tril;     /* 2 x 2 */
    float obs;             /* observed category */
    int64_t loc_d, tril_rows, tril_cols;
} args;

static tre_tensor *cat_model(tre_ctx *c, const void *p) {
    const args *a = p;
    tre_tensor *l = tre_from_host(c, 1, 1, (int64_t[]){3}, a->logits);
    return tre_sample(c, "choice", tre_categorical_logits(c, l), NULL);
}

static tre_tensor *mvn_model(tre_ctx *c, const void *p) {
    const args *a = p;
    tre_tensor *loc = tre_from_host(c, 1, 1, (int64_t[]){a->loc_d}, a->loc);
    tre_tensor *L = tre_from_host(c, 1, 2, (int64_t[]){a->tril_rows, a->tril_cols}, a->tril);
    return tre_sample(c, "weights", tre_multivariate_normal(c, loc, L), NULL);
}

static tre_status run_traced(tre_ctx *ctx, tre_program fn, const args *a) {
    tre_ctx_step_reset(ctx);
    tre_messenger *tr = tre_trace_handler(ctx);
    return tre_run(ctx, fn, a, &tr, 1, NULL);
}

static void expect_error(tre_ctx *ctx, tre_status s, tre_status want, const char *const *needles) {
    if (s != want)
        fail_msg("status %s, expected %s (%s)", tre_status_name(s), tre_status_name(want), tre_ctx_error(ctx));
    for (const char *const *n = needles; *n; ++n)
        if (!strstr(tre_ctx_error(ctx), *n)) fail_msg("error \"%s\" does not mention \"%s\"", tre_ctx_error(ctx), *n);
}

static const float good_logits[3] = {0.1f, -0.5f, 2.f};
static const float good_loc[2] = {0.f, 1.f};
static const float good_tril[4] = {1.f, 0.f, 0.3f, 2.f};

static args good(void) {
    return (args){good_logits, good_loc, good_tril, 1.f, 2, 2, 2};
}

static void test_good_parameters_pass(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 8));
    args a = good();
    TT_OK(ctx, run_traced(ctx, cat_model, &a));
    TT_OK(ctx, run_traced(ctx, mvn_model, &a));
    /* -inf logits are real (a category of probability 0), as in PyTorch */
    const float l[3] = {0.f, -INFINITY, 1.f};
    a.logits = l;
    TT_OK(ctx, run_traced(ctx, cat_model, &a));
    tre_ctx_destroy(ctx);
}

static void test_bad_parameters_name_site_dist_param(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 8));
    args a = good();
    const float nan_logits[3] = {0.f, NAN, 1.f};
    a.logits = nan_logits;
    expect_error(ctx, run_traced(ctx, cat_model, &a), TRE_ERR_DIST,
                 (const char *[]){"choice", "Categorical", "logits", NULL});
    /* as PyTorch, whose normalized logits are NaN there: +inf, or a row of only -inf */
    const float inf_logits[3] = {INFINITY, 0.f, 1.f}, none[3] = {-INFINITY, -INFINITY, -INFINITY};
    a.logits = inf_logits;
    expect_error(ctx, run_traced(ctx, cat_model, &a), TRE_ERR_DIST,
                 (const char *[]){"choice", "Categorical", "logits", "finite normalizer", NULL});
    a.logits = none;
    expect_error(ctx, run_traced(ctx, cat_model, &a), TRE_ERR_DIST,
                 (const char *[]){"choice", "Categorical", "logits", "1 of 1 rows", NULL});

    a = good();
    const float upper[4] = {1.f, 0.5f, 0.3f, 2.f};
    a.tril = upper;
    expect_error(ctx, run_traced(ctx, mvn_model, &a), TRE_ERR_DIST,
                 (const char *[]){"weights", "MultivariateNormal", "scale_tril", "above the diagonal", NULL});

    const float zero_diag[4] = {1.f, 0.f, 0.3f, 0.f};
    a.tril = zero_diag;
    expect_error(ctx, run_traced(ctx, mvn_model, &a), TRE_ERR_DIST,
                 (const char *[]){"weights", "MultivariateNormal", "scale_tril", "diagonal", "not positive", NULL});

    const float neg_diag[4] = {-1.f, 0.f, 0.3f, 1.f};
    a.tril = neg_diag;
    expect_error(ctx, run_traced(ctx, mvn_model, &a), TRE_ERR_DIST,
                 (const char *[]){"weights", "scale_tril", "not positive", NULL});

    const float nan_tril[4] = {1.f, 0.f, NAN, 1.f};
    a.tril = nan_tril;
    expect_error(ctx, run_traced(ctx, mvn_model, &a), TRE_ERR_DIST,
                 (const char *[]){"weights", "MultivariateNormal", "scale_tril", "NaN", NULL});

    a = good();
    const float nan_loc[2] = {NAN, 0.f};
    a.loc = nan_loc;
    expect_error(ctx, run_traced(ctx, mvn_model, &a), TRE_ERR_DIST,
                 (const char *[]){"weights", "MultivariateNormal", "loc", NULL});
    tre_ctx_destroy(ctx);
}

static void test_shape_errors_name_the_parameter(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    args a = good();
    const float loc3[3] = {0, 0, 0};
    a.loc = loc3;
    a.loc_d = 3; /* D = 3 against a 2 x 2 scale_tril */
    expect_error(ctx, run_traced(ctx, mvn_model, &a), TRE_ERR_SHAPE,
                 (const char *[]){"weights", "MultivariateNormal", "scale_tril", "loc", NULL});

    a = good();
    const float rect[6] = {1, 0, 0, 1, 0, 0};
    a.tril = rect;
    a.tril_rows = 2;
    a.tril_cols = 3; /* not square */
    expect_error(ctx, run_traced(ctx, mvn_model, &a), TRE_ERR_SHAPE,
                 (const char *[]){"weights", "scale_tril", "square", NULL});

    /* logits need a dim of categories */
    tre_ctx_step_reset(ctx);
    assert_null(tre_categorical_logits(ctx, tre_scalar(ctx, 1.f)));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_SHAPE);
    assert_non_null(strstr(tre_ctx_error(ctx), "logits"));
    /* ... of at least one category (an empty row has no normalizer, nothing to draw), as a
     * Dirichlet needs K >= 1 components and an MVN D >= 1 */
    tre_ctx_step_reset(ctx);
    tre_tensor *empty = tre_full(ctx, 2, (int64_t[]){3, 0}, 0.f);
    assert_non_null(empty);
    assert_null(tre_categorical_logits(ctx, empty));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_SHAPE, "at least one category");
    tre_ctx_clear_error(ctx);
    assert_null(tre_dirichlet(ctx, empty));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_SHAPE, "K >= 1");
    tre_ctx_clear_error(ctx);
    assert_null(tre_multivariate_normal(ctx, tre_full(ctx, 1, (int64_t[]){0}, 0.f), tre_full(ctx, 2, (int64_t[]){0, 0}, 0.f)));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_SHAPE, "D >= 1");

    /* a value whose event dim does not match D */
    tre_ctx_step_reset(ctx);
    tre_dist *m = tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){2}, good_loc),
                                          tre_from_host(ctx, 1, 2, (int64_t[]){2, 2}, good_tril));
    assert_null(tre_dist_log_prob(ctx, m, tre_full(ctx, 1, (int64_t[]){3}, 0.f)));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_SHAPE);

    /* an observed Dirichlet value whose last dim is not K is refused by the value check, which
     * names the event dim (even a [1] on the simplex, which would broadcast against K) */
    tre_ctx_step_reset(ctx);
    const float conc[3] = {1.f, 2.f, 3.f}, one[1] = {1.f};
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_push(ctx, tr));
    tre_sample(ctx, "w", tre_dirichlet(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){3}, conc)),
               tre_from_host(ctx, 1, 1, (int64_t[]){1}, one));
    TT_OK(ctx, tre_pop(ctx, tr));
    assert_null(tre_trace_log_prob_sum(ctx, tre_trace_handler_trace(tr)));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_SHAPE, "must end in the event dim 3");
    tre_ctx_destroy(ctx);
}

/* model: observe a category; guide: nothing to infer */
static tre_tensor *obs_model(tre_ctx *c, const void *p) {
    const args *a = p;
    tre_tensor *l = tre_from_host(c, 1, 1, (int64_t[]){3}, a->logits);
    return tre_sample(c, "label", tre_categorical_logits(c, l), tre_scalar(c, a->obs));
}
static tre_tensor *empty_guide(tre_ctx *c, const void *p) {
    (void)c;
    (void)p;
    return NULL;
}

static void test_observed_category_outside_support(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    tre_elbo_result r;
    const tre_elbo_opts o = {.num_particles = 4};
    args a = good();
    a.obs = 2.f;
    TT_OK(ctx, tre_elbo(ctx, obs_model, empty_guide, &a, &o, &r));
    const float bad[] = {3.f, -1.f, 1.5f, NAN};
    for (int i = 0; i < 4; ++i) {
        a.obs = bad[i];
        expect_error(ctx, tre_elbo(ctx, obs_model, empty_guide, &a, &o, &r), TRE_ERR_DIST,
                     (const char *[]){"label", "Categorical", "[0, 3)", NULL});
    }
    tre_ctx_destroy(ctx);
}

static tre_tensor *mvn_obs_model(tre_ctx *c, const void *p) {
    const args *a = p;
    tre_tensor *loc = tre_from_host(c, 1, 1, (int64_t[]){2}, a->loc);
    tre_tensor *L = tre_from_host(c, 1, 2, (int64_t[]){2, 2}, a->tril);
    const float x[2] = {a->obs, 0.f};
    return tre_sample(c, "y", tre_multivariate_normal(c, loc, L), tre_from_host(c, 1, 1, (int64_t[]){2}, x));
}

static void test_observed_nan_vector(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    tre_elbo_result r;
    const tre_elbo_opts o = {.num_particles = 4};
    args a = good();
    a.obs = 0.5f;
    TT_OK(ctx, tre_elbo(ctx, mvn_obs_model, empty_guide, &a, &o, &r));
    a.obs = NAN;
    expect_error(ctx, tre_elbo(ctx, mvn_obs_model, empty_guide, &a, &o, &r), TRE_ERR_DIST,
                 (const char *[]){"y", "MultivariateNormal", "value", NULL});
    tre_ctx_destroy(ctx);
}

static void test_no_validation_skips_value_checks(void **state) {
    (void)state;
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 1, .no_validation = true}));
    args a = good();
    a.obs = 3.f; /* outside [0, 3): log_prob is NaN, not an error */
    tre_ctx_step_reset(ctx);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, obs_model, &a, &tr, 1, NULL));
    tre_tensor *lp = tre_trace_log_prob_sum(ctx, tre_trace_handler_trace(tr));
    TT_OK(ctx, tre_ctx_status(ctx));
    assert_true(isnan(tt_at(ctx, lp, 0)));
    /* and a scale_tril with a nonzero upper part is taken as its lower triangle */
    const float upper[4] = {1.f, 0.5f, 0.3f, 2.f};
    a.tril = upper;
    TT_OK(ctx, run_traced(ctx, mvn_model, &a));
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_parameters_pass),
        cmocka_unit_test(test_bad_parameters_name_site_dist_param),
        cmocka_unit_test(test_shape_errors_name_the_parameter),
        cmocka_unit_test(test_observed_category_outside_support),
        cmocka_unit_test(test_observed_nan_vector),
        cmocka_unit_test(test_no_validation_skips_value_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
