/* tre_dist_with_rsample (Pyro's has_rsample_): a guide site whose distribution is set
 * has_rsample false is differentiated by its score function alone, as Pyro's Trace_ELBO does
 * for a non-reparameterized site: d loss / d phi = -mean_s elbo_s d log q(z_s) / d phi exactly
 * (a site in no plate is weighted by its whole particle), with the draws unchanged. Checked
 * particle by particle for Normal (an elementwise family) and MultivariateNormal (a family with
 * its own sampler); the flag survives expand and to_event (so plates keep it);
 * TraceMeanField_ELBO refuses such a site; has_rsample true for a family without a
 * reparameterized sampler is an error naming the family and the site, and the context goes on. */
#include <math.h>
#include "test_support.h"

typedef struct rargs {
    int rsample;  /* of the guide's site: 1 / -1 set true / false, 0 the family's default */
    bool mvn;     /* the guide is a MultivariateNormal over z [2], else a Normal over z [] */
} rargs;

static const float y_obs = 0.3f;
static const float lscale[2] = {0.6f, 1.3f}; /* the MVN guide's diagonal scale_tril */

static tre_tensor *model(tre_ctx *c, const void *args) {
    const rargs *a = args;
    tre_dist *prior = tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 2.f));
    if (a->mvn) prior = tre_dist_to_event(c, tre_dist_expand(c, prior, 1, (int64_t[]){2}), 1);
    tre_tensor *z = tre_sample(c, "z", prior, NULL);
    tre_tensor *zsum = a->mvn ? tre_sum(c, z) : z;
    tre_sample(c, "y", tre_normal(c, zsum, tre_scalar(c, 1.f)), tre_scalar(c, y_obs));
    return z;
}

static tre_tensor *guide(tre_ctx *c, const void *args) {
    const rargs *a = args;
    tre_dist *q;
    if (a->mvn) {
        tre_tensor *loc = tre_param(c, "m", tre_from_host(c, 1, 1, (int64_t[]){2}, (float[]){0.2f, -0.4f}), TRE_C_REAL);
        float tril[4] = {lscale[0], 0.f, 0.f, lscale[1]};
        q = tre_multivariate_normal(c, loc, tre_from_host(c, 1, 2, (int64_t[]){2, 2}, tril));
    } else {
        tre_tensor *m = tre_param(c, "m", tre_scalar(c, 0.4f), TRE_C_REAL);
        tre_tensor *s = tre_param(c, "s", tre_scalar(c, 0.7f), TRE_C_POSITIVE);
        q = tre_normal(c, m, s);
    }
    if (a->rsample) q = tre_dist_with_rsample(c, q, a->rsample > 0);
    return tre_sample(c, "z", q, NULL);
}

enum { P = 64 };

/* One Trace_ELBO evaluation from seed 9: the draws z (P x dz), elbo_s, and the gradients of
 * m (dz values) and, for the Normal, of s's unconstrained value. */
static void evaluate(const rargs *a, float *z, float *elbo, float *gm, float *gs) {
    const int dz = a->mvn ? 2 : 1;
    tre_ctx *ctx = tt_ctx(9);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, guide, a, &(tre_elbo_opts){.num_particles = P, .grad = true}, &r));
    memcpy(elbo, r.particles, P * sizeof *elbo);
    memcpy(z, tt_host(ctx, tre_trace_get(r.guide_trace, "z")->msg.value, 0), (size_t)(P * dz) * sizeof *z);
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "m")->grad, gm, dz));
    if (!a->mvn) TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "s")->grad, gs, 1));
    tre_ctx_destroy(ctx);
}

static void test_normal_without_rsample_is_scored(void **state) {
    (void)state;
    float z0[P], e0[P], gm0, gs0, z[P], e[P], gm, gs;
    evaluate(&(rargs){0}, z0, e0, &gm0, &gs0);
    evaluate(&(rargs){.rsample = -1}, z, e, &gm, &gs);
    assert_memory_equal(z, z0, sizeof z); /* the same draws */
    assert_memory_equal(e, e0, sizeof e);
    const double m = 0.4f, s = 0.7f;
    double want_m = 0, want_s = 0;
    for (int k = 0; k < P; ++k) {
        const double d = (z[k] - m) / s;
        want_m -= e[k] * d / s / P;           /* d log q / dm = (z - m) / s^2 */
        want_s -= e[k] * (d * d - 1.0) / P;   /* d log q / d log s */
    }
    TT_NEAR(gm, want_m, 1e-4 * (1 + fabs(want_m)));
    TT_NEAR(gs, want_s, 1e-4 * (1 + fabs(want_s)));
    /* and not the pathwise gradient, nor a sum of both */
    assert_true(fabs(gm - gm0) > 1e-2 * (1 + fabs(gm0)));
    /* has_rsample true on a reparameterized family changes nothing */
    float z1[P], e1[P], gm1, gs1;
    evaluate(&(rargs){.rsample = 1}, z1, e1, &gm1, &gs1);
    assert_memory_equal(z1, z0, sizeof z1);
    assert_true(gm1 == gm0 && gs1 == gs0);
}

static void test_mvn_without_rsample_is_scored(void **state) {
    (void)state;
    float z0[2 * P], e0[P], g0[2], z[2 * P], e[P], g[2];
    evaluate(&(rargs){.mvn = true}, z0, e0, g0, NULL);
    evaluate(&(rargs){.mvn = true, .rsample = -1}, z, e, g, NULL);
    assert_memory_equal(z, z0, sizeof z);
    const double loc[2] = {0.2f, -0.4f};
    for (int i = 0; i < 2; ++i) {
        double want = 0;
        for (int k = 0; k < P; ++k) /* d log q / d loc_i = (z_i - loc_i) / l_i^2 */
            want -= e[k] * (z[2 * k + i] - loc[i]) / ((double)lscale[i] * lscale[i]) / P;
        TT_NEAR(g[i], want, 1e-4 * (1 + fabs(want)));
        assert_true(fabs(g[i] - g0[i]) > 1e-2 * (1 + fabs(g0[i])));
    }
}

static tre_tensor *plate_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *m = tre_param(c, "m", tre_scalar(c, 0.f), TRE_C_REAL);
    tre_plate(c, "data", 3, 0);
    tre_tensor *z = tre_sample(c, "z", tre_dist_with_rsample(c, tre_normal(c, m, tre_scalar(c, 1.f)), false), NULL);
    tre_plate_end(c);
    tre_sample(c, "w", tre_dist_to_event(c, tre_dist_with_rsample(c, tre_normal(c, tt_data(c, 2, (float[]){0, 0}), tre_scalar(c, 1.f)), false), 1), NULL);
    return z;
}

static void test_flag_kept_by_plates_and_to_event(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_run(ctx, plate_guide, NULL, &tr, 1, NULL));
    const tre_trace *t = tre_trace_handler_trace(tr);
    const tre_dist *z = tre_trace_get(t, "z")->msg.fn, *w = tre_trace_get(t, "w")->msg.fn;
    int64_t shape[4];
    assert_int_equal(tre_dist_batch_shape(z, shape), 1); /* expanded by the plate */
    assert_int_equal(shape[0], 3);
    assert_false(tre_dist_has_rsample(z));
    assert_int_equal(tre_dist_event_shape(w, shape), 1);
    assert_false(tre_dist_has_rsample(w));
    tre_ctx_destroy(ctx);
}

static tre_tensor *bernoulli_guide(tre_ctx *c, const void *args) {
    (void)args;
    return tre_sample(c, "b", tre_dist_with_rsample(c, tre_bernoulli_probs(c, tre_scalar(c, 0.3f)), true), NULL);
}

static void test_refusals(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_FAILS_WITH(ctx, tre_run(ctx, bernoulli_guide, NULL, &tr, 1, NULL), TRE_ERR_UNSUPPORTED,
                  "Bernoulli has no reparameterized sampler");
    assert_non_null(strstr(tre_ctx_error(ctx), "\"b\""));
    tre_ctx_clear_error(ctx);
    TT_FAILS_WITH(ctx, tre_dist_with_rsample(ctx, NULL, false) ? TRE_OK : tre_ctx_status(ctx), TRE_ERR_INVALID_ARG,
                  "distribution is NULL");
    tre_ctx_clear_error(ctx);
    /* TraceMeanField_ELBO needs a fully reparameterized guide, as Pyro's */
    tre_elbo_result r;
    const tre_elbo_opts mf = {.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 4, .grad = true};
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model, guide, &(rargs){.rsample = -1}, &mf, &r), TRE_ERR_MODEL,
                  "\"z\" (Normal) is not reparameterized");
    tre_ctx_clear_error(ctx);
    TT_OK(ctx, tre_elbo(ctx, model, guide, &(rargs){.rsample = 1}, &mf, &r));
    assert_true(isfinite(r.mean));
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_without_rsample_is_scored),
        cmocka_unit_test(test_mvn_without_rsample_is_scored),
        cmocka_unit_test(test_flag_kept_by_plates_and_to_event),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
