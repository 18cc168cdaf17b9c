// CUDA backend, first piece: device discovery. The kernels follow in the CUDA backend issue.
#include <cuda_runtime.h>

extern "C" int tre_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
    return n;
}
