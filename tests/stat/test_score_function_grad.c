/* The score-function estimator: on a model with one Bernoulli latent and a Bernoulli(logits)
 * guide, the averaged Trace_ELBO gradient matches the closed-form gradient within 4 standard
 * errors, and so does a Categorical(logits) guide over three values. */
#include <math.h>
#include "test_support.h"

static const double prior_p = 0.3, x_obs = 1.4, phi0 = 0.4;

static tre_tensor *bern_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *z = tre_sample(c, "z", tre_bernoulli_probs(c, tre_scalar(c, (float)prior_p)), NULL);
    tre_sample(c, "x", tre_normal(c, tre_mul(c, z, tre_scalar(c, 2.f)), tre_scalar(c, 1.f)), tre_scalar(c, (float)x_obs));
    return z;
}
static tre_tensor *bern_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *phi = tre_param(c, "phi", tre_scalar(c, (float)phi0), TRE_C_REAL);
    return tre_sample(c, "z", tre_bernoulli_logits(c, phi), NULL);
}

static double normal_lp(double x, double m) { return -0.5 * (x - m) * (x - m) - 0.5 * log(2 * 3.14159265358979323846); }

/* mean and standard error of d loss / d `name` over repeated evaluations */
static void grad_stats(tre_ctx *ctx, tre_program model, tre_program guide, const char *name, int64_t k,
                       int reps, int64_t P, double *mean, double *se) {
    double *g = test_malloc((size_t)reps * sizeof *g);
    *mean = 0;
    for (int r = 0; r < reps; ++r) {
        tre_elbo_result res;
        TT_OK(ctx, tre_elbo(ctx, model, guide, NULL, &(tre_elbo_opts){.num_particles = P, .grad = true}, &res));
        float v[8];
        TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, name)->grad, v, 8));
        g[r] = v[k];
        *mean += g[r] / reps;
    }
    double var = 0;
    for (int r = 0; r < reps; ++r) var += (g[r] - *mean) * (g[r] - *mean) / (reps - 1);
    *se = sqrt(var / reps);
    test_free(g);
}

static void test_bernoulli_guide(void **state) {
    (void)state;
    double q1 = 1 / (1 + exp(-phi0));
    double a1 = log(prior_p) + normal_lp(x_obs, 2), a0 = log(1 - prior_p) + normal_lp(x_obs, 0);
    double want = -(q1 * (1 - q1) * (a1 - a0 - log(q1) + log(1 - q1))); /* d loss / d phi */
    tre_ctx *ctx = tt_ctx(21);
    double m, se;
    grad_stats(ctx, bern_model, bern_guide, "phi", 0, 40, 5000, &m, &se);
    print_message("Bernoulli guide: d loss/d phi %.5f +- %.5f, closed form %.5f\n", m, se, want);
    assert_true(fabs(m - want) < 4 * se);
    tre_ctx_destroy(ctx);
}

/* z ~ Categorical(prior), x ~ N(mu[z], 1); guide Categorical(logits) */
static const float cat_prior[3] = {0.2f, 0.5f, 0.3f}, cat_mu[3] = {-1.f, 0.5f, 2.f}, cat_phi[3] = {0.1f, -0.3f, 0.4f};

static tre_tensor *cat_model(tre_ctx *c, const void *args) {
    (void)args;
    int64_t k = 3;
    tre_tensor *z = tre_sample(c, "z", tre_categorical_logits(c, tre_log(c, tre_from_host(c, 1, 1, &k, cat_prior))), NULL);
    tre_tensor *mu = tre_take(c, tre_from_host(c, 1, 1, &k, cat_mu), z);
    tre_sample(c, "x", tre_normal(c, mu, tre_scalar(c, 1.f)), tre_scalar(c, (float)x_obs));
    return z;
}
static tre_tensor *cat_guide(tre_ctx *c, const void *args) {
    (void)args;
    int64_t k = 3;
    tre_tensor *phi = tre_param(c, "phi", tre_from_host(c, 1, 1, &k, cat_phi), TRE_C_REAL);
    return tre_sample(c, "z", tre_categorical_logits(c, phi), NULL);
}

static void test_categorical_guide(void **state) {
    (void)state;
    double lse = log(exp(cat_phi[0]) + exp(cat_phi[1]) + exp(cat_phi[2])), q[3], a[3], qa = 0;
    for (int i = 0; i < 3; ++i) {
        q[i] = exp(cat_phi[i] - lse);
        a[i] = log(cat_prior[i]) + normal_lp(x_obs, cat_mu[i]) - log(q[i]);
        qa += q[i] * a[i];
    }
    tre_ctx *ctx = tt_ctx(22);
    for (int j = 0; j < 3; ++j) {
        /* d ELBO / d phi_j = sum_i q_i (delta_ij - q_j) (a_i - 1) = q_j (a_j - sum_i q_i a_i) */
        double want = -(q[j] * (a[j] - qa));
        double m, se;
        grad_stats(ctx, cat_model, cat_guide, "phi", j, 40, 5000, &m, &se);
        print_message("Categorical guide: d loss/d phi[%d] %.5f +- %.5f, closed form %.5f\n", j, m, se, want);
        assert_true(fabs(m - want) < 4 * se);
    }
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bernoulli_guide),
        cmocka_unit_test(test_categorical_guide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
