/* Beta(concentration1 a, concentration0 b): log-density, its derivatives and the sampler
 * X / (X + Y) from two standard gamma draws, shared by the CPU and CUDA backends.
 *
 * The log-density is evaluated in double, with log Beta from special.h (accurate when a or b is
 * large, where lgamma(a) + lgamma(b) - lgamma(a + b) would cancel) and log1p(-x) for log(1 - x).
 *
 * Reparameterization: a draw is a deterministic function of the two gamma draws, so its
 * implicit gradient follows from that of the standard gamma (gamma.h); the backward pass for it,
 * d x / d a = -(dI_x(a, b)/da) / p(x; a, b) with I the regularized incomplete beta, is left to
 * the gradient work (it needs the incomplete beta's derivatives). */
#ifndef TRELBO_KERNELS_MATH_BETA_H
#define TRELBO_KERNELS_MATH_BETA_H
#include <float.h>
#include <math.h>
#include "hd.h"
#include "gamma.h"
#include "special.h"

/* With log Beta(a, b) given so that kernels can hoist it when both parameters are shared.
 * (a - 1) log x is 0 for a = 1 even at x = 0 (PyTorch's xlogy), likewise (b - 1) log(1 - x):
 * so the edges 0 and 1 belong to the support, with +inf, a finite value or -inf there. Values
 * outside [0, 1] (validation off) get -inf (SciPy's convention; PyTorch gives NaN). */
static inline TRE_HD double tre_beta_log_prob_pre(double x, double a, double b, double lbeta_ab) {
    if (x < 0.0 || x > 1.0) return -INFINITY;
    double ta = a == 1.0 ? 0.0 : (a - 1.0) * log(x);
    double tb = b == 1.0 ? 0.0 : (b - 1.0) * log1p(-x);
    return ta + tb - lbeta_ab;
}
static inline TRE_HD double tre_beta_log_prob(double x, double a, double b) {
    return tre_beta_log_prob_pre(x, a, b, tre_lbeta(a, b));
}
/* Derivatives of the log-density (0 outside the support). */
static inline TRE_HD double tre_beta_dlp_dx(double x, double a, double b) {
    if (x < 0.0 || x > 1.0) return 0.0;
    return (a == 1.0 ? 0.0 : (a - 1.0) / x) - (b == 1.0 ? 0.0 : (b - 1.0) / (1.0 - x));
}
static inline TRE_HD double tre_beta_dlp_da(double x, double a, double b) {
    if (x < 0.0 || x > 1.0) return 0.0;
    return log(x) - tre_digamma(a) + tre_digamma(a + b);
}
static inline TRE_HD double tre_beta_dlp_db(double x, double a, double b) {
    if (x < 0.0 || x > 1.0) return 0.0;
    return log1p(-x) - tre_digamma(b) + tre_digamma(a + b);
}

/* First Philox round of Y's sequence: X uses rounds 0.., Y rounds 2^31.. of the same element,
 * so the two draws are independent (distinct counters) and need no second random op. */
#define TRE_BETA_SECOND_DRAW 0x80000000u

/* Beta(a, b) draw `elem` of random op `stream`: X / (X + Y) = 1 / (1 + exp(log Y - log X)) with
 * X ~ Gamma(a, 1), Y ~ Gamma(b, 1), combined in log space so that small concentrations (where X
 * and Y underflow) still give the right ratio. Clamped into [FLT_MIN, 1 - 2^-24], as PyTorch's
 * Dirichlet-based sampler does: a draw never lands on an edge, where the log-density may be
 * infinite. */
static inline TRE_HD float tre_beta_sample(uint64_t seed, uint64_t stream, uint64_t elem, float a,
                                           float b) {
    const double lx = tre_std_gamma_log_sample(a, seed, stream, elem, 0u);
    const double ly = tre_std_gamma_log_sample(b, seed, stream, elem, TRE_BETA_SECOND_DRAW);
    const double x = 1.0 / (1.0 + exp(ly - lx));
    if (x != x) return (float)x;
    const float hi = 1.0f - 1.0f / 16777216.0f;
    float f = (float)x;
    return f < FLT_MIN ? FLT_MIN : (f > hi ? hi : f);
}
#endif
