/* The device side of the CPU backend's `families[]` table (kernels/cpu/dist_cpu.c): per
 * elementwise family, what one element's log-density, log-density gradients, draw and pathwise
 * gradient are, as calls into the family's TRE_HD functions in kernels/math. Each entry mirrors
 * the CPU block function of the same family (kernels/cpu/dist_*_cpu.c) operation for operation,
 * including which products go through double and how masked-out elements get an exact 0, so
 * that the two backends agree to the last bit wherever libm and CUDA's math agree.
 *
 * A family is a struct with
 *   NP           number of parameters;
 *   NOISE        what its draw consumes: NOISE_NORMAL / NOISE_UNIFORM (number j of the Philox
 *                block of the element, as tre_philox_std_normal / tre_philox_uniform take it),
 *                NOISE_ELEM (its own per-element sequence, tre_philox_elem: rejection samplers)
 *                or NOISE_NONE;
 *   RGRAD        whether draws have a pathwise gradient;
 *   lp(x, p)                         log-density;
 *   lp_grad(x, p, f, want, gv, gp)   f * d lp / d x -> *gv (want bit 0), d / d p[i] -> gp[i]
 *                                    (want bit 1 + i);
 *   sample(w, j, seed, stream, elem, p)  the draw of element `elem` (w: its Philox block words);
 *   rs_grad(x, p, g, want, gp)       g * d x / d p[i] -> gp[i] (want bit 1 + i).
 * TRE_CUDA_FAMILIES lists them by tre_kdist for the host-side switches. */
#ifndef TRELBO_KERNELS_CUDA_DIST_FAMILIES_CUH
#define TRELBO_KERNELS_CUDA_DIST_FAMILIES_CUH

#include "cuda_common.cuh"
#include "../math/bernoulli.h"
#include "../math/beta.h"
#include "../math/binomial.h"
#include "../math/cauchy.h"
#include "../math/delta.h"
#include "../math/exponential.h"
#include "../math/gamma.h"
#include "../math/half_cauchy.h"
#include "../math/half_normal.h"
#include "../math/laplace.h"
#include "../math/log_normal.h"
#include "../math/normal.h"
#include "../math/philox.h"
#include "../math/poisson.h"
#include "../math/student_t.h"
#include "../math/uniform.h"

enum { NOISE_NONE = 0, NOISE_NORMAL, NOISE_UNIFORM, NOISE_ELEM };

#define TRE_WANT(want, k) (((want) >> (k)) & 1u)
#define TRE_FAM_FN static inline TRE_CUDA_FN

/* f * d with an exact 0 where f is 0 (masked out), even where d is infinite or NaN: in float
 * (the continuous families' CPU blocks) and through double (discrete and gamma groups). */
TRE_FAM_FN float tre_scaled_f(float f, float d) { return f != 0.f ? f * d : 0.f; }
TRE_FAM_FN float tre_scaled_d(float f, double d) { return f != 0.f ? (float)(f * d) : 0.f; }

/* The Philox noise of element j of a block, exactly as the CPU samplers draw it. */
TRE_FAM_FN float tre_noise_normal(const tre_u32x4 &w, int j) { return tre_philox_normal(w, j); }
TRE_FAM_FN double tre_noise_uniform(const tre_u32x4 &w, int j) { return tre_u32_to_open01_d(w.v[j]); }

/* ---- Normal (kernels/cpu/dist_cpu.c: plain f * d) ------------------------------------------ */
struct tre_fam_normal {
    static constexpr int NP = 2, NOISE = NOISE_NORMAL, RGRAD = 1;
    TRE_FAM_FN float lp(float x, const float *p) { return tre_normal_log_prob(x, p[0], p[1]); }
    TRE_FAM_FN void lp_grad(float x, const float *p, float f, unsigned want, float *gv, float *gp) {
        if (TRE_WANT(want, 0)) *gv = f * tre_normal_dlp_dx(x, p[0], p[1]);
        if (TRE_WANT(want, 1)) gp[0] = f * tre_normal_dlp_dloc(x, p[0], p[1]);
        if (TRE_WANT(want, 2)) gp[1] = f * tre_normal_dlp_dscale(x, p[0], p[1]);
    }
    TRE_FAM_FN float sample(const tre_u32x4 &w, int j, uint64_t, uint64_t, uint64_t, const float *p) {
        return tre_normal_rsample(tre_noise_normal(w, j), p[0], p[1]);
    }
    TRE_FAM_FN void rs_grad(float x, const float *p, float g, unsigned want, float *gp) {
        if (TRE_WANT(want, 1)) gp[0] = g;
        if (TRE_WANT(want, 2)) gp[1] = g * tre_normal_rsample_dscale(x, p[0], p[1]);
    }
};

/* ---- continuous families (kernels/cpu/dist_continuous_cpu.c: scaled in float) -------------- */

/* (loc, scale) families: log-density and its gradient by name */
#define TRE_FAM_LOC_SCALE(fam)                                                                 \
    TRE_FAM_FN float lp(float x, const float *p) { return tre_##fam##_log_prob(x, p[0], p[1]); } \
    TRE_FAM_FN void lp_grad(float x, const float *p, float f, unsigned want, float *gv, float *gp) { \
        if (TRE_WANT(want, 0)) *gv = tre_scaled_f(f, tre_##fam##_dlp_dx(x, p[0], p[1]));       \
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_f(f, tre_##fam##_dlp_dloc(x, p[0], p[1]));   \
        if (TRE_WANT(want, 2)) gp[1] = tre_scaled_f(f, tre_##fam##_dlp_dscale(x, p[0], p[1])); \
    }
/* one-parameter families */
#define TRE_FAM_SCALE(fam, param)                                                              \
    TRE_FAM_FN float lp(float x, const float *p) { return tre_##fam##_log_prob(x, p[0]); }     \
    TRE_FAM_FN void lp_grad(float x, const float *p, float f, unsigned want, float *gv, float *gp) { \
        if (TRE_WANT(want, 0)) *gv = tre_scaled_f(f, tre_##fam##_dlp_dx(x, p[0]));             \
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_f(f, tre_##fam##_dlp_d##param(x, p[0]));     \
    }

struct tre_fam_log_normal {
    static constexpr int NP = 2, NOISE = NOISE_NORMAL, RGRAD = 1;
    TRE_FAM_LOC_SCALE(log_normal)
    TRE_FAM_FN float sample(const tre_u32x4 &w, int j, uint64_t, uint64_t, uint64_t, const float *p) {
        return tre_log_normal_rsample(tre_noise_normal(w, j), p[0], p[1]);
    }
    TRE_FAM_FN void rs_grad(float x, const float *p, float g, unsigned want, float *gp) {
        if (TRE_WANT(want, 1)) gp[0] = g * tre_log_normal_rsample_dloc(x, p[0], p[1]);
        if (TRE_WANT(want, 2)) gp[1] = g * tre_log_normal_rsample_dscale(x, p[0], p[1]);
    }
};

struct tre_fam_half_normal {
    static constexpr int NP = 1, NOISE = NOISE_NORMAL, RGRAD = 1;
    TRE_FAM_SCALE(half_normal, scale)
    TRE_FAM_FN float sample(const tre_u32x4 &w, int j, uint64_t, uint64_t, uint64_t, const float *p) {
        return tre_half_normal_rsample(tre_noise_normal(w, j), p[0]);
    }
    TRE_FAM_FN void rs_grad(float x, const float *p, float g, unsigned want, float *gp) {
        if (TRE_WANT(want, 1)) gp[0] = g * tre_half_normal_rsample_dscale(x, p[0]);
    }
};

struct tre_fam_cauchy {
    static constexpr int NP = 2, NOISE = NOISE_UNIFORM, RGRAD = 1;
    TRE_FAM_LOC_SCALE(cauchy)
    TRE_FAM_FN float sample(const tre_u32x4 &w, int j, uint64_t, uint64_t, uint64_t, const float *p) {
        return tre_cauchy_sample(tre_noise_uniform(w, j), p[0], p[1]);
    }
    TRE_FAM_FN void rs_grad(float x, const float *p, float g, unsigned want, float *gp) {
        if (TRE_WANT(want, 1)) gp[0] = g;
        if (TRE_WANT(want, 2)) gp[1] = g * tre_cauchy_rsample_dscale(x, p[0], p[1]);
    }
};

struct tre_fam_half_cauchy {
    static constexpr int NP = 1, NOISE = NOISE_UNIFORM, RGRAD = 1;
    TRE_FAM_SCALE(half_cauchy, scale)
    TRE_FAM_FN float sample(const tre_u32x4 &w, int j, uint64_t, uint64_t, uint64_t, const float *p) {
        return tre_half_cauchy_sample(tre_noise_uniform(w, j), p[0]);
    }
    TRE_FAM_FN void rs_grad(float x, const float *p, float g, unsigned want, float *gp) {
        if (TRE_WANT(want, 1)) gp[0] = g * tre_half_cauchy_rsample_dscale(x, p[0]);
    }
};

struct tre_fam_laplace {
    static constexpr int NP = 2, NOISE = NOISE_UNIFORM, RGRAD = 1;
    TRE_FAM_LOC_SCALE(laplace)
    TRE_FAM_FN float sample(const tre_u32x4 &w, int j, uint64_t, uint64_t, uint64_t, const float *p) {
        return tre_laplace_sample(tre_noise_uniform(w, j), p[0], p[1]);
    }
    TRE_FAM_FN void rs_grad(float x, const float *p, float g, unsigned want, float *gp) {
        if (TRE_WANT(want, 1)) gp[0] = g;
        if (TRE_WANT(want, 2)) gp[1] = g * tre_laplace_rsample_dscale(x, p[0], p[1]);
    }
};

struct tre_fam_uniform {
    static constexpr int NP = 2, NOISE = NOISE_UNIFORM, RGRAD = 1;
    TRE_FAM_FN float lp(float x, const float *p) { return tre_uniform_log_prob(x, p[0], p[1]); }
    TRE_FAM_FN void lp_grad(float x, const float *p, float f, unsigned want, float *gv, float *gp) {
        if (TRE_WANT(want, 0)) *gv = tre_scaled_f(f, tre_uniform_dlp_dx(x, p[0], p[1]));
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_f(f, tre_uniform_dlp_dlow(x, p[0], p[1]));
        if (TRE_WANT(want, 2)) gp[1] = tre_scaled_f(f, tre_uniform_dlp_dhigh(x, p[0], p[1]));
    }
    TRE_FAM_FN float sample(const tre_u32x4 &w, int j, uint64_t, uint64_t, uint64_t, const float *p) {
        return tre_uniform_sample(tre_noise_uniform(w, j), p[0], p[1]);
    }
    TRE_FAM_FN void rs_grad(float x, const float *p, float g, unsigned want, float *gp) {
        if (TRE_WANT(want, 1)) gp[0] = g * tre_uniform_rsample_dlow(x, p[0], p[1]);
        if (TRE_WANT(want, 2)) gp[1] = g * tre_uniform_rsample_dhigh(x, p[0], p[1]);
    }
};

struct tre_fam_exponential {
    static constexpr int NP = 1, NOISE = NOISE_UNIFORM, RGRAD = 1;
    TRE_FAM_SCALE(exponential, rate)
    TRE_FAM_FN float sample(const tre_u32x4 &w, int j, uint64_t, uint64_t, uint64_t, const float *p) {
        return tre_exponential_sample(tre_noise_uniform(w, j), p[0]);
    }
    TRE_FAM_FN void rs_grad(float x, const float *p, float g, unsigned want, float *gp) {
        if (TRE_WANT(want, 1)) gp[0] = g * tre_exponential_rsample_drate(x, p[0]);
    }
};

struct tre_fam_delta {
    static constexpr int NP = 2, NOISE = NOISE_NONE, RGRAD = 1;
    TRE_FAM_FN float lp(float x, const float *p) { return tre_delta_log_prob(x, p[0], p[1]); }
    TRE_FAM_FN void lp_grad(float x, const float *p, float f, unsigned want, float *gv, float *gp) {
        if (TRE_WANT(want, 0)) *gv = 0.f;
        if (TRE_WANT(want, 1)) gp[0] = 0.f;
        if (TRE_WANT(want, 2)) gp[1] = tre_scaled_f(f, tre_delta_dlp_dlog_density(x, p[0], p[1]));
    }
    TRE_FAM_FN float sample(const tre_u32x4 &, int, uint64_t, uint64_t, uint64_t, const float *p) {
        return tre_delta_sample(p[0], p[1]);
    }
    TRE_FAM_FN void rs_grad(float, const float *, float g, unsigned want, float *gp) {
        if (TRE_WANT(want, 1)) gp[0] = g;
        if (TRE_WANT(want, 2)) gp[1] = 0.f;
    }
};

/* ---- discrete families (kernels/cpu/dist_discrete_cpu.c: scaled through double) ------------ */

struct tre_fam_bernoulli_probs {
    static constexpr int NP = 1, NOISE = NOISE_UNIFORM, RGRAD = 0;
    TRE_FAM_FN float lp(float x, const float *p) { return tre_bernoulli_probs_log_prob(x, p[0]); }
    TRE_FAM_FN void lp_grad(float x, const float *p, float f, unsigned want, float *gv, float *gp) {
        if (TRE_WANT(want, 0)) *gv = tre_scaled_d(f, tre_bernoulli_probs_dlp_dx(x, p[0]));
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_d(f, tre_bernoulli_probs_dlp_dprobs(x, p[0]));
    }
    TRE_FAM_FN float sample(const tre_u32x4 &w, int j, uint64_t, uint64_t, uint64_t, const float *p) {
        return tre_bernoulli_probs_sample(tre_noise_uniform(w, j), p[0]);
    }
};

struct tre_fam_bernoulli_logits {
    static constexpr int NP = 1, NOISE = NOISE_UNIFORM, RGRAD = 0;
    TRE_FAM_FN float lp(float x, const float *p) { return tre_bernoulli_logits_log_prob(x, p[0]); }
    TRE_FAM_FN void lp_grad(float x, const float *p, float f, unsigned want, float *gv, float *gp) {
        if (TRE_WANT(want, 0)) *gv = tre_scaled_d(f, tre_bernoulli_logits_dlp_dx(x, p[0]));
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_d(f, tre_bernoulli_logits_dlp_dlogits(x, p[0]));
    }
    TRE_FAM_FN float sample(const tre_u32x4 &w, int j, uint64_t, uint64_t, uint64_t, const float *p) {
        return tre_bernoulli_logits_sample(tre_noise_uniform(w, j), p[0]);
    }
};

struct tre_fam_poisson {
    static constexpr int NP = 1, NOISE = NOISE_ELEM, RGRAD = 0;
    TRE_FAM_FN float lp(float x, const float *p) { return (float)tre_poisson_log_prob(x, p[0]); }
    TRE_FAM_FN void lp_grad(float x, const float *p, float f, unsigned want, float *gv, float *gp) {
        if (TRE_WANT(want, 0)) *gv = tre_scaled_d(f, tre_poisson_dlp_dx(x, p[0]));
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_d(f, tre_poisson_dlp_drate(x, p[0]));
    }
    TRE_FAM_FN float sample(const tre_u32x4 &, int, uint64_t seed, uint64_t stream, uint64_t elem,
                            const float *p) {
        return tre_poisson_sample(seed, stream, elem, p[0]);
    }
};

struct tre_fam_binomial {
    static constexpr int NP = 2, NOISE = NOISE_ELEM, RGRAD = 0;
    TRE_FAM_FN float lp(float x, const float *p) { return (float)tre_binomial_log_prob(x, p[0], p[1]); }
    TRE_FAM_FN void lp_grad(float x, const float *p, float f, unsigned want, float *gv, float *gp) {
        const double k = x, tc = p[0], pr = p[1];
        if (TRE_WANT(want, 0)) *gv = tre_scaled_d(f, tre_binomial_dlp_dx(k, tc, pr));
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_d(f, tre_binomial_dlp_dtotal_count(k, tc, pr));
        if (TRE_WANT(want, 2)) gp[1] = tre_scaled_d(f, tre_binomial_dlp_dprobs(k, tc, pr));
    }
    TRE_FAM_FN float sample(const tre_u32x4 &, int, uint64_t seed, uint64_t stream, uint64_t elem,
                            const float *p) {
        return tre_binomial_sample(seed, stream, elem, p[0], p[1]);
    }
};

/* ---- gamma group (kernels/cpu/dist_gamma_cpu.c: double math, scaled through double) -------- */

struct tre_fam_gamma {
    static constexpr int NP = 2, NOISE = NOISE_ELEM, RGRAD = 1;
    TRE_FAM_FN float lp(float x, const float *p) { return (float)tre_gamma_log_prob(x, p[0], p[1]); }
    TRE_FAM_FN void lp_grad(float x, const float *p, float f, unsigned want, float *gv, float *gp) {
        const double xj = x, a = p[0], b = p[1];
        if (TRE_WANT(want, 0)) *gv = tre_scaled_d(f, tre_gamma_dlp_dx(xj, a, b));
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_d(f, tre_gamma_dlp_da(xj, a, b));
        if (TRE_WANT(want, 2)) gp[1] = tre_scaled_d(f, tre_gamma_dlp_db(xj, a, b));
    }
    TRE_FAM_FN float sample(const tre_u32x4 &, int, uint64_t seed, uint64_t stream, uint64_t elem,
                            const float *p) {
        return tre_gamma_sample(seed, stream, elem, p[0], p[1]);
    }
    TRE_FAM_FN void rs_grad(float x, const float *p, float g, unsigned want, float *gp) {
        const double xj = x, a = p[0], b = p[1];
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_d(g, tre_gamma_rsample_da(xj, a, b));
        if (TRE_WANT(want, 2)) gp[1] = tre_scaled_d(g, tre_gamma_rsample_db(xj, a, b));
    }
};

struct tre_fam_beta {
    static constexpr int NP = 2, NOISE = NOISE_ELEM, RGRAD = 1;
    TRE_FAM_FN float lp(float x, const float *p) { return (float)tre_beta_log_prob(x, p[0], p[1]); }
    TRE_FAM_FN void lp_grad(float x, const float *p, float f, unsigned want, float *gv, float *gp) {
        const double xj = x, a = p[0], b = p[1];
        if (TRE_WANT(want, 0)) *gv = tre_scaled_d(f, tre_beta_dlp_dx(xj, a, b));
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_d(f, tre_beta_dlp_da(xj, a, b));
        if (TRE_WANT(want, 2)) gp[1] = tre_scaled_d(f, tre_beta_dlp_db(xj, a, b));
    }
    TRE_FAM_FN float sample(const tre_u32x4 &, int, uint64_t seed, uint64_t stream, uint64_t elem,
                            const float *p) {
        return tre_beta_sample(seed, stream, elem, p[0], p[1]);
    }
    TRE_FAM_FN void rs_grad(float x, const float *p, float g, unsigned want, float *gp) {
        double da, db;
        tre_beta_rsample_grad(x, p[0], p[1], &da, &db);
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_d(g, da);
        if (TRE_WANT(want, 2)) gp[1] = tre_scaled_d(g, db);
    }
};

struct tre_fam_student_t {
    static constexpr int NP = 3, NOISE = NOISE_ELEM, RGRAD = 1;
    TRE_FAM_FN float lp(float x, const float *p) {
        return (float)tre_student_t_log_prob(x, p[0], p[1], p[2]);
    }
    TRE_FAM_FN void lp_grad(float x, const float *p, float f, unsigned want, float *gv, float *gp) {
        const double xj = x, df = p[0], loc = p[1], scale = p[2];
        if (TRE_WANT(want, 0)) *gv = tre_scaled_d(f, tre_student_t_dlp_dx(xj, df, loc, scale));
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_d(f, tre_student_t_dlp_ddf(xj, df, loc, scale));
        if (TRE_WANT(want, 2)) gp[1] = tre_scaled_d(f, tre_student_t_dlp_dloc(xj, df, loc, scale));
        if (TRE_WANT(want, 3)) gp[2] = tre_scaled_d(f, tre_student_t_dlp_dscale(xj, df, loc, scale));
    }
    TRE_FAM_FN float sample(const tre_u32x4 &, int, uint64_t seed, uint64_t stream, uint64_t elem,
                            const float *p) {
        return tre_student_t_sample(seed, stream, elem, p[0], p[1], p[2]);
    }
    TRE_FAM_FN void rs_grad(float x, const float *p, float g, unsigned want, float *gp) {
        const double xj = x, df = p[0], loc = p[1], scale = p[2];
        if (TRE_WANT(want, 1)) gp[0] = tre_scaled_d(g, tre_student_t_rsample_ddf(xj, df, loc, scale));
        if (TRE_WANT(want, 2)) gp[1] = g;
        if (TRE_WANT(want, 3)) gp[2] = tre_scaled_d(g, tre_student_t_rsample_dscale(xj, loc, scale));
    }
};

#undef TRE_FAM_LOC_SCALE
#undef TRE_FAM_SCALE

/* Every elementwise family, by its kernel id (the CPU table's rows). */
#define TRE_CUDA_FAMILIES(X)                                                                   \
    X(TRE_KDIST_NORMAL, tre_fam_normal)                                                        \
    X(TRE_KDIST_LOG_NORMAL, tre_fam_log_normal)                                                \
    X(TRE_KDIST_HALF_NORMAL, tre_fam_half_normal)                                              \
    X(TRE_KDIST_CAUCHY, tre_fam_cauchy)                                                        \
    X(TRE_KDIST_HALF_CAUCHY, tre_fam_half_cauchy)                                              \
    X(TRE_KDIST_LAPLACE, tre_fam_laplace)                                                      \
    X(TRE_KDIST_STUDENT_T, tre_fam_student_t)                                                  \
    X(TRE_KDIST_UNIFORM, tre_fam_uniform)                                                      \
    X(TRE_KDIST_EXPONENTIAL, tre_fam_exponential)                                              \
    X(TRE_KDIST_GAMMA, tre_fam_gamma)                                                          \
    X(TRE_KDIST_BETA, tre_fam_beta)                                                            \
    X(TRE_KDIST_DELTA, tre_fam_delta)                                                          \
    X(TRE_KDIST_BERNOULLI_PROBS, tre_fam_bernoulli_probs)                                      \
    X(TRE_KDIST_BERNOULLI_LOGITS, tre_fam_bernoulli_logits)                                    \
    X(TRE_KDIST_POISSON, tre_fam_poisson)                                                      \
    X(TRE_KDIST_BINOMIAL_PROBS, tre_fam_binomial)

/* Loads the NP parameters of an element (p[i] at offset off[first + i]). */
template <int NP>
static inline TRE_CUDA_FN void tre_load_params(float *pv, const float *const *data, const int64_t *off) {
#pragma unroll
    for (int i = 0; i < TRE_KDIST_MAX_PARAMS; ++i) pv[i] = i < NP ? data[i][off[i]] : 0.f;
}

#endif
