/* A minimal training binary against the installed library: SVI on a conjugate Normal model,
 * exits non-zero when the fit is off. */
#include <math.h>
#include <stdio.h>
#include <trelbo.h>

static tre_tensor *model(tre_ctx *c, const void *args) {
    const tre_tensor *x = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 10.f)), NULL);
    tre_plate(c, "data", x->shape[0], 0);
    tre_sample(c, "obs", tre_normal(c, mu, tre_scalar(c, 1.f)), x);
    tre_plate_end(c);
    return mu;
}

static tre_tensor *guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *loc = tre_param(c, "q_loc", tre_scalar(c, 0.f), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "q_scale", tre_scalar(c, 1.f), TRE_C_POSITIVE);
    return tre_sample(c, "mu", tre_normal(c, loc, scale), NULL);
}

int main(void) {
    tre_ctx *ctx;
    if (tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_AUTO, .seed = 7}) != TRE_OK) return 1;
    float xs[64];
    for (int i = 0; i < 64; ++i) xs[i] = 3.f + (float)((i * 29) % 13 - 6) / 6.f;
    int64_t n = 64;
    tre_tensor *x = NULL;
    tre_adam *opt = NULL;
    double loss = 0;
    if (tre_tensor_create(ctx, &x, TRE_F32, 1, 1, &n, xs) != TRE_OK ||
        tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.05}, &opt) != TRE_OK)
        return fprintf(stderr, "%s\n", tre_ctx_error(ctx)), 1;
    for (int step = 0; step < 1000; ++step)
        if (tre_svi_step(ctx, model, guide, x, &(tre_elbo_opts){.num_particles = 64}, opt, &loss) != TRE_OK)
            return fprintf(stderr, "%s\n", tre_ctx_error(ctx)), 1;
    float loc = NAN;
    tre_ctx_step_reset(ctx);
    tre_tensor_to_host(ctx, tre_param_constrained(ctx, tre_param_store_get(ctx, "q_loc")), &loc, 1);
    printf("backend %s: loss %.3f, q_loc %.4f\n", tre_ctx_backend_name(ctx), loss, loc);
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
    return fabsf(loc - 3.f) < 0.1f ? 0 : 1;
}
