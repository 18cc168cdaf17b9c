/* Trace_ELBO's score-function weights are Rao-Blackwellized over plates, as in Pyro: the score
 * of z_n (a Bernoulli guide site in plate "data") is weighted by the global terms and by the
 * terms of slice n only. Checked exactly, particle by particle, against the weights computed
 * here in double from the sampled values:
 *   w_sn = [log p(mu) - log q(mu)] + sum_k log p(y_k | mu)           (no shared plate: totals)
 *        + log p(z_n) - log q(z_n) + log p(x_n | z_n, mu)             (plate "data": slice n)
 *        + sum_f log p(x2_fn | z_n)                                   (plates "feature" x "data")
 * and d loss / d theta_n = -mean_s w_sn (z_sn - sigmoid(theta_n)). The whole particle's elbo_s,
 * the weight before this change, differs from it by the other slice's terms, so this fails
 * without the Rao-Blackwellization. A site in no plate keeps the whole elbo_s, scaled or not
 * (its score is not). Sites in two plates of one shape keep their own weights. And the
 * estimator stays unbiased: over repeated evaluations a plate of Bernoulli sites' gradients
 * match their closed forms within 4 standard errors. */
#include <math.h>
#include "test_support.h"

#define ND 2 /* plate "data" */
#define NF 3 /* plate "feature" */
#define NY 3 /* plate "other" */
static const float xs[ND] = {0.5f, -1.2f}, x2s[NF * ND] = {0.3f, 1.1f, -0.4f, 0.9f, 2.0f, -0.7f};
static const float ys[NY] = {0.2f, -0.6f, 1.5f};
static const float theta0[ND] = {0.4f, -0.8f};
static const double prior_p = 0.3, mu_loc0 = 0.25;

typedef struct obs {
    tre_tensor *x, *x2, *y;
    double z0_scale; /* global_model and global_guide: a scale handler around z0 (0: none) */
} obs;

static tre_tensor *model(tre_ctx *c, const void *args) {
    const obs *o = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_plate(c, "other", NY, 0);
    tre_sample(c, "y", tre_normal(c, mu, tre_scalar(c, 1.f)), o->y);
    tre_plate_end(c);
    tre_plate(c, "data", ND, 0);
    tre_tensor *z = tre_sample(c, "z", tre_bernoulli_probs(c, tre_full(c, 1, (const int64_t[]){ND}, (float)prior_p)), NULL);
    tre_sample(c, "x", tre_normal(c, tre_add(c, z, mu), tre_scalar(c, 1.f)), o->x);
    tre_plate(c, "feature", NF, 0); /* dim -2 */
    tre_sample(c, "x2", tre_normal(c, z, tre_scalar(c, 1.f)), o->x2);
    tre_plate_end(c);
    tre_plate_end(c);
    return z;
}

static tre_tensor *guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *m = tre_param(c, "mu_loc", tre_scalar(c, (float)mu_loc0), TRE_C_REAL);
    tre_sample(c, "mu", tre_normal(c, m, tre_scalar(c, 1.f)), NULL);
    tre_tensor *theta = tre_param(c, "theta", tre_from_host(c, 1, 1, (const int64_t[]){ND}, theta0), TRE_C_REAL);
    tre_plate(c, "data", ND, 0);
    tre_tensor *z = tre_sample(c, "z", tre_bernoulli_logits(c, theta), NULL);
    tre_plate_end(c);
    return z;
}

static double normal_lp(double x, double m) { return -0.5 * (x - m) * (x - m) - 0.5 * log(2 * 3.14159265358979323846); }
static double sigmoid(double t) { return 1 / (1 + exp(-t)); }
/* log p(z) - log q(z) of a Bernoulli datum z: prior Bernoulli(p), guide Bernoulli(logits theta) */
static double bernoulli_log_ratio(double z, double p, double theta) {
    return (z ? log(p) : log1p(-p)) - log(sigmoid(z ? theta : -theta));
}

static void test_weights_are_per_slice(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(7);
    obs o = {tt_data(ctx, ND, xs), NULL, tt_data(ctx, NY, ys), 0};
    TT_OK(ctx, tre_tensor_create(ctx, &o.x2, TRE_F32, 1, 2, (const int64_t[]){NF, ND}, x2s));
    enum { P = 64 };
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, guide, &o, &(tre_elbo_opts){.num_particles = P, .grad = true}, &r));
    float mu[P], z[P * ND], g[ND];
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_trace_get(r.guide_trace, "mu")->msg.value, mu, P));
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_trace_get(r.guide_trace, "z")->msg.value, z, P * ND));
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "theta")->grad, g, ND));
    int ones = 0;
    for (int n = 0; n < ND; ++n) {
        double want = 0, whole = 0;
        for (int s = 0; s < P; ++s) {
            double global = normal_lp(mu[s], 0) - normal_lp(mu[s], mu_loc0), slice[ND];
            for (int k = 0; k < NY; ++k) global += normal_lp(ys[k], mu[s]);
            for (int m = 0; m < ND; ++m) {
                const double zm = z[s * ND + m];
                slice[m] = bernoulli_log_ratio(zm, prior_p, theta0[m]) + normal_lp(xs[m], zm + mu[s]);
                for (int f = 0; f < NF; ++f) slice[m] += normal_lp(x2s[f * ND + m], zm);
            }
            const double score = z[s * ND + n] - sigmoid(theta0[n]);
            want -= (global + slice[n]) * score / P;
            whole -= (global + slice[0] + slice[1]) * score / P;
            ones += z[s * ND + n] != 0;
        }
        print_message("d loss / d theta[%d] = %.6f; per-slice weights %.6f, whole elbo_s %.6f\n", n, g[n], want, whole);
        TT_NEAR(g[n], want, 1e-4 * (1 + fabs(want)));
        assert_true(fabs(want - whole) > 1e-2); /* the check can tell the two apart */
    }
    assert_true(ones > 10 && ones < 2 * P - 10);
    /* the global site mu (reparameterized) has its pathwise gradient; the elbo itself is the
     * same sum as before */
    double elbo = 0;
    for (int s = 0; s < P; ++s) elbo += r.particles[s];
    TT_NEAR(r.mean, elbo / P, 1e-5 * (1 + fabs(r.mean)));
    tre_tensor_destroy(ctx, o.x), tre_tensor_destroy(ctx, o.x2), tre_tensor_destroy(ctx, o.y);
    tre_ctx_destroy(ctx);
}

/* A score-function site in no plate is weighted by the whole elbo_s: here the model's z0 in no
 * plate, and x in plate "data" depending on it. */
/* z0's site, under a scale handler when o->z0_scale is set */
static tre_tensor *scaled_z0(tre_ctx *c, const obs *o, tre_dist *d) {
    tre_messenger *sc = o->z0_scale ? tre_scale_handler(c, o->z0_scale) : NULL;
    if (sc) tre_push(c, sc);
    tre_tensor *z = tre_sample(c, "z0", d, NULL);
    if (sc) tre_pop(c, sc);
    return z;
}
static tre_tensor *global_model(tre_ctx *c, const void *args) {
    const obs *o = args;
    tre_tensor *z = scaled_z0(c, o, tre_bernoulli_probs(c, tre_scalar(c, (float)prior_p)));
    tre_plate(c, "data", ND, 0);
    tre_sample(c, "x", tre_normal(c, z, tre_scalar(c, 1.f)), o->x);
    tre_plate_end(c);
    return z;
}
static tre_tensor *global_guide(tre_ctx *c, const void *args) {
    tre_tensor *t = tre_param(c, "t", tre_scalar(c, theta0[0]), TRE_C_REAL);
    return scaled_z0(c, args, tre_bernoulli_logits(c, t));
}

/* Also under a scale handler around z0 in both programs: its scale is in elbo_s (the weight)
 * but not on the score, which stays log q(z0) unscaled (SPEC.md section 3, as Pyro's
 * ScoreParts) */
static void test_site_in_no_plate_takes_the_whole_elbo(void **state) {
    (void)state;
    const double scales[2] = {0.0, 2.5};
    for (int k = 0; k < 2; ++k) {
        tre_ctx *ctx = tt_ctx(8);
        obs o = {tt_data(ctx, ND, xs), NULL, NULL, scales[k]};
        enum { P = 64 };
        tre_elbo_result r;
        TT_OK(ctx, tre_elbo(ctx, global_model, global_guide, &o, &(tre_elbo_opts){.num_particles = P, .grad = true}, &r));
        float z[P], g;
        TT_OK(ctx, tre_tensor_to_host(ctx, tre_trace_get(r.guide_trace, "z0")->msg.value, z, P));
        TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "t")->grad, &g, 1));
        double want = 0;
        for (int s = 0; s < P; ++s) want -= r.particles[s] * (z[s] - sigmoid(theta0[0])) / P;
        TT_NEAR(g, want, 1e-4 * (1 + fabs(want)));
        tre_tensor_destroy(ctx, o.x);
        tre_ctx_destroy(ctx);
    }
}

/* Two score-function sites in two different plates of the same size at the same dim: each
 * keeps its own slice's terms and takes the other plate's as totals (the weights of one are not
 * reused for the other, though their shapes match):
 *   w_sn = sum_m [log p(za_m) - log q(za_m) + log p(xa_m | za_m)]
 *          + log p(zb_n) - log q(zb_n) + log p(xb_n | zb_n)          for zb_n */
static const float xa[ND] = {0.5f, -1.2f}, xb[ND] = {1.4f, 0.1f};
static const float tha[ND] = {0.4f, -0.8f}, thb[ND] = {-0.3f, 1.1f};
static const double pa = 0.3, pb = 0.6;
static tre_tensor *two_plates_model(tre_ctx *c, const void *args) {
    const obs *o = args;
    const int64_t nd[1] = {ND};
    tre_plate(c, "a", ND, 0);
    tre_tensor *za = tre_sample(c, "za", tre_bernoulli_probs(c, tre_full(c, 1, nd, (float)pa)), NULL);
    tre_sample(c, "xa", tre_normal(c, za, tre_scalar(c, 1.f)), o->x);
    tre_plate_end(c);
    tre_plate(c, "b", ND, 0);
    tre_tensor *zb = tre_sample(c, "zb", tre_bernoulli_probs(c, tre_full(c, 1, nd, (float)pb)), NULL);
    tre_sample(c, "xb", tre_normal(c, zb, tre_scalar(c, 1.f)), o->y);
    tre_plate_end(c);
    return NULL;
}
static tre_tensor *two_plates_guide(tre_ctx *c, const void *args) {
    (void)args;
    const int64_t nd[1] = {ND};
    tre_tensor *ta = tre_param(c, "ta", tre_from_host(c, 1, 1, nd, tha), TRE_C_REAL);
    tre_tensor *tb = tre_param(c, "tb", tre_from_host(c, 1, 1, nd, thb), TRE_C_REAL);
    tre_plate(c, "a", ND, 0);
    tre_sample(c, "za", tre_bernoulli_logits(c, ta), NULL);
    tre_plate_end(c);
    tre_plate(c, "b", ND, 0);
    tre_sample(c, "zb", tre_bernoulli_logits(c, tb), NULL);
    tre_plate_end(c);
    return NULL;
}

static void test_plates_of_equal_shape_keep_their_own_weights(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(7);
    obs o = {tt_data(ctx, ND, xa), NULL, tt_data(ctx, ND, xb), 0};
    enum { P = 64 };
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, two_plates_model, two_plates_guide, &o, &(tre_elbo_opts){.num_particles = P, .grad = true}, &r));
    float za[P * ND], zb[P * ND], g[ND];
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_trace_get(r.guide_trace, "za")->msg.value, za, P * ND));
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_trace_get(r.guide_trace, "zb")->msg.value, zb, P * ND));
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "tb")->grad, g, ND));
    for (int n = 0; n < ND; ++n) {
        double want = 0;
        for (int s = 0; s < P; ++s) {
            const double z = zb[s * ND + n];
            double w = bernoulli_log_ratio(z, pb, thb[n]) + normal_lp(xb[n], z);
            for (int m = 0; m < ND; ++m) {
                const double y = za[s * ND + m];
                w += bernoulli_log_ratio(y, pa, tha[m]) + normal_lp(xa[m], y);
            }
            want -= w * (z - sigmoid(thb[n])) / P;
        }
        TT_NEAR(g[n], want, 1e-4 * (1 + fabs(want)));
    }
    tre_tensor_destroy(ctx, o.x), tre_tensor_destroy(ctx, o.y);
    tre_ctx_destroy(ctx);
}

/* Unbiased: z_n ~ Bernoulli(0.3) and x_n ~ Normal(2 z_n, 1) for n in a plate of 4, guide
 * Bernoulli(logits theta_n). ELBO_n = sum_z q(z) [log p(z) + log p(x_n | z) - log q(z)], so
 * d ELBO_n / d theta_n = q1 q0 [log p(1) + log p(x_n | 1) - log q1 - (log p(0) + log p(x_n | 0) - log q0)]. */
#define NU 4
static const float xu[NU] = {1.4f, -0.3f, 2.2f, 0.6f}, tu[NU] = {0.4f, -1.0f, 1.3f, 0.0f};

static tre_tensor *plate_model(tre_ctx *c, const void *args) {
    const obs *o = args;
    tre_plate(c, "data", NU, 0);
    tre_tensor *z = tre_sample(c, "z", tre_bernoulli_probs(c, tre_full(c, 1, (const int64_t[]){NU}, (float)prior_p)), NULL);
    tre_sample(c, "x", tre_normal(c, tre_mul(c, z, tre_scalar(c, 2.f)), tre_scalar(c, 1.f)), o->x);
    tre_plate_end(c);
    return z;
}
static tre_tensor *plate_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *t = tre_param(c, "theta", tre_from_host(c, 1, 1, (const int64_t[]){NU}, tu), TRE_C_REAL);
    tre_plate(c, "data", NU, 0);
    tre_tensor *z = tre_sample(c, "z", tre_bernoulli_logits(c, t), NULL);
    tre_plate_end(c);
    return z;
}

static void test_unbiased(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(9);
    obs o = {tt_data(ctx, NU, xu), NULL, NULL, 0};
    enum { REPS = 200, P = 256 };
    double sum[NU] = {0}, sum2[NU] = {0};
    for (int k = 0; k < REPS; ++k) {
        tre_elbo_result r;
        TT_OK(ctx, tre_elbo(ctx, plate_model, plate_guide, &o, &(tre_elbo_opts){.num_particles = P, .grad = true}, &r));
        float g[NU];
        TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "theta")->grad, g, NU));
        for (int n = 0; n < NU; ++n) sum[n] += g[n], sum2[n] += (double)g[n] * g[n];
    }
    for (int n = 0; n < NU; ++n) {
        const double q1 = sigmoid(tu[n]), q0 = 1 - q1;
        const double f1 = log(prior_p) + normal_lp(xu[n], 2) - log(q1), f0 = log1p(-prior_p) + normal_lp(xu[n], 0) - log(q0);
        const double want = -q1 * q0 * (f1 - f0); /* d loss / d theta_n */
        const double mean = sum[n] / REPS, se = sqrt((sum2[n] / REPS - mean * mean) / (REPS - 1));
        print_message("theta[%d]: mean gradient %.5f +- %.5f, closed form %.5f\n", n, mean, se, want);
        if (!(fabs(mean - want) <= 4 * se)) fail_msg("theta[%d]: %.5f +- %.5f against %.5f", n, mean, se, want);
    }
    tre_tensor_destroy(ctx, o.x);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_are_per_slice),
        cmocka_unit_test(test_site_in_no_plate_takes_the_whole_elbo),
        cmocka_unit_test(test_plates_of_equal_shape_keep_their_own_weights),
        cmocka_unit_test(test_unbiased),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
