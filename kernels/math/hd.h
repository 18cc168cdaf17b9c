/* TRE_HD: marks shared math as callable from host C and from CUDA device code. */
#ifndef TRELBO_KERNELS_MATH_HD_H
#define TRELBO_KERNELS_MATH_HD_H
#if defined(__CUDACC__)
#define TRE_HD __host__ __device__
#else
#define TRE_HD
#endif
#include <stdint.h>
#endif
