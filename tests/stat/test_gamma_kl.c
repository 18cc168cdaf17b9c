/* Analytic KL divergences of the gamma group (Gamma || Gamma, Beta || Beta, Dirichlet ||
 * Dirichlet) against Monte Carlo estimates mean(log p(x) - log q(x)), x ~ p, through the
 * library's own samplers and log-densities: each batch element within 5 standard errors (plus
 * 1e-5 relative for the float32 evaluation, which also covers p == q, where every difference is
 * exactly 0). Parameters broadcast between p and q; to_event sums; pairs without a closed form
 * are refused. Fixed seeds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "test_support.h"

#define NDRAW 200000

/* KL(p || q) of shape [B] (after any broadcasting) against the Monte Carlo estimate. */
static void check_kl(tre_ctx *ctx, const char *what, const tre_dist *p, const tre_dist *q) {
    tre_tensor *kl = tre_kl_divergence(ctx, p, q);
    if (!kl) fail_msg("%s: kl_divergence: %s", what, tre_ctx_error(ctx));
    assert_int_equal(kl->particles, 1);
    const int64_t B = kl->numel;
    /* draw from p over the broadcast batch shape, so that every KL element has its own draws */
    const tre_dist *pe = tre_dist_expand(ctx, p, kl->ndim, kl->shape);
    assert_non_null(pe);
    tre_tensor *x = tre_dist_sample(ctx, pe, NDRAW);
    tre_tensor *lp = tre_dist_log_prob(ctx, pe, x), *lq = tre_dist_log_prob(ctx, q, x);
    if (!lp || !lq) fail_msg("%s: log_prob: %s", what, tre_ctx_error(ctx));
    assert_int_equal(lp->numel, B);
    assert_int_equal(lq->numel, B);
    const float *hk = tt_host(ctx, kl, 0), *hp = tt_host(ctx, lp, 1), *hq = tt_host(ctx, lq, 2);
    for (int64_t b = 0; b < B; ++b) {
        double s = 0.0, s2 = 0.0;
        for (int64_t i = 0; i < NDRAW; ++i) {
            const double d = (double)hp[i * B + b] - (double)hq[i * B + b];
            s += d;
            s2 += d * d;
        }
        const double mean = s / NDRAW, var = fmax(s2 / NDRAW - mean * mean, 0.0);
        const double se = sqrt(var / NDRAW), tol = 5.0 * se + 1e-5 * (1.0 + fabs(hk[b]));
        if (!(fabs(hk[b] - mean) <= tol))
            fail_msg("%s[%lld]: analytic KL %.6g, Monte Carlo %.6g +- %.3g", what, (long long)b, hk[b],
                     mean, se);
        if (!(hk[b] >= -1e-6)) fail_msg("%s[%lld]: KL %.6g is negative", what, (long long)b, hk[b]);
    }
}

static tre_tensor *t2(tre_ctx *ctx, int64_t r, int64_t c, const float *v) {
    return tre_from_host(ctx, 1, 2, (const int64_t[]){r, c}, v);
}
static tre_tensor *t1(tre_ctx *ctx, int64_t n, const float *v) {
    return tre_from_host(ctx, 1, 1, &n, v);
}

static void test_gamma_gamma(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(101);
    /* p [2, 3] against q [3]: broadcast to [2, 3]; element (0, 1) has p == q */
    const float pa[6] = {0.5f, 2.f, 30.f, 4.f, 0.8f, 1e3f}, pb[6] = {1.f, 0.3f, 5.f, 2.f, 7.f, 40.f};
    const float qa[3] = {1.5f, 2.f, 25.f}, qb[3] = {2.f, 0.3f, 4.f};
    tre_dist *p = tre_gamma(ctx, t2(ctx, 2, 3, pa), t2(ctx, 2, 3, pb));
    tre_dist *q = tre_gamma(ctx, t1(ctx, 3, qa), t1(ctx, 3, qb));
    check_kl(ctx, "Gamma || Gamma", p, q);
    check_kl(ctx, "Gamma || Gamma (reversed)", q, p);
    /* to_event(1): the KL sums over the event dim */
    tre_tensor *kl = tre_kl_divergence(ctx, p, q);
    tre_tensor *ke = tre_kl_divergence(ctx, tre_dist_to_event(ctx, p, 1),
                                       tre_dist_to_event(ctx, tre_dist_expand(ctx, q, 2, (const int64_t[]){2, 3}), 1));
    assert_non_null(ke);
    assert_int_equal(ke->ndim, 1);
    assert_int_equal(ke->shape[0], 2);
    const float *h = tt_host(ctx, kl, 0), *he = tt_host(ctx, ke, 1);
    for (int r = 0; r < 2; ++r) TT_NEAR(he[r], h[3 * r] + h[3 * r + 1] + h[3 * r + 2], 1e-5 * (1 + fabs(he[r])));
    assert_true(h[1] == 0.f); /* p == q */
    tre_ctx_destroy(ctx);
}

static void test_beta_beta(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(102);
    const float pa[4] = {0.5f, 2.f, 50.f, 0.3f}, pb[4] = {0.5f, 3.f, 20.f, 4.f};
    const float qa[4] = {1.f, 2.f, 40.f, 2.f}, qb[4] = {1.f, 3.f, 25.f, 0.7f};
    tre_dist *p = tre_beta(ctx, t1(ctx, 4, pa), t1(ctx, 4, pb));
    tre_dist *q = tre_beta(ctx, t1(ctx, 4, qa), t1(ctx, 4, qb));
    check_kl(ctx, "Beta || Beta", p, q);
    check_kl(ctx, "Beta || Beta (reversed)", q, p);
    /* a scalar q broadcast against p's batch */
    check_kl(ctx, "Beta || Beta(1.5, 1.5)", p, tre_beta(ctx, tre_scalar(ctx, 1.5f), tre_scalar(ctx, 1.5f)));
    tre_ctx_destroy(ctx);
}

static void test_dirichlet_dirichlet(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(103);
    /* p [3, 4] (batch [3]) against q [4] (batch []) */
    const float pc[12] = {0.5f, 0.5f, 0.5f, 0.5f, 1.f, 2.f, 3.f, 4.f, 40.f, 10.f, 5.f, 80.f};
    const float qc[4] = {1.f, 1.f, 2.f, 2.f};
    tre_dist *p = tre_dirichlet(ctx, t2(ctx, 3, 4, pc)), *q = tre_dirichlet(ctx, t1(ctx, 4, qc));
    check_kl(ctx, "Dirichlet || Dirichlet", p, q);
    check_kl(ctx, "Dirichlet || Dirichlet (reversed)", q, p);
    /* KL of a distribution with itself is 0 */
    tre_tensor *self = tre_kl_divergence(ctx, p, p);
    const float *h = tt_host(ctx, self, 0);
    for (int i = 0; i < 3; ++i) TT_NEAR(h[i], 0.0, 1e-5);
    /* different K: a shape error */
    const float q3[3] = {1.f, 1.f, 1.f};
    assert_null(tre_kl_divergence(ctx, p, tre_dirichlet(ctx, t1(ctx, 3, q3))));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_SHAPE);
    tre_ctx_destroy(ctx);
}

static void test_pairs_without_closed_form(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(104);
    tre_tensor *one = tre_scalar(ctx, 1.f);
    tre_dist *g = tre_gamma(ctx, one, one), *b = tre_beta(ctx, one, one), *t = tre_student_t(ctx, one, one, one);
    assert_true(tre_kl_exists(g, g) && tre_kl_exists(b, b));
    assert_false(tre_kl_exists(g, b) || tre_kl_exists(t, t) || tre_kl_exists(b, g));
    assert_null(tre_kl_divergence(ctx, t, t));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_UNSUPPORTED);
    assert_non_null(strstr(tre_ctx_error(ctx), "StudentT"));
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gamma_gamma),
        cmocka_unit_test(test_beta_beta),
        cmocka_unit_test(test_dirichlet_dirichlet),
        cmocka_unit_test(test_pairs_without_closed_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
