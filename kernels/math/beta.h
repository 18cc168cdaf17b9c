/* Beta(concentration1 a, concentration0 b): log-density, its derivatives, the sampler
 * X / (X + Y) from two standard gamma draws, the regularized incomplete beta I_x(a, b) and the
 * implicit reparameterization derivatives of a draw; shared by the CPU and CUDA backends.
 *
 * The log-density is evaluated in double, with log Beta from special.h (accurate when a or b is
 * large, where lgamma(a) + lgamma(b) - lgamma(a + b) would cancel) and log1p(-x) for log(1 - x).
 *
 * Reparameterization: a draw uses two gamma draws, but its distribution is that of one uniform
 * through the inverse CDF, so (as PyTorch does through its Dirichlet gradient) the pathwise
 * derivative holds the CDF value u = I_x(a, b) fixed: d x / d a = -(dI/da) / p(x; a, b), likewise
 * for b. tre_beta_rsample_grad computes both from the continued fraction of I carried in forward
 * mode (see tre_beta_cf), without forming I or p, whose common prefactor cancels. */
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

/* ---- incomplete beta and the implicit gradient ------------------------------------------- */

#define TRE_BETA_CF_MAX 20000

/* The continued fraction of the incomplete beta (the form of Numerical Recipes' betacf):
 *   I_y(p, q) = y^p (1-y)^q / (p B(p, q)) * C,  C = 1 / (1 + d1 / (1 + d2 / (1 + ...))),
 *   d_{2m+1} = -(p+m)(p+q+m) y / ((p+2m)(p+2m+1)),  d_{2m} = m (q-m) y / ((p+2m-1)(p+2m)),
 * which converges fast for y < (p+1)/(p+q+2). C and its partial derivatives in p and q come
 * from the convergents A_n / B_n of D = 1 / C (A_n = A_{n-1} + d_n A_{n-2}, likewise B_n),
 * differentiated term by term and rescaled by B_n at every step (the ratios are unchanged). */
static inline TRE_HD void tre_beta_cf(double p, double q, double y, double *c, double *dc_dp,
                                      double *dc_dq) {
    double Am2 = 1.0, Bm2 = 0.0, Am1 = 1.0, Bm1 = 1.0;  /* n = -1, 0 */
    double pAm2 = 0.0, pBm2 = 0.0, pAm1 = 0.0, pBm1 = 0.0; /* d/dp */
    double qAm2 = 0.0, qBm2 = 0.0, qAm1 = 0.0, qBm1 = 0.0; /* d/dq */
    double prev = 1.0, pprev = 0.0, qprev = 0.0;
    for (int n = 1; n < TRE_BETA_CF_MAX; ++n) {
        double d, dp, dq;
        if (n & 1) {
            const double m = (n - 1) / 2, e1 = p + 2.0 * m, e2 = e1 + 1.0;
            d = -(p + m) * (p + q + m) * y / (e1 * e2);
            dp = d * (1.0 / (p + m) + 1.0 / (p + q + m) - 1.0 / e1 - 1.0 / e2);
            dq = -(p + m) * y / (e1 * e2);
        } else {
            const double m = n / 2, e1 = p + 2.0 * m - 1.0, e2 = e1 + 1.0;
            d = m * (q - m) * y / (e1 * e2);
            dp = -d * (1.0 / e1 + 1.0 / e2);
            dq = m * y / (e1 * e2);
        }
        const double A = Am1 + d * Am2, B = Bm1 + d * Bm2;
        const double pA = pAm1 + dp * Am2 + d * pAm2, pB = pBm1 + dp * Bm2 + d * pBm2;
        const double qA = qAm1 + dq * Am2 + d * qAm2, qB = qBm1 + dq * Bm2 + d * qBm2;
        const double s = 1.0 / B;
        Am2 = Am1 * s; Bm2 = Bm1 * s; pAm2 = pAm1 * s; pBm2 = pBm1 * s; qAm2 = qAm1 * s; qBm2 = qBm1 * s;
        Am1 = A * s; Bm1 = 1.0; pAm1 = pA * s; pBm1 = pB * s; qAm1 = qA * s; qBm1 = qB * s;
        /* D = A / B with B = 1 after rescaling: dD = dA - A dB */
        const double D = Am1, pD = pAm1 - Am1 * pBm1, qD = qAm1 - Am1 * qBm1;
        const double tol = 1e-15 * (fabs(D) + fabs(pD) + fabs(qD));
        if (n > 2 && fabs(D - prev) <= 1e-15 * fabs(D) && fabs(pD - pprev) <= tol && fabs(qD - qprev) <= tol)
            break;
        prev = D;
        pprev = pD;
        qprev = qD;
    }
    const double D = Am1, pD = pAm1 - Am1 * pBm1, qD = qAm1 - Am1 * qBm1;
    *c = 1.0 / D;
    *dc_dp = -pD / (D * D);
    *dc_dq = -qD / (D * D);
}

/* Regularized incomplete beta I_x(a, b) = the Beta(a, b) CDF at x (SciPy's betainc). */
static inline TRE_HD double tre_beta_inc(double a, double b, double x) {
    if (!(a > 0.0) || !(b > 0.0) || x != x) return NAN;
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    const double lk = a * log(x) + b * log1p(-x) - tre_lbeta(a, b);
    double c, cp, cq;
    if (x < (a + 1.0) / (a + b + 2.0)) {
        tre_beta_cf(a, b, x, &c, &cp, &cq);
        return exp(lk) * c / a;
    }
    tre_beta_cf(b, a, 1.0 - x, &c, &cp, &cq);
    return 1.0 - exp(lk) * c / b;
}

/* d x / d a and d x / d b of a Beta(a, b) draw x at fixed I_x(a, b) (see the top). With
 * K = x^a (1-x)^b / B(a, b), the density is K / (x (1 - x)), dK/da = K (log x - digamma(a) +
 * digamma(a+b)) = K L and dK/db = K M likewise with log(1 - x), digamma(b). On the side where
 * I = K C / a:        dx/da = -x(1-x)/a [C L + dC/da - C/a],   dx/db = -x(1-x)/a [C M + dC/db];
 * where I = 1 - K C' / b (C' = C(b, a, 1 - x)):
 *                     dx/da =  x(1-x)/b [C' L + dC'/da],       dx/db =  x(1-x)/b [C' M + dC'/db - C'/b].
 * xc = 1 - x, given separately so that draws near 1 keep their relative accuracy. */
static inline TRE_HD void tre_beta_rsample_grad_c(double x, double xc, double a, double b,
                                                  double *dx_da, double *dx_db) {
    if (!(x > 0.0 && xc > 0.0) || !(a > 0.0) || !(b > 0.0)) {
        const double v = (x == 0.0 || xc == 0.0) && a > 0.0 && b > 0.0 ? 0.0 : NAN;
        *dx_da = v;
        *dx_db = v;
        return;
    }
    const double psab = tre_digamma(a + b);
    const double L = log(x) - tre_digamma(a) + psab, M = log(xc) - tre_digamma(b) + psab;
    const double w = x * xc;
    double c, cp, cq;
    if (x < (a + 1.0) / (a + b + 2.0)) {
        tre_beta_cf(a, b, x, &c, &cp, &cq);
        *dx_da = -w / a * (c * L + cp - c / a);
        *dx_db = -w / a * (c * M + cq);
    } else {
        tre_beta_cf(b, a, xc, &c, &cp, &cq); /* cp = dC'/db, cq = dC'/da */
        *dx_da = w / b * (c * L + cq);
        *dx_db = w / b * (c * M + cp - c / b);
    }
}
/* The same with 1 - x formed here; callers that know 1 - x more precisely (StudentT) pass it. */
static inline TRE_HD void tre_beta_rsample_grad(double x, double a, double b, double *dx_da,
                                                double *dx_db) {
    tre_beta_rsample_grad_c(x, 1.0 - x, a, b, dx_da, dx_db);
}
#endif
