/* Samplers of the discrete families, 10^6 draws per case with fixed seeds: mean and variance
 * within 5 standard errors (exact fourth central moments), and a Pearson chi-square against
 * the exact mass function (cells with expected count < 5 merged) that must not reject at 1e-3.
 * Cases cover both sides of every method switch: Poisson inversion (rate < 10) and PTRS
 * (rate >= 10, up to 1e4), Binomial inversion (n min(p, 1-p) < 10) and BTRS (up to n = 1e5),
 * each with p on both sides of 1/2; plus the exact degenerate cases and per-element streams.
 * (No two-point case has p = 1/2: there the sample variance is a function of the sample mean
 * whose first-order standard error is 0, so the variance check would be meaningless.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"

#define N 1000000
#define ALPHA 1e-3
#define Z 5.0

/* ---- drawing ------------------------------------------------------------------------------- */

/* N draws of d into a host array of doubles: half the cases as N particles of a scalar
 * distribution, half as one particle of the distribution expanded to batch shape [N]. */
static double *draw(tre_ctx *ctx, tre_dist *d, bool as_particles) {
    if (!d) fail_msg("distribution: %s", tre_ctx_error(ctx));
    tre_tensor *x;
    if (as_particles) {
        x = tre_dist_sample(ctx, d, N);
    } else {
        const int64_t shape[1] = {N};
        x = tre_dist_sample(ctx, tre_dist_expand(ctx, d, 1, shape), 1);
    }
    if (!x) fail_msg("sample: %s", tre_ctx_error(ctx));
    assert_int_equal(x->particles * x->numel, N);
    const float *h = tt_host(ctx, x, 0);
    double *out = malloc(N * sizeof *out);
    for (int64_t i = 0; i < N; ++i) out[i] = h[i];
    return out;
}

/* ---- goodness of fit ----------------------------------------------------------------------- */

/* pmf(k) for k = 0..kmax, then cells of consecutive values with expected count >= 5 (the
 * remainder and the mass beyond kmax join the last cell), then the chi-square test. Every
 * draw must be a nonnegative integer <= kmax_support. */
static void check_chi2(const char *what, const double *x, double (*log_pmf)(double k, const double *a),
                       const double *args, int64_t kmax, int64_t kmax_support) {
    double *pmf = malloc((size_t)(kmax + 1) * sizeof *pmf);
    int64_t *cell = malloc((size_t)(kmax + 1) * sizeof *cell);
    double *expct = calloc((size_t)(kmax + 1), sizeof *expct), *obs = calloc((size_t)(kmax + 1), sizeof *obs);
    double total = 0.0;
    for (int64_t k = 0; k <= kmax; ++k) total += pmf[k] = exp(log_pmf((double)k, args));
    int ncell = 0;
    double acc = 0.0;
    for (int64_t k = 0; k <= kmax; ++k) {
        cell[k] = ncell;
        acc += N * pmf[k];
        if (acc >= 5.0) {
            expct[ncell++] = acc;
            acc = 0.0;
        }
    }
    acc += N * fmax(0.0, 1.0 - total); /* the mass beyond kmax */
    if (ncell == 0) {
        fail_msg("%s: no cell reaches 5 expected draws", what);
        return;
    }
    expct[ncell - 1] += acc;
    for (int64_t k = 0; k <= kmax; ++k)
        if (cell[k] >= ncell) cell[k] = ncell - 1;
    for (int64_t i = 0; i < N; ++i) {
        double v = x[i];
        if (!(v >= 0.0 && v <= (double)kmax_support && floor(v) == v))
            fail_msg("%s: draw %lld is %g, outside the support", what, (long long)i, v);
        obs[v > (double)kmax ? ncell - 1 : cell[(int64_t)v]] += 1.0;
    }
    if (ncell >= 2 && tt_chi2_reject(obs, expct, ncell, ALPHA))
        fail_msg("%s: chi-square rejects at %g (%d cells)", what, ALPHA, ncell);
    free(pmf);
    free(cell);
    free(expct);
    free(obs);
}

static void expect_all(const char *what, const double *x, double v) {
    for (int64_t i = 0; i < N; ++i)
        if (x[i] != v) fail_msg("%s: draw %lld is %g, not %g", what, (long long)i, x[i], v);
}

/* ---- Bernoulli ----------------------------------------------------------------------------- */

static double bernoulli_log_pmf(double k, const double *a) { return k == 0 ? log1p(-a[0]) : log(a[0]); }

static void check_bernoulli(tre_ctx *ctx, tre_dist *d, double p, bool as_particles) {
    char what[64];
    snprintf(what, sizeof what, "Bernoulli(%g)", p);
    double *x = draw(ctx, d, as_particles);
    double q = 1 - p;
    tt_check_moments(what, x, N, p, p * q, p * q * (1 - 3 * p * q), Z);
    check_chi2(what, x, bernoulli_log_pmf, &p, 1, 1);
    free(x);
}

static void test_bernoulli_probs_sampling(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(101);
    const float ps[] = {0.3f, 0.999f, 1e-3f, 0.45f};
    for (int i = 0; i < 4; ++i)
        check_bernoulli(ctx, tre_bernoulli_probs(ctx, tre_scalar(ctx, ps[i])), ps[i], i % 2 == 0);
    /* exact parameters give exact draws */
    double *x = draw(ctx, tre_bernoulli_probs(ctx, tre_scalar(ctx, 0.f)), true);
    expect_all("Bernoulli(0)", x, 0.0);
    free(x);
    x = draw(ctx, tre_bernoulli_probs(ctx, tre_scalar(ctx, 1.f)), false);
    expect_all("Bernoulli(1)", x, 1.0);
    free(x);
    tre_ctx_destroy(ctx);
}

static void test_bernoulli_logits_sampling(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(102);
    const float ls[] = {-1.2f, 4.0f, 0.2f};
    for (int i = 0; i < 3; ++i)
        check_bernoulli(ctx, tre_bernoulli_logits(ctx, tre_scalar(ctx, ls[i])), 1 / (1 + exp(-(double)ls[i])),
                        i % 2 == 1);
    double *x = draw(ctx, tre_bernoulli_logits(ctx, tre_scalar(ctx, 50.f)), true);
    expect_all("Bernoulli(logits 50)", x, 1.0);
    free(x);
    x = draw(ctx, tre_bernoulli_logits(ctx, tre_scalar(ctx, -50.f)), true);
    expect_all("Bernoulli(logits -50)", x, 0.0);
    free(x);
    tre_ctx_destroy(ctx);
}

/* ---- Poisson ------------------------------------------------------------------------------- */

static double poisson_log_pmf(double k, const double *a) {
    return (k == 0 ? 0.0 : k * log(a[0])) - a[0] - lgamma(k + 1);
}

static void test_poisson_sampling(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(103);
    const float rates[] = {0.05f, 3.7f, 9.99f, 10.f, 57.3f, 1e4f};
    for (int i = 0; i < 6; ++i) {
        double r = rates[i];
        char what[64];
        snprintf(what, sizeof what, "Poisson(%g)", r);
        double *x = draw(ctx, tre_poisson(ctx, tre_scalar(ctx, rates[i])), i % 2 == 0);
        tt_check_moments(what, x, N, r, r, r * (1 + 3 * r), Z);
        int64_t kmax = (int64_t)(r + 12 * sqrt(r) + 30);
        check_chi2(what, x, poisson_log_pmf, &r, kmax, INT64_MAX / 2);
        free(x);
    }
    double *x = draw(ctx, tre_poisson(ctx, tre_scalar(ctx, 0.f)), true);
    expect_all("Poisson(0)", x, 0.0);
    free(x);
    tre_ctx_destroy(ctx);
}

/* ---- Binomial ------------------------------------------------------------------------------ */

static double binomial_log_pmf(double k, const double *a) {
    double n = a[0], p = a[1];
    if (k > n) return -INFINITY;
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) + (k == 0 ? 0.0 : k * log(p)) +
           (n - k == 0 ? 0.0 : (n - k) * log1p(-p));
}

static void test_binomial_sampling(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(104);
    /* inversion: (10, 0.3), (2, 0.5), (1000, 0.005), (37, 0.97) flipped;
     * BTRS: (200, 0.05) at the switch, (100, 0.6) flipped, (1e5, 0.3), (1e5, 0.9999) flipped */
    const float cases[][2] = {{10, 0.3f}, {2, 0.5f}, {1000, 0.005f}, {37, 0.97f},
                              {200, 0.05f}, {100, 0.6f}, {1e5f, 0.3f}, {1e5f, 0.9999f}};
    for (int i = 0; i < 8; ++i) {
        double a[2] = {cases[i][0], cases[i][1]};
        double n = a[0], p = a[1], v = n * p * (1 - p);
        char what[64];
        snprintf(what, sizeof what, "Binomial(%g, %g)", n, p);
        tre_dist *d = tre_binomial_probs(ctx, tre_scalar(ctx, cases[i][0]), tre_scalar(ctx, cases[i][1]));
        double *x = draw(ctx, d, i % 2 == 1);
        tt_check_moments(what, x, N, n * p, v, v * (1 + 3 * (n - 2) * p * (1 - p)), Z);
        check_chi2(what, x, binomial_log_pmf, a, (int64_t)n, (int64_t)n);
        free(x);
    }
    double *x = draw(ctx, tre_binomial_probs(ctx, tre_scalar(ctx, 7.f), tre_scalar(ctx, 0.f)), true);
    expect_all("Binomial(7, 0)", x, 0.0);
    free(x);
    x = draw(ctx, tre_binomial_probs(ctx, tre_scalar(ctx, 1e5f), tre_scalar(ctx, 1.f)), false);
    expect_all("Binomial(1e5, 1)", x, 1e5);
    free(x);
    x = draw(ctx, tre_binomial_probs(ctx, tre_scalar(ctx, 0.f), tre_scalar(ctx, 0.4f)), true);
    expect_all("Binomial(0, 0.4)", x, 0.0);
    free(x);
    tre_ctx_destroy(ctx);
}

/* Below n min(p, 1 - p) = 10 the sampler must invert: BTRS's hat does not cover the mass
 * function there (Hormann asks n p >= 10). At Binomial(10, 1/2), n p = 5, BTRS would draw k = 2
 * and k = 8 0.35% too rarely each, invisible to 10^6 draws: this case takes 6 * 10^7 (in chunks
 * of 10^7 particles). Two chi-squares, each must not reject at 1e-7: over the 11 values, and,
 * the mass function being symmetric, over the 6 classes |k - 5| (a value and its mirror image
 * pooled), which sees a deficit shared by mirror values with fewer degrees of freedom. */
static void test_binomial_inversion_below_the_switch(void **state) {
    (void)state;
    enum { CHUNK = 10000000, CHUNKS = 6 };
    const double a[2] = {10.0, 0.5};
    double obs[11] = {0}, expct[11], fobs[6] = {0}, fexp[6] = {0};
    tre_ctx *ctx = tt_ctx(108);
    for (int c = 0; c < CHUNKS; ++c) {
        tre_ctx_step_reset(ctx);
        tre_tensor *x = tre_dist_sample(ctx, tre_binomial_probs(ctx, tre_scalar(ctx, 10.f), tre_scalar(ctx, 0.5f)), CHUNK);
        if (!x) fail_msg("sample: %s", tre_ctx_error(ctx));
        const float *h = tt_host(ctx, x, 0);
        for (int64_t i = 0; i < CHUNK; ++i) {
            if (!(h[i] >= 0.f && h[i] <= 10.f && floorf(h[i]) == h[i])) fail_msg("draw %g", h[i]);
            obs[(int)h[i]] += 1.0;
        }
    }
    for (int k = 0; k <= 10; ++k) {
        expct[k] = (double)CHUNK * CHUNKS * exp(binomial_log_pmf(k, a));
        fobs[abs(k - 5)] += obs[k];
        fexp[abs(k - 5)] += expct[k];
    }
    if (tt_chi2_reject(obs, expct, 11, 1e-7)) fail_msg("Binomial(10, 0.5): chi-square rejects at 1e-7");
    if (tt_chi2_reject(fobs, fexp, 6, 1e-7)) fail_msg("Binomial(10, 0.5), |k - 5|: chi-square rejects at 1e-7");
    tre_ctx_destroy(ctx);
}

/* ---- streams ------------------------------------------------------------------------------- */

/* Element i's draw depends only on (seed, op, i) and its own parameters: changing another
 * element's parameter (and so how many rejection rounds that element takes) changes nothing
 * else, and the same seed reproduces every draw bit for bit. */
static void test_per_element_streams(void **state) {
    (void)state;
    const int64_t n = 4096;
    float *rate_a = malloc(n * sizeof *rate_a), *rate_b = malloc(n * sizeof *rate_b);
    for (int64_t i = 0; i < n; ++i) rate_a[i] = rate_b[i] = (i % 3 == 0) ? 4.5f : 1e4f;
    rate_b[7] = 2.0f;     /* PTRS -> inversion */
    rate_b[9] = 0.25f;
    float *xa = malloc(n * sizeof *xa), *xb = malloc(n * sizeof *xb);
    for (int pass = 0; pass < 2; ++pass) {
        tre_ctx *ctx = tt_ctx(105);
        tre_tensor *r = tre_from_host(ctx, 1, 1, &n, pass ? rate_b : rate_a);
        tre_tensor *x = tre_dist_sample(ctx, tre_poisson(ctx, r), 1);
        memcpy(pass ? xb : xa, tt_host(ctx, x, 0), n * sizeof *xa);
        tre_ctx_destroy(ctx);
    }
    for (int64_t i = 0; i < n; ++i)
        if (i != 7 && i != 9 && xa[i] != xb[i])
            fail_msg("element %lld changed when other elements' rates changed", (long long)i);
    assert_true(xa[7] != xb[7] || xa[9] != xb[9]);
    /* the same for Binomial, whose BTRS rounds differ per element too */
    for (int pass = 0; pass < 2; ++pass) {
        tre_ctx *ctx = tt_ctx(106);
        for (int64_t i = 0; i < n; ++i) rate_a[i] = (pass && i == 5) ? 3.f : 1e5f;
        tre_tensor *tc = tre_from_host(ctx, 1, 1, &n, rate_a);
        tre_tensor *x = tre_dist_sample(ctx, tre_binomial_probs(ctx, tc, tre_scalar(ctx, 0.37f)), 1);
        memcpy(pass ? xb : xa, tt_host(ctx, x, 0), n * sizeof *xa);
        tre_ctx_destroy(ctx);
    }
    for (int64_t i = 0; i < n; ++i)
        if (i != 5 && xa[i] != xb[i])
            fail_msg("Binomial element %lld changed when element 5 changed", (long long)i);
    free(rate_a);
    free(rate_b);
    free(xa);
    free(xb);
}

/* Neighbouring elements are uncorrelated (each has its own Philox sequence): lag-1
 * correlation of 10^6 PTRS draws within 5 / sqrt(N). */
static void test_neighbours_uncorrelated(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(107);
    double *x = draw(ctx, tre_poisson(ctx, tre_scalar(ctx, 1e4f)), false);
    double m = 0, c0 = 0, c1 = 0;
    for (int64_t i = 0; i < N; ++i) m += x[i];
    m /= N;
    for (int64_t i = 0; i < N; ++i) {
        c0 += (x[i] - m) * (x[i] - m);
        if (i) c1 += (x[i] - m) * (x[i - 1] - m);
    }
    double rho = c1 / c0;
    if (!(fabs(rho) < Z / sqrt((double)N))) fail_msg("lag-1 correlation %.5f", rho);
    free(x);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bernoulli_probs_sampling),
        cmocka_unit_test(test_bernoulli_logits_sampling),
        cmocka_unit_test(test_poisson_sampling),
        cmocka_unit_test(test_binomial_sampling),
        cmocka_unit_test(test_binomial_inversion_below_the_switch),
        cmocka_unit_test(test_per_element_streams),
        cmocka_unit_test(test_neighbours_uncorrelated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
