/* trelbo-bench: the multi-particle ELBO benchmark (the README's main job).
 * Runs built-in models on synthetic data made here, over a sweep of particle counts, and
 * reports per configuration the estimate with its standard error, the median (and spread) of
 * the time per ELBO step, particles/s and log-density terms/s; optionally as JSON. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "trelbo.h"

/* ---- models ------------------------------------------------------------------------------ */

typedef struct bench_data {
    tre_tensor *x;        /* observations [N] */
    tre_tensor *group;    /* hierarchical: group of each observation is i % G (gather index) */
    int64_t n, groups;
    double closed_form;   /* NAN when unknown */
} bench_data;

/* Conjugate Normal: mu ~ N(0, 10), x_i ~ N(mu, 1); guide N(q_loc, q_scale). */
static tre_tensor *conj_model(tre_ctx *c, const void *args) {
    const bench_data *d = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 10.f)), NULL);
    tre_plate(c, "data", d->n, 0);
    tre_sample(c, "obs", tre_normal(c, mu, tre_scalar(c, 1.f)), d->x);
    tre_plate_end(c);
    return mu;
}
static tre_tensor *conj_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *loc = tre_param(c, "q_loc", tre_scalar(c, 1.0f), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "q_scale", tre_scalar(c, 0.2f), TRE_C_POSITIVE);
    return tre_sample(c, "mu", tre_normal(c, loc, scale), NULL);
}
static double conj_closed_form(const float *x, int64_t n) {
    const double l2pi = log(2.0 * 3.14159265358979323846), a = 1.0, b = 0.2, s0 = 10.0;
    double e = 0.0;
    for (int64_t i = 0; i < n; ++i) e += -0.5 * l2pi - ((x[i] - a) * (x[i] - a) + b * b) / 2.0;
    e += -0.5 * l2pi - log(s0) - (a * a + b * b) / (2 * s0 * s0);
    return e - (-0.5 * l2pi - log(b) - 0.5);
}

/* Hierarchical Normal: mu ~ N(0, 5); theta_g ~ N(mu, 1) for G groups (plate "groups");
 * x_i ~ N(theta_{g(i)}, 1) with the groups laid out as a [N/G, G] grid (plate "data" of N/G
 * rows). Mean-field Normal guide. */
static tre_tensor *hier_model(tre_ctx *c, const void *args) {
    const bench_data *d = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 5.f)), NULL);
    tre_plate(c, "groups", d->groups, 0);
    tre_tensor *theta = tre_sample(c, "theta", tre_normal(c, mu, tre_scalar(c, 1.f)), NULL);
    tre_plate(c, "rows", d->n / d->groups, 0);
    tre_sample(c, "obs", tre_normal(c, theta, tre_scalar(c, 1.f)), d->x);
    tre_plate_end(c);
    tre_plate_end(c);
    return mu;
}
static tre_tensor *hier_guide(tre_ctx *c, const void *args) {
    const bench_data *d = args;
    int64_t g = d->groups;
    tre_tensor *ml = tre_param(c, "mu_loc", tre_scalar(c, 0.f), TRE_C_REAL);
    tre_tensor *ms = tre_param(c, "mu_scale", tre_scalar(c, 0.5f), TRE_C_POSITIVE);
    tre_sample(c, "mu", tre_normal(c, ml, ms), NULL);
    tre_tensor *tl = tre_param(c, "theta_loc", tre_full(c, 1, &g, 0.f), TRE_C_REAL);
    tre_tensor *ts = tre_param(c, "theta_scale", tre_full(c, 1, &g, 0.5f), TRE_C_POSITIVE);
    tre_plate(c, "groups", g, 0);
    tre_tensor *theta = tre_sample(c, "theta", tre_normal(c, tl, ts), NULL);
    tre_plate_end(c);
    return theta;
}

typedef struct bench_model {
    const char *name;
    tre_program model, guide;
    int64_t default_n;
} bench_model;

static const bench_model models[] = {
    {"conjugate_normal", conj_model, conj_guide, 10000},
    {"hierarchical_normal", hier_model, hier_guide, 10000},
};

/* ---- timing and options ------------------------------------------------------------------ */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

typedef struct opts {
    const char *model, *json;
    int64_t particles[32];
    int nparticles;
    int64_t n;
    int reps;
    uint64_t seed;
} opts;

static void usage(void) {
    printf("usage: trelbo-bench [--model conjugate_normal|hierarchical_normal|all]\n"
           "                    [--particles 1,64,1024,...] [--n N] [--reps R] [--seed S]\n"
           "                    [--json FILE]\n"
           "The backend is the default one (CUDA when available, else CPU); TRELBO_BACKEND=cpu|cuda\n"
           "overrides it.\n");
}

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){.model = "all", .n = 0, .reps = 30, .seed = 1};
    const int64_t sweep[] = {1, 16, 256, 1024, 4096, 16384, 65536};
    o->nparticles = 7;
    memcpy(o->particles, sweep, sizeof sweep);
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(), 1;
        if (!v) return fprintf(stderr, "missing value after %s\n", a), 2;
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--json")) o->json = v;
        else if (!strcmp(a, "--n")) o->n = atoll(v);
        else if (!strcmp(a, "--reps")) o->reps = atoi(v);
        else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--particles")) {
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

/* ---- one model over the sweep ------------------------------------------------------------ */

static int run_model(const bench_model *m, const opts *o, FILE *json, int *first_row) {
    tre_ctx *ctx;
    tre_status s = tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_AUTO, .seed = o->seed});
    if (s != TRE_OK) return fprintf(stderr, "tre_ctx_create: %s\n", tre_status_name(s)), 1;
    bench_data d = {.n = o->n ? o->n : m->default_n, .groups = 20, .closed_form = NAN};
    if (d.n % d.groups) d.n -= d.n % d.groups;
    float *x = malloc((size_t)d.n * sizeof *x);
    uint64_t r = 88172645463325252ull; /* xorshift: synthetic data made here */
    for (int64_t i = 0; i < d.n; ++i) {
        double u = 0;
        for (int k = 0; k < 12; ++k) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            u += (double)(r >> 11) / 9007199254740992.0;
        }
        x[i] = (float)(1.0 + (u - 6.0) + (m->model == hier_model ? 0.1 * (double)(i % d.groups) : 0));
    }
    int64_t shape[2] = {d.n / d.groups, d.groups};
    s = m->model == hier_model ? tre_tensor_create(ctx, &d.x, TRE_F32, 1, 2, shape, x)
                               : tre_tensor_create(ctx, &d.x, TRE_F32, 1, 1, &d.n, x);
    if (m->model == conj_model) d.closed_form = conj_closed_form(x, d.n);
    free(x);
    if (s != TRE_OK) return fprintf(stderr, "data: %s\n", tre_ctx_error(ctx)), tre_ctx_destroy(ctx), 1;
    /* log-density terms per particle: every element of every sample site, both traces */
    int64_t terms = m->model == hier_model ? 1 + d.groups + d.n + 1 + d.groups : 1 + d.n + 1;

    printf("\n%s (N=%lld), backend %s, %d reps\n", m->name, (long long)d.n,
           tre_ctx_backend_name(ctx), o->reps);
    printf("%10s %14s %10s %12s %12s %12s %14s %14s %9s\n", "particles", "elbo", "stderr",
           "|err|/se", "median_ms", "min_ms", "particles/s", "terms/s", "rss_MiB");
    double *t = malloc((size_t)o->reps * sizeof *t);
    int rc = 0;
    for (int pi = 0; pi < o->nparticles && !rc; ++pi) {
        int64_t P = o->particles[pi];
        tre_elbo_opts eo = {.kind = TRE_TRACE_ELBO, .num_particles = P};
        tre_elbo_result res;
        /* warm-up: the first step sizes the arenas */
        if (tre_elbo(ctx, m->model, m->guide, &d, &eo, &res) != TRE_OK) {
            fprintf(stderr, "%s: %s\n", m->name, tre_ctx_error(ctx));
            rc = 1;
            break;
        }
        double mean = 0, se2 = 0;
        for (int k = 0; k < o->reps; ++k) {
            fprintf(stderr, "\r  %s P=%lld rep %d/%d   ", m->name, (long long)P, k + 1, o->reps);
            double t0 = now_s();
            if (tre_elbo(ctx, m->model, m->guide, &d, &eo, &res) != TRE_OK) {
                fprintf(stderr, "%s: %s\n", m->name, tre_ctx_error(ctx));
                rc = 1;
                break;
            }
            t[k] = now_s() - t0;
            mean += res.mean / o->reps;
            se2 += res.stderr_ * res.stderr_ / ((double)o->reps * o->reps);
        }
        fprintf(stderr, "\r%60s\r", "");
        if (rc) break;
        qsort(t, (size_t)o->reps, sizeof *t, cmp_double);
        double med = t[o->reps / 2], se = sqrt(se2);
        double zerr = isnan(d.closed_form) || se == 0 ? NAN : fabs(mean - d.closed_form) / se;
        printf("%10lld %14.4f %10.4f %12.2f %12.4f %12.4f %14.4g %14.4g %9.1f\n", (long long)P,
               mean, se, zerr, med * 1e3, t[0] * 1e3, (double)P / med, (double)(P * terms) / med,
               peak_rss_mib());
        if (json) {
            char cf[32] = "null";
            if (!isnan(d.closed_form)) snprintf(cf, sizeof cf, "%.6f", d.closed_form);
            fprintf(json,
                    "%s\n    {\"system\": \"trelbo\", \"backend\": \"%s\", \"model\": \"%s\", "
                    "\"n\": %lld, \"particles\": %lld, \"estimator\": \"trace_elbo\", "
                    "\"grad\": false, \"reps\": %d, \"elbo\": %.6f, \"stderr\": %.6f, "
                    "\"closed_form\": %s, \"median_s\": %.9f, \"min_s\": %.9f, \"max_s\": %.9f, "
                    "\"particles_per_s\": %.6g, \"terms_per_s\": %.6g, \"peak_rss_mib\": %.1f}",
                    *first_row ? "" : ",", tre_ctx_backend_name(ctx), m->name, (long long)d.n,
                    (long long)P, o->reps, mean, se,
                    cf, med, t[0], t[o->reps - 1],
                    (double)P / med, (double)(P * terms) / med, peak_rss_mib());
            *first_row = 0;
        }
    }
    if (!isnan(d.closed_form)) printf("closed-form ELBO: %.4f\n", d.closed_form);
    free(t);
    tre_ctx_destroy(ctx);
    return rc;
}

int main(int argc, char **argv) {
    opts o;
    int p = parse(argc, argv, &o);
    if (p) return p == 1 ? 0 : 2;
    FILE *json = NULL;
    if (o.json && !(json = fopen(o.json, "w"))) return fprintf(stderr, "cannot write %s\n", o.json), 1;
    if (json) fprintf(json, "{\"results\": [");
    int first = 1, rc = 0, ran = 0;
    for (size_t i = 0; i < sizeof models / sizeof *models && !rc; ++i)
        if (!strcmp(o.model, "all") || !strcmp(o.model, models[i].name)) {
            rc = run_model(&models[i], &o, json, &first);
            ran = 1;
        }
    if (json) {
        fprintf(json, "\n]}\n");
        fclose(json);
    }
    if (!ran) return fprintf(stderr, "unknown model %s\n", o.model), usage(), 2;
    return rc;
}
