/* The CPU backend's grouped paths for rows picked by an index (kernels/cpu/index_groups.h): with
 * a shared x and rows picked many times each, dot_gathered_rows and scatter_add_scaled work one
 * picked row at a time. They must give exactly (bit for bit) what the position-by-position loops
 * give; the same inputs with x repeated per particle (xstride != 0) take those loops. */
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "kernels/backend.h"
#include "kernels/cpu/index_groups.h"

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.f - 1.f;
}

static void test_grouping_is_stable(void **state) {
    (void)state;
    const int32_t index[9] = {2, 0, 2, 4, 0, 2, 4, 4, 0}; /* row 1 and 3 never picked */
    const float x[9 * 2] = {0, 1, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51, 60, 61, 70, 71, 80, 81};
    tre_cpu_index_groups g;
    assert_true(tre_cpu_index_groups_build(&g, index, 9, 5, x, 2, true, true));
    const int64_t start[6] = {0, 3, 3, 6, 6, 9};
    const int32_t perm[9] = {1, 4, 8, 0, 2, 5, 3, 6, 7};
    for (int r = 0; r <= 5; ++r) assert_int_equal(g.start[r], start[r]);
    for (int q = 0; q < 9; ++q) {
        assert_int_equal(g.perm[q], perm[q]);
        assert_true(g.x_rows[q * 2 + 1] == x[perm[q] * 2 + 1]);
        assert_true(g.x_cols[1 * 9 + q] == x[perm[q] * 2 + 1]);
    }
    tre_cpu_index_groups_free(&g);
    assert_null(g.perm);
}

static void test_grouped_equals_positionwise(void **state) {
    (void)state;
    tre_backend *be = tre_backend_cpu_create();
    assert_non_null(be);
    const int64_t outer = 6, n = 5, k = 64; /* k >= 8 n: the grouped path */
    assert_true(tre_cpu_index_groups_pay(outer, n, k, 0));
    assert_false(tre_cpu_index_groups_pay(outer, n, k, k)); /* per-particle x: the position loops */
    int32_t index[64];
    for (int j = 0; j < k; ++j) index[j] = (int32_t)((j * 7 + j / 5) % 4); /* row 4 never picked */
    const int64_t inners[6] = {1, 3, 5, 8, 9, 13};
    unsigned seed = 7;
    for (int t = 0; t < 6; ++t) {
        const int64_t inner = inners[t];
        float *w = malloc(sizeof(float) * outer * n * inner), *x = malloc(sizeof(float) * k * inner);
        float *xrep = malloc(sizeof(float) * outer * k * inner), *s = malloc(sizeof(float) * outer * k);
        float *d1 = malloc(sizeof(float) * outer * k), *d2 = malloc(sizeof(float) * outer * k);
        float *a1 = malloc(sizeof(float) * outer * n * inner), *a2 = malloc(sizeof(float) * outer * n * inner);
        for (int64_t i = 0; i < outer * n * inner; ++i) w[i] = frand(&seed), a1[i] = a2[i] = frand(&seed);
        for (int64_t i = 0; i < k * inner; ++i) x[i] = frand(&seed);
        for (int64_t o = 0; o < outer; ++o) memcpy(xrep + o * k * inner, x, sizeof(float) * k * inner);
        for (int64_t i = 0; i < outer * k; ++i) s[i] = frand(&seed);

        assert_int_equal(be->dot_gathered_rows(be->impl, outer, n, inner, index, k, w, x, 0, d1), 0);
        assert_int_equal(be->dot_gathered_rows(be->impl, outer, n, inner, index, k, w, xrep, k * inner, d2), 0);
        assert_memory_equal(d1, d2, sizeof(float) * outer * k);
        /* and the value itself, for one position */
        double ref = 0.0;
        for (int64_t i = 0; i < inner; ++i) ref += (double)(x[5 * inner + i] * w[(2 * n + index[5]) * inner + i]);
        assert_true(d1[2 * k + 5] == (float)ref);

        assert_int_equal(be->scatter_add_scaled(be->impl, outer, n, inner, index, k, s, x, 0, a1), 0);
        assert_int_equal(be->scatter_add_scaled(be->impl, outer, n, inner, index, k, s, xrep, k * inner, a2), 0);
        assert_memory_equal(a1, a2, sizeof(float) * outer * n * inner);
        free(w), free(x), free(xrep), free(s), free(d1), free(d2), free(a1), free(a2);
    }
    be->destroy(be->impl);
    free(be);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grouping_is_stable),
        cmocka_unit_test(test_grouped_equals_positionwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
