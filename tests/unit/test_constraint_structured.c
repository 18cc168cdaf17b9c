/* The structured constraints (simplex by stick-breaking, lower_cholesky): values against a
 * reference written out here in double, round trips, log-Jacobians against central finite
 * differences, batch shapes and particle extents, shape errors, and the param store. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"

/* ---- deterministic test inputs ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double uniform01(void) { /* xorshift64*, (0, 1) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t x = rng_state * 0x2545F4914F6CDD1Dull;
    return ((double)(x >> 11) + 0.5) / 9007199254740992.0;
}
static float uniform(double lo, double hi) { return (float)(lo + (hi - lo) * uniform01()); }

static float *random_floats(int64_t n, double lo, double hi) {
    float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; ++i) v[i] = uniform(lo, hi);
    return v;
}

/* Rows of a random simplex of size k (float, from normalized exponentials). */
static float *random_simplex_rows(int64_t rows, int64_t k) {
    float *v = malloc((size_t)(rows * k) * sizeof *v);
    for (int64_t r = 0; r < rows; ++r) {
        double e[64], s = 0;
        for (int64_t i = 0; i < k; ++i) s += e[i] = -log(uniform01());
        for (int64_t i = 0; i < k; ++i) v[r * k + i] = (float)(e[i] / s);
    }
    return v;
}

/* ---- reference math in double, written from the definitions ---- */

/* y = stick-breaking of u (m = K-1 values): z_i = sigmoid(u_i - log(K-1-i)). */
static void ref_simplex(int m, const double *u, double *y) {
    double rest = 1.0;
    for (int i = 0; i < m; ++i) {
        double z = 1.0 / (1.0 + exp(-(u[i] - log((double)(m - i)))));
        y[i] = z * rest;
        rest *= 1.0 - z;
    }
    y[m] = rest;
}

/* log|det A| of an n x n matrix (row-major, destroyed) by Gaussian elimination with
 * partial pivoting. */
static double log_abs_det(int n, double *a) {
    double acc = 0;
    for (int c = 0; c < n; ++c) {
        int piv = c;
        for (int r = c + 1; r < n; ++r)
            if (fabs(a[r * n + c]) > fabs(a[piv * n + c])) piv = r;
        if (piv != c)
            for (int j = 0; j < n; ++j) {
                double t = a[c * n + j];
                a[c * n + j] = a[piv * n + j];
                a[piv * n + j] = t;
            }
        double d = a[c * n + c];
        acc += log(fabs(d));
        for (int r = c + 1; r < n; ++r) {
            double f = a[r * n + c] / d;
            for (int j = c; j < n; ++j) a[r * n + j] -= f * a[c * n + j];
        }
    }
    return acc;
}

/* log|det| of u -> y[0 .. m-1] by central differences. */
static double fd_simplex_log_det(int m, const double *u0) {
    if (m == 0) return 0.0;
    double u[64], yp[65], ym[65], J[64 * 64];
    const double h = 1e-5;
    for (int j = 0; j < m; ++j) {
        memcpy(u, u0, (size_t)m * sizeof *u);
        u[j] = u0[j] + h;
        ref_simplex(m, u, yp);
        u[j] = u0[j] - h;
        ref_simplex(m, u, ym);
        for (int i = 0; i < m; ++i) J[i * m + j] = (yp[i] - ym[i]) / (2 * h);
    }
    return log_abs_det(m, J);
}

/* The lower-Cholesky map on the n(n+1)/2 lower-triangular entries (row-major order). */
static void ref_lower_cholesky_packed(int n, const double *in, double *out) {
    int t = 0;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j <= i; ++j, ++t) out[t] = i == j ? exp(in[t]) : in[t];
}

static double fd_lower_cholesky_log_det(int n, const float *u) {
    int m = n * (n + 1) / 2, t = 0;
    double p[36], q[36], yp[36], ym[36], J[36 * 36];
    for (int i = 0; i < n; ++i)
        for (int j = 0; j <= i; ++j) p[t++] = u[i * n + j];
    const double h = 1e-5;
    for (int c = 0; c < m; ++c) {
        memcpy(q, p, (size_t)m * sizeof *q);
        q[c] = p[c] + h;
        ref_lower_cholesky_packed(n, q, yp);
        q[c] = p[c] - h;
        ref_lower_cholesky_packed(n, q, ym);
        for (int r = 0; r < m; ++r) J[r * m + c] = (yp[r] - ym[r]) / (2 * h);
    }
    return log_abs_det(m, J);
}

/* ---- simplex ---- */

typedef struct case_shape {
    int64_t particles;
    int ndim;
    int64_t shape[3]; /* the unconstrained shape: last dim K-1 */
} case_shape;

static const case_shape simplex_cases[] = {
    {1, 1, {1}},       {1, 1, {2}},    {1, 1, {4}},       {1, 1, {9}},   {1, 2, {3, 4}},
    {5, 1, {3}},       {4, 2, {2, 5}}, {3, 3, {2, 3, 6}}, {1, 1, {31}},  {7, 2, {1, 2}},
};

static void test_simplex_forward_matches_reference(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    for (size_t c = 0; c < sizeof simplex_cases / sizeof *simplex_cases; ++c) {
        const case_shape *cs = &simplex_cases[c];
        int64_t m = cs->shape[cs->ndim - 1], k = m + 1;
        int64_t numel = 1;
        for (int d = 0; d < cs->ndim; ++d) numel *= cs->shape[d];
        int64_t rows = cs->particles * numel / m;
        float *u = random_floats(cs->particles * numel, -4, 4);
        tre_tensor *tu = tre_from_host(ctx, cs->particles, cs->ndim, cs->shape, u);
        tre_tensor *ty = tre_transform_to(ctx, TRE_C_SIMPLEX, tu);
        assert_non_null(ty);
        assert_int_equal(ty->particles, cs->particles);
        assert_int_equal(ty->ndim, cs->ndim);
        for (int d = 0; d < cs->ndim - 1; ++d) assert_int_equal(ty->shape[d], cs->shape[d]);
        assert_int_equal(ty->shape[cs->ndim - 1], k);
        const float *y = tt_host(ctx, ty, 0);
        for (int64_t r = 0; r < rows; ++r) {
            double ud[64], ref[65], sum = 0;
            for (int64_t i = 0; i < m; ++i) ud[i] = u[r * m + i];
            ref_simplex((int)m, ud, ref);
            for (int64_t i = 0; i < k; ++i) {
                float v = y[r * k + i];
                assert_true(v > 0.f);
                TT_NEAR(v, ref[i], 2e-7 + 2e-6 * ref[i]);
                sum += v;
            }
            TT_NEAR(sum, 1.0, 1e-6 * (double)k);
        }
        free(u);
    }
    tre_ctx_destroy(ctx);
}

static void test_simplex_zero_maps_to_uniform_and_k1(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    int64_t s4 = 4;
    const float *y = tt_host(ctx, tre_transform_to(ctx, TRE_C_SIMPLEX, tre_full(ctx, 1, &s4, 0.f)), 0);
    for (int i = 0; i < 5; ++i) TT_NEAR(y[i], 0.2, 1e-7);
    /* K = 1: an empty unconstrained row is the one-point simplex, with log-Jacobian 0 */
    int64_t s0[2] = {3, 0};
    tre_tensor *e = tre_full(ctx, 2, s0, 0.f);
    tre_tensor *one = tre_transform_to(ctx, TRE_C_SIMPLEX, e);
    assert_non_null(one);
    assert_int_equal(one->shape[1], 1);
    const float *o = tt_host(ctx, one, 1);
    for (int i = 0; i < 3; ++i) assert_true(o[i] == 1.f);
    assert_true(tt_at(ctx, tre_transform_log_abs_det_jacobian(ctx, TRE_C_SIMPLEX, e), 0) == 0.f);
    tre_ctx_destroy(ctx);
}

static void test_simplex_round_trips(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    for (size_t c = 0; c < sizeof simplex_cases / sizeof *simplex_cases; ++c) {
        const case_shape *cs = &simplex_cases[c];
        int64_t m = cs->shape[cs->ndim - 1], k = m + 1;
        int64_t numel = 1;
        for (int d = 0; d < cs->ndim; ++d) numel *= cs->shape[d];
        int64_t rows = cs->particles * numel / m;
        /* T^-1(T(u)) == u */
        float *u = random_floats(cs->particles * numel, -5, 5);
        tre_tensor *tu = tre_from_host(ctx, cs->particles, cs->ndim, cs->shape, u);
        tre_tensor *back = tre_transform_inv(ctx, TRE_C_SIMPLEX, tre_transform_to(ctx, TRE_C_SIMPLEX, tu));
        assert_non_null(back);
        assert_int_equal(back->particles, cs->particles);
        assert_true(tre_shape_equal(back->ndim, back->shape, cs->ndim, cs->shape));
        const float *ub = tt_host(ctx, back, 0);
        for (int64_t i = 0; i < cs->particles * numel; ++i) TT_NEAR(ub[i], u[i], 2e-5 * (1 + fabs(u[i])));
        /* T(T^-1(y)) == y */
        int64_t yshape[3];
        memcpy(yshape, cs->shape, sizeof yshape);
        yshape[cs->ndim - 1] = k;
        float *y = random_simplex_rows(rows, k);
        tre_tensor *ty = tre_from_host(ctx, cs->particles, cs->ndim, yshape, y);
        tre_tensor *tuy = tre_transform_inv(ctx, TRE_C_SIMPLEX, ty);
        assert_non_null(tuy);
        assert_int_equal(tuy->shape[cs->ndim - 1], m);
        const float *yb = tt_host(ctx, tre_transform_to(ctx, TRE_C_SIMPLEX, tuy), 1);
        for (int64_t i = 0; i < rows * k; ++i) TT_NEAR(yb[i], y[i], 2e-7 + 1e-5 * y[i]);
        free(u);
        free(y);
    }
    tre_ctx_destroy(ctx);
}

/* Far out in the tails the entries stay non-negative and finite, rows still sum to 1. */
static void test_simplex_extreme_inputs(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    const float u[6] = {40.f, -40.f, 90.f, -90.f, 0.f, 20.f};
    int64_t s = 6;
    const float *y = tt_host(ctx, tre_transform_to(ctx, TRE_C_SIMPLEX, tre_from_host(ctx, 1, 1, &s, u)), 0);
    double sum = 0;
    for (int i = 0; i < 7; ++i) {
        assert_true(isfinite(y[i]) && y[i] >= 0.f);
        sum += y[i];
    }
    TT_NEAR(sum, 1.0, 1e-6);
    /* a moderately saturated row still inverts: u = 15 leaves a stick of about 3e-7 */
    const float v[3] = {15.f, -12.f, 3.f};
    s = 3;
    tre_tensor *tv = tre_from_host(ctx, 1, 1, &s, v);
    const float *vb = tt_host(ctx, tre_transform_inv(ctx, TRE_C_SIMPLEX, tre_transform_to(ctx, TRE_C_SIMPLEX, tv)), 1);
    for (int i = 0; i < 3; ++i) TT_NEAR(vb[i], v[i], 1e-4 * (1 + fabs(v[i])));
    float lj = tt_at(ctx, tre_transform_log_abs_det_jacobian(ctx, TRE_C_SIMPLEX,
                                                             tre_from_host(ctx, 1, 1, &s, u)), 0);
    assert_true(isfinite(lj));
    tre_ctx_destroy(ctx);
}

static void test_simplex_log_det_matches_finite_differences(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    for (size_t c = 0; c < sizeof simplex_cases / sizeof *simplex_cases; ++c) {
        const case_shape *cs = &simplex_cases[c];
        int64_t m = cs->shape[cs->ndim - 1];
        int64_t numel = 1;
        for (int d = 0; d < cs->ndim; ++d) numel *= cs->shape[d];
        int64_t rows_pp = numel / m;
        float *u = random_floats(cs->particles * numel, -3, 3);
        tre_tensor *tu = tre_from_host(ctx, cs->particles, cs->ndim, cs->shape, u);
        tre_tensor *lj = tre_transform_log_abs_det_jacobian(ctx, TRE_C_SIMPLEX, tu);
        assert_non_null(lj);
        assert_int_equal(lj->particles, cs->particles);
        assert_int_equal(lj->ndim, 0);
        const float *l = tt_host(ctx, lj, 0);
        for (int64_t p = 0; p < cs->particles; ++p) {
            double ref = 0, ud[64];
            for (int64_t r = 0; r < rows_pp; ++r) {
                for (int64_t i = 0; i < m; ++i) ud[i] = u[(p * rows_pp + r) * m + i];
                ref += fd_simplex_log_det((int)m, ud);
            }
            TT_NEAR(l[p], ref, 1e-4 * (1 + fabs(ref)));
        }
        free(u);
    }
    tre_ctx_destroy(ctx);
}

/* ---- lower_cholesky ---- */

static const case_shape chol_cases[] = {
    {1, 2, {1, 1}}, {1, 2, {3, 3}}, {1, 3, {2, 4, 4}}, {6, 2, {2, 2}}, {3, 3, {2, 5, 5}}, {2, 2, {8, 8}},
};

static void test_lower_cholesky_values_and_round_trips(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    for (size_t c = 0; c < sizeof chol_cases / sizeof *chol_cases; ++c) {
        const case_shape *cs = &chol_cases[c];
        int64_t n = cs->shape[cs->ndim - 1], numel = 1;
        for (int d = 0; d < cs->ndim; ++d) numel *= cs->shape[d];
        int64_t total = cs->particles * numel, mats = total / (n * n);
        float *u = random_floats(total, -2, 2);
        tre_tensor *tu = tre_from_host(ctx, cs->particles, cs->ndim, cs->shape, u);
        tre_tensor *ty = tre_transform_to(ctx, TRE_C_LOWER_CHOLESKY, tu);
        assert_non_null(ty);
        assert_int_equal(ty->particles, cs->particles);
        assert_true(tre_shape_equal(ty->ndim, ty->shape, cs->ndim, cs->shape));
        const float *y = tt_host(ctx, ty, 0);
        for (int64_t b = 0; b < mats; ++b)
            for (int64_t i = 0; i < n; ++i)
                for (int64_t j = 0; j < n; ++j) {
                    int64_t at = b * n * n + i * n + j;
                    double ref = i > j ? u[at] : i == j ? exp((double)u[at]) : 0.0;
                    TT_NEAR(y[at], ref, 1e-6 * (1 + fabs(ref)));
                    if (i == j) assert_true(y[at] > 0.f);
                }
        /* T^-1(T(u)) is u with its upper part zeroed */
        const float *ub = tt_host(ctx, tre_transform_inv(ctx, TRE_C_LOWER_CHOLESKY, ty), 1);
        for (int64_t b = 0; b < mats; ++b)
            for (int64_t i = 0; i < n; ++i)
                for (int64_t j = 0; j < n; ++j) {
                    int64_t at = b * n * n + i * n + j;
                    TT_NEAR(ub[at], i >= j ? u[at] : 0.0, 1e-6 * (1 + fabs(u[at])));
                }
        /* T(T^-1(y)) == y for a lower-triangular y with a positive diagonal */
        float *yl = random_floats(total, -2, 2);
        for (int64_t b = 0; b < mats; ++b)
            for (int64_t i = 0; i < n; ++i)
                for (int64_t j = 0; j < n; ++j) {
                    float *e = &yl[b * n * n + i * n + j];
                    if (i < j) *e = 0.f;
                    if (i == j) *e = uniform(0.05, 5);
                }
        tre_tensor *tyl = tre_from_host(ctx, cs->particles, cs->ndim, cs->shape, yl);
        const float *yb = tt_host(ctx, tre_transform_to(ctx, TRE_C_LOWER_CHOLESKY,
                                                        tre_transform_inv(ctx, TRE_C_LOWER_CHOLESKY, tyl)), 2);
        for (int64_t i = 0; i < total; ++i) TT_NEAR(yb[i], yl[i], 1e-6 * (1 + fabs(yl[i])));
        free(u);
        free(yl);
    }
    tre_ctx_destroy(ctx);
}

static void test_lower_cholesky_log_det_matches_finite_differences(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(7);
    for (size_t c = 0; c < sizeof chol_cases / sizeof *chol_cases; ++c) {
        const case_shape *cs = &chol_cases[c];
        int64_t n = cs->shape[cs->ndim - 1], numel = 1;
        for (int d = 0; d < cs->ndim; ++d) numel *= cs->shape[d];
        int64_t mats_pp = numel / (n * n);
        float *u = random_floats(cs->particles * numel, -2, 2);
        tre_tensor *lj = tre_transform_log_abs_det_jacobian(
            ctx, TRE_C_LOWER_CHOLESKY, tre_from_host(ctx, cs->particles, cs->ndim, cs->shape, u));
        assert_non_null(lj);
        assert_int_equal(lj->particles, cs->particles);
        assert_int_equal(lj->ndim, 0);
        const float *l = tt_host(ctx, lj, 0);
        for (int64_t p = 0; p < cs->particles; ++p) {
            double ref = 0;
            for (int64_t b = 0; b < mats_pp; ++b)
                ref += fd_lower_cholesky_log_det((int)n, u + (p * mats_pp + b) * n * n);
            TT_NEAR(l[p], ref, 1e-4 * (1 + fabs(ref)));
        }
        free(u);
    }
    tre_ctx_destroy(ctx);
}

/* ---- shape errors name the function and the argument ---- */

static tre_status failed_with(tre_ctx *ctx, const tre_tensor *r) {
    return r ? TRE_OK : tre_ctx_status(ctx);
}

static void test_shape_errors_name_the_argument(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(8);
    int64_t s1[1] = {1}, s3[1] = {3}, s23[2] = {2, 3}, s33[2] = {3, 3};

    TT_FAILS_WITH(ctx, failed_with(ctx, tre_transform_to(ctx, TRE_C_SIMPLEX, tre_scalar(ctx, 0.f))),
                  TRE_ERR_SHAPE, "transform_to: simplex");
    assert_non_null(strstr(tre_ctx_error(ctx), "argument u"));
    tre_ctx_step_reset(ctx);

    TT_FAILS_WITH(ctx, failed_with(ctx, tre_transform_inv(ctx, TRE_C_SIMPLEX, tre_full(ctx, 1, s1, 1.f))),
                  TRE_ERR_SHAPE, "argument y");
    assert_non_null(strstr(tre_ctx_error(ctx), "K >= 2"));
    assert_non_null(strstr(tre_ctx_error(ctx), "[1]"));
    tre_ctx_step_reset(ctx);

    TT_FAILS_WITH(ctx, failed_with(ctx, tre_transform_inv(ctx, TRE_C_SIMPLEX, tre_scalar(ctx, 1.f))),
                  TRE_ERR_SHAPE, "transform_inv: simplex");
    tre_ctx_step_reset(ctx);

    TT_FAILS_WITH(ctx, failed_with(ctx, tre_transform_log_abs_det_jacobian(ctx, TRE_C_SIMPLEX,
                                                                           tre_scalar(ctx, 0.f))),
                  TRE_ERR_SHAPE, "log_abs_det_jacobian: simplex");
    assert_non_null(strstr(tre_ctx_error(ctx), "argument u"));
    tre_ctx_step_reset(ctx);

    TT_FAILS_WITH(ctx, failed_with(ctx, tre_transform_to(ctx, TRE_C_LOWER_CHOLESKY, tre_full(ctx, 2, s23, 0.f))),
                  TRE_ERR_SHAPE, "argument u");
    assert_non_null(strstr(tre_ctx_error(ctx), "[2, 3]"));
    assert_non_null(strstr(tre_ctx_error(ctx), "lower_cholesky"));
    tre_ctx_step_reset(ctx);

    TT_FAILS_WITH(ctx, failed_with(ctx, tre_transform_inv(ctx, TRE_C_LOWER_CHOLESKY, tre_full(ctx, 1, s3, 1.f))),
                  TRE_ERR_SHAPE, "transform_inv: lower_cholesky needs argument y");
    tre_ctx_step_reset(ctx);

    /* the structured kernels read float32: an int32 tensor of a fitting shape is refused */
    {
        tre_tensor *ints = NULL;
        TT_OK(ctx, tre_tensor_create(ctx, &ints, TRE_I32, 1, 1, (int64_t[]){3}, NULL));
        TT_FAILS_WITH(ctx, failed_with(ctx, tre_transform_to(ctx, TRE_C_SIMPLEX, ints)),
                      TRE_ERR_INVALID_ARG, "transform_to: argument u must be float32");
        tre_ctx_step_reset(ctx);
        tre_tensor_destroy(ctx, ints);
    }
    /* a vector of one element is not a 1 x 1 matrix: a matrix needs two dims, whatever sizes */
    TT_FAILS_WITH(ctx, failed_with(ctx, tre_transform_to(ctx, TRE_C_LOWER_CHOLESKY,
                                                         tre_full(ctx, 1, (int64_t[]){1}, 0.f))),
                  TRE_ERR_SHAPE, "transform_to: lower_cholesky needs argument u");
    tre_ctx_step_reset(ctx);

    TT_FAILS_WITH(ctx, failed_with(ctx, tre_transform_log_abs_det_jacobian(ctx, TRE_C_LOWER_CHOLESKY,
                                                                           tre_scalar(ctx, 0.f))),
                  TRE_ERR_SHAPE, "argument u");
    tre_ctx_step_reset(ctx);

    TT_FAILS_WITH(ctx, failed_with(ctx, tre_transform_to(ctx, TRE_C_SIMPLEX, NULL)),
                  TRE_ERR_INVALID_ARG, "argument u is NULL");
    tre_ctx_step_reset(ctx);

    /* after an error the context works again */
    assert_non_null(tre_transform_to(ctx, TRE_C_LOWER_CHOLESKY, tre_full(ctx, 2, s33, 0.f)));
    tre_ctx_destroy(ctx);
}

/* ---- the param store ---- */

static void test_param_store_simplex(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(9);
    const float init[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.7f, 0.1f, 0.15f, 0.05f};
    int64_t shape[2] = {2, 4};
    tre_tensor *w = tre_param(ctx, "w", tre_from_host(ctx, 1, 2, shape, init), TRE_C_SIMPLEX);
    assert_non_null(w);
    assert_non_null(w->param);
    assert_ptr_equal(w->param, tre_param_store_get(ctx, "w"));
    assert_int_equal(w->param->constraint.kind, TRE_SIMPLEX);
    const tre_tensor *u = w->param->unconstrained;
    assert_int_equal(u->ndim, 2);
    assert_int_equal(u->shape[0], 2);
    assert_int_equal(u->shape[1], 3);
    assert_true(tre_shape_equal(w->ndim, w->shape, 2, shape));
    const float *v = tt_host(ctx, w, 0);
    for (int i = 0; i < 8; ++i) TT_NEAR(v[i], init[i], 1e-6);
    /* later reads ignore init and return T(u) again */
    tre_ctx_step_reset(ctx);
    const float other[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    int64_t s4 = 4;
    tre_tensor *w2 = tre_param(ctx, "w", tre_from_host(ctx, 1, 1, &s4, other), TRE_C_SIMPLEX);
    assert_non_null(w2);
    assert_non_null(w2->param);
    v = tt_host(ctx, w2, 0);
    for (int i = 0; i < 8; ++i) TT_NEAR(v[i], init[i], 1e-6);
    /* a bad init shape is an error that names the param-facing argument */
    TT_FAILS_WITH(ctx, failed_with(ctx, tre_param(ctx, "bad", tre_scalar(ctx, 1.f), TRE_C_SIMPLEX)),
                  TRE_ERR_SHAPE, "argument y");
    tre_ctx_destroy(ctx);
}

static void test_param_store_lower_cholesky(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(10);
    const float init[9] = {1.5f, 0.f, 0.f, -0.3f, 0.8f, 0.f, 0.2f, 0.4f, 2.f};
    int64_t shape[2] = {3, 3};
    tre_tensor *L = tre_param(ctx, "L", tre_from_host(ctx, 1, 2, shape, init), TRE_C_LOWER_CHOLESKY);
    assert_non_null(L);
    assert_non_null(L->param);
    assert_int_equal(L->particles, 1);
    assert_true(tre_shape_equal(L->ndim, L->shape, 2, shape));
    const float *u = tt_host(ctx, L->param->unconstrained, 1);
    TT_NEAR(u[0], log(1.5), 1e-6);
    TT_NEAR(u[3], -0.3f, 0);
    TT_NEAR(u[8], log(2.0), 1e-6);
    const float *v = tt_host(ctx, L, 0);
    for (int i = 0; i < 9; ++i) TT_NEAR(v[i], init[i], 1e-6 * (1 + fabs(init[i])));
    tre_ctx_step_reset(ctx);
    tre_tensor *L2 = tre_param(ctx, "L", NULL, TRE_C_LOWER_CHOLESKY);
    assert_non_null(L2);
    assert_non_null(L2->param);
    v = tt_host(ctx, L2, 0);
    for (int i = 0; i < 9; ++i) TT_NEAR(v[i], init[i], 1e-6 * (1 + fabs(init[i])));
    TT_FAILS_WITH(ctx, failed_with(ctx, tre_param(ctx, "bad", tre_full(ctx, 2, (int64_t[]){2, 3}, 1.f),
                                                  TRE_C_LOWER_CHOLESKY)),
                  TRE_ERR_SHAPE, "square matrix");
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simplex_forward_matches_reference),
        cmocka_unit_test(test_simplex_zero_maps_to_uniform_and_k1),
        cmocka_unit_test(test_simplex_round_trips),
        cmocka_unit_test(test_simplex_extreme_inputs),
        cmocka_unit_test(test_simplex_log_det_matches_finite_differences),
        cmocka_unit_test(test_lower_cholesky_values_and_round_trips),
        cmocka_unit_test(test_lower_cholesky_log_det_matches_finite_differences),
        cmocka_unit_test(test_shape_errors_name_the_argument),
        cmocka_unit_test(test_param_store_simplex),
        cmocka_unit_test(test_param_store_lower_cholesky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
