/* StudentT(df, loc, scale): log-density, its derivatives and the sampler
 * loc + scale * Z / sqrt(V / df) with Z standard normal and V = 2 * standard_gamma(df / 2)
 * (a chi-square with df degrees of freedom), shared by the CPU and CUDA backends.
 *
 * The normalizer log(scale) + log(sqrt(df) B(df/2, 1/2)) uses log Beta from special.h: written
 * as lgamma(df/2) - lgamma((df+1)/2) it would cancel to nothing for large df (at df = 1e8 the two
 * lgammas are ~1e9 and differ by ~9). Evaluated in double.
 *
 * Reparameterization: d x / d loc = 1 and d x / d scale = (x - loc) / scale are exact. The draw
 * uses two noises (Z and V), which x alone does not determine, so d x / d df is the implicit
 * gradient at fixed CDF value instead (unbiased like the pathwise one through Z and V): with
 * t = (x - loc) / scale and y = df / (df + t^2), F(t) = 1 - I_y(df/2, 1/2) / 2 for t > 0, and
 * holding F fixed gives d t / d df = t / (2 df) - r (df + t^2)^2 / (4 df t), where r = d y / d a
 * is the implicit derivative of a Beta(df/2, 1/2) draw at y (beta.h); odd in t, 0 at t = 0. */
#ifndef TRELBO_KERNELS_MATH_STUDENT_T_H
#define TRELBO_KERNELS_MATH_STUDENT_T_H
#include <math.h>
#include "hd.h"
#include "beta.h"
#include "gamma.h"
#include "philox.h"
#include "special.h"

/* log(scale) + log(sqrt(df) B(df/2, 1/2)): hoisted by kernels when df and scale are shared. */
static inline TRE_HD double tre_student_t_log_norm(double df, double scale) {
    return log(scale) + 0.5 * log(df) + tre_lbeta(0.5 * df, 0.5);
}
static inline TRE_HD double tre_student_t_log_prob_pre(double x, double df, double loc, double scale,
                                                       double log_norm) {
    const double y = (x - loc) / scale;
    return -0.5 * (df + 1.0) * log1p(y * y / df) - log_norm;
}
static inline TRE_HD double tre_student_t_log_prob(double x, double df, double loc, double scale) {
    return tre_student_t_log_prob_pre(x, df, loc, scale, tre_student_t_log_norm(df, scale));
}
/* Derivatives of the log-density. With y = (x - loc) / scale and w = (df + 1) y / (df + y^2):
 * d/dx = -w / scale, d/dloc = w / scale, d/dscale = (w y - 1) / scale, and
 * d/ddf = (w y - 1) / (2 df) - log1p(y^2 / df) / 2 - (digamma(df/2) - digamma((df+1)/2)) / 2. */
static inline TRE_HD double tre_student_t_dlp_dx(double x, double df, double loc, double scale) {
    const double y = (x - loc) / scale;
    return -(df + 1.0) * y / ((df + y * y) * scale);
}
static inline TRE_HD double tre_student_t_dlp_dloc(double x, double df, double loc, double scale) {
    return -tre_student_t_dlp_dx(x, df, loc, scale);
}
static inline TRE_HD double tre_student_t_dlp_dscale(double x, double df, double loc, double scale) {
    const double y = (x - loc) / scale;
    return ((df + 1.0) * y * y / (df + y * y) - 1.0) / scale;
}
static inline TRE_HD double tre_student_t_dlp_ddf(double x, double df, double loc, double scale) {
    const double y = (x - loc) / scale, y2 = y * y;
    return 0.5 * (((df + 1.0) * y2 / (df + y2) - 1.0) / df - log1p(y2 / df) -
                  (tre_digamma(0.5 * df) - tre_digamma(0.5 * (df + 1.0))));
}

/* The Philox round of the element's sequence that gives Z (words 0, 1, Box-Muller); V uses
 * rounds 0.. of the same sequence. */
#define TRE_STUDENT_T_NORMAL_DRAW 0x80000000u

/* StudentT(df, loc, scale) draw `elem` of random op `stream`; Z / sqrt(V / df) is formed as
 * Z exp(-(log 2 + log G - log df) / 2), G = V / 2, so tiny df (huge draws) and huge df
 * (V / df -> 1) both stay accurate. */
static inline TRE_HD float tre_student_t_sample(uint64_t seed, uint64_t stream, uint64_t elem,
                                                float df, float loc, float scale) {
    const double two_pi = 6.283185307179586476925286766559, log2 = 0.69314718055994530942;
    const double lg = tre_std_gamma_log_sample(0.5 * (double)df, seed, stream, elem, 0u);
    const tre_u32x4 w = tre_philox_elem(seed, stream, elem, TRE_STUDENT_T_NORMAL_DRAW);
    const double u1 = tre_u32_to_open01_d(w.v[0]), u2 = tre_u32_to_open01_d(w.v[1]);
    const double z = sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
    const double t = z * exp(-0.5 * (log2 + lg - log((double)df)));
    return (float)((double)loc + (double)scale * t);
}
/* d x / d df of a draw x = loc + scale t at fixed CDF value (see the top); 1 - y = t^2 / (df + t^2)
 * is passed to the Beta derivative as such, keeping its accuracy when t^2 << df. */
static inline TRE_HD double tre_student_t_rsample_ddf(double x, double df, double loc, double scale) {
    const double t = (x - loc) / scale;
    if (t == 0.0) return 0.0;
    const double s = df + t * t;
    double r, rb;
    tre_beta_rsample_grad_c(df / s, t * t / s, 0.5 * df, 0.5, &r, &rb);
    return scale * (t / (2.0 * df) - r * s * s / (4.0 * df * t));
}
/* x = loc + scale * t: d x / d scale = t = (x - loc) / scale */
static inline TRE_HD double tre_student_t_rsample_dscale(double x, double loc, double scale) {
    return (x - loc) / scale;
}
#endif
