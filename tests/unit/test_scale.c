/* scale: multiplies every message's scale, so a site's log_prob_sum is s times the unscaled
 * one per particle; nested scales and plates multiply; s must be finite and > 0 (SPEC.md
 * section 4). */
#include <math.h>
#include <string.h>
#include "test_support.h"

/* m = param(0.2); z ~ N(m, 1) latent; x ~ N(z, 1) observed in a plate of 3 */
static tre_tensor *zx_model(tre_ctx *c, const void *args) {
    const tre_tensor *x = args;
    tre_tensor *m = tre_param(c, "m", tre_scalar(c, 0.2f), TRE_C_REAL);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, m, tre_scalar(c, 1.f)), NULL);
    tre_plate(c, "data", x->shape[0], 0);
    tre_sample(c, "x", tre_normal(c, z, tre_scalar(c, 1.f)), x);
    tre_plate_end(c);
    return z;
}

/* Runs zx_model under {trace, handlers..., replay(base)} and returns the trace. */
static tre_trace *scaled_run(tre_ctx *ctx, const tre_tensor *x, tre_trace *base,
                             tre_messenger *const *scales, int n) {
    tre_messenger *h[8];
    h[0] = tre_trace_handler(ctx);
    for (int i = 0; i < n; ++i) h[1 + i] = scales[i];
    h[1 + n] = tre_replay_handler(ctx, base, NULL);
    TT_OK(ctx, tre_run(ctx, zx_model, x, h, n + 2, NULL));
    return tre_trace_handler_trace(h[0]);
}

static void check_ratio(tre_ctx *ctx, tre_trace *scaled, tre_trace *base, double s, int64_t P) {
    tre_tensor *a = tre_trace_log_prob_sum(ctx, scaled), *b = tre_trace_log_prob_sum(ctx, base);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->particles, P);
    const float *ha = tt_host(ctx, a, 0), *hb = tt_host(ctx, b, 1);
    for (int64_t p = 0; p < P; ++p) TT_NEAR(ha[p], s * hb[p], 1e-5 * (1 + fabs(s * hb[p])));
    /* the values differ per particle, so a broadcast single number would not pass */
    if (P > 1) assert_true(hb[0] != hb[1]);
}

static void test_scales_log_prob_sum_per_particle(void **state) {
    (void)state;
    const int64_t particles[] = {1, 7, 256};
    const float xs[3] = {0.5f, -1.f, 2.f};
    for (int k = 0; k < 3; ++k) {
        tre_ctx *ctx = tt_ctx(10 + (uint64_t)k);
        TT_OK(ctx, tre_ctx_set_particles(ctx, particles[k]));
        tre_tensor *x = tt_data(ctx, 3, xs);
        tre_messenger *t = tre_trace_handler(ctx);
        TT_OK(ctx, tre_run(ctx, zx_model, x, &t, 1, NULL));
        tre_trace *base = tre_trace_handler_trace(t);
        tre_messenger *s = tre_scale_handler(ctx, 2.5);
        tre_trace *scaled = scaled_run(ctx, x, base, &s, 1);
        check_ratio(ctx, scaled, base, 2.5, particles[k]);
        /* every message is scaled, params and the plate's index site included */
        assert_true(tre_trace_get(scaled, "m")->msg.scale == 2.5);
        assert_true(tre_trace_get(scaled, "data")->msg.scale == 2.5);
        /* per site too */
        const float *zs = tt_host(ctx, tre_trace_site_log_prob(ctx, scaled, "z"), 2);
        const float *zb = tt_host(ctx, tre_trace_site_log_prob(ctx, base, "z"), 3);
        TT_NEAR(zs[0], 2.5 * zb[0], 1e-5 * (1 + fabs(zb[0])));
        tre_ctx_destroy(ctx);
    }
}

static void test_nested_scales_and_plates_multiply(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(20);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 16));
    const float xs[3] = {0.5f, -1.f, 2.f};
    tre_tensor *x = tt_data(ctx, 3, xs);
    tre_messenger *t = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, zx_model, x, &t, 1, NULL));
    tre_trace *base = tre_trace_handler_trace(t);
    tre_messenger *s[2] = {tre_scale_handler(ctx, 2.0), tre_scale_handler(ctx, 0.25)};
    tre_trace *scaled = scaled_run(ctx, x, base, s, 2);
    assert_true(tre_trace_get(scaled, "z")->msg.scale == 0.5);
    check_ratio(ctx, scaled, base, 0.5, 16);

    /* a subsampled plate's size/subsample_size multiplies with the handler's scale */
    tre_ctx_step_reset(ctx);
    tre_messenger *h[2] = {tre_trace_handler(ctx), tre_scale_handler(ctx, 3.0)};
    TT_OK(ctx, tre_push(ctx, h[0]));
    TT_OK(ctx, tre_push(ctx, h[1]));
    tre_plate(ctx, "big", 10, 2);
    tre_sample(ctx, "w", tre_normal(ctx, tre_scalar(ctx, 0.f), tre_scalar(ctx, 1.f)), NULL);
    TT_OK(ctx, tre_plate_end(ctx));
    TT_OK(ctx, tre_pop(ctx, h[1]));
    TT_OK(ctx, tre_pop(ctx, h[0]));
    assert_true(tre_trace_get(tre_trace_handler_trace(h[0]), "w")->msg.scale == 15.0);
    tre_ctx_destroy(ctx);
}

static void test_non_positive_or_non_finite_scale_is_an_error(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(30);
    const double bad[] = {0.0, -1.0, -0.0, NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 6; ++i) {
        assert_null(tre_scale_handler(ctx, bad[i]));
        TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_INVALID_ARG, "scale: argument s");
        tre_ctx_step_reset(ctx);
        /* usable again after the reset */
        assert_non_null(tre_scale_handler(ctx, 1e-30));
        assert_int_equal(tre_ctx_status(ctx), TRE_OK);
    }
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scales_log_prob_sum_per_particle),
        cmocka_unit_test(test_nested_scales_and_plates_multiply),
        cmocka_unit_test(test_non_positive_or_non_finite_scale_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
