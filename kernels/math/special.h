/* Special functions shared by both backends, in double: lgamma and digamma for x > 0
 * (recurrence up to x >= 8, then the asymptotic series: absolute error below 1e-13), without
 * the global state of the C library's lgamma (signgam), so they are safe in parallel loops. */
#ifndef TRELBO_KERNELS_MATH_SPECIAL_H
#define TRELBO_KERNELS_MATH_SPECIAL_H
#include <math.h>
#include "hd.h"

#define TRE_HALF_LOG_2PI_D 0.91893853320467274178

/* log Gamma(x), x > 0; NaN for x <= 0 or NaN, +inf at +inf. */
static inline TRE_HD double tre_lgamma(double x) {
    if (!(x > 0.0)) return x == 0.0 ? INFINITY : NAN;
    if (isinf(x)) return INFINITY;
    double shift = 0.0;
    if (x < 8.0) {
        double prod = 1.0;
        while (x < 8.0) {
            prod *= x;
            x += 1.0;
        }
        shift = log(prod);
    }
    double r = 1.0 / x, r2 = r * r;
    double series = r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 - r2 / 1188))));
    return (x - 0.5) * log(x) - x + TRE_HALF_LOG_2PI_D + series - shift;
}

/* digamma(x) = d/dx log Gamma(x), x > 0. */
static inline TRE_HD double tre_digamma(double x) {
    if (!(x > 0.0)) return x == 0.0 ? -INFINITY : NAN;
    if (isinf(x)) return INFINITY;
    double acc = 0.0;
    while (x < 8.0) {
        acc -= 1.0 / x;
        x += 1.0;
    }
    double r = 1.0 / x, r2 = r * r;
    double series = r2 * (1.0 / 12 - r2 * (1.0 / 120 - r2 * (1.0 / 252 - r2 * (1.0 / 240 - r2 / 132))));
    return acc + log(x) - 0.5 * r - series;
}

/* log Beta(a, b) */
static inline TRE_HD double tre_lbeta(double a, double b) {
    return tre_lgamma(a) + tre_lgamma(b) - tre_lgamma(a + b);
}
#endif
