/* Samplers of the gamma group through the library (tre_dist_sample, CPU backend): for each of
 * Gamma, Beta, StudentT and Dirichlet, 10^6 draws at small (0.1), moderate and large
 * concentrations; the sample mean and variance within 5 standard errors of the analytic
 * moments (tt_check_moments, with the analytic fourth central moment), and a Kolmogorov-Smirnov
 * test against the exact CDF that must not reject at 1e-3 (for Dirichlet: each component against
 * its Beta(a_k, A - a_k) marginal, and the components' moments). Fixed seeds.
 *
 * The draws are float32. Where a CDF is steep on the float grid (Beta(0.1, 0.1) has 10% of its
 * mass within 6e-8 of 1, where floats are 6e-8 apart) the rounded draws have atoms, and a KS test
 * against the continuous CDF would reject a perfect sampler. So the test compares with the CDF
 * of the rounded variable: a float v collects the mass between the midpoints to its float
 * neighbours (and everything beyond a clamp bound: PyTorch's [FLT_MIN, 1 - 2^-24] for Beta,
 * FLT_MIN for Gamma), and the KS distance is taken on both sides of each atom. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "kernels/math/gamma.h"
#include "kernels/math/special.h"

#define N 1000000
#define KS_ALPHA 1e-3
#define Z 5.0

/* ---- reference CDFs ------------------------------------------------------------------------ */

/* Regularized incomplete beta I_x(a, b) by its continued fraction (modified Lentz), on the side
 * of the mean where it converges fast; the prefactor x^a (1-x)^b / (a B(a, b)) in log space. */
static double beta_cf(double a, double b, double x) {
    const double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m < 100000; ++m) {
        const double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        for (int pass = 0; pass < 2; ++pass) {
            d = 1.0 + num * d;
            if (fabs(d) < tiny) d = tiny;
            c = 1.0 + num / c;
            if (fabs(c) < tiny) c = tiny;
            d = 1.0 / d;
            const double delta = c * d;
            h *= delta;
            if (pass == 1 && fabs(delta - 1.0) < 1e-15) return h;
            num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        }
    }
    return h;
}
static double beta_inc(double a, double b, double x) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    const double lpre = a * log(x) + b * log1p(-x) - tre_lbeta(a, b);
    if (x < (a + 1.0) / (a + b + 2.0)) return exp(lpre) * beta_cf(a, b, x) / a;
    return 1.0 - exp(lpre) * beta_cf(b, a, 1.0 - x) / b;
}

/* args: concentration, rate */
static double gamma_cdf(double x, const double *p) { return tre_gamma_p(p[0], x * p[1]); }
/* args: concentration1, concentration0 */
static double beta_cdf(double x, const double *p) { return beta_inc(p[0], p[1], x); }
/* args: df, loc, scale */
static double student_t_cdf(double x, const double *p) {
    const double t = (x - p[1]) / p[2], df = p[0];
    if (isinf(t)) return t > 0 ? 1.0 : 0.0;
    const double tail = 0.5 * beta_inc(0.5 * df, 0.5, df / (df + t * t));
    return t > 0 ? 1.0 - tail : tail;
}

/* ---- KS over float32 draws ----------------------------------------------------------------- */

/* Ascending sort of floats by an LSD radix sort of their bits (sign-flipped so unsigned order is
 * numeric order): 1e6 draws sort in a few milliseconds, qsort takes 0.13 s per KS test. */
static uint32_t float_key(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
static void sort_floats(float *x, int64_t n) {
    float *tmp = malloc((size_t)n * sizeof *tmp);
    float *src = x, *dst = tmp;
    for (int shift = 0; shift < 32; shift += 8) {
        int64_t count[257] = {0};
        for (int64_t i = 0; i < n; ++i) ++count[((float_key(src[i]) >> shift) & 0xffu) + 1];
        for (int b = 0; b < 256; ++b) count[b + 1] += count[b];
        for (int64_t i = 0; i < n; ++i) dst[count[(float_key(src[i]) >> shift) & 0xffu]++] = src[i];
        float *t = src;
        src = dst;
        dst = t;
    }
    free(tmp); /* four passes: the sorted data is back in x */
}

/* P(K > t) of the Kolmogorov distribution */
static double kolmogorov_tail(double t) {
    if (t < 0.2) return 1.0;
    double s = 0.0;
    for (int k = 1; k < 100; ++k) s += 2.0 * ((k & 1) ? 1.0 : -1.0) * exp(-2.0 * k * k * t * t);
    return s < 0 ? 0 : (s > 1 ? 1 : s);
}

/* True when KS rejects at KS_ALPHA. The draws are floats: G(v) = F(midpoint to the next float),
 * G(v-) = F(midpoint to the previous float), with everything below lo / above hi (the clamp
 * bounds) collected at the bound. A lone draw whose neighbouring floats hold no draws is in a
 * cell of negligible mass (a cell of mass 1e-4 would hold 100 draws), so there, as in the usual
 * KS test, F(v) serves for both sides: one CDF evaluation instead of two, the CDF being the cost
 * (also why the evaluations run in parallel). */
static bool ks_reject_f32(const char *what, float *x, int64_t n, double (*cdf)(double, const double *),
                          const double *args, float lo, float hi) {
    sort_floats(x, n);
    int64_t *start = malloc((size_t)(n + 1) * sizeof *start), runs = 0;
    for (int64_t i = 0; i < n; ++i)
        if (i == 0 || x[i] != x[i - 1]) start[runs++] = i;
    start[runs] = n;
    double dmax = 0.0;
#pragma omp parallel for schedule(dynamic, 4096) reduction(max : dmax)
    for (int64_t r = 0; r < runs; ++r) {
        const float v = x[start[r]], vdown = nextafterf(v, -INFINITY), vup = nextafterf(v, INFINITY);
        const bool lone = start[r + 1] - start[r] == 1 && (r == 0 || x[start[r - 1]] != vdown) &&
                          (r + 1 == runs || x[start[r + 1]] != vup);
        double below, upto;
        if (lone && v > lo && v < hi) {
            below = upto = cdf(v, args);
        } else {
            below = v <= lo ? 0.0 : cdf(0.5 * ((double)v + vdown), args);
            upto = v >= hi ? 1.0 : cdf(0.5 * ((double)v + vup), args);
        }
        const double d1 = fabs((double)start[r] / (double)n - below);
        const double d2 = fabs((double)start[r + 1] / (double)n - upto);
        dmax = fmax(dmax, fmax(d1, d2));
    }
    free(start);
    const double sn = sqrt((double)n), p = kolmogorov_tail((sn + 0.12 + 0.11 / sn) * dmax);
    if (p < KS_ALPHA) print_message("%s: KS D = %.5f, p = %.3g < %.3g\n", what, dmax, p, KS_ALPHA);
    return p < KS_ALPHA;
}

/* ---- drawing through the library ----------------------------------------------------------- */

/* n draws of d (n particles) copied to the host as floats; rows of `width` per draw. */
static float *draw(tre_ctx *ctx, const tre_dist *d, int64_t n, int64_t width) {
    tre_tensor *x = tre_dist_sample(ctx, d, n);
    if (!x) fail_msg("sample: %s", tre_ctx_error(ctx));
    assert_int_equal(x->particles, n);
    assert_int_equal(x->numel, width);
    float *h = malloc((size_t)(n * width) * sizeof *h);
    assert_non_null(h);
    TT_OK(ctx, tre_tensor_to_host(ctx, x, h, n * width));
    return h;
}

static double *column(const float *x, int64_t n, int64_t width, int64_t k) {
    double *c = malloc((size_t)n * sizeof *c);
    for (int64_t i = 0; i < n; ++i) c[i] = x[i * width + k];
    return c;
}

static void check_all_finite(const char *what, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!isfinite(x[i])) fail_msg("%s: draw %lld is %g", what, (long long)i, x[i]);
}

/* ---- the families -------------------------------------------------------------------------- */

static void gamma_case(uint64_t seed, double a, double b, bool moments) {
    char what[96];
    snprintf(what, sizeof what, "Gamma(%g, %g)", a, b);
    tre_ctx *ctx = tt_ctx(seed);
    float *x = draw(ctx, tre_gamma(ctx, tre_scalar(ctx, (float)a), tre_scalar(ctx, (float)b)), N, 1);
    check_all_finite(what, x, N);
    for (int64_t i = 0; i < N; ++i)
        if (!(x[i] >= FLT_MIN)) fail_msg("%s: draw %g below the clamp", what, x[i]);
    if (moments) {
        double *c = column(x, N, 1, 0);
        const double v = a / (b * b), m4 = 3.0 * a * (a + 2.0) / (b * b * b * b);
        tt_check_moments(what, c, N, a / b, v, m4, Z);
        free(c);
    }
    const double args[2] = {a, b};
    if (ks_reject_f32(what, x, N, gamma_cdf, args, FLT_MIN, INFINITY)) fail_msg("%s: KS rejects", what);
    free(x);
    tre_ctx_destroy(ctx);
}

static void test_gamma_sampling(void **state) {
    (void)state;
    gamma_case(11, 0.1, 1.0, true);
    gamma_case(12, 1.0, 2.0, true);
    gamma_case(13, 2.5, 0.5, true);
    gamma_case(14, 1e3, 10.0, true);
    gamma_case(15, 1e-3, 1.0, false); /* 92% of draws clamp at FLT_MIN: the CDF still holds */
}

static double beta_m4(double a, double b) {
    const double s = a + b, v = a * b / (s * s * (s + 1.0));
    const double exkurt = 6.0 * ((a - b) * (a - b) * (s + 1.0) - a * b * (s + 2.0)) / (a * b * (s + 2.0) * (s + 3.0));
    return (3.0 + exkurt) * v * v;
}

static void beta_case(uint64_t seed, double a, double b) {
    char what[96];
    snprintf(what, sizeof what, "Beta(%g, %g)", a, b);
    tre_ctx *ctx = tt_ctx(seed);
    float *x = draw(ctx, tre_beta(ctx, tre_scalar(ctx, (float)a), tre_scalar(ctx, (float)b)), N, 1);
    const float hi = 1.0f - 0x1p-24f;
    for (int64_t i = 0; i < N; ++i)
        if (!(x[i] >= FLT_MIN && x[i] <= hi)) fail_msg("%s: draw %.9g outside [FLT_MIN, 1 - 2^-24]", what, x[i]);
    double *c = column(x, N, 1, 0);
    const double s = a + b;
    tt_check_moments(what, c, N, a / s, a * b / (s * s * (s + 1.0)), beta_m4(a, b), Z);
    free(c);
    const double args[2] = {a, b};
    if (ks_reject_f32(what, x, N, beta_cdf, args, FLT_MIN, hi)) fail_msg("%s: KS rejects", what);
    free(x);
    tre_ctx_destroy(ctx);
}

static void test_beta_sampling(void **state) {
    (void)state;
    beta_case(21, 0.1, 0.1);
    beta_case(22, 0.5, 2.0);
    beta_case(23, 2.0, 5.0);
    beta_case(24, 1e3, 500.0);
}

static void student_t_case(uint64_t seed, double df, double loc, double scale, bool moments) {
    char what[96];
    snprintf(what, sizeof what, "StudentT(%g, %g, %g)", df, loc, scale);
    tre_ctx *ctx = tt_ctx(seed);
    float *x = draw(ctx, tre_student_t(ctx, tre_scalar(ctx, (float)df), tre_scalar(ctx, (float)loc),
                                       tre_scalar(ctx, (float)scale)), N, 1);
    for (int64_t i = 0; i < N; ++i)
        if (isnan(x[i])) fail_msg("%s: draw %lld is NaN", what, (long long)i);
    if (moments) {
        double *c = column(x, N, 1, 0);
        const double v = scale * scale * df / (df - 2.0);
        const double m4 = 3.0 * df * df / ((df - 2.0) * (df - 4.0)) * scale * scale * scale * scale;
        tt_check_moments(what, c, N, loc, v, m4, Z);
        free(c);
    }
    const double args[3] = {df, loc, scale};
    if (ks_reject_f32(what, x, N, student_t_cdf, args, -INFINITY, INFINITY)) fail_msg("%s: KS rejects", what);
    free(x);
    tre_ctx_destroy(ctx);
}

static void test_student_t_sampling(void **state) {
    (void)state;
    student_t_case(31, 0.1, 0.0, 1.0, false); /* no moments below df = 1 (mean), 4 (variance's SE) */
    student_t_case(32, 2.5, -1.0, 3.0, false);
    student_t_case(33, 30.0, 1.0, 2.0, true);
    student_t_case(34, 1e4, -3.0, 0.5, true);
}

static void dirichlet_case(uint64_t seed, int64_t k, const float *alpha) {
    tre_ctx *ctx = tt_ctx(seed);
    float *x = draw(ctx, tre_dirichlet(ctx, tre_from_host(ctx, 1, 1, &k, alpha)), N, k);
    double A = 0.0;
    for (int64_t j = 0; j < k; ++j) A += alpha[j];
    /* every draw on the simplex (within float32 rounding of the row sum) */
    for (int64_t i = 0; i < N; ++i) {
        double s = 0.0;
        for (int64_t j = 0; j < k; ++j) {
            if (!(x[i * k + j] >= 0.f)) fail_msg("Dirichlet: component %g", x[i * k + j]);
            s += x[i * k + j];
        }
        if (!(fabs(s - 1.0) <= 1e-6)) fail_msg("Dirichlet: row %lld sums to %.9g", (long long)i, s);
    }
    for (int64_t j = 0; j < k; ++j) {
        const double a = alpha[j], b = A - a;
        char what[128];
        snprintf(what, sizeof what, "Dirichlet component %lld ~ Beta(%g, %g)", (long long)j, a, b);
        double *c = column(x, N, k, j);
        const double s = a + b;
        tt_check_moments(what, c, N, a / s, a * b / (s * s * (s + 1.0)), beta_m4(a, b), Z);
        float *cf = malloc((size_t)N * sizeof *cf);
        for (int64_t i = 0; i < N; ++i) cf[i] = (float)c[i];
        const double args[2] = {a, b};
        /* draws are clamped below at FLT_MIN, which thus holds the mass below it */
        if (ks_reject_f32(what, cf, N, beta_cdf, args, FLT_MIN, 1.f)) fail_msg("%s: KS rejects", what);
        free(cf);
        free(c);
    }
    free(x);
    tre_ctx_destroy(ctx);
}

static void test_dirichlet_sampling(void **state) {
    (void)state;
    const float small[3] = {0.1f, 0.5f, 2.0f}, large[4] = {50.f, 200.f, 1e3f, 5.f};
    dirichlet_case(41, 3, small);
    dirichlet_case(42, 4, large);
    /* every Gamma draw of most rows underflows float here: the normalization must be in log
     * space, else such rows come out uniform (7.5% of them) and the marginals are wrong */
    const float tiny[3] = {0.01f, 0.01f, 0.01f};
    dirichlet_case(43, 3, tiny);
}

/* The KS check is not blind: Gamma(1, 2) draws against the Gamma(1.05, 2) CDF, and
 * Beta(0.5, 0.5) draws against Beta(0.5, 0.55), are rejected. */
static void test_ks_detects_wrong_distribution(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(51);
    float *x = draw(ctx, tre_gamma(ctx, tre_scalar(ctx, 1.f), tre_scalar(ctx, 2.f)), N, 1);
    const double wrong[2] = {1.05, 2.0};
    assert_true(ks_reject_f32("Gamma(1, 2) vs Gamma(1.05, 2)", x, N, gamma_cdf, wrong, FLT_MIN, INFINITY));
    free(x);
    x = draw(ctx, tre_beta(ctx, tre_scalar(ctx, 0.5f), tre_scalar(ctx, 0.5f)), N, 1);
    const double wrong_b[2] = {0.5, 0.55};
    assert_true(ks_reject_f32("Beta(0.5, 0.5) vs Beta(0.5, 0.55)", x, N, beta_cdf, wrong_b, FLT_MIN, 1.f));
    free(x);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gamma_sampling),
        cmocka_unit_test(test_beta_sampling),
        cmocka_unit_test(test_student_t_sampling),
        cmocka_unit_test(test_dirichlet_sampling),
        cmocka_unit_test(test_ks_detects_wrong_distribution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
