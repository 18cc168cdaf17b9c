/* Dirichlet(concentration) draws for one row of k components, shared by the CPU and CUDA
 * backends, and their pathwise derivatives.
 *
 * Draw: x_j = G_j / sum_i G_i with G_j ~ Gamma(conc_j, 1), the standard gamma draw of element
 * elem0 + j of random op `stream` (so the same numbers as a Gamma sample of the row's shape).
 * The G_j are combined in log space, x_j = exp(L_j - logsumexp(L)) with L_j = log G_j: for small
 * concentrations (total below about 0.05) every G_j of a row can underflow float, and even
 * double, and a ratio of clamped draws would make the row uniform. A component is then clamped
 * below at the smallest normal float, as PyTorch clamps its draws, so its log-density is finite.
 * The row's draws are regenerated from the Philox counters instead of being kept between the
 * draw and its gradient; within one row function, a backend may keep them (see `lg` below).
 *
 * Derivative (implicit reparameterization): d x_i / d conc_j = x_i (delta_ij - x_j) dL_j/dconc_j,
 * so with upstream g, grad conc_j = x_j (g_j - sum_i g_i x_i) dL_j/dconc_j. */
#ifndef TRELBO_KERNELS_MATH_DIRICHLET_H
#define TRELBO_KERNELS_MATH_DIRICHLET_H
#include "gamma.h"

static inline TRE_HD double tre_dirichlet_log_gamma(const float *conc, int64_t j, uint64_t seed,
                                                    uint64_t stream, uint64_t elem0) {
    return tre_std_gamma_log_sample((double)conc[j], seed, stream, elem0 + (uint64_t)j, 0u);
}

/* The row functions take `lg`, room for the row's k values L_j, or NULL. With it, the first pass
 * keeps the L_j there and later passes read them back: one Gamma draw per component instead of
 * two (a draw) or three (its gradient), for a backend that can spare k doubles per row (the
 * CPU's). Without it, every pass regenerates them. Both give the same bits. */
static inline TRE_HD double tre_dirichlet_kept(const double *lg, const float *conc, int64_t j,
                                               uint64_t seed, uint64_t stream, uint64_t elem0) {
    return lg ? lg[j] : tre_dirichlet_log_gamma(conc, j, seed, stream, elem0);
}

/* logsumexp of the row's L_j: *m their max, *s = sum exp(L_j - m) (NaN anywhere: NaN); fills lg
 * (when given) with every L_j. */
static inline TRE_HD void tre_dirichlet_row_lse(int64_t k, const float *conc, uint64_t seed,
                                                uint64_t stream, uint64_t elem0, double *lg,
                                                double *m, double *s) {
    double mx = -INFINITY, sum = 0.0;
    bool nan = false;
    for (int64_t j = 0; j < k; ++j) {
        const double l = tre_dirichlet_log_gamma(conc, j, seed, stream, elem0);
        if (lg) lg[j] = l;
        if (isnan(l)) {
            nan = true;
            if (!lg) break; /* nothing else to keep */
        }
        if (nan) continue;
        if (l > mx) {
            sum = sum * exp(mx - l) + 1.0;
            mx = l;
        } else {
            sum += exp(l - mx);
        }
    }
    *m = nan ? NAN : mx;
    *s = nan ? NAN : sum;
}

static inline TRE_HD void tre_dirichlet_sample_row(int64_t k, const float *conc, uint64_t seed,
                                                   uint64_t stream, uint64_t elem0, double *lg,
                                                   float *out) {
    double m, s;
    tre_dirichlet_row_lse(k, conc, seed, stream, elem0, lg, &m, &s);
    for (int64_t j = 0; j < k; ++j) {
        const float x = (float)(exp(tre_dirichlet_kept(lg, conc, j, seed, stream, elem0) - m) / s);
        out[j] = x < FLT_MIN ? FLT_MIN : x; /* NaN passes through */
    }
}

/* grad_conc[j] for the row's draw (regenerated once), given the upstream gradient g[k]. */
static inline TRE_HD void tre_dirichlet_rsample_grad_row(int64_t k, const float *conc, const float *g,
                                                         uint64_t seed, uint64_t stream,
                                                         uint64_t elem0, double *lg,
                                                         float *grad_conc) {
    double m, s;
    tre_dirichlet_row_lse(k, conc, seed, stream, elem0, lg, &m, &s);
    double gx = 0.0;
    for (int64_t j = 0; j < k; ++j)
        gx += (double)g[j] * (exp(tre_dirichlet_kept(lg, conc, j, seed, stream, elem0) - m) / s);
    for (int64_t j = 0; j < k; ++j) {
        const double l = tre_dirichlet_kept(lg, conc, j, seed, stream, elem0);
        const double x = exp(l - m) / s;
        grad_conc[j] = (float)(x * ((double)g[j] - gx) * tre_std_gamma_dlog_da((double)conc[j], l));
    }
}
#endif
