/* CPU validation kernel: counts the elements of a broadcast shape that fail a constraint. */
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "../math/check.h"

typedef struct check_args {
    const tre_cpu_runs *R;
    const int64_t *const *st;
    tre_kcheck check;
    const tre_karg *x, *a, *b;
    int64_t sx, sa, sb;
    float ca;
} check_args;

static int64_t count_run(const check_args *c, int64_t k) {
    int64_t off[3], bad = 0;
    int64_t len = tre_cpu_run_at(c->R, k, 3, c->st, off);
    const float *px = c->x->data + off[0];
    const float *pa = c->a->data ? c->a->data + off[1] : NULL, *pb = c->b->data ? c->b->data + off[2] : NULL;
    for (int64_t i = 0; i < len; ++i)
        bad += !tre_check_value(c->check, px[i * c->sx], pa ? pa[i * c->sa] : 0.f, pb ? pb[i * c->sb] : 0.f, c->ca);
    return bad;
}

int tre_validate_cpu(void *impl, tre_kcheck check, const tre_kshape *shape, const tre_karg *x,
                     const tre_karg *a, const tre_karg *b, float ca, int64_t *count) {
    (void)impl;
    tre_cpu_runs R;
    tre_cpu_runs_init(&R, shape);
    const int64_t *st[3] = {x->stride, a->stride, b->stride};
    const check_args c = {&R, st, check, x, a, b, tre_cpu_inner_stride(&R, x->stride),
                          tre_cpu_inner_stride(&R, a->stride), tre_cpu_inner_stride(&R, b->stride), ca};
    int64_t bad = 0;
    if (R.total <= TRE_CPU_PARALLEL_MIN) { /* small: no parallel region at all (see TRE_CPU_FOR) */
        for (int64_t k = 0; k < R.nruns; ++k) bad += count_run(&c, k);
    } else {
#pragma omp parallel for schedule(static) reduction(+ : bad)
        for (int64_t k = 0; k < R.nruns; ++k) bad += count_run(&c, k);
    }
    *count = bad;
    return 0;
}
