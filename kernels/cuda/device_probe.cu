/* CUDA backend: device discovery (the TRELBO_CUDA_EMULATE build has one pretend device). */
#include "cuda_common.cuh"

extern "C" int tre_cuda_device_count(void) {
#if defined(TRE_CUDA_EMULATE)
    return 1;
#else
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError(); /* no driver or no device: not an error for the caller */
        return 0;
    }
    return n;
#endif
}
