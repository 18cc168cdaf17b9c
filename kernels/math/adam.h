/* The Adam update of one element, shared by both backends. */
#ifndef TRELBO_KERNELS_MATH_ADAM_H
#define TRELBO_KERNELS_MATH_ADAM_H
#include <math.h>
#include "hd.h"

static inline TRE_HD void tre_adam_elem(float *u, float g, float *m, float *v, float beta1,
                                        float beta2, float eps, float wd, float clip,
                                        float step_size, float bc2_sqrt) {
    if (clip > 0.f) g = g < -clip ? -clip : (g > clip ? clip : g);
    if (wd != 0.f) g += wd * *u;
    *m = beta1 * *m + (1.f - beta1) * g;
    *v = beta2 * *v + (1.f - beta2) * g * g;
    *u -= step_size * *m / (sqrtf(*v) / bc2_sqrt + eps);
}
#endif
