/* The positions j of an index vector grouped by the row they pick (a stable counting sort):
 * rows index[j] in [0, n), group g holds the j with index[j] == g in increasing order, at
 * perm[start[g]] .. perm[start[g + 1] - 1]. With a shared x, a dot or scatter with gathered
 * rows then works one picked row at a time (the row's values stay in registers) while keeping
 * every slot's terms in increasing j. Also the rows of x in that order (x_rows, [k, inner]) and
 * transposed (x_cols, [inner, k]) for loops that run over the group's positions. */
#ifndef TRELBO_KERNELS_CPU_INDEX_GROUPS_H
#define TRELBO_KERNELS_CPU_INDEX_GROUPS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tre_cpu_index_groups {
    int64_t n, k, inner;
    int32_t *perm;   /* [k] */
    int64_t *start;  /* [n + 1] */
    float *x_rows;   /* x_rows[q * inner + i] = x[perm[q] * inner + i] (NULL: not asked for) */
    float *x_cols;   /* x_cols[i * k + q] = x[perm[q] * inner + i] (NULL: not asked for) */
} tre_cpu_index_groups;

/* Groups are worth it for a dot or scatter with gathered rows when x is shared by the
 * `outer` rows (xstride 0: one grouping of x serves them all), there are several of those,
 * and the rows are picked several times each on average: then the grouped loops beat one
 * gather per position. */
static inline bool tre_cpu_index_groups_pay(int64_t outer, int64_t n, int64_t k, int64_t xstride) {
    return xstride == 0 && outer > 1 && k >= 8 * n;
}

/* false: out of memory (nothing held). x: the shared rows [k, inner] to reorder, or NULL. */
bool tre_cpu_index_groups_build(tre_cpu_index_groups *g, const int32_t *index, int64_t k, int64_t n,
                                const float *x, int64_t inner, bool rows, bool cols);
void tre_cpu_index_groups_free(tre_cpu_index_groups *g);

#endif
