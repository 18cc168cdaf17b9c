/* SVI with Adam on a conjugate Normal model: the Normal guide reaches the exact posterior mean
 * and scale within 2%. */
#include <math.h>
#include "tt_conjugate.h"

static double constrained(tre_ctx *ctx, const char *name) {
    tre_tensor *v = tre_param_constrained(ctx, tre_param_store_get(ctx, name));
    return tt_at(ctx, v, 0);
}

static void test_guide_reaches_posterior(void **state) {
    (void)state;
    float x[50];
    for (int i = 0; i < 50; ++i) x[i] = (float)(2.0 + sin(0.37 * i * i));
    tt_conj c = {.m0 = 0.0, .s0 = 3.0, .s = 1.0, .qa = 0.0, .qb = 1.0, .n = 50, .x = x};
    double post_mean, post_sd;
    tt_conj_posterior(&c, &post_mean, &post_sd);
    tre_ctx *ctx = tt_ctx(11);
    tt_conj_setup(ctx, &c);
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.05, .lrd = 0.9985, .clip_norm = 10}, &opt));
    double loss = 0;
    for (int step = 0; step < 3000; ++step)
        TT_OK(ctx, tre_svi_step(ctx, tt_conj_model, tt_conj_guide, &c, &(tre_elbo_opts){.num_particles = 256}, opt, &loss));
    tre_ctx_step_reset(ctx);
    double loc = constrained(ctx, "q_loc"), sd = constrained(ctx, "q_scale");
    print_message("posterior %.5f +- %.5f, guide %.5f +- %.5f, final loss %.4f\n", post_mean, post_sd, loc, sd, loss);
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
