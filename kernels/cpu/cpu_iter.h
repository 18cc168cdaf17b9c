/* Walking a broadcast kernel shape on the CPU in contiguous runs of the innermost dimension,
 * split into chunks so that OpenMP has work to share even for one long row. */
#ifndef TRELBO_KERNELS_CPU_ITER_H
#define TRELBO_KERNELS_CPU_ITER_H

#include "../backend.h"

#define TRE_CPU_CHUNK 8192
#define TRE_CPU_PARALLEL_MIN 32768

/* for (int64_t VAR = 0; VAR < N; ++VAR) { body }, shared among the OpenMP threads when COND
 * holds and run inline otherwise. Entering a parallel region costs about 0.5 us even when an
 * `if` clause turns it off (libgomp builds a team), which dominates the small kernels of a
 * small model's step; so small work never enters one. */
#define TRE_CPU_FOR(COND, VAR, N, ...)                                                          \
    do {                                                                                         \
        const int64_t tre_for_n_ = (N);                                                          \
        if (COND) {                                                                              \
            _Pragma("omp parallel for schedule(static)")                                         \
            for (int64_t VAR = 0; VAR < tre_for_n_; ++VAR) { __VA_ARGS__ }                       \
        } else {                                                                                 \
            for (int64_t VAR = 0; VAR < tre_for_n_; ++VAR) { __VA_ARGS__ }                       \
        }                                                                                        \
    } while (0)

typedef struct tre_cpu_runs {
    int ndim;
    int64_t dim[TRE_KDIMS];
    int64_t total, inner, chunks_per_row, nruns;
} tre_cpu_runs;

void tre_cpu_runs_init(tre_cpu_runs *r, const tre_kshape *s);
/* Offsets of run k for each argument (strides[a] NULL: contiguous output layout); returns the
 * run's length. Each argument advances by its innermost stride inside a run. */
int64_t tre_cpu_run_at(const tre_cpu_runs *r, int64_t k, int nargs, const int64_t *const *strides,
                       int64_t *offs);
/* Innermost stride of an argument (1 for the contiguous output). */
static inline int64_t tre_cpu_inner_stride(const tre_cpu_runs *r, const int64_t *stride) {
    return stride ? stride[r->ndim - 1] : 1;
}

#endif
