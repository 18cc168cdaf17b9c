/* Analytic KLs between two families (Laplace || Normal, Normal || Laplace, Gamma || Normal,
 * Beta || Uniform, Uniform || Normal): each against its closed form -H(p) - E_p[log q]
 * evaluated in double here, and against a Monte Carlo estimate E_p[log p(x) - log q(x)] from
 * the library's own draws and log-densities (within 4 standard errors, fixed seeds); with
 * batch shapes broadcast either way, per-particle parameters, to_event, and Beta || Uniform's
 * +inf where [0, 1] is not inside [low, high]. Then TraceMeanField_ELBO through these KLs: with
 * no observations its estimate is exactly -KL(guide || prior) (the Monte Carlo fallback would
 * not be), and its gradients match central finite differences of the double closed form. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "test_support.h"

#define NDRAW 400000
#define PI 3.14159265358979323846

/* digamma in double: recurrence up to x >= 6, then the asymptotic series */
static double digamma_d(double x) {
    double r = 0.0;
    for (; x < 6.0; x += 1.0) r -= 1.0 / x;
    const double f = 1.0 / (x * x);
    return r + log(x) - 0.5 / x -
           f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

/* The closed forms, each -H(p) - E_p[log q] (see the derivations beside the pair functions) */
static double kl_laplace_normal(double m1, double b1, double m2, double s2) {
    /* H = 1 + log(2 b1); E (x - m2)^2 = 2 b1^2 + (m1 - m2)^2 */
    const double ex2 = 2 * b1 * b1 + (m1 - m2) * (m1 - m2);
    return -(1 + log(2 * b1)) + log(s2) + 0.5 * log(2 * PI) + ex2 / (2 * s2 * s2);
}
static double kl_normal_laplace(double m1, double s1, double m2, double b2) {
    /* H = (1 + log(2 pi s1^2)) / 2; E|x - m2| of the folded normal */
    const double d = m1 - m2;
    const double eabs = s1 * sqrt(2 / PI) * exp(-d * d / (2 * s1 * s1)) + d * erf(d / (s1 * sqrt(2.0)));
    return -0.5 * (1 + log(2 * PI * s1 * s1)) + log(2 * b2) + eabs / b2;
}
static double kl_gamma_normal(double a, double r, double m, double s) {
    const double h = a - log(r) + lgamma(a) + (1 - a) * digamma_d(a);
    const double ex2 = a / (r * r) + (a / r - m) * (a / r - m);
    return -h + log(s) + 0.5 * log(2 * PI) + ex2 / (2 * s * s);
}
static double kl_beta_uniform(double a, double b, double lo, double hi) {
    if (lo > 0 || hi < 1) return INFINITY;
    const double h = lgamma(a) + lgamma(b) - lgamma(a + b) - (a - 1) * digamma_d(a) -
                     (b - 1) * digamma_d(b) + (a + b - 2) * digamma_d(a + b);
    return -h + log(hi - lo);
}
static double kl_uniform_normal(double lo, double hi, double m, double s) {
    const double w = hi - lo, c = 0.5 * (lo + hi) - m;
    return -log(w) + log(s) + 0.5 * log(2 * PI) + (w * w / 12 + c * c) / (2 * s * s);
}

typedef tre_dist *(*make_fn)(tre_ctx *, const tre_tensor *, const tre_tensor *);
typedef double (*exact_fn)(double, double, double, double);
typedef struct pair {
    const char *name;
    make_fn p, q;
    exact_fn exact;
    /* p's params [2, 3] and q's [2, 3] (rows broadcast as each check needs), all in support
     * and, for Beta || Uniform, with [0, 1] inside q's bounds */
    float pa[6], pb[6], qa[6], qb[6];
} pair;

static const pair pairs[] = {
    {"Laplace || Normal", tre_laplace, tre_normal, kl_laplace_normal,
     {0.3f, -1.f, 2.f, 0.f, 5.f, -0.4f}, {0.7f, 2.f, 0.1f, 1.f, 0.5f, 3.f},
     {0.5f, 3.f, 2.f, -2.f, 0.f, 0.1f}, {2.f, 0.5f, 0.3f, 1.5f, 4.f, 1.f}},
    {"Normal || Laplace", tre_normal, tre_laplace, kl_normal_laplace,
     {0.3f, -1.f, 2.f, 0.f, 5.f, -0.4f}, {0.7f, 2.f, 0.1f, 1.f, 0.5f, 3.f},
     {0.5f, 3.f, 2.f, -2.f, 0.f, 0.1f}, {2.f, 0.5f, 0.3f, 1.5f, 4.f, 1.f}},
    {"Gamma || Normal", tre_gamma, tre_normal, kl_gamma_normal,
     {2.f, 0.3f, 30.f, 1.f, 5.f, 0.8f}, {3.f, 0.5f, 5.f, 1.f, 0.2f, 2.f},
     {0.5f, -1.f, 6.f, 1.f, 20.f, 0.f}, {2.f, 0.7f, 1.f, 1.5f, 10.f, 0.5f}},
    {"Beta || Uniform", tre_beta, tre_uniform, kl_beta_uniform,
     {2.f, 0.5f, 30.f, 1.f, 4.f, 0.8f}, {5.f, 0.5f, 10.f, 1.f, 0.7f, 2.f},
     {-0.5f, 0.f, -3.f, 0.f, -1.f, -0.1f}, {1.f, 1.f, 2.f, 1.5f, 1.f, 4.f}},
    {"Uniform || Normal", tre_uniform, tre_normal, kl_uniform_normal,
     {0.3f, -3.f, 2.f, -0.5f, 5.f, -0.4f}, {1.f, 4.f, 2.1f, 0.5f, 9.f, 3.f},
     {0.5f, 1.f, 2.f, -2.f, 0.f, 0.1f}, {2.f, 0.5f, 0.3f, 1.5f, 4.f, 1.f}},
};
enum { NPAIRS = sizeof pairs / sizeof *pairs };

static tre_tensor *t2(tre_ctx *ctx, const float *v) { return tre_from_host(ctx, 1, 2, (const int64_t[]){2, 3}, v); }
static tre_tensor *t1(tre_ctx *ctx, const float *v) { return tre_from_host(ctx, 1, 1, (const int64_t[]){3}, v); }
/* two particles of shape [3] */
static tre_tensor *tp(tre_ctx *ctx, const float *v) { return tre_from_host(ctx, 2, 1, (const int64_t[]){3}, v); }

/* the float32 evaluation against the double closed form (+inf exactly where it is +inf) */
static void check_exact(const char *what, int64_t i, float got, double want) {
    if (isinf(want)) {
        if (!(isinf(got) && got > 0)) fail_msg("%s[%lld]: KL %.6g, want +inf", what, (long long)i, got);
        return;
    }
    if (!(fabs(got - want) <= 2e-5 * (1 + fabs(want))))
        fail_msg("%s[%lld]: KL %.9g, closed form in double %.9g", what, (long long)i, got, want);
    if (!(want >= 0)) fail_msg("%s[%lld]: closed form %.6g is negative", what, (long long)i, want);
}

/* kl (extent 1, [2, 3]) against mean(log p(x) - log q(x)), x ~ p expanded to [2, 3]: within 4
 * standard errors plus 1e-5 relative for the float32 evaluation */
static void check_mc(tre_ctx *ctx, const char *what, const tre_dist *p, const tre_dist *q,
                     const tre_tensor *kl) {
    const tre_dist *pe = tre_dist_expand(ctx, p, kl->ndim, kl->shape);
    tre_tensor *x = tre_dist_sample(ctx, pe, NDRAW);
    tre_tensor *lp = tre_dist_log_prob(ctx, pe, x), *lq = tre_dist_log_prob(ctx, q, x);
    if (!lp || !lq) fail_msg("%s: log_prob: %s", what, tre_ctx_error(ctx));
    const int64_t b = kl->numel;
    assert_int_equal(lp->numel, b);
    assert_int_equal(lq->numel, b);
    const float *hk = tt_host(ctx, kl, 0), *hp = tt_host(ctx, lp, 1), *hq = tt_host(ctx, lq, 2);
    for (int64_t i = 0; i < b; ++i) {
        double s = 0, s2 = 0;
        for (int64_t n = 0; n < NDRAW; ++n) {
            const double d = (double)hp[n * b + i] - (double)hq[n * b + i];
            s += d;
            s2 += d * d;
        }
        const double mean = s / NDRAW, se = sqrt(fmax(s2 / NDRAW - mean * mean, 0.0) / NDRAW);
        if (!(fabs(mean - hk[i]) <= 4 * se + 1e-5 * (1 + fabs(hk[i]))))
            fail_msg("%s[%lld]: KL %.6f, Monte Carlo %.6f +- %.6f", what, (long long)i, hk[i], mean, se);
    }
}

/* p [2, 3] || q [3], then p [3] || q [2, 3]: the registry's entry, the closed form, Monte Carlo */
static void test_values_broadcast(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(211);
    for (int k = 0; k < NPAIRS; ++k) {
        const pair *c = &pairs[k];
        for (int flip = 0; flip < 2; ++flip) {
            char what[64];
            snprintf(what, sizeof what, "%s (%s)", c->name, flip ? "p [3], q [2, 3]" : "p [2, 3], q [3]");
            tre_dist *p = flip ? c->p(ctx, t1(ctx, c->pa), t1(ctx, c->pb)) : c->p(ctx, t2(ctx, c->pa), t2(ctx, c->pb));
            tre_dist *q = flip ? c->q(ctx, t2(ctx, c->qa), t2(ctx, c->qb)) : c->q(ctx, t1(ctx, c->qa), t1(ctx, c->qb));
            if (!p || !q) fail_msg("%s: %s", what, tre_ctx_error(ctx));
            assert_true(tre_kl_exists(p, q));
            tre_tensor *kl = tre_kl_divergence(ctx, p, q);
            if (!kl) fail_msg("%s: kl_divergence: %s", what, tre_ctx_error(ctx));
            assert_int_equal(kl->particles, 1);
            assert_int_equal(kl->ndim, 2);
            assert_int_equal(kl->shape[0], 2);
            assert_int_equal(kl->shape[1], 3);
            const float *h = tt_host(ctx, kl, 0);
            for (int i = 0; i < 6; ++i) {
                const int ip = flip ? i % 3 : i, iq = flip ? i : i % 3;
                check_exact(what, i, h[i], c->exact(c->pa[ip], c->pb[ip], c->qa[iq], c->qb[iq]));
            }
            check_mc(ctx, what, p, q, kl);
        }
    }
    tre_ctx_destroy(ctx);
}

/* per-particle parameters on both sides (p's first, q's second; the others shared [3]), and
 * to_event(1) summing the last dim */
static void test_particles_and_to_event(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(212);
    for (int k = 0; k < NPAIRS; ++k) {
        const pair *c = &pairs[k];
        /* Uniform || Normal keeps low < high: p's per-particle low below the shared high */
        float pa[6];
        for (int i = 0; i < 6; ++i) pa[i] = c->exact == kl_uniform_normal ? c->pa[i % 3] - 0.5f * (float)(i / 3) : c->pa[i];
        tre_dist *p = c->p(ctx, tp(ctx, pa), t1(ctx, c->pb));
        tre_dist *q = c->q(ctx, t1(ctx, c->qa), tp(ctx, c->qb));
        if (!p || !q) fail_msg("%s: %s", c->name, tre_ctx_error(ctx));
        tre_tensor *kl = tre_kl_divergence(ctx, p, q);
        if (!kl) fail_msg("%s: kl_divergence: %s", c->name, tre_ctx_error(ctx));
        assert_int_equal(kl->particles, 2);
        assert_int_equal(kl->numel, 3);
        const float *h = tt_host(ctx, kl, 0);
        double sums[2] = {0, 0};
        for (int i = 0; i < 6; ++i) {
            const int j = i % 3;
            const double want = c->exact(pa[i], c->pb[j], c->qa[j], c->qb[i]);
            check_exact(c->name, i, h[i], want);
            sums[i / 3] += want;
        }
        tre_tensor *ke = tre_kl_divergence(ctx, tre_dist_to_event(ctx, p, 1), tre_dist_to_event(ctx, q, 1));
        if (!ke) fail_msg("%s to_event: %s", c->name, tre_ctx_error(ctx));
        assert_int_equal(ke->particles, 2);
        assert_int_equal(ke->ndim, 0);
        const float *he = tt_host(ctx, ke, 1);
        for (int s = 0; s < 2; ++s) check_exact(c->name, s, he[s], sums[s]);
    }
    tre_ctx_destroy(ctx);
}

/* Beta || Uniform is +inf exactly where low > 0 or high < 1 (bounds 0 and 1 themselves are
 * inside), elementwise in a batch with finite elements, and broadcast against p's batch */
static void test_beta_uniform_outside_support(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(213);
    const float a[6] = {2.f, 0.5f, 3.f, 1.f, 4.f, 0.8f}, b[6] = {5.f, 0.5f, 3.f, 1.f, 0.7f, 2.f};
    const float lo[6] = {0.f, 0.1f, -1.f, 1e-6f, -2.f, 0.f}, hi[6] = {1.f, 1.f, 0.9f, 2.f, 0.999f, 1.5f};
    tre_dist *p = tre_beta(ctx, t2(ctx, a), t2(ctx, b));
    tre_dist *q = tre_uniform(ctx, t2(ctx, lo), t2(ctx, hi));
    tre_tensor *kl = tre_kl_divergence(ctx, p, q);
    if (!kl) fail_msg("kl_divergence: %s", tre_ctx_error(ctx));
    const float *h = tt_host(ctx, kl, 0);
    for (int i = 0; i < 6; ++i) check_exact("Beta || Uniform", i, h[i], kl_beta_uniform(a[i], b[i], lo[i], hi[i]));
    assert_true(isinf(h[1]) && isinf(h[2]) && isinf(h[3]) && isinf(h[4]));
    assert_true(isfinite(h[0]) && isfinite(h[5]));
    /* Beta(1, 1) || Uniform(0, 1): the same distribution */
    tre_tensor *one = tre_scalar(ctx, 1.f), *zero = tre_scalar(ctx, 0.f);
    tre_tensor *same = tre_kl_divergence(ctx, tre_beta(ctx, one, one), tre_uniform(ctx, zero, one));
    TT_NEAR(tt_at(ctx, same, 0), 0.0, 1e-6);
    /* one q outside, broadcast over p [2, 3]: every element +inf */
    tre_tensor *all = tre_kl_divergence(ctx, p, tre_uniform(ctx, tre_scalar(ctx, 0.25f), one));
    assert_non_null(all);
    assert_int_equal(all->numel, 6);
    const float *ha = tt_host(ctx, all, 1);
    for (int i = 0; i < 6; ++i) assert_true(isinf(ha[i]) && ha[i] > 0);
    tre_ctx_destroy(ctx);
}

/* tre_kl_exists for the new pairs (so TraceMeanField_ELBO takes their closed forms); the
 * reversed Normal || Gamma and Uniform || Beta still have none here. */
static void test_kl_exists(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(214);
    tre_tensor *one = tre_scalar(ctx, 1.f), *two = tre_scalar(ctx, 2.f), *zero = tre_scalar(ctx, 0.f);
    tre_dist *n = tre_normal(ctx, zero, one), *l = tre_laplace(ctx, zero, one), *g = tre_gamma(ctx, two, one);
    tre_dist *b = tre_beta(ctx, two, two), *u = tre_uniform(ctx, zero, one);
    assert_true(tre_kl_exists(l, n));
    assert_true(tre_kl_exists(n, l));
    assert_true(tre_kl_exists(g, n));
    assert_true(tre_kl_exists(b, u));
    assert_true(tre_kl_exists(u, n));
    assert_false(tre_kl_exists(n, g) || tre_kl_exists(u, b));
    /* to_event dims must agree, as for the pairs of one family */
    assert_false(tre_kl_exists(tre_dist_to_event(ctx, tre_dist_expand(ctx, l, 1, (const int64_t[]){3}), 1), n));
    assert_null(tre_kl_divergence(ctx, n, g));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_UNSUPPORTED);
    tre_ctx_destroy(ctx);
}

/* TraceMeanField_ELBO with guide p(qa, qb) and prior q(prior_a, prior_b) at site "x" */
typedef struct grad_case {
    const pair *pair;
    tre_constraint ca, cb;
    float init_a, init_b;
    bool width; /* the guide's second parameter is qa + qb (Uniform: high = low + width) */
    float prior_a, prior_b;
} grad_case;

static tre_tensor *case_model(tre_ctx *c, const void *args) {
    const grad_case *g = args;
    return tre_sample(c, "x", g->pair->q(c, tre_scalar(c, g->prior_a), tre_scalar(c, g->prior_b)), NULL);
}
static tre_tensor *case_guide(tre_ctx *c, const void *args) {
    const grad_case *g = args;
    tre_tensor *a = tre_param(c, "qa", tre_scalar(c, g->init_a), g->ca);
    tre_tensor *b = tre_param(c, "qb", tre_scalar(c, g->init_b), g->cb);
    return tre_sample(c, "x", g->pair->p(c, a, g->width ? tre_add(c, a, b) : b), NULL);
}

static double constrain(tre_constraint c, double u) { return c.kind == TRE_POSITIVE ? exp(u) : u; }
/* the KL in double as a function of the unconstrained params */
static double kl_at(const grad_case *g, double ua, double ub) {
    const double a = constrain(g->ca, ua), b = constrain(g->cb, ub);
    return g->pair->exact(a, g->width ? a + b : b, g->prior_a, g->prior_b);
}

static void check_grad(const grad_case *g) {
    const char *what = g->pair->name;
    tre_ctx *ctx = tt_ctx(215);
    for (int run = 0; run < 2; ++run) { /* two draws: the estimate is -KL whatever was drawn */
        tre_elbo_result r;
        TT_OK(ctx, tre_elbo(ctx, case_model, case_guide, g, &(tre_elbo_opts){.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 1, .grad = true}, &r));
        float u[2], grad[2];
        const char *names[2] = {"qa", "qb"};
        for (int i = 0; i < 2; ++i) {
            const tre_param_entry *e = tre_param_store_get(ctx, names[i]);
            assert_non_null(e);
            TT_OK(ctx, tre_tensor_to_host(ctx, e->unconstrained, &u[i], 1));
            TT_OK(ctx, tre_tensor_to_host(ctx, e->grad, &grad[i], 1));
        }
        const double kl = kl_at(g, u[0], u[1]);
        if (!(fabs(r.mean + kl) <= 2e-5 * (1 + kl)))
            fail_msg("%s: TraceMeanField_ELBO %.9g, -KL %.9g (Monte Carlo term instead of the closed form?)",
                     what, r.mean, -kl);
        for (int i = 0; i < 2; ++i) {
            const double h = 1e-5;
            const double num = i == 0 ? (kl_at(g, u[0] + h, u[1]) - kl_at(g, u[0] - h, u[1])) / (2 * h)
                                      : (kl_at(g, u[0], u[1] + h) - kl_at(g, u[0], u[1] - h)) / (2 * h);
            print_message("%s: d loss / d %s = %.7f, finite differences %.7f\n", what, names[i], grad[i], num);
            TT_NEAR(grad[i], num, 1e-4 * (1 + fabs(num)));
        }
    }
    tre_ctx_destroy(ctx);
}

static void test_meanfield_gradients(void **state) {
    (void)state;
    const grad_case cases[] = {
        {&pairs[0], TRE_C_REAL, TRE_C_POSITIVE, 0.3f, 0.7f, false, 0.5f, 2.f},
        {&pairs[1], TRE_C_REAL, TRE_C_POSITIVE, 0.3f, 0.7f, false, 0.9f, 1.5f},
        {&pairs[2], TRE_C_POSITIVE, TRE_C_POSITIVE, 2.5f, 1.3f, false, 1.5f, 0.8f},
        {&pairs[3], TRE_C_POSITIVE, TRE_C_POSITIVE, 1.3f, 0.7f, false, -0.5f, 1.5f},
        {&pairs[4], TRE_C_REAL, TRE_C_POSITIVE, 0.3f, 0.7f, true, 0.2f, 1.7f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) check_grad(&cases[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_broadcast),
        cmocka_unit_test(test_particles_and_to_event),
        cmocka_unit_test(test_beta_uniform_outside_support),
        cmocka_unit_test(test_kl_exists),
        cmocka_unit_test(test_meanfield_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
