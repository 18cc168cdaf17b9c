/* trelbo-bench: the multi-particle ELBO benchmark (the README's main job).
 *
 * Runs the model suite of bench_models.c over a sweep of particle counts, value-only and
 * value+gradient, and reports per configuration the estimate with its standard error, the
 * median and spread of the time per step, particles/s, log-density terms/s, peak memory (host
 * and backend, per configuration), and the fraction of this machine's ceiling reached, measured
 * in the same run (matrix-product rate for the models bound by one, memory bandwidth for the
 * others). --json writes the same rows in the
 * format bench/peers/ and bench/compare use. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "bench_models.h"
#include "host_peak.h"

const char *tre_bench_data_text(const void *data);

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct opts {
    const char *model, *json;
    int64_t particles[32];
    int nparticles;
    bench_size size;
    int reps;
    int modes;       /* bit 0: value only, bit 1: value + gradient */
    uint64_t seed;
    bool no_validation;
    tre_elbo_kind estimator;
    const char *estimator_name;
    double alpha;
    tre_backend_kind backend;
    bool graph; /* value+grad timed as tre_svi_step_graphed steps (CUDA: replayed graphs) */
    bool check; /* fail when an estimate misses its model's closed form by more than 5 SE */
} opts;

static void usage(void) {
    printf("usage: trelbo-bench [--model NAME|all] [--particles 1,16,...] [--n N] [--d D]\n"
           "                    [--mode value|grad|both] [--reps R] [--seed S] [--json FILE]\n"
           "                    [--estimator trace|meanfield|renyi] [--alpha A]\n"
           "                    [--backend auto|cpu|cuda] [--graph] [--no-validation] [--check]\n"
           "                    [--lr-logits glm|matmul]\n"
           "models (default sizes):\n");
    for (int i = 0; i < tre_bench_model_count; ++i)
        printf("  %-22s %s\n", tre_bench_models[i]->name, tre_bench_models[i]->sizes);
    printf("--backend auto (the default) takes CUDA when a device is present, else the CPU;\n"
           "TRELBO_BACKEND=cpu|cuda overrides auto. --estimator: Trace_ELBO (default),\n"
           "TraceMeanField_ELBO, or RenyiELBO with --alpha (default 0: IWAE). Each configuration\n"
           "runs in a context of its own, warmed up with two steps before it is timed; host_MiB\n"
           "is the process's peak resident set during it, backend_MiB the most memory the\n"
           "backend held (the device's on CUDA). A configuration that runs out of memory is\n"
           "reported as skipped, with the larger particle counts of its mode. --graph times value+gradient as SVI steps\n"
           "(Adam included) through tre_svi_step_graphed: on CUDA, replays of one captured graph\n"
           "after 2 eager warm-up steps and the capture; on the CPU, eager steps. --check exits\n"
           "nonzero when an estimate misses its model's closed-form ELBO (conjugate_normal) by\n"
           "more than 5 standard errors. --lr-logits: logistic regression's likelihood as the\n"
           "fused tre_bernoulli_logits_glm (default) or Bernoulli(logits = tre_matmul(x, w)).\n");
}

static int parse(int argc, char **argv, opts *o) {
    /* the default sweep keeps the whole suite to a few minutes on a 2-core machine; larger P
     * (up to 65,536 and beyond) with --particles */
    *o = (opts){.model = "all", .reps = 10, .modes = 3, .seed = 1, .estimator = TRE_TRACE_ELBO,
                .estimator_name = "trace_elbo", .backend = TRE_BACKEND_AUTO};
    const int64_t sweep[] = {1, 16, 256, 1024, 4096};
    o->nparticles = 5;
    memcpy(o->particles, sweep, sizeof sweep);
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(), 1;
        if (!strcmp(a, "--no-validation")) { /* distribution checks off, as NumPyro's default */
            o->no_validation = true;
            continue;
        }
        if (!strcmp(a, "--graph")) {
            o->graph = true;
            continue;
        }
        if (!strcmp(a, "--check")) {
            o->check = true;
            continue;
        }
        if (!v) return fprintf(stderr, "missing value after %s\n", a), 2;
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--json")) o->json = v;
        else if (!strcmp(a, "--n")) o->size.n = atoll(v);
        else if (!strcmp(a, "--d")) o->size.d = atoll(v);
        else if (!strcmp(a, "--reps")) o->reps = atoi(v);
        else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--alpha")) o->alpha = atof(v);
        else if (!strcmp(a, "--lr-logits")) {
            if (strcmp(v, "glm") && strcmp(v, "matmul")) return fprintf(stderr, "--lr-logits must be glm or matmul\n"), 2;
            o->size.matmul_logits = !strcmp(v, "matmul");
        }
        else if (!strcmp(a, "--estimator")) {
            static const struct { const char *arg, *name; tre_elbo_kind kind; } est[3] = {
                {"trace", "trace_elbo", TRE_TRACE_ELBO},
                {"meanfield", "trace_meanfield_elbo", TRE_TRACE_MEANFIELD_ELBO},
                {"renyi", "renyi_elbo", TRE_RENYI_ELBO}};
            int k = 0;
            while (k < 3 && strcmp(v, est[k].arg)) ++k;
            if (k == 3) return fprintf(stderr, "--estimator must be trace, meanfield or renyi\n"), 2;
            o->estimator = est[k].kind;
            o->estimator_name = est[k].name;
        } else if (!strcmp(a, "--backend")) {
            o->backend = !strcmp(v, "cpu") ? TRE_BACKEND_CPU : !strcmp(v, "cuda") ? TRE_BACKEND_CUDA
                         : !strcmp(v, "auto") ? TRE_BACKEND_AUTO : (tre_backend_kind)-1;
            if ((int)o->backend < 0) return fprintf(stderr, "--backend must be auto, cpu or cuda\n"), 2;
        }
        else if (!strcmp(a, "--mode")) {
            o->modes = !strcmp(v, "value") ? 1 : !strcmp(v, "grad") ? 2 : !strcmp(v, "both") ? 3 : 0;
            if (!o->modes) return fprintf(stderr, "--mode must be value, grad or both\n"), 2;
        } else if (!strcmp(a, "--particles")) {
            o->nparticles = 0;
            char *s = (char *)v, *end;
            while (*s && o->nparticles < 32) {
                o->particles[o->nparticles++] = strtoll(s, &end, 10);
                if (end == s) return fprintf(stderr, "bad --particles list\n"), 2;
                s = *end == ',' ? end + 1 : end;
            }
        } else return fprintf(stderr, "unknown option %s\n", a), usage(), 2;
        ++i;
    }
    if (o->reps < 1) return fprintf(stderr, "--reps must be >= 1\n"), 2;
    for (int i = 0; i < o->nparticles; ++i)
        if (o->particles[i] < 1) return fprintf(stderr, "--particles must be >= 1\n"), 2;
    return 0;
}

/* ---- this machine's ceilings, measured through the library's own backend ----------------- */

/* OpenBLAS's name for the kernels it picked for this CPU (trelbo's BLAS is OpenBLAS) */
char *openblas_get_corename(void);

typedef struct ceiling {
    double gemm_flops;    /* matrix-product rate, flop/s, at the logistic-regression shape */
    double bandwidth;     /* bytes/s of a large elementwise add (read 2, write 1) */
} ceiling;

static double best_of(tre_ctx *ctx, int reps, tre_tensor *(*op)(tre_ctx *, const tre_tensor *, const tre_tensor *),
                      const tre_tensor *a, const tre_tensor *b) {
    double best = INFINITY;
    for (int r = 0; r < reps; ++r) {
        tre_ctx_step_reset(ctx);
        double t0 = now_s();
        tre_tensor *c = op(ctx, a, b);
        if (!c || tre_ctx_sync(ctx) != TRE_OK) return NAN;
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    return best;
}

/* The matrix-product rate at the logistic-regression shape (X [10000, 50] times w of 1024
 * particles), best of `reps` products, in flop/s (NaN on failure). */
static double gemm_rate(tre_ctx *ctx, int reps) {
    const int64_t P = 1024, N = 10000, D = 50;
    int64_t xs[2] = {N, D}, ws = D;
    tre_tensor *X = NULL, *W = NULL;
    double rate = NAN;
    if (tre_tensor_create(ctx, &X, TRE_F32, 1, 2, xs, NULL) == TRE_OK &&
        tre_tensor_create(ctx, &W, TRE_F32, P, 1, &ws, NULL) == TRE_OK)
        rate = 2.0 * P * N * D / best_of(ctx, reps, tre_matmul, X, W);
    tre_tensor_destroy(ctx, X);
    tre_tensor_destroy(ctx, W);
    return rate;
}

/* The rate again, right around a configuration bound by matrix products: this VM's speed
 * drifts by up to 1.5x within minutes, and a ceiling measured minutes away from the step, in
 * a slower or a faster stretch, would flatter or wrong it. Measured outside the
 * configuration's memory scope. */
static double gemm_rate_now(void) {
    tre_ctx *ctx;
    if (tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_AUTO, .seed = 1}) != TRE_OK) return NAN;
    const double rate = gemm_rate(ctx, 5);
    tre_ctx_destroy(ctx);
    return rate;
}

static ceiling measure_ceiling(void) {
    ceiling c = {NAN, NAN};
    tre_ctx *ctx;
    if (tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_AUTO, .seed = 1}) != TRE_OK) return c;
    const int64_t M = 32 << 20;
    int64_t ms = M;
    tre_tensor *A = NULL, *B = NULL;
    c.gemm_flops = gemm_rate(ctx, 20);
    if (tre_tensor_create(ctx, &A, TRE_F32, 1, 1, &ms, NULL) == TRE_OK &&
        tre_tensor_create(ctx, &B, TRE_F32, 1, 1, &ms, NULL) == TRE_OK)
        c.bandwidth = 3.0 * 4.0 * (double)M / best_of(ctx, 20, tre_add, A, B);
    tre_ctx_destroy(ctx);
    return c;
}

/* ---- one configuration (model, mode, particle count), in a context of its own --------------- */

/* Configurations that ran out of memory: written to the JSON's "skipped" list, as the peers'. */
typedef struct skip_log {
    int n;
    struct {
        const char *model;
        char sizes[64], reason[128];
        int64_t particles;
        bool grad;
    } e[64];
} skip_log;

static void skip_note(skip_log *sk, const char *model, const char *sizes, int64_t P, bool grad,
                      const char *reason) {
    printf("%6s %9lld   skipped: %s\n", grad ? "grad" : "value", (long long)P, reason);
    if (sk->n == (int)(sizeof sk->e / sizeof sk->e[0])) return;
    sk->e[sk->n].model = model;
    snprintf(sk->e[sk->n].sizes, sizeof sk->e[sk->n].sizes, "%s", sizes);
    snprintf(sk->e[sk->n].reason, sizeof sk->e[sk->n].reason, "%s", reason);
    sk->e[sk->n].particles = P;
    sk->e[sk->n].grad = grad;
    sk->n++;
}

/* A context with the model's data; 0, or 1 after printing why not. */
static int open_model(const bench_model *m, const opts *o, tre_ctx **ctx, void **data) {
    tre_status s = tre_ctx_create(ctx, &(tre_ctx_opts){.backend = o->backend, .seed = o->seed,
                                                      .no_validation = o->no_validation});
    if (s != TRE_OK) return fprintf(stderr, "tre_ctx_create: %s\n", tre_status_name(s)), 1;
    *data = m->make(*ctx, &o->size);
    if (!*data) {
        fprintf(stderr, "%s: cannot make the data: %s\n", m->name, tre_ctx_error(*ctx));
        tre_ctx_destroy(*ctx);
        return 1;
    }
    return 0;
}

typedef struct model_info {
    const char *sizes;
    int64_t terms;
    double gflop;
} model_info;

enum { CONFIG_OK = 0, CONFIG_FAILED = 1, CONFIG_OUT_OF_MEMORY = 2 };

/* Times one configuration in a fresh context, so that its memory figures are its own: the
 * host's peak resident set over the configuration and the most memory its backend held (the
 * device's on CUDA). Prints its row and appends it to the JSON. */
static int run_config(const bench_model *m, const opts *o, const ceiling *ceil, const model_info *mi,
                      int64_t P, bool grad, double *t, FILE *json, int *first_row) {
    /* for a configuration bound by matrix products, the best rate measured just before and
     * just after it (the run's own when those fail) */
    double gemm_flops = mi->gflop > 0 ? gemm_rate_now() : NAN;
    bench_host_peak_reset();
    tre_ctx *ctx;
    void *data;
    if (open_model(m, o, &ctx, &data)) return CONFIG_FAILED;
    int rc = CONFIG_OK;
    tre_elbo_opts eo = {.kind = o->estimator, .num_particles = P, .alpha = o->alpha, .grad = grad};
    tre_elbo_result res;
    double mean = 0, se2 = 0;
    const bool graphed = grad && o->graph;
    tre_adam *adam = NULL;
    tre_step_graph *sg = NULL;
    if (graphed && (tre_adam_create(ctx, &(tre_adam_opts){.lr = 1e-3}, &adam) != TRE_OK ||
                    tre_step_graph_create(ctx, &sg) != TRE_OK)) {
        fprintf(stderr, "%s: %s\n", m->name, tre_ctx_error(ctx));
        rc = CONFIG_FAILED;
    }
    /* warm-up: the first step sizes the arenas, the second touches the one chunk that replaced
     * them (graphed: two eager steps and the capture) */
    double shown = -1; /* when the progress line was last written: at most 5 times a second, so
                        * that its write (a system call) does not come between every short step */
    for (int k = graphed ? -3 : -2; k < o->reps && !rc; ++k) {
        if (now_s() - shown >= 0.2) {
            fprintf(stderr, "\r  %s %s P=%lld rep %d/%d   ", m->name, grad ? "value+grad" : "value",
                    (long long)P, k < 0 ? 0 : k + 1, o->reps);
            shown = now_s();
        }
        double t0 = now_s(), loss = 0;
        tre_status st = graphed ? tre_svi_step_graphed(ctx, sg, m->model, m->guide, data, &eo, adam, &loss)
                                : tre_elbo(ctx, m->model, m->guide, data, &eo, &res);
        if (st != TRE_OK) {
            fprintf(stderr, "\r%70s\r", "");
            if (st == TRE_ERR_OUT_OF_MEMORY) rc = CONFIG_OUT_OF_MEMORY;
            else fprintf(stderr, "%s: %s\n", m->name, tre_ctx_error(ctx)), rc = CONFIG_FAILED;
            break;
        }
        if (graphed) res = (tre_elbo_result){.mean = -loss, .stderr_ = 0};
        if (k < 0) continue;
        t[k] = now_s() - t0;
        mean += res.mean / o->reps;
        se2 += res.stderr_ * res.stderr_ / ((double)o->reps * o->reps);
    }
    fprintf(stderr, "\r%70s\r", "");
    if (sg) {
        tre_step_graph_stats gs;
        tre_step_graph_stats_get(sg, &gs);
        if (!rc)
            printf("  (P=%lld SVI steps: %lld replayed from a graph%s%s)\n", (long long)P,
                   (long long)gs.replays, gs.eager_reason ? "; eager: " : "",
                   gs.eager_reason ? gs.eager_reason : "");
        tre_step_graph_destroy(ctx, sg);
    }
    if (adam) tre_adam_destroy(ctx, adam);
    tre_ctx_memory mem;
    tre_ctx_memory_stats(ctx, &mem);
    const char *backend = tre_ctx_backend_name(ctx);
    double cf = m->closed_form ? m->closed_form(data) : NAN;
    m->destroy(ctx, data);
    tre_ctx_destroy(ctx);
    if (rc) return rc;
    const char *host_scope;
    const double host_mib = bench_host_peak_mib(&host_scope);
    const double backend_mib = (double)mem.backend_peak_bytes / 1048576.0;
    if (mi->gflop > 0) {
        gemm_flops = fmax(gemm_flops, gemm_rate_now()); /* fmax takes the other of a NaN */
        if (isnan(gemm_flops)) gemm_flops = ceil->gemm_flops;
    }

    qsort(t, (size_t)o->reps, sizeof *t, cmp_double);
    const double med = t[o->reps / 2];
    /* the ceiling: matrix products at the best rate measured (forward; the gradient adds the
     * same again for the weights), else ~4 bytes moved per term and pass (2 passes for a value, 6
     * with the gradient) at the measured bandwidth: an estimate */
    double roof_s;
    const char *bound;
    if (mi->gflop > 0) {
        roof_s = mi->gflop * (double)P * (grad ? 2 : 1) / gemm_flops;
        bound = "gemm";
    } else {
        roof_s = 4.0 * (double)mi->terms * (double)P * (grad ? 6 : 2) / ceil->bandwidth;
        bound = "memory";
    }
    const double fraction = roof_s / med;
    /* the estimate against the closed form (Trace_ELBO at the guide's initial values; graphed
     * steps move the params, the other estimators bound something else) */
    if (m->closed_form && !graphed && o->estimator == TRE_TRACE_ELBO && P > 1) { /* P = 1: no SE */
        const double se = sqrt(se2), err = mean - cf;
        const double z = se > 0 ? err / se : (err == 0 ? 0 : INFINITY);
        printf("  (P=%lld: closed-form error %+.4f = %+.1f SE)\n", (long long)P, err, z);
        if (o->check && !(fabs(z) <= 5.0) && !(fabs(err) <= 1e-6 * fabs(cf))) {
            fprintf(stderr, "%s: the estimate %.4f misses the closed form %.4f by %.1f SE\n", m->name,
                    mean, cf, z);
            rc = CONFIG_FAILED;
        }
    }
    printf("%6s %9lld %14.4f %9.4f %10.4f %10.4f %10.4f %12.4g %12.4g %7.1f%% %8.1f %11.1f\n",
           grad ? "grad" : "value", (long long)P, mean, sqrt(se2), med * 1e3, t[0] * 1e3,
           t[o->reps - 1] * 1e3, (double)P / med, (double)(P * mi->terms) / med, 100 * fraction,
           host_mib, backend_mib);
    if (json) {
        char cfs[32] = "null", gflops_text[32] = "null"; /* the rate behind a gemm roofline */
        if (mi->gflop > 0) snprintf(gflops_text, sizeof gflops_text, "%.3f", gemm_flops / 1e9);
        if (m->closed_form) snprintf(cfs, sizeof cfs, "%.6f", cf);
        fprintf(json,
                "%s\n    {\"system\": \"trelbo\", \"backend\": \"%s\", \"model\": \"%s\", "
                "\"sizes\": \"%s\", \"particles\": %lld, \"estimator\": \"%s\", "
                "\"grad\": %s, \"reps\": %d, \"elbo\": %.6f, \"stderr\": %.6f, "
                "\"closed_form\": %s, \"median_s\": %.9f, \"min_s\": %.9f, \"max_s\": %.9f, "
                "\"particles_per_s\": %.6g, \"terms_per_s\": %.6g, \"peak_rss_mib\": %.1f, "
                "\"peak_rss_scope\": \"%s\", \"backend_peak_mib\": %.1f, \"backend_memory\": \"%s\", "
                "\"arena_mib\": %.1f, \"bound\": \"%s\", \"roofline_s\": %.9f, \"roofline_gflops\": %s, "
                "\"ceiling_fraction\": %.4f, \"validation\": %s, \"graph\": %s}",
                *first_row ? "" : ",", backend, m->name, mi->sizes, (long long)P, o->estimator_name,
                grad ? "true" : "false", o->reps, mean, sqrt(se2), cfs, med, t[0], t[o->reps - 1],
                (double)P / med, (double)(P * mi->terms) / med, host_mib, host_scope, backend_mib,
                strcmp(backend, "cpu") ? "device" : "host",
                (double)(mem.host_bytes + mem.data_bytes) / 1048576.0, bound, roof_s, gflops_text, fraction,
                o->no_validation ? "false" : "true", graphed ? "true" : "false");
        *first_row = 0;
    }
    return rc;
}

/* ---- one model over the sweep ---------------------------------------------------------------- */

static int run_model(const bench_model *m, const opts *o, const ceiling *ceil, FILE *json,
                     int *first_row, skip_log *sk) {
    tre_ctx *ctx; /* describes the model; each configuration runs in a context of its own */
    void *data;
    if (open_model(m, o, &ctx, &data)) return 1;
    char sizes[64], backend[32];
    snprintf(sizes, sizeof sizes, "%s", tre_bench_data_text(data));
    snprintf(backend, sizeof backend, "%s", tre_ctx_backend_name(ctx));
    const model_info mi = {sizes, m->terms(data), m->gemm_flops(data)};
    const double cf = m->closed_form ? m->closed_form(data) : NAN;
    m->destroy(ctx, data);
    tre_ctx_destroy(ctx);
    printf("\n%s (%s), backend %s, %s, %d reps, validation %s\n", m->name, sizes, backend,
           o->estimator_name, o->reps, o->no_validation ? "off" : "on");
    printf("%6s %9s %14s %9s %10s %10s %10s %12s %12s %8s %8s %11s\n", "mode", "particles", "elbo",
           "stderr", "median_ms", "min_ms", "max_ms", "particles/s", "terms/s", "ceiling", "host_MiB",
           "backend_MiB");
    double *t = malloc((size_t)o->reps * sizeof *t);
    if (!t) return fprintf(stderr, "out of memory\n"), 1;
    int rc = 0;
    for (int mode = 0; mode < 2 && !rc; ++mode) {
        if (!(o->modes & (1 << mode))) continue;
        const bool grad = mode == 1;
        int64_t failed_at = 0; /* a particle count that ran out of memory */
        for (int pi = 0; pi < o->nparticles && !rc; ++pi) {
            const int64_t P = o->particles[pi];
            if (failed_at && P >= failed_at) {
                char why[128];
                snprintf(why, sizeof why, "not run: P=%lld already ran out of memory", (long long)failed_at);
                skip_note(sk, m->name, sizes, P, grad, why);
                continue;
            }
            const int r = run_config(m, o, ceil, &mi, P, grad, t, json, first_row);
            if (r == CONFIG_OUT_OF_MEMORY) {
                skip_note(sk, m->name, sizes, P, grad, "out of memory");
                failed_at = P;
            } else {
                rc = r;
            }
        }
    }
    printf("  host_MiB: the process's peak resident set during the configuration; backend_MiB: the\n"
           "  most memory the backend held (%s memory: tensors, arenas, scratch)\n",
           strcmp(backend, "cpu") ? "device" : "host");
    if (m->closed_form) printf("closed-form ELBO at the guide's initial values: %.4f\n", cf);
    free(t);
    return rc;
}

int main(int argc, char **argv) {
    opts o;
    int p = parse(argc, argv, &o);
    if (p) return p == 1 ? 0 : 2;
    int ran = 0;
    for (int i = 0; i < tre_bench_model_count; ++i)
        ran += !strcmp(o.model, "all") || !strcmp(o.model, tre_bench_models[i]->name);
    if (!ran) return fprintf(stderr, "unknown model %s\n", o.model), usage(), 2;
    FILE *json = NULL;
    if (o.json && !(json = fopen(o.json, "w"))) return fprintf(stderr, "cannot write %s\n", o.json), 1;
    fprintf(stderr, "measuring this machine's ceilings...\n");
    ceiling ceil = measure_ceiling();
    const char *blas_core = openblas_get_corename();
    printf("machine ceilings (measured now): matrix products %.1f GFLOP/s (OpenBLAS, %s kernels), "
           "memory bandwidth %.1f GB/s\n",
           ceil.gemm_flops / 1e9, blas_core, ceil.bandwidth / 1e9);
    if (json)
        fprintf(json,
                "{\"machine\": {\"gemm_gflops\": %.3f, \"blas_core\": \"%s\", \"bandwidth_gbs\": %.3f}, "
                "\"results\": [",
                ceil.gemm_flops / 1e9, blas_core, ceil.bandwidth / 1e9);
    int first = 1, rc = 0;
    static skip_log skipped;
    for (int i = 0; i < tre_bench_model_count && !rc; ++i)
        if (!strcmp(o.model, "all") || !strcmp(o.model, tre_bench_models[i]->name))
            rc = run_model(tre_bench_models[i], &o, &ceil, json, &first, &skipped);
    if (json) {
        fprintf(json, "\n], \"skipped\": [");
        for (int i = 0; i < skipped.n; ++i)
            fprintf(json,
                    "%s\n    {\"system\": \"trelbo\", \"model\": \"%s\", \"sizes\": \"%s\", "
                    "\"particles\": %lld, \"grad\": %s, \"reason\": \"%s\"}",
                    i ? "," : "", skipped.e[i].model, skipped.e[i].sizes,
                    (long long)skipped.e[i].particles, skipped.e[i].grad ? "true" : "false",
                    skipped.e[i].reason);
        fprintf(json, "\n]}\n");
        fclose(json);
    }
    return rc;
}
