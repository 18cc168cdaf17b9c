/* The comparison harness of the fixture tests (see tt_fixture.h). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "tt_fixture.h"

/* ---- rows ---------------------------------------------------------------------------------- */

#define MAX_FILES 8

static struct loaded {
    const char *file; /* the caller's string: fixture names are literals */
    tt_fixture_row *rows;
    int nrows;
} loaded[MAX_FILES];
static int nloaded;

static void free_loaded(void) {
    for (int i = 0; i < nloaded; ++i) tt_fixture_free(loaded[i].rows, loaded[i].nrows);
    nloaded = 0;
}

const tt_fixture_row *tt_fixture_rows(const char *file, int *nrows) {
    for (int i = 0; i < nloaded; ++i)
        if (!strcmp(loaded[i].file, file)) {
            *nrows = loaded[i].nrows;
            return loaded[i].rows;
        }
    if (nloaded == MAX_FILES) fail_msg("tt_fixture_rows: more than %d fixture files", MAX_FILES);
    if (!nloaded) atexit(free_loaded);
    struct loaded *l = &loaded[nloaded];
    l->rows = tt_fixture_load(file, &l->nrows);
    l->file = file;
    ++nloaded;
    *nrows = l->nrows;
    return l->rows;
}

const tt_fixture_row *tt_fixture_find(const char *file, const char *name) {
    int n;
    const tt_fixture_row *rows = tt_fixture_rows(file, &n);
    for (int i = 0; i < n; ++i)
        if (!strcmp(rows[i].name, name)) return &rows[i];
    fail_msg("fixture %s has no row %s", file, name);
    return NULL;
}

int tt_fixture_each(const char *file, const char *prefix, uint64_t seed, tt_fixture_case fn,
                    void *user) {
    int n, visited = 0;
    const tt_fixture_row *rows = tt_fixture_rows(file, &n);
    const size_t plen = strlen(prefix);
    tre_ctx *ctx = tt_ctx(seed);
    for (int r = 0; r < n; ++r) {
        if (strncmp(rows[r].name, prefix, plen)) continue;
        /* each row's tensors are step-scoped: without the reset a long fixture grows the arena */
        tre_ctx_step_reset(ctx);
        fn(ctx, &rows[r], user);
        ++visited;
    }
    tre_ctx_destroy(ctx);
    return visited;
}

/* ---- tensors ------------------------------------------------------------------------------- */

tre_tensor *tt_tensor_from_doubles(tre_ctx *ctx, int64_t particles, int ndim,
                                   const int64_t *shape, const double *v) {
    int64_t n = particles;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    for (int64_t i = 0; i < n; ++i) h[i] = (float)v[i];
    tre_tensor *t = tre_from_host(ctx, particles, ndim, shape, h);
    free(h);
    if (!t) fail_msg("tre_from_host: %s", tre_ctx_error(ctx));
    return t;
}

tre_tensor *tt_tensor_from_fields(tre_ctx *ctx, const double *shape, int shape_len,
                                  const double *data, int data_len) {
    const int ndim = shape_len - 1;
    if (ndim < 0 || ndim > TRE_MAX_DIMS) fail_msg("fixture: shape field of %d numbers", shape_len);
    int64_t dims[TRE_MAX_DIMS], n = (int64_t)shape[0];
    for (int i = 0; i < ndim; ++i) n *= (dims[i] = (int64_t)shape[i + 1]);
    if (n != data_len) fail_msg("fixture: shape holds %lld values, data %d", (long long)n, data_len);
    return tt_tensor_from_doubles(ctx, (int64_t)shape[0], ndim, dims, data);
}

tre_tensor *tt_tensor_filled(tre_ctx *ctx, int64_t particles, float v) {
    float *h = malloc((size_t)particles * sizeof *h);
    for (int64_t i = 0; i < particles; ++i) h[i] = v;
    tre_tensor *t = tre_from_host(ctx, particles, 0, NULL, h);
    free(h);
    if (!t) fail_msg("tre_from_host: %s", tre_ctx_error(ctx));
    return t;
}

/* ---- comparisons --------------------------------------------------------------------------- */

void tt_expect_tol(const char *what, int64_t i, double got, double ref, double tol) {
    /* a tolerance test would let inf pass against inf only by accident (inf - inf is NaN) and
     * would let a finite result pass nowhere near an infinite one: compare those exactly */
    if (isinf(ref) || isnan(ref)) {
        if (!(got == ref || (isnan(ref) && isnan(got))))
            fail_msg("%s[%" PRId64 "]: got %.9g, reference %g", what, i, got, ref);
        return;
    }
    /* written so that a NaN result fails */
    if (!(fabs(got - ref) <= tol))
        fail_msg("%s[%" PRId64 "]: got %.17g, reference %.17g (|diff| %.3g > %.3g)", what, i, got,
                 ref, fabs(got - ref), tol);
}

void tt_expect_rel(const char *what, int64_t i, double got, double ref, double rtol, double atol) {
    tt_expect_tol(what, i, got, ref, rtol * fabs(ref) + atol);
}

void tt_expect_all(const char *what, const float *got, const double *ref, int64_t n, double rtol,
                   double atol) {
    for (int64_t i = 0; i < n; ++i) tt_expect_rel(what, i, got[i], ref[i], rtol, atol);
}

void tt_expect_shape(const tre_tensor *t, int64_t particles, int ndim, const int64_t *shape) {
    assert_non_null(t);
    assert_int_equal(t->particles, particles);
    assert_int_equal(t->ndim, ndim);
    for (int i = 0; i < ndim; ++i) assert_int_equal(t->shape[i], shape[i]);
}

double tt_row_sum(const double *lp, int64_t m, int64_t r, const float *mask) {
    double s = 0.0;
    for (int64_t k = 0; k < m; ++k)
        if (!mask || mask[k] != 0.f) s += lp[r * m + k];
    return s;
}
