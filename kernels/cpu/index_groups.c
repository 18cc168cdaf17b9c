/* Positions of an index vector grouped by the row they pick (see index_groups.h). */
#include "index_groups.h"
#include <stdlib.h>

bool tre_cpu_index_groups_build(tre_cpu_index_groups *g, const int32_t *index, int64_t k, int64_t n,
                                const float *x, int64_t inner, bool rows, bool cols) {
    *g = (tre_cpu_index_groups){.n = n, .k = k, .inner = inner};
    g->perm = malloc((size_t)(k > 0 ? k : 1) * sizeof *g->perm);
    g->start = calloc((size_t)n + 1, sizeof *g->start);
    const size_t xs = (size_t)(k * inner > 0 ? k * inner : 1) * sizeof(float);
    if (x && rows) g->x_rows = malloc(xs);
    if (x && cols) g->x_cols = malloc(xs);
    if (!g->perm || !g->start || (x && rows && !g->x_rows) || (x && cols && !g->x_cols)) {
        tre_cpu_index_groups_free(g);
        return false;
    }
    for (int64_t j = 0; j < k; ++j) ++g->start[index[j] + 1];
    for (int64_t r = 0; r < n; ++r) g->start[r + 1] += g->start[r];
    int64_t *next = g->start; /* reused as the fill cursor, then shifted back */
    for (int64_t j = 0; j < k; ++j) g->perm[next[index[j]]++] = (int32_t)j;
    for (int64_t r = n; r > 0; --r) g->start[r] = g->start[r - 1];
    g->start[0] = 0;
    for (int64_t q = 0; q < k && x; ++q)
        for (int64_t i = 0; i < inner; ++i) {
            const float v = x[(int64_t)g->perm[q] * inner + i];
            if (g->x_rows) g->x_rows[q * inner + i] = v;
            if (g->x_cols) g->x_cols[i * k + q] = v;
        }
    return true;
}

void tre_cpu_index_groups_free(tre_cpu_index_groups *g) {
    free(g->perm);
    free(g->start);
    free(g->x_rows);
    free(g->x_cols);
    *g = (tre_cpu_index_groups){0};
}
