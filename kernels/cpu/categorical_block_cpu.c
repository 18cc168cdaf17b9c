/* Categorical rows a block at a time (categorical_block.h). Each loop over a block's rows is an
 * OpenMP simd loop; with glibc's libmvec (TRE_HAVE_LIBMVEC, set by CMake when it links) exp and
 * log1p are declared with their vector variants, so those loops call them on whole vectors.
 * This file alone makes that declaration: elsewhere exp stays libm's scalar call. */
#include <math.h>
#include "categorical_block.h"

#if defined(TRE_HAVE_LIBMVEC)
#pragma omp declare simd notinbranch
double exp(double x);
#pragma omp declare simd notinbranch
double log1p(double x);
#endif

#define B TRE_CAT_BLOCK
#define LANE(b, r) ((b)->one ? 0 : (r)) /* the lane that holds row r's normalizer */

/* rows that all point to one logits row (a prior every datum shares): normalized once */
static int one_row(int64_t n, const float *const *rows) {
    for (int64_t r = 1; r < n; ++r)
        if (rows[r] != rows[0]) return 0;
    return n > 1;
}

void tre_cat_block_norm(tre_cat_block *b, int64_t n, int64_t k, const float *const *rows) {
    double *w = b->w, *m = b->max, *tail = b->tail;
    int32_t am[B];
    b->n = n;
    b->k = k;
    b->one = one_row(n, rows);
    const int64_t lanes = b->one ? 1 : n;
    for (int64_t r = 0; r < lanes; ++r)
        for (int64_t i = 0; i < k; ++i) w[i * B + r] = (double)rows[r][i];
    /* the first largest logit, or the first NaN (as tre_categorical_tail_row) */
#pragma omp simd
    for (int64_t r = 0; r < lanes; ++r) {
        m[r] = w[r];
        am[r] = 0;
    }
    for (int64_t i = 1; i < k; ++i) {
        const double *x = w + i * B;
#pragma omp simd
        for (int64_t r = 0; r < lanes; ++r) {
            const int take = (m[r] == m[r]) & ((x[r] > m[r]) | (x[r] != x[r]));
            m[r] = take ? x[r] : m[r];
            am[r] = take ? (int32_t)i : am[r];
        }
    }
    for (int64_t i = 0; i < k; ++i) {
        double *x = w + i * B;
#pragma omp simd
        for (int64_t r = 0; r < lanes; ++r) x[r] = i == am[r] ? 1.0 : exp(x[r] - m[r]);
    }
#pragma omp simd
    for (int64_t r = 0; r < lanes; ++r) tail[r] = 0.0;
    for (int64_t i = 0; i < k; ++i) {
        const double *x = w + i * B;
#pragma omp simd
        for (int64_t r = 0; r < lanes; ++r) tail[r] += i == am[r] ? 0.0 : x[r];
    }
    /* NaN anywhere, +inf, or every logit -inf: no normalizer */
#pragma omp simd
    for (int64_t r = 0; r < lanes; ++r) tail[r] = m[r] != m[r] || isinf(m[r]) ? NAN : tail[r];
}

void tre_cat_block_log_prob(const tre_cat_block *b, const float *const *rows, const float *values, float *out) {
    double log_tail[B];
    const int64_t lanes = b->one ? 1 : b->n;
#pragma omp simd
    for (int64_t r = 0; r < lanes; ++r) log_tail[r] = log1p(b->tail[r]);
    for (int64_t r = 0; r < b->n; ++r) {
        const int64_t i = tre_categorical_index(b->k, values[r]), q = LANE(b, r);
        out[r] = i < 0 ? NAN : (float)(((double)rows[r][i] - b->max[q]) - log_tail[q]);
    }
}

void tre_cat_block_grad(const tre_cat_block *b, const float *values, const float *g, float *grad) {
    double inv[B];
    const int64_t lanes = b->one ? 1 : b->n;
#pragma omp simd
    for (int64_t r = 0; r < lanes; ++r) inv[r] = 1.0 / (1.0 + b->tail[r]);
    const int64_t k = b->k;
    for (int64_t r = 0; r < b->n; ++r) {
        const int64_t v = tre_categorical_index(k, values[r]), q = LANE(b, r);
        for (int64_t j = 0; j < k; ++j) {
            const double p = b->w[j * B + q] * inv[q];
            grad[r * k + j] = v < 0 ? NAN : (float)((double)g[r] * ((j == v ? 1.0 : 0.0) - p));
        }
    }
}

void tre_cat_block_sample(const tre_cat_block *b, const double *u, float *out) {
    for (int64_t r = 0; r < b->n; ++r) {
        const int64_t q = LANE(b, r);
        const double tail = b->tail[q];
        if (tail != tail) {
            out[r] = NAN;
            continue;
        }
        const double target = u[r] * (1.0 + tail);
        double cum = 0.0;
        int64_t last = 0, draw = -1;
        for (int64_t i = 0; i < b->k && draw < 0; ++i) {
            const double wi = b->w[i * B + q];
            if (wi <= 0.0) continue;
            cum += wi;
            last = i;
            if (cum > target) draw = i;
        }
        out[r] = (float)(draw < 0 ? last : draw);
    }
}
