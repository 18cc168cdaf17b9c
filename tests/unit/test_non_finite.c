/* A NaN or Inf in the ELBO or in a gradient is an error naming the first site whose log-prob
 * (or gradient) was not finite; the context stays usable. */
#include <math.h>
#include <string.h>
#include "test_support.h"

typedef struct cfg { float obs_scale; float guide_loc; } cfg;

static tre_tensor *model(tre_ctx *c, const void *args) {
    const cfg *k = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    /* obs_scale = 0 makes the likelihood's density infinite/NaN (validation is off) */
    tre_sample(c, "y", tre_normal(c, mu, tre_scalar(c, k->obs_scale)), tre_scalar(c, 0.5f));
    return mu;
}

static tre_tensor *guide(tre_ctx *c, const void *args) {
    const cfg *k = args;
    tre_tensor *loc = tre_param(c, "loc", tre_scalar(c, k->guide_loc), TRE_C_REAL);
    return tre_sample(c, "mu", tre_normal(c, loc, tre_scalar(c, 0.5f)), NULL);
}

static void test_non_finite_log_prob_names_site(void **state) {
    (void)state;
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 1, .no_validation = true}));
    cfg k = {.obs_scale = 0.f, .guide_loc = 0.f};
    tre_elbo_result r;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 8}, &r),
                  TRE_ERR_DIST, "site \"y\" (model trace): log_prob is not finite");
    k.obs_scale = 1.f;
    TT_OK(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 8, .grad = true}, &r));
    tre_ctx_destroy(ctx);
}

/* y ~ Normal(0.5, s) observed at 0.5: log p = -log s is finite for a subnormal s, but
 * d log p / d s = -1/s overflows float32. */
static tre_tensor *tiny_scale_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_tensor *sd = tre_param(c, "s", tre_scalar(c, 1e-39f), TRE_C_POSITIVE);
    tre_sample(c, "y", tre_normal(c, tre_scalar(c, 0.5f), sd), tre_scalar(c, 0.5f));
    return mu;
}

static void test_non_finite_gradient_is_named(void **state) {
    (void)state;
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 2}));
    cfg k = {.obs_scale = 1.f, .guide_loc = 0.f};
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, tiny_scale_model, guide, &k, &(tre_elbo_opts){.num_particles = 4}, &r));
    assert_true(isfinite(r.mean));
    TT_FAILS_WITH(ctx, tre_elbo(ctx, tiny_scale_model, guide, &k, &(tre_elbo_opts){.num_particles = 4, .grad = true}, &r),
                  TRE_ERR_DIST, "gradient of param \"s\" is not finite");
    /* usable afterwards */
    TT_OK(ctx, tre_elbo(ctx, model, guide, &k, &(tre_elbo_opts){.num_particles = 4, .grad = true}, &r));
    tre_ctx_destroy(ctx);
}

/* A latent whose value's gradient overflows: z = v (a Delta guide at a subnormal v) and the
 * model adds log z, finite (about -103) while d log z / dz = 1 / z overflows float32. The
 * error names the site the non-finite gradient came through (the guide's, which ran first),
 * and the param. */
static tre_tensor *log_z_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_factor(c, "log_z", tre_log(c, z));
    return z;
}
static tre_tensor *delta_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *v = tre_param(c, "v", tre_scalar(c, 1.4e-45f), TRE_C_REAL);
    return tre_sample(c, "z", tre_delta(c, v, NULL), NULL);
}

static void test_non_finite_site_gradient_names_the_site(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, log_z_model, delta_guide, NULL, &(tre_elbo_opts){.num_particles = 2}, &r));
    assert_true(isfinite(r.mean));
    TT_FAILS_WITH(ctx, tre_elbo(ctx, log_z_model, delta_guide, NULL, &(tre_elbo_opts){.num_particles = 2, .grad = true}, &r),
                  TRE_ERR_DIST, "site \"z\" (guide trace): gradient is not finite (param \"v\")");
    tre_ctx_destroy(ctx);
}

/* One particle's ELBO not finite is enough, whichever particle it is: here the first of four
 * (a log-factor per particle, -inf for particle 0 alone). */
static tre_tensor *first_particle_impossible(tre_ctx *c, const void *args) {
    (void)args;
    const float lf[4] = {-INFINITY, -1.f, -2.f, -3.f};
    tre_factor(c, "f", tre_from_host(c, 4, 0, NULL, lf));
    return NULL;
}
static tre_tensor *empty_guide(tre_ctx *c, const void *args) {
    (void)c, (void)args;
    return NULL;
}

static void test_one_non_finite_particle_is_reported(void **state) {
    (void)state;
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 4, .no_validation = true}));
    tre_elbo_result r;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, first_particle_impossible, empty_guide, NULL, &(tre_elbo_opts){.num_particles = 4}, &r),
                  TRE_ERR_DIST, "site \"f\" (model trace): log_prob is not finite for particle 0");
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_non_finite_log_prob_names_site),
        cmocka_unit_test(test_non_finite_gradient_is_named),
        cmocka_unit_test(test_non_finite_site_gradient_names_the_site),
        cmocka_unit_test(test_one_non_finite_particle_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
