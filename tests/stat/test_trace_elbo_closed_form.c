/* Trace_ELBO against the closed-form ELBO of a conjugate Normal model: within 4 standard errors
 * at P = 100000, and a standard error that shrinks as 1/sqrt(P). */
#include <math.h>
#include <string.h>
#include "test_support.h"

#define N 20
static const double m0 = 0.5, s0 = 2.0, s = 1.3; /* prior N(m0, s0), likelihood N(mu, s) */
static const double qa = 1.1, qb = 0.4;          /* guide N(qa, qb) */

typedef struct data { tre_tensor *x; } data;

static tre_tensor *model(tre_ctx *c, const void *args) {
    const data *d = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, (float)m0), tre_scalar(c, (float)s0)), NULL);
    tre_plate(c, "data", N, 0);
    tre_sample(c, "obs", tre_normal(c, mu, tre_scalar(c, (float)s)), d->x);
    tre_plate_end(c);
    return mu;
}

static tre_tensor *guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *loc = tre_param(c, "q_loc", tre_scalar(c, (float)qa), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "q_scale", tre_scalar(c, (float)qb), TRE_C_POSITIVE);
    return tre_sample(c, "mu", tre_normal(c, loc, scale), NULL);
}

static double closed_form_elbo(const float *x) {
    const double log2pi = log(2.0 * 3.14159265358979323846);
    double e = 0.0;
    for (int i = 0; i < N; ++i)
        e += -0.5 * log2pi - log(s) - ((x[i] - qa) * (x[i] - qa) + qb * qb) / (2 * s * s);
    e += -0.5 * log2pi - log(s0) - ((qa - m0) * (qa - m0) + qb * qb) / (2 * s0 * s0);
    e -= -0.5 * log2pi - log(qb) - 0.5; /* E_q log q */
    return e;
}

static void test_matches_closed_form_and_stderr_scales(void **state) {
    (void)state;
    float x[N];
    for (int i = 0; i < N; ++i) x[i] = (float)(0.7 + 0.9 * sin(1.7 * i));
    tre_ctx *ctx = tt_ctx(2024);
    int64_t n = N;
    data d = {NULL};
    TT_OK(ctx, tre_tensor_create(ctx, &d.x, TRE_F32, 1, 1, &n, x));
    double exact = closed_form_elbo(x);

    tre_elbo_result big, small;
    TT_OK(ctx, tre_elbo(ctx, model, guide, &d, &(tre_elbo_opts){.num_particles = 100000}, &big));
    double z = (big.mean - exact) / big.stderr_;
    print_message("P=100000: ELBO %.5f +- %.5f, closed form %.5f, z = %.2f\n", big.mean,
                  big.stderr_, exact, z);
    assert_true(fabs(z) < 4.0);

    /* SE(P=1000) / SE(P=100000) should be sqrt(100) = 10; averaged over 20 repetitions of the
     * small run the ratio is within a few percent. */
    double se_small = 0.0;
    for (int rep = 0; rep < 20; ++rep) {
        TT_OK(ctx, tre_elbo(ctx, model, guide, &d, &(tre_elbo_opts){.num_particles = 1000}, &small));
        se_small += small.stderr_ / 20.0;
    }
    double ratio = se_small / big.stderr_;
    print_message("stderr ratio P=1000 / P=100000: %.3f (expected 10)\n", ratio);
    assert_true(ratio > 9.0 && ratio < 11.0);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_closed_form_and_stderr_scales),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
