/* RenyiELBO / IWAE and TraceMeanField_ELBO on a conjugate Normal model with known log evidence
 * and ELBO: IWAE >= Trace_ELBO, increasing with P toward log p(x); MeanField matches the
 * closed-form ELBO; alpha = 1 is an error; with one particle IWAE's gradient is Trace_ELBO's. */
#include <math.h>
#include "tt_conjugate.h"

static float xs[8];
static tt_conj model_cfg = {.m0 = 0.5, .s0 = 1.2, .s = 0.9, .qa = 1.4, .qb = 0.6, .n = 8, .x = xs};
static double log_evidence, exact_elbo;

static int setup(void **state) {
    (void)state;
    for (int i = 0; i < 8; ++i) xs[i] = (float)(0.8 + 1.1 * sin(1.3 * i));
    log_evidence = tt_conj_log_evidence(&model_cfg);
    exact_elbo = tt_conj_elbo(&model_cfg, model_cfg.qa, model_cfg.qb);
    return 0;
}

static double run(tre_ctx *ctx, tt_conj *c, tre_elbo_kind kind, double alpha, int64_t P, double *se) {
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, tt_conj_model, tt_conj_guide, c, &(tre_elbo_opts){.kind = kind, .alpha = alpha, .num_particles = P}, &r));
    if (se) *se = r.stderr_;
    return r.mean;
}

static void test_iwae_bounds(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    tt_conj c = model_cfg;
    tt_conj_setup(ctx, &c);
    /* IWAE_K averaged over repetitions: increasing in K, >= ELBO, <= log evidence */
    const int64_t ks[4] = {1, 10, 100, 10000};
    double prev = -INFINITY;
    for (int i = 0; i < 4; ++i) {
        int reps = ks[i] >= 10000 ? 4 : 200;
        double avg = 0;
        for (int r = 0; r < reps; ++r) avg += run(ctx, &c, TRE_RENYI_ELBO, 0.0, ks[i], NULL) / reps;
        print_message("IWAE K=%lld: %.4f (ELBO %.4f, log evidence %.4f)\n", (long long)ks[i], avg,
                      exact_elbo, log_evidence);
        if (i == 0) assert_true(fabs(avg - exact_elbo) < 0.2);
        else assert_true(avg > prev);
        assert_true(avg < log_evidence + 0.01);
        prev = avg;
    }
    assert_true(prev > exact_elbo + 0.5 * (log_evidence - exact_elbo));
    assert_true(log_evidence - prev < 0.02);
    tre_ctx_destroy(ctx);
}

static void test_meanfield_matches_closed_form(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    tt_conj c = model_cfg;
    tt_conj_setup(ctx, &c);
    double se_mf, se_tr;
    double mf = run(ctx, &c, TRE_TRACE_MEANFIELD_ELBO, 0, 100000, &se_mf);
    double tr = run(ctx, &c, TRE_TRACE_ELBO, 0, 100000, &se_tr);
    print_message("MeanField %.5f +- %.5f, Trace %.5f +- %.5f, exact %.5f\n", mf, se_mf, tr, se_tr, exact_elbo);
    assert_true(fabs(mf - exact_elbo) < 4 * se_mf + 1e-4);
    assert_true(fabs(tr - exact_elbo) < 4 * se_tr + 1e-4);
    tre_ctx_destroy(ctx);
}

static void test_alpha_one_is_an_error_and_p1_grads_agree(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(7);
    tt_conj c = model_cfg;
    tt_conj_setup(ctx, &c);
    tre_elbo_result r;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, tt_conj_model, tt_conj_guide, &c, &(tre_elbo_opts){.kind = TRE_RENYI_ELBO, .alpha = 1.0, .num_particles = 4}, &r),
                  TRE_ERR_INVALID_ARG, "alpha");
    /* with one particle the IWAE weight is 1: its gradient is Trace_ELBO's, same noise */
    float g1[2], g2[2];
    const char *names[2] = {"q_loc", "q_scale"};
    tre_ctx *a = tt_ctx(8), *b = tt_ctx(8);
    tt_conj ca = model_cfg, cb = model_cfg;
    tt_conj_setup(a, &ca);
    tt_conj_setup(b, &cb);
    TT_OK(a, tre_elbo(a, tt_conj_model, tt_conj_guide, &ca, &(tre_elbo_opts){.kind = TRE_RENYI_ELBO, .num_particles = 1, .grad = true}, &r));
    TT_OK(b, tre_elbo(b, tt_conj_model, tt_conj_guide, &cb, &(tre_elbo_opts){.kind = TRE_TRACE_ELBO, .num_particles = 1, .grad = true}, &r));
    for (int i = 0; i < 2; ++i) {
        TT_OK(a, tre_tensor_to_host(a, tre_param_store_get(a, names[i])->grad, &g1[i], 1));
        TT_OK(b, tre_tensor_to_host(b, tre_param_store_get(b, names[i])->grad, &g2[i], 1));
        TT_NEAR(g1[i], g2[i], 1e-5 * (1 + fabs(g2[i])));
    }
    tre_ctx_destroy(a);
    tre_ctx_destroy(b);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iwae_bounds),
        cmocka_unit_test(test_meanfield_matches_closed_form),
        cmocka_unit_test(test_alpha_one_is_an_error_and_p1_grads_agree),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
