/* Gamma(concentration a, rate b): log-density and its derivatives, the standard gamma sampler
 * (shared by Beta, StudentT and Dirichlet), the regularized incomplete gamma P(a, x), and the
 * implicit reparameterization derivative of a standard gamma draw; shared by the CPU and CUDA
 * backends.
 *
 * Everything is evaluated in double: at a = 1e4 the terms of the log-density are ~1e5 while
 * the result is ~-5, which float would leave with three correct digits.
 *
 * Reparameterization. A draw is x = s / b with s = standard_gamma(a) (rate 1), so
 * d x / d b = -x / b exactly, and d x / d a = (d s / d a) / b. The draw s has no closed form in
 * parameter-free noise, so d s / d a is the implicit reparameterization gradient (Figurnov et
 * al. 2018; PyTorch's _standard_gamma_grad): holding the noise u = P(a, s) fixed,
 *     d s / d a = -(dP(a, s)/da) / p(s; a),
 * with P the regularized lower incomplete gamma (the CDF) and p the density.
 * tre_std_gamma_grad computes it without forming P or p (whose ratio is all that matters): for
 * s < a + 1 from the series of P, for larger s from the continued fraction of 1 - P carried in
 * forward mode, and for a >= 1e4 from the Wilson-Hilferty approximation (relative error below
 * 4e-7 there, tested). */
#ifndef TRELBO_KERNELS_MATH_GAMMA_H
#define TRELBO_KERNELS_MATH_GAMMA_H
#include <float.h>
#include <math.h>
#include "hd.h"
#include "philox.h"
#include "special.h"

/* ---- log-density ------------------------------------------------------------------------- */

/* With lgamma(a) and log(b) given so that kernels can hoist them when a parameter is shared.
 * (a - 1) log x is 0 for a = 1 even at x = 0 (PyTorch's xlogy), so x = 0 gives +inf for a < 1,
 * log b for a = 1 and -inf for a > 1. Values below 0 (validation off) get -inf (SciPy's
 * convention; PyTorch evaluates the formula there, a NaN). */
static inline TRE_HD double tre_gamma_log_prob_pre(double x, double a, double b, double lgamma_a,
                                                   double log_b) {
    if (x < 0.0) return -INFINITY;
    double t = a == 1.0 ? 0.0 : (a - 1.0) * log(x);
    return a * log_b + t - b * x - lgamma_a;
}
static inline TRE_HD double tre_gamma_log_prob(double x, double a, double b) {
    return tre_gamma_log_prob_pre(x, a, b, tre_lgamma(a), log(b));
}
/* Derivatives of the log-density (0 outside the support, where it is constant). */
static inline TRE_HD double tre_gamma_dlp_dx(double x, double a, double b) {
    if (x < 0.0) return 0.0;
    return (a == 1.0 ? 0.0 : (a - 1.0) / x) - b;
}
/* ... with log(b) and digamma(a) given (a block whose concentrations repeat computes them once) */
static inline TRE_HD double tre_gamma_dlp_da_pre(double x, double log_b, double digamma_a) {
    if (x < 0.0) return 0.0;
    return log_b + log(x) - digamma_a;
}
static inline TRE_HD double tre_gamma_dlp_da(double x, double a, double b) {
    if (x < 0.0) return 0.0;
    return tre_gamma_dlp_da_pre(x, log(b), tre_digamma(a));
}
static inline TRE_HD double tre_gamma_dlp_db(double x, double a, double b) {
    if (x < 0.0) return 0.0;
    return a / b - x;
}

/* ---- standard gamma draws ---------------------------------------------------------------- */

/* Bound on rejection rounds: Marsaglia-Tsang accepts at least 95% of rounds for every a, so
 * 64 rounds all fail with probability below 1e-80; it only stops a GPU thread from spinning on a
 * corrupted parameter (the draw is then NaN). */
#define TRE_GAMMA_MAX_ROUNDS 64u

/* log of a standard gamma draw (rate 1) of shape a, from rounds draw0, draw0 + 1, ... of the
 * element's own Philox sequence. Marsaglia & Tsang, "A simple method for generating gamma
 * variables" (ACM TOMS 26(3), 2000): with d = a' - 1/3, c = 1/sqrt(9d), a normal z and a
 * uniform u, accept d (1 + c z)^3 when log u < z^2/2 + d - d v + d log v, v = (1 + c z)^3.
 * For a < 1 it draws with a' = a + 1 and multiplies by U^(1/a) (the "boost"), which is added
 * here in log space: for tiny a the product underflows double long before its log does.
 * Each round uses one Philox block: words 0, 1 for z (Box-Muller), word 2 for u; word 3 of the
 * first block is the boost's U. Returned in log space so Beta and StudentT can combine draws
 * without underflow; NaN for a <= 0 or NaN (and +inf for a = +inf). */
static inline TRE_HD double tre_std_gamma_log_sample(double a, uint64_t seed, uint64_t stream,
                                                     uint64_t elem, uint32_t draw0) {
    if (!(a > 0.0)) return NAN;
    if (isinf(a)) return INFINITY;
    const double two_pi = 6.283185307179586476925286766559;
    const double ab = a < 1.0 ? a + 1.0 : a;
    const double d = ab - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    double boost = 0.0;
    for (uint32_t r = 0; r < TRE_GAMMA_MAX_ROUNDS; ++r) {
        tre_u32x4 w = tre_philox_elem(seed, stream, elem, draw0 + r);
        if (r == 0 && a < 1.0) boost = log(tre_u32_to_open01_d(w.v[3])) / a;
        const double u1 = tre_u32_to_open01_d(w.v[0]), u2 = tre_u32_to_open01_d(w.v[1]);
        const double z = sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
        const double cz = c * z;
        if (cz <= -1.0) continue;
        const double u = tre_u32_to_open01_d(w.v[2]);
        const double z2 = z * z;
        /* 1 - v + log v with v = (1 + cz)^3, formed without cancelling 1 against v: stays
         * accurate when d is huge and cz tiny */
        const double log_v = 3.0 * log1p(cz);
        const double one_minus_v = -cz * (3.0 + cz * (3.0 + cz));
        if (u < 1.0 - 0.0331 * z2 * z2 || log(u) < 0.5 * z2 + d * (one_minus_v + log_v))
            return log(d) + log_v + boost;
    }
    return NAN;
}

/* Gamma(a, b) draw `elem` of random op `stream`: exp(log standard gamma) / b, clamped below at
 * the smallest normal float as PyTorch does, so a draw is always inside the support (and its
 * log-density finite) even when it underflows, as most draws do for a ~ 1e-3. */
static inline TRE_HD float tre_gamma_sample(uint64_t seed, uint64_t stream, uint64_t elem, float a,
                                            float b) {
    double ls = tre_std_gamma_log_sample(a, seed, stream, elem, 0u);
    float x = (float)(exp(ls) / (double)b);
    return x < FLT_MIN ? FLT_MIN : x; /* NaN passes through */
}

/* ---- incomplete gamma and the implicit gradient ------------------------------------------ */

#define TRE_GAMMA_SERIES_MAX 5000
/* Above this concentration, tre_std_gamma_grad uses the Wilson-Hilferty approximation. */
#define TRE_GAMMA_GRAD_WH_MIN 1e4

/* h(a, x) = Gamma(a, x) e^x x^-a by its continued fraction (x >= a + 1), and dh/da in
 * forward mode: Gamma(a, x) = e^-x x^a / (b0 + a1/(b1 + a2/(b2 + ...))) with
 * b_n = x + 2n + 1 - a, a_n = -n (n - a). The convergents A_n/B_n follow the three-term
 * recurrences, differentiated term by term; all four sequences are rescaled by B_n, which
 * leaves the ratios unchanged. */
static inline TRE_HD void tre_gamma_cf(double a, double x, double *h, double *dh) {
    double Am2 = 1.0, Bm2 = 0.0, dAm2 = 0.0, dBm2 = 0.0;       /* n = -1 */
    double Am1 = x + 1.0 - a, Bm1 = 1.0, dAm1 = -1.0, dBm1 = 0.0; /* n = 0 */
    double prev = Am1, dprev = dAm1;
    for (int n = 1; n < TRE_GAMMA_SERIES_MAX; ++n) {
        const double an = -n * (n - a), bn = x + 2.0 * n + 1.0 - a;
        const double A = bn * Am1 + an * Am2, B = bn * Bm1 + an * Bm2;
        const double dA = -Am1 + bn * dAm1 + n * Am2 + an * dAm2;
        const double dB = -Bm1 + bn * dBm1 + n * Bm2 + an * dBm2;
        const double s = 1.0 / B;
        Am2 = Am1 * s; Bm2 = Bm1 * s; dAm2 = dAm1 * s; dBm2 = dBm1 * s;
        Am1 = A * s; Bm1 = 1.0; dAm1 = dA * s; dBm1 = dB * s;
        /* stop when the fraction and its derivative have both settled */
        const double cur = Am1, dcur = dAm1 - Am1 * dBm1;
        if (fabs(cur - prev) <= 1e-15 * fabs(cur) && fabs(dcur - dprev) <= 1e-15 * (fabs(dcur) + fabs(cur)))
            break;
        prev = cur;
        dprev = dcur;
    }
    /* D = A / B with B = 1 after rescaling; h = 1 / D, dh = -dD / D^2 */
    const double D = Am1, dD = dAm1 - Am1 * dBm1;
    *h = 1.0 / D;
    *dh = -dD / (D * D);
}

/* log(x^a e^-x / Gamma(a + 1)), the prefactor of the incomplete gamma series. For large a its
 * terms (~a log a) cancel to ~log(1/sqrt(a)), so there the (x - 1/2) log x - x part of lgamma is
 * cancelled analytically: with t = (x - a) / a it is a (log1p(t) - t) - log(2 pi a)/2 - corr(a). */
static inline TRE_HD double tre_gamma_log_prefactor(double a, double x) {
    if (a < 10.0) return a * log(x) - x - tre_lgamma(a + 1.0);
    const double t = (x - a) / a;
    return a * (log1p(t) - t) - 0.5 * log(a) - TRE_HALF_LOG_2PI_D - tre_lgamma_corr(a);
}

/* Regularized lower incomplete gamma P(a, x) = the Gamma(a, 1) CDF at x (SciPy's gammainc). */
static inline TRE_HD double tre_gamma_p(double a, double x) {
    if (!(a > 0.0) || x != x) return NAN;
    if (x <= 0.0) return 0.0;
    if (isinf(x)) return 1.0;
    if (x < a + 1.0) {
        /* e^-x x^a / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n)) */
        double term = 1.0, sum = 1.0;
        for (int n = 1; n < TRE_GAMMA_SERIES_MAX; ++n) {
            term *= x / (a + n);
            sum += term;
            if (term < 1e-17 * sum) break;
        }
        return exp(tre_gamma_log_prefactor(a, x)) * sum;
    }
    double h, dh;
    tre_gamma_cf(a, x, &h, &dh);
    return 1.0 - exp(tre_gamma_log_prefactor(a, x) + log(a)) * h;
}

/* d s / d a of a standard gamma draw s at fixed CDF value (see the top of this file), a > 0,
 * s > 0. Dividing dP/da by the density p(s) = e^-s s^(a-1) / Gamma(a) cancels the prefactors:
 *   s < a + 1:  P = sum_n e^-s s^(a+n) / Gamma(a+n+1), each term's derivative is itself times
 *               (log s - digamma(a+n+1)), so  ds/da = -s sum_n c_n (log s - digamma(a+n+1)),
 *               c_0 = 1/a, c_{n+1} = c_n s / (a+n+1);
 *   otherwise:  1 - P = e^-s s^a h(a, s) / Gamma(a), so  ds/da = s (h (log s - digamma(a)) + dh/da);
 *   a >= 1e4:   s = a t^3 with t = 1 - 1/(9a) + z / (3 sqrt(a)) and z standard normal
 *               (Wilson-Hilferty), differentiated at fixed z. */
/* The series branch's sum_n c_n (log s - digamma(a+n+1)) (below): ds/da = -s times it. */
static inline TRE_HD double tre_std_gamma_grad_series(double a, double s, double ls) {
    double c = 1.0 / a, psi = tre_digamma(a + 1.0);
    double sum = c * (ls - psi);
    for (int n = 1; n < TRE_GAMMA_SERIES_MAX; ++n) {
        psi += 1.0 / (a + n);       /* digamma(a + n + 1) */
        c *= s / (a + n);
        const double term = c * (ls - psi);
        sum += term;
        /* c falls geometrically (ratio s / (a + n) < 1): the tail is below c / (1 - ratio) */
        if (c <= 1e-17 / a) break;
    }
    return sum;
}

static inline TRE_HD double tre_std_gamma_grad(double a, double s) {
    if (!(a > 0.0) || !(s > 0.0)) return s == 0.0 && a > 0.0 ? 0.0 : NAN;
    if (isinf(s)) return s;
    if (a >= TRE_GAMMA_GRAD_WH_MIN) {
        const double t = cbrt(s / a), sa = sqrt(a);
        const double z = (t - 1.0 + 1.0 / (9.0 * a)) * 3.0 * sa;
        const double dt = 1.0 / (9.0 * a * a) - z / (6.0 * a * sa);
        return t * t * (t + 3.0 * a * dt);
    }
    const double ls = log(s);
    if (s < a + 1.0) return -s * tre_std_gamma_grad_series(a, s, ls);
    double h, dh;
    tre_gamma_cf(a, s, &h, &dh);
    return s * (h * (ls - tre_digamma(a)) + dh);
}

/* d log s / d a for a standard gamma draw s = exp(ls), given in log space: the series branch
 * needs only ls where s is small, so it holds where s underflows double (there the first term,
 * -(ls - digamma(a + 1)) / a, is all that is left). For a in Wilson-Hilferty's range the
 * series serves s < a / 2 only (far in the tail, where it converges fast and W-H fails). */
static inline TRE_HD double tre_std_gamma_dlog_da(double a, double ls) {
    const double s = exp(ls);
    if (s < a + 1.0 && (a < TRE_GAMMA_GRAD_WH_MIN || s < 0.5 * a))
        return -tre_std_gamma_grad_series(a, s, ls);
    return tre_std_gamma_grad(a, s) / s;
}

/* Pathwise derivatives of a Gamma(a, b) draw x = s / b (s = x b the standard gamma draw). */
static inline TRE_HD double tre_gamma_rsample_da(double x, double a, double b) {
    return tre_std_gamma_grad(a, x * b) / b;
}
static inline TRE_HD double tre_gamma_rsample_db(double x, double a, double b) {
    (void)a;
    return -x / b;
}
#endif
