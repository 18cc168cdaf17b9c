/* Draws of Categorical and MultivariateNormal, 10^6 each (fixed seeds): Categorical
 * frequencies by a chi-square test at 1e-3 and each within 5 standard errors, index moments;
 * MultivariateNormal mean vector and covariance L L^T within 5 standard errors per component,
 * KS of each standardized marginal and each whitened component at 1e-3. Also: draws are keyed
 * by their element index (what lets the CUDA backend reproduce them), zero-probability
 * categories never appear, and batch shapes / particle parameters broadcast. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "kernels/math/categorical.h"
#include "kernels/math/mvn.h"
#include "src/dist/dist_impl.h"

#define N 1000000
#define Z 5.0
#define ALPHA 1e-3

static double *to_double(tre_ctx *ctx, const tre_tensor *t) {
    const float *h = tt_host(ctx, t, 0);
    int64_t n = t->particles * t->numel;
    double *d = malloc((size_t)n * sizeof *d);
    for (int64_t i = 0; i < n; ++i) d[i] = h[i];
    return d;
}

static void softmax(int k, const float *l, double *p) {
    double m = -INFINITY, s = 0.0;
    for (int i = 0; i < k; ++i) m = fmax(m, l[i]);
    for (int i = 0; i < k; ++i) s += (p[i] = exp((double)l[i] - m));
    for (int i = 0; i < k; ++i) p[i] /= s;
}

/* counts of draws x[off + j * stride], j < n, over k categories, checked against p */
static void check_categorical(const char *what, const double *x, int64_t n, int64_t off,
                              int64_t stride, int k, const double *p) {
    double *obs = calloc((size_t)k, sizeof *obs), *exp_ = calloc((size_t)k, sizeof *exp_);
    double *v = malloc((size_t)n * sizeof *v);
    for (int64_t j = 0; j < n; ++j) {
        double c = x[off + j * stride];
        if (!(c >= 0 && c < k && floor(c) == c)) fail_msg("%s: draw %g is not a category", what, c);
        obs[(int)c] += 1;
        v[j] = c;
    }
    double m = 0, var = 0, m4 = 0;
    for (int i = 0; i < k; ++i) m += i * p[i];
    for (int i = 0; i < k; ++i) {
        var += (i - m) * (i - m) * p[i];
        m4 += pow(i - m, 4) * p[i];
    }
    /* chi-square over cells with expected count >= 5 (the rest must be empty when p = 0) */
    int cells = 0;
    double *o2 = calloc((size_t)k, sizeof *o2), *e2 = calloc((size_t)k, sizeof *e2);
    for (int i = 0; i < k; ++i) {
        double e = p[i] * (double)n;
        if (p[i] == 0.0 && obs[i] > 0) fail_msg("%s: category %d has probability 0 but was drawn", what, i);
        double se = sqrt(p[i] * (1 - p[i]) / (double)n);
        if (fabs(obs[i] / (double)n - p[i]) > Z * se + 1e-12)
            fail_msg("%s: frequency of %d is %.6f, probability %.6f", what, i, obs[i] / (double)n, p[i]);
        if (e >= 5) {
            o2[cells] = obs[i];
            e2[cells++] = e;
        }
    }
    if (cells >= 2 && tt_chi2_reject(o2, e2, cells, ALPHA)) fail_msg("%s: chi-square rejects", what);
    if (var > 1e-12) tt_check_moments(what, v, n, m, var, m4, Z);
    free(obs);
    free(exp_);
    free(v);
    free(o2);
    free(e2);
}

static void test_categorical_frequencies(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(11);
    /* one row of 5 categories, expanded to a batch of 1000 and drawn for 1000 particles */
    const float l[5] = {-1.0f, 0.2f, 0.9f, 1.1f, 1.6f};
    tre_dist *d = tre_categorical_logits(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){5}, l));
    d = tre_dist_expand(ctx, d, 1, (int64_t[]){1000});
    const uint64_t seed = ctx->seed, stream = ctx->rng_stream;
    tre_tensor *x = tre_dist_sample(ctx, d, 1000);
    assert_non_null(x);
    assert_int_equal(x->particles, 1000);
    assert_int_equal(x->ndim, 1);
    assert_int_equal(x->shape[0], 1000);
    double *h = to_double(ctx, x);
    double p[5];
    softmax(5, l, p);
    check_categorical("Categorical(5)", h, N, 0, 1, 5, p);
    /* draw i is the inverse CDF at Philox uniform i of the op's stream (every draw: the
     * backend's shared-logits path must give exactly the row function's draws) */
    for (int64_t i = 0; i < N; ++i)
        assert_true(h[i] == tre_categorical_sample_row(5, l, tre_philox_uniform(seed, stream, (uint64_t)i)));
    free(h);
    tre_ctx_destroy(ctx);
}

static void test_categorical_batched_and_extremes(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(12);
    /* a batch of 4 rows: K = 4 varied, one with a -inf logit, one at +-50, one uniform */
    const float l[16] = {2.f, 0.f, -1.f, 0.5f,  0.f, -INFINITY, 1.f, -0.5f,
                         50.f, -50.f, -50.f, -50.f,  0.3f, 0.3f, 0.3f, 0.3f};
    tre_dist *d = tre_categorical_logits(ctx, tre_from_host(ctx, 1, 2, (int64_t[]){4, 4}, l));
    tre_tensor *x = tre_dist_sample(ctx, d, N / 4);
    assert_non_null(x);
    double *h = to_double(ctx, x);
    const char *names[4] = {"row 0", "row 1 (-inf logit)", "row 2 (+-50)", "row 3 (uniform)"};
    for (int r = 0; r < 4; ++r) {
        double p[4];
        softmax(4, l + 4 * r, p);
        check_categorical(names[r], h, N / 4, r, 4, 4, p);
    }
    free(h);
    /* particle logits give one row per particle */
    tre_ctx_step_reset(ctx);
    const float lp[6] = {5.f, -5.f, 0.f, -5.f, 5.f, 0.f}; /* particle 0 favours 0, particle 1 favours 1 */
    tre_dist *big = tre_dist_expand(ctx, tre_categorical_logits(ctx, tre_from_host(ctx, 2, 1, (int64_t[]){3}, lp)),
                                    1, (int64_t[]){20000});
    x = tre_dist_sample(ctx, big, 2);
    h = to_double(ctx, x);
    for (int pp = 0; pp < 2; ++pp) {
        double p[3];
        softmax(3, lp + 3 * pp, p);
        check_categorical(pp ? "particle 1" : "particle 0", h, 20000, pp * 20000, 1, 3, p);
    }
    free(h);
    /* K = 1 always draws 0 */
    const float one = 3.f;
    x = tre_dist_sample(ctx, tre_categorical_logits(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){1}, &one)), 1000);
    const float *hx = tt_host(ctx, x, 1);
    for (int i = 0; i < 1000; ++i) assert_true(hx[i] == 0.f);
    tre_ctx_destroy(ctx);
}

static double std_normal_cdf(double x, const double *a) {
    (void)a;
    return 0.5 * erfc(-x / sqrt(2.0));
}

/* Mean, covariance and marginals of n draws x[(off + j * stride) * D + i] against loc, L L^T. */
static void check_mvn(const char *what, const double *x, int64_t n, int64_t off, int64_t stride,
                      int D, const float *loc, const float *L) {
    double S[16] = {0}, mean[4] = {0}, C[16] = {0};
    for (int i = 0; i < D; ++i)
        for (int j = 0; j < D; ++j)
            for (int k = 0; k <= (i < j ? i : j); ++k) S[i * D + j] += (double)L[i * D + k] * L[j * D + k];
    for (int64_t s = 0; s < n; ++s)
        for (int i = 0; i < D; ++i) mean[i] += x[(off + s * stride) * D + i];
    for (int i = 0; i < D; ++i) mean[i] /= (double)n;
    for (int64_t s = 0; s < n; ++s) {
        const double *r = x + (off + s * stride) * D;
        for (int i = 0; i < D; ++i)
            for (int j = 0; j < D; ++j) C[i * D + j] += (r[i] - mean[i]) * (r[j] - mean[j]);
    }
    for (int i = 0; i < D; ++i) {
        double se = sqrt(S[i * D + i] / (double)n);
        if (fabs(mean[i] - loc[i]) > Z * se)
            fail_msg("%s: mean[%d] %.6f vs %.6f (%.1f standard errors)", what, i, mean[i], loc[i],
                     fabs(mean[i] - loc[i]) / se);
        for (int j = 0; j < D; ++j) {
            double c = C[i * D + j] / (double)(n - 1);
            /* Var((x_i - m_i)(x_j - m_j)) = S_ii S_jj + S_ij^2 for a Gaussian */
            double sec = sqrt((S[i * D + i] * S[j * D + j] + S[i * D + j] * S[i * D + j]) / (double)n);
            if (fabs(c - S[i * D + j]) > Z * sec)
                fail_msg("%s: cov[%d][%d] %.6f vs %.6f (%.1f standard errors)", what, i, j, c,
                         S[i * D + j], fabs(c - S[i * D + j]) / sec);
        }
    }
    double *m = malloc((size_t)n * sizeof *m), *w = malloc((size_t)n * D * sizeof *w);
    for (int64_t s = 0; s < n; ++s) { /* whitened: L^-1 (x - loc) */
        const double *r = x + (off + s * stride) * D;
        for (int i = 0; i < D; ++i) {
            double acc = r[i] - loc[i];
            for (int k = 0; k < i; ++k) acc -= L[i * D + k] * w[s * D + k];
            w[s * D + i] = acc / L[i * D + i];
        }
    }
    for (int i = 0; i < D; ++i) {
        for (int64_t s = 0; s < n; ++s) m[s] = (x[(off + s * stride) * D + i] - loc[i]) / sqrt(S[i * D + i]);
        if (tt_ks_reject(m, n, std_normal_cdf, NULL, ALPHA)) fail_msg("%s: KS rejects marginal %d", what, i);
        for (int64_t s = 0; s < n; ++s) m[s] = w[s * D + i];
        if (tt_ks_reject(m, n, std_normal_cdf, NULL, ALPHA)) fail_msg("%s: KS rejects whitened component %d", what, i);
    }
    free(m);
    free(w);
}

static void test_mvn_moments_and_marginals(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(21);
    const float loc[3] = {1.f, -2.f, 0.5f};
    const float L[9] = {1.f, 0.f, 0.f, 0.5f, 2.f, 0.f, -1.f, 0.3f, 0.7f};
    tre_dist *d = tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){3}, loc),
                                          tre_from_host(ctx, 1, 2, (int64_t[]){3, 3}, L));
    const uint64_t seed = ctx->seed, stream = ctx->rng_stream;
    tre_tensor *x = tre_dist_sample(ctx, d, N);
    assert_non_null(x);
    assert_int_equal(x->particles, N);
    assert_int_equal(x->ndim, 1);
    assert_int_equal(x->shape[0], 3);
    double *h = to_double(ctx, x);
    check_mvn("MVN(3)", h, N, 0, 1, 3, loc, L);
    /* draw r is loc + L eps with eps the Philox normals r*D .. r*D+D-1 of the op's stream */
    for (int64_t r = 0; r < N; r += 7919) {
        float row[3];
        tre_mvn_sample_row(3, loc, L, seed, stream, (uint64_t)(r * 3), row);
        for (int i = 0; i < 3; ++i) assert_true(h[r * 3 + i] == row[i]);
    }
    free(h);
    tre_ctx_destroy(ctx);
}

static void test_mvn_batched(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(22);
    /* batch of 2 from scale_tril [2, 2, 2] and a shared loc [2]; D = 1 alongside */
    const float loc[2] = {-0.5f, 3.f};
    const float L[8] = {2.f, 0.f, -1.5f, 0.5f, 0.3f, 0.f, 0.2f, 1.2f};
    tre_dist *d = tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){2}, loc),
                                          tre_from_host(ctx, 1, 3, (int64_t[]){2, 2, 2}, L));
    tre_tensor *x = tre_dist_sample(ctx, d, N / 2);
    assert_non_null(x);
    assert_int_equal(x->ndim, 2);
    double *h = to_double(ctx, x);
    check_mvn("batch 0", h, N / 2, 0, 2, 2, loc, L);
    check_mvn("batch 1", h, N / 2, 1, 2, 2, loc, L + 4);
    free(h);

    tre_ctx_step_reset(ctx);
    const float l1 = 0.7f, s1 = 0.25f;
    d = tre_multivariate_normal(ctx, tre_from_host(ctx, 1, 1, (int64_t[]){1}, &l1),
                                tre_from_host(ctx, 1, 2, (int64_t[]){1, 1}, &s1));
    x = tre_dist_sample(ctx, tre_dist_to_event(ctx, tre_dist_expand(ctx, d, 1, (int64_t[]){10}), 1), N / 10);
    assert_non_null(x);
    assert_int_equal(x->ndim, 2);
    h = to_double(ctx, x);
    check_mvn("D = 1", h, N, 0, 1, 1, &l1, &s1);
    free(h);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_categorical_frequencies),
        cmocka_unit_test(test_categorical_batched_and_extremes),
        cmocka_unit_test(test_mvn_moments_and_marginals),
        cmocka_unit_test(test_mvn_batched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
