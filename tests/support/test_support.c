/* Shared test helpers (see test_support.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"

char tt_last_warning[512];
char tt_dir[64];

int tt_make_dir(void **state) {
    (void)state;
    snprintf(tt_dir, sizeof tt_dir, "/tmp/trelbo-test-XXXXXX");
    return mkdtemp(tt_dir) ? 0 : -1;
}

int tt_remove_dir(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tt_dir);
    return system(cmd) == 0 ? 0 : -1;
}

tre_ctx *tt_ctx(uint64_t seed) {
    tre_ctx *ctx = NULL;
    tre_ctx_opts o = {.backend = TRE_BACKEND_CPU, .seed = seed};
    tre_status s = tre_ctx_create(&ctx, &o);
    if (s != TRE_OK) fail_msg("tre_ctx_create: %s", tre_status_name(s));
    return ctx;
}

static float *slots[8];

static void free_slots(void) {
    for (int i = 0; i < 8; ++i) {
        free(slots[i]);
        slots[i] = NULL;
    }
}

const float *tt_host(tre_ctx *ctx, const tre_tensor *t, int slot) {
    static int registered;
    if (!registered) {
        atexit(free_slots);
        registered = 1;
    }
    if (!t) fail_msg("tt_host: tensor is NULL (%s)", tre_ctx_error(ctx));
    int64_t n = t->particles * t->numel;
    free(slots[slot]);
    slots[slot] = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (tre_tensor_to_host(ctx, t, slots[slot], n) != TRE_OK)
        fail_msg("tt_host: %s", tre_ctx_error(ctx));
    return slots[slot];
}

float tt_at(tre_ctx *ctx, const tre_tensor *t, int64_t p) {
    const float *h = tt_host(ctx, t, 7);
    return h[t->particles == 1 ? 0 : p * t->numel];
}

tre_tensor *tt_data(tre_ctx *ctx, int64_t n, const float *values) {
    tre_tensor *t = NULL;
    if (tre_tensor_create(ctx, &t, TRE_F32, 1, 1, &n, values) != TRE_OK)
        fail_msg("tt_data: %s", tre_ctx_error(ctx));
    return t;
}

void tt_count_warnings(void *user, const char *message) {
    ++*(int *)user;
    strncpy(tt_last_warning, message, sizeof tt_last_warning - 1);
}

/* ---- fixtures ------------------------------------------------------------------------------ */

static double parse_number(const char *s) {
    if (!strcmp(s, "nan")) return NAN;
    if (!strcmp(s, "inf")) return INFINITY;
    if (!strcmp(s, "-inf")) return -INFINITY;
    return strtod(s, NULL);
}

tt_fixture_row *tt_fixture_load(const char *file, int *nrows) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", TRE_REFERENCE_DIR, file);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open fixture %s", path);
    int cap = 64, n = 0;
    tt_fixture_row *rows = calloc((size_t)cap, sizeof *rows);
    static char line[1 << 16];
    while (fgets(line, sizeof line, f)) {
        char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
        if (!tok || tok[0] == '#') continue;
        if (n == cap) {
            cap *= 2;
            rows = realloc(rows, (size_t)cap * sizeof *rows);
        }
        tt_fixture_row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s", tok);
        while ((tok = strtok_r(NULL, " \t\r\n", &save)) && r->nfields < TT_MAX_FIELDS) {
            int len = 1;
            for (const char *c = tok; *c; ++c) len += *c == ',';
            double *v = malloc((size_t)len * sizeof *v);
            char *save2 = NULL, *num = strtok_r(tok, ",", &save2);
            for (int i = 0; i < len && num; ++i, num = strtok_r(NULL, ",", &save2))
                v[i] = parse_number(num);
            r->len[r->nfields] = len;
            r->field[r->nfields++] = v;
        }
    }
    fclose(f);
    *nrows = n;
    return rows;
}

void tt_fixture_free(tt_fixture_row *rows, int nrows) {
    for (int i = 0; i < nrows; ++i)
        for (int j = 0; j < rows[i].nfields; ++j) free(rows[i].field[j]);
    free(rows);
}

/* ---- goodness of fit ----------------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Kolmogorov distribution tail P(K > x) */
static double kolmogorov_tail(double x) {
    if (x < 0.2) return 1.0;
    double s = 0.0;
    for (int k = 1; k < 100; ++k) s += (k & 1 ? 2.0 : -2.0) * exp(-2.0 * k * k * x * x);
    return s < 0 ? 0 : s > 1 ? 1 : s;
}

bool tt_ks_reject(const double *samples, int64_t n, double (*cdf)(double x, const double *args),
                  const double *args, double alpha) {
    double *s = malloc((size_t)n * sizeof *s);
    memcpy(s, samples, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_d);
    double d = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        double f = cdf(s[i], args);
        double lo = f - (double)i / (double)n, hi = (double)(i + 1) / (double)n - f;
        if (lo > d) d = lo;
        if (hi > d) d = hi;
    }
    free(s);
    double sn = sqrt((double)n);
    double p = kolmogorov_tail((sn + 0.12 + 0.11 / sn) * d);
    if (p < alpha) print_message("KS: D = %.5f, p = %.3g < %.3g\n", d, p, alpha);
    return p < alpha;
}

/* regularized upper incomplete gamma Q(a, x) (series / continued fraction) */
static double gamma_q(double a, double x) {
    if (x <= 0) return 1.0;
    double lg = lgamma(a);
    if (x < a + 1) {
        double sum = 1.0 / a, term = sum;
        for (int n = 1; n < 10000; ++n) {
            term *= x / (a + n);
            sum += term;
            if (fabs(term) < fabs(sum) * 1e-15) break;
        }
        return 1.0 - sum * exp(-x + a * log(x) - lg);
    }
    double b = x + 1 - a, c = 1e300, d = 1.0 / b, h = d;
    for (int i = 1; i < 10000; ++i) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < 1e-300) d = 1e-300;
        c = b + an / c;
        if (fabs(c) < 1e-300) c = 1e-300;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-15) break;
    }
    return exp(-x + a * log(x) - lg) * h;
}

bool tt_chi2_reject(const double *observed, const double *expected, int k, double alpha) {
    double chi2 = 0.0;
    for (int i = 0; i < k; ++i) chi2 += (observed[i] - expected[i]) * (observed[i] - expected[i]) / expected[i];
    double p = gamma_q(0.5 * (k - 1), 0.5 * chi2);
    if (p < alpha) print_message("chi2 = %.3f with %d cells, p = %.3g < %.3g\n", chi2, k, p, alpha);
    return p < alpha;
}

void tt_check_moments(const char *what, const double *x, int64_t n, double m, double v, double m4,
                      double z) {
    double mean = 0.0;
    for (int64_t i = 0; i < n; ++i) mean += x[i];
    mean /= (double)n;
    double var = 0.0, c4 = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        double d = x[i] - mean;
        var += d * d;
        c4 += d * d * d * d;
    }
    var /= (double)(n - 1);
    c4 /= (double)n;
    if (isnan(m4)) m4 = c4;
    double se_mean = sqrt(v / (double)n);
    double se_var = sqrt((m4 - v * v) / (double)n);
    if (!(fabs(mean - m) <= z * se_mean))
        fail_msg("%s: sample mean %.6g vs %.6g (%.2f standard errors)", what, mean, m,
                 fabs(mean - m) / se_mean);
    if (!(fabs(var - v) <= z * se_var))
        fail_msg("%s: sample variance %.6g vs %.6g (%.2f standard errors)", what, var, v,
                 fabs(var - v) / se_var);
}
