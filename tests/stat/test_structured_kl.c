/* KL(Categorical || Categorical) and KL(MultivariateNormal || MultivariateNormal): each against
 * a Monte Carlo estimate E_p[log p(x) - log q(x)] from the library's own draws and log-densities
 * (within 5 standard errors, fixed seeds), against independent double-precision closed forms,
 * with broadcast batch shapes, particle-extent parameters, expand and to_event. */
#include <math.h>
#include <stdlib.h>
#include "test_support.h"

#define NDRAW 400000

/* |kl - mc mean| within 5 standard errors of the mean of log p(x) - log q(x), per batch element */
static void check_mc(tre_ctx *ctx, const char *what, const tre_dist *p, const tre_dist *q,
                     const tre_tensor *kl) {
    tre_tensor *x = tre_dist_sample(ctx, p, NDRAW);
    tre_tensor *diff = tre_sub(ctx, tre_dist_log_prob(ctx, p, x), tre_dist_log_prob(ctx, q, x));
    if (!diff) fail_msg("%s: %s", what, tre_ctx_error(ctx));
    const int64_t b = diff->numel;
    assert_int_equal(kl->numel, b);
    const float *h = tt_host(ctx, diff, 0), *k = tt_host(ctx, kl, 1);
    for (int64_t i = 0; i < b; ++i) {
        double s = 0, s2 = 0;
        for (int64_t n = 0; n < NDRAW; ++n) {
            double v = h[n * b + i];
            s += v;
            s2 += v * v;
        }
        double mean = s / NDRAW, se = sqrt((s2 / NDRAW - mean * mean) / NDRAW);
        if (!(fabs(mean - k[i]) <= 5 * se + 1e-6))
            fail_msg("%s[%lld]: KL %.6f, Monte Carlo %.6f +- %.6f", what, (long long)i, k[i], mean, se);
    }
}

static double cat_kl_exact(int k, const float *a, const float *b) {
    double ma = -INFINITY, mb = -INFINITY, sa = 0, sb = 0, kl = 0;
    for (int i = 0; i < k; ++i) {
        ma = fmax(ma, a[i]);
        mb = fmax(mb, b[i]);
    }
    for (int i = 0; i < k; ++i) {
        sa += exp(a[i] - ma);
        sb += exp(b[i] - mb);
    }
    for (int i = 0; i < k; ++i) {
        double lp = a[i] - ma - log(sa), lq = b[i] - mb - log(sb);
        kl += exp(lp) * (lp - lq);
    }
    return kl;
}

static void test_categorical_kl(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(31);
    /* p: batch [3] of K = 4; q: one row broadcast over the batch */
    const float lp[12] = {0.5f, -1.f, 2.f, 0.f, 1.f, 1.f, 1.f, 1.f, -3.f, 4.f, 0.2f, 1.5f};
    const float lq[4] = {0.f, 0.3f, -0.7f, 1.2f};
    tre_dist *p = tre_categorical_logits(ctx, tre_from_host(ctx, 1, 2, (int64_t[]){3, 4}, lp));
    tre_dist *q = tre_categorical_logits(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){4}, lq));
    assert_true(tre_kl_exists(p, q));
    tre_tensor *kl = tre_kl_divergence(ctx, p, q);
    assert_non_null(kl);
    assert_int_equal(kl->ndim, 1);
    assert_int_equal(kl->shape[0], 3);
    const float *k = tt_host(ctx, kl, 2);
    double total = 0;
    for (int i = 0; i < 3; ++i) {
        double e = cat_kl_exact(4, lp + 4 * i, lq);
        TT_NEAR(k[i], e, 1e-6 * (1 + e));
        total += e;
    }
    check_mc(ctx, "Categorical KL", p, q, kl);
    /* to_event sums the batch; KL(p || p) = 0 */
    tre_tensor *kle = tre_kl_divergence(ctx, tre_dist_to_event(ctx, p, 1),
                                        tre_dist_to_event(ctx, tre_dist_expand(ctx, q, 1, (int64_t[]){3}), 1));
    assert_non_null(kle);
    assert_int_equal(kle->ndim, 0);
    TT_NEAR(tt_at(ctx, kle, 0), total, 1e-5 * (1 + total));
    tre_tensor *self = tre_kl_divergence(ctx, p, p);
    const float *hs = tt_host(ctx, self, 3);
    for (int i = 0; i < 3; ++i) TT_NEAR(hs[i], 0.0, 1e-7);
    /* particle-extent logits: one KL per particle */
    const float lpp[8] = {0.f, 0.f, 0.f, 3.f, 2.f, -1.f, 0.5f, 0.f};
    tre_tensor *klp = tre_kl_divergence(ctx, tre_categorical_logits(ctx, tre_from_host(ctx, 2, 1, (int64_t[]){4}, lpp)), q);
    assert_non_null(klp);
    assert_int_equal(klp->particles, 2);
    TT_NEAR(tt_host(ctx, klp, 4)[0], cat_kl_exact(4, lpp, lq), 1e-6);
    TT_NEAR(tt_host(ctx, klp, 4)[1], cat_kl_exact(4, lpp + 4, lq), 1e-6);
    /* a zero-probability category of q that p can draw makes KL infinite; of p, it adds 0 */
    const float z[2] = {0.f, -INFINITY}, u[2] = {0.f, 0.f};
    tre_dist *pz = tre_categorical_logits(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){2}, z));
    tre_dist *pu = tre_categorical_logits(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){2}, u));
    TT_NEAR(tt_at(ctx, tre_kl_divergence(ctx, pz, pu), 0), log(2.0), 1e-6);
    assert_true(isinf(tt_at(ctx, tre_kl_divergence(ctx, pu, pz), 0)));
    /* K mismatch is a shape error */
    tre_dist *k3 = tre_categorical_logits(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){3}, lq));
    assert_null(tre_kl_divergence(ctx, k3, q));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_SHAPE);
    tre_ctx_destroy(ctx);
}

/* KL of two MVNs by an independent route: explicit covariances, Cholesky of Sigma_q, and
 * the trace / quadratic / log-determinant form, in double. */
static double mvn_kl_exact(int D, const float *mp, const float *Lp, const float *mq, const float *Lq) {
    double Sp[16] = {0}, Sq[16] = {0}, C[16] = {0}, inv[16] = {0};
    for (int i = 0; i < D; ++i)
        for (int j = 0; j < D; ++j)
            for (int k = 0; k < D; ++k) {
                Sp[i * D + j] += (double)Lp[i * D + k] * Lp[j * D + k];
                Sq[i * D + j] += (double)Lq[i * D + k] * Lq[j * D + k];
            }
    /* Cholesky of Sq, then its inverse by Gauss-Jordan on Sq itself */
    for (int j = 0; j < D; ++j) {
        double s = Sq[j * D + j];
        for (int k = 0; k < j; ++k) s -= C[j * D + k] * C[j * D + k];
        C[j * D + j] = sqrt(s);
        for (int i = j + 1; i < D; ++i) {
            double t = Sq[i * D + j];
            for (int k = 0; k < j; ++k) t -= C[i * D + k] * C[j * D + k];
            C[i * D + j] = t / C[j * D + j];
        }
    }
    double A[16 * 2];
    for (int i = 0; i < D; ++i)
        for (int j = 0; j < 2 * D; ++j) A[i * 2 * D + j] = j < D ? Sq[i * D + j] : (j - D == i);
    for (int c = 0; c < D; ++c) {
        double piv = A[c * 2 * D + c];
        for (int j = 0; j < 2 * D; ++j) A[c * 2 * D + j] /= piv;
        for (int r = 0; r < D; ++r) {
            if (r == c) continue;
            double f = A[r * 2 * D + c];
            for (int j = 0; j < 2 * D; ++j) A[r * 2 * D + j] -= f * A[c * 2 * D + j];
        }
    }
    for (int i = 0; i < D; ++i)
        for (int j = 0; j < D; ++j) inv[i * D + j] = A[i * 2 * D + D + j];
    double tr = 0, quad = 0, ldq = 0, ldp = 0;
    for (int i = 0; i < D; ++i) {
        for (int j = 0; j < D; ++j) {
            tr += inv[i * D + j] * Sp[j * D + i];
            quad += (mq[i] - mp[i]) * inv[i * D + j] * (mq[j] - mp[j]);
        }
        ldq += 2 * log(C[i * D + i]);
        ldp += 2 * log(fabs((double)Lp[i * D + i]));
    }
    return 0.5 * (tr + quad - D + ldq - ldp);
}

static void test_mvn_kl(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(32);
    /* p: loc [2, 3] with one scale_tril; q: one loc with scale_tril [2, 3, 3] */
    const float mp[6] = {0.f, 1.f, -1.f, 0.5f, 0.5f, 0.f};
    const float Lp[9] = {1.f, 0.f, 0.f, 0.4f, 0.8f, 0.f, -0.3f, 0.2f, 1.2f};
    const float mq[3] = {0.3f, 0.f, -0.5f};
    const float Lq[18] = {1.5f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.5f, 0.5f, 2.f,
                          0.9f, 0.f, 0.f, -0.6f, 1.1f, 0.f, 0.1f, 0.3f, 0.7f};
    tre_dist *p = tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 2, (int64_t[]){2, 3}, mp),
                                          tre_from_host(ctx, 1, 2, (int64_t[]){3, 3}, Lp));
    tre_dist *q = tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){3}, mq),
                                          tre_from_host(ctx, 1, 3, (int64_t[]){2, 3, 3}, Lq));
    assert_true(tre_kl_exists(p, q));
    assert_false(tre_kl_exists(p, tre_categorical_logits(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){3}, mq))));
    /* another event shape: no KL (and tre_kl_divergence says TRE_ERR_SHAPE) */
    tre_dist *q2 = tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){2}, mq),
                                           tre_from_host(ctx, 1, 2, (int64_t[]){2, 2}, (const float[]){1.f, 0.f, 0.f, 1.f}));
    assert_false(tre_kl_exists(p, q2));
    assert_null(tre_kl_divergence(ctx, p, q2));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_SHAPE);
    tre_ctx_clear_error(ctx);
    tre_tensor *kl = tre_kl_divergence(ctx, p, q);
    assert_non_null(kl);
    assert_int_equal(kl->ndim, 1);
    assert_int_equal(kl->shape[0], 2);
    const float *k = tt_host(ctx, kl, 2);
    double total = 0;
    for (int b = 0; b < 2; ++b) {
        double e = mvn_kl_exact(3, mp + 3 * b, Lp, mq, Lq + 9 * b);
        TT_NEAR(k[b], e, 1e-5 * (1 + e));
        total += e;
    }
    check_mc(ctx, "MVN KL", p, q, kl);
    /* to_event over the batch sums it; the KL of a distribution with itself is 0 */
    tre_tensor *kle = tre_kl_divergence(ctx, tre_dist_to_event(ctx, p, 1), tre_dist_to_event(ctx, q, 1));
    assert_non_null(kle);
    assert_int_equal(kle->ndim, 0);
    TT_NEAR(tt_at(ctx, kle, 0), total, 1e-5 * (1 + total));
    const float *hs = tt_host(ctx, tre_kl_divergence(ctx, q, q), 3);
    TT_NEAR(hs[0], 0.0, 1e-6);
    TT_NEAR(hs[1], 0.0, 1e-6);
    /* D = 1 is the univariate normal KL; particle-extent loc gives one KL per particle */
    const float m1[2] = {0.2f, -1.f}, s1 = 0.5f, m2 = 1.f, s2 = 2.f;
    tre_tensor *k1 = tre_kl_divergence(
        ctx, tre_multivariate_normal(ctx, tre_from_host(ctx, 2, 1, (int64_t[]){1}, m1), tre_from_host(ctx, 1, 2, (int64_t[]){1, 1}, &s1)),
        tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){1}, &m2), tre_from_host(ctx, 1, 2, (int64_t[]){1, 1}, &s2)));
    assert_non_null(k1);
    assert_int_equal(k1->particles, 2);
    const float *h1 = tt_host(ctx, k1, 4);
    for (int i = 0; i < 2; ++i) {
        double e = log(2.0 / 0.5) + (0.25 + (m1[i] - 1.0) * (m1[i] - 1.0)) / 8.0 - 0.5;
        TT_NEAR(h1[i], e, 1e-6);
    }
    /* dims must match */
    tre_dist *d2 = tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){1}, &m2),
                                           tre_from_host(ctx, 1, 2, (int64_t[]){1, 1}, &s2));
    assert_null(tre_kl_divergence(ctx, p, d2));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_SHAPE);
    tre_ctx_destroy(ctx);
}

/* KL(Normal.to_event(k + 1) || MultivariateNormal.to_event(k)), Pyro's Independent ||
 * MultivariateNormal: the exact MVN KL with p's diagonal scale_tril, through loc and scale
 * that broadcast, particle extents and a further to_event; pairs whose to_event dims do not
 * line up have no closed form here (TraceMeanField_ELBO takes its Monte Carlo term). */
static double diag_mvn_kl_exact(const float *mp, const float *sp, const float *mq, const float *Lq) {
    float Lp[9] = {0};
    for (int i = 0; i < 3; ++i) Lp[i * 4] = sp[i];
    return mvn_kl_exact(3, mp, Lp, mq, Lq);
}

static void test_normal_mvn_kl(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(34);
    const float mp[6] = {0.f, 1.f, -1.f, 0.5f, 0.5f, 0.f}, sp[3] = {0.7f, 1.4f, 0.3f};
    const float mq[3] = {0.3f, 0.f, -0.5f};
    const float Lq[18] = {1.5f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.5f, 0.5f, 2.f,
                          0.9f, 0.f, 0.f, -0.6f, 1.1f, 0.f, 0.1f, 0.3f, 0.7f};
    tre_dist *n = tre_normal(ctx, tre_from_host(ctx, 1, 2, (int64_t[]){2, 3}, mp),
                             tre_from_host(ctx, 1, 1, (int64_t[]){3}, sp));
    tre_dist *p = tre_dist_to_event(ctx, n, 1);
    tre_dist *q = tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){3}, mq),
                                          tre_from_host(ctx, 1, 3, (int64_t[]){2, 3, 3}, Lq));
    assert_true(tre_kl_exists(p, q));
    tre_tensor *kl = tre_kl_divergence(ctx, p, q);
    if (!kl) fail_msg("%s", tre_ctx_error(ctx));
    assert_int_equal(kl->ndim, 1);
    assert_int_equal(kl->shape[0], 2);
    const float *k = tt_host(ctx, kl, 2);
    double total = 0;
    for (int b = 0; b < 2; ++b) {
        double e = diag_mvn_kl_exact(mp + 3 * b, sp, mq, Lq + 9 * b);
        TT_NEAR(k[b], e, 1e-5 * (1 + e));
        total += e;
    }
    check_mc(ctx, "Normal || MVN KL", p, q, kl);
    /* to_event(2) || MVN.to_event(1) sums the batch */
    tre_tensor *kle = tre_kl_divergence(ctx, tre_dist_to_event(ctx, n, 2), tre_dist_to_event(ctx, q, 1));
    if (!kle) fail_msg("%s", tre_ctx_error(ctx));
    assert_int_equal(kle->ndim, 0);
    TT_NEAR(tt_at(ctx, kle, 0), total, 1e-5 * (1 + total));
    /* a scalar scale and a scalar loc broadcast over D; particle-extent loc: one KL per particle */
    const float s1 = 0.6f, m1 = -0.4f, mpp[6] = {0.f, 0.2f, 0.4f, 1.f, -1.f, 2.f};
    const float s3[3] = {s1, s1, s1}, m3[3] = {m1, m1, m1};
    tre_tensor *ks = tre_kl_divergence(
        ctx, tre_dist_to_event(ctx, tre_normal(ctx, tre_from_host(ctx, 2, 1, (int64_t[]){3}, mpp), tre_scalar(ctx, s1)), 1),
        tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){3}, mq), tre_from_host(ctx, 1, 2, (int64_t[]){3, 3}, Lq)));
    if (!ks) fail_msg("%s", tre_ctx_error(ctx));
    assert_int_equal(ks->particles, 2);
    for (int i = 0; i < 2; ++i) {
        double e = diag_mvn_kl_exact(mpp + 3 * i, s3, mq, Lq);
        TT_NEAR(tt_host(ctx, ks, 3)[i], e, 1e-5 * (1 + e));
    }
    tre_tensor *kb = tre_kl_divergence(
        ctx, tre_dist_to_event(ctx, tre_normal(ctx, tre_scalar(ctx, m1), tre_from_host(ctx, 1, 1, (int64_t[]){3}, sp)), 1),
        tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){3}, mq), tre_from_host(ctx, 1, 2, (int64_t[]){3, 3}, Lq + 9)));
    if (!kb) fail_msg("%s", tre_ctx_error(ctx));
    const double eb = diag_mvn_kl_exact(m3, sp, mq, Lq + 9);
    TT_NEAR(tt_at(ctx, kb, 0), eb, 1e-5 * (1 + eb));
    /* to_event dims that do not line up: no closed form (the families alone have one) */
    assert_false(tre_kl_exists(n, q));
    assert_false(tre_kl_exists(tre_dist_to_event(ctx, n, 2), q));
    assert_null(tre_kl_divergence(ctx, n, q));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_SHAPE);
    tre_ctx_clear_error(ctx);
    /* event sizes that differ */
    const float eye2[4] = {1.f, 0.f, 0.f, 1.f};
    tre_dist *q2 = tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){2}, mq),
                                           tre_from_host(ctx, 1, 2, (int64_t[]){2, 2}, eye2));
    assert_null(tre_kl_divergence(ctx, p, q2));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_SHAPE);
    tre_ctx_destroy(ctx);
}

/* In an ELBO: model z ~ MVN(0, I), guide z ~ MVN(q_loc, q_tril). TraceMeanField_ELBO uses the
 * closed-form KL, so elbo = -KL(q || p) for every particle and d loss / d q_loc = q_loc
 * exactly; Trace_ELBO estimates the same by reparameterized draws within 5 standard errors
 * (its pathwise gradient d loss / d q_loc is the mean of the draws z). */
static const float q_loc0[2] = {0.5f, -0.3f}, q_tril0[4] = {1.2f, 0.f, 0.3f, 0.8f};
static const float eye[4] = {1.f, 0.f, 0.f, 1.f}, zero2[2] = {0.f, 0.f};

static tre_tensor *prior_model(tre_ctx *c, const void *a) {
    (void)a;
    return tre_sample(c, "z", tre_multivariate_normal(c, tre_from_host(c, 1, 1, (int64_t[]){2}, zero2),
                                                      tre_from_host(c, 1, 2, (int64_t[]){2, 2}, eye)), NULL);
}
static tre_tensor *mvn_guide(tre_ctx *c, const void *a) {
    (void)a;
    tre_tensor *loc = tre_param(c, "q_loc", tre_from_host(c, 1, 1, (int64_t[]){2}, q_loc0), TRE_C_REAL);
    tre_tensor *L = tre_param(c, "q_tril", tre_from_host(c, 1, 2, (int64_t[]){2, 2}, q_tril0), TRE_C_LOWER_CHOLESKY);
    return tre_sample(c, "z", tre_multivariate_normal(c, loc, L), NULL);
}

static void test_elbo_with_mvn_guide(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(33);
    const double kl = mvn_kl_exact(2, q_loc0, q_tril0, zero2, eye);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, prior_model, mvn_guide, NULL,
                        &(tre_elbo_opts){.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 8, .grad = true}, &r));
    TT_NEAR(r.mean, -kl, 1e-5 * (1 + kl));
    float g[2];
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "q_loc")->grad, g, 2));
    TT_NEAR(g[0], q_loc0[0], 1e-5);
    TT_NEAR(g[1], q_loc0[1], 1e-5);

    const int64_t P = 100000;
    TT_OK(ctx, tre_elbo(ctx, prior_model, mvn_guide, NULL,
                        &(tre_elbo_opts){.kind = TRE_TRACE_ELBO, .num_particles = P, .grad = true}, &r));
    if (!(fabs(r.mean + kl) <= 5 * r.stderr_))
        fail_msg("Trace_ELBO %.6f +- %.6f, -KL %.6f", r.mean, r.stderr_, -kl);
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "q_loc")->grad, g, 2));
    /* sd of z_0 is 1.2, of z_1 sqrt(0.3^2 + 0.8^2) */
    TT_NEAR(g[0], q_loc0[0], 5 * 1.2 / sqrt((double)P));
    TT_NEAR(g[1], q_loc0[1], 5 * sqrt(0.73) / sqrt((double)P));
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_categorical_kl),
        cmocka_unit_test(test_mvn_kl),
        cmocka_unit_test(test_normal_mvn_kl),
        cmocka_unit_test(test_elbo_with_mvn_guide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
