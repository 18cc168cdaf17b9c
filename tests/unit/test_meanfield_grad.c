/* TraceMeanField_ELBO gradients through the analytic KLs that need digamma's derivative
 * (trigamma), Laplace's (through |m1 - m2|), Cauchy's and Uniform's (through its support
 * test): with no observations the estimate is exactly -KL(q || p), so its gradient is
 * deterministic and is checked against central finite differences; and trigamma itself against
 * the derivative of digamma. Also the estimate's terms: each KL times its guide site's scale and
 * mask, and an auxiliary guide site's -log q. */
#include <math.h>
#include "test_support.h"
#include "kernels/math/special.h"

static tre_tensor *gamma_model(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "rate", tre_gamma(c, tre_scalar(c, 2.f), tre_scalar(c, 3.f)), NULL);
}
static tre_tensor *gamma_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *a = tre_param(c, "qa", tre_scalar(c, 1.3f), TRE_C_POSITIVE);
    tre_tensor *b = tre_param(c, "qb", tre_scalar(c, 0.7f), TRE_C_POSITIVE);
    return tre_sample(c, "rate", tre_gamma(c, a, b), NULL);
}

static tre_tensor *beta_model(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "p", tre_beta(c, tre_scalar(c, 2.f), tre_scalar(c, 5.f)), NULL);
}
static tre_tensor *beta_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *a = tre_param(c, "qa", tre_scalar(c, 1.3f), TRE_C_POSITIVE);
    tre_tensor *b = tre_param(c, "qb", tre_scalar(c, 0.7f), TRE_C_POSITIVE);
    return tre_sample(c, "p", tre_beta(c, a, b), NULL);
}

static tre_tensor *laplace_model(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "x", tre_laplace(c, tre_scalar(c, 0.5f), tre_scalar(c, 2.f)), NULL);
}
static tre_tensor *laplace_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *m = tre_param(c, "qa", tre_scalar(c, 0.3f), TRE_C_REAL);
    tre_tensor *b = tre_param(c, "qb", tre_scalar(c, 0.7f), TRE_C_POSITIVE);
    return tre_sample(c, "x", tre_laplace(c, m, b), NULL);
}
static tre_tensor *cauchy_model(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "x", tre_cauchy(c, tre_scalar(c, 0.5f), tre_scalar(c, 2.f)), NULL);
}
static tre_tensor *cauchy_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *m = tre_param(c, "qa", tre_scalar(c, -0.3f), TRE_C_REAL);
    tre_tensor *g = tre_param(c, "qb", tre_scalar(c, 0.7f), TRE_C_POSITIVE);
    return tre_sample(c, "x", tre_cauchy(c, m, g), NULL);
}

/* Uniform || Uniform: the guide's [qa, qa + qb] inside the prior's [-1, 3] */
static tre_tensor *uniform_model(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "x", tre_uniform(c, tre_scalar(c, -1.f), tre_scalar(c, 3.f)), NULL);
}
static tre_tensor *uniform_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *lo = tre_param(c, "qa", tre_scalar(c, 0.3f), TRE_C_REAL);
    tre_tensor *w = tre_param(c, "qb", tre_scalar(c, 0.7f), TRE_C_POSITIVE);
    return tre_sample(c, "x", tre_uniform(c, lo, tre_add(c, lo, w)), NULL);
}

/* Exponential || Gamma: the guide's rate qa * qb, so that both params have a gradient */
static tre_tensor *exponential_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *a = tre_param(c, "qa", tre_scalar(c, 1.3f), TRE_C_POSITIVE);
    tre_tensor *b = tre_param(c, "qb", tre_scalar(c, 0.7f), TRE_C_POSITIVE);
    return tre_sample(c, "rate", tre_exponential(c, tre_mul(c, a, b)), NULL);
}
static tre_tensor *exponential_model(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "rate", tre_exponential(c, tre_scalar(c, 1.5f)), NULL);
}

/* Normal.to_event(1) || MultivariateNormal: the guide's scalar loc and scale broadcast over
 * D = 2 (through expand), against a correlated prior */
static const float mvn_loc[2] = {0.4f, -0.2f}, mvn_tril[4] = {1.3f, 0.f, -0.6f, 0.8f};
static tre_tensor *mvn_model(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "z", tre_multivariate_normal(c, tre_from_host(c, 1, 1, (int64_t[]){2}, mvn_loc),
                                                      tre_from_host(c, 1, 2, (int64_t[]){2, 2}, mvn_tril)), NULL);
}
static tre_tensor *diagonal_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *m = tre_param(c, "qa", tre_scalar(c, 0.3f), TRE_C_REAL);
    tre_tensor *s = tre_param(c, "qb", tre_scalar(c, 0.7f), TRE_C_POSITIVE);
    return tre_sample(c, "z", tre_dist_to_event(c, tre_dist_expand(c, tre_normal(c, m, s), 1, (int64_t[]){2}), 1), NULL);
}

static double elbo_at(tre_ctx *ctx, tre_program model, tre_program guide) {
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, guide, NULL, &(tre_elbo_opts){.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 1}, &r));
    return r.mean;
}

static void check_pair(tre_program model, tre_program guide, const char *what) {
    tre_ctx *ctx = tt_ctx(1);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, guide, NULL,
                        &(tre_elbo_opts){.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 1, .grad = true}, &r));
    const char *names[2] = {"qa", "qb"};
    for (int i = 0; i < 2; ++i) {
        const tre_param_entry *e = tre_param_store_get(ctx, names[i]);
        float g;
        TT_OK(ctx, tre_tensor_to_host(ctx, e->grad, &g, 1));
        float *u = e->unconstrained->data; /* CPU backend: host memory */
        const float u0 = *u, h = 1e-2f;
        *u = u0 + h;
        double fp = elbo_at(ctx, model, guide);
        *u = u0 - h;
        double fm = elbo_at(ctx, model, guide);
        *u = u0;
        double num = -(fp - fm) / (2.0 * h); /* d loss / d u, loss = -ELBO */
        print_message("%s: d loss / d %s = %.6f, finite differences %.6f\n", what, names[i], g, num);
        TT_NEAR(g, num, 2e-3 * (1 + fabs(num)));
    }
    tre_ctx_destroy(ctx);
}

static void test_kl_gradients_match_finite_differences(void **state) {
    (void)state;
    check_pair(gamma_model, gamma_guide, "Gamma||Gamma");
    check_pair(beta_model, beta_guide, "Beta||Beta");
    check_pair(laplace_model, laplace_guide, "Laplace||Laplace");
    check_pair(gamma_model, exponential_guide, "Exponential||Gamma");
    check_pair(exponential_model, gamma_guide, "Gamma||Exponential");
    check_pair(cauchy_model, cauchy_guide, "Cauchy||Cauchy");
    check_pair(uniform_model, uniform_guide, "Uniform||Uniform");
    check_pair(mvn_model, diagonal_guide, "Normal.to_event(1)||MultivariateNormal");
}

/* df against central differences of f at points from 1e-3 to 1e4 (h relative to x) */
static void check_derivative(double (*f)(double), double (*df)(double)) {
    const double xs[] = {1e-3, 0.1, 0.5, 1.0, 1.4616, 2.5, 9.99, 10.0, 37.0, 1e4};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; ++i) {
        double x = xs[i], h = 1e-5 * x;
        double num = (f(x + h) - f(x - h)) / (2 * h);
        TT_NEAR(df(x), num, 1e-7 * fabs(num));
    }
}

static void test_trigamma_is_digammas_derivative(void **state) {
    (void)state;
    check_derivative(tre_digamma, tre_trigamma);
    assert_true(isnan(tre_trigamma(-1.0)) && isinf(tre_trigamma(0.0)));
}

/* trigamma at the integers and half-integers, by its closed forms
 * psi'(n) = pi^2 / 6 - sum_{k<n} 1 / k^2 and psi'(n + 1/2) = pi^2 / 2 - 4 sum_{k<=n} 1 / (2k - 1)^2,
 * within its stated relative error 1e-13: below 10 the recurrence, at and above it the series */
static void test_trigamma_closed_forms(void **state) {
    (void)state;
    const double pi2 = 9.8696044010893586188;
    double s = 0.0, t = 0.0;
    for (int n = 1; n <= 14; ++n) {
        const double at_n = pi2 / 6 - s, at_half = pi2 / 2 - 4 * t;
        TT_NEAR(tre_trigamma(n), at_n, 1e-13 * at_n);
        TT_NEAR(tre_trigamma(n - 0.5), at_half, 1e-13 * at_half);
        s += 1.0 / ((double)n * n);
        t += 1.0 / ((2.0 * n - 1) * (2.0 * n - 1));
    }
}

/* ... and tetragamma is trigamma's (trigamma's own gradient, for differentiating twice) */
static void test_tetragamma_is_trigammas_derivative(void **state) {
    (void)state;
    check_derivative(tre_trigamma, tre_tetragamma);
    /* psi''(1) = -2 zeta(3) */
    TT_NEAR(tre_tetragamma(1.0), -2.0 * 1.2020569031595942854, 1e-12);
    assert_true(isnan(tre_tetragamma(-1.0)) && isinf(tre_tetragamma(0.0)) && tre_tetragamma(0.0) < 0);
}

/* TraceMeanField_ELBO differentiates every guide site pathwise: a non-reparameterized one,
 * paired with a model latent or auxiliary, is an error naming it (as Pyro's
 * check_fully_reparametrized raises), and the context goes on. */
static tre_tensor *coin_model(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "coin", tre_bernoulli_probs(c, tre_scalar(c, 0.3f)), NULL);
}
static tre_tensor *coin_guide(tre_ctx *c, const void *args) {
    const int aux = *(const int *)args;
    tre_tensor *q = tre_param(c, "q", tre_scalar(c, 0.6f), TRE_C_UNIT_INTERVAL);
    tre_infer inf = {0};
    if (aux) tre_infer_set(&inf, "is_auxiliary", "true");
    tre_sample_ex(c, aux ? "extra" : "coin", tre_bernoulli_probs(c, q), &(tre_sample_opts){.infer = &inf});
    return NULL;
}
static tre_tensor *no_latent_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_sample(c, "y", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), tre_scalar(c, 0.2f));
    return NULL;
}

static void test_non_reparameterized_guide_sites_are_refused(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    const tre_elbo_opts o = {.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 4, .grad = true};
    tre_elbo_result r;
    const int paired = 0, aux = 1;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, coin_model, coin_guide, &paired, &o, &r), TRE_ERR_MODEL,
                  "guide site \"coin\" (Bernoulli) is not reparameterized");
    TT_FAILS_WITH(ctx, tre_elbo(ctx, no_latent_model, coin_guide, &aux, &o, &r), TRE_ERR_MODEL,
                  "guide site \"extra\" (Bernoulli) is not reparameterized");
    /* Trace_ELBO takes the same auxiliary site (score function) */
    TT_OK(ctx, tre_elbo(ctx, no_latent_model, coin_guide, &aux,
                        &(tre_elbo_opts){.num_particles = 4, .grad = true}, &r));
    tre_ctx_destroy(ctx);
}

/* A model latent the guide lacks has no KL to take: an error naming it (Pyro's
 * TraceMeanField_ELBO fails on it too), where Trace_ELBO samples it from the prior; the context
 * goes on. */
static tre_tensor *two_latent_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_sample(c, "w", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    return gamma_model(c, NULL);
}

static void test_model_latent_missing_from_guide_is_refused(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(8);
    tre_elbo_result r;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, two_latent_model, gamma_guide, NULL,
                                &(tre_elbo_opts){.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 4, .grad = true}, &r),
                  TRE_ERR_MODEL, "model latent site \"w\" is not in the guide");
    TT_OK(ctx, tre_elbo(ctx, two_latent_model, gamma_guide, NULL, &(tre_elbo_opts){.num_particles = 4, .grad = true}, &r));
    TT_OK(ctx, tre_elbo(ctx, gamma_model, gamma_guide, NULL,
                        &(tre_elbo_opts){.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 4, .grad = true}, &r));
    tre_ctx_destroy(ctx);
}

/* ---- the estimate's terms -------------------------------------------------------------- */

static const float kl_m[2] = {0.7f, -0.4f}, kl_s[2] = {0.5f, 1.6f};
static tre_tensor *plate_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_plate(c, "d", 2, 0);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_plate_end(c);
    return z;
}
/* the guide under scale 3 and, when args is not NULL, the mask args ([2] floats) */
static tre_tensor *scaled_guide(tre_ctx *c, const void *args) {
    const int64_t two[1] = {2};
    tre_messenger *sc = tre_scale_handler(c, 3.0);
    tre_push(c, sc);
    tre_messenger *mk = args ? tre_mask_handler(c, tre_from_host(c, 1, 1, two, args)) : NULL;
    if (mk) tre_push(c, mk);
    tre_plate(c, "d", 2, 0);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, tre_from_host(c, 1, 1, two, kl_m),
                                                  tre_from_host(c, 1, 1, two, kl_s)), NULL);
    tre_plate_end(c);
    if (mk) tre_pop(c, mk);
    tre_pop(c, sc);
    return z;
}
static double kl_to_std_normal(double m, double s) { return -log(s) + 0.5 * (s * s + m * m) - 0.5; }

static void test_kl_takes_the_guide_sites_scale_and_mask(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    tre_elbo_result r;
    const tre_elbo_opts o = {.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 1};
    const double kl0 = kl_to_std_normal(kl_m[0], kl_s[0]), kl1 = kl_to_std_normal(kl_m[1], kl_s[1]);
    TT_OK(ctx, tre_elbo(ctx, plate_model, scaled_guide, NULL, &o, &r));
    TT_NEAR(r.mean, -3.0 * (kl0 + kl1), 1e-5 * 3.0 * (kl0 + kl1));
    const float mask[2] = {1.f, 0.f};
    TT_OK(ctx, tre_elbo(ctx, plate_model, scaled_guide, mask, &o, &r));
    TT_NEAR(r.mean, -3.0 * kl0, 1e-5 * 3.0 * kl0);
    tre_ctx_destroy(ctx);
}

static double normal_log_density(double x, double m, double s) {
    const double z = (x - m) / s;
    return -0.5 * z * z - log(s) - 0.5 * log(2 * 3.14159265358979323846);
}
static tre_tensor *observed_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_sample(c, "y", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), tre_scalar(c, 0.3f));
    return NULL;
}
static tre_tensor *auxiliary_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_infer inf = {0};
    tre_infer_set(&inf, "is_auxiliary", "true");
    return tre_sample_ex(c, "a", tre_normal(c, tre_scalar(c, 0.5f), tre_scalar(c, 2.f)),
                         &(tre_sample_opts){.infer = &inf});
}

/* an auxiliary guide site has no model site to take a KL against: it enters as -log q(a_s) */
static void test_auxiliary_guide_site_enters_as_minus_log_q(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    enum { P = 16 };
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, observed_model, auxiliary_guide, NULL,
                        &(tre_elbo_opts){.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = P}, &r));
    float a[P];
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_trace_get(r.guide_trace, "a")->msg.value, a, P));
    for (int s = 0; s < P; ++s) {
        const double want = normal_log_density(0.3, 0, 1) - normal_log_density(a[s], 0.5, 2);
        TT_NEAR(r.particles[s], want, 1e-5 * (1 + fabs(want)));
    }
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kl_gradients_match_finite_differences),
        cmocka_unit_test(test_non_reparameterized_guide_sites_are_refused),
        cmocka_unit_test(test_model_latent_missing_from_guide_is_refused),
        cmocka_unit_test(test_kl_takes_the_guide_sites_scale_and_mask),
        cmocka_unit_test(test_auxiliary_guide_site_enters_as_minus_log_q),
        cmocka_unit_test(test_trigamma_is_digammas_derivative),
        cmocka_unit_test(test_trigamma_closed_forms),
        cmocka_unit_test(test_tetragamma_is_trigammas_derivative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
