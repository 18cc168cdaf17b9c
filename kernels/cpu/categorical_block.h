/* Categorical(logits) rows a block at a time on the CPU (categorical_block_cpu.c): the row math
 * of kernels/math/categorical.h with the rows of a block in the vector lanes, so that the
 * exp and log1p of a row's normalizer run as vector calls (glibc's libmvec where CMake found
 * it) instead of one libm call per category.
 *
 * The arithmetic is the row functions', term for term and in the same order: a block's results
 * differ from theirs only where libmvec's exp or log1p rounds differently from libm's (a few
 * units in the last place of a double, before the result is rounded to float). For rows of up
 * to TRE_CAT_ROW_CACHE categories; longer rows keep the row functions. */
#ifndef TRELBO_KERNELS_CPU_CATEGORICAL_BLOCK_H
#define TRELBO_KERNELS_CPU_CATEGORICAL_BLOCK_H
#include <stdint.h>
#include "../math/categorical.h"

#define TRE_CAT_BLOCK 64 /* rows per block */

typedef struct tre_cat_block {
    int64_t n, k;                /* rows in the block (<= TRE_CAT_BLOCK), categories */
    int one;                     /* every row has the same logits: lane 0 holds all */
    double max[TRE_CAT_BLOCK];   /* each row's largest logit */
    double tail[TRE_CAT_BLOCK];  /* sum of exp(l - max) over the others; NaN: no normalizer */
    /* w[i * TRE_CAT_BLOCK + r] = exp(l_ri - max_r), the first argmax's exactly 1 */
    double w[TRE_CAT_ROW_CACHE * TRE_CAT_BLOCK];
} tre_cat_block;

/* The normalizers of n <= TRE_CAT_BLOCK rows of k <= TRE_CAT_ROW_CACHE logits, row r at rows[r]
 * (rows that all point to the same logits, a prior every datum shares, are normalized once). */
void tre_cat_block_norm(tre_cat_block *b, int64_t n, int64_t k, const float *const *rows);
/* out[r] = log p_r(values[r]) (NaN outside the support), as tre_categorical_log_prob_pre. */
void tre_cat_block_log_prob(const tre_cat_block *b, const float *const *rows, const float *values, float *out);
/* grad[r * k + j] = g[r] * ([j == values[r]] - softmax_rj), as tre_categorical_log_prob_grad_row. */
void tre_cat_block_grad(const tre_cat_block *b, const float *values, const float *g, float *grad);
/* out[r] = the draw of row r at uniform u[r], as tre_categorical_sample_row. */
void tre_cat_block_sample(const tre_cat_block *b, const double *u, float *out);
#endif
