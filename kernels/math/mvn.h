/* MultivariateNormal(loc, scale_tril) for one row (one D-vector and one D x D lower-triangular
 * matrix, row-major, contiguous), shared by the CPU and CUDA backends: log-density by forward
 * substitution, draws loc + L eps, KL between two rows, and the derivatives of each.
 *
 * Everything accumulates in double from the float inputs, so an ill-conditioned but valid L
 * costs accuracy only through the float rounding of the inputs, not through the arithmetic.
 * Only the lower triangle of L is read (validation rejects anything else above the diagonal).
 * The functions that need scratch take `work` (doubles, size stated per function): the CPU
 * backend hands each thread a buffer, a CUDA kernel its own per-thread or per-warp storage. */
#ifndef TRELBO_KERNELS_MATH_MVN_H
#define TRELBO_KERNELS_MATH_MVN_H
#include <math.h>
#include "hd.h"
#include "philox.h"

#define TRE_MVN_HALF_LOG_2PI 0.91893853320467274178

/* Solves L z = b in place (z holds b on entry), L lower-triangular d x d. */
static inline TRE_HD void tre_mvn_solve_lower(int64_t d, const float *L, double *z) {
    for (int64_t i = 0; i < d; ++i) {
        double s = z[i];
        for (int64_t j = 0; j < i; ++j) s -= (double)L[i * d + j] * z[j];
        z[i] = s / (double)L[i * d + i];
    }
}

/* Solves L^T w = b in place (w holds b on entry). */
static inline TRE_HD void tre_mvn_solve_upper_t(int64_t d, const float *L, double *w) {
    for (int64_t i = d - 1; i >= 0; --i) {
        double s = w[i];
        for (int64_t j = i + 1; j < d; ++j) s -= (double)L[j * d + i] * w[j];
        w[i] = s / (double)L[i * d + i];
    }
}

/* sum_i log L_ii = log det L = 0.5 log det(L L^T) */
static inline TRE_HD double tre_mvn_half_log_det(int64_t d, const float *L) {
    double acc = 0.0;
    for (int64_t i = 0; i < d; ++i) acc += log((double)L[i * d + i]);
    return acc;
}

/* log N(x | loc, L L^T) with half_log_det = tre_mvn_half_log_det(d, L) given (so that a kernel
 * can hoist it when L is shared by consecutive rows). work: d doubles. */
static inline TRE_HD double tre_mvn_log_prob_pre(int64_t d, const float *x, const float *loc,
                                                 const float *L, double half_log_det, double *work) {
    for (int64_t i = 0; i < d; ++i) work[i] = (double)x[i] - (double)loc[i];
    tre_mvn_solve_lower(d, L, work);
    double quad = 0.0;
    for (int64_t i = 0; i < d; ++i) quad += work[i] * work[i];
    return -0.5 * quad - half_log_det - (double)d * TRE_MVN_HALF_LOG_2PI;
}

static inline TRE_HD double tre_mvn_log_prob_row(int64_t d, const float *x, const float *loc,
                                                 const float *L, double *work) {
    return tre_mvn_log_prob_pre(d, x, loc, L, tre_mvn_half_log_det(d, L), work);
}

/* g times the derivatives of log N(x | loc, L L^T): with z = L^-1 (x - loc), w = L^-T z,
 *   d/dx = -w,  d/dloc = w,  d/dL_ij = w_i z_j - [i == j] / L_ii  (j <= i; 0 above).
 * gx, gloc (d) and gL (d x d, upper part written 0) may each be NULL. work: 2 d doubles. */
static inline TRE_HD void tre_mvn_log_prob_grad_row(int64_t d, const float *x, const float *loc,
                                                    const float *L, float g, float *gx,
                                                    float *gloc, float *gL, double *work) {
    double *z = work, *w = work + d;
    for (int64_t i = 0; i < d; ++i) z[i] = (double)x[i] - (double)loc[i];
    tre_mvn_solve_lower(d, L, z);
    for (int64_t i = 0; i < d; ++i) w[i] = z[i];
    tre_mvn_solve_upper_t(d, L, w);
    const double gd = (double)g;
    for (int64_t i = 0; i < d; ++i) {
        if (gx) gx[i] = (float)(-gd * w[i]);
        if (gloc) gloc[i] = (float)(gd * w[i]);
    }
    if (!gL) return;
    for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j) {
            double v = j > i ? 0.0 : w[i] * z[j] - (i == j ? 1.0 / (double)L[i * d + i] : 0.0);
            gL[i * d + j] = (float)(gd * v);
        }
}

/* Standard normal noise of a row: eps_j is element elem0 + j of random op `stream` (elem0 is the
 * row's first element in the output, so draws do not depend on how rows are scheduled). */
static inline TRE_HD float tre_mvn_eps(uint64_t seed, uint64_t stream, uint64_t elem0, int64_t j) {
    return tre_philox_std_normal(seed, stream, elem0 + (uint64_t)j);
}

/* out = loc + L eps. The noise is written to out first and the product formed from the last
 * row up, so that each out[i] overwrites an eps_i no later row needs: no scratch. */
static inline TRE_HD void tre_mvn_sample_row(int64_t d, const float *loc, const float *L,
                                             uint64_t seed, uint64_t stream, uint64_t elem0,
                                             float *out) {
    for (int64_t j = 0; j < d; ++j) out[j] = tre_mvn_eps(seed, stream, elem0, j);
    for (int64_t i = d - 1; i >= 0; --i) {
        double s = (double)loc[i];
        for (int64_t j = 0; j <= i; ++j) s += (double)L[i * d + j] * (double)out[j];
        out[i] = (float)s;
    }
}

/* Pathwise derivative of x = loc + L eps w.r.t. L, times the upstream g (d): gL_ij = g_i eps_j
 * (j <= i; 0 above), with eps regenerated exactly from the draw's Philox counters (d/dloc is
 * g itself). */
static inline TRE_HD void tre_mvn_rsample_grad_row(int64_t d, const float *g, uint64_t seed,
                                                   uint64_t stream, uint64_t elem0, float *gL) {
    for (int64_t j = 0; j < d; ++j) {
        float e = tre_mvn_eps(seed, stream, elem0, j);
        for (int64_t i = 0; i < d; ++i) gL[i * d + j] = j > i ? 0.f : g[i] * e;
    }
}

/* M = Lq^-1 Lp (lower-triangular), column by column; M is d x d row-major. */
static inline TRE_HD void tre_mvn_solve_lower_mat(int64_t d, const float *Lq, const float *Lp,
                                                  double *M) {
    for (int64_t j = 0; j < d; ++j)
        for (int64_t i = 0; i < d; ++i) {
            if (i < j) {
                M[i * d + j] = 0.0;
                continue;
            }
            double s = (double)Lp[i * d + j];
            for (int64_t k = j; k < i; ++k) s -= (double)Lq[i * d + k] * M[k * d + j];
            M[i * d + j] = s / (double)Lq[i * d + i];
        }
}

/* KL(N(mp, Lp Lp^T) || N(mq, Lq Lq^T))
 *   = log det Lq - log det Lp + (||Lq^-1 Lp||_F^2 + ||Lq^-1 (mq - mp)||^2 - d) / 2.
 * work: d * d + d doubles. */
static inline TRE_HD double tre_mvn_kl_row(int64_t d, const float *mp, const float *Lp,
                                           const float *mq, const float *Lq, double *work) {
    double *M = work, *y = work + d * d;
    tre_mvn_solve_lower_mat(d, Lq, Lp, M);
    double frob = 0.0, quad = 0.0;
    for (int64_t i = 0; i < d * d; ++i) frob += M[i] * M[i];
    for (int64_t i = 0; i < d; ++i) y[i] = (double)mq[i] - (double)mp[i];
    tre_mvn_solve_lower(d, Lq, y);
    for (int64_t i = 0; i < d; ++i) quad += y[i] * y[i];
    return tre_mvn_half_log_det(d, Lq) - tre_mvn_half_log_det(d, Lp) +
           0.5 * (frob + quad - (double)d);
}

/* g times the derivatives of that KL. With M = Lq^-1 Lp, A = Lq^-T M, y = Lq^-1 (mq - mp) and
 * w = Lq^-T y:
 *   d/dmp = -w,  d/dmq = w,
 *   d/dLp = tril(A) - diag(1 / Lp_ii),
 *   d/dLq = -tril(A M^T + w y^T) + diag(1 / Lq_ii).
 * Any output may be NULL; matrix outputs get 0 above the diagonal. work: 2 d^2 + 2 d doubles. */
static inline TRE_HD void tre_mvn_kl_grad_row(int64_t d, const float *mp, const float *Lp,
                                              const float *mq, const float *Lq, float g,
                                              float *gmp, float *gLp, float *gmq, float *gLq,
                                              double *work) {
    double *M = work, *A = work + d * d, *y = work + 2 * d * d, *w = y + d;
    tre_mvn_solve_lower_mat(d, Lq, Lp, M);
    /* A = Lq^-T M, column by column by back substitution */
    for (int64_t j = 0; j < d; ++j)
        for (int64_t i = d - 1; i >= 0; --i) {
            double s = M[i * d + j];
            for (int64_t k = i + 1; k < d; ++k) s -= (double)Lq[k * d + i] * A[k * d + j];
            A[i * d + j] = s / (double)Lq[i * d + i];
        }
    for (int64_t i = 0; i < d; ++i) y[i] = (double)mq[i] - (double)mp[i];
    tre_mvn_solve_lower(d, Lq, y);
    for (int64_t i = 0; i < d; ++i) w[i] = y[i];
    tre_mvn_solve_upper_t(d, Lq, w);
    const double gd = (double)g;
    for (int64_t i = 0; i < d; ++i) {
        if (gmp) gmp[i] = (float)(-gd * w[i]);
        if (gmq) gmq[i] = (float)(gd * w[i]);
    }
    for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j) {
            if (j > i) {
                if (gLp) gLp[i * d + j] = 0.f;
                if (gLq) gLq[i * d + j] = 0.f;
                continue;
            }
            if (gLp) {
                double v = A[i * d + j] - (i == j ? 1.0 / (double)Lp[i * d + i] : 0.0);
                gLp[i * d + j] = (float)(gd * v);
            }
            if (gLq) {
                double amt = 0.0; /* (A M^T)_ij = sum_k A_ik M_jk, M_jk = 0 for k > j */
                for (int64_t k = 0; k <= j; ++k) amt += A[i * d + k] * M[j * d + k];
                double v = -amt - w[i] * y[j] + (i == j ? 1.0 / (double)Lq[i * d + i] : 0.0);
                gLq[i * d + j] = (float)(gd * v);
            }
        }
}
#endif
