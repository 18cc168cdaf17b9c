/* CPU validation kernel: counts the elements of a broadcast shape that fail a constraint. */
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "../math/check.h"

int tre_validate_cpu(void *impl, tre_kcheck check, const tre_kshape *shape, const tre_karg *x,
                     const tre_karg *a, const tre_karg *b, float ca, int64_t *count) {
    (void)impl;
    tre_cpu_runs R;
    tre_cpu_runs_init(&R, shape);
    const int64_t *st[3] = {x->stride, a->stride, b->stride};
    const int64_t sx = tre_cpu_inner_stride(&R, x->stride), sa = tre_cpu_inner_stride(&R, a->stride),
                  sb = tre_cpu_inner_stride(&R, b->stride);
    int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad) if (R.total > TRE_CPU_PARALLEL_MIN)
    for (int64_t k = 0; k < R.nruns; ++k) {
        int64_t off[3];
        int64_t len = tre_cpu_run_at(&R, k, 3, st, off);
        const float *px = x->data + off[0];
        const float *pa = a->data ? a->data + off[1] : NULL, *pb = b->data ? b->data + off[2] : NULL;
        for (int64_t i = 0; i < len; ++i)
            bad += !tre_check_value(check, px[i * sx], pa ? pa[i * sa] : 0.f,
                                    pb ? pb[i * sb] : 0.f, ca);
    }
    *count = bad;
    return 0;
}
