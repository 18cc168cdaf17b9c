/* tre_factor (Pyro's factor): a factor of log N(y | z, 1) gives the ELBO and the gradients of
 * observing y from Normal(z, 1), also inside a subsampled plate (scaled alike); in a guide it
 * counts in log q and must say has_rsample (tre_factor_ex), as in Pyro: true differentiates it
 * pathwise, false gives Trace_ELBO's score-function term (RenyiELBO's alpha / (1 - alpha) term)
 * and no pathwise one; the site is observed and auxiliary in the trace; a NaN log_factor is an
 * error naming the site and the parameter, and the context goes on. */
#include <math.h>
#include "test_support.h"

typedef struct fargs {
    bool factor;       /* the likelihood as a factor (else an observed Normal) */
    int64_t subsample; /* of the data plate (0: no plate: one scalar datum) */
    float guide_term;  /* a factor guide_term * theta in the guide, theta a param = 1 (0: none) */
    int rsample;       /* of the guide's factor: 1 / -1 has_rsample true / false, 0 unsaid */
    float nan_at;      /* a NaN in the log factor when nonzero */
} fargs;

static const float ys[6] = {0.3f, -1.1f, 0.8f, 2.0f, 0.1f, -0.4f};

static tre_tensor *model(tre_ctx *c, const void *args) {
    const fargs *a = args;
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 2.f)), NULL);
    tre_tensor *y = a->subsample ? tre_from_host(c, 1, 1, (int64_t[]){6}, ys) : tre_scalar(c, ys[0]);
    if (a->subsample) {
        tre_tensor *idx = tre_plate(c, "data", 6, a->subsample);
        y = tre_index_select(c, y, 0, idx);
    }
    tre_dist *lik = tre_normal(c, z, tre_scalar(c, 1.f));
    if (a->factor) {
        tre_tensor *lf = tre_dist_log_prob(c, lik, y);
        if (a->nan_at != 0.f) lf = tre_mul(c, lf, tre_scalar(c, NAN));
        tre_factor(c, "y", lf);
    } else {
        tre_sample(c, "y", lik, y);
    }
    if (a->subsample) tre_plate_end(c);
    return z;
}

static tre_tensor *guide(tre_ctx *c, const void *args) {
    const fargs *a = args;
    tre_tensor *m = tre_param(c, "m", tre_scalar(c, 0.4f), TRE_C_REAL);
    tre_tensor *s = tre_param(c, "s", tre_scalar(c, 0.7f), TRE_C_POSITIVE);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, m, s), NULL);
    if (a->guide_term != 0.f) {
        tre_tensor *theta = tre_param(c, "theta", tre_scalar(c, 1.f), TRE_C_REAL);
        tre_tensor *lf = tre_mul(c, theta, tre_scalar(c, a->guide_term));
        if (a->rsample) tre_factor_ex(c, "extra", lf, a->rsample > 0);
        else tre_factor(c, "extra", lf);
    }
    return z;
}

/* elbo estimate (RenyiELBO: its bound) and the gradients of m, s and theta (when the guide has a
 * factor) of one evaluation from seed 5 */
static double evaluate_with(const fargs *a, const tre_elbo_opts *o, float grads[3]) {
    tre_ctx *ctx = tt_ctx(5);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, guide, a, o, &r));
    const char *names[3] = {"m", "s", "theta"};
    for (int i = 0; i < (a->guide_term != 0.f ? 3 : 2); ++i)
        TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, names[i])->grad, &grads[i], 1));
    tre_ctx_destroy(ctx);
    return r.mean;
}

static double evaluate(const fargs *a, float grads[3]) {
    return evaluate_with(a, &(tre_elbo_opts){.num_particles = 16, .grad = true}, grads);
}

static void test_factor_is_an_observed_term(void **state) {
    (void)state;
    for (int64_t sub = 0; sub <= 4; sub += 4) { /* a scalar datum; 4 of 6 rows, scaled by 6/4 */
        float gf[3], go[3];
        const fargs f = {.factor = true, .subsample = sub}, o = {.factor = false, .subsample = sub};
        const double ef = evaluate(&f, gf), eo = evaluate(&o, go);
        TT_NEAR(ef, eo, 1e-6 * (1 + fabs(eo)));
        for (int i = 0; i < 2; ++i) TT_NEAR(gf[i], go[i], 1e-5 * (1 + fabs(go[i])));
    }
    /* in the guide, of reparameterized origin: log q gains the term, so the ELBO loses it; the
     * gradients of m and s stay, and theta's is the pathwise d(-elbo)/d theta = 1.25 */
    float g0[3], g1[3];
    const fargs plain = {.factor = true}, with = {.factor = true, .guide_term = 1.25f, .rsample = 1};
    const double e0 = evaluate(&plain, g0), e1 = evaluate(&with, g1);
    TT_NEAR(e1, e0 - 1.25, 1e-5);
    for (int i = 0; i < 2; ++i) TT_NEAR(g1[i], g0[i], 1e-6 * (1 + fabs(g0[i])));
    TT_NEAR(g1[2], 1.25, 1e-6);
}

/* has_rsample false: Trace_ELBO's surrogate gains stop_grad(elbo_s) * log_factor (a site in no
 * plate: the whole particle's elbo_s) and loses the pathwise -log_factor, so
 * d loss / d theta = -1.25 * mean_s elbo_s; m's and s's gradients are those of the guide
 * without its factor. RenyiELBO(alpha) gains alpha / (1 - alpha) * log_factor, weighted by
 * the normalized particle weights (mean 1): d loss / d theta = -alpha / (1 - alpha) * 1.25,
 * where has_rsample true gives +1.25. */
static void test_guide_factor_without_rsample_is_scored(void **state) {
    (void)state;
    float g0[3], g1[3];
    const fargs plain = {.factor = true}, scored = {.factor = true, .guide_term = 1.25f, .rsample = -1};
    const double e0 = evaluate(&plain, g0), e1 = evaluate(&scored, g1);
    TT_NEAR(e1, e0 - 1.25, 1e-5);
    for (int i = 0; i < 2; ++i) TT_NEAR(g1[i], g0[i], 1e-6 * (1 + fabs(g0[i])));
    TT_NEAR(g1[2], -1.25 * e1, 1e-5 * (1 + fabs(e1)));
    const double alpha = 0.3;
    const tre_elbo_opts renyi = {.kind = TRE_RENYI_ELBO, .alpha = alpha, .num_particles = 16, .grad = true};
    const fargs pathwise = {.factor = true, .guide_term = 1.25f, .rsample = 1};
    evaluate_with(&scored, &renyi, g1);
    TT_NEAR(g1[2], -alpha / (1 - alpha) * 1.25, 1e-5);
    evaluate_with(&pathwise, &renyi, g1);
    TT_NEAR(g1[2], 1.25, 1e-5);
    /* TraceMeanField_ELBO wants a fully reparameterized guide, as Pyro's */
    tre_ctx *ctx = tt_ctx(5);
    tre_elbo_result r;
    const tre_elbo_opts mf = {.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 4, .grad = true};
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model, guide, &scored, &mf, &r), TRE_ERR_MODEL, "\"extra\" (Unit) is not reparameterized");
    tre_ctx_clear_error(ctx);
    TT_OK(ctx, tre_elbo(ctx, model, guide, &pathwise, &mf, &r));
    tre_ctx_destroy(ctx);
}

/* A guide's factor that does not say has_rsample is an error naming the site (Pyro's
 * check_model_guide_match raises too); a model's need not say it. */
static void test_guide_factor_must_say_has_rsample(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    tre_elbo_result r;
    const tre_elbo_opts o = {.num_particles = 4, .grad = true};
    const fargs unsaid = {.factor = true, .guide_term = 1.f}, said = {.factor = true, .guide_term = 1.f, .rsample = 1};
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model, guide, &unsaid, &o, &r), TRE_ERR_MODEL, "guide site \"extra\"");
    assert_non_null(strstr(tre_ctx_error(ctx), "has_rsample"));
    tre_ctx_clear_error(ctx);
    TT_OK(ctx, tre_elbo(ctx, model, guide, &said, &o, &r));
    tre_ctx_destroy(ctx);
}

static void test_factor_site_in_the_trace(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    const fargs a = {.factor = true, .subsample = 3};
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, model, &a, &tr, 1, NULL));
    const tre_trace_node *n = tre_trace_get(tre_trace_handler_trace(tr), "y");
    assert_non_null(n);
    assert_int_equal(n->msg.type, TRE_SITE_SAMPLE);
    assert_true(n->msg.is_observed);
    assert_string_equal(tre_infer_get(&n->msg.infer, "is_auxiliary"), "true");
    assert_string_equal(tre_dist_name(n->msg.fn), "Unit");
    tre_ctx_destroy(ctx);
}

static void test_nan_factor_names_the_site(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    const fargs bad = {.factor = true, .subsample = 4, .nan_at = 1.f}, good = {.factor = true, .subsample = 4};
    tre_elbo_result r;
    const tre_elbo_opts o = {.num_particles = 4, .grad = true};
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model, guide, &bad, &o, &r), TRE_ERR_DIST, "site \"y\"");
    assert_non_null(strstr(tre_ctx_error(ctx), "log_factor"));
    tre_ctx_clear_error(ctx);
    TT_FAILS_WITH(ctx, tre_factor(ctx, "f", NULL), TRE_ERR_INVALID_ARG, "log_factor is NULL");
    tre_ctx_clear_error(ctx);
    TT_OK(ctx, tre_elbo(ctx, model, guide, &good, &o, &r));
    assert_true(isfinite(r.mean));
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_factor_is_an_observed_term),
        cmocka_unit_test(test_guide_factor_without_rsample_is_scored),
        cmocka_unit_test(test_guide_factor_must_say_has_rsample),
        cmocka_unit_test(test_factor_site_in_the_trace),
        cmocka_unit_test(test_nan_factor_names_the_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
