/* Normal(loc, scale): log-density and its derivatives, shared by the CPU and CUDA backends. */
#ifndef TRELBO_KERNELS_MATH_NORMAL_H
#define TRELBO_KERNELS_MATH_NORMAL_H
#include <math.h>
#include "hd.h"
#include "vmath.h"

#define TRE_HALF_LOG_2PI 0.91893853320467274178

/* With log(scale) given, so that kernels can hoist it out of a loop when the scale is shared;
 * tre_normal_log_prob is this with the log computed, bit for bit the same. (z divides rather
 * than multiplying by 1/scale, which overflows for subnormal scales.) */
static inline TRE_HD float tre_normal_log_prob_pre(float x, float loc, float scale, float log_scale) {
    float z = (x - loc) / scale;
    return -0.5f * z * z - log_scale - (float)TRE_HALF_LOG_2PI;
}
static inline TRE_HD float tre_normal_log_prob(float x, float loc, float scale) {
    return tre_normal_log_prob_pre(x, loc, scale, tre_vlogf(scale));
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
/* d x / d scale of a draw x = loc + scale * eps (eps recovered from x); d x / d loc = 1. */
static inline TRE_HD float tre_normal_rsample_dscale(float x, float loc, float scale) {
    return (x - loc) / scale;
}
/* Reparameterized draw from standard normal noise eps. */
static inline TRE_HD float tre_normal_rsample(float eps, float loc, float scale) {
    return loc + scale * eps;
}
/* Double-precision twins of the above (finite-difference and fixture checks). */
static inline TRE_HD double tre_normal_log_prob_d(double x, double loc, double scale) {
    double z = (x - loc) / scale;
    return -0.5 * z * z - log(scale) - TRE_HALF_LOG_2PI;
}
static inline TRE_HD double tre_normal_dlp_dx_d(double x, double loc, double scale) {
    return -((x - loc) / scale) / scale;
}
static inline TRE_HD double tre_normal_dlp_dloc_d(double x, double loc, double scale) {
    return ((x - loc) / scale) / scale;
}
static inline TRE_HD double tre_normal_dlp_dscale_d(double x, double loc, double scale) {
    double z = (x - loc) / scale;
    return (z * z - 1.0) / scale;
}
static inline TRE_HD double tre_normal_rsample_d(double eps, double loc, double scale) {
    return loc + scale * eps;
}
static inline TRE_HD double tre_normal_rsample_dscale_d(double x, double loc, double scale) {
    return (x - loc) / scale;
}
#endif
