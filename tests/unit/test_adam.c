/* Adam and ClippedAdam updates against the formulas, two steps, from gradients computed by a
 * deterministic evaluation (MeanField with no observations: the ELBO is exactly -KL). */
#include <math.h>
#include "test_support.h"

static tre_tensor *model(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
}
static tre_tensor *guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *loc = tre_param(c, "loc", tre_scalar(c, 2.f), TRE_C_REAL);
    return tre_sample(c, "z", tre_normal(c, loc, tre_scalar(c, 1.f)), NULL);
}

/* loss = KL(N(loc, 1) || N(0, 1)) = loc^2 / 2: gradient loc */
static void run(const tre_adam_opts *o, double clip) {
    tre_ctx *ctx = tt_ctx(1);
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, o, &opt));
    double u = 2.0, m = 0, v = 0, lr = o->lr;
    const double b1 = o->beta1 ? o->beta1 : 0.9, b2 = o->beta2 ? o->beta2 : 0.999, eps = 1e-8;
    for (int t = 1; t <= 2; ++t) {
        tre_elbo_result r;
        TT_OK(ctx, tre_elbo(ctx, model, guide, NULL,
                            &(tre_elbo_opts){.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 1, .grad = true}, &r));
        TT_OK(ctx, tre_adam_step(ctx, opt));
        double g = u;
        if (clip > 0) g = fmax(-clip, fmin(clip, g));
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
        if (clip > 0 || o->lrd) /* Pyro's ClippedAdam: eps outside the bias correction */
            u -= lr * sqrt(bc2) / bc1 * m / (sqrt(v) + eps);
        else
            u -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps);
        if (o->lrd) lr *= o->lrd;
        float got;
        TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "loc")->unconstrained, &got, 1));
        TT_NEAR(got, u, 1e-6 * (1 + fabs(u)));
    }
    if (o->lrd) TT_NEAR(tre_adam_lr(opt), o->lr * o->lrd * o->lrd, 1e-12);
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
}

static void test_adam(void **state) {
    (void)state;
    run(&(tre_adam_opts){.lr = 0.1}, 0);
}
static void test_clipped_adam(void **state) {
    (void)state;
    run(&(tre_adam_opts){.lr = 0.1, .clip_norm = 0.5, .lrd = 0.9}, 0.5);
}
static void test_bad_options(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    tre_adam *opt = NULL;
    TT_FAILS_WITH(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = -1}, &opt), TRE_ERR_INVALID_ARG, "lr");
    assert_null(opt);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_clipped_adam),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
