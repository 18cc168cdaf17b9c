/* replay: the seed's three patterns batched over particles, and every rule and error of
 * Pyro's ReplayMessenger (SPEC.md section 4). */
#include <math.h>
#include <string.h>
#include "test_support.h"

#define P 64

/* s = param("s", 0.5); z ~ Normal(x, s); return z^2 */
static tre_tensor *square_model(tre_ctx *c, const void *args) {
    float x = *(const float *)args;
    tre_tensor *s = tre_param(c, "s", tre_scalar(c, 0.5f), TRE_C_POSITIVE);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, tre_scalar(c, x), s), NULL);
    return tre_square(c, z);
}

static void test_replay_return_value_matches_trace(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    float x1 = 1.f, x0 = 0.f;
    tre_messenger *tr = tre_trace_handler(ctx);
    tre_tensor *ret1 = NULL, *ret0 = NULL;
    TT_OK(ctx, tre_run(ctx, square_model, &x1, &tr, 1, &ret1));
    tre_trace *trace = tre_trace_handler_trace(tr);
    assert_int_equal(ret1->particles, P);
    assert_ptr_equal(tre_trace_return(trace), ret1);
    assert_ptr_equal(tre_trace_args(trace), &x1);

    tre_messenger *rp = tre_replay_handler(ctx, trace, NULL);
    TT_OK(ctx, tre_run(ctx, square_model, &x0, &rp, 1, &ret0));
    const float *a = tt_host(ctx, ret1, 0), *b = tt_host(ctx, ret0, 1);
    for (int p = 0; p < P; ++p) assert_true(a[p] == b[p]);
    /* the values really differ per particle (not one value broadcast) */
    assert_true(a[0] != a[1]);
    tre_ctx_destroy(ctx);
}

static tre_tensor *guide_fn(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *loc = tre_param(c, "q_loc", tre_scalar(c, 0.3f), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "q_scale", tre_scalar(c, 0.7f), TRE_C_POSITIVE);
    return tre_sample(c, "mu", tre_normal(c, loc, scale), NULL);
}

static tre_tensor *model_fn(tre_ctx *c, const void *args) {
    const tre_tensor *x = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 2.f)), NULL);
    tre_plate(c, "data", x->shape[0], 0);
    tre_sample(c, "obs", tre_normal(c, mu, tre_scalar(c, 1.f)), x);
    tre_plate_end(c);
    return mu;
}

static double normal_lp(double x, double m, double s) {
    return -0.5 * ((x - m) / s) * ((x - m) / s) - log(s) - 0.5 * log(2 * 3.14159265358979323846);
}

static void test_guide_model_elbo_matches_direct(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    const float xs[3] = {0.5f, -1.0f, 2.0f};
    tre_tensor *x = tt_data(ctx, 3, xs);
    tre_messenger *gt = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, guide_fn, x, &gt, 1, NULL));
    tre_trace *guide = tre_trace_handler_trace(gt);
    tre_messenger *mh[2] = {tre_trace_handler(ctx), tre_replay_handler(ctx, guide, NULL)};
    TT_OK(ctx, tre_run(ctx, model_fn, x, mh, 2, NULL));
    tre_trace *model = tre_trace_handler_trace(mh[0]);
    tre_tensor *elbo = tre_sub(ctx, tre_trace_log_prob_sum(ctx, model), tre_trace_log_prob_sum(ctx, guide));
    assert_non_null(elbo);
    assert_int_equal(elbo->particles, P);
    assert_int_equal(elbo->ndim, 0);
    const float *mu = tt_host(ctx, tre_trace_get(guide, "mu")->msg.value, 0);
    const float *e = tt_host(ctx, elbo, 1);
    /* the model's mu is the guide's mu */
    const float *mu_model = tt_host(ctx, tre_trace_get(model, "mu")->msg.value, 2);
    for (int p = 0; p < P; ++p) {
        assert_true(mu[p] == mu_model[p]);
        double direct = normal_lp(mu[p], 0, 2) - normal_lp(mu[p], 0.3, 0.7);
        for (int i = 0; i < 3; ++i) direct += normal_lp(xs[i], mu[p], 1);
        TT_NEAR(e[p], direct, 1e-4 * (1 + fabs(direct)));
    }
    tre_ctx_destroy(ctx);
}

static void test_replay_params_sets_value_without_store(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    float x = 1.f;
    /* a constrained param value from a first run (it knows its unconstrained tensor) */
    tre_tensor *s_val = tre_param(ctx, "s_source", tre_scalar(ctx, 2.0f), TRE_C_POSITIVE);
    assert_non_null(s_val);
    assert_non_null(s_val->param);
    tre_dict *params = tre_dict_new(ctx);
    TT_OK(ctx, tre_dict_set(ctx, params, "s", s_val));
    tre_messenger *h[2] = {tre_trace_handler(ctx), tre_replay_handler(ctx, NULL, params)};
    TT_OK(ctx, tre_run(ctx, square_model, &x, h, 2, NULL));
    const tre_trace_node *n = tre_trace_get(tre_trace_handler_trace(h[0]), "s");
    assert_ptr_equal(n->msg.value, s_val);
    /* the store was not read: "s" was never created */
    assert_null(tre_param_store_get(ctx, "s"));

    /* a value that is not a constrained param value: an error naming the site, no crash */
    tre_dict *bad = tre_dict_new(ctx);
    TT_OK(ctx, tre_dict_set(ctx, bad, "s", tre_scalar(ctx, 2.0f)));
    tre_messenger *rp = tre_replay_handler(ctx, NULL, bad);
    TT_FAILS_WITH(ctx, tre_run(ctx, square_model, &x, &rp, 1, NULL), TRE_ERR_REPLAY, "\"s\"");
    assert_int_equal(tre_stack_depth(ctx), 0);
    /* the context stays usable, the store intact */
    tre_ctx_step_reset(ctx);
    assert_non_null(tre_param_store_get(ctx, "s_source"));
    TT_OK(ctx, tre_run(ctx, square_model, &x, NULL, 0, NULL));
    tre_ctx_destroy(ctx);
}

static tre_tensor *observed_z_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), tre_scalar(c, 5.f));
    return NULL;
}

static void test_observed_site_is_not_replayed(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 8));
    float x = 0.f;
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, square_model, &x, &tr, 1, NULL));
    tre_messenger *h[2] = {tre_trace_handler(ctx),
                           tre_replay_handler(ctx, tre_trace_handler_trace(tr), NULL)};
    TT_OK(ctx, tre_run(ctx, observed_z_model, NULL, h, 2, NULL));
    const tre_trace_node *n = tre_trace_get(tre_trace_handler_trace(h[0]), "z");
    assert_true(n->msg.is_observed);
    assert_float_equal(tt_at(ctx, n->msg.value, 0), 5.f, 0);
    tre_ctx_destroy(ctx);
}

static void test_observed_or_param_trace_node_must_be_sampled(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    float x = 0.f;
    /* trace where "z" was observed */
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, observed_z_model, NULL, &tr, 1, NULL));
    tre_messenger *rp = tre_replay_handler(ctx, tre_trace_handler_trace(tr), NULL);
    TT_FAILS_WITH(ctx, tre_run(ctx, square_model, &x, &rp, 1, NULL), TRE_ERR_REPLAY,
                  "site \"z\" must be sampled in trace");
    tre_ctx_step_reset(ctx);

    /* trace where "z" is a param site */
    tre_messenger *tr2 = tre_trace_handler(ctx);
    TT_OK(ctx, tre_push(ctx, tr2));
    tre_param(ctx, "z", tre_scalar(ctx, 1.f), TRE_C_REAL);
    TT_OK(ctx, tre_pop(ctx, tr2));
    tre_messenger *rp2 = tre_replay_handler(ctx, tre_trace_handler_trace(tr2), NULL);
    TT_FAILS_WITH(ctx, tre_run(ctx, square_model, &x, &rp2, 1, NULL), TRE_ERR_REPLAY,
                  "site \"z\" must be sampled in trace");
    tre_ctx_destroy(ctx);
}

static tre_tensor *two_site_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_sample(c, "a", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    return tre_sample(c, "b", tre_normal(c, tre_scalar(c, 100.f), tre_scalar(c, 0.001f)), NULL);
}
static tre_tensor *only_a(tre_ctx *c, const void *args) {
    (void)args;
    tre_infer inf = {0};
    tre_infer_set(&inf, "enumerate", "parallel");
    tre_sample_opts o = {.infer = &inf};
    return tre_sample_ex(c, "a", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), &o);
}

static void test_missing_site_samples_and_infer_is_copied(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 16));
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, only_a, NULL, &tr, 1, NULL));
    tre_messenger *h[2] = {tre_trace_handler(ctx),
                           tre_replay_handler(ctx, tre_trace_handler_trace(tr), NULL)};
    TT_OK(ctx, tre_run(ctx, two_site_model, NULL, h, 2, NULL));
    tre_trace *model = tre_trace_handler_trace(h[0]);
    const tre_trace_node *a = tre_trace_get(model, "a"), *b = tre_trace_get(model, "b");
    assert_string_equal(tre_infer_get(&a->msg.infer, "enumerate"), "parallel");
    assert_ptr_equal(a->msg.value, tre_trace_get(tre_trace_handler_trace(tr), "a")->msg.value);
    /* "b" is not in the trace: drawn from its own distribution */
    assert_non_null(b->msg.value);
    assert_int_equal(b->msg.value->particles, 16);
    const float *bv = tt_host(ctx, b->msg.value, 0);
    for (int p = 0; p < 16; ++p) TT_NEAR(bv[p], 100.0, 0.01);
    tre_ctx_destroy(ctx);
}

static void test_replay_needs_trace_or_params(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(7);
    assert_null(tre_replay_handler(ctx, NULL, NULL));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_INVALID_ARG);
    assert_non_null(strstr(tre_ctx_error(ctx), "replay"));
    tre_ctx_destroy(ctx);
}

/* Both of Pyro's ReplayMessenger rules set msg["done"] on the sites they fill (a replayed
 * sample site, a param named in params), and SPEC.md section 4 says so: a handler outside the
 * replay sees done already in its process, before the default action, which would also mark
 * the site done but only after every process ran. */
typedef struct done_seen {
    bool z_done, s_done;
    int visits;
} done_seen;

static tre_status record_done(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    (void)ctx;
    done_seen *d = self->state;
    d->visits++;
    if (strcmp(msg->name, "z") == 0) d->z_done = msg->done;
    if (strcmp(msg->name, "s") == 0) d->s_done = msg->done;
    return TRE_OK;
}

static void test_replay_marks_filled_sites_done(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(8);
    float x = 1.f;
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, square_model, &x, &tr, 1, NULL));
    tre_tensor *s_val = tre_param(ctx, "s_source", tre_scalar(ctx, 2.0f), TRE_C_POSITIVE);
    tre_dict *params = tre_dict_new(ctx);
    TT_OK(ctx, tre_dict_set(ctx, params, "s", s_val));
    done_seen seen = {0};
    tre_messenger outer = {.kind = "done recorder", .process = record_done, .state = &seen};
    tre_messenger *h[2] = {&outer, tre_replay_handler(ctx, tre_trace_handler_trace(tr), params)};
    TT_OK(ctx, tre_run(ctx, square_model, &x, h, 2, NULL));
    assert_int_equal(seen.visits, 2);
    assert_true(seen.z_done); /* replayed from the trace */
    assert_true(seen.s_done); /* taken from params */

    /* a site the replay leaves alone is not done yet when the outer handler sees it */
    tre_dict *none = tre_dict_new(ctx);
    seen = (done_seen){0};
    tre_messenger *h2[2] = {&outer, tre_replay_handler(ctx, NULL, none)};
    TT_OK(ctx, tre_run(ctx, square_model, &x, h2, 2, NULL));
    assert_int_equal(seen.visits, 2);
    assert_false(seen.z_done);
    assert_false(seen.s_done);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_return_value_matches_trace),
        cmocka_unit_test(test_guide_model_elbo_matches_direct),
        cmocka_unit_test(test_replay_params_sets_value_without_store),
        cmocka_unit_test(test_observed_site_is_not_replayed),
        cmocka_unit_test(test_observed_or_param_trace_node_must_be_sampled),
        cmocka_unit_test(test_missing_site_samples_and_infer_is_copied),
        cmocka_unit_test(test_replay_needs_trace_or_params),
        cmocka_unit_test(test_replay_marks_filled_sites_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
