/* The CPU iterator's repeated arguments (kernels/cpu/cpu_iter.h, tre_cpu_repeats): which
 * arguments are found to repeat a short stretch of memory, and that a block's view of one
 * holds exactly the elements a gather copies, at every block start; and the iterator's
 * one-dim short path against its general path. */
#include <stdlib.h>
#include "test_support.h"
#include "kernels/cpu/cpu_iter.h"

enum { NARGS = 4 };

/* space [P] x shape; for each argument its strides over shape and its particle stride */
typedef struct space_case {
    const char *name;
    int64_t P;
    int ndim;
    int64_t dim[3];
    int64_t stride[NARGS][3];
    int64_t pstride[NARGS];
    int64_t want_len[NARGS]; /* 0: not repeated */
} space_case;

static void check_case(const space_case *c) {
    tre_kshape shape = {.ndim = c->ndim};
    int64_t inner = 1;
    for (int d = 0; d < c->ndim; ++d) shape.dim[d] = c->dim[d], inner *= c->dim[d];
    const int64_t *st[NARGS];
    for (int a = 0; a < NARGS; ++a) st[a] = c->stride[a];
    tre_cpu_iter it;
    tre_cpu_iter_init(&it, c->P, &shape, NARGS, st, c->pstride);
    /* memory for each argument: as large as the whole space, distinct values */
    float *mem[NARGS];
    const float *base[NARGS];
    for (int a = 0; a < NARGS; ++a) {
        mem[a] = malloc((size_t)(c->P * inner) * sizeof(float));
        for (int64_t i = 0; i < c->P * inner; ++i) mem[a][i] = (float)(a * 100000 + i);
        base[a] = mem[a];
    }
    tre_cpu_repeats *r = malloc(sizeof *r);
    tre_cpu_repeats_init(r, &it, base);
    for (int a = 0; a < NARGS; ++a) {
        const int64_t len = r->any ? r->len[a] : 0;
        if (len != c->want_len[a]) fail_msg("%s: argument %d repeats %lld, expected %lld", c->name, a,
                                            (long long)len, (long long)c->want_len[a]);
    }
    float buf[2][NARGS][TRE_CPU_BLOCK];
    /* blocks at every start, of every length up to a block, against the plain gather */
    for (int64_t s = 0; s < it.total; s += 37) {
        const int64_t n = it.total - s < TRE_CPU_BLOCK ? it.total - s : TRE_CPU_BLOCK;
        float *dv[NARGS], *dg[NARGS];
        const float *view[NARGS];
        for (int a = 0; a < NARGS; ++a) dv[a] = buf[0][a], dg[a] = buf[1][a];
        tre_cpu_gather_view_rep(&it, r, s, n, base, dv, view);
        tre_cpu_gather(&it, s, n, base, dg);
        for (int a = 0; a < NARGS; ++a)
            for (int64_t j = 0; j < n; ++j)
                if (view[a][j] != dg[a][j])
                    fail_msg("%s: argument %d, element %lld: view %g, gather %g", c->name, a,
                             (long long)(s + j), view[a][j], dg[a][j]);
    }
    free(r);
    for (int a = 0; a < NARGS; ++a) free(mem[a]);
}

static void test_repeated_arguments(void **state) {
    (void)state;
    const space_case cases[] = {
        /* eight schools: [P, 8]; a per-particle value, loc [8] and a scalar shared by all, and
         * a per-particle scale broadcast over the schools */
        {"eight schools", 1024, 1, {8}, {{1}, {1}, {0}, {0}}, {8, 0, 0, 1}, {0, 8, 1, 0}},
        /* the same at one particle: a single block, nothing repeated */
        {"one particle", 1, 1, {8}, {{1}, {1}, {0}, {0}}, {8, 0, 0, 1}, {0, 0, 0, 0}},
        /* [P, 2, 3] with a [2, 3] parameter, a [3] one (over the 2 and the particles), and a
         * [2, 1] one (not a stretch of memory repeated: stride 0 inside) */
        {"rows", 300, 2, {2, 3}, {{3, 1}, {3, 1}, {0, 1}, {1, 0}}, {6, 0, 0, 0}, {0, 6, 3, 0}},
        /* a stretch longer than TRE_CPU_REPEAT_MAX: read in place or gathered instead */
        {"long stretch", 40, 1, {65}, {{1}, {1}, {0}, {1}}, {65, 0, 0, 65}, {0, 0, 1, 0}},
        /* a period that does not divide the block: 7 */
        {"odd period", 500, 1, {7}, {{1}, {1}, {1}, {0}}, {7, 0, 7, 0}, {0, 7, 0, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) check_case(&cases[i]);
}

/* A one-dim space (tre_cpu_iter_init's short path) iterates as the same space with a leading
 * size-1 dim (its general path, which drops that dim): the same dims, strides, runs and total,
 * for contiguous, strided, broadcast (stride 0) and given unit strides, and for one and no
 * elements. */
static void test_one_dim_path_matches_general(void **state) {
    (void)state;
    const int64_t lengths[] = {0, 2, 7, 300};
    int64_t s_unit[1] = {1}, s_two[1] = {2}, s_zero[1] = {0};
    int64_t s2_unit[2] = {0, 1}, s2_two[2] = {0, 2}, s2_zero[2] = {0, 0};
    const int64_t *one[NARGS] = {NULL, s_unit, s_two, s_zero};
    const int64_t *two[NARGS] = {NULL, s2_unit, s2_two, s2_zero};
    for (size_t k = 0; k < sizeof lengths / sizeof *lengths; ++k) {
        const tre_kshape flat = {.ndim = 1, .dim = {lengths[k]}};
        const tre_kshape lead = {.ndim = 2, .dim = {1, lengths[k]}};
        tre_cpu_iter a, b;
        tre_cpu_iter_init(&a, 0, &flat, NARGS, one, NULL);
        tre_cpu_iter_init(&b, 0, &lead, NARGS, two, NULL);
        assert_int_equal(a.ndim, b.ndim);
        assert_int_equal(a.total, b.total);
        for (int d = 0; d < a.ndim; ++d) assert_int_equal(a.dim[d], b.dim[d]);
        for (int g = 0; g < NARGS; ++g) {
            assert_int_equal(a.run[g], b.run[g]);
            for (int d = 0; d < a.ndim; ++d) assert_int_equal(a.stride[g][d], b.stride[g][d]);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeated_arguments),
        cmocka_unit_test(test_one_dim_path_matches_general),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
