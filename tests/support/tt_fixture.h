/* The comparison harness of the fixture tests (tests/fixture): reference rows looked up by file
 * and name, a loop over the rows of one kind in one context, float32 tensors built from the
 * rows' doubles, and the tolerance checks that name the mismatch and fail the test. */
#ifndef TRELBO_TT_FIXTURE_H
#define TRELBO_TT_FIXTURE_H
#include "test_support.h"

/* The rows of TRE_REFERENCE_DIR "/" file (tt_fixture_load), loaded on first use and kept until
 * the process exits: a check that fails half-way through a test then leaks nothing, and the
 * tests of one file share one parse. */
const tt_fixture_row *tt_fixture_rows(const char *file, int *nrows);
/* The row called name; fails the test when the file has none. */
const tt_fixture_row *tt_fixture_find(const char *file, const char *name);

/* Calls fn for every row of file whose name starts with prefix, in one CPU context of the given
 * seed whose step arena is reset before each row; returns the number of rows visited. */
typedef void (*tt_fixture_case)(tre_ctx *ctx, const tt_fixture_row *row, void *user);
int tt_fixture_each(const char *file, const char *prefix, uint64_t seed, tt_fixture_case fn,
                    void *user);

/* A step-scoped float32 tensor of extent `particles` and the given shape, from doubles. */
tre_tensor *tt_tensor_from_doubles(tre_ctx *ctx, int64_t particles, int ndim,
                                   const int64_t *shape, const double *v);
/* The same from a shape field [particles, dims...] and a data field; fails the test when the
 * shape does not hold exactly data_len values. */
tre_tensor *tt_tensor_from_fields(tre_ctx *ctx, const double *shape, int shape_len,
                                  const double *data, int data_len);
/* `particles` particles of shape [], all equal to v. */
tre_tensor *tt_tensor_filled(tre_ctx *ctx, int64_t particles, float v);

/* Fails the test naming what[i] unless |got - ref| <= tol. An infinite reference (a value
 * outside the support) must be matched exactly, as must a NaN one (by a NaN). */
void tt_expect_tol(const char *what, int64_t i, double got, double ref, double tol);
/* The same with tol = rtol * |ref| + atol. */
void tt_expect_rel(const char *what, int64_t i, double got, double ref, double rtol, double atol);
/* tt_expect_rel over n values. */
void tt_expect_all(const char *what, const float *got, const double *ref, int64_t n, double rtol,
                   double atol);
/* Fails the test unless t is non-NULL with the given particle extent and shape. */
void tt_expect_shape(const tre_tensor *t, int64_t particles, int ndim, const int64_t *shape);

/* Sum of row r of the row-major [*, m] reference lp over the columns with mask[k] != 0 (mask
 * NULL: all): what a masked per-particle log_prob_sum must give before its scale. */
double tt_row_sum(const double *lp, int64_t m, int64_t r, const float *mask);

#endif
