/* Normal(loc, scale): log-density and its derivatives, shared by the CPU and CUDA backends. */
#ifndef TRELBO_KERNELS_MATH_NORMAL_H
#define TRELBO_KERNELS_MATH_NORMAL_H
#include <math.h>
#include "hd.h"

#define TRE_HALF_LOG_2PI 0.91893853320467274178

/* With 1/scale and log(scale) given, so that kernels can hoist them out of a loop when the
 * scale is shared; tre_normal_log_prob is this with both computed, bit for bit the same. */
static inline TRE_HD float tre_normal_log_prob_pre(float x, float loc, float inv_scale,
                                                   float log_scale) {
    float z = (x - loc) * inv_scale;
    return -0.5f * z * z - log_scale - (float)TRE_HALF_LOG_2PI;
}
static inline TRE_HD float tre_normal_log_prob(float x, float loc, float scale) {
    return tre_normal_log_prob_pre(x, loc, 1.0f / scale, logf(scale));
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
