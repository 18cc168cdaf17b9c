/* reduce_sum_pair, the adjoint of a broadcast a - b in one pass: for every shape (the outer
 * difference [P, M, L] -> [P, M, 1] and [P, 1, L] with short (reduce_sum's register path for
 * 1-8 and 16), middle and long rows and a row count that is and is not a multiple of 4, and layouts that take the two-walk fallback) it must
 * give exactly (bit for bit) what two reduce_sum calls give; and the gradients of an outer
 * difference through the autograd must match the sums written out by hand. */
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "kernels/backend.h"
#include "src/tensor/autograd.h"

/* full mantissas over a wide range of magnitudes, so that sums in double depend on their order */
static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    const unsigned m = *s >> 8;
    *s = *s * 1103515245u + 12345u;
    const int e = (int)((*s >> 16) % 48) - 24;
    return (*s & 0x100 ? -1.f : 1.f) * ldexpf(1.f + (float)m / 16777216.f, e);
}

/* in: [dims], contiguous; out_a and out_b given by their strides in it (0 = summed) */
static void compare_data(tre_backend *be, int ndim, const int64_t *dim, const int64_t *sa, const int64_t *sb,
                         int64_t na, int64_t nb, bool spiky) {
    tre_kshape ks = {.ndim = ndim};
    int64_t total = 1;
    for (int d = 0; d < ndim; ++d) ks.dim[d] = dim[d], total *= dim[d];
    float *in = malloc((size_t)total * sizeof *in);
    unsigned seed = (unsigned)(total * 31 + na);
    for (int64_t i = 0; i < total; ++i) in[i] = frand(&seed);
    if (spiky) /* rows +2^60 and -2^60 among small ones: a sum's order decides what survives */
        for (int64_t i = 0; i < total; ++i) {
            const int64_t r = i / dim[ndim - 1] % dim[ndim - 2];
            if (r % 4 == 0 || r % 4 == 2) in[i] = r % 4 == 0 ? 0x1p60f : -0x1p60f;
        }
    float *pa = malloc((size_t)na * sizeof *pa), *pb = malloc((size_t)nb * sizeof *pb);
    float *ra = malloc((size_t)na * sizeof *ra), *rb = malloc((size_t)nb * sizeof *rb);
    memset(pa, 0xff, (size_t)na * sizeof *pa); /* NaN garbage: every slot must be written */
    memset(pb, 0xff, (size_t)nb * sizeof *pb);
    assert_int_equal(be->reduce_sum_pair(be->impl, &ks, in, pa, sa, pb, sb), 0);
    assert_int_equal(be->reduce_sum(be->impl, &ks, in, ra, sa), 0);
    assert_int_equal(be->reduce_sum(be->impl, &ks, in, rb, sb), 0);
    for (int64_t i = 0; i < na; ++i)
        if (memcmp(&pa[i], &ra[i], sizeof *pa))
            fail_msg("a[%lld]: pair %.9g, reduce_sum %.9g (dims %lld x %lld)", (long long)i, pa[i], ra[i],
                     (long long)dim[ndim - 2], (long long)dim[ndim - 1]);
    for (int64_t i = 0; i < nb; ++i)
        if (memcmp(&pb[i], &rb[i], sizeof *pb))
            fail_msg("b[%lld]: pair %.9g, reduce_sum %.9g (dims %lld x %lld)", (long long)i, pb[i], rb[i],
                     (long long)dim[ndim - 2], (long long)dim[ndim - 1]);
    free(in), free(pa), free(pb), free(ra), free(rb);
}

static void compare(tre_backend *be, int ndim, const int64_t *dim, const int64_t *sa, const int64_t *sb,
                    int64_t na, int64_t nb) {
    compare_data(be, ndim, dim, sa, sb, na, nb, false);
    compare_data(be, ndim, dim, sa, sb, na, nb, true);
}

static void test_pair_equals_two_reductions(void **state) {
    (void)state;
    tre_backend *be = tre_backend_cpu_create();
    assert_non_null(be);
    /* [P, M, L]: a = [P, M, 1], b = [P, 1, L] */
    const int64_t cases[][3] = {{1, 5, 7},     {3, 1, 9},    {4, 3, 9},     {2, 7, 64},  {5, 400, 100},
                                {64, 40, 100}, {8, 13, 65},  {6, 4, 1024},  {3, 9, 1030}, {2, 6, 8},
                                {40, 2, 3},    {300, 17, 33}, {1, 1023, 8}, {2, 37, 16},
                                {3, 100, 5},   {7, 9, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        const int64_t P = cases[c][0], M = cases[c][1], L = cases[c][2];
        const int64_t dim[3] = {P, M, L}, sa[3] = {M, 1, 0}, sb[3] = {L, 0, 1};
        compare(be, 3, dim, sa, sb, P * M, P * L);
        /* b shared by the particles (summed over P too): the two-walk fallback */
        const int64_t sb1[3] = {0, 0, 1};
        compare(be, 3, dim, sa, sb1, P * M, L);
        /* the operands the other way round: a = [P, 1, L], b = [P, M, 1] */
        compare(be, 3, dim, sb, sa, P * L, P * M);
    }
    /* an extra kept outer dim: [P, K, M, L] -> [P, K, M, 1] and [P, K, 1, L] */
    const int64_t dim4[4] = {3, 5, 11, 20}, sa4[4] = {55, 11, 1, 0}, sb4[4] = {100, 20, 0, 1};
    compare(be, 4, dim4, sa4, sb4, 3 * 5 * 11, 3 * 5 * 20);
    be->destroy(be->impl);
    free(be);
}

/* d/da and d/db of sum(w * (a[P, M, 1] - b[P, 1, L])) through tre_sub's backward: row sums of w
 * for a, minus column sums for b (P = 4 particles, a and b per particle) */
static void test_outer_difference_gradients(void **state) {
    (void)state;
    enum { P = 4, M = 6, L = 70 };
    tre_ctx *ctx = tt_ctx(5);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    float ah[P * M], bh[P * L], wh[M * L];
    unsigned seed = 7;
    for (int i = 0; i < P * M; ++i) ah[i] = frand(&seed);
    for (int i = 0; i < P * L; ++i) bh[i] = frand(&seed);
    for (int i = 0; i < M * L; ++i) wh[i] = frand(&seed);
    const int64_t as[2] = {M, 1}, bs[2] = {1, L}, ws[2] = {M, L};
    tre_tensor *a = NULL, *b = NULL;
    TT_OK(ctx, tre_tensor_create(ctx, &a, TRE_F32, P, 2, as, ah));
    TT_OK(ctx, tre_tensor_create(ctx, &b, TRE_F32, P, 2, bs, bh));
    a->requires_grad = b->requires_grad = true;
    tre_grad_begin(ctx);
    tre_tensor *w = tre_from_host(ctx, 1, 2, ws, wh);
    tre_tensor *loss = tre_sum(ctx, tre_mul(ctx, w, tre_sub(ctx, a, b))); /* [] per particle */
    tre_grad_end(ctx);
    assert_non_null(loss);
    TT_OK(ctx, tre_grad_backward(ctx, loss));
    assert_non_null(a->grad), assert_non_null(b->grad);
    const float *ga = tt_host(ctx, a->grad, 0), *gb = tt_host(ctx, b->grad, 1);
    for (int p = 0; p < P; ++p) {
        for (int m = 0; m < M; ++m) {
            double s = 0;
            for (int l = 0; l < L; ++l) s += wh[m * L + l];
            assert_float_equal(ga[p * M + m], s, 1e-4 * (1 + fabs(s)));
        }
        for (int l = 0; l < L; ++l) {
            double s = 0;
            for (int m = 0; m < M; ++m) s += wh[m * L + l];
            assert_float_equal(gb[p * L + l], -s, 1e-4 * (1 + fabs(s)));
        }
    }
    a->grad = b->grad = NULL; /* step memory, gone with the context */
    tre_tensor_destroy(ctx, a);
    tre_tensor_destroy(ctx, b);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_equals_two_reductions),
        cmocka_unit_test(test_outer_difference_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
