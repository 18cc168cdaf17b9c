/* Row layouts for the structured families (Categorical, MultivariateNormal): their kernels take
 * one row per batch element (a row of logits, a loc vector, a scale_tril matrix), and each
 * argument reaches its row through broadcast strides over a common row grid. */
#ifndef TRELBO_DIST_ROWS_H
#define TRELBO_DIST_ROWS_H
#include "dist_impl.h"

#define TRE_DIST_ROW_ARGS 4 /* most row arguments of one kernel (the MVN KL's) */

/* The grid of rows: particle extent and the batch dims of the output (base event excluded). */
typedef struct tre_dist_rows {
    int64_t particles;
    int ndim;
    int64_t shape[TRE_MAX_DIMS];
} tre_dist_rows;

/* d's batch shape followed by the dims to_event moved into its event (its base event dims
 * excluded): the shape over which the family's rows are laid out. Returns ndim. */
int tre_dist_row_batch(const tre_dist *d, int64_t *shape);

/* grid = broadcast of the row batches of a and b (b may be NULL) with particle extents joined;
 * false (nothing set in ctx) when they clash. */
bool tre_dist_rows_join(const tre_dist *a, const tre_dist *b, tre_dist_rows *grid);

/* The rows of a value of d (its trailing base-event dims form a row): grid = d's row batch
 * broadcast with the value's leading dims. Sets a TRE_ERR_SHAPE error when they clash. */
bool tre_dist_rows_for_value(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                             tre_dist_rows *grid);

/* The grid of a tensor made by a row kernel, from that tensor (trailing `row_ndim` dims are
 * the row). */
void tre_dist_rows_of(const tre_tensor *t, int row_ndim, tre_dist_rows *grid);

/* Kernel layout of `nargs` (<= TRE_DIST_ROW_ARGS) arguments over `grid`: argument a's trailing row_ndim[a] dims form
 * its rows (contiguous inside), its leading dims broadcast against the grid's shape. */
void tre_dist_row_layout(const tre_dist_rows *grid, int nargs, const tre_tensor *const *args,
                         const int *row_ndim, tre_kshape *ks, tre_karg *ka);
#endif
