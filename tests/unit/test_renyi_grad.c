/* RenyiELBO's gradient, checked exactly against the drawn particles.
 *
 * Model z ~ Bernoulli(0.3), x ~ Normal(2 z, 1) observed; guide z ~ Bernoulli(logits = phi), a
 * non-reparameterized site, under a scale handler or a mask handler. Pyro's RenyiELBO adds
 * alpha / (1 - alpha) times the guide site's (scaled, masked) log_prob_sum to each particle's
 * surrogate, weighted by the detached normalized weights w_s = exp((1 - alpha) elbo_s) / mean:
 * d loss / d phi = -mean_s w_s alpha / (1 - alpha) c m (z_s - sigmoid(phi)) for scale c, mask m. */
#include <math.h>
#include "test_support.h"

static const float x_obs = 1.4f, phi0 = 0.4f;

typedef struct guide_args {
    double scale; /* the guide site's scale handler */
    float mask;   /* the guide site's mask (1: kept) */
} guide_args;

static tre_tensor *model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *z = tre_sample(c, "z", tre_bernoulli_probs(c, tre_scalar(c, 0.3f)), NULL);
    tre_sample(c, "x", tre_normal(c, tre_mul(c, z, tre_scalar(c, 2.f)), tre_scalar(c, 1.f)),
               tre_scalar(c, x_obs));
    return z;
}
static tre_tensor *guide(tre_ctx *c, const void *args) {
    const guide_args *a = args;
    tre_tensor *phi = tre_param(c, "phi", tre_scalar(c, phi0), TRE_C_REAL);
    tre_messenger *h[2] = {tre_scale_handler(c, a->scale), tre_mask_handler(c, tre_scalar(c, a->mask))};
    tre_push(c, h[0]);
    tre_push(c, h[1]);
    tre_tensor *z = tre_sample(c, "z", tre_bernoulli_logits(c, phi), NULL);
    tre_pop(c, h[1]);
    tre_pop(c, h[0]);
    return z;
}

/* the expected d loss / d phi from the evaluation's particles and draws */
static double expected_grad(tre_ctx *ctx, const tre_elbo_result *r, double alpha, double cm) {
    const int64_t P = r->num_particles;
    const tre_tensor *z = tre_trace_get(r->guide_trace, "z")->msg.value;
    double mx = -INFINITY, acc = 0, g = 0;
    for (int64_t s = 0; s < P; ++s) mx = fmax(mx, (1 - alpha) * r->particles[s]);
    for (int64_t s = 0; s < P; ++s) acc += exp((1 - alpha) * r->particles[s] - mx);
    const double lmw = mx + log(acc / (double)P), q1 = 1 / (1 + exp(-(double)phi0));
    for (int64_t s = 0; s < P; ++s) {
        const double w = exp((1 - alpha) * r->particles[s] - lmw);
        g += w * alpha / (1 - alpha) * cm * (tt_at(ctx, z, s) - q1);
    }
    return -g / (double)P;
}

static void check(double alpha, guide_args a) {
    tre_ctx *ctx = tt_ctx(31);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, guide, &a,
                        &(tre_elbo_opts){.kind = TRE_RENYI_ELBO, .alpha = alpha, .num_particles = 16,
                                         .grad = true},
                        &r));
    const double want = expected_grad(ctx, &r, alpha, a.scale * a.mask);
    const tre_param_entry *e = tre_param_store_get(ctx, "phi");
    assert_non_null(e);
    assert_non_null(e->grad);
    TT_NEAR(tt_at(ctx, e->grad, 0), want, 1e-5 * (1 + fabs(want)));
    tre_ctx_destroy(ctx);
}

/* the score term carries the site's scale (c = 0.5, 3) */
static void test_score_term_is_scaled(void **state) {
    (void)state;
    check(0.25, (guide_args){1.0, 1.f});
    check(0.25, (guide_args){0.5, 1.f});
    check(-0.5, (guide_args){3.0, 1.f});
}

/* a masked-out guide site adds no score term: the gradient is 0 */
static void test_score_term_is_masked(void **state) {
    (void)state;
    check(0.25, (guide_args){1.0, 0.f});
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_term_is_scaled),
        cmocka_unit_test(test_score_term_is_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
