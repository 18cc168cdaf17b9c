/* CPU validation kernel: counts the elements of a broadcast shape that fail a constraint. */
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "../math/check.h"

#define BLOCK TRE_CPU_BLOCK

typedef struct check_args {
    const tre_cpu_iter *it;
    tre_kcheck check;
    const tre_karg *x, *a, *b;
    float ca;
} check_args;

/* failures in a block; the check is a constant inside each loop, so each loop vectorizes */
static int64_t count_block(tre_kcheck check, int64_t n, const float *x, const float *a, const float *b,
                           float ca) {
    int64_t bad = 0;
#define COUNT(K)                                                                                   \
    case K:                                                                                        \
        for (int64_t i = 0; i < n; ++i) bad += !tre_check_value(K, x[i], a[i], b[i], ca);         \
        break;
    switch (check) {
        COUNT(TRE_CHECK_NOT_NAN)
        COUNT(TRE_CHECK_POSITIVE)
        COUNT(TRE_CHECK_NONNEGATIVE)
        COUNT(TRE_CHECK_UNIT_INTERVAL)
        COUNT(TRE_CHECK_BOOLEAN)
        COUNT(TRE_CHECK_NONNEG_INTEGER)
        COUNT(TRE_CHECK_INTEGER_UPTO)
        COUNT(TRE_CHECK_BETWEEN)
        COUNT(TRE_CHECK_LESS_THAN)
        COUNT(TRE_CHECK_CATEGORY)
        COUNT(TRE_CHECK_GREATER_THAN_C)
    }
#undef COUNT
    return bad;
}

/* failures among linear elements [s0, s1) */
static int64_t count_range(const check_args *c, int64_t s0, int64_t s1) {
    /* a bound the check does not take reads as 0: zeroed once, the gather leaves it alone */
    float xb[BLOCK], ab[BLOCK] = {0}, bb[BLOCK] = {0};
    int64_t bad = 0;
    for (int64_t s = s0; s < s1; s += BLOCK) {
        const int64_t n = s1 - s < BLOCK ? s1 - s : BLOCK;
        const float *base[3] = {c->x->data, c->a->data, c->b->data};
        float *dst[3] = {xb, ab, bb};
        const float *view[3]; /* in place where a run of memory, as a materialized logits tensor */
        tre_cpu_gather_view(c->it, s, n, base, dst, view);
        bad += count_block(c->check, n, view[0], view[1], view[2], c->ca);
    }
    return bad;
}

int tre_validate_cpu(void *impl, tre_kcheck check, const tre_kshape *shape, const tre_karg *x,
                     const tre_karg *a, const tre_karg *b, float ca, int64_t *count) {
    (void)impl;
    tre_cpu_iter it;
    const int64_t *st[3] = {x->stride, a->stride, b->stride};
    tre_cpu_iter_init(&it, 0, shape, 3, st, NULL);
    const check_args c = {&it, check, x, a, b, ca};
    const int64_t total = it.total, chunks = (total + TRE_CPU_CHUNK - 1) / TRE_CPU_CHUNK;
    int64_t bad = 0;
    if (total <= TRE_CPU_PARALLEL_MIN) { /* small: no parallel region at all (see TRE_CPU_FOR) */
        bad = count_range(&c, 0, total);
    } else {
#pragma omp parallel for schedule(static) reduction(+ : bad)
        for (int64_t k = 0; k < chunks; ++k) {
            const int64_t s0 = k * TRE_CPU_CHUNK;
            bad += count_range(&c, s0, total - s0 < TRE_CPU_CHUNK ? total : s0 + TRE_CPU_CHUNK);
        }
    }
    *count = bad;
    return 0;
}
