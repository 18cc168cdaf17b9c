/* Walking a broadcast kernel shape on the CPU.
 *
 * A kernel's arguments are strided views of one iteration space (the kernel shape, optionally
 * with the particle dim in front). `tre_cpu_iter` simplifies that space once per call: size-1
 * dims are dropped and adjacent dims merged wherever every argument steps through them as one
 * (an all-contiguous op becomes a single dim). Kernels then work on blocks of up to
 * TRE_CPU_BLOCK consecutive linear elements: `tre_cpu_gather_view` points at an argument's
 * elements where the block is one unit-stride run of its memory, and `tre_cpu_gather` copies
 * them into a small contiguous buffer (it stays in L1) otherwise, row by row (rows of up to 8
 * with constant-length loops), so the arithmetic always runs over unit-stride arrays that the
 * compiler vectorizes, however short the runs (eight schools: runs of 8) and whatever the
 * strides. */
#ifndef TRELBO_KERNELS_CPU_ITER_H
#define TRELBO_KERNELS_CPU_ITER_H

#include <stdbool.h>
#include "../backend.h"

#define TRE_CPU_BLOCK 256
#define TRE_CPU_CHUNK 8192          /* elements per OpenMP work unit of the elementwise kernels */
#define TRE_CPU_PARALLEL_MIN 131072 /* less work than this never enters a parallel region */
#define TRE_CPU_MAX_ARGS 8

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

/* for every block [S, S + N) of at most TRE_CPU_BLOCK consecutive elements of [0, TOTAL): the
 * blocks come in chunks of TRE_CPU_CHUNK that the threads share when TOTAL > MIN */
#define TRE_CPU_BLOCKS(TOTAL, MIN, S, N, ...)                                                   \
    TRE_CPU_FOR((TOTAL) > (MIN), tre_chunk_, ((TOTAL) + TRE_CPU_CHUNK - 1) / TRE_CPU_CHUNK,      \
        const int64_t tre_s1_ = (TOTAL) - tre_chunk_ * TRE_CPU_CHUNK < TRE_CPU_CHUNK              \
                                    ? (TOTAL) : (tre_chunk_ + 1) * TRE_CPU_CHUNK;               \
        for (int64_t S = tre_chunk_ * TRE_CPU_CHUNK; S < tre_s1_; S += TRE_CPU_BLOCK) {          \
            const int64_t N = tre_s1_ - S < TRE_CPU_BLOCK ? tre_s1_ - S : TRE_CPU_BLOCK;         \
            __VA_ARGS__                                                                          \
        })

/* Put before the store of a flag that any thread of a TRE_CPU_FOR body may set (every writer
 * stores the same value; the atomic keeps that a defined race). */
#define TRE_CPU_ATOMIC_WRITE _Pragma("omp atomic write")

/* BODY(L) with L a compile-time constant for the short lengths 1..8 (loops the compiler unrolls
 * completely: a few features per row), else BODY(LEN) */
#define TRE_CPU_SWITCH_LEN(LEN, BODY)                                                            \
    switch (LEN) {                                                                               \
    case 1: BODY(1); break;                                                                      \
    case 2: BODY(2); break;                                                                      \
    case 3: BODY(3); break;                                                                      \
    case 4: BODY(4); break;                                                                      \
    case 5: BODY(5); break;                                                                      \
    case 6: BODY(6); break;                                                                      \
    case 7: BODY(7); break;                                                                      \
    case 8: BODY(8); break;                                                                      \
    default: BODY(LEN); break;                                                                   \
    }

typedef struct tre_cpu_iter {
    int ndim, nargs;
    int64_t dim[TRE_KDIMS + 1];
    int64_t stride[TRE_CPU_MAX_ARGS][TRE_KDIMS + 1];
    /* per argument: the length of the aligned runs of consecutive elements that are one
     * unit-stride run of its memory (the trailing dims it steps through as one; 0: none) */
    int64_t run[TRE_CPU_MAX_ARGS];
    int64_t total;
} tre_cpu_iter;

/* The iteration space `particles` x `shape` (particles 0: no particle dim) for `nargs`
 * arguments: strides[a] NULL means contiguous (the output's own layout), pstride[a] is argument
 * a's particle stride (pstride NULL: contiguous too). */
void tre_cpu_iter_init(tre_cpu_iter *it, int64_t particles, const tre_kshape *shape, int nargs,
                       const int64_t *const *strides, const int64_t *pstride);

/* Whether argument a's elements [start, start + n) are one unit-stride run of its memory */
static inline bool tre_cpu_one_run(const tre_cpu_iter *it, int a, int64_t start, int64_t n) {
    const int64_t run = it->run[a];
    return run && start / run == (start + n - 1) / run;
}

/* Argument a's elements [start, start + n) of the linear order, copied to dst[a] (n <= the
 * buffers' size), for every a with base[a] and dst[a] non-NULL. */
void tre_cpu_gather(const tre_cpu_iter *it, int64_t start, int64_t n, const float *const *base,
                    float *const *dst);

/* As tre_cpu_gather, but an argument whose block is one unit-stride run of its memory is not
 * copied: view[a] points at its elements (else at dst[a], which receives the copy). */
void tre_cpu_gather_view(const tre_cpu_iter *it, int64_t start, int64_t n, const float *const *base,
                         float *const *dst, const float **view);

/* Arguments that repeat one short stretch of memory over the whole space, such as a
 * parameter every particle shares over a few data (eight schools' loc and scale [8] at
 * [P, 8]), or one value (a scalar): tre_cpu_repeats_init writes that stretch repeated past one
 * block, once per call, and a block then points into it instead of copying its elements. */
#define TRE_CPU_REPEAT_MAX 64 /* the longest stretch so repeated */
typedef struct tre_cpu_repeats {
    bool any;                      /* false: len[] is not set, no argument is repeated */
    int64_t len[TRE_CPU_MAX_ARGS]; /* the stretch's length; 0: the argument is not repeated */
    float buf[TRE_CPU_MAX_ARGS][TRE_CPU_BLOCK + TRE_CPU_REPEAT_MAX];
} tre_cpu_repeats;

/* Finds and writes the repeated arguments among those with base[a] non-NULL; none when the
 * space is a single block (the copy would cost what it saves). */
void tre_cpu_repeats_init(tre_cpu_repeats *r, const tre_cpu_iter *it, const float *const *base);

/* tre_cpu_gather_view, where a repeated argument's view points into r (r may be NULL). */
void tre_cpu_gather_view_rep(const tre_cpu_iter *it, const tre_cpu_repeats *r, int64_t start,
                             int64_t n, const float *const *base, float *const *dst,
                             const float **view);

/* dst[j] = A[j] op B[j] for the elements [start, start + n) of arguments a and b (with bases
 * base_a, base_b): the two gathers and the op in one walk over the rows. */
void tre_cpu_gather_binop(const tre_cpu_iter *it, int a, int b, tre_binop op, int64_t start, int64_t n,
                          const float *base_a, const float *base_b, float *dst);

/* Offsets of linear element `start` for every argument. */
void tre_cpu_offsets(const tre_cpu_iter *it, int64_t start, int64_t *off);

/* A run of unit-stride elements or a broadcast one, loaded into a contiguous buffer. */
static inline void tre_cpu_load_run(float *dst, const float *src, int64_t stride, int64_t n) {
    if (stride == 1)
        for (int64_t j = 0; j < n; ++j) dst[j] = src[j];
    else if (stride == 0)
        for (int64_t j = 0; j < n; ++j) dst[j] = src[0];
    else
        for (int64_t j = 0; j < n; ++j) dst[j] = src[j * stride];
}

/* Sum of v[0..n) in double, in an order fixed by n alone: 8 independent lanes, so that the sum
 * vectorizes instead of waiting on one chain of additions. */
static inline double tre_cpu_sum_d(const float *v, int64_t n) {
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; ++l) lane[l] += (double)v[j + l];
    for (; j < n; ++j) lane[0] += (double)v[j];
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/* One row's sum in double, as a float: a few features summed plainly (no lanes to set up),
 * longer rows as tre_cpu_sum_d. */
static inline float tre_cpu_row_sum(const float *row, int64_t n) {
    if (n > 8) return (float)tre_cpu_sum_d(row, n);
    double acc = 0.0;
    for (int64_t c = 0; c < n; ++c) acc += (double)row[c];
    return (float)acc;
}

#endif
