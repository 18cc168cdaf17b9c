/* Trace_ELBO gradients against the closed-form gradient of a conjugate Normal model's ELBO:
 * pathwise (Normal guide) averaged over many particles, within 4 standard errors. */
#include <math.h>
#include <string.h>
#include "test_support.h"

#define N 10
static const double m0 = 0.3, s0 = 1.5, s = 0.8, qa = 0.9, qb = 0.35;

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

static float grad_of(tre_ctx *ctx, const char *name) {
    const tre_param_entry *e = tre_param_store_get(ctx, name);
    assert_non_null(e);
    assert_non_null(e->grad);
    float v;
    TT_OK(ctx, tre_tensor_to_host(ctx, e->grad, &v, 1));
    return v;
}

static void test_pathwise_gradient_matches_closed_form(void **state) {
    (void)state;
    float x[N];
    double sx = 0;
    for (int i = 0; i < N; ++i) {
        x[i] = (float)(1.0 + 0.7 * cos(2.1 * i));
        sx += x[i];
    }
    /* d ELBO / d a and d ELBO / d log b in closed form; the loss is -ELBO */
    double dE_da = (sx - N * qa) / (s * s) - (qa - m0) / (s0 * s0);
    double dE_db = -N * qb / (s * s) - qb / (s0 * s0) + 1.0 / qb;
    double want_loc = -dE_da, want_u = -dE_db * qb;

    tre_ctx *ctx = tt_ctx(99);
    int64_t n = N;
    data d = {NULL};
    TT_OK(ctx, tre_tensor_create(ctx, &d.x, TRE_F32, 1, 1, &n, x));
    /* repeated evaluations at P particles give independent gradient estimates */
    enum { REPS = 40, P = 2000 };
    double gl[REPS], gu[REPS], ml = 0, mu = 0;
    for (int r = 0; r < REPS; ++r) {
        tre_elbo_result res;
        TT_OK(ctx, tre_elbo(ctx, model, guide, &d, &(tre_elbo_opts){.num_particles = P, .grad = true}, &res));
        gl[r] = grad_of(ctx, "q_loc");
        gu[r] = grad_of(ctx, "q_scale");
        ml += gl[r] / REPS;
        mu += gu[r] / REPS;
    }
    double vl = 0, vu = 0;
    for (int r = 0; r < REPS; ++r) {
        vl += (gl[r] - ml) * (gl[r] - ml) / (REPS - 1);
        vu += (gu[r] - mu) * (gu[r] - mu) / (REPS - 1);
    }
    double sel = sqrt(vl / REPS), seu = sqrt(vu / REPS);
    print_message("d loss/d q_loc %.5f +- %.5f (closed form %.5f); d loss/d log q_scale %.5f +- %.5f (%.5f)\n",
                  ml, sel, want_loc, mu, seu, want_u);
    assert_true(fabs(ml - want_loc) < 4 * sel + 1e-4);
    assert_true(fabs(mu - want_u) < 4 * seu + 1e-4);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pathwise_gradient_matches_closed_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
