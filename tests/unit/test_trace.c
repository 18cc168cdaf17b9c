/* The trace handler and the Trace type (SPEC.md section 3): execution order, copies, input and
 * return, duplicate-name rules, log_prob_sum per particle against a hand computation, the
 * per-site cache and score parts. */
#include <math.h>
#include <string.h>
#include "test_support.h"

#define P 8

static double normal_lp(double x, double m, double s) {
    return -0.5 * ((x - m) / s) * ((x - m) / s) - log(s) - 0.5 * log(2 * 3.14159265358979323846);
}

static const tre_dist *normal(tre_ctx *c, float loc, float scale) {
    return tre_normal(c, tre_scalar(c, loc), tre_scalar(c, scale));
}

/* ---- order and copies ---- */

typedef struct order_args {
    const tre_tensor *obs;
    tre_tensor *ret;
} order_args;

static tre_tensor *order_model(tre_ctx *c, const void *args) {
    order_args *a = (order_args *)args;
    tre_tensor *w = tre_param(c, "w", tre_scalar(c, 1.f), TRE_C_REAL);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, w, tre_scalar(c, 1.f)), NULL);
    tre_sample(c, "x", tre_normal(c, z, tre_scalar(c, 1.f)), a->obs);
    tre_sample(c, "y", normal(c, 0.f, 1.f), NULL);
    a->ret = tre_add(c, z, w);
    return a->ret;
}

static void test_records_in_execution_order(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    order_args args = {.obs = tre_scalar(ctx, 0.5f)};
    tre_messenger *tr = tre_trace_handler(ctx);
    tre_tensor *ret = NULL;
    TT_OK(ctx, tre_run(ctx, order_model, &args, &tr, 1, &ret));
    tre_trace *t = tre_trace_handler_trace(tr);
    assert_int_equal(tre_trace_size(t), 4);
    const char *names[4] = {"w", "z", "x", "y"};
    const tre_site_type types[4] = {TRE_SITE_PARAM, TRE_SITE_SAMPLE, TRE_SITE_SAMPLE,
                                    TRE_SITE_SAMPLE};
    for (int i = 0; i < 4; ++i) {
        const tre_trace_node *n = tre_trace_at(t, i);
        assert_string_equal(n->msg.name, names[i]);
        assert_int_equal(n->msg.type, types[i]);
        assert_ptr_equal(tre_trace_get(t, names[i]), n);
        assert_true(n->msg.done);
    }
    assert_null(tre_trace_at(t, 4));
    assert_null(tre_trace_at(t, -1));
    assert_null(tre_trace_get(t, "nope"));
    assert_true(tre_trace_get(t, "x")->msg.is_observed);
    assert_ptr_equal(tre_trace_get(t, "x")->msg.value, args.obs);
    assert_false(tre_trace_get(t, "z")->msg.is_observed);
    assert_int_equal(tre_trace_get(t, "z")->msg.value->particles, P);
    /* input and _RETURN */
    assert_ptr_equal(tre_trace_args(t), &args);
    assert_non_null(ret);
    assert_ptr_equal(tre_trace_return(t), ret);
    assert_ptr_equal(ret, args.ret);
    tre_ctx_destroy(ctx);
}

/* A handler below the trace (pushed after it) changes the message in its postprocess, which
 * runs after the trace's; the message struct itself is changed after the call returns. Neither
 * alters the recorded node. A handler above the trace changes the message in process, which runs
 * after the trace's process but before the trace's postprocess: that change is recorded. */
typedef struct mut_state {
    tre_msg *last;
    tre_tensor *replacement;
} mut_state;

static tre_status mut_process(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    (void)ctx;
    (void)self;
    msg->scale *= 3.0;
    tre_infer_set(&msg->infer, "seen_by", "outer");
    return TRE_OK;
}

static tre_status mut_postprocess(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    (void)ctx;
    mut_state *st = self->state;
    st->last = msg;
    msg->scale = 100.0;
    msg->value = st->replacement;
    msg->n_frames = 3;
    tre_infer_set(&msg->infer, "late", "yes");
    return TRE_OK;
}

/* The trace's log_prob_sum is cached, but a site recorded after it was taken is in the next
 * one: N(1 | 0, 1), then N(1 | 0, 1) + N(2 | 0, 1). */
static void test_log_prob_sum_sees_later_sites(void **state) {
    (void)state;
    const double half_log_2pi = 0.91893853320467274;
    tre_ctx *ctx = tt_ctx(2);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_push(ctx, tr));
    tre_trace *t = tre_trace_handler_trace(tr);
    assert_non_null(tre_sample(ctx, "a", normal(ctx, 0.f, 1.f), tre_scalar(ctx, 1.f)));
    TT_NEAR(tt_at(ctx, tre_trace_log_prob_sum(ctx, t), 0), -0.5 - half_log_2pi, 1e-5);
    assert_non_null(tre_sample(ctx, "b", normal(ctx, 0.f, 1.f), tre_scalar(ctx, 2.f)));
    TT_NEAR(tt_at(ctx, tre_trace_log_prob_sum(ctx, t), 0), -2.5 - 2 * half_log_2pi, 1e-5);
    TT_OK(ctx, tre_pop(ctx, tr));
    tre_ctx_destroy(ctx);
}

static void test_nodes_are_copies(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    tre_messenger outer = {.kind = "outer", .process = mut_process};
    mut_state ms = {.replacement = tre_scalar(ctx, -1.f)};
    tre_messenger inner = {.kind = "inner", .postprocess = mut_postprocess, .state = &ms};
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_push(ctx, &outer));
    TT_OK(ctx, tre_push(ctx, tr));
    TT_OK(ctx, tre_push(ctx, &inner));
    tre_tensor *v = tre_sample(ctx, "z", normal(ctx, 0.f, 1.f), NULL);
    TT_OK(ctx, tre_pop(ctx, &inner));
    TT_OK(ctx, tre_pop(ctx, tr));
    TT_OK(ctx, tre_pop(ctx, &outer));
    /* the primitive returns what the last postprocess left */
    assert_ptr_equal(v, ms.replacement);
    /* later still: the message struct is overwritten */
    ms.last->scale = -5.0;
    ms.last->name = "renamed";
    ms.last->is_observed = true;
    const tre_trace_node *n = tre_trace_get(tre_trace_handler_trace(tr), "z");
    assert_non_null(n);
    assert_ptr_not_equal(&n->msg, ms.last);
    assert_string_equal(n->msg.name, "z");
    assert_true(n->msg.scale == 3.0);               /* the outer process change is in */
    assert_string_equal(tre_infer_get(&n->msg.infer, "seen_by"), "outer");
    assert_null(tre_infer_get(&n->msg.infer, "late")); /* the later changes are not */
    assert_int_equal(n->msg.n_frames, 0);
    assert_false(n->msg.is_observed);
    assert_ptr_not_equal(n->msg.value, ms.replacement);
    assert_int_equal(n->msg.value->particles, P);
    tre_ctx_destroy(ctx);
}

/* ---- duplicate names ---- */

static tre_tensor *two_samples(tre_ctx *c, const void *args) {
    (void)args;
    tre_sample(c, "a", normal(c, 0.f, 1.f), NULL);
    tre_sample(c, "a", normal(c, 0.f, 1.f), tre_scalar(c, 1.f));
    return NULL;
}
static tre_tensor *sample_then_param(tre_ctx *c, const void *args) {
    (void)args;
    tre_sample(c, "theta", normal(c, 0.f, 1.f), NULL);
    tre_param(c, "theta", tre_scalar(c, 1.f), TRE_C_REAL);
    return NULL;
}
static tre_tensor *param_then_sample(tre_ctx *c, const void *args) {
    (void)args;
    tre_param(c, "theta", tre_scalar(c, 1.f), TRE_C_REAL);
    tre_sample(c, "theta", normal(c, 0.f, 1.f), NULL);
    return NULL;
}
static tre_tensor *plate_then_sample(tre_ctx *c, const void *args) {
    (void)args;
    tre_plate(c, "data", 3, 0);
    tre_plate_end(c);
    tre_sample(c, "data", normal(c, 0.f, 1.f), NULL);
    return NULL;
}

static void test_duplicate_names(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_FAILS_WITH(ctx, tre_run(ctx, two_samples, NULL, &tr, 1, NULL), TRE_ERR_DUPLICATE_SITE,
                  "\"a\"");
    assert_int_equal(tre_stack_depth(ctx), 0);
    tre_ctx_step_reset(ctx);
    tr = tre_trace_handler(ctx);
    TT_FAILS_WITH(ctx, tre_run(ctx, sample_then_param, NULL, &tr, 1, NULL), TRE_ERR_DUPLICATE_SITE,
                  "\"theta\"");
    tre_ctx_step_reset(ctx);
    tr = tre_trace_handler(ctx);
    TT_FAILS_WITH(ctx, tre_run(ctx, param_then_sample, NULL, &tr, 1, NULL), TRE_ERR_DUPLICATE_SITE,
                  "\"theta\"");
    tre_ctx_step_reset(ctx);
    tr = tre_trace_handler(ctx);
    TT_FAILS_WITH(ctx, tre_run(ctx, plate_then_sample, NULL, &tr, 1, NULL), TRE_ERR_DUPLICATE_SITE,
                  "\"data\"");
    /* without a trace nothing records names: no error */
    tre_ctx_step_reset(ctx);
    TT_OK(ctx, tre_run(ctx, two_samples, NULL, NULL, 0, NULL));
    tre_ctx_destroy(ctx);
}

typedef struct rep_args {
    tre_tensor *first, *second;
} rep_args;

static tre_tensor *repeated_param(tre_ctx *c, const void *args) {
    rep_args *a = (rep_args *)args;
    a->first = tre_param(c, "w", tre_scalar(c, 2.f), TRE_C_POSITIVE);
    tre_sample(c, "z", normal(c, 0.f, 1.f), NULL);
    a->second = tre_param(c, "w", tre_scalar(c, 50.f), TRE_C_POSITIVE);
    return NULL;
}

static void test_repeated_param_replaces_node(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    rep_args args = {0};
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, repeated_param, &args, &tr, 1, NULL));
    tre_trace *t = tre_trace_handler_trace(tr);
    assert_int_equal(tre_trace_size(t), 2);
    const tre_trace_node *n = tre_trace_get(t, "w");
    assert_ptr_equal(tre_trace_at(t, 0), n);  /* keeps its place */
    assert_ptr_not_equal(args.first, args.second);
    assert_ptr_equal(n->msg.value, args.second); /* the later node */
    TT_NEAR(tt_at(ctx, n->msg.value, 0), 2.0, 1e-6);  /* the second init was ignored */
    tre_ctx_destroy(ctx);
}

/* ---- log_prob_sum ---- */

enum { N = 4 };

static tre_tensor *lp_model(tre_ctx *c, const void *args) {
    const tre_tensor *x = args;
    tre_tensor *s = tre_param(c, "s", tre_scalar(c, 1.5f), TRE_C_POSITIVE);
    tre_tensor *mu = tre_sample(c, "mu", normal(c, 0.5f, 2.f), NULL);
    tre_plate(c, "data", N, 0);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, mu, s), NULL);
    tre_sample(c, "x", tre_normal(c, z, tre_scalar(c, 0.75f)), x);
    tre_plate_end(c);
    return mu;
}

static void test_log_prob_sum_by_hand(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    const float xs[N] = {0.3f, -1.2f, 2.5f, 0.f};
    tre_tensor *x = tt_data(ctx, N, xs);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, lp_model, x, &tr, 1, NULL));
    tre_trace *t = tre_trace_handler_trace(tr);
    /* param "s", sample "mu", subsample "data", sample "z", observed "x" */
    assert_int_equal(tre_trace_size(t), 5);
    assert_int_equal(tre_trace_get(t, "data")->msg.type, TRE_SITE_SUBSAMPLE);
    tre_tensor *lp = tre_trace_log_prob_sum(ctx, t);
    assert_non_null(lp);
    assert_int_equal(lp->particles, P);
    assert_int_equal(lp->ndim, 0);
    const float *mu = tt_host(ctx, tre_trace_get(t, "mu")->msg.value, 0);
    const float *z = tt_host(ctx, tre_trace_get(t, "z")->msg.value, 1);
    const float *h = tt_host(ctx, lp, 2);
    assert_int_equal(tre_trace_get(t, "z")->msg.value->numel, N);
    for (int p = 0; p < P; ++p) {
        double want = normal_lp(mu[p], 0.5, 2.0);
        for (int i = 0; i < N; ++i)
            want += normal_lp(z[p * N + i], mu[p], 1.5) + normal_lp(xs[i], z[p * N + i], 0.75);
        TT_NEAR(h[p], want, 1e-4 * (1 + fabs(want)));
    }
    /* per site: [P, N] for "x", extent P shape [] for "mu" */
    tre_tensor *lx = tre_trace_site_log_prob(ctx, t, "x");
    assert_int_equal(lx->particles, P);
    assert_int_equal(lx->ndim, 1);
    assert_int_equal(lx->shape[0], N);
    const float *hx = tt_host(ctx, lx, 3);
    for (int p = 0; p < P; ++p)
        for (int i = 0; i < N; ++i)
            TT_NEAR(hx[p * N + i], normal_lp(xs[i], z[p * N + i], 0.75), 1e-5);
    /* a trace with no sample site sums to 0 */
    tre_messenger *empty = tre_trace_handler(ctx);
    TT_OK(ctx, tre_push(ctx, empty));
    tre_param(ctx, "s", NULL, TRE_C_POSITIVE);
    TT_OK(ctx, tre_pop(ctx, empty));
    tre_tensor *zero = tre_trace_log_prob_sum(ctx, tre_trace_handler_trace(empty));
    assert_non_null(zero);
    assert_true(tt_at(ctx, zero, 0) == 0.f);
    tre_ctx_destroy(ctx);
}

static void test_site_log_prob_is_cached(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    const float xs[N] = {1, 2, 3, 4};
    tre_tensor *x = tt_data(ctx, N, xs);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, lp_model, x, &tr, 1, NULL));
    tre_trace *t = tre_trace_handler_trace(tr);
    tre_tensor *a = tre_trace_site_log_prob(ctx, t, "z");
    assert_non_null(a);
    assert_ptr_equal(tre_trace_site_log_prob(ctx, t, "z"), a);
    assert_ptr_equal(tre_trace_get(t, "z")->log_prob, a);
    tre_tensor *s = tre_trace_log_prob_sum(ctx, t);
    assert_ptr_equal(tre_trace_log_prob_sum(ctx, t), s);
    /* the sum used the cached site value */
    assert_ptr_equal(tre_trace_site_log_prob(ctx, t, "z"), a);
    /* param and index sites have no log-prob */
    assert_null(tre_trace_site_log_prob(ctx, t, "s"));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_INVALID_ARG);
    assert_non_null(strstr(tre_ctx_error(ctx), "\"s\""));
    tre_ctx_clear_error(ctx);
    assert_null(tre_trace_site_log_prob(ctx, t, "data"));
    tre_ctx_clear_error(ctx);
    assert_null(tre_trace_site_log_prob(ctx, t, "missing"));
    tre_ctx_destroy(ctx);
}

static void test_score_parts_reparameterized(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(7);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    const float xs[N] = {1, 2, 3, 4};
    tre_tensor *x = tt_data(ctx, N, xs);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, lp_model, x, &tr, 1, NULL));
    tre_trace *t = tre_trace_handler_trace(tr);
    const char *sites[3] = {"mu", "z", "x"};
    for (int i = 0; i < 3; ++i) {
        tre_tensor *lp = NULL, *sf = (tre_tensor *)x, *ent = NULL;
        TT_OK(ctx, tre_trace_score_parts(ctx, t, sites[i], &lp, &sf, &ent));
        assert_non_null(lp);
        assert_ptr_equal(lp, tre_trace_site_log_prob(ctx, t, sites[i]));
        assert_null(sf);
        assert_ptr_equal(ent, lp);
    }
    /* out pointers may be NULL */
    tre_tensor *ent = NULL;
    TT_OK(ctx, tre_trace_score_parts(ctx, t, "z", NULL, NULL, &ent));
    assert_non_null(ent);
    tre_ctx_destroy(ctx);
}

/* scale and mask set by a user handler: log_prob is scale * log_prob where the mask keeps, and
 * exactly 0 where it does not, even where the density is NaN. */
typedef struct ms_state {
    const tre_tensor *mask;
} ms_state;

static tre_status ms_process(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    (void)ctx;
    if (strcmp(msg->name, "x") == 0) {
        msg->mask = ((ms_state *)self->state)->mask;
        msg->scale *= 0.25;
    }
    return TRE_OK;
}

static tre_tensor *nan_obs_model(tre_ctx *c, const void *args) {
    const tre_tensor *x = args;
    tre_tensor *mu = tre_sample(c, "mu", normal(c, 0.f, 1.f), NULL);
    tre_sample(c, "x", tre_normal(c, mu, tre_scalar(c, 1.f)), x);
    return mu;
}

static void test_scale_and_mask(void **state) {
    (void)state;
    /* NaN observations only get past the support check with validation off */
    tre_ctx *ctx = NULL;
    tre_ctx_opts o = {.backend = TRE_BACKEND_CPU, .seed = 8, .no_validation = true};
    assert_int_equal(tre_ctx_create(&ctx, &o), TRE_OK);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    const float xs[N] = {1.f, NAN, -2.f, NAN};
    const float keep[N] = {1.f, 0.f, 1.f, 0.f};
    tre_tensor *x = tt_data(ctx, N, xs);
    ms_state st = {tt_data(ctx, N, keep)};
    tre_messenger m = {.kind = "maskscale", .process = ms_process, .state = &st};
    tre_messenger *hs[2] = {tre_trace_handler(ctx), &m};
    TT_OK(ctx, tre_run(ctx, nan_obs_model, x, hs, 2, NULL));
    tre_trace *t = tre_trace_handler_trace(hs[0]);
    const float *mu = tt_host(ctx, tre_trace_get(t, "mu")->msg.value, 0);
    /* the sum first (it need not materialize the per-site values), then the site */
    const float *sum = tt_host(ctx, tre_trace_log_prob_sum(ctx, t), 2);
    const float *lx = tt_host(ctx, tre_trace_site_log_prob(ctx, t, "x"), 1);
    for (int p = 0; p < P; ++p) {
        double want = normal_lp(mu[p], 0, 1);
        for (int i = 0; i < N; ++i) {
            double li = keep[i] != 0.f ? 0.25 * normal_lp(xs[i], mu[p], 1) : 0.0;
            if (keep[i] == 0.f) assert_true(lx[p * N + i] == 0.f);
            else TT_NEAR(lx[p * N + i], li, 1e-5);
            want += li;
        }
        TT_NEAR(sum[p], want, 1e-4 * (1 + fabs(want)));
    }
    /* the score-function term would carry neither; for Normal it is absent */
    tre_tensor *lp = NULL, *sf = NULL, *ent = NULL;
    TT_OK(ctx, tre_trace_score_parts(ctx, t, "x", &lp, &sf, &ent));
    assert_null(sf);
    assert_ptr_equal(ent, lp);
    tre_ctx_destroy(ctx);
}

/* A scale alone (no mask) on a site without rsample: its log_prob carries the scale, its
 * score-function term does not (Bernoulli(0.3) at 1, 0, 1, 1). */
static tre_tensor *scaled_bernoulli_model(tre_ctx *c, const void *args) {
    const tre_tensor *x = args;
    tre_sample(c, "x", tre_bernoulli_probs(c, tre_scalar(c, 0.3f)), x);
    return NULL;
}

static void test_scale_alone_and_score_function(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(9);
    const float xs[N] = {1.f, 0.f, 1.f, 1.f};
    ms_state st = {NULL};
    tre_messenger m = {.kind = "scale", .process = ms_process, .state = &st};
    tre_messenger *hs[2] = {tre_trace_handler(ctx), &m};
    TT_OK(ctx, tre_run(ctx, scaled_bernoulli_model, tt_data(ctx, N, xs), hs, 2, NULL));
    tre_trace *t = tre_trace_handler_trace(hs[0]);
    tre_tensor *lp = NULL, *sf = NULL, *ent = NULL;
    TT_OK(ctx, tre_trace_score_parts(ctx, t, "x", &lp, &sf, &ent));
    assert_null(ent);
    assert_non_null(sf);
    const float *hl = tt_host(ctx, lp, 0), *hs_ = tt_host(ctx, sf, 1);
    double want_sum = 0.0;
    for (int i = 0; i < N; ++i) {
        const double raw = log(xs[i] != 0.f ? 0.3 : 0.7);
        TT_NEAR(hl[i], 0.25 * raw, 1e-6);
        TT_NEAR(hs_[i], raw, 1e-6);
        want_sum += 0.25 * raw;
    }
    TT_NEAR(tt_at(ctx, tre_trace_log_prob_sum(ctx, t), 0), want_sum, 1e-5);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_in_execution_order),
        cmocka_unit_test(test_nodes_are_copies),
        cmocka_unit_test(test_log_prob_sum_sees_later_sites),
        cmocka_unit_test(test_duplicate_names),
        cmocka_unit_test(test_repeated_param_replaces_node),
        cmocka_unit_test(test_log_prob_sum_by_hand),
        cmocka_unit_test(test_site_log_prob_is_cached),
        cmocka_unit_test(test_score_parts_reparameterized),
        cmocka_unit_test(test_scale_and_mask),
        cmocka_unit_test(test_scale_alone_and_score_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
