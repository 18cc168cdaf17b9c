/* SVI with Adam on a conjugate Normal model: the Normal guide reaches the exact posterior mean
 * and scale within 2%. */
#include <math.h>
#include "test_support.h"

#define N 50
static const double m0 = 0.0, s0 = 3.0, s = 1.0;

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
    tre_tensor *loc = tre_param(c, "q_loc", tre_scalar(c, 0.f), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "q_scale", tre_scalar(c, 1.f), TRE_C_POSITIVE);
    return tre_sample(c, "mu", tre_normal(c, loc, scale), NULL);
}

static double constrained(tre_ctx *ctx, const char *name) {
    tre_tensor *v = tre_param_constrained(ctx, tre_param_store_get(ctx, name));
    return tt_at(ctx, v, 0);
}

static void test_guide_reaches_posterior(void **state) {
    (void)state;
    float x[N];
    double sx = 0;
    for (int i = 0; i < N; ++i) {
        x[i] = (float)(2.0 + sin(0.37 * i * i));
        sx += x[i];
    }
    double prec = 1 / (s0 * s0) + N / (s * s);
    double post_mean = (m0 / (s0 * s0) + sx / (s * s)) / prec, post_sd = sqrt(1 / prec);
    tre_ctx *ctx = tt_ctx(11);
    int64_t n = N;
    data d = {NULL};
    TT_OK(ctx, tre_tensor_create(ctx, &d.x, TRE_F32, 1, 1, &n, x));
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.05, .lrd = 0.9985, .clip_norm = 10}, &opt));
    double loss = 0;
    for (int step = 0; step < 3000; ++step)
        TT_OK(ctx, tre_svi_step(ctx, model, guide, &d, &(tre_elbo_opts){.num_particles = 256}, opt, &loss));
    tre_ctx_step_reset(ctx);
    double loc = constrained(ctx, "q_loc"), sd = constrained(ctx, "q_scale");
    print_message("posterior %.5f +- %.5f, guide %.5f +- %.5f, final loss %.4f\n", post_mean, post_sd,
                  loc, sd, loss);
    assert_true(fabs(loc - post_mean) < 0.02 * fabs(post_mean));
    assert_true(fabs(sd - post_sd) < 0.02 * post_sd);
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guide_reaches_posterior),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
