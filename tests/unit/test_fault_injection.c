/* Failures at every point of a training run: the backend's n-th allocation, or its n-th call of
 * one of its most used entries (upload, fill, binary, mask_scale, log_prob_sum, sample,
 * adam_update), fails once, for every n that a run of SVI steps (with a score-function site, a
 * constrained and a simplex param, a plate, and a checkpoint saved and loaded) reaches. Each
 * run must report the failure as an error (out of memory, or the backend's failure), never
 * crash or leak (the sanitized build runs this too), and then train on: once the backend works
 * again, the next steps succeed with finite losses, and the optimiser's state is whole. A step
 * that fails gives a NaN loss, as tre_svi_step says.
 * On the CPU backend with eager steps; on the CUDA backend, where there is one (the emulated
 * build has one), through tre_svi_step_graphed, so that failures also land in graph captures
 * and replays. */
#include <stdio.h>
#include <stdlib.h>
#include "test_support.h"
#include "tt_training.h"
#include "src/core/ctx_impl.h"

/* ---- the patched backend: the countdown-th call of the chosen kind fails ------------------ */

enum { F_ALLOC, F_UPLOAD, F_FILL, F_BINARY, F_MASK_SCALE, F_LOG_PROB_SUM, F_SAMPLE, F_ADAM, F_KINDS };
static const char *kind_names[F_KINDS] = {"alloc", "upload", "fill", "binary", "mask_scale",
                                          "log_prob_sum", "sample", "adam_update"};
static tre_backend real;  /* the CPU backend's own table */
static int fail_kind;
static long countdown;    /* calls of fail_kind until the failing one (0: off) */
static long calls;        /* calls of fail_kind seen */
static bool failed;       /* the failure happened */
static bool in_capture;   /* ... inside a step graph's capture */
static const tre_ctx *under_test;
static long absorbed;     /* failures inside a capture that the step's eager rerun absorbed */

static bool fail_now(int kind) {
    if (kind != fail_kind) return false;
    ++calls;
    if (countdown > 0 && --countdown == 0) {
        in_capture = under_test->capturing;
        return failed = true;
    }
    return false;
}
static void *f_alloc(void *impl, size_t bytes) { return fail_now(F_ALLOC) ? NULL : real.alloc(impl, bytes); }
static int f_upload(void *impl, void *dst, const void *host, size_t bytes) {
    return fail_now(F_UPLOAD) ? 1 : real.upload(impl, dst, host, bytes);
}
static int f_fill(void *impl, float *dst, float v, int64_t n) { return fail_now(F_FILL) ? 1 : real.fill(impl, dst, v, n); }
static int f_binary(void *impl, tre_binop op, const tre_kshape *shape, float *out, const tre_karg *a,
                    const tre_karg *b, bool *no_nan) {
    return fail_now(F_BINARY) ? 1 : real.binary(impl, op, shape, out, a, b, no_nan);
}
static int f_mask_scale(void *impl, const tre_kshape *shape, float *out, const tre_karg *x,
                        const tre_karg *mask, float scale) {
    return fail_now(F_MASK_SCALE) ? 1 : real.mask_scale(impl, shape, out, x, mask, scale);
}
static int f_log_prob_sum(void *impl, tre_kdist kind, int64_t particles, const tre_kshape *inner,
                          float *out, const tre_karg *args, const int64_t *pstride, float scale) {
    return fail_now(F_LOG_PROB_SUM) ? 1 : real.log_prob_sum(impl, kind, particles, inner, out, args, pstride, scale);
}
static int f_sample(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                    const tre_karg *params, uint64_t seed, uint64_t stream) {
    return fail_now(F_SAMPLE) ? 1 : real.sample(impl, kind, shape, out, params, seed, stream);
}
static int f_adam(void *impl, int64_t n, float *u, const float *g, float *m, float *v, float beta1,
                  float beta2, float eps, float wd, float clip, float step_size, float bc2_sqrt) {
    return fail_now(F_ADAM) ? 1 : real.adam_update(impl, n, u, g, m, v, beta1, beta2, eps, wd, clip, step_size, bc2_sqrt);
}

static void patch(tre_ctx *ctx) {
    real = *ctx->be;
    ctx->be->alloc = f_alloc;
    ctx->be->upload = f_upload;
    ctx->be->fill = f_fill;
    ctx->be->binary = f_binary;
    ctx->be->mask_scale = f_mask_scale;
    ctx->be->log_prob_sum = f_log_prob_sum;
    ctx->be->sample = f_sample;
    ctx->be->adam_update = f_adam;
}

/* ---- the training run ----------------------------------------------------------------------- */

static bool use_cuda; /* the CUDA backend and graphed steps */

static tre_ctx *make_ctx(void) {
    if (!use_cuda) return tt_ctx(3);
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CUDA, .seed = 3}));
    return ctx;
}
static tre_status step(tre_ctx *ctx, tre_step_graph *graph, const tre_tensor *y, tre_adam *opt, double *loss) {
    const tre_elbo_opts o = {.num_particles = 4};
    return graph ? tre_svi_step_graphed(ctx, graph, tt_training_model, tt_training_guide, y, &o, opt, loss)
                 : tre_svi_step(ctx, tt_training_model, tt_training_guide, y, &o, opt, loss);
}

/* A step under the patched backend: one that fails gives a NaN loss (tre_svi_step) */
static tre_status failing_step(tre_ctx *ctx, tre_step_graph *graph, const tre_tensor *y, tre_adam *opt,
                               int kind, long n) {
    double loss = 0.0;
    const tre_status s = step(ctx, graph, y, opt, &loss);
    if (s != TRE_OK && !isnan(loss))
        fail_msg("%s #%ld: the failed step's loss is %g, not NaN", kind_names[kind], n, loss);
    return s;
}

/* Five steps, a checkpoint saved and loaded, one more step, all under the patched backend
 * (with the kind's countdown-th call failing when countdown > 0); then, with the backend
 * working again, three steps that must succeed. Returns whether the failure was reached. */
static bool run(int kind, long n, long *total) {
    tre_ctx *ctx = make_ctx();
    tre_adam *opt = NULL;
    tre_tensor *y = NULL;
    tre_step_graph *graph = NULL;
    if (use_cuda) TT_OK(ctx, tre_step_graph_create(ctx, &graph));
    patch(ctx);
    under_test = ctx;
    fail_kind = kind, countdown = n, calls = 0, failed = false, in_capture = false;
    char store[96], adam[96];
    snprintf(store, sizeof store, "%s/store", tt_dir);
    snprintf(adam, sizeof adam, "%s/adam", tt_dir);
    tre_status s = tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.05}, &opt);
    if (s == TRE_OK && !(y = tt_training_data(ctx))) s = tre_ctx_status(ctx);
    for (int i = 0; i < 5 && s == TRE_OK; ++i) s = failing_step(ctx, graph, y, opt, kind, n);
    if (s == TRE_OK) s = tre_param_store_save(ctx, store);
    if (s == TRE_OK) s = tre_adam_save(ctx, opt, adam);
    if (s == TRE_OK) s = tre_param_store_load(ctx, store);
    if (s == TRE_OK) s = tre_adam_load(ctx, opt, adam);
    if (s == TRE_OK) s = failing_step(ctx, graph, y, opt, kind, n);
    /* a failure inside a capture is the host's to absorb: it gives up the capture and runs the
     * step eagerly (step_graph.c) */
    if (failed != (s != TRE_OK) && !(in_capture && s == TRE_OK))
        fail_msg("%s #%ld: %s (%s), failure %s", kind_names[kind], n, tre_status_name(s), tre_ctx_error(ctx),
                 failed ? "injected" : "not injected");
    absorbed += failed && in_capture && s == TRE_OK;
    if (s != TRE_OK && s != TRE_ERR_OUT_OF_MEMORY && s != TRE_ERR_BACKEND)
        fail_msg("%s #%ld: %s (%s)", kind_names[kind], n, tre_status_name(s), tre_ctx_error(ctx));
    if (s != TRE_OK && !strstr(tre_ctx_error(ctx), kind == F_ALLOC ? "out of" : "failed"))
        fail_msg("%s #%ld: the error does not say what failed: %s", kind_names[kind], n, tre_ctx_error(ctx));
    *total = calls;
    /* the backend works again: the run goes on (what it lacks, it makes) */
    countdown = 0;
    tre_ctx_clear_error(ctx);
    if (!opt) TT_OK(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = 0.05}, &opt));
    if (!y && !(y = tt_training_data(ctx))) fail_msg("%s", tre_ctx_error(ctx));
    for (int i = 0; i < 3; ++i) {
        double loss;
        TT_OK(ctx, step(ctx, graph, y, opt, &loss));
        if (!isfinite(loss)) fail_msg("%s #%ld: loss %g after recovery", kind_names[kind], n, loss);
    }
    TT_OK(ctx, tre_adam_save(ctx, opt, adam)); /* the optimiser's state is whole */
    tre_step_graph_destroy(ctx, graph);
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
    return failed;
}


static void every_failure_point(void) {
    for (int kind = 0; kind < F_KINDS; ++kind) {
        long total = 0;
        run(kind, 0, &total); /* how many calls a clean run makes */
        assert_true(total > 0);
        long reached = 0;
        absorbed = 0;
        for (long n = 1; n <= total; ++n) reached += run(kind, n, &(long){0});
        print_message("%s %-13s %3ld calls, each failed once in its own run (%ld in a capture, "
                      "absorbed)\n", use_cuda ? "cuda" : "cpu ", kind_names[kind], total, absorbed);
        assert_int_equal(reached, total);
    }
}

static void test_every_failure_point_cpu(void **state) {
    (void)state;
    use_cuda = false;
    every_failure_point();
}

static void test_every_failure_point_cuda_graphed(void **state) {
    (void)state;
    tre_ctx *probe = NULL;
    if (tre_ctx_create(&probe, &(tre_ctx_opts){.backend = TRE_BACKEND_CUDA}) != TRE_OK) {
        tre_ctx_destroy(probe);
        skip(); /* no CUDA backend here */
    }
    tre_ctx_destroy(probe);
    use_cuda = true;
    every_failure_point();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_failure_point_cpu),
        cmocka_unit_test(test_every_failure_point_cuda_graphed),
    };
    return cmocka_run_group_tests(tests, tt_make_dir, tt_remove_dir);
}
