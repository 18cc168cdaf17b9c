/* Bayesian linear regression on N = 100,000 rows trained by SVI on minibatches of B = 1,000
 * that the loop streams in itself, as a training binary does:
 *   w ~ Normal(0, 1)^D,  y_i ~ Normal(x_i . w, 0.5)
 * with a mean-field Normal guide. The batch tensors are created once and refilled before each
 * step with tre_tensor_write, so they keep their memory: on the CUDA backend the step is
 * captured once and replayed from one graph (tre_svi_step_graphed), and each replay reads the
 * new rows. The likelihood is scaled by N / B with a scale handler, as a subsampled plate would
 * scale it. Prints the loss, the recovered weights and the step graph's counts. --check exits
 * non-zero unless the guide's means are within 0.05 of the true weights (the posterior sd is
 * about 0.002 here) and, on CUDA, the steps were replayed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trelbo.h"

#define N 100000
#define B 1000
#define D 10
#define NOISE 0.5f

typedef struct batch {
    tre_tensor *X, *y; /* [B, D] and [B], refilled before every step */
} batch;

static tre_tensor *model(tre_ctx *c, const void *args) {
    const batch *b = args;
    int64_t dim = D;
    tre_dist *prior = tre_dist_to_event(c, tre_dist_expand(c, tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), 1, &dim), 1);
    tre_tensor *w = tre_sample(c, "w", prior, NULL);
    tre_messenger *scale = tre_scale_handler(c, (double)N / B); /* this batch stands for all N rows */
    tre_push(c, scale);
    tre_plate(c, "data", B, 0);
    tre_sample(c, "y", tre_normal(c, tre_matmul(c, b->X, w), tre_scalar(c, NOISE)), b->y);
    tre_plate_end(c);
    tre_pop(c, scale);
    return w;
}

static tre_tensor *guide(tre_ctx *c, const void *args) {
    (void)args;
    int64_t dim = D;
    tre_tensor *loc = tre_param(c, "w_loc", tre_full(c, 1, &dim, 0.f), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "w_scale", tre_full(c, 1, &dim, 0.1f), TRE_C_POSITIVE);
    return tre_sample(c, "w", tre_dist_to_event(c, tre_normal(c, loc, scale), 1), NULL);
}

static double gauss(uint64_t *s) { /* Box-Muller over a xorshift stream: data made here */
    double u[2];
    for (int k = 0; k < 2; ++k) {
        *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
        u[k] = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

static int fail(tre_ctx *ctx) {
    fprintf(stderr, "error: %s\n", tre_ctx_error(ctx));
    return 1;
}

int main(int argc, char **argv) {
    const bool check = argc > 1 && strcmp(argv[1], "--check") == 0;
    float *X = malloc(sizeof(float) * N * D), *y = malloc(sizeof(float) * N), w_true[D];
    if (!X || !y) return 1;
    uint64_t s = 0x2545F4914F6CDD1Dull;
    for (int j = 0; j < D; ++j) w_true[j] = (float)gauss(&s);
    for (int i = 0; i < N; ++i) {
        double z = 0;
        for (int j = 0; j < D; ++j) z += (X[(size_t)i * D + j] = (float)gauss(&s)) * w_true[j];
        y[i] = (float)(z + NOISE * gauss(&s));
    }
    tre_ctx *ctx;
    if (tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_AUTO, .seed = 5}) != TRE_OK) return 1;
    const int64_t xs[2] = {B, D}, n = B;
    batch b = {NULL, NULL};
    tre_adam *opt = NULL;
    tre_step_graph *graph = NULL;
    if (tre_tensor_create(ctx, &b.X, TRE_F32, 1, 2, xs, NULL) != TRE_OK ||
        tre_tensor_create(ctx, &b.y, TRE_F32, 1, 1, &n, NULL) != TRE_OK ||
        tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.02}, &opt) != TRE_OK ||
        tre_step_graph_create(ctx, &graph) != TRE_OK)
        return fail(ctx);
    printf("backend %s\nstep         loss\n", tre_ctx_backend_name(ctx));
    double loss = 0;
    const tre_elbo_opts o = {.num_particles = 8};
    for (int step = 0; step < 3000; ++step) {
        const size_t row = (size_t)(step % (N / B)) * B; /* the batches in turn */
        if (tre_tensor_write(ctx, b.X, X + row * D, (int64_t)B * D) != TRE_OK ||
            tre_tensor_write(ctx, b.y, y + row, B) != TRE_OK ||
            tre_svi_step_graphed(ctx, graph, model, guide, &b, &o, opt, &loss) != TRE_OK)
            return fail(ctx);
        if (step % 500 == 0) printf("%4d %12.1f\n", step, loss);
    }
    float loc[D], sd[D];
    if (tre_tensor_to_host(ctx, tre_param_constrained(ctx, tre_param_store_get(ctx, "w_loc")), loc, D) != TRE_OK ||
        tre_tensor_to_host(ctx, tre_param_constrained(ctx, tre_param_store_get(ctx, "w_scale")), sd, D) != TRE_OK)
        return fail(ctx);
    double worst = 0;
    printf("   j   true w   guide loc   guide sd\n");
    for (int j = 0; j < D; ++j) {
        printf("%4d %8.3f %11.4f %10.4f\n", j, w_true[j], loc[j], sd[j]);
        worst = fmax(worst, fabs(loc[j] - w_true[j]));
    }
    tre_step_graph_stats st;
    tre_step_graph_stats_get(graph, &st);
    printf("largest |guide loc - true w| = %.4f\n", worst);
    printf("steps %lld: eager %lld, replayed %lld, captures %lld (%s)\n", (long long)st.steps,
           (long long)st.eager_steps, (long long)st.replays, (long long)st.captures,
           st.eager_reason ? st.eager_reason : "graphs in use");
    const bool on_cuda = strncmp(tre_ctx_backend_name(ctx), "cuda", 4) == 0; /* or cuda-emulated */
    const bool ok = worst < 0.05 && (!on_cuda || st.replays > 2000);
    tre_step_graph_destroy(ctx, graph);
    tre_adam_destroy(ctx, opt);
    tre_tensor_destroy(ctx, b.X), tre_tensor_destroy(ctx, b.y);
    tre_ctx_destroy(ctx);
    free(X), free(y);
    if (check && !ok) {
        fprintf(stderr, "FAIL: weights not recovered%s\n", on_cuda ? " or steps not replayed" : "");
        return 1;
    }
    return 0;
}
