/* Trace_ELBO against the closed-form ELBO of a conjugate Normal model: within 4 standard errors
 * at P = 100000, and a standard error that shrinks as 1/sqrt(P). */
#include <math.h>
#include "tt_conjugate.h"

static void test_matches_closed_form_and_stderr_scales(void **state) {
    (void)state;
    float x[20];
    for (int i = 0; i < 20; ++i) x[i] = (float)(0.7 + 0.9 * sin(1.7 * i));
    tt_conj c = {.m0 = 0.5, .s0 = 2.0, .s = 1.3, .qa = 1.1, .qb = 0.4, .n = 20, .x = x};
    tre_ctx *ctx = tt_ctx(2024);
    tt_conj_setup(ctx, &c);
    double exact = tt_conj_elbo(&c, c.qa, c.qb);

    tre_elbo_result big, small;
    TT_OK(ctx, tre_elbo(ctx, tt_conj_model, tt_conj_guide, &c, &(tre_elbo_opts){.num_particles = 100000}, &big));
    double z = (big.mean - exact) / big.stderr_;
    print_message("P=100000: ELBO %.5f +- %.5f, closed form %.5f, z = %.2f\n", big.mean, big.stderr_, exact, z);
    assert_true(fabs(z) < 4.0);

    /* SE(P=1000) / SE(P=100000) should be sqrt(100) = 10; averaged over 20 repetitions of the
     * small run the ratio is within a few percent. */
    double se_small = 0.0;
    for (int rep = 0; rep < 20; ++rep) {
        TT_OK(ctx, tre_elbo(ctx, tt_conj_model, tt_conj_guide, &c, &(tre_elbo_opts){.num_particles = 1000}, &small));
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
