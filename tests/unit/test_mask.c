/* mask: ANDs a mask (nonzero = keep) into every message; masked elements add exactly 0 to
 * log_prob_sum even where the density is NaN; nested masks AND to exact 0/1 values, per
 * particle where a mask varies by particle; errors name the argument or the site (SPEC.md
 * sections 3 and 4). */
#include <math.h>
#include <string.h>
#include "test_support.h"

#define P 8

static double normal_lp(double x, double m, double s) {
    return -0.5 * ((x - m) / s) * ((x - m) / s) - log(s) - 0.5 * log(2 * 3.14159265358979323846);
}

static tre_ctx *unvalidated_ctx(uint64_t seed) {
    tre_ctx *ctx = NULL;
    tre_ctx_opts o = {.backend = TRE_BACKEND_CPU, .seed = seed, .no_validation = true};
    assert_int_equal(tre_ctx_create(&ctx, &o), TRE_OK);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    return ctx;
}

static tre_tensor *vec4(tre_ctx *ctx, const float v[4]) {
    int64_t n = 4;
    return tre_from_host(ctx, 1, 1, &n, v);
}

typedef struct nan_args {
    const float *mask; /* NULL: no mask handler */
} nan_args;

/* z ~ N(0,1) (extent P); x ~ N(z, scale) observed, where element 0 has a negative scale and
 * element 1 a NaN observation: both give a NaN log-density there. */
static tre_tensor *nan_model(tre_ctx *c, const void *args) {
    const nan_args *a = args;
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    const float scale[4] = {-1.f, 1.f, 1.f, 2.f}, obs[4] = {0.5f, NAN, 0.5f, 0.5f};
    tre_messenger *m = a->mask ? tre_mask_handler(c, vec4(c, a->mask)) : NULL;
    if (m && tre_push(c, m) != TRE_OK) return NULL;
    tre_sample(c, "x", tre_normal(c, z, vec4(c, scale)), vec4(c, obs));
    if (m) tre_pop(c, m);
    return z;
}

static void test_masked_nan_contributes_exactly_zero(void **state) {
    (void)state;
    tre_ctx *ctx = unvalidated_ctx(1);
    /* without a mask the NaNs reach the sum: the check below could fail */
    nan_args none = {NULL};
    tre_messenger *t0 = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, nan_model, &none, &t0, 1, NULL));
    const float *raw = tt_host(ctx, tre_trace_log_prob_sum(ctx, tre_trace_handler_trace(t0)), 0);
    assert_true(isnan(raw[0]));

    const float keep[4] = {0.f, 0.f, 1.f, 1.f};
    nan_args masked = {keep};
    tre_messenger *t = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, nan_model, &masked, &t, 1, NULL));
    tre_trace *tr = tre_trace_handler_trace(t);
    const float *z = tt_host(ctx, tre_trace_get(tr, "z")->msg.value, 1);
    const float *lp = tt_host(ctx, tre_trace_log_prob_sum(ctx, tr), 2);
    const float *site = tt_host(ctx, tre_trace_site_log_prob(ctx, tr, "x"), 3);
    for (int p = 0; p < P; ++p) {
        double direct = normal_lp(z[p], 0, 1) + normal_lp(0.5, z[p], 1) + normal_lp(0.5, z[p], 2);
        assert_true(isfinite(lp[p]));
        TT_NEAR(lp[p], direct, 1e-4 * (1 + fabs(direct)));
        /* masked elements are exactly +0 */
        assert_true(site[4 * p] == 0.f && !signbit(site[4 * p]));
        assert_true(site[4 * p + 1] == 0.f && !signbit(site[4 * p + 1]));
    }
    /* the unmasked latent outside the handler has no mask */
    assert_null(tre_trace_get(tr, "z")->msg.mask);
    tre_ctx_destroy(ctx);
}

static tre_tensor *x4_model(tre_ctx *c, const void *args) {
    (void)args;
    const float obs[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    return tre_sample(c, "x", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), vec4(c, obs));
}

static void test_single_mask_is_used_as_is(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    const float keep[4] = {1.f, 0.f, 1.f, 0.f};
    tre_tensor *m = vec4(ctx, keep);
    tre_messenger *h[2] = {tre_trace_handler(ctx), tre_mask_handler(ctx, m)};
    TT_OK(ctx, tre_run(ctx, x4_model, NULL, h, 2, NULL));
    tre_trace *tr = tre_trace_handler_trace(h[0]);
    assert_ptr_equal(tre_trace_get(tr, "x")->msg.mask, m);
    TT_NEAR(tt_at(ctx, tre_trace_log_prob_sum(ctx, tr), 0),
            normal_lp(0.1, 0, 1) + normal_lp(0.3, 0, 1), 1e-5);
    tre_ctx_destroy(ctx);
}

static void test_mask_inside_mask_is_an_and(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    /* arbitrary nonzero values (negative, fractional) mean keep; the AND is exact 0/1 */
    const float outer[4] = {3.f, -1.f, 0.f, 0.f}, inner[4] = {0.5f, 0.f, 7.f, 0.f};
    tre_messenger *h[3] = {tre_trace_handler(ctx), tre_mask_handler(ctx, vec4(ctx, outer)),
                           tre_mask_handler(ctx, vec4(ctx, inner))};
    TT_OK(ctx, tre_run(ctx, x4_model, NULL, h, 3, NULL));
    tre_trace *tr = tre_trace_handler_trace(h[0]);
    const tre_tensor *both = tre_trace_get(tr, "x")->msg.mask;
    assert_int_equal(both->ndim, 1);
    assert_int_equal(both->shape[0], 4);
    const float *b = tt_host(ctx, both, 0);
    const float expect[4] = {1.f, 0.f, 0.f, 0.f};
    for (int i = 0; i < 4; ++i) assert_true(b[i] == expect[i]);
    TT_NEAR(tt_at(ctx, tre_trace_log_prob_sum(ctx, tr), 0), normal_lp(0.1, 0, 1), 1e-5);
    tre_ctx_destroy(ctx);
}

/* z ~ N(0, 1) with batch shape [4], extent P */
static tre_tensor *latent4_model(tre_ctx *c, const void *args) {
    (void)args;
    const float zeros[4] = {0.f, 0.f, 0.f, 0.f};
    return tre_sample(c, "z", tre_normal(c, vec4(c, zeros), tre_scalar(c, 1.f)), NULL);
}

static void test_per_particle_mask_broadcasts_with_shared_mask(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    float odd[P];
    for (int p = 0; p < P; ++p) odd[p] = (float)(p % 2);
    tre_tensor *per_particle = tre_from_host(ctx, P, 0, NULL, odd);
    const float two_of_four[4] = {1.f, 1.f, 0.f, 0.f};
    tre_messenger *h[3] = {tre_trace_handler(ctx), tre_mask_handler(ctx, vec4(ctx, two_of_four)),
                           tre_mask_handler(ctx, per_particle)};
    TT_OK(ctx, tre_run(ctx, latent4_model, NULL, h, 3, NULL));
    tre_trace *tr = tre_trace_handler_trace(h[0]);
    /* the AND of a [] per-particle mask and a shared [4] one: extent P, shape [4] */
    const tre_tensor *both = tre_trace_get(tr, "z")->msg.mask;
    assert_int_equal(both->particles, P);
    assert_int_equal(both->ndim, 1);
    assert_int_equal(both->shape[0], 4);
    const float *b = tt_host(ctx, both, 2);
    for (int p = 0; p < P; ++p)
        for (int i = 0; i < 4; ++i) assert_true(b[4 * p + i] == (p % 2 && i < 2 ? 1.f : 0.f));
    const float *z = tt_host(ctx, tre_trace_get(tr, "z")->msg.value, 0);
    const float *lp = tt_host(ctx, tre_trace_log_prob_sum(ctx, tr), 1);
    for (int p = 0; p < P; ++p) {
        double direct = p % 2 ? normal_lp(z[4 * p], 0, 1) + normal_lp(z[4 * p + 1], 0, 1) : 0.0;
        TT_NEAR(lp[p], direct, 1e-5 * (1 + fabs(direct)));
    }
    tre_ctx_destroy(ctx);
}

static void test_errors_name_argument_or_site(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    assert_null(tre_mask_handler(ctx, NULL));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_INVALID_ARG, "argument mask is NULL");
    tre_ctx_step_reset(ctx);

    int32_t k[2] = {1, 0};
    int64_t two = 2;
    tre_tensor *ints = NULL;
    TT_OK(ctx, tre_tensor_create(ctx, &ints, TRE_I32, 1, 1, &two, k));
    assert_null(tre_mask_handler(ctx, ints));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_INVALID_ARG, "float32");
    tre_tensor_destroy(ctx, ints);
    tre_ctx_step_reset(ctx);

    /* masks that do not broadcast together: the error names the site */
    const float four[4] = {1.f, 1.f, 1.f, 1.f};
    int64_t three = 3;
    tre_messenger *h[2] = {tre_mask_handler(ctx, vec4(ctx, four)),
                           tre_mask_handler(ctx, tre_full(ctx, 1, &three, 1.f))};
    TT_FAILS_WITH(ctx, tre_run(ctx, x4_model, NULL, h, 2, NULL), TRE_ERR_SHAPE, "\"x\"");
    assert_int_equal(tre_stack_depth(ctx), 0);

    /* masks whose particle extents differ (2 and 3): the handler itself refuses them, naming
     * the site the older mask is on */
    tre_ctx_step_reset(ctx);
    const float ones[3] = {1.f, 1.f, 1.f};
    tre_messenger *h3[2] = {tre_mask_handler(ctx, tre_from_host(ctx, 2, 0, NULL, ones)),
                            tre_mask_handler(ctx, tre_from_host(ctx, 3, 0, NULL, ones))};
    TT_FAILS_WITH(ctx, tre_run(ctx, x4_model, NULL, h3, 2, NULL), TRE_ERR_SHAPE,
                  "(extent 3) already on site \"x\"");
    assert_int_equal(tre_stack_depth(ctx), 0);

    /* usable again */
    tre_ctx_step_reset(ctx);
    tre_messenger *h2[2] = {tre_trace_handler(ctx), tre_mask_handler(ctx, vec4(ctx, four))};
    TT_OK(ctx, tre_run(ctx, x4_model, NULL, h2, 2, NULL));
    assert_non_null(tre_trace_log_prob_sum(ctx, tre_trace_handler_trace(h2[0])));
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_masked_nan_contributes_exactly_zero),
        cmocka_unit_test(test_single_mask_is_used_as_is),
        cmocka_unit_test(test_mask_inside_mask_is_an_and),
        cmocka_unit_test(test_per_particle_mask_broadcasts_with_shared_mask),
        cmocka_unit_test(test_errors_name_argument_or_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
