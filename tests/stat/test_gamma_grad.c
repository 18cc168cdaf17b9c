/* Pathwise Trace_ELBO gradients through the gamma group's reparameterized draws: Gamma, Beta
 * and Dirichlet guides against a prior of the same family and no data, where the loss is
 * KL(q || p) in closed form, and a StudentT guide against a Normal(0, 1) model, where it is
 * E[z^2]/2 minus an entropy in closed form. They exercise the implicit gradients of the draws
 * (kernels/math/gamma.h, beta.h, student_t.h in the CPU rsample backward), the Dirichlet draw
 * (Gamma draws normalized in its row kernel, kernels/math/dirichlet.h) and the log-density
 * gradients. Repeated evaluations give
 * independent estimates whose mean must lie within 4 standard errors of the closed form. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "test_support.h"
#include "kernels/math/special.h"

enum { REPS = 30, P = 4000 };

/* trigamma by a central difference of digamma (relative error ~1e-9 here) */
static double trigamma(double x) {
    const double h = 1e-5 * x;
    return (tre_digamma(x + h) - tre_digamma(x - h)) / (2.0 * h);
}

static float grad_at(tre_ctx *ctx, const char *name, int i) {
    const tre_param_entry *e = tre_param_store_get(ctx, name);
    assert_non_null(e);
    assert_non_null(e->grad);
    float v[8];
    TT_OK(ctx, tre_tensor_to_host(ctx, e->grad, v, 8));
    return v[i];
}

/* mean and standard error over REPS evaluations of gradient element i of each named param */
typedef tre_tensor *(*program)(tre_ctx *, const void *);
static void estimate(uint64_t seed, program model, program guide, const void *args, int nparams,
                     const char *const *names, const int *elems, double *mean, double *se) {
    tre_ctx *ctx = tt_ctx(seed);
    double g[8][REPS];
    for (int r = 0; r < REPS; ++r) {
        tre_elbo_result res;
        TT_OK(ctx, tre_elbo(ctx, model, guide, args, &(tre_elbo_opts){.num_particles = P, .grad = true}, &res));
        for (int k = 0; k < nparams; ++k) g[k][r] = grad_at(ctx, names[k], elems[k]);
    }
    for (int k = 0; k < nparams; ++k) {
        double m = 0.0, v = 0.0;
        for (int r = 0; r < REPS; ++r) m += g[k][r] / REPS;
        for (int r = 0; r < REPS; ++r) v += (g[k][r] - m) * (g[k][r] - m) / (REPS - 1);
        mean[k] = m;
        se[k] = sqrt(v / REPS);
    }
    tre_ctx_destroy(ctx);
}

static void expect_grad(const char *what, double mean, double se, double want) {
    print_message("%s: %.5f +- %.5f (closed form %.5f)\n", what, mean, se, want);
    if (!(fabs(mean - want) <= 4.0 * se + 1e-4))
        fail_msg("%s: estimate %.6g +- %.3g, closed form %.6g", what, mean, se, want);
}

/* ---- Gamma ---------------------------------------------------------------------------------- */

typedef struct gamma_args { double a, b, a0, b0; } gamma_args;

static tre_tensor *gamma_model(tre_ctx *c, const void *args) {
    const gamma_args *g = args;
    return tre_sample(c, "z", tre_gamma(c, tre_scalar(c, (float)g->a0), tre_scalar(c, (float)g->b0)), NULL);
}
static tre_tensor *gamma_guide(tre_ctx *c, const void *args) {
    const gamma_args *g = args;
    tre_tensor *a = tre_param(c, "q_a", tre_scalar(c, (float)g->a), TRE_C_POSITIVE);
    tre_tensor *b = tre_param(c, "q_b", tre_scalar(c, (float)g->b), TRE_C_POSITIVE);
    return tre_sample(c, "z", tre_gamma(c, a, b), NULL);
}

/* KL(Gamma(a, b) || Gamma(a0, b0)): d/da = (a - a0) trigamma(a) + b0/b - 1,
 * d/db = a0/b - a b0/b^2; the params are log a, log b. */
static void gamma_case(uint64_t seed, gamma_args g) {
    const char *names[2] = {"q_a", "q_b"};
    const int elems[2] = {0, 0};
    double m[2], se[2];
    estimate(seed, gamma_model, gamma_guide, &g, 2, names, elems, m, se);
    const double da = (g.a - g.a0) * trigamma(g.a) + g.b0 / g.b - 1.0;
    const double db = g.a0 / g.b - g.a * g.b0 / (g.b * g.b);
    char what[96];
    snprintf(what, sizeof what, "Gamma(%g, %g) guide: d loss / d log a", g.a, g.b);
    expect_grad(what, m[0], se[0], g.a * da);
    snprintf(what, sizeof what, "Gamma(%g, %g) guide: d loss / d log b", g.a, g.b);
    expect_grad(what, m[1], se[1], g.b * db);
}

static void test_gamma_guide(void **state) {
    (void)state;
    gamma_case(201, (gamma_args){2.5, 1.5, 3.0, 2.0});
    gamma_case(202, (gamma_args){0.4, 3.0, 1.0, 1.0}); /* a < 1: the boosted draw */
    gamma_case(203, (gamma_args){60.0, 5.0, 40.0, 4.0});
}

/* ---- Dirichlet ------------------------------------------------------------------------------ */

typedef struct dir_args { float a[3], b[3]; } dir_args;

static tre_tensor *dir_model(tre_ctx *c, const void *args) {
    const dir_args *d = args;
    return tre_sample(c, "w", tre_dirichlet(c, tre_from_host(c, 1, 1, (const int64_t[]){3}, d->b)), NULL);
}
static tre_tensor *dir_guide(tre_ctx *c, const void *args) {
    const dir_args *d = args;
    tre_tensor *a = tre_param(c, "q_conc", tre_from_host(c, 1, 1, (const int64_t[]){3}, d->a), TRE_C_POSITIVE);
    return tre_sample(c, "w", tre_dirichlet(c, a), NULL);
}

/* KL(Dir(a) || Dir(b)): d/da_j = (a_j - b_j) trigamma(a_j) - (A - B) trigamma(A) */
static void test_dirichlet_guide(void **state) {
    (void)state;
    dir_args d = {{0.7f, 2.f, 5.f}, {1.f, 1.5f, 3.f}};
    const char *names[3] = {"q_conc", "q_conc", "q_conc"};
    const int elems[3] = {0, 1, 2};
    double m[3], se[3], A = 0.0, B = 0.0;
    estimate(204, dir_model, dir_guide, &d, 3, names, elems, m, se);
    for (int j = 0; j < 3; ++j) {
        A += d.a[j];
        B += d.b[j];
    }
    for (int j = 0; j < 3; ++j) {
        const double dk = (d.a[j] - d.b[j]) * trigamma(d.a[j]) - (A - B) * trigamma(A);
        char what[64];
        snprintf(what, sizeof what, "Dirichlet guide: d loss / d log a_%d", j);
        expect_grad(what, m[j], se[j], d.a[j] * dk);
    }
}

/* ---- Beta ----------------------------------------------------------------------------------- */

typedef struct beta_args { double a, b, a0, b0; } beta_args;

static tre_tensor *beta_model(tre_ctx *c, const void *args) {
    const beta_args *g = args;
    return tre_sample(c, "x", tre_beta(c, tre_scalar(c, (float)g->a0), tre_scalar(c, (float)g->b0)), NULL);
}
static tre_tensor *beta_guide(tre_ctx *c, const void *args) {
    const beta_args *g = args;
    tre_tensor *a = tre_param(c, "q_a", tre_scalar(c, (float)g->a), TRE_C_POSITIVE);
    tre_tensor *b = tre_param(c, "q_b", tre_scalar(c, (float)g->b), TRE_C_POSITIVE);
    return tre_sample(c, "x", tre_beta(c, a, b), NULL);
}

/* KL(Beta(a, b) || Beta(a0, b0)): d/da = (a - a0) trigamma(a) - (a + b - a0 - b0) trigamma(a + b),
 * and symmetrically in b (the implicit gradient of the Beta draw, kernels/math/beta.h) */
static void beta_case(uint64_t seed, beta_args g) {
    const char *names[2] = {"q_a", "q_b"};
    const int elems[2] = {0, 0};
    double m[2], se[2];
    estimate(seed, beta_model, beta_guide, &g, 2, names, elems, m, se);
    const double tab = trigamma(g.a + g.b), ds = g.a + g.b - g.a0 - g.b0;
    char what[96];
    snprintf(what, sizeof what, "Beta(%g, %g) guide: d loss / d log a", g.a, g.b);
    expect_grad(what, m[0], se[0], g.a * ((g.a - g.a0) * trigamma(g.a) - ds * tab));
    snprintf(what, sizeof what, "Beta(%g, %g) guide: d loss / d log b", g.a, g.b);
    expect_grad(what, m[1], se[1], g.b * ((g.b - g.b0) * trigamma(g.b) - ds * tab));
}

static void test_beta_guide(void **state) {
    (void)state;
    beta_case(205, (beta_args){2.0, 3.0, 1.0, 1.0});
    beta_case(206, (beta_args){0.4, 0.7, 2.0, 2.0});
    beta_case(207, (beta_args){40.0, 15.0, 30.0, 20.0});
}

/* ---- StudentT ------------------------------------------------------------------------------- */

typedef struct t_args { double df, loc, scale; } t_args;

static tre_tensor *t_model(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
}
static tre_tensor *t_guide(tre_ctx *c, const void *args) {
    const t_args *g = args;
    tre_tensor *df = tre_param(c, "q_df", tre_scalar(c, (float)g->df), TRE_C_POSITIVE);
    tre_tensor *loc = tre_param(c, "q_loc", tre_scalar(c, (float)g->loc), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "q_scale", tre_scalar(c, (float)g->scale), TRE_C_POSITIVE);
    return tre_sample(c, "z", tre_student_t(c, df, loc, scale), NULL);
}

/* entropy of StudentT(df, 0, 1) */
static double t_entropy(double df) {
    return 0.5 * (df + 1.0) * (tre_digamma(0.5 * (df + 1.0)) - tre_digamma(0.5 * df)) + 0.5 * log(df) +
           tre_lbeta(0.5 * df, 0.5);
}

/* StudentT guide against a Normal(0, 1) model: loss = E[z^2]/2 + log(2 pi)/2 - H(q), with
 * E[z^2] = loc^2 + scale^2 df / (df - 2) and H(q) = H(df) + log scale; so
 * d/d log df = df (-scale^2 / (df - 2)^2 - H'(df)), d/dloc = loc,
 * d/d log scale = scale^2 df / (df - 2) - 1. H' by a central difference (relative error ~1e-9). */
static void test_student_t_guide(void **state) {
    (void)state;
    const t_args g = {8.0, 0.6, 1.3};
    const char *names[3] = {"q_df", "q_loc", "q_scale"};
    const int elems[3] = {0, 0, 0};
    double m[3], se[3];
    estimate(208, t_model, t_guide, &g, 3, names, elems, m, se);
    const double h = 1e-5 * g.df, dH = (t_entropy(g.df + h) - t_entropy(g.df - h)) / (2.0 * h);
    const double s2 = g.scale * g.scale;
    expect_grad("StudentT guide: d loss / d log df", m[0], se[0],
                g.df * (-s2 / ((g.df - 2.0) * (g.df - 2.0)) - dH));
    expect_grad("StudentT guide: d loss / d loc", m[1], se[1], g.loc);
    expect_grad("StudentT guide: d loss / d log scale", m[2], se[2], s2 * g.df / (g.df - 2.0) - 1.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gamma_guide),
        cmocka_unit_test(test_dirichlet_guide),
        cmocka_unit_test(test_beta_guide),
        cmocka_unit_test(test_student_t_guide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
