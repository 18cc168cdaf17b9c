/* KL(Bernoulli || Bernoulli) for the four pairings of probs and logits (and Binomial ||
 * Binomial, below): against the exact sum
 * over the two outcomes (in double, including the degenerate probs 0 and 1 and logits +-50),
 * and against a Monte Carlo estimate E_p[log p(x) - log q(x)] within 5 standard errors, over
 * batch shapes, per-particle parameters, expand and to_event.
 *
 * Tolerance against the exact sum: 2e-5 relative plus 1e-6 absolute. The KL is computed in
 * float32 as a sum of two terms p (log p - log q) whose magnitudes can exceed the result (they
 * cancel to O((p - q)^2) when p and q are close), so the absolute floor covers float rounding
 * of terms of size <= 10. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"

/* A Bernoulli side: logits (1) or probs (0) and its parameter. */
typedef struct side { int logits; double v; } side;

static double p1_of(side s) { return s.logits ? 1.0 / (1.0 + exp(-s.v)) : s.v; }
static double p0_of(side s) { return s.logits ? 1.0 / (1.0 + exp(s.v)) : 1.0 - s.v; }
static double log_p1(side s) { return s.logits ? -log1p(exp(-s.v)) : log(s.v); }
static double log_p0(side s) { return s.logits ? -log1p(exp(s.v)) : log1p(-s.v); }

/* sum over x of p(x) (log p(x) - log q(x)); an outcome p cannot produce adds 0 */
static double exact_kl(side p, side q) {
    double k = 0.0;
    if (p1_of(p) > 0) k += p1_of(p) * (log_p1(p) - log_p1(q));
    if (p0_of(p) > 0) k += p0_of(p) * (log_p0(p) - log_p0(q));
    return k;
}

static tre_dist *make(tre_ctx *ctx, int logits, const tre_tensor *t) {
    return logits ? tre_bernoulli_logits(ctx, t) : tre_bernoulli_probs(ctx, t);
}

static void expect_kl(const char *what, double got, double ref) {
    if (isinf(ref)) {
        if (got != ref) fail_msg("%s: KL %g, exact %g", what, got, ref);
        return;
    }
    if (!(fabs(got - ref) <= 2e-5 * fabs(ref) + 1e-6))
        fail_msg("%s: KL %.9g, exact %.12g", what, got, ref);
}

/* Every pairing at scalar points, including the degenerate ones. */
static void test_exact_sum_scalar_points(void **state) {
    (void)state;
    const double probs[] = {0.0, 1e-6, 0.1, 0.3, 0.5, 0.8, 0.999999, 1.0};
    const double logits[] = {-50.0, -8.0, -1.0, 0.0, 0.6, 3.0, 50.0};
    tre_ctx *ctx = tt_ctx(1);
    for (int pl = 0; pl < 2; ++pl)
        for (int ql = 0; ql < 2; ++ql) {
            const double *pv = pl ? logits : probs, *qv = ql ? logits : probs;
            int np = pl ? 7 : 8, nq = ql ? 7 : 8;
            for (int i = 0; i < np; ++i)
                for (int j = 0; j < nq; ++j) {
                    tre_ctx_step_reset(ctx);
                    side p = {pl, (float)pv[i]}, q = {ql, (float)qv[j]};
                    tre_dist *dp = make(ctx, pl, tre_scalar(ctx, (float)p.v));
                    tre_dist *dq = make(ctx, ql, tre_scalar(ctx, (float)q.v));
                    assert_true(tre_kl_exists(dp, dq));
                    tre_tensor *kl = tre_kl_divergence(ctx, dp, dq);
                    if (!kl) fail_msg("kl: %s", tre_ctx_error(ctx));
                    assert_int_equal(kl->ndim, 0);
                    char what[128];
                    snprintf(what, sizeof what, "KL(%s %g || %s %g)", pl ? "logits" : "probs", p.v,
                             ql ? "logits" : "probs", q.v);
                    expect_kl(what, tt_at(ctx, kl, 0), exact_kl(p, q));
                }
        }
    tre_ctx_destroy(ctx);
}

/* Monte Carlo: N draws per batch element from p, mean of log p(x) - log q(x) against the
 * analytic KL within 5 standard errors; p [3, 1] and q [4] broadcast to a [3, 4] batch. */
#define NMC 200000

static void check_mc(int pl, int ql, uint64_t seed) {
    const float pv[2][3] = {{0.1f, 0.5f, 0.97f}, {-2.2f, 0.3f, 4.0f}};
    const float qv[2][4] = {{0.05f, 0.4f, 0.6f, 0.99f}, {-3.0f, -0.5f, 0.0f, 2.5f}};
    tre_ctx *ctx = tt_ctx(seed);
    const int64_t s31[2] = {3, 1}, s4 = 4, s34[2] = {3, 4};
    tre_dist *p = make(ctx, pl, tre_from_host(ctx, 1, 2, s31, pv[pl]));
    tre_dist *q = make(ctx, ql, tre_from_host(ctx, 1, 1, &s4, qv[ql]));
    tre_tensor *kl = tre_kl_divergence(ctx, p, q);
    if (!kl) fail_msg("kl: %s", tre_ctx_error(ctx));
    assert_int_equal(kl->ndim, 2);
    assert_int_equal(kl->shape[0], 3);
    assert_int_equal(kl->shape[1], 4);
    const float *k = tt_host(ctx, kl, 0);
    tre_tensor *x = tre_dist_sample(ctx, tre_dist_expand(ctx, p, 2, s34), NMC);
    tre_tensor *d = tre_sub(ctx, tre_dist_log_prob(ctx, p, x), tre_dist_log_prob(ctx, q, x));
    if (!d) fail_msg("mc: %s", tre_ctx_error(ctx));
    assert_int_equal(d->particles, NMC);
    const float *h = tt_host(ctx, d, 1);
    for (int e = 0; e < 12; ++e) {
        double m = 0, m2 = 0;
        for (int64_t s = 0; s < NMC; ++s) m += h[s * 12 + e];
        m /= NMC;
        for (int64_t s = 0; s < NMC; ++s) m2 += (h[s * 12 + e] - m) * (h[s * 12 + e] - m);
        double se = sqrt(m2 / (NMC - 1) / NMC);
        side sp = {pl, pv[pl][e / 4]}, sq = {ql, qv[ql][e % 4]};
        expect_kl("batch [3, 4] vs exact", k[e], exact_kl(sp, sq));
        if (!(fabs(m - k[e]) <= 5 * se + 1e-6))
            fail_msg("KL(%s || %s)[%d]: analytic %.6g, Monte Carlo %.6g +- %.2g", pl ? "logits" : "probs",
                     ql ? "logits" : "probs", e, k[e], m, se);
    }
    tre_ctx_destroy(ctx);
}

static void test_monte_carlo_batch(void **state) {
    (void)state;
    for (int pl = 0; pl < 2; ++pl)
        for (int ql = 0; ql < 2; ++ql) check_mc(pl, ql, 10 + 2 * pl + ql);
}

/* to_event sums the KL over the event dims; parameters with particle extent give a KL with
 * that extent. */
static void test_to_event_and_particles(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    const float pv[3] = {0.2f, 0.5f, 0.9f}, qv[4] = {-1.f, 0.f, 1.f, 2.f};
    const int64_t s31[2] = {3, 1}, s4 = 4, s34[2] = {3, 4};
    tre_dist *p = tre_bernoulli_probs(ctx, tre_from_host(ctx, 1, 2, s31, pv));
    tre_dist *q = tre_bernoulli_logits(ctx, tre_from_host(ctx, 1, 1, &s4, qv));
    tre_dist *pe = tre_dist_to_event(ctx, tre_dist_expand(ctx, p, 2, s34), 1);
    tre_dist *qe = tre_dist_to_event(ctx, tre_dist_expand(ctx, q, 2, s34), 1);
    tre_tensor *kl = tre_kl_divergence(ctx, pe, qe);
    if (!kl) fail_msg("kl: %s", tre_ctx_error(ctx));
    assert_int_equal(kl->ndim, 1);
    assert_int_equal(kl->shape[0], 3);
    const float *h = tt_host(ctx, kl, 0);
    for (int r = 0; r < 3; ++r) {
        double ref = 0;
        for (int c = 0; c < 4; ++c) ref += exact_kl((side){0, pv[r]}, (side){1, qv[c]});
        expect_kl("to_event", h[r], ref);
    }
    /* particle extent 3 on p, q shared */
    tre_dist *pp = tre_bernoulli_probs(ctx, tre_from_host(ctx, 3, 0, NULL, pv));
    tre_dist *q0 = tre_bernoulli_logits(ctx, tre_scalar(ctx, qv[1]));
    tre_tensor *klp = tre_kl_divergence(ctx, pp, q0);
    if (!klp) fail_msg("kl: %s", tre_ctx_error(ctx));
    assert_int_equal(klp->particles, 3);
    for (int r = 0; r < 3; ++r)
        expect_kl("particles", tt_at(ctx, klp, r), exact_kl((side){0, pv[r]}, (side){1, qv[1]}));
    /* different event shapes, and a pair with no closed form */
    TT_OK(ctx, tre_ctx_status(ctx));
    assert_null(tre_kl_divergence(ctx, pe, q));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_SHAPE);
    tre_ctx_step_reset(ctx);
    tre_dist *po = tre_poisson(ctx, tre_scalar(ctx, 1.f));
    assert_false(tre_kl_exists(tre_bernoulli_probs(ctx, tre_scalar(ctx, 0.5f)), po));
    assert_null(tre_kl_divergence(ctx, tre_bernoulli_probs(ctx, tre_scalar(ctx, 0.5f)), po));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_UNSUPPORTED);
    tre_ctx_destroy(ctx);
}

/* KL(Binomial || Binomial) against the exact sum over the counts in double: equal counts
 * (degenerate probs included), p's count above q's (+inf), both counts 0, and q's count above
 * p's (no closed form: an error naming the pair, and the context usable after a reset). */
static double binomial_log_pmf(int k, int n, double pr) {
    const double c = lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);
    const double a = k ? k * log(pr) : 0.0, b = n - k ? (n - k) * log1p(-pr) : 0.0;
    return c + a + b;
}
static double exact_binomial_kl(int n1, double p1, int n2, double p2) {
    double k = 0.0;
    for (int x = 0; x <= n1; ++x) {
        const double lp = binomial_log_pmf(x, n1, p1);
        if (isinf(lp)) continue; /* p cannot produce x */
        k += exp(lp) * (lp - (x <= n2 ? binomial_log_pmf(x, n2, p2) : -INFINITY));
    }
    return k;
}

static void test_binomial(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    enum { N = 7 };
    const float n1[N] = {10, 10, 4, 4, 0, 6, 10}, p1[N] = {0.3f, 0.0f, 1.0f, 0.5f, 0.4f, 0.2f, 0.7f};
    const float n2[N] = {10, 10, 4, 4, 0, 5, 10}, p2[N] = {0.6f, 0.2f, 0.9f, 0.0f, 1.0f, 0.2f, 0.7f};
    const int64_t n = N;
    tre_dist *p = tre_binomial_probs(ctx, tre_from_host(ctx, 1, 1, &n, n1), tre_from_host(ctx, 1, 1, &n, p1));
    tre_dist *q = tre_binomial_probs(ctx, tre_from_host(ctx, 1, 1, &n, n2), tre_from_host(ctx, 1, 1, &n, p2));
    assert_true(tre_kl_exists(p, q));
    tre_tensor *kl = tre_kl_divergence(ctx, p, q);
    if (!kl) fail_msg("kl: %s", tre_ctx_error(ctx));
    const float *h = tt_host(ctx, kl, 0);
    for (int i = 0; i < N; ++i) {
        char what[96];
        snprintf(what, sizeof what, "KL(Binomial(%g, %g) || Binomial(%g, %g))", n1[i], p1[i], n2[i], p2[i]);
        expect_kl(what, h[i], exact_binomial_kl((int)n1[i], p1[i], (int)n2[i], p2[i]));
    }
    assert_true(isinf(h[3]) && isinf(h[5])); /* q cannot produce 4 heads; nor 6 */
    /* q's count above p's anywhere: refused, naming the pair */
    assert_null(tre_kl_divergence(ctx, q, p));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_UNSUPPORTED, "Binomial || Binomial");
    tre_ctx_step_reset(ctx);
    tre_dist *a = tre_binomial_probs(ctx, tre_scalar(ctx, 3.f), tre_scalar(ctx, 0.25f));
    tre_dist *b = tre_binomial_probs(ctx, tre_scalar(ctx, 3.f), tre_scalar(ctx, 0.5f));
    tre_tensor *k = tre_kl_divergence(ctx, a, b);
    if (!k) fail_msg("kl after the error: %s", tre_ctx_error(ctx));
    expect_kl("after the error", tt_at(ctx, k, 0), exact_binomial_kl(3, 0.25, 3, 0.5));
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_sum_scalar_points),
        cmocka_unit_test(test_monte_carlo_batch),
        cmocka_unit_test(test_to_event_and_particles),
        cmocka_unit_test(test_binomial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
