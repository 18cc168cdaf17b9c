/* Validation of the gamma group: every parameter constraint of Gamma, Beta, StudentT and
 * Dirichlet violated (NaN included) fails a traced tre_sample and tre_elbo with TRE_ERR_DIST
 * naming the site, the distribution and the parameter; an observed value outside the support
 * (the simplex, for Dirichlet) fails tre_elbo naming the site; values on the support's edges
 * pass; with tre_ctx_opts.no_validation nothing is checked. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "test_support.h"

#define NELEM 3

/* One site "w" of a family whose parameters are vectors of NELEM elements, all at p[i] except
 * element `odd` of parameter `bad`, which gets `bad_value` (so one bad element among good ones
 * must be found); observed at obs[] when `observe`. Dirichlet: one concentration row of K =
 * NELEM, or, with `rows`, a batch of 2 rows (the odd element in the second). */
typedef struct vcase {
    const char *family; /* gamma, beta, student_t, dirichlet */
    float p[3];
    int bad, odd;
    float bad_value;
    bool observe;
    float obs[2 * NELEM];
    bool rows;
} vcase;

static int nparams(const char *family) {
    return !strcmp(family, "student_t") ? 3 : !strcmp(family, "dirichlet") ? 1 : 2;
}
static const char *display(const char *family) {
    return !strcmp(family, "gamma") ? "Gamma" : !strcmp(family, "beta") ? "Beta"
           : !strcmp(family, "student_t") ? "StudentT" : "Dirichlet";
}
static const char *param_name(const char *family, int i) {
    static const char *names[4][3] = {{"concentration", "rate", ""},
                                      {"concentration1", "concentration0", ""},
                                      {"df", "loc", "scale"},
                                      {"concentration", "", ""}};
    int f = !strcmp(family, "gamma") ? 0 : !strcmp(family, "beta") ? 1 : !strcmp(family, "student_t") ? 2 : 3;
    return names[f][i];
}

static tre_tensor *param(tre_ctx *c, const vcase *k, int i) {
    float h[2 * NELEM];
    const int n = k->rows ? 2 * NELEM : NELEM;
    for (int j = 0; j < n; ++j) h[j] = (i == k->bad && j == k->odd) ? k->bad_value : k->p[i];
    if (k->rows) return tre_from_host(c, 1, 2, (const int64_t[]){2, NELEM}, h);
    return tre_from_host(c, 1, 1, (const int64_t[]){NELEM}, h);
}

static tre_dist *build(tre_ctx *c, const vcase *k) {
    tre_tensor *p[3] = {NULL, NULL, NULL};
    for (int i = 0; i < nparams(k->family); ++i) p[i] = param(c, k, i);
    if (!strcmp(k->family, "gamma")) return tre_gamma(c, p[0], p[1]);
    if (!strcmp(k->family, "beta")) return tre_beta(c, p[0], p[1]);
    if (!strcmp(k->family, "student_t")) return tre_student_t(c, p[0], p[1], p[2]);
    return tre_dirichlet(c, p[0]);
}

static tre_tensor *model(tre_ctx *c, const void *args) {
    const vcase *k = args;
    const tre_tensor *obs = NULL;
    if (k->observe)
        obs = k->rows ? tre_from_host(c, 1, 2, (const int64_t[]){2, NELEM}, k->obs)
                      : tre_from_host(c, 1, 1, (const int64_t[]){NELEM}, k->obs);
    return tre_sample(c, "w", build(c, k), obs);
}

static tre_tensor *empty_guide(tre_ctx *c, const void *args) {
    (void)c;
    (void)args;
    return NULL;
}

static tre_ctx *make_ctx(bool validate) {
    tre_ctx *ctx = NULL;
    tre_ctx_opts o = {.backend = TRE_BACKEND_CPU, .seed = 5, .no_validation = !validate};
    TT_OK(ctx, tre_ctx_create(&ctx, &o));
    TT_OK(ctx, tre_ctx_set_particles(ctx, 4));
    return ctx;
}

static tre_status run_traced(tre_ctx *ctx, const vcase *k) {
    tre_messenger *tr = tre_trace_handler(ctx);
    return tre_run(ctx, model, k, &tr, 1, NULL);
}

static tre_status run_elbo(tre_ctx *ctx, const vcase *k) {
    tre_elbo_result r;
    return tre_elbo(ctx, model, empty_guide, k, &(tre_elbo_opts){.num_particles = 4}, &r);
}

static void expect_mentions(tre_ctx *ctx, const vcase *k, const char *needle) {
    if (!strstr(tre_ctx_error(ctx), needle))
        fail_msg("%s (bad param %d = %g): error \"%s\" does not mention \"%s\"", k->family, k->bad,
                 k->bad_value, tre_ctx_error(ctx), needle);
}

/* A bad parameter: both entry points fail with TRE_ERR_DIST naming site, family, parameter
 * and the constraint; without validation the same program runs. */
static void expect_param_error(const vcase *k, const char *constraint) {
    tre_status (*runs[2])(tre_ctx *, const vcase *) = {run_traced, run_elbo};
    for (int r = 0; r < 2; ++r) {
        tre_ctx *ctx = make_ctx(true);
        tre_status s = runs[r](ctx, k);
        if (s != TRE_ERR_DIST)
            fail_msg("%s with %s = %g (%s): status %s, expected TRE_ERR_DIST (%s)", k->family,
                     param_name(k->family, k->bad), k->bad_value, r ? "elbo" : "traced sample",
                     tre_status_name(s), tre_ctx_error(ctx));
        expect_mentions(ctx, k, "site \"w\"");
        expect_mentions(ctx, k, display(k->family));
        char p[64];
        snprintf(p, sizeof p, "parameter %s", param_name(k->family, k->bad));
        expect_mentions(ctx, k, p);
        expect_mentions(ctx, k, constraint);
        tre_ctx_destroy(ctx);
    }
    tre_ctx *ctx = make_ctx(false);
    TT_OK(ctx, run_traced(ctx, k));
    tre_ctx_destroy(ctx);
}

static vcase params_case(const char *family, float p0, float p1, float p2, int bad, int odd, float v) {
    return (vcase){.family = family, .p = {p0, p1, p2}, .bad = bad, .odd = odd, .bad_value = v};
}

static void test_bad_parameters(void **state) {
    (void)state;
    const float not_positive[] = {0.f, -1.f, -1e-30f, NAN, -INFINITY};
    for (int i = 0; i < 5; ++i) {
        const float v = not_positive[i];
        for (int b = 0; b < 2; ++b) {
            vcase g = params_case("gamma", 2.f, 3.f, 0.f, b, 1, v);
            expect_param_error(&g, "positive");
            vcase be = params_case("beta", 0.5f, 2.f, 0.f, b, 2, v);
            expect_param_error(&be, "positive");
        }
        vcase t = params_case("student_t", 3.f, 0.f, 1.f, 0, 0, v);
        expect_param_error(&t, "positive");
        t.bad = 2;
        expect_param_error(&t, "positive");
        vcase d = params_case("dirichlet", 0.7f, 0.f, 0.f, 0, 1, v);
        expect_param_error(&d, "positive");
        d.rows = true;
        d.odd = NELEM + 2; /* second row */
        expect_param_error(&d, "positive");
    }
    /* loc is any real number but NaN */
    vcase t = params_case("student_t", 3.f, 0.f, 1.f, 1, 2, NAN);
    expect_param_error(&t, "not NaN");
}

/* Edge values inside the constraints pass, sampled and observed. */
static void test_edges_pass(void **state) {
    (void)state;
    vcase ok[] = {
        params_case("gamma", 1e-30f, 1e30f, 0.f, 0, 0, 1e-30f),
        params_case("beta", 1e-30f, 1e30f, 0.f, 0, 0, 1e-30f),
        params_case("student_t", 1e-3f, -INFINITY, 1e-30f, 1, 0, INFINITY), /* loc: infinities are real */
        params_case("dirichlet", 1e-3f, 0.f, 0.f, 0, 0, 1e4f),
        /* observed on the edges (where the log-density is finite: tre_elbo rejects -inf) */
        {.family = "gamma", .p = {1.f, 3.f}, .bad = -1, .observe = true, .obs = {0.f, 1e-30f, 1e30f}},
        {.family = "beta", .p = {1.f, 1.f}, .bad = -1, .observe = true, .obs = {0.f, 1.f, 0.5f}},
        {.family = "student_t", .p = {3.f, 0.f, 1.f}, .bad = -1, .observe = true, .obs = {-1e30f, 1e30f, 0.f}},
        {.family = "dirichlet", .p = {1.f}, .bad = -1, .observe = true, .obs = {0.f, 0.f, 1.f}},
        {.family = "dirichlet", .p = {0.5f}, .bad = -1, .observe = true, .rows = true,
         .obs = {0.2f, 0.3f, 0.5f, 1.f / 3, 1.f / 3, 1.f / 3}},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; ++i) {
        tre_ctx *ctx = make_ctx(true);
        tre_status s = ok[i].observe ? run_elbo(ctx, &ok[i]) : run_traced(ctx, &ok[i]);
        if (s != TRE_OK) fail_msg("case %zu (%s): %s", i, ok[i].family, tre_ctx_error(ctx));
        tre_ctx_destroy(ctx);
    }
}

/* An observed value outside the support: tre_elbo fails naming the site (and the value);
 * without validation the model runs and its log_prob_sum is computed (-inf or NaN there, which
 * tre_elbo would report as a non-finite ELBO, so the trace is used directly). */
static void expect_value_error(const char *family, const float *p, const float *obs, bool rows,
                               const char *needle) {
    vcase k = {.family = family, .bad = -1, .observe = true, .rows = rows};
    for (int i = 0; i < 3; ++i) k.p[i] = p[i];
    for (int i = 0; i < 2 * NELEM; ++i) k.obs[i] = obs[i];
    tre_ctx *ctx = make_ctx(true);
    tre_status s = run_elbo(ctx, &k);
    if (s != TRE_ERR_DIST)
        fail_msg("%s observed at %g, %g, %g: status %s, expected TRE_ERR_DIST (%s)", family, obs[0],
                 obs[1], obs[2], tre_status_name(s), tre_ctx_error(ctx));
    expect_mentions(ctx, &k, "site \"w\"");
    expect_mentions(ctx, &k, display(family));
    expect_mentions(ctx, &k, needle);
    tre_ctx_destroy(ctx);
    ctx = make_ctx(false);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, model, &k, &tr, 1, NULL));
    if (!tre_trace_log_prob_sum(ctx, tre_trace_handler_trace(tr)))
        fail_msg("%s: log_prob_sum without validation: %s", family, tre_ctx_error(ctx));
    tre_ctx_destroy(ctx);
}

static void test_values_outside_support(void **state) {
    (void)state;
    const float g[3] = {2.f, 3.f, 0.f}, b[3] = {0.5f, 2.f, 0.f}, t[3] = {3.f, 0.f, 1.f}, d[3] = {1.5f};
    expect_value_error("gamma", g, (const float[6]){1.f, -1e-30f, 2.f}, false, "nonnegative");
    expect_value_error("gamma", g, (const float[6]){1.f, 2.f, NAN}, false, "nonnegative");
    expect_value_error("beta", b, (const float[6]){0.5f, 1.0001f, 0.5f}, false, "in [0, 1]");
    expect_value_error("beta", b, (const float[6]){-0.1f, 0.5f, 0.5f}, false, "in [0, 1]");
    expect_value_error("beta", b, (const float[6]){NAN, 0.5f, 0.5f}, false, "in [0, 1]");
    expect_value_error("student_t", t, (const float[6]){0.f, NAN, 1.f}, false, "value");
    expect_value_error("dirichlet", d, (const float[6]){-0.1f, 0.6f, 0.5f}, false, "simplex");
    expect_value_error("dirichlet", d, (const float[6]){0.2f, 0.3f, 0.4f}, false, "simplex");
    expect_value_error("dirichlet", d, (const float[6]){0.2f, NAN, 0.4f}, false, "simplex");
    /* a batch of rows, only the second off the simplex */
    expect_value_error("dirichlet", d, (const float[6]){0.2f, 0.3f, 0.5f, 0.5f, 0.5f, 0.01f}, true, "simplex");
}

/* A float32 row normalized by a float32 sum misses 1 by up to about K half-ulps of 1, beyond
 * PyTorch's 1e-6 for long rows: a row of K = 100 whose float sum 1 + 99 * 5e-8 rounded to 1 (so
 * normalizing changed nothing) sums to 1 + 4.95e-6, and is on the simplex; 1 + 4e-5 is not. */
typedef struct long_row {
    float x[100];
} long_row;
static tre_tensor *long_row_model(tre_ctx *c, const void *args) {
    const long_row *a = args;
    const int64_t k = 100;
    return tre_sample(c, "w", tre_dirichlet(c, tre_full(c, 1, &k, 1.f)), tre_from_host(c, 1, 1, &k, a->x));
}
static tre_tensor *no_guide(tre_ctx *c, const void *args) {
    (void)c, (void)args;
    return NULL;
}
static void test_long_rows_within_float_rounding(void **state) {
    (void)state;
    long_row a;
    for (int i = 0; i < 99; ++i) a.x[i] = 5e-8f;
    a.x[99] = 1.f;
    tre_ctx *ctx = make_ctx(true);
    tre_elbo_result r;
    const tre_elbo_opts o = {.num_particles = 1};
    TT_OK(ctx, tre_elbo(ctx, long_row_model, no_guide, &a, &o, &r));
    for (int i = 0; i < 99; ++i) a.x[i] = 4e-7f;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, long_row_model, no_guide, &a, &o, &r), TRE_ERR_DIST, "simplex");
    tre_ctx_destroy(ctx);
}

/* A concentration that is not a vector: a shape error naming the site and the parameter. */
static tre_tensor *scalar_dirichlet(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "w", tre_dirichlet(c, tre_scalar(c, 1.f)), NULL);
}
static void test_dirichlet_needs_a_vector(void **state) {
    (void)state;
    tre_ctx *ctx = make_ctx(true);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_FAILS_WITH(ctx, tre_run(ctx, scalar_dirichlet, NULL, &tr, 1, NULL), TRE_ERR_SHAPE, "site \"w\"");
    assert_non_null(strstr(tre_ctx_error(ctx), "concentration"));
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_edges_pass),
        cmocka_unit_test(test_values_outside_support),
        cmocka_unit_test(test_long_rows_within_float_rounding),
        cmocka_unit_test(test_dirichlet_needs_a_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
