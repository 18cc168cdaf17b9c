/* Shared test helpers: contexts, host copies of tensors, status assertions. */
#ifndef TRELBO_TEST_SUPPORT_H
#define TRELBO_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <math.h>
#include <stdint.h>
#include <cmocka.h>
#include "trelbo.h"

/* A CPU context with the given seed; fails the test if creation fails. */
tre_ctx *tt_ctx(uint64_t seed);
/* Host copy of a tensor's data (particles * numel floats), freed at the next tt_host call
 * on the same slot (0..7). */
const float *tt_host(tre_ctx *ctx, const tre_tensor *t, int slot);
/* Scalar value of particle p of a tensor of shape []. */
float tt_at(tre_ctx *ctx, const tre_tensor *t, int64_t p);
/* Persistent 1-d data tensor. */
tre_tensor *tt_data(tre_ctx *ctx, int64_t n, const float *values);
/* A warning callback that counts calls (user: int*) and keeps the last message. */
void tt_count_warnings(void *user, const char *message);
extern char tt_last_warning[512];

/* A fresh directory under /tmp for a test group's files (tt_dir), made and removed around the
 * group: cmocka_run_group_tests(tests, tt_make_dir, tt_remove_dir). */
extern char tt_dir[64];
int tt_make_dir(void **state);
int tt_remove_dir(void **state);

/* Reference fixtures (tests/reference, *.txt written by the generator scripts there): one
 * case per line, whitespace-separated fields, each field a comma-separated list of numbers
 * (nan, inf, -inf allowed) except the first, a name. '#' starts a comment line. */
#define TT_MAX_FIELDS 8
typedef struct tt_fixture_row {
    char name[48];
    int nfields;                   /* numeric fields after the name */
    int len[TT_MAX_FIELDS];
    double *field[TT_MAX_FIELDS];
} tt_fixture_row;
/* Loads TRE_REFERENCE_DIR "/" file; fails the test when missing. Free with tt_fixture_free. */
tt_fixture_row *tt_fixture_load(const char *file, int *nrows);
void tt_fixture_free(tt_fixture_row *rows, int nrows);

/* Goodness of fit at significance alpha: true when the test REJECTS.
 * Kolmogorov-Smirnov (asymptotic distribution) of n samples against a continuous CDF; */
bool tt_ks_reject(const double *samples, int64_t n, double (*cdf)(double x, const double *args),
                  const double *args, double alpha);
/* Pearson chi-square over k cells with expected counts (cells with expected < 5 should be
 * merged by the caller); p-value from the regularized upper incomplete gamma. */
bool tt_chi2_reject(const double *observed, const double *expected, int k, double alpha);
/* Mean and variance checks: |mean - m| < z * sqrt(v / n) and the sample variance within z
 * standard errors of v (using the fourth central moment m4 of the distribution; pass NAN to
 * estimate it from the samples). Fails the test with a message naming `what`. */
void tt_check_moments(const char *what, const double *samples, int64_t n, double m, double v,
                      double m4, double z);

/* Status assertions that print the context's error text. */
#define TT_OK(ctx, expr)                                                                         \
    do {                                                                                         \
        tre_status s_ = (expr);                                                                  \
        if (s_ != TRE_OK) fail_msg("%s -> %s: %s", #expr, tre_status_name(s_), tre_ctx_error(ctx)); \
    } while (0)
#define TT_FAILS_WITH(ctx, expr, status, needle)                                                 \
    do {                                                                                         \
        tre_status s_ = (expr);                                                                  \
        if (s_ != (status))                                                                      \
            fail_msg("%s -> %s, expected %s (%s)", #expr, tre_status_name(s_),                   \
                     tre_status_name(status), tre_ctx_error(ctx));                              \
        if (!strstr(tre_ctx_error(ctx), (needle)))                                               \
            fail_msg("error \"%s\" does not mention \"%s\"", tre_ctx_error(ctx), (needle));      \
    } while (0)
#define TT_NEAR(a, b, tol)                                                                       \
    do {                                                                                         \
        double a_ = (a), b_ = (b);                                                               \
        if (!(fabs(a_ - b_) <= (tol)))                                                           \
            fail_msg("%s = %.9g, %s = %.9g, |diff| %.3g > %.3g", #a, a_, #b, b_, fabs(a_ - b_),    \
                     (double)(tol));                                                             \
    } while (0)

#endif
