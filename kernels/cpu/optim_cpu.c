/* CPU optimiser kernels. */
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "../math/adam.h"

int tre_adam_update_cpu(void *impl, int64_t n, float *u, const float *g, float *m, float *v,
                        float beta1, float beta2, float eps, float wd, float clip, float step_size,
                        float bc2_sqrt) {
    (void)impl;
    TRE_CPU_FOR(n > TRE_CPU_PARALLEL_MIN, i, n,
        tre_adam_elem(&u[i], g[i], &m[i], &v[i], beta1, beta2, eps, wd, clip, step_size, bc2_sqrt););
    return 0;
}
