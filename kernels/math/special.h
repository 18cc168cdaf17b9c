/* Special functions shared by both backends, in double: lgamma, digamma and log Beta for
 * positive arguments, without the global state of the C library's lgamma (signgam), so they
 * are safe in parallel loops and on the device.
 *
 * Accuracy (checked against SciPy in tests/fixture/test_gamma_log_prob.c) is relative, also
 * near the zeros of lgamma at 1 and 2, where a plain recurrence onto Stirling's series would
 * only be accurate in absolute terms:
 *   - [0.5, 2.5]: Taylor series of lgamma(2 + z) and digamma(2 + z) in z, whose coefficients
 *     (-1)^k (zeta(k) - 1) / k decay like 2^-k, so |z| <= 0.5 needs 30 terms;
 *   - (0, 0.5): one step of the recurrence up onto that series;
 *   - (2.5, 10): the recurrence down onto it (a sum of positive terms: no cancellation);
 *   - [10, inf): Stirling's series with 8 terms (truncation below 1e-17).
 * log Beta subtracts the large parts of the lgammas analytically when an argument is large, so
 * lbeta(1e4, 1e-3) or lbeta(1e8, 2) keeps its relative accuracy. */
#ifndef TRELBO_KERNELS_MATH_SPECIAL_H
#define TRELBO_KERNELS_MATH_SPECIAL_H
#include <math.h>
#include "hd.h"

#define TRE_HALF_LOG_2PI_D 0.91893853320467274178
#define TRE_EULER_GAMMA_D 0.57721566490153286061

/* A constant table inside an inline function: static on the host and on the device alike
 * (function-scope statics with constant initializers are allowed in device code since CUDA 11,
 * and live in global memory). A plain local array would be rebuilt in local memory on every
 * call: 488 bytes of stack and ~5x the registers in every kernel that calls lgamma. */
#define TRE_SPECIAL_TABLE static const

/* zeta(k) - 1 for k = 2 .. 62 */
static inline TRE_HD double tre_zetam1(int k) {
    TRE_SPECIAL_TABLE double t[61] = {
        0.64493406684822641, 0.20205690315959429, 0.082323233711138186, 0.036927755143369927,
        0.01734306198444914, 0.0083492773819228271, 0.0040773561979443396, 0.0020083928260822143,
        0.00099457512781808526, 0.00049418860411946453, 0.00024608655330804832,
        0.00012271334757848915, 6.1248135058704828e-05, 3.0588236307020493e-05,
        1.5282259408651871e-05, 7.6371976378997626e-06, 3.8172932649998402e-06,
        1.908212716553939e-06, 9.5396203387279621e-07, 4.7693298678780645e-07,
        2.38450502727733e-07, 1.1921992596531106e-07, 5.960818905125948e-08,
        2.9803503514652279e-08, 1.4901554828365043e-08, 7.4507117898354301e-09,
        3.7253340247884573e-09, 1.8626597235130491e-09, 9.3132743241966817e-10,
        4.6566290650337837e-10, 2.3283118336765053e-10, 1.1641550172700519e-10,
        5.8207720879027015e-11, 2.9103850444971e-11, 1.4551921891041985e-11,
        7.2759598350574818e-12, 3.6379795473786509e-12, 1.8189896503070661e-12,
        9.0949478402638884e-13, 4.5474737830421542e-13, 2.2737368458246524e-13,
        1.1368684076802279e-13, 5.6843419876275854e-14, 2.842170976889302e-14,
        1.4210854828031608e-14, 7.1054273952108527e-15, 3.5527136913371139e-15,
        1.7763568435791204e-15, 8.8817842109308162e-16, 4.4408921031438131e-16,
        2.2204460507980419e-16, 1.1102230251410661e-16, 5.551115124845481e-17,
        2.7755575621361239e-17, 1.3877787809725232e-17, 6.9388939045441534e-18,
        3.4694469521659225e-18, 1.7347234760475765e-18, 8.673617380119933e-19,
        4.3368086900206506e-19, 2.1684043449972198e-19};
    return t[k - 2];
}

/* lgamma(2 + z), |z| <= 0.5 */
static inline TRE_HD double tre_lgamma2p(double z) {
    double s = 0.0;
    for (int k = 31; k >= 2; --k) s = z * (((k & 1) ? -1.0 : 1.0) * tre_zetam1(k) / k + s);
    return z * ((1.0 - TRE_EULER_GAMMA_D) + s);
}

/* digamma(2 + z), |z| <= 1 (more terms near |z| = 1) */
static inline TRE_HD double tre_digamma2p(double z) {
    int kmax = fabs(z) <= 0.5 ? 32 : 62;
    double s = 0.0;
    for (int k = kmax; k >= 2; --k) s = z * (((k & 1) ? -1.0 : 1.0) * tre_zetam1(k) + s);
    return (1.0 - TRE_EULER_GAMMA_D) + s;
}

/* lgamma(x) - [(x - 1/2) log x - x + log(2 pi)/2] for x >= 10: Stirling's series */
static inline TRE_HD double tre_lgamma_corr(double x) {
    double r = 1.0 / x, r2 = r * r;
    return r * (1.0 / 12 + r2 * (-1.0 / 360 + r2 * (1.0 / 1260 + r2 * (-1.0 / 1680 + r2 * (1.0 / 1188 +
                r2 * (-691.0 / 360360 + r2 * (1.0 / 156 + r2 * (-3617.0 / 122400))))))));
}

/* log Gamma(x), x > 0; NaN for x < 0 or NaN, +inf at 0 and +inf. */
static inline TRE_HD double tre_lgamma(double x) {
    if (!(x > 0.0)) return x == 0.0 ? INFINITY : NAN;
    if (isinf(x)) return INFINITY;
    if (x < 0.5) return tre_lgamma2p(x) - log1p(x) - log(x);
    if (x < 1.5) return tre_lgamma2p(x - 1.0) - log1p(x - 1.0);
    if (x <= 2.5) return tre_lgamma2p(x - 2.0);
    if (x < 10.0) {
        double prod = 1.0;
        while (x > 2.5) {
            x -= 1.0;
            prod *= x;
        }
        return tre_lgamma2p(x - 2.0) + log(prod);
    }
    return (x - 0.5) * log(x) - x + TRE_HALF_LOG_2PI_D + tre_lgamma_corr(x);
}

/* digamma(x) = d/dx log Gamma(x), x > 0; NaN for x < 0, -inf at 0. */
static inline TRE_HD double tre_digamma(double x) {
    if (!(x > 0.0)) return x == 0.0 ? -INFINITY : NAN;
    if (isinf(x)) return INFINITY;
    if (x < 0.5) return tre_digamma2p(x) - 1.0 / (1.0 + x) - 1.0 / x;
    /* [1, 2.5] straight from the series: keeps relative accuracy near the root 1.4616 */
    if (x < 1.0) return tre_digamma2p(x - 1.0) - 1.0 / x;
    if (x <= 2.5) return tre_digamma2p(x - 2.0);
    if (x < 10.0) {
        double acc = 0.0;
        while (x > 2.5) {
            x -= 1.0;
            acc += 1.0 / x;
        }
        return tre_digamma2p(x - 2.0) + acc;
    }
    double r = 1.0 / x, r2 = r * r;
    double series = r2 * (1.0 / 12 + r2 * (-1.0 / 120 + r2 * (1.0 / 252 + r2 * (-1.0 / 240 + r2 * (1.0 / 132 +
                    r2 * (-691.0 / 32760 + r2 * (1.0 / 12 + r2 * (-3617.0 / 8160))))))));
    return log(x) - 0.5 * r - series;
}

/* log Beta(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), a, b > 0. With p <= q, the
 * (x - 1/2) log x - x parts of the lgammas of large arguments cancel analytically. */
static inline TRE_HD double tre_lbeta(double a, double b) {
    if (!(a > 0.0) || !(b > 0.0)) return (a == 0.0 || b == 0.0) && a >= 0.0 && b >= 0.0 ? INFINITY : NAN;
    double p = a < b ? a : b, q = a < b ? b : a;
    if (isinf(q)) return -INFINITY;
    if (p >= 10.0) {
        double corr = tre_lgamma_corr(p) + tre_lgamma_corr(q) - tre_lgamma_corr(p + q);
        double t = p / (p + q);
        return -0.5 * log(q) + TRE_HALF_LOG_2PI_D + corr + (p - 0.5) * log(t) + q * log1p(-t);
    }
    if (q >= 10.0) {
        double corr = tre_lgamma_corr(q) - tre_lgamma_corr(p + q);
        return tre_lgamma(p) + corr + p - p * log(p + q) + (q - 0.5) * log1p(-p / (p + q));
    }
    return tre_lgamma(p) + tre_lgamma(q) - tre_lgamma(p + q);
}
/* trigamma(x) = d/dx digamma(x), x > 0 (the gradient of digamma, used by the Gamma, Beta and
 * Dirichlet KLs): recurrence up to x >= 10, then the asymptotic series
 * 1/x + 1/(2x^2) + sum_k B_2k / x^(2k+1); relative error below 1e-13. NaN for x < 0 or NaN,
 * +inf at 0. */
static inline TRE_HD double tre_trigamma(double x) {
    if (!(x > 0.0)) return x == 0.0 ? INFINITY : NAN;
    if (isinf(x)) return 0.0;
    double acc = 0.0;
    while (x < 10.0) {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    double r = 1.0 / x, r2 = r * r;
    double series = r * (1.0 + r * (0.5 + r * (1.0 / 6 + r2 * (-1.0 / 30 + r2 * (1.0 / 42 + r2 * (-1.0 / 30 +
                    r2 * (5.0 / 66 + r2 * (-691.0 / 2730 + r2 * (7.0 / 6)))))))));
    return acc + series;
}

/* tetragamma(x) = d/dx trigamma(x) (psi''), x > 0, so that trigamma has a gradient too:
 * psi''(x) = psi''(x + 1) - 2 / x^3 up to x >= 10, then the asymptotic series
 * -(1/x^2 + 1/x^3 + sum_k (2k + 1) B_2k / x^(2k+2)); relative error below 1e-13. NaN for x < 0
 * or NaN, -inf at 0. */
static inline TRE_HD double tre_tetragamma(double x) {
    if (!(x > 0.0)) return x == 0.0 ? -INFINITY : NAN;
    if (isinf(x)) return 0.0;
    double acc = 0.0;
    while (x < 10.0) {
        acc -= 2.0 / (x * x * x);
        x += 1.0;
    }
    double r = 1.0 / x, r2 = r * r;
    double series = r2 * (1.0 + r * (1.0 + r * (0.5 + r2 * (-1.0 / 6 + r2 * (1.0 / 6 + r2 * (-3.0 / 10 +
                    r2 * (5.0 / 6 + r2 * (-691.0 / 210 + r2 * (35.0 / 2)))))))));
    return acc - series;
}

#endif
