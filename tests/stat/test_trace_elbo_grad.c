/* Trace_ELBO gradients against the closed-form gradient of a conjugate Normal model's ELBO:
 * pathwise (Normal guide) averaged over many particles, within 4 standard errors. */
#include <math.h>
#include "tt_conjugate.h"

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
    float x[10];
    for (int i = 0; i < 10; ++i) x[i] = (float)(1.0 + 0.7 * cos(2.1 * i));
    tt_conj c = {.m0 = 0.3, .s0 = 1.5, .s = 0.8, .qa = 0.9, .qb = 0.35, .n = 10, .x = x};
    double dE_da, dE_dlogb;
    tt_conj_elbo_grad(&c, c.qa, c.qb, &dE_da, &dE_dlogb);
    double want_loc = -dE_da, want_u = -dE_dlogb; /* the loss is -ELBO */

    tre_ctx *ctx = tt_ctx(99);
    tt_conj_setup(ctx, &c);
    /* repeated evaluations at P particles give independent gradient estimates */
    enum { REPS = 40, P = 2000 };
    double gl[REPS], gu[REPS], ml = 0, mu = 0;
    for (int r = 0; r < REPS; ++r) {
        tre_elbo_result res;
        TT_OK(ctx, tre_elbo(ctx, tt_conj_model, tt_conj_guide, &c, &(tre_elbo_opts){.num_particles = P, .grad = true}, &res));
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
