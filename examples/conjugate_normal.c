/* A conjugate Normal model trained by SVI: mu ~ N(0, 10), x_i ~ N(mu, 1). The Normal guide's
 * loc and scale converge to the exact posterior, printed beside them with the loss curve.
 * --check exits non-zero unless both are within 2% (the test suite runs it so). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trelbo.h"

#define N 100
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

static double param_value(tre_ctx *ctx, const char *name) {
    float v = NAN;
    tre_ctx_step_reset(ctx);
    tre_tensor_to_host(ctx, tre_param_constrained(ctx, tre_param_store_get(ctx, name)), &v, 1);
    return v;
}

int main(int argc, char **argv) {
    bool check = argc > 1 && strcmp(argv[1], "--check") == 0;
    tre_ctx *ctx;
    if (tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_AUTO, .seed = 1}) != TRE_OK) return 1;
    float xs[N];
    double sx = 0;
    for (int i = 0; i < N; ++i) {
        xs[i] = 1.5f + (float)((i * 37) % 17 - 8) / 8.f;
        sx += xs[i];
    }
    double prec = 1.0 / 100.0 + N, post_mean = sx / prec, post_sd = sqrt(1.0 / prec);
    int64_t n = N;
    data d = {NULL};
    tre_adam *opt = NULL;
    if (tre_tensor_create(ctx, &d.x, TRE_F32, 1, 1, &n, xs) != TRE_OK ||
        tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.05, .lrd = 0.998, .clip_norm = 10}, &opt) != TRE_OK) {
        fprintf(stderr, "error: %s\n", tre_ctx_error(ctx));
        return 1;
    }
    printf("step        loss\n");
    double loss = 0;
    for (int step = 0; step <= 2500; ++step) {
        if (tre_svi_step(ctx, model, guide, &d, &(tre_elbo_opts){.num_particles = 256}, opt, &loss) != TRE_OK) {
            fprintf(stderr, "error: %s\n", tre_ctx_error(ctx));
            return 1;
        }
        if (step % 250 == 0) printf("%4d %11.4f\n", step, loss);
    }
    double loc = param_value(ctx, "q_loc"), sd = param_value(ctx, "q_scale");
    printf("guide      loc %.5f  scale %.5f\nposterior mean %.5f  sd    %.5f\n", loc, sd, post_mean, post_sd);
    bool ok = fabs(loc - post_mean) < 0.02 * fabs(post_mean) && fabs(sd - post_sd) < 0.02 * post_sd;
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
    if (check && !ok) {
        fprintf(stderr, "FAIL: the guide is not within 2%% of the exact posterior\n");
        return 1;
    }
    return 0;
}
