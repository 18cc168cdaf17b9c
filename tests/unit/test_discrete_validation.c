/* Validation of the discrete families: every parameter constraint violated (NaN included)
 * fails a traced tre_sample and tre_elbo with TRE_ERR_DIST naming the site, the distribution
 * and the parameter; an observed value outside the support fails tre_elbo naming the site;
 * edge values inside the constraints pass; with no_validation nothing is checked. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "test_support.h"

/* One site "z" of a family with parameters a (and b), observed at `obs` when `observe`.
 * Parameters are vectors of `n` elements (all a/b except element `odd`, which gets odd_a /
 * odd_b), so that a single bad element among good ones must be found. */
typedef struct vcase {
    const char *family;   /* bernoulli_probs, bernoulli_logits, poisson, binomial */
    float a, b;
    int n, odd;
    float odd_a, odd_b;
    bool observe;
    float obs;
    bool particles;       /* parameter a with particle extent 4 instead of shape [n] */
} vcase;

#define PARAMS(f, a, b, n, odd, oa, ob) ((vcase){f, a, b, n, odd, oa, ob, false, 0.f, false})
#define OBSERVED(f, a, b, n, odd, oa, ob, x) ((vcase){f, a, b, n, odd, oa, ob, true, x, false})
#define PER_PARTICLE(f, a, n, odd, oa) ((vcase){f, a, 0.f, n, odd, oa, 0.f, false, 0.f, true})

static tre_tensor *vec(tre_ctx *c, const vcase *k, float v, float odd_v, bool per_particle) {
    float h[8];
    for (int i = 0; i < k->n; ++i) h[i] = i == k->odd ? odd_v : v;
    int64_t n = k->n;
    return per_particle ? tre_from_host(c, n, 0, NULL, h) : tre_from_host(c, 1, 1, &n, h);
}

static tre_dist *build(tre_ctx *c, const vcase *k) {
    tre_tensor *a = vec(c, k, k->a, k->odd_a, k->particles), *b = vec(c, k, k->b, k->odd_b, false);
    if (!strcmp(k->family, "bernoulli_probs")) return tre_bernoulli_probs(c, a);
    if (!strcmp(k->family, "bernoulli_logits")) return tre_bernoulli_logits(c, a);
    if (!strcmp(k->family, "poisson")) return tre_poisson(c, a);
    return tre_binomial_probs(c, a, b);
}

static tre_tensor *model(tre_ctx *c, const void *args) {
    const vcase *k = args;
    const tre_tensor *obs = NULL;
    if (k->observe) {
        float h[8];
        for (int i = 0; i < k->n; ++i) h[i] = i == k->odd ? k->obs : (k->family[0] == 'b' ? 1.f : 2.f);
        int64_t n = k->n;
        obs = tre_from_host(c, 1, 1, &n, h);
    }
    return tre_sample(c, "z", build(c, k), obs);
}

static tre_tensor *empty_guide(tre_ctx *c, const void *args) {
    (void)c;
    (void)args;
    return NULL;
}

static const char *display(const char *family) {
    return !strncmp(family, "bernoulli", 9) ? "Bernoulli" : !strcmp(family, "poisson") ? "Poisson" : "Binomial";
}

static tre_ctx *make_ctx(bool validate) {
    tre_ctx *ctx = NULL;
    tre_ctx_opts o = {.backend = TRE_BACKEND_CPU, .seed = 9, .no_validation = !validate};
    TT_OK(ctx, tre_ctx_create(&ctx, &o));
    TT_OK(ctx, tre_ctx_set_particles(ctx, 4));
    return ctx;
}

static void expect_mentions(tre_ctx *ctx, const char *needle, const vcase *k) {
    if (!strstr(tre_ctx_error(ctx), needle))
        fail_msg("%s (a %g, b %g, odd %g/%g, obs %g): error \"%s\" does not mention \"%s\"", k->family,
                 k->a, k->b, k->odd_a, k->odd_b, k->obs, tre_ctx_error(ctx), needle);
}

static tre_status run_traced(tre_ctx *ctx, const vcase *k) {
    tre_messenger *tr = tre_trace_handler(ctx);
    return tre_run(ctx, model, k, &tr, 1, NULL);
}

static tre_status run_elbo(tre_ctx *ctx, const vcase *k) {
    tre_elbo_result r;
    return tre_elbo(ctx, model, empty_guide, k, &(tre_elbo_opts){.num_particles = 4}, &r);
}

/* A bad parameter: both entry points fail with TRE_ERR_DIST naming site, family, parameter. */
static void expect_param_error(const vcase *k, const char *param) {
    tre_status (*runs[2])(tre_ctx *, const vcase *) = {run_traced, run_elbo};
    for (int r = 0; r < 2; ++r) {
        tre_ctx *ctx = make_ctx(true);
        tre_status s = runs[r](ctx, k);
        if (s != TRE_ERR_DIST)
            fail_msg("%s with bad %s (%s): status %s, expected TRE_ERR_DIST (%s)", k->family, param,
                     r ? "elbo" : "traced sample", tre_status_name(s), tre_ctx_error(ctx));
        expect_mentions(ctx, "site \"z\"", k);
        expect_mentions(ctx, display(k->family), k);
        char p[64];
        snprintf(p, sizeof p, "parameter %s", param);
        expect_mentions(ctx, p, k);
        tre_ctx_destroy(ctx);
        /* validation off: the same program runs (draws may be NaN, nothing is checked) */
        ctx = make_ctx(false);
        TT_OK(ctx, run_traced(ctx, k));
        tre_ctx_destroy(ctx);
    }
}

static void test_bad_parameters(void **state) {
    (void)state;
    const float nan = NAN;
    const float bad_probs[] = {-0.1f, 1.5f, nan, -INFINITY};
    for (int i = 0; i < 4; ++i) {
        vcase k = PARAMS("bernoulli_probs", 0.3f, 0, 3, 1, bad_probs[i], 0);
        expect_param_error(&k, "probs");
        k.family = "binomial";
        k.a = 10.f;
        k.odd_a = 10.f;
        k.b = 0.3f;
        k.odd_b = bad_probs[i];
        expect_param_error(&k, "probs");
    }
    expect_param_error(&PARAMS("bernoulli_logits", 0.5f, 0, 3, 2, nan, 0), "logits");
    const float bad_rate[] = {-1.f, -1e-30f, nan, -INFINITY};
    for (int i = 0; i < 4; ++i) expect_param_error(&PARAMS("poisson", 3.f, 0, 3, 0, bad_rate[i], 0), "rate");
    const float bad_count[] = {-1.f, 2.5f, nan, INFINITY};
    for (int i = 0; i < 4; ++i)
        expect_param_error(&PARAMS("binomial", 10.f, 0.4f, 3, 1, bad_count[i], 0.4f), "total_count");
    /* a parameter with particle extent 4, one particle bad */
    expect_param_error(&PER_PARTICLE("poisson", 3.f, 4, 2, -2.f), "rate");
    expect_param_error(&PER_PARTICLE("bernoulli_probs", 0.5f, 4, 3, 2.f), "probs");
}

/* Edges inside the constraints pass, sampled and observed at edge values of the support. */
static void test_edge_parameters_pass(void **state) {
    (void)state;
    const vcase ok[] = {
        PARAMS("bernoulli_probs", 0.f, 0, 3, 1, 1.f, 0),
        PARAMS("bernoulli_logits", -1e30f, 0, 3, 1, INFINITY, 0), /* real: infinities allowed */
        PARAMS("poisson", 0.f, 0, 3, 1, 1e6f, 0),
        PARAMS("binomial", 0.f, 0.f, 3, 1, 1e5f, 1.f),
        OBSERVED("bernoulli_probs", 0.3f, 0, 3, 1, 0.3f, 0, 0.f),
        OBSERVED("poisson", 2.f, 0, 3, 1, 2.f, 0, 0.f),
        OBSERVED("binomial", 10.f, 0.3f, 3, 1, 10.f, 0.3f, 10.f),
        OBSERVED("binomial", 10.f, 0.3f, 3, 1, 10.f, 0.3f, 0.f),
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; ++i) {
        tre_ctx *ctx = make_ctx(true);
        tre_status s = ok[i].observe ? run_elbo(ctx, &ok[i]) : run_traced(ctx, &ok[i]);
        if (s != TRE_OK) fail_msg("case %zu (%s): %s", i, ok[i].family, tre_ctx_error(ctx));
        tre_ctx_destroy(ctx);
    }
}

/* An observed value outside the support: tre_elbo fails naming the site; without validation
 * the trace's log_prob_sum is computed (the smooth extension, or -inf outside the range). */
static void expect_value_error(const vcase *k, double lp_without_validation) {
    tre_ctx *ctx = make_ctx(true);
    tre_status s = run_elbo(ctx, k);
    if (s != TRE_ERR_DIST)
        fail_msg("%s observed at %g: status %s, expected TRE_ERR_DIST (%s)", k->family, k->obs,
                 tre_status_name(s), tre_ctx_error(ctx));
    expect_mentions(ctx, "site \"z\"", k);
    expect_mentions(ctx, display(k->family), k);
    expect_mentions(ctx, "value", k);
    tre_ctx_destroy(ctx);

    ctx = make_ctx(false);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, model, k, &tr, 1, NULL));
    tre_tensor *lp = tre_trace_log_prob_sum(ctx, tre_trace_handler_trace(tr));
    if (!lp) fail_msg("%s: log_prob_sum without validation: %s", k->family, tre_ctx_error(ctx));
    /* the other elements are valid; compare only the whole sum's class and, when finite, that
     * it moved by the odd element's smooth log-mass */
    double got = tt_at(ctx, lp, 0);
    if (isinf(lp_without_validation) ? got != lp_without_validation : !isfinite(got))
        fail_msg("%s observed at %g without validation: log_prob_sum %g", k->family, k->obs, got);
    tre_ctx_destroy(ctx);
}

static void test_values_outside_support(void **state) {
    (void)state;
    const float nan = NAN;
    const float bern_bad[] = {0.5f, 2.f, -1.f};
    for (int i = 0; i < 3; ++i) {
        expect_value_error(&OBSERVED("bernoulli_probs", 0.3f, 0, 3, 1, 0.3f, 0, bern_bad[i]), 0.0);
        expect_value_error(&OBSERVED("bernoulli_logits", 0.3f, 0, 3, 1, 0.3f, 0, bern_bad[i]), 0.0);
    }
    expect_value_error(&OBSERVED("poisson", 3.f, 0, 3, 2, 3.f, 0, -1.f), -INFINITY);
    expect_value_error(&OBSERVED("poisson", 3.f, 0, 3, 2, 3.f, 0, 2.5f), 0.0);
    /* an infinite count is not an integer (PyTorch: inf % 1 is NaN) */
    {
        tre_ctx *ctx = make_ctx(true);
        vcase k = OBSERVED("poisson", 3.f, 0, 3, 2, 3.f, 0, INFINITY);
        TT_FAILS_WITH(ctx, run_elbo(ctx, &k), TRE_ERR_DIST, "site \"z\"");
        tre_ctx_destroy(ctx);
    }
    expect_value_error(&OBSERVED("binomial", 10.f, 0.4f, 3, 0, 10.f, 0.4f, 11.f), -INFINITY);
    expect_value_error(&OBSERVED("binomial", 10.f, 0.4f, 3, 0, 10.f, 0.4f, -1.f), -INFINITY);
    expect_value_error(&OBSERVED("binomial", 10.f, 0.4f, 3, 0, 10.f, 0.4f, 2.5f), 0.0);
    /* the bound is per element: 6 is fine under total_count 10, not under 5 */
    expect_value_error(&OBSERVED("binomial", 10.f, 0.4f, 3, 1, 5.f, 0.4f, 6.f), -INFINITY);
    /* NaN values are outside every support */
    tre_ctx *ctx = make_ctx(true);
    vcase k = OBSERVED("poisson", 3.f, 0, 3, 0, 3.f, 0, nan);
    TT_FAILS_WITH(ctx, run_elbo(ctx, &k), TRE_ERR_DIST, "site \"z\"");
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_edge_parameters_pass),
        cmocka_unit_test(test_values_outside_support),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
