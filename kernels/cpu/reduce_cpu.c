/* CPU reductions and gathers: per-row sums accumulated in double, index gathers. */
#include "cpu_backend.h"
#include "cpu_iter.h"

int tre_sum_rows_cpu(void *impl, int64_t rows, int64_t cols, const float *in, float *out) {
    (void)impl;
    TRE_CPU_FOR(rows * cols > TRE_CPU_PARALLEL_MIN && rows > 1, r, rows,
        const float *row = in + r * cols;
        if (cols <= 8) { /* a few features per row: a plain sum, no lanes to set up */
            double acc = 0.0;
            for (int64_t c = 0; c < cols; ++c) acc += (double)row[c];
            out[r] = (float)acc;
        } else {
            out[r] = (float)tre_cpu_sum_d(row, cols);
        });
    return 0;
}

int tre_gather_cpu(void *impl, int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                   int64_t k, const float *in, float *out) {
    (void)impl;
    /* short rows (a few features per index) get a copy of constant length, unrolled */
#define GATHER_ROWS(LEN)                                                                           \
    TRE_CPU_FOR(outer * k * inner > TRE_CPU_PARALLEL_MIN, o, outer,                                \
        for (int64_t j = 0; j < k; ++j) {                                                          \
            const float *src = in + (o * n + index[j]) * inner;                                    \
            float *dst = out + (o * k + j) * inner;                                                \
            for (int64_t i = 0; i < (LEN); ++i) dst[i] = src[i];                                   \
        })
    TRE_CPU_SWITCH_LEN(inner, GATHER_ROWS)
#undef GATHER_ROWS
    return 0;
}
