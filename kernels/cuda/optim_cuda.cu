/* CUDA optimiser kernels: the Adam update of kernels/math/adam.h, a thread per element. */
#include "cuda_common.cuh"
#include "../math/adam.h"

int tre_adam_update_cuda(void *impl, int64_t n, float *u, const float *g, float *m, float *v,
                         float beta1, float beta2, float eps, float wd, float clip,
                         float step_size, float bc2_sqrt) {
    return tre_cuda_each((tre_cuda_impl *)impl, n, [=] TRE_CUDA_FN(int64_t i) {
        tre_adam_elem(&u[i], g[i], &m[i], &v[i], beta1, beta2, eps, wd, clip, step_size, bc2_sqrt);
    });
}
