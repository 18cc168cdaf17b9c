/* condition: sample sites named in data become observed with that value and count in the
 * trace's log_prob_sum; params and other sites are untouched; errors name the site or the
 * argument (SPEC.md section 4). */
#include <math.h>
#include <string.h>
#include "test_support.h"

#define P 32

static double normal_lp(double x, double m, double s) {
    return -0.5 * ((x - m) / s) * ((x - m) / s) - log(s) - 0.5 * log(2 * 3.14159265358979323846);
}

/* s = param(0.5); w ~ N(0, 1); z ~ N(w, s); return z */
static tre_tensor *wz_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *s = tre_param(c, "s", tre_scalar(c, 0.5f), TRE_C_POSITIVE);
    tre_tensor *w = tre_sample(c, "w", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    return tre_sample(c, "z", tre_normal(c, w, s), NULL);
}

static tre_messenger *condition_on(tre_ctx *ctx, const char *name, tre_tensor *v) {
    tre_dict *d = tre_dict_new(ctx);
    TT_OK(ctx, tre_dict_set(ctx, d, name, v));
    tre_messenger *m = tre_condition_handler(ctx, d);
    assert_non_null(m);
    return m;
}

static void test_conditioned_site_is_observed_and_scored(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    tre_tensor *z = tre_scalar(ctx, 1.25f);
    tre_messenger *h[2] = {tre_trace_handler(ctx), condition_on(ctx, "z", z)};
    tre_tensor *ret = NULL;
    TT_OK(ctx, tre_run(ctx, wz_model, NULL, h, 2, &ret));
    tre_trace *tr = tre_trace_handler_trace(h[0]);
    const tre_trace_node *zn = tre_trace_get(tr, "z"), *wn = tre_trace_get(tr, "w");
    assert_true(zn->msg.is_observed);
    assert_ptr_equal(zn->msg.value, z);
    assert_ptr_equal(ret, z); /* the program got the conditioned value */
    assert_false(wn->msg.is_observed);
    assert_int_equal(wn->msg.value->particles, P);

    tre_tensor *lps = tre_trace_log_prob_sum(ctx, tr);
    assert_non_null(lps);
    assert_int_equal(lps->particles, P);
    const float *w = tt_host(ctx, wn->msg.value, 0), *lp = tt_host(ctx, lps, 1);
    for (int p = 0; p < P; ++p) {
        double direct = normal_lp(w[p], 0, 1) + normal_lp(1.25, w[p], 0.5);
        TT_NEAR(lp[p], direct, 1e-4 * (1 + fabs(direct)));
    }
    tre_ctx_destroy(ctx);
}

static void test_only_sample_sites_named_in_data(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 4));
    /* "s" is a param site: conditioning on it changes nothing */
    tre_messenger *h[2] = {tre_trace_handler(ctx), condition_on(ctx, "s", tre_scalar(ctx, 7.f))};
    TT_OK(ctx, tre_run(ctx, wz_model, NULL, h, 2, NULL));
    tre_trace *tr = tre_trace_handler_trace(h[0]);
    const tre_trace_node *s = tre_trace_get(tr, "s");
    assert_false(s->msg.is_observed);
    assert_float_equal(tt_at(ctx, s->msg.value, 0), 0.5f, 1e-6);
    assert_non_null(tre_param_store_get(ctx, "s"));
    assert_false(tre_trace_get(tr, "z")->msg.is_observed);
    assert_false(tre_trace_get(tr, "w")->msg.is_observed);
    tre_ctx_destroy(ctx);
}

static tre_tensor *observed_model(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "y", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)),
                      tre_scalar(c, 3.f));
}

static void test_overrides_observation_and_inner_replay(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 4));
    /* as in Pyro, the data wins over the model's own obs */
    tre_tensor *y = tre_scalar(ctx, -2.f);
    tre_messenger *h[2] = {tre_trace_handler(ctx), condition_on(ctx, "y", y)};
    TT_OK(ctx, tre_run(ctx, observed_model, NULL, h, 2, NULL));
    tre_trace *tr = tre_trace_handler_trace(h[0]);
    assert_ptr_equal(tre_trace_get(tr, "y")->msg.value, y);
    TT_NEAR(tt_at(ctx, tre_trace_log_prob_sum(ctx, tr), 0), normal_lp(-2, 0, 1), 1e-5);

    /* condition outside replay: the replayed latent becomes an observation of the data */
    tre_messenger *g = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, wz_model, NULL, &g, 1, NULL));
    tre_tensor *z = tre_scalar(ctx, 0.5f);
    tre_messenger *h2[3] = {tre_trace_handler(ctx), condition_on(ctx, "z", z),
                            tre_replay_handler(ctx, tre_trace_handler_trace(g), NULL)};
    TT_OK(ctx, tre_run(ctx, wz_model, NULL, h2, 3, NULL));
    const tre_trace_node *zn = tre_trace_get(tre_trace_handler_trace(h2[0]), "z");
    assert_true(zn->msg.is_observed);
    assert_ptr_equal(zn->msg.value, z);
    tre_ctx_destroy(ctx);
}

static void test_errors_name_argument_or_site(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    assert_null(tre_condition_handler(ctx, NULL));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_INVALID_ARG, "data");
    tre_ctx_step_reset(ctx);

    /* an int32 value: rejected at the site, no crash */
    int64_t one = 1;
    int32_t k = 1;
    tre_tensor *bad = NULL;
    TT_OK(ctx, tre_tensor_create(ctx, &bad, TRE_I32, 1, 0, &one, &k));
    tre_messenger *c = condition_on(ctx, "z", bad);
    TT_FAILS_WITH(ctx, tre_run(ctx, wz_model, NULL, &c, 1, NULL), TRE_ERR_INVALID_ARG, "\"z\"");
    assert_int_equal(tre_stack_depth(ctx), 0);
    tre_tensor_destroy(ctx, bad);
    tre_ctx_step_reset(ctx);

    /* a value that does not fit the distribution: log_prob_sum fails naming the site */
    int64_t three = 3;
    tre_tensor *wide = tre_full(ctx, 1, &three, 0.f);
    tre_dict *d = tre_dict_new(ctx);
    TT_OK(ctx, tre_dict_set(ctx, d, "w", wide));
    tre_tensor *z = tre_full(ctx, 1, (int64_t[]){2}, 0.f);
    TT_OK(ctx, tre_dict_set(ctx, d, "z", z));
    tre_messenger *h[2] = {tre_trace_handler(ctx), tre_condition_handler(ctx, d)};
    TT_OK(ctx, tre_run(ctx, wz_model, NULL, h, 2, NULL));
    assert_null(tre_trace_log_prob_sum(ctx, tre_trace_handler_trace(h[0])));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_SHAPE, "\"z\"");

    /* the context is usable again */
    tre_ctx_step_reset(ctx);
    tre_messenger *h2[2] = {tre_trace_handler(ctx), condition_on(ctx, "z", tre_scalar(ctx, 1.f))};
    TT_OK(ctx, tre_run(ctx, wz_model, NULL, h2, 2, NULL));
    assert_non_null(tre_trace_log_prob_sum(ctx, tre_trace_handler_trace(h2[0])));
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conditioned_site_is_observed_and_scored),
        cmocka_unit_test(test_only_sample_sites_named_in_data),
        cmocka_unit_test(test_overrides_observation_and_inner_replay),
        cmocka_unit_test(test_errors_name_argument_or_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
