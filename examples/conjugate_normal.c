/* A conjugate Normal model and a Normal guide: one multi-particle Trace_ELBO evaluation,
 * compared with the closed-form ELBO. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "trelbo.h"

typedef struct data { tre_tensor *x; } data;

static tre_tensor *model(tre_ctx *c, const void *args) {
    const data *d = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 10.f)), NULL);
    tre_plate(c, "data", d->x->shape[0], 0);
    tre_sample(c, "obs", tre_normal(c, mu, tre_scalar(c, 1.f)), d->x);
    tre_plate_end(c);
    return mu;
}

static tre_tensor *guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *loc = tre_param(c, "q_loc", tre_scalar(c, 0.f), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "q_scale", tre_scalar(c, 1.f), TRE_C_POSITIVE);
    return tre_sample(c, "mu", tre_normal(c, loc, scale), NULL);
}

int main(int argc, char **argv) {
    int64_t particles = argc > 1 ? atoll(argv[1]) : 4096;
    tre_ctx *ctx;
    tre_status s = tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_AUTO, .seed = 1});
    if (s != TRE_OK) {
        fprintf(stderr, "tre_ctx_create: %s\n", tre_status_name(s));
        return 1;
    }
    float xs[100];
    for (int i = 0; i < 100; ++i) xs[i] = 1.5f + (float)((i * 37) % 17 - 8) / 8.f;
    int64_t n = 100;
    data d = {NULL};
    tre_elbo_result r;
    if (tre_tensor_create(ctx, &d.x, TRE_F32, 1, 1, &n, xs) != TRE_OK ||
        tre_elbo(ctx, model, guide, &d, &(tre_elbo_opts){.num_particles = particles}, &r) != TRE_OK) {
        fprintf(stderr, "error: %s\n", tre_ctx_error(ctx));
        tre_ctx_destroy(ctx);
        return 1;
    }
    printf("backend %s, %lld particles: ELBO = %.4f +- %.4f (loss %.4f)\n", tre_ctx_backend_name(ctx),
           (long long)particles, r.mean, r.stderr_, r.loss);
    tre_ctx_destroy(ctx);
    return 0;
}
