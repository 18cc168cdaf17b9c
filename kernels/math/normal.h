/* Normal(loc, scale): log-density and its derivatives, shared by the CPU and CUDA backends. */
#ifndef TRELBO_KERNELS_MATH_NORMAL_H
#define TRELBO_KERNELS_MATH_NORMAL_H
#include <math.h>
#include "hd.h"

#define TRE_HALF_LOG_2PI 0.91893853320467274178

static inline TRE_HD float tre_normal_log_prob(float x, float loc, float scale) {
    float z = (x - loc) / scale;
    return -0.5f * z * z - logf(scale) - (float)TRE_HALF_LOG_2PI;
}
/* d/dx, d/dloc, d/dscale of the log-density. */
static inline TRE_HD float tre_normal_dlp_dx(float x, float loc, float scale) {
    return -(x - loc) / (scale * scale);
}
static inline TRE_HD float tre_normal_dlp_dloc(float x, float loc, float scale) {
    return (x - loc) / (scale * scale);
}
static inline TRE_HD float tre_normal_dlp_dscale(float x, float loc, float scale) {
    float z = (x - loc) / scale;
    return (z * z - 1.0f) / scale;
}
/* Reparameterized draw from standard normal noise eps. */
static inline TRE_HD float tre_normal_rsample(float eps, float loc, float scale) {
    return loc + scale * eps;
}
#endif
