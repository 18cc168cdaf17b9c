/* The CPU's Categorical row blocks (kernels/cpu/categorical_block.h) against the row functions
 * of kernels/math/categorical.h, which the CUDA backend and the longer rows use: over random
 * rows and the rows the row functions treat specially (NaN, +inf, only -inf, -inf entries, tied
 * maxima, a row every datum shares), block sizes below, at and above a vector's width, and
 * values inside and outside the support.
 *
 * Tolerance: the block takes exp and log1p from glibc's libmvec where it links (a few units in
 * the last place of a double away from libm's), so its float results may round one float ulp
 * apart; 2 ulp (relative 2.4e-7, or 1e-37 absolute near 0) is allowed. Draws must agree exactly:
 * they could differ only for a uniform within ~1e-15 of a cumulative weight. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "kernels/cpu/categorical_block.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/math/philox.h"

#define NROWS TRE_CAT_BLOCK

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double unif01(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void close_float(const char *what, int64_t r, int64_t j, float a, float b) {
    if (isnan(a) && isnan(b)) return;
    if (a == b) return;
    if (!(fabsf(a - b) <= 2.4e-7f * fmaxf(fabsf(a), fabsf(b)) || fabsf(a - b) <= 1e-37f))
        fail_msg("%s: row %lld [%lld]: block %.9g, row function %.9g", what, (long long)r, (long long)j, a, b);
}

/* row r of a test block: random logits, then the special rows */
static void make_row(int64_t r, int64_t k, float *l) {
    for (int64_t i = 0; i < k; ++i) l[i] = (float)(12.0 * unif01() - 6.0);
    switch (r % 9) {
    case 1: l[k / 2] = NAN; break;
    case 2: l[0] = INFINITY; break;
    case 3: for (int64_t i = 0; i < k; ++i) l[i] = -INFINITY; break;
    case 4: l[k - 1] = -INFINITY; break;
    case 5: l[0] = l[k - 1] = 3.5f; for (int64_t i = 1; i + 1 < k; ++i) l[i] = fminf(l[i], 3.f); break;
    case 6: l[0] = 50.f; for (int64_t i = 1; i < k; ++i) l[i] = -50.f; break; /* a tiny tail */
    default: break;
    }
}

static void check_block(int64_t n, int64_t k, int shared) {
    float logits[NROWS][TRE_CAT_ROW_CACHE], values[NROWS], g[NROWS];
    const float *rows[NROWS] = {0};
    double u[NROWS];
    for (int64_t r = 0; r < n; ++r) {
        make_row(r, k, logits[r]);
        rows[r] = shared ? logits[0] : logits[r];
        /* values: every category, and some outside the support (k, -1, 0.5) */
        values[r] = r % 11 == 7 ? (float)k : r % 13 == 8 ? -1.f : r % 17 == 9 ? 0.5f : (float)(r % k);
        g[r] = (float)(unif01() * 4.0 - 2.0);
        u[r] = unif01();
    }
    tre_cat_block b;
    tre_cat_block_norm(&b, n, k, rows);
    float lp[NROWS], grad[NROWS * TRE_CAT_ROW_CACHE], draw[NROWS];
    tre_cat_block_log_prob(&b, rows, values, lp);
    tre_cat_block_grad(&b, values, g, grad);
    tre_cat_block_sample(&b, u, draw);
    for (int64_t r = 0; r < n; ++r) {
        const float *l = rows[r];
        close_float("log_prob", r, 0, lp[r], tre_categorical_log_prob_row(k, l, values[r]));
        float want[TRE_CAT_ROW_CACHE];
        tre_categorical_log_prob_grad_row(k, l, values[r], g[r], want);
        for (int64_t j = 0; j < k; ++j) close_float("grad", r, j, grad[r * k + j], want[j]);
        const float d = tre_categorical_sample_row(k, l, u[r]);
        if (!(isnan(d) && isnan(draw[r])) && d != draw[r])
            fail_msg("sample: row %lld: block %g, row function %g (u %.17g)", (long long)r, draw[r], d, u[r]);
    }
}

static void test_blocks_match_the_row_functions(void **state) {
    (void)state;
    const int64_t ks[] = {1, 2, 5, 8, TRE_CAT_ROW_CACHE};
    const int64_t ns[] = {1, 3, 8, 17, NROWS};
    for (size_t a = 0; a < sizeof ks / sizeof *ks; ++a)
        for (size_t c = 0; c < sizeof ns / sizeof *ns; ++c)
            for (int shared = 0; shared < 2; ++shared) check_block(ns[c], ks[a], shared);
}

/* the special rows give what the row functions' contract says, not merely the same */
static void test_special_rows(void **state) {
    (void)state;
    const float nan_row[3] = {0.f, NAN, 1.f}, inf_row[3] = {INFINITY, 0.f, 1.f};
    const float ninf_row[3] = {-INFINITY, -INFINITY, -INFINITY}, zero_w[3] = {0.f, -INFINITY, 0.f};
    const float tiny[2] = {50.f, -50.f};
    const float *rows[5] = {nan_row, inf_row, ninf_row, zero_w, tiny};
    const float values[5] = {0.f, 0.f, 0.f, 1.f, 0.f}, g[5] = {1, 1, 1, 1, 1};
    tre_cat_block b;
    tre_cat_block_norm(&b, 4, 3, rows);
    float lp[4], grad[12], draw[4];
    const double u[4] = {0.5, 0.5, 0.5, 0.999};
    tre_cat_block_log_prob(&b, rows, values, lp);
    tre_cat_block_grad(&b, values, g, grad);
    tre_cat_block_sample(&b, u, draw);
    for (int r = 0; r < 3; ++r) {
        assert_true(isnan(lp[r]));
        assert_true(isnan(draw[r]));
        assert_true(isnan(grad[r * 3]));
    }
    assert_true(isinf(lp[3]) && lp[3] < 0);    /* a zero-weight category: log p = -inf */
    assert_true(draw[3] == 2.f);               /* never drawn: the top end falls to the last positive */
    assert_true(grad[3 * 3 + 1] == 1.f);       /* d/dl of the value's own logit: 1 - p = 1 */
    tre_cat_block_norm(&b, 1, 2, rows + 4);
    tre_cat_block_log_prob(&b, rows + 4, values + 4, lp);
    TT_NEAR(lp[0], -exp(-100.0), 2e-45);       /* a tiny tail's log p, not 0: -3.7e-44 (a denormal) */
    assert_true(lp[0] < 0.f);
}

/* The CPU's shared-logits gradient (rows in chunks, particles in the outer loop) gives the row
 * function's results exactly: every row adds its particles in the same order. Row counts off
 * the chunk size, a value outside the support, and a long row (the heap path). */
static void test_shared_logits_gradient_matches_the_row_function(void **state) {
    (void)state;
    enum { P = 37, M = 150, KMAX = 1100 };
    const int64_t ks[] = {1, 5, KMAX};
    for (size_t a = 0; a < sizeof ks / sizeof *ks; ++a) {
        const int64_t k = ks[a], m_rows = k == KMAX ? 3 : M;
        float *l = malloc((size_t)(m_rows * k) * sizeof *l), *g = malloc((size_t)(P * m_rows) * sizeof *g);
        float *v = malloc((size_t)(P * m_rows) * sizeof *v), *got = malloc((size_t)(m_rows * k) * sizeof *got);
        float *want = malloc((size_t)k * sizeof *want);
        double *count = malloc((size_t)k * sizeof *count);
        for (int64_t i = 0; i < m_rows * k; ++i) l[i] = (float)(6.0 * unif01() - 3.0);
        for (int64_t i = 0; i < P * m_rows; ++i) {
            g[i] = (float)(unif01() - 0.5);
            v[i] = (float)(int64_t)(unif01() * (double)k);
        }
        /* values transposed, [M, P] (particle stride 1, row stride P), to test both strides */
        if (m_rows > 7) v[7 * P + 3] = (float)k; /* row 7: one value outside the support */
        assert_int_equal(tre_categorical_log_prob_backward_shared_cpu(NULL, P, m_rows, k, g, l, k, v, 1, P, got), 0);
        for (int64_t m = 0; m < m_rows; ++m) {
            tre_categorical_shared_grad_row(k, l + m * k, P, g + m, m_rows, v + m * P, 1, count, want);
            if (memcmp(got + m * k, want, (size_t)k * sizeof *want) != 0)
                fail_msg("k %lld row %lld: chunked gradient differs from the row function", (long long)k, (long long)m);
        }
        if (m_rows > 7) assert_true(isnan(got[7 * k]));
        free(l), free(g), free(v), free(got), free(want), free(count);
    }
}

/* The CPU's shared-logits draws (rows [P, M], logits' particle stride 0: a guide's per-datum
 * logits sampled for every particle) give the row function's draw for every particle, and NaN
 * for a logits row without a normalizer (NaN, +inf, only -inf), as the row function does. */
static void test_shared_logits_draws_match_the_row_function(void **state) {
    (void)state;
    enum { P = 3, M = 5, K = 3 };
    const float l[M * K] = {0.f, 1.f, 2.f,  0.f, NAN, 1.f,  INFINITY, 0.f, 1.f,
                            -INFINITY, -INFINITY, -INFINITY,  -1.f, -INFINITY, 0.5f};
    const tre_kshape rows = {.ndim = 2, .dim = {P, M}};
    const tre_karg logits = {.data = l, .stride = {0, K}};
    float out[P * M];
    assert_int_equal(tre_categorical_sample_cpu(NULL, &rows, K, out, &logits, 11, 5), 0);
    for (int64_t p = 0; p < P; ++p)
        for (int64_t m = 0; m < M; ++m) {
            const float want = tre_categorical_sample_row(K, l + m * K, tre_philox_uniform(11, 5, (uint64_t)(p * M + m)));
            const float got = out[p * M + m];
            if (!(isnan(want) && isnan(got)) && want != got)
                fail_msg("particle %lld row %lld: shared draw %g, row function %g", (long long)p, (long long)m, got, want);
        }
    for (int64_t p = 0; p < P; ++p) {
        assert_true(isnan(out[p * M + 1]) && isnan(out[p * M + 2]) && isnan(out[p * M + 3]));
        assert_true(out[p * M + 4] == 0.f || out[p * M + 4] == 2.f); /* never the zero-weight category */
    }
}

/* The CPU's shared-logits log-densities (rows [P, M], logits' particle stride 0), rows long
 * enough that a chunk holds fewer than 256 of them (k > LSM_TABLE / 256 = 8) and M spanning
 * several chunks with a partial last one: every value is the row function's. */
static void test_shared_logits_log_prob_matches_the_row_function(void **state) {
    (void)state;
    enum { P = 3, M = 50 };
    const int64_t ks[] = {9, 100, 1000};
    for (size_t a = 0; a < sizeof ks / sizeof *ks; ++a) {
        const int64_t k = ks[a];
        float *l = malloc((size_t)(M * k) * sizeof *l), v[P * M], out[P * M];
        for (int64_t i = 0; i < M * k; ++i) l[i] = (float)(6.0 * unif01() - 3.0);
        for (int64_t i = 0; i < P * M; ++i) v[i] = (float)(int64_t)(unif01() * (double)k);
        v[2 * M + 7] = (float)k; /* outside the support: NaN */
        const tre_kshape rows = {.ndim = 2, .dim = {P, M}};
        const tre_karg logits = {.data = l, .stride = {0, k}}, value = {.data = v, .stride = {M, 1}};
        assert_int_equal(tre_categorical_log_prob_cpu(NULL, &rows, k, out, &logits, &value), 0);
        for (int64_t p = 0; p < P; ++p)
            for (int64_t m = 0; m < M; ++m) {
                const float want = tre_categorical_log_prob_row(k, l + m * k, v[p * M + m]), got = out[p * M + m];
                if (!(isnan(want) && isnan(got)) && want != got)
                    fail_msg("k %lld particle %lld row %lld: shared %.9g, row function %.9g", (long long)k,
                             (long long)p, (long long)m, got, want);
            }
        assert_true(isnan(out[2 * M + 7]));
        free(l);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_match_the_row_functions),
        cmocka_unit_test(test_special_rows),
        cmocka_unit_test(test_shared_logits_gradient_matches_the_row_function),
        cmocka_unit_test(test_shared_logits_draws_match_the_row_function),
        cmocka_unit_test(test_shared_logits_log_prob_matches_the_row_function),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
