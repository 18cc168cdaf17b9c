/* RenyiELBO per element of the plates common to every site, as Pyro's (get_dependent_plate_dims):
 * with z_n and x_n all in plate "d", the bound is sum_n [logsumexp_s((1 - alpha) e_sn) - log P]
 * / (1 - alpha), e_sn the particle's terms of datum n, not one log-mean-exp of the particle's
 * total (which it must differ from here); its gradient is that bound's derivative at fixed
 * noise (central differences); with a global site outside the plate the bound is whole-particle
 * again, and so it is with an auxiliary guide site outside the plate (trelbo's choice, see
 * renyi_elbo.c). Checked against the bound computed here in double from the drawn particles. */
#include <math.h>
#include "test_support.h"

enum { N = 4, P = 5 };
static const float xs[N] = {0.3f, -1.2f, 2.0f, 0.8f};
static const float zl0[N] = {0.2f, -0.4f, 1.0f, 0.1f}, zs0[N] = {0.7f, 0.8f, 0.6f, 1.1f};

typedef struct rargs {
    bool global;      /* a site g outside the plate in both programs */
    bool aux;         /* an auxiliary site outside the plate in the guide */
    int bump;         /* zl[bump] += delta (finite differences) */
    float delta;
} rargs;

static double normal_lp(double x, double m, double s) {
    return -0.5 * ((x - m) / s) * ((x - m) / s) - log(s) - 0.91893853320467274178;
}

static tre_tensor *model(tre_ctx *c, const void *args) {
    const rargs *a = args;
    tre_tensor *loc = a->global ? tre_sample(c, "g", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL)
                                : tre_scalar(c, 0.f);
    tre_plate(c, "d", N, 0);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, loc, tre_scalar(c, 1.f)), NULL);
    tre_sample(c, "x", tre_normal(c, z, tre_scalar(c, 1.f)), tt_data(c, N, xs));
    tre_plate_end(c);
    return z;
}

static tre_tensor *guide(tre_ctx *c, const void *args) {
    const rargs *a = args;
    float zl[N];
    for (int n = 0; n < N; ++n) zl[n] = zl0[n] + (n == a->bump ? a->delta : 0.f);
    if (a->global) tre_sample(c, "g", tre_normal(c, tre_scalar(c, 0.1f), tre_scalar(c, 0.9f)), NULL);
    if (a->aux) {
        tre_infer inf = {0};
        tre_infer_set(&inf, "is_auxiliary", "true");
        tre_sample_ex(c, "aux", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), &(tre_sample_opts){.infer = &inf});
    }
    tre_tensor *l = tre_param(c, "zl", tre_from_host(c, 1, 1, (int64_t[]){N}, zl), TRE_C_REAL);
    tre_tensor *s = tre_param(c, "zs", tre_from_host(c, 1, 1, (int64_t[]){N}, zs0), TRE_C_POSITIVE);
    tre_plate(c, "d", N, 0);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, l, s), NULL);
    tre_plate_end(c);
    return z;
}

/* [logsumexp_s((1 - alpha) e_s) - log P] / (1 - alpha) over P values e[s * stride] */
static double renyi_bound(double alpha, const double *e, int stride) {
    double top = -INFINITY, acc = 0.0;
    for (int s = 0; s < P; ++s) top = fmax(top, (1 - alpha) * e[s * stride]);
    for (int s = 0; s < P; ++s) acc += exp((1 - alpha) * e[s * stride] - top);
    return (top + log(acc) - log(P)) / (1 - alpha);
}

/* one evaluation from seed 3: the bound, the gradient of zl, and the bounds by both formulas
 * from the drawn particles */
static double evaluate(const rargs *a, double alpha, float *grad_zl, double *per_datum, double *whole) {
    tre_ctx *ctx = tt_ctx(3);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, guide, a,
                        &(tre_elbo_opts){.kind = TRE_RENYI_ELBO, .alpha = alpha, .num_particles = P, .grad = true}, &r));
    if (grad_zl) TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "zl")->grad, grad_zl, N));
    if (per_datum) {
        const float *z = tt_host(ctx, tre_trace_get(r.guide_trace, "z")->msg.value, 0);
        const float *g = a->global ? tt_host(ctx, tre_trace_get(r.guide_trace, "g")->msg.value, 1) : NULL;
        double e[P][N], tot[P];
        for (int s = 0; s < P; ++s) {
            const double loc = g ? g[s] : 0.0;
            tot[s] = g ? normal_lp(g[s], 0, 1) - normal_lp(g[s], 0.1f, 0.9f) : 0.0;
            for (int n = 0; n < N; ++n) {
                const double zz = z[s * N + n];
                e[s][n] = normal_lp(zz, loc, 1) + normal_lp(xs[n], zz, 1) - normal_lp(zz, zl0[n], zs0[n]);
                tot[s] += e[s][n];
            }
        }
        /* the result's particles are each particle's whole elbo_s, whatever the bound sums */
        assert_int_equal(r.num_particles, P);
        for (int s = 0; s < P; ++s) TT_NEAR(r.particles[s], tot[s], 1e-5 * (1 + fabs(tot[s])));
        double b = 0.0;
        for (int n = 0; n < N; ++n) b += renyi_bound(alpha, &e[0][n], N);
        *per_datum = b;
        *whole = renyi_bound(alpha, tot, 1);
    }
    tre_ctx_destroy(ctx);
    return r.mean;
}

static void test_bound_per_datum(void **state) {
    (void)state;
    const double alphas[3] = {0.0, 0.5, 2.0};
    for (int i = 0; i < 3; ++i) {
        const double alpha = alphas[i];
        double per_datum, whole;
        float g[N];
        const rargs a = {.bump = -1};
        const double b = evaluate(&a, alpha, g, &per_datum, &whole);
        TT_NEAR(b, per_datum, 1e-5 * (1 + fabs(per_datum)));
        assert_true(fabs(per_datum - whole) > 1e-3); /* the two formulas differ here */
        /* the gradient is the bound's derivative at fixed noise: d loss / d zl = -d bound / d zl */
        const float h = 1e-2f;
        for (int n = 0; n < N; ++n) {
            const double up = evaluate(&(rargs){.bump = n, .delta = h}, alpha, NULL, NULL, NULL);
            const double down = evaluate(&(rargs){.bump = n, .delta = -h}, alpha, NULL, NULL, NULL);
            const double fd = -(up - down) / (2.0 * h);
            TT_NEAR(g[n], fd, 2e-3 * (1 + fabs(fd)));
        }
    }
}

static void test_global_site_makes_it_whole_particle(void **state) {
    (void)state;
    double per_datum, whole;
    const double b = evaluate(&(rargs){.global = true, .bump = -1}, 0.5, NULL, &per_datum, &whole);
    TT_NEAR(b, whole, 1e-5 * (1 + fabs(whole)));
    assert_true(fabs(per_datum - whole) > 1e-3);
}

/* The bound is one log-mean-exp of the particles' whole elbo_s (which hold -log q(aux)) */
static void test_auxiliary_guide_site_makes_it_whole_particle(void **state) {
    (void)state;
    const double alpha = 0.5;
    tre_ctx *ctx = tt_ctx(4);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, guide, &(rargs){.aux = true, .bump = -1},
                        &(tre_elbo_opts){.kind = TRE_RENYI_ELBO, .alpha = alpha, .num_particles = P}, &r));
    double e[P];
    for (int s = 0; s < P; ++s) e[s] = r.particles[s];
    const double whole = renyi_bound(alpha, e, 1);
    TT_NEAR(r.mean, whole, 1e-5 * (1 + fabs(whole)));
    tre_ctx_destroy(ctx);
}

/* The score-function path per element: z_n ~ Bernoulli(logits phi_n) in the guide (not
 * reparameterized), x_n ~ Normal(2 z_n, 1) observed. Each datum's surrogate gains
 * alpha / (1 - alpha) log q(z_sn), weighted by that datum's normalized weights w_sn, so
 *   d loss / d phi_n = -(1/P) sum_s w_sn alpha / (1 - alpha) (z_sn - sigmoid(phi_n)). */
static const float phi0[N] = {0.3f, -0.6f, 1.2f, 0.0f};

static tre_tensor *bern_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_plate(c, "d", N, 0);
    tre_tensor *z = tre_sample(c, "z", tre_bernoulli_probs(c, tre_scalar(c, 0.4f)), NULL);
    tre_sample(c, "x", tre_normal(c, tre_mul(c, z, tre_scalar(c, 2.f)), tre_scalar(c, 1.f)), tt_data(c, N, xs));
    tre_plate_end(c);
    return z;
}
static tre_tensor *bern_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *phi = tre_param(c, "phi", tre_from_host(c, 1, 1, (int64_t[]){N}, phi0), TRE_C_REAL);
    tre_plate(c, "d", N, 0);
    tre_tensor *z = tre_sample(c, "z", tre_bernoulli_logits(c, phi), NULL);
    tre_plate_end(c);
    return z;
}

static void test_score_function_per_datum(void **state) {
    (void)state;
    const double alpha = 0.5;
    enum { PB = 64 };
    tre_ctx *ctx = tt_ctx(11);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, bern_model, bern_guide, NULL,
                        &(tre_elbo_opts){.kind = TRE_RENYI_ELBO, .alpha = alpha, .num_particles = PB, .grad = true}, &r));
    float g[N];
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "phi")->grad, g, N));
    const float *z = tt_host(ctx, tre_trace_get(r.guide_trace, "z")->msg.value, 0);
    for (int n = 0; n < N; ++n) {
        const double q1 = 1.0 / (1.0 + exp(-(double)phi0[n]));
        double e[PB], m = -INFINITY, acc = 0.0;
        for (int s = 0; s < PB; ++s) {
            const double zz = z[s * N + n];
            e[s] = (zz ? log(0.4) : log(0.6)) + normal_lp(xs[n], 2 * zz, 1) - (zz ? log(q1) : log(1 - q1));
            m = fmax(m, (1 - alpha) * e[s]);
        }
        for (int s = 0; s < PB; ++s) acc += exp((1 - alpha) * e[s] - m);
        const double lmw = m + log(acc) - log(PB);
        double want = 0.0;
        for (int s = 0; s < PB; ++s)
            want -= exp((1 - alpha) * e[s] - lmw) * alpha / (1 - alpha) * (z[s * N + n] - q1) / PB;
        TT_NEAR(g[n], want, 1e-4 * (1 + fabs(want)));
    }
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_per_datum),
        cmocka_unit_test(test_global_site_makes_it_whole_particle),
        cmocka_unit_test(test_auxiliary_guide_site_makes_it_whole_particle),
        cmocka_unit_test(test_score_function_per_datum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
