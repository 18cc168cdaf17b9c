/* Subsampled plates in training: with a minibatch of 10 of 100 observations drawn per step
 * (the plate's indices gather the data, its scale is 100/10), the gradient averaged over steps
 * matches the full-data closed-form gradient within 4 standard errors, and the ELBO estimate
 * stays unbiased. */
#include <math.h>
#include "tt_conjugate.h"

typedef struct sub { tt_conj c; int64_t batch; } sub;

static tre_tensor *sub_model(tre_ctx *ctx, const void *args) {
    const sub *s = args;
    tre_tensor *mu = tre_sample(ctx, "mu", tre_normal(ctx, tre_scalar(ctx, (float)s->c.m0), tre_scalar(ctx, (float)s->c.s0)), NULL);
    tre_tensor *idx = tre_plate(ctx, "data", s->c.n, s->batch);
    tre_tensor *x = tre_index_select(ctx, s->c.data, -1, idx);
    tre_sample(ctx, "obs", tre_normal(ctx, mu, tre_scalar(ctx, (float)s->c.s)), x);
    tre_plate_end(ctx);
    return mu;
}

static tre_tensor *sub_guide(tre_ctx *ctx, const void *args) {
    const sub *s = args;
    tre_plate(ctx, "data", s->c.n, s->batch); /* the guide draws the minibatch; replay shares it */
    tre_plate_end(ctx);
    return tt_conj_guide(ctx, &s->c);
}

static void test_minibatch_gradient_is_unbiased(void **state) {
    (void)state;
    float x[100];
    for (int i = 0; i < 100; ++i) x[i] = (float)(1.0 + 1.3 * sin(0.61 * i) + 0.002 * i * i);
    sub s = {.c = {.m0 = 0.0, .s0 = 2.0, .s = 1.0, .qa = 0.4, .qb = 0.3, .n = 100, .x = x}, .batch = 10};
    double dE_da, dE_dlogb;
    tt_conj_elbo_grad(&s.c, s.c.qa, s.c.qb, &dE_da, &dE_dlogb);
    double exact = tt_conj_elbo(&s.c, s.c.qa, s.c.qb);
    tre_ctx *ctx = tt_ctx(31);
    tt_conj_setup(ctx, &s.c);
    enum { STEPS = 2000 };
    double m = 0, m2 = 0, e = 0, e2 = 0;
    for (int k = 0; k < STEPS; ++k) {
        tre_elbo_result r;
        TT_OK(ctx, tre_elbo(ctx, sub_model, sub_guide, &s, &(tre_elbo_opts){.num_particles = 64, .grad = true}, &r));
        float g;
        TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "q_loc")->grad, &g, 1));
        m += g / STEPS;
        m2 += (double)g * g / STEPS;
        e += r.mean / STEPS;
        e2 += r.mean * r.mean / STEPS;
    }
    double se = sqrt((m2 - m * m) / (STEPS - 1)), see = sqrt((e2 - e * e) / (STEPS - 1));
    print_message("minibatch d loss/d q_loc %.4f +- %.4f (full data %.4f); ELBO %.3f +- %.3f (%.3f)\n", m, se,
                  -dE_da, e, see, exact);
    assert_true(fabs(m + dE_da) < 4 * se);
    assert_true(fabs(e - exact) < 4 * see);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minibatch_gradient_is_unbiased),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
