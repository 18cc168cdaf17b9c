/* Derivatives of the discrete log-masses (kernels/math/bernoulli.h, poisson.h, binomial.h)
 * against central finite differences in double, then the same derivatives through the CPU
 * backend's log-prob gradient (the score-function estimator's d log q / d params), and the
 * Bernoulli KL's gradient through the tensor ops.
 *
 * Tolerances (double): a central difference with step h has truncation error ~h^2 |f'''| / 6
 * and rounding error ~eps |f| / h. The steps are h = 1e-5 times the parameter's scale (for
 * counts of 1e4..1e5, whose log-factorials are ~1e6, the rounding term dominates:
 * 1e-16 * 1e6 / (1e-5 * 1e4) ~ 1e-6); derivatives must agree within 1e-5 (1 + |derivative|). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "test_support.h"
#include "kernels/math/bernoulli.h"
#include "kernels/math/binomial.h"
#include "kernels/math/poisson.h"
#include "src/dist/dist_impl.h"
#include "src/tensor/autograd.h"

typedef double (*lp2_fn)(double x, double a);
typedef double (*lp3_fn)(double x, double a, double b);

static void expect_fd(const char *what, double analytic, double fp, double fm, double h) {
    double num = (fp - fm) / (2.0 * h);
    if (!(fabs(analytic - num) <= 1e-5 * (1.0 + fabs(num))))
        fail_msg("%s: analytic %.12g, finite differences %.12g", what, analytic, num);
}

/* ---- the math headers, in double ----------------------------------------------------------- */

static void test_bernoulli_probs_derivatives(void **state) {
    (void)state;
    const double ps[] = {1e-3, 0.1, 0.3, 0.5, 0.77, 0.999};
    const double xs[] = {0.0, 1.0, 0.4}; /* 0.4: the smooth extension, for d/dx */
    for (size_t i = 0; i < sizeof ps / sizeof *ps; ++i)
        for (size_t j = 0; j < 3; ++j) {
            double p = ps[i], x = xs[j], h = 1e-5 * fmin(p, 1 - p);
            char what[96];
            snprintf(what, sizeof what, "Bernoulli(probs %g) d/dprobs at %g", p, x);
            expect_fd(what, tre_bernoulli_probs_dlp_dprobs_d(x, p),
                      tre_bernoulli_probs_log_prob_d(x, p + h), tre_bernoulli_probs_log_prob_d(x, p - h), h);
            snprintf(what, sizeof what, "Bernoulli(probs %g) d/dx at %g", p, x);
            h = 1e-5;
            expect_fd(what, tre_bernoulli_probs_dlp_dx_d(x, p), tre_bernoulli_probs_log_prob_d(x + h, p),
                      tre_bernoulli_probs_log_prob_d(x - h, p), h);
        }
}

static void test_bernoulli_logits_derivatives(void **state) {
    (void)state;
    const double ls[] = {-40.0, -6.0, -0.3, 0.0, 0.9, 8.0, 40.0};
    const double xs[] = {0.0, 1.0, 0.4};
    for (size_t i = 0; i < sizeof ls / sizeof *ls; ++i)
        for (size_t j = 0; j < 3; ++j) {
            double l = ls[i], x = xs[j], h = 1e-5 * fmax(1.0, fabs(l));
            char what[96];
            snprintf(what, sizeof what, "Bernoulli(logits %g) d/dlogits at %g", l, x);
            expect_fd(what, tre_bernoulli_logits_dlp_dlogits_d(x, l), tre_bernoulli_logits_log_prob_d(x, l + h),
                      tre_bernoulli_logits_log_prob_d(x, l - h), h);
            snprintf(what, sizeof what, "Bernoulli(logits %g) d/dx at %g", l, x);
            h = 1e-5;
            expect_fd(what, tre_bernoulli_logits_dlp_dx_d(x, l), tre_bernoulli_logits_log_prob_d(x + h, l),
                      tre_bernoulli_logits_log_prob_d(x - h, l), h);
        }
    /* confident logits: the derivative is x - sigmoid(l) without overflow */
    assert_true(tre_bernoulli_logits_dlp_dlogits_d(1.0, 800.0) == 0.0);
    assert_true(tre_bernoulli_logits_dlp_dlogits_d(0.0, -800.0) == 0.0);
    assert_true(tre_bernoulli_logits_dlp_dlogits_d(0.0, 800.0) == -1.0);
}

static void test_poisson_derivatives(void **state) {
    (void)state;
    const double rates[] = {0.05, 0.8, 4.0, 37.5, 1e4};
    for (size_t i = 0; i < sizeof rates / sizeof *rates; ++i) {
        double r = rates[i];
        const double ks[] = {0.0, 1.0, 2.0, floor(r), floor(r + 3 * sqrt(r)) + 1, 2.5};
        for (size_t j = 0; j < sizeof ks / sizeof *ks; ++j) {
            double k = ks[j], h = 1e-5 * r;
            char what[96];
            snprintf(what, sizeof what, "Poisson(%g) d/drate at %g", r, k);
            expect_fd(what, tre_poisson_dlp_drate(k, r), tre_poisson_log_prob(k, r + h),
                      tre_poisson_log_prob(k, r - h), h);
            if (k < 1.0) continue; /* below 0 the mass is 0: no two-sided difference at 0 */
            h = 1e-5 * fmax(1.0, k);
            snprintf(what, sizeof what, "Poisson(%g) d/dx at %g", r, k);
            expect_fd(what, tre_poisson_dlp_dx(k, r), tre_poisson_log_prob(k + h, r),
                      tre_poisson_log_prob(k - h, r), h);
        }
    }
}

static void test_binomial_derivatives(void **state) {
    (void)state;
    const double cases[][2] = {{1, 0.5}, {10, 0.3}, {10, 0.02}, {37, 0.91}, {1000, 0.4}, {1e5, 0.3}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        double n = cases[i][0], p = cases[i][1];
        const double ks[] = {0.0, 1.0, floor(n * p), n - 1, n, floor(n / 3) + 0.5};
        for (size_t j = 0; j < sizeof ks / sizeof *ks; ++j) {
            double k = ks[j];
            if (k < 0 || k > n) continue;
            char what[96];
            double h = 1e-5 * fmin(p, 1 - p);
            snprintf(what, sizeof what, "Binomial(%g, %g) d/dprobs at %g", n, p, k);
            expect_fd(what, tre_binomial_dlp_dprobs(k, n, p), tre_binomial_log_prob(k, n, p + h),
                      tre_binomial_log_prob(k, n, p - h), h);
            /* n and x as smooth arguments, away from the support edges where the mass drops to 0 */
            if (k < 1.0 || n - k < 1.0) continue;
            h = fmin(1e-5 * fmax(1.0, n), 1e-3 * fmin(k, n - k));
            snprintf(what, sizeof what, "Binomial(%g, %g) d/dtotal_count at %g", n, p, k);
            expect_fd(what, tre_binomial_dlp_dtotal_count(k, n, p), tre_binomial_log_prob(k, n + h, p),
                      tre_binomial_log_prob(k, n - h, p), h);
            snprintf(what, sizeof what, "Binomial(%g, %g) d/dx at %g", n, p, k);
            expect_fd(what, tre_binomial_dlp_dx(k, n, p), tre_binomial_log_prob(k + h, n, p),
                      tre_binomial_log_prob(k - h, n, p), h);
        }
    }
}

/* ---- the backend's log-prob gradients ------------------------------------------------------- */

/* d (sum of mask * scale * log p(x)) / d params through the fused kernel's backward, against
 * the math headers; an impossible value under an exact parameter (infinite derivative) that is
 * masked out must contribute exactly 0, not NaN. */
static void check_backend_grad(const char *family, int np, const float *x, const float *p0,
                               const float *p1, const float *mask, int64_t n) {
    tre_ctx *ctx = tt_ctx(1);
    tre_tensor *pt[2] = {NULL, NULL};
    const float *pv[2] = {p0, p1};
    for (int i = 0; i < np; ++i) {
        TT_OK(ctx, tre_tensor_create(ctx, &pt[i], TRE_F32, 1, 1, &n, pv[i]));
        pt[i]->requires_grad = true;
    }
    tre_ctx_step_reset(ctx);
    tre_grad_begin(ctx);
    tre_tensor *xt = tre_from_host(ctx, 1, 1, &n, x), *mt = tre_from_host(ctx, 1, 1, &n, mask);
    tre_dist *d = !strcmp(family, "bernoulli_probs")    ? tre_bernoulli_probs(ctx, pt[0])
                  : !strcmp(family, "bernoulli_logits") ? tre_bernoulli_logits(ctx, pt[0])
                  : !strcmp(family, "poisson")          ? tre_poisson(ctx, pt[0])
                                                        : tre_binomial_probs(ctx, pt[0], pt[1]);
    const double scale = 1.5;
    tre_tensor *s = tre_dist_log_prob_sum(ctx, d, xt, mt, scale);
    tre_grad_end(ctx);
    if (!s) fail_msg("%s: %s", family, tre_ctx_error(ctx));
    TT_OK(ctx, tre_grad_backward(ctx, s));
    for (int i = 0; i < np; ++i) {
        assert_non_null(pt[i]->grad);
        const float *g = tt_host(ctx, pt[i]->grad, i);
        for (int64_t j = 0; j < n; ++j) {
            double want;
            if (!strcmp(family, "bernoulli_probs")) want = tre_bernoulli_probs_dlp_dprobs(x[j], p0[j]);
            else if (!strcmp(family, "bernoulli_logits")) want = tre_bernoulli_logits_dlp_dlogits(x[j], p0[j]);
            else if (!strcmp(family, "poisson")) want = tre_poisson_dlp_drate(x[j], p0[j]);
            else if (i == 0) want = tre_binomial_dlp_dtotal_count(x[j], p0[j], p1[j]);
            else want = tre_binomial_dlp_dprobs(x[j], p0[j], p1[j]);
            want = mask[j] != 0.f ? scale * want : 0.0;
            /* d/dtotal_count at probs 1 is -inf (log(1 - p)), as the formula says */
            if (isinf(want) ? g[j] != want : !(fabs(g[j] - want) <= 1e-5 * (1.0 + fabs(want))))
                fail_msg("%s: gradient of parameter %d at %lld is %.9g, expected %.9g", family, i,
                         (long long)j, g[j], want);
        }
    }
    tre_ctx_destroy(ctx);
}

static void test_backend_log_prob_gradients(void **state) {
    (void)state;
    const float m[5] = {1, 1, 1, 0, 1};
    check_backend_grad("bernoulli_probs", 1, (const float[]){0, 1, 1, 1, 0},
                       (const float[]){0.2f, 0.7f, 0.5f, 0.f, 0.f}, NULL, m, 5);
    check_backend_grad("bernoulli_logits", 1, (const float[]){0, 1, 1, 0, 1},
                       (const float[]){-3.f, 0.5f, 60.f, 2.f, -60.f}, NULL, m, 5);
    check_backend_grad("poisson", 1, (const float[]){0, 3, 9990, 2, 0},
                       (const float[]){0.5f, 2.5f, 1e4f, 0.f, 0.f}, NULL, m, 5);
    check_backend_grad("binomial", 2, (const float[]){0, 3, 30000, 4, 10},
                       (const float[]){10.f, 10.f, 1e5f, 10.f, 10.f},
                       (const float[]){0.1f, 0.25f, 0.3f, 0.f, 1.f}, m, 5);
}

/* Bernoulli(logits) over 20 elements (a 16-lane vector block, then a scalar tail) with a NaN
 * logit masked out in each part: its gradient is exactly 0 in both, not 0 * NaN; validation
 * off, since it would refuse the NaN. The rest against the math header. */
static void test_masked_nan_logits_gradient_in_vector_block(void **state) {
    (void)state;
    enum { K = 20 };
    const double scale = 1.5;
    float x[K], l[K], mask[K];
    for (int j = 0; j < K; ++j) {
        x[j] = (float)(j % 3 == 0);
        l[j] = j == 5 || j == 18 ? NAN : -3.f + 0.35f * (float)j;
        mask[j] = j == 5 || j == 18 ? 0.f : 1.f;
    }
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 2, .no_validation = true}));
    int64_t k = K;
    tre_tensor *lt;
    TT_OK(ctx, tre_tensor_create(ctx, &lt, TRE_F32, 1, 1, &k, l));
    lt->requires_grad = true;
    tre_grad_begin(ctx);
    tre_tensor *s = tre_dist_log_prob_sum(ctx, tre_bernoulli_logits(ctx, lt), tre_from_host(ctx, 1, 1, &k, x),
                                          tre_from_host(ctx, 1, 1, &k, mask), scale);
    tre_grad_end(ctx);
    if (!s) fail_msg("%s", tre_ctx_error(ctx));
    TT_OK(ctx, tre_grad_backward(ctx, s));
    const float *g = tt_host(ctx, lt->grad, 0);
    for (int j = 0; j < K; ++j) {
        const double want = mask[j] != 0.f ? scale * tre_bernoulli_logits_dlp_dlogits(x[j], l[j]) : 0.0;
        if (!(fabs(g[j] - want) <= 1e-5 * (1.0 + fabs(want))))
            fail_msg("gradient at %d is %.9g, expected %.9g", j, g[j], want);
    }
    tre_ctx_destroy(ctx);
}

/* ---- KL gradient through the tensor ops ----------------------------------------------------- */

static double kl_value(tre_ctx *ctx, int pl, int ql, float a, float b) {
    tre_ctx_step_reset(ctx);
    tre_tensor *ta = tre_scalar(ctx, a), *tb = tre_scalar(ctx, b);
    tre_dist *p = pl ? tre_bernoulli_logits(ctx, ta) : tre_bernoulli_probs(ctx, ta);
    tre_dist *q = ql ? tre_bernoulli_logits(ctx, tb) : tre_bernoulli_probs(ctx, tb);
    return tt_at(ctx, tre_kl_divergence(ctx, p, q), 0);
}

/* float32 values: central differences with h = 1e-3 carry ~1e-4 rounding, hence 1e-3. */
static void test_kl_gradient_against_finite_differences(void **state) {
    (void)state;
    const float probs[2] = {0.3f, 0.8f}, logits[2] = {-0.7f, 1.2f};
    for (int pl = 0; pl < 2; ++pl)
        for (int ql = 0; ql < 2; ++ql) {
            tre_ctx *ctx = tt_ctx(1);
            float a = pl ? logits[0] : probs[0], b = ql ? logits[1] : probs[1];
            tre_tensor *ta = NULL, *tb = NULL;
            TT_OK(ctx, tre_tensor_create(ctx, &ta, TRE_F32, 1, 0, NULL, &a));
            TT_OK(ctx, tre_tensor_create(ctx, &tb, TRE_F32, 1, 0, NULL, &b));
            ta->requires_grad = tb->requires_grad = true;
            tre_ctx_step_reset(ctx);
            tre_grad_begin(ctx);
            tre_dist *p = pl ? tre_bernoulli_logits(ctx, ta) : tre_bernoulli_probs(ctx, ta);
            tre_dist *q = ql ? tre_bernoulli_logits(ctx, tb) : tre_bernoulli_probs(ctx, tb);
            tre_tensor *kl = tre_kl_divergence(ctx, p, q);
            tre_grad_end(ctx);
            if (!kl) fail_msg("kl: %s", tre_ctx_error(ctx));
            TT_OK(ctx, tre_grad_backward(ctx, kl));
            double ga = tt_at(ctx, ta->grad, 0), gb = tt_at(ctx, tb->grad, 0);
            const float h = 1e-3f;
            double na = (kl_value(ctx, pl, ql, a + h, b) - kl_value(ctx, pl, ql, a - h, b)) / (2.0 * h);
            double nb = (kl_value(ctx, pl, ql, a, b + h) - kl_value(ctx, pl, ql, a, b - h)) / (2.0 * h);
            if (!(fabs(ga - na) <= 1e-3 * (1 + fabs(na))) || !(fabs(gb - nb) <= 1e-3 * (1 + fabs(nb))))
                fail_msg("KL(%s || %s): gradients (%.6g, %.6g), finite differences (%.6g, %.6g)",
                         pl ? "logits" : "probs", ql ? "logits" : "probs", ga, gb, na, nb);
            tre_ctx_destroy(ctx);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bernoulli_probs_derivatives),
        cmocka_unit_test(test_bernoulli_logits_derivatives),
        cmocka_unit_test(test_poisson_derivatives),
        cmocka_unit_test(test_binomial_derivatives),
        cmocka_unit_test(test_backend_log_prob_gradients),
        cmocka_unit_test(test_masked_nan_logits_gradient_in_vector_block),
        cmocka_unit_test(test_kl_gradient_against_finite_differences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
