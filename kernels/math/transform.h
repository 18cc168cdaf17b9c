/* Structured constraint transforms shared by both backends: stick-breaking onto the simplex
 * and the lower-Cholesky map, one row (or matrix) at a time, with strides so that a CPU loop
 * and a CUDA thread can both call them.
 *
 * Stick-breaking (the convention of PyTorch's StickBreakingTransform), for a row of K-1
 * unconstrained values u and K simplex values y:
 *   x_i = u_i - log(K-1-i),  z_i = sigmoid(x_i),  i = 0 .. K-2
 *   y_i = z_i * prod_{j<i} (1 - z_j),  y_{K-1} = prod_{j<K-1} (1 - z_j)
 * The offset makes u = 0 map to the uniform vector 1/K. The map is computed in log space in
 * double (log z = log_sigmoid(x), log(1 - z) = log_sigmoid(-x)), so the remaining stick never
 * cancels to 0 before the true value underflows float32, and the row sums to 1 up to the
 * final float rounding of each entry.
 * Inverse: z_i = y_i / (y_i + y_{i+1} + ... + y_{K-1}), u_i = logit(z_i) + log(K-1-i). On the
 * simplex the tail sum equals 1 - (y_0 + ... + y_i), the form PyTorch uses; the tail sum is
 * taken because it has no cancellation when the leading entries hold almost all the mass. Like
 * PyTorch, the stick left is clamped below at FLT_MIN so that a zero tail gives a large finite
 * value rather than infinity.
 * log|det J| of u -> (y_0 .. y_{K-2}) (y_{K-1} is determined by the others): the Jacobian is
 * lower-triangular with diagonal dy_i/du_i = y_i (1 - z_i), so
 *   log|det J| = sum_i [ log z_i + sum_{j<i} log(1 - z_j) + log(1 - z_i) ],
 * the same value as PyTorch's sum_i (-x_i + log_sigmoid(x_i) + log y_i), computed without
 * taking the log of a rounded y.
 *
 * Lower Cholesky (PyTorch's LowerCholeskyTransform) for an n x n matrix: entries below the
 * diagonal are kept, the diagonal is exp'd, entries above it are 0; the inverse keeps the strict
 * lower part, logs the diagonal and zeroes the upper part. PyTorch defines no log-Jacobian for
 * it; here it is the sum of the unconstrained diagonal entries, the log-Jacobian of the map
 * restricted to the n(n+1)/2 lower-triangular entries (the upper entries are discarded, so the
 * full n*n map has no density). */
#ifndef TRELBO_KERNELS_MATH_TRANSFORM_H
#define TRELBO_KERNELS_MATH_TRANSFORM_H
#include <float.h>
#include <math.h>
#include "hd.h"

/* log(sigmoid(x)) in double, without overflow for large |x|. */
static inline TRE_HD double tre_log_sigmoid_d(double x) {
    return x >= 0.0 ? -log1p(exp(-x)) : x - log1p(exp(x));
}

/* Stick-breaking: u[0 .. k-2] (stride su) -> y[0 .. k-1] (stride sy); k >= 1. */
static inline TRE_HD void tre_simplex_forward_row(int64_t k, const float *u, int64_t su, float *y,
                                                  int64_t sy) {
    double log_rest = 0.0; /* log of the stick left before piece i */
    for (int64_t i = 0; i < k - 1; ++i) {
        double x = (double)u[i * su] - log((double)(k - 1 - i));
        y[i * sy] = (float)exp(tre_log_sigmoid_d(x) + log_rest);
        log_rest += tre_log_sigmoid_d(-x);
    }
    y[(k - 1) * sy] = (float)exp(log_rest);
}

/* Its inverse: y[0 .. k-1] (stride sy) -> u[0 .. k-2] (stride su); k >= 2. */
static inline TRE_HD void tre_simplex_inverse_row(int64_t k, const float *y, int64_t sy, float *u,
                                                  int64_t su) {
    double tail = 0.0; /* y_{i+1} + ... + y_{K-1}: the stick left after piece i */
    for (int64_t i = k - 2; i >= 0; --i) {
        tail += (double)y[(i + 1) * sy];
        double left = tail > (double)FLT_MIN ? tail : (double)FLT_MIN;
        u[i * su] = (float)(log((double)y[i * sy]) - log(left) + log((double)(k - 1 - i)));
    }
}

/* log|det J| of u[0 .. k-2] (stride su) -> the first k-1 simplex entries; k >= 1. */
static inline TRE_HD double tre_simplex_log_det_row(int64_t k, const float *u, int64_t su) {
    double log_rest = 0.0, acc = 0.0;
    for (int64_t i = 0; i < k - 1; ++i) {
        double x = (double)u[i * su] - log((double)(k - 1 - i));
        double log_1mz = tre_log_sigmoid_d(-x);
        acc += tre_log_sigmoid_d(x) + log_rest + log_1mz;
        log_rest += log_1mz;
    }
    return acc;
}

/* Vector-Jacobian product of the stick-breaking map: gu[0 .. k-2] = (dy/du)^T g for the row
 * u[0 .. k-2] and upstream g[0 .. k-1]. With z_i = sigmoid(x_i) and the stick r_i left before
 * piece i (y_i = z_i r_i, y_{k-1} = r_{k-1}, r_{i+1} = r_i (1 - z_i)), walking back from the
 * last piece: a = dL/dr_{i+1}; dL/dz_i = r_i (g_i - a); dL/dr_i = g_i z_i + a (1 - z_i);
 * dL/du_i = dL/dz_i z_i (1 - z_i). The sticks are recovered backwards in log space, so no
 * scratch is needed. */
static inline TRE_HD void tre_simplex_backward_row(int64_t k, const float *u, int64_t su,
                                                   const float *g, int64_t sg, float *gu,
                                                   int64_t sgu) {
    double log_rest = 0.0;
    for (int64_t i = 0; i < k - 1; ++i)
        log_rest += tre_log_sigmoid_d(-((double)u[i * su] - log((double)(k - 1 - i))));
    double a = (double)g[(k - 1) * sg];
    for (int64_t i = k - 2; i >= 0; --i) {
        double x = (double)u[i * su] - log((double)(k - 1 - i));
        double log_1mz = tre_log_sigmoid_d(-x), z = exp(tre_log_sigmoid_d(x));
        log_rest -= log_1mz; /* now the stick before piece i */
        double r = exp(log_rest), gi = (double)g[i * sg];
        gu[i * sgu] = (float)(r * (gi - a) * z * exp(log_1mz));
        a = gi * z + a * exp(log_1mz);
    }
}

/* Entry (i, j) of the lower-Cholesky map (inverse != 0: of its inverse) of value v. */
static inline TRE_HD float tre_lower_cholesky_entry(int inverse, int64_t i, int64_t j, float v) {
    if (i > j) return v;
    if (i < j) return 0.f;
    return inverse ? logf(v) : expf(v);
}

/* The map on one n x n matrix; in and out are indexed [i * rs + j * cs]. */
static inline TRE_HD void tre_lower_cholesky_matrix(int inverse, int64_t n, const float *in,
                                                    int64_t in_rs, int64_t in_cs, float *out,
                                                    int64_t out_rs, int64_t out_cs) {
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
            out[i * out_rs + j * out_cs] =
                tre_lower_cholesky_entry(inverse, i, j, in[i * in_rs + j * in_cs]);
}

/* Upstream g times the derivative of entry (i, j) of the lower-Cholesky map at u (the map is
 * entrywise: 1 below the diagonal, exp(u) on it, 0 above). */
static inline TRE_HD float tre_lower_cholesky_backward_entry(int64_t i, int64_t j, float u, float g) {
    if (i > j) return g;
    if (i < j) return 0.f;
    return g * expf(u);
}

/* log|det J| of the lower-Cholesky map on one unconstrained matrix: the sum of its diagonal
 * (entry (i, i) at u[i * diag_stride]). */
static inline TRE_HD double tre_lower_cholesky_log_det(int64_t n, const float *u,
                                                       int64_t diag_stride) {
    double acc = 0.0;
    for (int64_t i = 0; i < n; ++i) acc += (double)u[i * diag_stride];
    return acc;
}
#endif
