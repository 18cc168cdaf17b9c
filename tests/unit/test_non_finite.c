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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_non_finite_log_prob_names_site),
        cmocka_unit_test(test_non_finite_gradient_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
