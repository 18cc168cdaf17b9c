/* NaN-free results spare validation a pass: with validation on, the CPU backend's elementwise
 * kernels note whether their output holds a NaN (tre_tensor.known_no_nan), and a distribution
 * parameter so marked skips the NaN check. The note must be exact: a single NaN anywhere (in
 * either kernel path, parallel or not) clears it, and a NaN made by an op still fails
 * validation naming the site. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "kernels/backend.h"

/* a [P, N, M] outer difference a[P, N, 1] - b[P, 1, M] (the row walk) and a same-shape
 * difference (contiguous blocks), with one NaN-making element at `bad` (or none: bad < 0) */
static bool binary_no_nan(tre_backend *be, int64_t P, int64_t N, int64_t M, bool outer, int64_t bad) {
    const int64_t total = P * N * M;
    float *a = malloc((size_t)total * sizeof *a), *b = malloc((size_t)total * sizeof *b),
          *out = malloc((size_t)total * sizeof *out);
    for (int64_t i = 0; i < total; ++i) a[i] = (float)(i % 7), b[i] = (float)(i % 5) - 2.f;
    tre_kshape ks = {.ndim = 3, .dim = {P, N, M}};
    tre_karg ka = {.data = a}, kb = {.data = b};
    if (outer) { /* a[p, n] broadcast along m, b[p, m] along n */
        ka.stride[0] = N, ka.stride[1] = 1, ka.stride[2] = 0;
        kb.stride[0] = M, kb.stride[1] = 0, kb.stride[2] = 1;
        if (bad >= 0) { /* inf - inf at output element bad */
            const int64_t p = bad / (N * M), n = bad / M % N, m = bad % M;
            a[p * N + n] = INFINITY, b[p * M + m] = INFINITY;
        }
    } else {
        ka.stride[0] = N * M, ka.stride[1] = M, ka.stride[2] = 1;
        kb.stride[0] = N * M, kb.stride[1] = M, kb.stride[2] = 1;
        if (bad >= 0) a[bad] = b[bad] = -INFINITY;
    }
    bool no_nan = !(bad < 0); /* the opposite of what is expected: the kernel must set it */
    assert_int_equal(be->binary(be->impl, TRE_OP_SUB, &ks, out, &ka, &kb, &no_nan), 0);
    int64_t nans = 0;
    for (int64_t i = 0; i < total; ++i) nans += out[i] != out[i];
    if (bad >= 0 && !outer) assert_int_equal(nans, 1);
    assert_int_equal(no_nan, nans == 0);
    /* NULL: nothing noted, the same output */
    float first = out[0];
    assert_int_equal(be->binary(be->impl, TRE_OP_SUB, &ks, out, &ka, &kb, NULL), 0);
    assert_true(out[0] == first || (out[0] != out[0] && first != first));
    free(a), free(b), free(out);
    return no_nan;
}

static void test_binary_notes_nan(void **state) {
    (void)state;
    tre_backend *be = tre_backend_cpu_create();
    assert_non_null(be);
    /* small (one thread) and large (parallel blocks); the NaN first, in the middle, last */
    const int64_t sizes[2][3] = {{2, 3, 5}, {64, 40, 100}};
    for (int s = 0; s < 2; ++s) {
        const int64_t P = sizes[s][0], N = sizes[s][1], M = sizes[s][2], total = P * N * M;
        for (int outer = 0; outer < 2; ++outer) {
            assert_true(binary_no_nan(be, P, N, M, outer, -1));
            const int64_t where[3] = {0, total / 2 + 3, total - 1};
            for (int w = 0; w < 3; ++w) assert_false(binary_no_nan(be, P, N, M, outer, where[w]));
        }
    }
    be->destroy(be->impl);
    free(be);
}

static void test_unary_notes_nan(void **state) {
    (void)state;
    tre_backend *be = tre_backend_cpu_create();
    assert_non_null(be);
    const int64_t n = 300001;
    float *in = malloc((size_t)n * sizeof *in), *out = malloc((size_t)n * sizeof *out);
    for (int64_t i = 0; i < n; ++i) in[i] = 0.5f + (float)(i % 11);
    bool no_nan = false;
    assert_int_equal(be->unary(be->impl, TRE_OP_LOG, n, out, in, &no_nan), 0);
    assert_true(no_nan);
    const int64_t where[3] = {0, n / 2, n - 1};
    for (int w = 0; w < 3; ++w) {
        in[where[w]] = -1.f; /* log(-1) = NaN */
        no_nan = true;
        assert_int_equal(be->unary(be->impl, TRE_OP_LOG, n, out, in, &no_nan), 0);
        assert_false(no_nan);
        in[where[w]] = 1.f;
    }
    free(in), free(out);
    be->destroy(be->impl);
    free(be);
}

/* y ~ Bernoulli(logits = a - b) over a [4, 64] plate, a NaN made by the difference at (row, col)
 * when row >= 0 (inf - inf) */
typedef struct diff_case {
    int row, col;
    bool use_log; /* logits = log(a) - b instead, the NaN from log(-1) */
} diff_case;

static tre_tensor *diff_model(tre_ctx *c, const void *args) {
    const diff_case *k = args;
    float ah[4], bh[64], yh[4 * 64];
    for (int i = 0; i < 4; ++i) ah[i] = 1.f + (float)i * 0.25f;
    for (int j = 0; j < 64; ++j) bh[j] = (float)(j % 9) * 0.1f;
    for (int i = 0; i < 4 * 64; ++i) yh[i] = (float)(i % 2);
    if (k->row >= 0) {
        if (k->use_log) ah[k->row] = -1.f;
        else ah[k->row] = INFINITY, bh[k->col] = INFINITY;
    }
    const int64_t as[2] = {4, 1}, bs[1] = {64}, ys[2] = {4, 64};
    tre_tensor *a = tre_from_host(c, 1, 2, as, ah), *b = tre_from_host(c, 1, 1, bs, bh);
    tre_tensor *y = tre_from_host(c, 1, 2, ys, yh);
    if (k->use_log) a = tre_log(c, a);
    tre_tensor *logits = tre_sub(c, a, b);
    tre_plate_dim(c, "rows", 4, 0, -2);
    tre_plate_dim(c, "cols", 64, 0, -1);
    tre_sample(c, "y", tre_bernoulli_logits(c, logits), y);
    tre_plate_end(c);
    tre_plate_end(c);
    return logits;
}

static tre_tensor *no_guide(tre_ctx *c, const void *args) {
    (void)c, (void)args;
    return NULL;
}

static tre_status run_elbo(bool validate, const diff_case *k, char *error, size_t cap) {
    tre_ctx *ctx = NULL;
    tre_ctx_opts o = {.backend = TRE_BACKEND_CPU, .seed = 3, .no_validation = !validate};
    TT_OK(ctx, tre_ctx_create(&ctx, &o));
    tre_elbo_result r;
    tre_status s = tre_elbo(ctx, diff_model, no_guide, k, &(tre_elbo_opts){.num_particles = 2}, &r);
    snprintf(error, cap, "%s", tre_ctx_error(ctx));
    /* the context stays usable: a clean run after the failed one */
    const diff_case clean = {-1, 0, false};
    TT_OK(ctx, tre_elbo(ctx, diff_model, no_guide, &clean, &(tre_elbo_opts){.num_particles = 2}, &r));
    assert_true(isfinite(r.mean));
    tre_ctx_destroy(ctx);
    return s;
}

static void test_nan_made_by_an_op_fails_validation(void **state) {
    (void)state;
    char err[512];
    const diff_case clean = {-1, 0, false};
    assert_int_equal(run_elbo(true, &clean, err, sizeof err), TRE_OK);
    const diff_case bad[4] = {{0, 0, false}, {2, 37, false}, {3, 63, false}, {1, 5, true}};
    for (int i = 0; i < 4; ++i) {
        tre_status s = run_elbo(true, &bad[i], err, sizeof err);
        if (s != TRE_ERR_DIST) fail_msg("case %d: status %s (%s)", i, tre_status_name(s), err);
        if (!strstr(err, "site \"y\"") || !strstr(err, "logits") || !strstr(err, "not NaN"))
            fail_msg("case %d: error \"%s\" names no site, parameter or NaN", i, err);
        /* 64 NaNs for a bad row (log), one for a pair of infinities */
        if (!strstr(err, bad[i].use_log ? "64 of" : "1 of")) fail_msg("case %d: count in \"%s\"", i, err);
        /* validation off: no parameter check; the non-finite log-prob is caught afterwards */
        assert_int_equal(run_elbo(false, &bad[i], err, sizeof err), TRE_ERR_DIST);
        if (!strstr(err, "not finite") || strstr(err, "not NaN")) fail_msg("case %d, off: \"%s\"", i, err);
    }
}

/* The mark itself: set on an op's result only when validation is on and the result is clean. */
static void test_mark_follows_validation_and_values(void **state) {
    (void)state;
    for (int v = 0; v < 2; ++v) {
        tre_ctx *ctx = NULL;
        tre_ctx_opts o = {.backend = TRE_BACKEND_CPU, .seed = 1, .no_validation = v == 0};
        TT_OK(ctx, tre_ctx_create(&ctx, &o));
        const float h[3] = {1.f, INFINITY, 2.f};
        tre_tensor *x = tre_from_host(ctx, 1, 1, (int64_t[]){3}, h);
        tre_tensor *clean = tre_add(ctx, x, tre_scalar(ctx, 1.f));
        tre_tensor *nan = tre_sub(ctx, x, x); /* inf - inf */
        tre_tensor *lg = tre_log(ctx, x);
        assert_non_null(clean), assert_non_null(nan), assert_non_null(lg);
        assert_false(x->known_no_nan); /* uploaded: never checked */
        assert_int_equal(clean->known_no_nan, v == 1);
        assert_int_equal(lg->known_no_nan, v == 1);
        assert_false(nan->known_no_nan);
        tre_ctx_destroy(ctx);
    }
}

/* Persistent data is checked once, on the host, as it comes in (tre_tensor_create,
 * tre_tensor_write): validation then skips its pass over it in every step. A NaN written
 * through tre_tensor_write is still named by validation; one written into data directly (the
 * contract says not to) is caught only by the ELBO's non-finite check. */
static tre_tensor *data_model(tre_ctx *c, const void *args) {
    tre_tensor *x = (tre_tensor *)args;
    tre_plate(c, "rows", 4, 0);
    tre_sample(c, "y", tre_normal(c, x, tre_scalar(c, 1.f)), tre_scalar(c, 0.5f));
    tre_plate_end(c);
    return NULL;
}

static void test_persistent_data_is_checked_as_it_comes_in(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    const int64_t n = 4;
    const float clean[4] = {0.f, 1.f, 0.5f, -2.f}, dirty[4] = {0.f, NAN, 1.f, 2.f};
    const float infinite[4] = {INFINITY, 0.f, -INFINITY, 1.f}; /* no NaN */
    const int32_t idx[4] = {0, 1, 2, 3};
    tre_tensor *x = NULL, *bad = NULL, *zeros = NULL, *ix = NULL, *inf = NULL;
    TT_OK(ctx, tre_tensor_create(ctx, &x, TRE_F32, 1, 1, &n, clean));
    TT_OK(ctx, tre_tensor_create(ctx, &bad, TRE_F32, 1, 1, &n, dirty));
    TT_OK(ctx, tre_tensor_create(ctx, &zeros, TRE_F32, 1, 1, &n, NULL));
    TT_OK(ctx, tre_tensor_create(ctx, &ix, TRE_I32, 1, 1, &n, idx));
    TT_OK(ctx, tre_tensor_create(ctx, &inf, TRE_F32, 1, 1, &n, infinite));
    assert_true(x->known_no_nan);
    assert_true(inf->known_no_nan);
    assert_false(bad->known_no_nan);
    assert_false(zeros->known_no_nan); /* zeros: checked by validation (the library writes its own in place) */
    assert_false(ix->known_no_nan);
    const tre_elbo_opts o = {.num_particles = 2};
    tre_elbo_result r;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, data_model, no_guide, bad, &o, &r), TRE_ERR_DIST, "not NaN");
    assert_non_null(strstr(tre_ctx_error(ctx), "site \"y\""));
    /* the write returns its own outcome while that error is pending (ctx.h) */
    TT_OK(ctx, tre_tensor_write(ctx, x, dirty, n));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_DIST);
    assert_false(x->known_no_nan);
    TT_FAILS_WITH(ctx, tre_elbo(ctx, data_model, no_guide, x, &o, &r), TRE_ERR_DIST, "not NaN");
    TT_OK(ctx, tre_tensor_write(ctx, x, clean, n));
    assert_true(x->known_no_nan);
    TT_OK(ctx, tre_elbo(ctx, data_model, no_guide, x, &o, &r));
    /* a direct write: validation trusts the check made at the write */
    ((float *)x->data)[1] = NAN; /* CPU backend: host memory */
    TT_FAILS_WITH(ctx, tre_elbo(ctx, data_model, no_guide, x, &o, &r), TRE_ERR_DIST, "not finite");
    assert_null(strstr(tre_ctx_error(ctx), "not NaN"));
    tre_tensor_destroy(ctx, x), tre_tensor_destroy(ctx, bad), tre_tensor_destroy(ctx, zeros);
    tre_tensor_destroy(ctx, ix), tre_tensor_destroy(ctx, inf);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_notes_nan),
        cmocka_unit_test(test_unary_notes_nan),
        cmocka_unit_test(test_nan_made_by_an_op_fails_validation),
        cmocka_unit_test(test_mark_follows_validation_and_values),
        cmocka_unit_test(test_persistent_data_is_checked_as_it_comes_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
