/* Every derivative in the gamma group's math headers (kernels/math/gamma.h, beta.h,
 * student_t.h; digamma of special.h) against central finite differences in double, including
 * the implicit derivatives of Gamma, Beta and StudentT draws, checked against finite
 * differences of the inverse CDF at a fixed quantile; the samplers' determinism and noise
 * layout; and the CPU kernels' per-block memo of lgamma and digamma. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include "test_support.h"
#include "kernels/math/beta.h"
#include "kernels/math/gamma.h"
#include "kernels/math/special.h"
#include "kernels/math/student_t.h"
#include "src/dist/dist_impl.h" /* tre_dist_log_prob_sum */
#include "src/tensor/autograd.h" /* tre_grad_begin, tre_grad_backward */

/* Central difference of f along argument i of args (step relative to the argument). The
 * truncation error is O(h^2 f''') and the rounding error O(eps f / h): with h = 1e-5 |v| both
 * stay near 1e-10 relative, far inside the 1e-6 tolerance below. */
typedef double (*fn4)(const double *v);
static double central(fn4 f, const double *args, int n, int i) {
    double v[4], h = 1e-5 * fmax(fabs(args[i]), 1e-3);
    for (int k = 0; k < n; ++k) v[k] = args[k];
    v[i] = args[i] + h;
    const double up = f(v);
    v[i] = args[i] - h;
    const double down = f(v);
    return (up - down) / (2.0 * h);
}

/* floor: where the log-density's terms (~a log x, lgamma(a)) are large, the difference
 * quotient carries their rounding, eps * terms / h = 1e-11 * terms, as an absolute error */
static void expect_deriv_floor(const char *what, double analytic, double fd, double floor) {
    if (!(fabs(analytic - fd) <= 1e-6 * fabs(fd) + floor))
        fail_msg("%s: analytic %.12g vs finite difference %.12g", what, analytic, fd);
}
static void expect_deriv(const char *what, double analytic, double fd) {
    if (!(fabs(analytic - fd) <= 1e-6 * fabs(fd) + 1e-8))
        fail_msg("%s: analytic %.12g vs finite difference %.12g", what, analytic, fd);
}

/* ---- Gamma ---------------------------------------------------------------------------------- */

static double gamma_lp_v(const double *v) { return tre_gamma_log_prob(v[0], v[1], v[2]); }

static void test_gamma_log_prob_derivatives(void **state) {
    (void)state;
    const double pts[][3] = {{0.7, 0.3, 2.0}, {2.5, 1.0, 0.5}, {0.01, 4.0, 3.0}, {40.0, 50.0, 1.2},
                             {1e3, 1e3, 1.0}, {3e-4, 0.05, 7.0}};
    for (size_t k = 0; k < sizeof pts / sizeof *pts; ++k) {
        const double *p = pts[k], x = p[0], a = p[1], b = p[2];
        char what[96];
        snprintf(what, sizeof what, "Gamma(%g, %g) at %g: d/dx", a, b, x);
        const double floor = 1e-8 * fmax(1.0, a);
        expect_deriv_floor(what, tre_gamma_dlp_dx(x, a, b), central(gamma_lp_v, p, 3, 0), floor);
        snprintf(what, sizeof what, "Gamma(%g, %g) at %g: d/dconcentration", a, b, x);
        expect_deriv_floor(what, tre_gamma_dlp_da(x, a, b), central(gamma_lp_v, p, 3, 1), floor);
        snprintf(what, sizeof what, "Gamma(%g, %g) at %g: d/drate", a, b, x);
        expect_deriv_floor(what, tre_gamma_dlp_db(x, a, b), central(gamma_lp_v, p, 3, 2), floor);
    }
    /* xlogy at the edge: concentration 1 has no x term, so d/dx = -rate even at 0 */
    TT_NEAR(tre_gamma_dlp_dx(0.0, 1.0, 2.5), -2.5, 0.0);
    TT_NEAR(tre_gamma_log_prob(0.0, 1.0, 2.5), log(2.5), 1e-15);
    assert_true(tre_gamma_log_prob(-1.0, 2.0, 1.0) == -INFINITY);
    assert_true(tre_gamma_dlp_da(-1.0, 2.0, 1.0) == 0.0);
}

static double digamma_fd_lgamma(const double *v) { return tre_lgamma(v[0]); }

static void test_digamma_is_lgamma_derivative(void **state) {
    (void)state;
    const double xs[] = {1e-2, 0.3, 0.999, 1.0, 1.5, 2.0, 2.7, 9.99, 10.01, 123.4, 5e4};
    for (size_t k = 0; k < sizeof xs / sizeof *xs; ++k) {
        char what[64];
        snprintf(what, sizeof what, "digamma(%g)", xs[k]);
        expect_deriv(what, tre_digamma(xs[k]), central(digamma_fd_lgamma, &xs[k], 1, 0));
    }
}

/* s = P^-1(a, u) by bisection on log s (P is increasing), to full double precision. */
static double gamma_quantile(double a, double u) {
    double lo = -745.0, hi = log(a) + 10.0 * sqrt(a) + 50.0;
    for (int it = 0; it < 300; ++it) {
        const double m = 0.5 * (lo + hi);
        if (tre_gamma_p(a, exp(m)) < u) lo = m;
        else hi = m;
    }
    return exp(0.5 * (lo + hi));
}

static double quantile_u;
static double quantile_v(const double *v) { return gamma_quantile(v[0], quantile_u); }

/* d s / d a at fixed u against (s(a + h) - s(a - h)) / 2h, s = P^-1(., u): over the series
 * (s < a + 1) and continued fraction (s >= a + 1) branches and the Wilson-Hilferty one (a >= 1e4,
 * accurate to its documented 4e-7 there). */
static void test_std_gamma_implicit_grad(void **state) {
    (void)state;
    const double as[] = {1e-2, 0.1, 0.5, 1.0, 3.0, 12.0, 80.0, 900.0, 2e4};
    const double us[] = {1e-3, 0.2, 0.5, 0.8, 0.999};
    for (size_t i = 0; i < sizeof as / sizeof *as; ++i)
        for (size_t j = 0; j < sizeof us / sizeof *us; ++j) {
            const double a = as[i];
            quantile_u = us[j];
            const double s = gamma_quantile(a, quantile_u);
            if (!(s > 1e-250)) continue; /* underflowed quantile of a tiny concentration */
            const double fd = central(quantile_v, &a, 1, 0), g = tre_std_gamma_grad(a, s);
            const double rtol = a >= TRE_GAMMA_GRAD_WH_MIN ? 2e-6 : 1e-6;
            if (!(fabs(g - fd) <= rtol * fabs(fd) + 1e-300))
                fail_msg("ds/da at a = %g, u = %g (s = %g): %.12g vs finite difference %.12g", a,
                         quantile_u, s, g, fd);
            /* the Gamma(a, b) draw s / b: its rate derivative is exact */
            const double b = 2.5, x = s / b;
            TT_NEAR(tre_gamma_rsample_da(x, a, b), g / b, 1e-12 * fabs(g / b));
            TT_NEAR(tre_gamma_rsample_db(x, a, b), -s / (b * b), 1e-15 * s);
        }
    /* the two exact branches meet at s = a + 1 without a jump */
    const double a = 7.5, lo = tre_std_gamma_grad(a, nextafter(a + 1.0, 0.0)), hi = tre_std_gamma_grad(a, a + 1.0);
    TT_NEAR(lo, hi, 1e-12 * fabs(hi));
    /* and the Wilson-Hilferty branch meets the series at a = 1e4 */
    const double wl = tre_std_gamma_grad(nextafter(1e4, 0.0), 1e4), wh = tre_std_gamma_grad(1e4, 1e4);
    TT_NEAR(wl, wh, 1e-6);
}

/* ---- Beta ----------------------------------------------------------------------------------- */

static double beta_lp_v(const double *v) { return tre_beta_log_prob(v[0], v[1], v[2]); }

/* log P(a, e^l), the log of the Gamma(a, 1) CDF, for draws far below the mode (e^l < a + 1):
 * its series written out in log space, so it holds where e^l underflows double. It uses libm's
 * lgamma, not the library's, so the check below shares nothing with the code it checks. */
static double log_gamma_cdf_low(double a, double l) {
    const double s = exp(l);
    double term = 1.0, sum = 1.0;
    for (int n = 1; n < 1000 && term > 1e-18 * sum; ++n) {
        term *= s / (a + n);
        sum += term;
    }
    return a * l - s - lgamma(a + 1.0) + log(sum);
}

/* l = log P^-1(a, exp(log_u)) by bisection on l (log P is increasing in l), to full double
 * precision: the first term of the series, l = (log_u + lgamma(a + 1)) / a, brackets it. */
static double log_gamma_quantile_low(double a, double log_u) {
    const double guess = (log_u + lgamma(a + 1.0)) / a;
    double lo = guess - 1.0 - 0.01 * fabs(guess), hi = guess + 1.0 + 0.01 * fabs(guess);
    for (int it = 0; it < 300; ++it) {
        const double m = 0.5 * (lo + hi);
        if (log_gamma_cdf_low(a, m) < log_u) lo = m;
        else hi = m;
    }
    return 0.5 * (lo + hi);
}

static double quantile_log_u;
static double log_quantile_v(const double *v) { return log_gamma_quantile_low(v[0], quantile_log_u); }

/* d log s / d a from log s (the Dirichlet draw's derivative): where s is a double, it is the
 * implicit gradient over s (itself checked against finite differences above); where s
 * underflows double (log s from -30 down to -1e5), it is checked against the finite difference, in a at
 * a fixed CDF value, of the log-space quantile above. */
static void test_std_gamma_dlog_da(void **state) {
    (void)state;
    const double as[5] = {0.01, 0.3, 2.5, 40.0, 2e4};
    for (int i = 0; i < 5; ++i) {
        const double a = as[i];
        for (double s = a < 1e4 ? 1e-200 : 0.5 * a; s < 10.0 * a + 50.0; s *= a < 1e4 ? 7.3 : 1.01) {
            const double want = tre_std_gamma_grad(a, s) / s, got = tre_std_gamma_dlog_da(a, log(s));
            TT_NEAR(got, want, 1e-12 * (1.0 + fabs(want)));
        }
        for (double l = -30.0; l > -1e5; l *= 3.0) { /* from e^-30 down to s = 0 in double */
            quantile_log_u = log_gamma_cdf_low(a, l);
            const double fd = central(log_quantile_v, &a, 1, 0), got = tre_std_gamma_dlog_da(a, l);
            if (!(fabs(got - fd) <= 1e-9 * fabs(fd))) /* it agrees to ~1e-10 */
                fail_msg("d log s/da at a = %g, log s = %g: %.12g vs finite difference %.12g", a, l,
                         got, fd);
        }
    }
}

static void test_beta_log_prob_derivatives(void **state) {
    (void)state;
    const double pts[][3] = {{0.3, 0.5, 0.5}, {0.5, 2.0, 3.0}, {0.01, 0.2, 7.0}, {0.97, 30.0, 1.5},
                             {0.5, 1e3, 1e3}, {0.8, 1.0, 1.0}};
    for (size_t k = 0; k < sizeof pts / sizeof *pts; ++k) {
        const double *p = pts[k], x = p[0], a = p[1], b = p[2];
        char what[96];
        snprintf(what, sizeof what, "Beta(%g, %g) at %g: d/dx", a, b, x);
        expect_deriv(what, tre_beta_dlp_dx(x, a, b), central(beta_lp_v, p, 3, 0));
        snprintf(what, sizeof what, "Beta(%g, %g) at %g: d/dconcentration1", a, b, x);
        expect_deriv(what, tre_beta_dlp_da(x, a, b), central(beta_lp_v, p, 3, 1));
        snprintf(what, sizeof what, "Beta(%g, %g) at %g: d/dconcentration0", a, b, x);
        expect_deriv(what, tre_beta_dlp_db(x, a, b), central(beta_lp_v, p, 3, 2));
    }
    TT_NEAR(tre_beta_log_prob(0.0, 1.0, 3.0), log(3.0), 1e-15);
    TT_NEAR(tre_beta_log_prob(1.0, 2.0, 1.0), log(2.0), 1e-15);
    assert_true(tre_beta_log_prob(1.5, 2.0, 2.0) == -INFINITY);
}

/* x = I^-1(a, b, u) by bisection on logit(x), to full double precision */
static double beta_quantile(double a, double b, double u) {
    double lo = -700.0, hi = 700.0;
    for (int it = 0; it < 300; ++it) {
        const double m = 0.5 * (lo + hi);
        if (tre_beta_inc(a, b, 1.0 / (1.0 + exp(-m))) < u) lo = m;
        else hi = m;
    }
    return 1.0 / (1.0 + exp(-0.5 * (lo + hi)));
}
static double beta_q_v(const double *v) { return beta_quantile(v[0], v[1], quantile_u); }

/* d x / d a and d x / d b of a Beta draw at fixed u against finite differences of the quantile,
 * on both sides of the continued fraction's switch point (a+1)/(a+b+2) */
static void test_beta_implicit_grad(void **state) {
    (void)state;
    const double ab[][2] = {{0.3, 0.3}, {0.5, 2.0}, {2.0, 5.0}, {1.0, 1.0}, {30.0, 0.7}, {200.0, 90.0}};
    /* (not further into the upper tail: there 1 - x, formed in the quantile, limits the
     * finite differences, not the derivative, which the fixture test checks against mpmath) */
    const double us[] = {0.01, 0.3, 0.5, 0.7, 0.95};
    for (size_t i = 0; i < sizeof ab / sizeof *ab; ++i)
        for (size_t j = 0; j < sizeof us / sizeof *us; ++j) {
            quantile_u = us[j];
            const double a = ab[i][0], b = ab[i][1], x = beta_quantile(a, b, quantile_u);
            double da, db;
            tre_beta_rsample_grad(x, a, b, &da, &db);
            char what[96];
            snprintf(what, sizeof what, "Beta(%g, %g) draw at u = %g: dx/da", a, b, quantile_u);
            expect_deriv_floor(what, da, central(beta_q_v, ab[i], 2, 0), 1e-12);
            snprintf(what, sizeof what, "Beta(%g, %g) draw at u = %g: dx/db", a, b, quantile_u);
            expect_deriv_floor(what, db, central(beta_q_v, ab[i], 2, 1), 1e-12);
        }
}

/* ---- StudentT ------------------------------------------------------------------------------- */

/* The standard StudentT CDF through the incomplete beta, with whichever of t^2 / (df + t^2) and
 * df / (df + t^2) is small as the argument: 1 - (the other) would lose the digits that the finite
 * differences below need. */
static double t_cdf(double t, double df) {
    const double s = df + t * t;
    if (t * t < df) return 0.5 + (t > 0 ? 0.5 : -0.5) * tre_beta_inc(0.5, 0.5 * df, t * t / s);
    const double tail = 0.5 * tre_beta_inc(0.5 * df, 0.5, df / s);
    return t > 0 ? 1.0 - tail : tail;
}
static double t_quantile(double df, double u) {
    double lo = -1e12, hi = 1e12;
    for (int it = 0; it < 400; ++it) {
        const double m = 0.5 * (lo + hi);
        if (t_cdf(m, df) < u) lo = m;
        else hi = m;
    }
    return 0.5 * (lo + hi);
}
static double t_q_v(const double *v) { return t_quantile(v[0], quantile_u); }

/* d x / d df of a StudentT draw at fixed u (loc -1, scale 2.5: x = loc + scale t) */
static void test_student_t_implicit_grad(void **state) {
    (void)state;
    const double dfs[] = {0.4, 1.0, 3.0, 25.0, 300.0};
    const double us[] = {0.02, 0.2, 0.45, 0.6, 0.98};
    for (size_t i = 0; i < sizeof dfs / sizeof *dfs; ++i)
        for (size_t j = 0; j < sizeof us / sizeof *us; ++j) {
            quantile_u = us[j];
            const double df = dfs[i], t = t_quantile(df, quantile_u);
            char what[96];
            snprintf(what, sizeof what, "StudentT(%g) draw at u = %g: dx/ddf", df, quantile_u);
            expect_deriv_floor(what, tre_student_t_rsample_ddf(-1.0 + 2.5 * t, df, -1.0, 2.5),
                               2.5 * central(t_q_v, &dfs[i], 1, 0), 1e-12);
        }
    assert_true(tre_student_t_rsample_ddf(3.0, 5.0, 3.0, 2.0) == 0.0); /* the median stays */
}

static double t_lp_v(const double *v) { return tre_student_t_log_prob(v[0], v[1], v[2], v[3]); }

static void test_student_t_log_prob_derivatives(void **state) {
    (void)state;
    const double pts[][4] = {{0.3, 0.5, 0.0, 1.0}, {-4.0, 3.0, 1.0, 2.0}, {12.0, 1.0, -1.0, 0.1},
                             {0.02, 30.0, 0.0, 1e-2}, {2.0, 1e3, 0.5, 1.5}, {1.0, 1e6, 0.0, 1.0}};
    const char *names[4] = {"x", "df", "loc", "scale"};
    for (size_t k = 0; k < sizeof pts / sizeof *pts; ++k) {
        const double *p = pts[k], x = p[0], df = p[1], loc = p[2], sc = p[3];
        const double an[4] = {tre_student_t_dlp_dx(x, df, loc, sc), tre_student_t_dlp_ddf(x, df, loc, sc),
                              tre_student_t_dlp_dloc(x, df, loc, sc), tre_student_t_dlp_dscale(x, df, loc, sc)};
        for (int i = 0; i < 4; ++i) {
            char what[96];
            snprintf(what, sizeof what, "StudentT(%g, %g, %g) at %g: d/d%s", df, loc, sc, x, names[i]);
            expect_deriv(what, an[i], central(t_lp_v, p, 4, i));
        }
        /* the draw loc + scale t: d/dscale = t */
        TT_NEAR(tre_student_t_rsample_dscale(loc + sc * 0.7, loc, sc), 0.7, 1e-12);
    }
}

/* ---- samplers ------------------------------------------------------------------------------- */

/* The same (seed, stream, element) gives the same draw; elements, streams and the two gamma
 * draws of a Beta are independent sequences. */
static void test_samplers_deterministic(void **state) {
    (void)state;
    for (uint64_t e = 0; e < 64; ++e) {
        const float g1 = tre_gamma_sample(7, 3, e, 0.4f, 2.0f), g2 = tre_gamma_sample(7, 3, e, 0.4f, 2.0f);
        assert_true(g1 == g2 && g1 >= FLT_MIN);
        assert_true(g1 != tre_gamma_sample(7, 3, e + 1, 0.4f, 2.0f));
        assert_true(g1 != tre_gamma_sample(7, 4, e, 0.4f, 2.0f));
        /* rate scales the same draw */
        TT_NEAR(tre_gamma_sample(7, 3, e, 3.0f, 1.0f), 4.0f * tre_gamma_sample(7, 3, e, 3.0f, 4.0f), 1e-5);
        const float bx = tre_beta_sample(7, 3, e, 2.0f, 2.0f);
        assert_true(bx > 0.f && bx < 1.f);
        /* Beta(a, a) uses different noise for X and Y: not always 1/2 */
        assert_true(bx != 0.5f);
        const float t1 = tre_student_t_sample(7, 3, e, 4.0f, 1.0f, 2.0f);
        TT_NEAR(t1, 1.0f + 2.0f * tre_student_t_sample(7, 3, e, 4.0f, 0.0f, 1.0f), 1e-5 * (1 + fabs(t1)));
    }
    /* invalid concentrations give NaN instead of spinning */
    assert_true(isnan(tre_gamma_sample(1, 1, 0, -1.0f, 1.0f)));
    assert_true(isnan(tre_gamma_sample(1, 1, 0, NAN, 1.0f)));
    /* tiny concentrations underflow to the clamp, never to 0 */
    int clamped = 0;
    for (uint64_t e = 0; e < 256; ++e) {
        const float g = tre_gamma_sample(2, 1, e, 1e-3f, 1.0f);
        assert_true(g >= FLT_MIN);
        clamped += g == FLT_MIN;
    }
    assert_true(clamped > 128); /* P(Gamma(1e-3) < FLT_MIN) = 0.92 */
}

/* The standard gamma draw is Marsaglia and Tsang's with the noise layout gamma.h documents:
 * round r is Philox block r of the element's sequence, words 0 and 1 a Box-Muller normal z,
 * word 2 the uniform u of the acceptance test, word 3 of round 0 the boost's U for a < 1. A
 * reference with the exact acceptance test alone (no squeeze) gives the same draws: a squeeze
 * may only spare the logarithm, never accept what the exact test rejects. At a = 1, where the
 * squeeze comes closest to the acceptance region (d = 2/3, the smallest d used), and on both
 * sides of the boost. */
static double u01(uint32_t x) { return ((double)x + 0.5) / 4294967296.0; }
static double mt_reference_log(double a, uint64_t seed, uint64_t stream, uint64_t elem) {
    const double ab = a < 1.0 ? a + 1.0 : a, d = ab - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    double boost = 0.0;
    for (uint32_t r = 0; r < 64; ++r) {
        const tre_u32x4 w = tre_philox_elem(seed, stream, elem, r);
        if (r == 0 && a < 1.0) boost = log(u01(w.v[3])) / a;
        const double z = sqrt(-2.0 * log(u01(w.v[0]))) * cos(6.283185307179586 * u01(w.v[1]));
        if (c * z <= -1.0) continue;
        const double v = (1.0 + c * z) * (1.0 + c * z) * (1.0 + c * z);
        if (log(u01(w.v[2])) < 0.5 * z * z + d - d * v + d * log(v)) return log(d * v) + boost;
    }
    return NAN;
}
static void test_std_gamma_draw_is_marsaglia_tsang(void **state) {
    (void)state;
    const struct {
        double a;
        int64_t n;
    } cases[] = {{1.0, 1000000}, {0.3, 100000}, {2.5, 100000}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
        int64_t differ = 0;
        for (int64_t e = 0; e < cases[k].n; ++e) {
            const double got = tre_std_gamma_log_sample(cases[k].a, 11, 5, (uint64_t)e, 0u);
            const double want = mt_reference_log(cases[k].a, 11, 5, (uint64_t)e);
            if (!(fabs(got - want) <= 1e-12 * (1.0 + fabs(want)))) ++differ;
        }
        if (differ) fail_msg("a = %g: %lld of %lld draws differ from the reference", cases[k].a,
                             (long long)differ, (long long)cases[k].n);
    }
}

/* An element of Gamma(concentration, rate) at a rate of 0 (d/dconcentration = log 0 = -inf,
 * d/drate = a / 0 = inf) masked out of the fused sum adds exactly 0 to every gradient, not
 * 0 * inf = NaN; validation off, since it would refuse the rate. The other elements against
 * the double-precision derivatives. */
static void test_masked_impossible_point_gradients(void **state) {
    (void)state;
    enum { K = 3, BAD = 1 };
    const double scale = 0.75;
    const float x[K] = {0.5f, 1.5f, 2.2f}, a[K] = {1.3f, 2.0f, 2.5f}, b[K] = {0.7f, 0.f, 1.1f};
    const float mask[K] = {1.f, 0.f, 1.f};
    assert_false(isfinite(tre_gamma_dlp_db(x[BAD], a[BAD], b[BAD])));
    assert_false(isfinite(tre_gamma_dlp_da(x[BAD], a[BAD], b[BAD])));
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 4, .no_validation = true}));
    int64_t k = K;
    tre_tensor *xt, *at, *bt, *mt;
    TT_OK(ctx, tre_tensor_create(ctx, &xt, TRE_F32, 1, 1, &k, x));
    TT_OK(ctx, tre_tensor_create(ctx, &at, TRE_F32, 1, 1, &k, a));
    TT_OK(ctx, tre_tensor_create(ctx, &bt, TRE_F32, 1, 1, &k, b));
    TT_OK(ctx, tre_tensor_create(ctx, &mt, TRE_F32, 1, 1, &k, mask));
    xt->requires_grad = at->requires_grad = bt->requires_grad = true;
    tre_grad_begin(ctx);
    tre_tensor *loss = tre_dist_log_prob_sum(ctx, tre_gamma(ctx, at, bt), xt, mt, scale);
    tre_grad_end(ctx);
    if (!loss) fail_msg("%s", tre_ctx_error(ctx));
    TT_OK(ctx, tre_grad_backward(ctx, loss));
    const float *g[3] = {tt_host(ctx, xt->grad, 0), tt_host(ctx, at->grad, 1), tt_host(ctx, bt->grad, 2)};
    for (int j = 0; j < K; ++j) {
        const double d[3] = {tre_gamma_dlp_dx(x[j], a[j], b[j]), tre_gamma_dlp_da(x[j], a[j], b[j]),
                             tre_gamma_dlp_db(x[j], a[j], b[j])};
        for (int i = 0; i < 3; ++i) {
            const double want = j == BAD ? 0.0 : scale * d[i];
            if (!(fabs(g[i][j] - want) <= 1e-5 * fabs(want) + 1e-6))
                fail_msg("gradient %d at %d: %.9g, want %.9g", i, j, g[i][j], want);
        }
    }
    tre_ctx_destroy(ctx);
}

/* The CPU kernels compute lgamma and digamma of a block's concentrations once per distinct
 * value (a memo of 64 slots keyed by the float's bits). Blocks of all-distinct concentrations
 * (slots shared by many values) and of a few values cycling, as in a Dirichlet's rows, must
 * give every element its own log-density and d/dconcentration, as the scalar functions do. */
static void test_concentration_memo_per_element(void **state) {
    (void)state;
    enum { N = 3000 };
    static float x[N], a[N], b[N];
    for (int layout = 0; layout < 2; ++layout) {
        for (int j = 0; j < N; ++j) {
            x[j] = 0.05f + 0.001f * (float)((j * 37) % 997);
            a[j] = layout == 0 ? 0.2f + 0.003f * (float)j : 0.5f + 0.25f * (float)(j % 20);
            b[j] = 0.5f + 0.01f * (float)(j % 7);
        }
        tre_ctx *ctx = tt_ctx(5);
        int64_t n = N;
        tre_tensor *xt, *at, *bt;
        TT_OK(ctx, tre_tensor_create(ctx, &xt, TRE_F32, 1, 1, &n, x));
        TT_OK(ctx, tre_tensor_create(ctx, &at, TRE_F32, 1, 1, &n, a));
        TT_OK(ctx, tre_tensor_create(ctx, &bt, TRE_F32, 1, 1, &n, b));
        at->requires_grad = true;
        const float *lp = tt_host(ctx, tre_dist_log_prob(ctx, tre_gamma(ctx, at, bt), xt), 0);
        tre_grad_begin(ctx);
        tre_tensor *loss = tre_dist_log_prob_sum(ctx, tre_gamma(ctx, at, bt), xt, NULL, 1.0);
        tre_grad_end(ctx);
        if (!loss) fail_msg("%s", tre_ctx_error(ctx));
        TT_OK(ctx, tre_grad_backward(ctx, loss));
        const float *ga = tt_host(ctx, at->grad, 1);
        for (int j = 0; j < N; ++j) {
            const double want_lp = tre_gamma_log_prob(x[j], a[j], b[j]), want_ga = tre_gamma_dlp_da(x[j], a[j], b[j]);
            if (!(fabs(lp[j] - want_lp) <= 1e-6 * fabs(want_lp) + 1e-6) ||
                !(fabs(ga[j] - want_ga) <= 1e-6 * fabs(want_ga) + 1e-6))
                fail_msg("layout %d, element %d: log_prob %.9g (want %.9g), d/da %.9g (want %.9g)", layout, j,
                         lp[j], want_lp, ga[j], want_ga);
        }
        tre_tensor_destroy(ctx, xt);
        tre_tensor_destroy(ctx, at);
        tre_tensor_destroy(ctx, bt);
        tre_ctx_destroy(ctx);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gamma_log_prob_derivatives),
        cmocka_unit_test(test_digamma_is_lgamma_derivative),
        cmocka_unit_test(test_std_gamma_implicit_grad),
        cmocka_unit_test(test_std_gamma_dlog_da),
        cmocka_unit_test(test_beta_log_prob_derivatives),
        cmocka_unit_test(test_beta_implicit_grad),
        cmocka_unit_test(test_student_t_log_prob_derivatives),
        cmocka_unit_test(test_student_t_implicit_grad),
        cmocka_unit_test(test_samplers_deterministic),
        cmocka_unit_test(test_masked_impossible_point_gradients),
        cmocka_unit_test(test_std_gamma_draw_is_marsaglia_tsang),
        cmocka_unit_test(test_concentration_memo_per_element),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
