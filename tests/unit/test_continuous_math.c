/* Derivatives of the continuous log-densities and of their reparameterized draws
 * (kernels/math/normal.h, log_normal.h, half_normal.h, cauchy.h, half_cauchy.h, laplace.h,
 * uniform.h, exponential.h, delta.h) against central finite differences in double; then the
 * same derivatives through the CPU backend's log-prob and rsample gradients on the tape, and
 * pathwise gradients end to end: finite differences of draws made with the same seed.
 *
 * Tolerances. Double: steps h = 1e-5 times the point's natural scale s (the scale parameter,
 * 1 / rate, high - low) leave a truncation error ~h^2 |f'''| ~ 1e-10 / s and a rounding error
 * ~1e-16 |f| / h, both far below the 1e-6 (1 + |derivative|) required. Backend (float32):
 * the analytic gradients are evaluated in float, 1e-5 relative (plus 1e-6 absolute per summed
 * term). End-to-end finite differences of float32 draws with h = 1e-2 s carry a rounding error
 * ~6e-8 |x| / h, so they are compared within 2e-3 (1 + |derivative|). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "kernels/math/cauchy.h"
#include "kernels/math/delta.h"
#include "kernels/math/exponential.h"
#include "kernels/math/half_cauchy.h"
#include "kernels/math/half_normal.h"
#include "kernels/math/laplace.h"
#include "kernels/math/log_normal.h"
#include "kernels/math/normal.h"
#include "kernels/math/uniform.h"
#include "src/dist/dist_impl.h"
#include "src/tensor/autograd.h"

#define MAXP 2

/* One family seen through double-precision function pointers. Noise for rsample is already
 * the standard variate (eps, or a quantile of a uniform). */
typedef struct family {
    const char *name;
    int np;
    double (*lp)(double x, const double *p);
    void (*dlp)(double x, const double *p, double *g); /* g[0] = d/dx, g[1 + i] = d/dp_i */
    double (*rs)(double noise, const double *p);
    void (*drs)(double x, const double *p, double *g); /* g[i] = dx/dp_i */
    double (*noise)(double u);                          /* standard variate from u in (0, 1) */
    tre_dist *(*make)(tre_ctx *ctx, tre_tensor *const *p);
} family;

static double q_normal(double u) {
    /* a few fixed standard-normal points: u in (0, 1) maps to eps in (-3, 3) */
    return 6.0 * (u - 0.5);
}

/* ---- per-family wrappers ------------------------------------------------------------------- */

#define LOC_SCALE(fam)                                                                          \
    static double lp_##fam(double x, const double *p) { return tre_##fam##_log_prob_d(x, p[0], p[1]); } \
    static void dlp_##fam(double x, const double *p, double *g) {                               \
        g[0] = tre_##fam##_dlp_dx_d(x, p[0], p[1]);                                             \
        g[1] = tre_##fam##_dlp_dloc_d(x, p[0], p[1]);                                           \
        g[2] = tre_##fam##_dlp_dscale_d(x, p[0], p[1]);                                         \
    }                                                                                           \
    static tre_dist *mk_##fam(tre_ctx *c, tre_tensor *const *p) { return tre_##fam(c, p[0], p[1]); }
#define SCALE_ONLY(fam, param)                                                                  \
    static double lp_##fam(double x, const double *p) { return tre_##fam##_log_prob_d(x, p[0]); } \
    static void dlp_##fam(double x, const double *p, double *g) {                               \
        g[0] = tre_##fam##_dlp_dx_d(x, p[0]);                                                   \
        g[1] = tre_##fam##_dlp_d##param##_d(x, p[0]);                                           \
    }                                                                                           \
    static tre_dist *mk_##fam(tre_ctx *c, tre_tensor *const *p) { return tre_##fam(c, p[0]); }

LOC_SCALE(normal)
LOC_SCALE(log_normal)
LOC_SCALE(cauchy)
LOC_SCALE(laplace)
SCALE_ONLY(half_normal, scale)
SCALE_ONLY(half_cauchy, scale)
SCALE_ONLY(exponential, rate)

static double lp_uniform(double x, const double *p) { return tre_uniform_log_prob_d(x, p[0], p[1]); }
static void dlp_uniform(double x, const double *p, double *g) {
    g[0] = tre_uniform_dlp_dx_d(x, p[0], p[1]);
    g[1] = tre_uniform_dlp_dlow_d(x, p[0], p[1]);
    g[2] = tre_uniform_dlp_dhigh_d(x, p[0], p[1]);
}
static tre_dist *mk_uniform(tre_ctx *c, tre_tensor *const *p) { return tre_uniform(c, p[0], p[1]); }

/* draws: x(noise; params) and dx/dparams */
static double rs_normal(double e, const double *p) { return tre_normal_rsample_d(e, p[0], p[1]); }
static void drs_normal(double x, const double *p, double *g) {
    g[0] = 1.0;
    g[1] = tre_normal_rsample_dscale_d(x, p[0], p[1]);
}
static double rs_log_normal(double e, const double *p) { return tre_log_normal_rsample_d(e, p[0], p[1]); }
static void drs_log_normal(double x, const double *p, double *g) {
    g[0] = tre_log_normal_rsample_dloc_d(x, p[0], p[1]);
    g[1] = tre_log_normal_rsample_dscale_d(x, p[0], p[1]);
}
static double rs_half_normal(double e, const double *p) { return tre_half_normal_rsample_d(e, p[0]); }
static void drs_half_normal(double x, const double *p, double *g) { g[0] = tre_half_normal_rsample_dscale_d(x, p[0]); }
static double rs_cauchy(double t, const double *p) { return tre_cauchy_rsample_d(t, p[0], p[1]); }
static void drs_cauchy(double x, const double *p, double *g) {
    g[0] = 1.0;
    g[1] = tre_cauchy_rsample_dscale_d(x, p[0], p[1]);
}
static double rs_half_cauchy(double t, const double *p) { return tre_half_cauchy_rsample_d(t, p[0]); }
static void drs_half_cauchy(double x, const double *p, double *g) { g[0] = tre_half_cauchy_rsample_dscale_d(x, p[0]); }
static double rs_laplace(double t, const double *p) { return tre_laplace_rsample_d(t, p[0], p[1]); }
static void drs_laplace(double x, const double *p, double *g) {
    g[0] = 1.0;
    g[1] = tre_laplace_rsample_dscale_d(x, p[0], p[1]);
}
static double rs_uniform(double u, const double *p) { return tre_uniform_rsample_d(u, p[0], p[1]); }
static void drs_uniform(double x, const double *p, double *g) {
    g[0] = tre_uniform_rsample_dlow_d(x, p[0], p[1]);
    g[1] = tre_uniform_rsample_dhigh_d(x, p[0], p[1]);
}
static double rs_exponential(double e, const double *p) { return tre_exponential_rsample_d(e, p[0]); }
static void drs_exponential(double x, const double *p, double *g) { g[0] = tre_exponential_rsample_drate_d(x, p[0]); }
static double id(double u) { return u; }

static const family F_NORMAL = {"Normal", 2, lp_normal, dlp_normal, rs_normal, drs_normal, q_normal, mk_normal};
static const family F_LOG_NORMAL = {"LogNormal", 2, lp_log_normal, dlp_log_normal, rs_log_normal,
                                    drs_log_normal, q_normal, mk_log_normal};
static const family F_HALF_NORMAL = {"HalfNormal", 1, lp_half_normal, dlp_half_normal, rs_half_normal,
                                     drs_half_normal, q_normal, mk_half_normal};
static const family F_CAUCHY = {"Cauchy", 2, lp_cauchy, dlp_cauchy, rs_cauchy, drs_cauchy,
                                tre_cauchy_std_quantile, mk_cauchy};
static const family F_HALF_CAUCHY = {"HalfCauchy", 1, lp_half_cauchy, dlp_half_cauchy, rs_half_cauchy,
                                     drs_half_cauchy, tre_half_cauchy_std_quantile, mk_half_cauchy};
static const family F_LAPLACE = {"Laplace", 2, lp_laplace, dlp_laplace, rs_laplace, drs_laplace,
                                 tre_laplace_std_quantile, mk_laplace};
static const family F_UNIFORM = {"Uniform", 2, lp_uniform, dlp_uniform, rs_uniform, drs_uniform, id, mk_uniform};
static const family F_EXPONENTIAL = {"Exponential", 1, lp_exponential, dlp_exponential, rs_exponential,
                                     drs_exponential, tre_exponential_std_quantile, mk_exponential};

/* A point: parameters, the natural scale s of the finite-difference steps, values inside the
 * support away from kinks (Laplace's loc, Uniform's bounds). */
typedef struct point {
    const family *f;
    double p[MAXP];
    double s;
    double xs[4];
    int nx;
} point;

static const point points[] = {
    {&F_NORMAL, {0.3, 1.7}, 1.7, {-3.0, 0.3, 2.1, 9.0}, 4},
    {&F_NORMAL, {-2.0, 0.05}, 0.05, {-2.1, -1.95}, 2},
    {&F_LOG_NORMAL, {0.2, 0.8}, 0.1, {0.1, 1.0, 3.5}, 3},
    {&F_LOG_NORMAL, {-1.0, 2.0}, 1e-3, {1e-2, 5.0}, 2},
    {&F_HALF_NORMAL, {1.3}, 1.3, {0.01, 1.0, 4.0}, 3},
    {&F_HALF_NORMAL, {0.05}, 0.05, {0.02, 0.2}, 2},
    {&F_CAUCHY, {0.5, 2.0}, 2.0, {-30.0, -1.0, 0.7, 8.0}, 4},
    {&F_CAUCHY, {-1.0, 0.01}, 0.01, {-1.005, -0.9}, 2},
    {&F_HALF_CAUCHY, {1.5}, 1.5, {0.01, 1.0, 40.0}, 3},
    {&F_HALF_CAUCHY, {0.2}, 0.2, {0.1, 3.0}, 2},
    {&F_LAPLACE, {0.5, 2.0}, 2.0, {-3.0, 0.4, 0.6, 7.0}, 4},
    {&F_LAPLACE, {-1.0, 0.1}, 0.1, {-1.3, -0.95}, 2},
    {&F_UNIFORM, {-1.0, 2.5}, 3.5, {-0.5, 0.0, 2.4}, 3},
    {&F_UNIFORM, {10.0, 10.5}, 0.5, {10.1, 10.4}, 2},
    {&F_EXPONENTIAL, {1.5}, 0.6, {0.01, 1.0, 6.0}, 3},
    {&F_EXPONENTIAL, {0.02}, 50.0, {3.0, 100.0}, 2},
};
#define NPOINTS ((int)(sizeof points / sizeof *points))

static void expect_fd(const char *what, double analytic, double fp, double fm, double h) {
    double num = (fp - fm) / (2.0 * h);
    if (!(fabs(analytic - num) <= 1e-6 * (1.0 + fabs(num))))
        fail_msg("%s: analytic %.12g, finite differences %.12g", what, analytic, num);
}

/* The step for parameter i: the point's scale, or the parameter's own size where that is
 * smaller (a rate of 0.02 has a natural scale of 50 but must not step by 5e-4). */
static double param_step(const point *pt, int i) {
    double a = fabs(pt->p[i]);
    return 1e-5 * (a > 0 && a < pt->s ? a : pt->s);
}

/* ---- the math headers, in double ----------------------------------------------------------- */

static void test_log_density_derivatives(void **state) {
    (void)state;
    int checked = 0;
    for (int k = 0; k < NPOINTS; ++k) {
        const point *pt = &points[k];
        const family *f = pt->f;
        for (int j = 0; j < pt->nx; ++j) {
            double x = pt->xs[j], g[1 + MAXP], p[MAXP];
            f->dlp(x, pt->p, g);
            char what[128];
            /* d/dx: the step is the point's scale, or less for values near 0 in a half-line */
            double hx = 1e-5 * fmin(pt->s, fabs(x) > 0 ? fabs(x) : pt->s);
            snprintf(what, sizeof what, "%s d/dx at %g", f->name, x);
            expect_fd(what, g[0], f->lp(x + hx, pt->p), f->lp(x - hx, pt->p), hx);
            ++checked;
            for (int i = 0; i < f->np; ++i) {
                double h = param_step(pt, i);
                memcpy(p, pt->p, sizeof p);
                p[i] = pt->p[i] + h;
                double fp = f->lp(x, p);
                p[i] = pt->p[i] - h;
                double fm = f->lp(x, p);
                snprintf(what, sizeof what, "%s d/dparam%d at x = %g, params %g %g", f->name, i, x,
                         pt->p[0], pt->p[1]);
                expect_fd(what, g[1 + i], fp, fm, h);
                ++checked;
            }
        }
    }
    print_message("%d derivatives checked\n", checked);
}

static void test_rsample_derivatives(void **state) {
    (void)state;
    const double us[] = {0.03, 0.4, 0.62, 0.97};
    int checked = 0;
    for (int k = 0; k < NPOINTS; ++k) {
        const point *pt = &points[k];
        const family *f = pt->f;
        for (int j = 0; j < 4; ++j) {
            double noise = f->noise(us[j]), x = f->rs(noise, pt->p), g[MAXP], p[MAXP];
            f->drs(x, pt->p, g);
            for (int i = 0; i < f->np; ++i) {
                double h = param_step(pt, i);
                memcpy(p, pt->p, sizeof p);
                p[i] = pt->p[i] + h;
                double fp = f->rs(noise, p);
                p[i] = pt->p[i] - h;
                double fm = f->rs(noise, p);
                char what[128];
                snprintf(what, sizeof what, "%s dx/dparam%d at noise %g", f->name, i, noise);
                expect_fd(what, g[i], fp, fm, h);
                ++checked;
            }
        }
    }
    print_message("%d pathwise derivatives checked\n", checked);
}

/* Outside the support: log-density -inf with derivatives exactly 0 (the kernels multiply them
 * by masks and scales, so an infinity there would leak NaN into masked-out gradients). */
static void test_outside_support_and_edges(void **state) {
    (void)state;
    const double neg = -0.5;
    assert_true(isinf(tre_log_normal_log_prob_d(neg, 0, 1)) && tre_log_normal_log_prob_d(neg, 0, 1) < 0);
    assert_true(isinf(tre_log_normal_log_prob(0.f, 0.f, 1.f)) && tre_log_normal_log_prob(0.f, 0.f, 1.f) < 0);
    assert_true(tre_log_normal_dlp_dx_d(neg, 0, 1) == 0 && tre_log_normal_dlp_dloc_d(0.0, 0, 1) == 0 &&
                tre_log_normal_dlp_dscale_d(neg, 0, 1) == 0);
    assert_true(isinf(tre_half_normal_log_prob_d(neg, 1)) && tre_half_normal_dlp_dx_d(neg, 1) == 0 &&
                tre_half_normal_dlp_dscale_d(neg, 1) == 0);
    assert_true(isfinite(tre_half_normal_log_prob_d(0.0, 1)));
    /* x = 0 is inside the support of the half-line families: their scale derivatives there are
     * those of the finite log-density, -1 / scale (float and double) */
    const double hs = 1e-5 * 1.3;
    expect_fd("HalfNormal d/dscale at x = 0", tre_half_normal_dlp_dscale_d(0.0, 1.3),
              tre_half_normal_log_prob_d(0.0, 1.3 + hs), tre_half_normal_log_prob_d(0.0, 1.3 - hs), hs);
    expect_fd("HalfCauchy d/dscale at x = 0", tre_half_cauchy_dlp_dscale_d(0.0, 1.3),
              tre_half_cauchy_log_prob_d(0.0, 1.3 + hs), tre_half_cauchy_log_prob_d(0.0, 1.3 - hs), hs);
    TT_NEAR(tre_half_normal_dlp_dscale(0.f, 2.f), -0.5, 1e-7);
    TT_NEAR(tre_half_cauchy_dlp_dscale(0.f, 2.f), -0.5, 1e-7);
    assert_true(tre_half_normal_dlp_dx_d(0.0, 1.3) == 0 && tre_half_cauchy_dlp_dx_d(0.0, 1.3) == 0);
    assert_true(isinf(tre_half_cauchy_log_prob_d(neg, 1)) && tre_half_cauchy_dlp_dx_d(neg, 1) == 0 &&
                tre_half_cauchy_dlp_dscale_d(neg, 1) == 0);
    assert_true(isinf(tre_exponential_log_prob_d(neg, 2)) && tre_exponential_dlp_dx_d(neg, 2) == 0 &&
                tre_exponential_dlp_drate_d(neg, 2) == 0);
    TT_NEAR(tre_exponential_log_prob_d(0.0, 2), log(2.0), 1e-15);
    /* Uniform: the closed interval */
    TT_NEAR(tre_uniform_log_prob_d(1.0, -1.0, 1.0), -log(2.0), 1e-15);
    TT_NEAR(tre_uniform_log_prob_d(-1.0, -1.0, 1.0), -log(2.0), 1e-15);
    assert_true(isinf(tre_uniform_log_prob_d(1.0 + 1e-9, -1.0, 1.0)));
    assert_true(tre_uniform_dlp_dlow_d(1.5, -1, 1) == 0 && tre_uniform_dlp_dhigh_d(-1.5, -1, 1) == 0);
    /* Laplace at its kink: the subgradient 0 in x and loc */
    assert_true(tre_laplace_dlp_dx_d(0.5, 0.5, 2) == 0 && tre_laplace_dlp_dloc_d(0.5, 0.5, 2) == 0);
    TT_NEAR(tre_laplace_dlp_dscale_d(0.5, 0.5, 2), -0.5, 1e-15);
    /* Cauchy: far tails stay finite in float, and the derivatives exact in the limit */
    float far = tre_cauchy_log_prob(1e30f, 0.f, 1.f);
    TT_NEAR(far, -TRE_CAUCHY_LOG_PI - 2.0 * log(1e30), 1e-4 * 140);
    assert_true(tre_cauchy_dlp_dx(1e30f, 0.f, 1.f) < 0 && isfinite(tre_cauchy_dlp_dx(1e30f, 0.f, 1.f)));
    TT_NEAR(tre_cauchy_dlp_dscale(1e30f, 0.f, 2.f), 0.5, 1e-7);
    assert_true(tre_cauchy_dlp_dx(0.f, 0.f, 1.f) == 0.f);
    /* NaN values propagate (validation off) rather than becoming -inf */
    assert_true(isnan(tre_exponential_log_prob(NAN, 1.f)) && isnan(tre_half_normal_log_prob(NAN, 1.f)) &&
                isnan(tre_uniform_log_prob(NAN, 0.f, 1.f)) && isnan(tre_log_normal_log_prob(NAN, 0.f, 1.f)));
    /* Delta: log_density on the atom, -inf off it; only log_density has a derivative */
    assert_true(tre_delta_log_prob_d(2.0, 2.0, -1.5) == -1.5 && isinf(tre_delta_log_prob_d(2.5, 2.0, -1.5)));
    assert_true(tre_delta_dlp_dlog_density_d(2.0, 2.0, 0) == 1 && tre_delta_dlp_dlog_density_d(1.0, 2.0, 0) == 0);
    assert_true(tre_delta_sample(3.25f, -7.f) == 3.25f);
    /* samplers at the extremes of the generator's open uniforms stay finite and in support */
    const double u_lo = 0.5 / 4294967296.0, u_hi = 1.0 - u_lo;
    assert_true(isfinite(tre_cauchy_sample(u_lo, 0, 1)) && isfinite(tre_cauchy_sample(u_hi, 0, 1)));
    assert_true(isfinite(tre_half_cauchy_sample(u_hi, 1)) && tre_half_cauchy_sample(u_lo, 1) > 0);
    assert_true(tre_exponential_sample(u_hi, 1) > 0 && isfinite(tre_exponential_sample(u_lo, 1)));
    assert_true(isfinite(tre_laplace_sample(u_lo, 0, 1)) && isfinite(tre_laplace_sample(u_hi, 0, 1)));
    float ux = tre_uniform_sample(u_hi, 1.f, 1.0000001f);
    assert_true(ux >= 1.f && ux <= 1.0000001f);
}

/* ---- the CPU backend's gradients ----------------------------------------------------------- */

static tre_tensor *persistent(tre_ctx *ctx, int64_t particles, int ndim, const int64_t *shape,
                              const float *v) {
    tre_tensor *t;
    TT_OK(ctx, tre_tensor_create(ctx, &t, TRE_F32, particles, ndim, shape, v));
    t->requires_grad = true;
    return t;
}

static void expect_close(const char *what, double got, double want, double tol) {
    if (!(fabs(got - want) <= tol)) fail_msg("%s: %.9g, want %.9g (tol %.3g)", what, got, want, tol);
}

/* K values x (extent 1, shape [K]) under parameters of extent P, shape [] (so the value's
 * gradient sums over particles and each parameter's over the K values), with a mask and a
 * scale on the fused sum; then the materialized log_prob summed, which takes the other
 * backward path. Both are compared with the double-precision derivatives. */
static void check_log_prob_backward(const family *f, const double *p_base, double s, const float *x,
                                    int K) {
    enum { P = 3 };
    const double scale = 0.75;
    tre_ctx *ctx = tt_ctx(5);
    float pv[MAXP][P], mask[8];
    for (int i = 0; i < f->np; ++i)
        for (int q = 0; q < P; ++q) pv[i][q] = (float)(p_base[i] + (i == f->np - 1 ? 0.1 * s * q : -0.05 * s * q));
    for (int k = 0; k < K; ++k) mask[k] = k == 1 ? 0.f : 1.f;
    int64_t kk = K;
    tre_tensor *xt = persistent(ctx, 1, 1, &kk, x), *pt[MAXP];
    for (int i = 0; i < f->np; ++i) pt[i] = persistent(ctx, P, 0, NULL, pv[i]);
    tre_tensor *mt;
    TT_OK(ctx, tre_tensor_create(ctx, &mt, TRE_F32, 1, 1, &kk, mask));
    for (int path = 0; path < 2; ++path) {
        tre_ctx_step_reset(ctx);
        xt->grad = NULL;
        for (int i = 0; i < f->np; ++i) pt[i]->grad = NULL;
        tre_grad_begin(ctx);
        tre_dist *d = f->make(ctx, pt);
        tre_tensor *loss = path == 0 ? tre_dist_log_prob_sum(ctx, d, xt, mt, scale)
                                     : tre_sum(ctx, tre_dist_log_prob(ctx, d, xt));
        tre_grad_end(ctx);
        if (!loss) fail_msg("%s: %s", f->name, tre_ctx_error(ctx));
        TT_OK(ctx, tre_grad_backward(ctx, loss));
        double want_x[8] = {0}, want_p[MAXP][P] = {{0}};
        for (int q = 0; q < P; ++q)
            for (int k = 0; k < K; ++k) {
                double p[MAXP], g[1 + MAXP];
                for (int i = 0; i < f->np; ++i) p[i] = pv[i][q];
                f->dlp(x[k], p, g);
                double w = path == 0 ? (mask[k] != 0.f ? scale : 0.0) : 1.0;
                want_x[k] += w * g[0];
                for (int i = 0; i < f->np; ++i) want_p[i][q] += w * g[1 + i];
            }
        char what[96];
        const float *gx = tt_host(ctx, xt->grad, 0);
        for (int k = 0; k < K; ++k) {
            snprintf(what, sizeof what, "%s path %d d/dx[%d]", f->name, path, k);
            expect_close(what, gx[k], want_x[k], 1e-5 * fabs(want_x[k]) + 1e-6 * P);
        }
        for (int i = 0; i < f->np; ++i) {
            const float *gp = tt_host(ctx, pt[i]->grad, 1);
            for (int q = 0; q < P; ++q) {
                snprintf(what, sizeof what, "%s path %d d/dparam%d[%d]", f->name, path, i, q);
                expect_close(what, gp[q], want_p[i][q], 1e-5 * fabs(want_p[i][q]) + 1e-6 * K);
            }
        }
    }
    tre_ctx_destroy(ctx);
}

static void test_backend_log_prob_gradients(void **state) {
    (void)state;
    const float xr[] = {-2.5f, 0.3f, 1.7f, 6.0f}, xpos[] = {0.05f, 0.8f, 2.2f, 9.0f};
    check_log_prob_backward(&F_NORMAL, (const double[]){0.4, 1.3}, 1.3, xr, 4);
    check_log_prob_backward(&F_LOG_NORMAL, (const double[]){0.1, 0.9}, 0.9, xpos, 4);
    check_log_prob_backward(&F_HALF_NORMAL, (const double[]){1.5}, 1.5, xpos, 4);
    check_log_prob_backward(&F_CAUCHY, (const double[]){-0.2, 2.0}, 2.0, xr, 4);
    check_log_prob_backward(&F_HALF_CAUCHY, (const double[]){0.7}, 0.7, xpos, 4);
    check_log_prob_backward(&F_LAPLACE, (const double[]){0.25, 1.1}, 1.1, xr, 4);
    check_log_prob_backward(&F_UNIFORM, (const double[]){-3.0, 8.0}, 11.0, xr, 4);
    check_log_prob_backward(&F_EXPONENTIAL, (const double[]){0.6}, 1.0, xpos, 4);
    /* values outside the support: -inf log-densities, gradients exactly 0 (not NaN) */
    const float xout[] = {-1.f, 0.5f, -2.f, 3.f};
    check_log_prob_backward(&F_UNIFORM, (const double[]){0.0, 1.0}, 1.0, xout, 4);
}

/* One parameter of shape [] (shared by every value: the kernels hoist log(scale) when that one
 * is the scale) and the other varying per value, each way round, against the double-precision
 * log-density; validation off, since a varying bound may leave a value outside the support. */
static void test_mixed_shared_parameters_log_prob(void **state) {
    (void)state;
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 6, .no_validation = true}));
    for (size_t c = 0; c < sizeof points / sizeof *points; ++c) {
        const point *pt = &points[c];
        if (pt->f->np != 2) continue;
        const int64_t n = pt->nx;
        float xv[4], pv[4];
        for (int k = 0; k < pt->nx; ++k) xv[k] = (float)pt->xs[k];
        for (int shared = 0; shared < 2; ++shared) {
            tre_ctx_step_reset(ctx);
            const int other = 1 - shared;
            for (int k = 0; k < pt->nx; ++k) pv[k] = (float)(pt->p[other] * (1.0 + 0.1 * k));
            tre_tensor *ps[2];
            ps[shared] = tre_scalar(ctx, (float)pt->p[shared]);
            ps[other] = tre_from_host(ctx, 1, 1, &n, pv);
            tre_tensor *lp = tre_dist_log_prob(ctx, pt->f->make(ctx, ps), tre_from_host(ctx, 1, 1, &n, xv));
            if (!lp) fail_msg("%s: %s", pt->f->name, tre_ctx_error(ctx));
            const float *h = tt_host(ctx, lp, 0);
            for (int k = 0; k < pt->nx; ++k) {
                double p[2];
                p[shared] = (float)pt->p[shared];
                p[other] = pv[k];
                const double want = pt->f->lp(xv[k], p);
                char what[96];
                snprintf(what, sizeof what, "%s, parameter %d shared: log_prob[%d]", pt->f->name, shared, k);
                if (isinf(want) ? h[k] != want : !(fabs(h[k] - want) <= 1e-5 * (1.0 + fabs(want))))
                    fail_msg("%s: %.9g, want %.9g", what, h[k], want);
            }
        }
    }
    tre_ctx_destroy(ctx);
}

/* An element whose parameters the density cannot take (a scale of 0: infinite derivatives)
 * masked out of the fused sum adds exactly 0 to every gradient, not 0 * inf = NaN; validation
 * off, since it would refuse the scale. Parameters of shape [K], one point per value; the
 * other elements against the double-precision derivatives. */
static void check_masked_impossible_point(const family *f, const double *p, const double *p_bad,
                                          const float *x, int K, int bad) {
    const double scale = 0.75;
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 5, .no_validation = true}));
    float mask[8], pv[MAXP][8];
    int64_t kk = K;
    tre_tensor *xt = persistent(ctx, 1, 1, &kk, x), *pt[MAXP], *mt;
    for (int k = 0; k < K; ++k) mask[k] = k == bad ? 0.f : 1.f;
    for (int i = 0; i < f->np; ++i) {
        for (int k = 0; k < K; ++k) pv[i][k] = (float)(k == bad ? p_bad[i] : p[i] + 0.1 * k);
        pt[i] = persistent(ctx, 1, 1, &kk, pv[i]);
    }
    TT_OK(ctx, tre_tensor_create(ctx, &mt, TRE_F32, 1, 1, &kk, mask));
    tre_grad_begin(ctx);
    tre_tensor *loss = tre_dist_log_prob_sum(ctx, f->make(ctx, pt), xt, mt, scale);
    tre_grad_end(ctx);
    if (!loss) fail_msg("%s: %s", f->name, tre_ctx_error(ctx));
    TT_OK(ctx, tre_grad_backward(ctx, loss));
    char what[96];
    for (int j = 0; j <= f->np; ++j) {
        const float *got = tt_host(ctx, j == 0 ? xt->grad : pt[j - 1]->grad, j);
        for (int k = 0; k < K; ++k) {
            double pd[MAXP], g[1 + MAXP];
            for (int i = 0; i < f->np; ++i) pd[i] = pv[i][k];
            f->dlp(x[k], pd, g);
            if (k == bad && j > 0) assert_false(isfinite(g[j])); /* the case is the one meant */
            const double want = k == bad ? 0.0 : scale * g[j];
            snprintf(what, sizeof what, "%s masked, gradient %d at %d", f->name, j, k);
            expect_close(what, got[k], want, 1e-5 * fabs(want) + 1e-6);
        }
    }
    tre_ctx_destroy(ctx);
}

static void test_masked_impossible_point_gradients(void **state) {
    (void)state;
    check_masked_impossible_point(&F_LOG_NORMAL, (const double[]){0.1, 0.9}, (const double[]){0.1, 0.0},
                                  (const float[]){0.5f, 1.5f, 2.2f}, 3, 1);
}

/* Pathwise gradients of a loss sum(w * x) over draws x of extent P and shape [K] from
 * parameters of shape [K]: the backend's rsample gradients against (a) the double-precision
 * dx/dparams at the returned draws and (b) finite differences of draws made again with the
 * same seed at shifted parameters. */
static void check_rsample_backward(const family *f, const double *p_base, double s) {
    enum { P = 4, K = 3 };
    const uint64_t seed = 2024;
    float pv[MAXP][K], w[P * K];
    for (int i = 0; i < f->np; ++i)
        for (int k = 0; k < K; ++k) pv[i][k] = (float)(p_base[i] + (i == f->np - 1 ? 0.2 * s * k : -0.1 * s * k));
    for (int j = 0; j < P * K; ++j) w[j] = 0.5f + 0.25f * (float)(j % 3) - 0.3f * (float)(j % 2);
    int64_t kk = K;
    float gp[MAXP][K], x0[P * K];
    {
        tre_ctx *ctx = tt_ctx(seed);
        tre_tensor *pt[MAXP];
        for (int i = 0; i < f->np; ++i) pt[i] = persistent(ctx, 1, 1, &kk, pv[i]);
        tre_ctx_step_reset(ctx);
        tre_grad_begin(ctx);
        tre_tensor *xs = tre_dist_sample(ctx, f->make(ctx, pt), P);
        tre_tensor *wt = tre_from_host(ctx, P, 1, &kk, w);
        tre_tensor *loss = tre_sum(ctx, tre_mul(ctx, xs, wt));
        tre_grad_end(ctx);
        if (!loss) fail_msg("%s: %s", f->name, tre_ctx_error(ctx));
        assert_true(xs->particles == P && xs->ndim == 1 && xs->shape[0] == K);
        memcpy(x0, tt_host(ctx, xs, 0), sizeof x0);
        TT_OK(ctx, tre_grad_backward(ctx, loss));
        for (int i = 0; i < f->np; ++i) {
            assert_non_null(pt[i]->grad);
            memcpy(gp[i], tt_host(ctx, pt[i]->grad, 1), sizeof gp[i]);
        }
        tre_ctx_destroy(ctx);
    }
    for (int i = 0; i < f->np; ++i)
        for (int k = 0; k < K; ++k) {
            /* (a) sum over particles of w dx/dparam at the draws */
            double want = 0.0, scale_sum = 0.0;
            for (int q = 0; q < P; ++q) {
                double p[MAXP], g[MAXP];
                for (int m = 0; m < f->np; ++m) p[m] = pv[m][k];
                f->drs(x0[q * K + k], p, g);
                want += w[q * K + k] * g[i];
                scale_sum += fabs(w[q * K + k] * g[i]);
            }
            char what[96];
            snprintf(what, sizeof what, "%s rsample d/dparam%d[%d]", f->name, i, k);
            expect_close(what, gp[i][k], want, 1e-5 * scale_sum + 1e-6);
            /* (b) the same seed at shifted parameters draws the same noise */
            double fd[2];
            const float h = (float)(1e-2 * s);
            for (int side = 0; side < 2; ++side) {
                tre_ctx *ctx = tt_ctx(seed);
                float sh[MAXP][K];
                memcpy(sh, pv, sizeof sh);
                sh[i][k] += side == 0 ? h : -h;
                tre_tensor *pt[MAXP];
                for (int m = 0; m < f->np; ++m) pt[m] = persistent(ctx, 1, 1, &kk, sh[m]);
                tre_ctx_step_reset(ctx);
                tre_tensor *xs = tre_dist_sample(ctx, f->make(ctx, pt), P);
                if (!xs) fail_msg("%s: %s", f->name, tre_ctx_error(ctx));
                const float *hx = tt_host(ctx, xs, 0);
                double acc = 0.0;
                for (int q = 0; q < P; ++q) acc += (double)w[q * K + k] * hx[q * K + k];
                fd[side] = acc;
                tre_ctx_destroy(ctx);
            }
            const float hp = pv[i][k] + h, hm = pv[i][k] - h; /* the steps as float rounds them */
            double num = (fd[0] - fd[1]) / ((double)hp - (double)hm);
            snprintf(what, sizeof what, "%s rsample d/dparam%d[%d] vs finite differences", f->name, i, k);
            expect_close(what, gp[i][k], num, 2e-3 * (1.0 + fabs(num)) + 2e-3 * scale_sum);
        }
}

static void test_backend_rsample_gradients(void **state) {
    (void)state;
    check_rsample_backward(&F_NORMAL, (const double[]){0.4, 1.3}, 1.3);
    check_rsample_backward(&F_LOG_NORMAL, (const double[]){0.1, 0.6}, 0.6);
    check_rsample_backward(&F_HALF_NORMAL, (const double[]){1.5}, 1.5);
    check_rsample_backward(&F_CAUCHY, (const double[]){-0.2, 0.5}, 0.5);
    check_rsample_backward(&F_HALF_CAUCHY, (const double[]){0.7}, 0.7);
    check_rsample_backward(&F_LAPLACE, (const double[]){0.25, 1.1}, 1.1);
    check_rsample_backward(&F_UNIFORM, (const double[]){-3.0, 8.0}, 11.0);
    check_rsample_backward(&F_EXPONENTIAL, (const double[]){0.6}, 0.6);
}

/* Delta: draws are v and carry the gradient to v; the log-density's gradient goes to
 * log_density on the atom only. */
static void test_backend_delta_gradients(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    int64_t k = 3;
    tre_tensor *v = persistent(ctx, 1, 1, &k, (const float[]){1.f, -2.f, 0.5f});
    tre_tensor *ld = persistent(ctx, 1, 1, &k, (const float[]){-0.5f, 0.f, 2.f});
    tre_ctx_step_reset(ctx);
    tre_grad_begin(ctx);
    tre_dist *d = tre_delta(ctx, v, ld);
    tre_tensor *x = tre_dist_sample(ctx, d, 2);
    tre_tensor *w = tre_from_host(ctx, 2, 1, &k, (const float[]){1, 2, 3, 4, 5, 6});
    tre_tensor *obs = tre_from_host(ctx, 1, 1, &k, (const float[]){1.f, 7.f, 0.5f});
    tre_tensor *loss = tre_add(ctx, tre_sum(ctx, tre_mul(ctx, x, w)),
                               tre_dist_log_prob_sum(ctx, d, obs, NULL, 1.0));
    tre_grad_end(ctx);
    if (!loss) fail_msg("%s", tre_ctx_error(ctx));
    const float *hx = tt_host(ctx, x, 0);
    for (int i = 0; i < 6; ++i) assert_true(hx[i] == ((const float[]){1.f, -2.f, 0.5f})[i % 3]);
    TT_OK(ctx, tre_grad_backward(ctx, loss));
    const float *gv = tt_host(ctx, v->grad, 1), *gl = tt_host(ctx, ld->grad, 2);
    /* the loss has extent 2: the log-prob term (extent 1) is counted once per particle */
    const float want_v[3] = {1 + 4, 2 + 5, 3 + 6}, want_l[3] = {2, 0, 2};
    for (int i = 0; i < 3; ++i) {
        TT_NEAR(gv[i], want_v[i], 1e-6);
        TT_NEAR(gl[i], want_l[i], 1e-6);
    }
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_density_derivatives),
        cmocka_unit_test(test_rsample_derivatives),
        cmocka_unit_test(test_outside_support_and_edges),
        cmocka_unit_test(test_backend_log_prob_gradients),
        cmocka_unit_test(test_mixed_shared_parameters_log_prob),
        cmocka_unit_test(test_masked_impossible_point_gradients),
        cmocka_unit_test(test_backend_rsample_gradients),
        cmocka_unit_test(test_backend_delta_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
