/* Categorical(logits) over one row of K unnormalized logits, shared by the CPU and CUDA
 * backends (one row per thread): log-density, its derivative, inverse-CDF draws, and the KL
 * divergence between two rows with its derivatives. Values are category indices held in floats.
 *
 * The normalizer is kept as (max, log1p(tail)) where tail = sum over k != argmax of
 * exp(l_k - max), all in double: then log p(argmax) = -log1p(tail) keeps full relative accuracy
 * even when it is tiny (logits +50 / -50 give -3.7e-44, not 0), which max + log(sum) loses.
 * A row that holds NaN or +inf, or only -inf, has a NaN normalizer, as in PyTorch. */
#ifndef TRELBO_KERNELS_MATH_CATEGORICAL_H
#define TRELBO_KERNELS_MATH_CATEGORICAL_H
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include "hd.h"

typedef struct tre_cat_norm {
    double max;       /* largest logit */
    double log_tail;  /* log1p(sum of exp(l_k - max) over k other than the first argmax) */
} tre_cat_norm;

/* Rows this short keep their weights exp(l_k - max) in a local array, so that a draw or a
 * gradient takes one exp per category (longer rows compute them again). */
#define TRE_CAT_ROW_CACHE 16

/* The row's largest logit into *max, and the sum of exp(l_k - max) over the categories other
 * than the first argmax (the tail; NaN when the row has NaN, +inf, or only -inf). When w is not
 * NULL (k <= TRE_CAT_ROW_CACHE) it receives every weight exp(l_k - max), the argmax's 1. */
static inline TRE_HD double tre_categorical_tail_row(int64_t k, const float *l, double *max, double *w) {
    int64_t am = 0;
    double m = (double)l[0];
    for (int64_t i = 1; i < k; ++i)
        if ((double)l[i] > m || l[i] != l[i]) {
            m = (double)l[i];
            am = i;
            if (m != m) break;
        }
    *max = m;
    if (m != m || isinf(m)) { /* NaN anywhere, +inf, or every logit -inf */
        for (int64_t i = 0; w && i < k; ++i) w[i] = NAN;
        return NAN;
    }
    double tail = 0.0;
    for (int64_t i = 0; i < k; ++i) {
        const double wi = i == am ? 1.0 : exp((double)l[i] - m);
        if (i != am) tail += wi;
        if (w) w[i] = wi;
    }
    return tail;
}

static inline TRE_HD tre_cat_norm tre_categorical_norm_row(int64_t k, const float *l) {
    tre_cat_norm n;
    n.log_tail = log1p(tre_categorical_tail_row(k, l, &n.max, NULL));
    return n;
}

/* log p(k) given the row's normalizer */
static inline TRE_HD double tre_categorical_log_softmax(const tre_cat_norm *n, float lk) {
    return ((double)lk - n->max) - n->log_tail;
}

/* The category index a value holds, or -1 when it is not an integer in [0, k). */
static inline TRE_HD int64_t tre_categorical_index(int64_t k, float v) {
    if (!(v >= 0.f) || !(v < (float)k) || floorf(v) != v) return -1;
    int64_t i = (int64_t)v;
    return i < k ? i : -1;
}

/* log p(value); NaN for a value outside the support (checked only when validation is off). */
static inline TRE_HD float tre_categorical_log_prob_pre(int64_t k, const float *l,
                                                        const tre_cat_norm *n, float value) {
    int64_t i = tre_categorical_index(k, value);
    return i < 0 ? NAN : (float)tre_categorical_log_softmax(n, l[i]);
}

static inline TRE_HD float tre_categorical_log_prob_row(int64_t k, const float *l, float value) {
    tre_cat_norm n = tre_categorical_norm_row(k, l);
    return tre_categorical_log_prob_pre(k, l, &n, value);
}

/* grad[j] = g * d log p(value) / d l_j = g * ([j == value] - softmax_j), with softmax_j =
 * exp(l_j - max) / (1 + tail): no log, and one exp per category for short rows. */
static inline TRE_HD void tre_categorical_log_prob_grad_row(int64_t k, const float *l, float value,
                                                            float g, float *grad) {
    double w[TRE_CAT_ROW_CACHE], max;
    const bool cached = k <= TRE_CAT_ROW_CACHE;
    const double inv = 1.0 / (1.0 + tre_categorical_tail_row(k, l, &max, cached ? w : NULL));
    int64_t v = tre_categorical_index(k, value);
    for (int64_t j = 0; j < k; ++j) {
        double p = (cached ? w[j] : exp((double)l[j] - max)) * inv;
        grad[j] = v < 0 ? NAN : (float)((double)g * ((j == v ? 1.0 : 0.0) - p));
    }
}

/* The end of tre_categorical_shared_grad_row, given its sums: count_j - softmax_j * G (NaN
 * everywhere when a value was outside the support). */
static inline TRE_HD void tre_categorical_shared_grad_finish(int64_t k, const float *l, const double *count,
                                                             double G, bool bad, float *grad) {
    const tre_cat_norm n = tre_categorical_norm_row(k, l);
    for (int64_t j = 0; j < k; ++j)
        grad[j] = bad ? NAN : (float)(count[j] - exp(tre_categorical_log_softmax(&n, l[j])) * G);
}

/* The particles' contribution to d / d l of one logits row they all share: with
 * count_j = sum of g_p over the particles whose value is j, and G = sum of all g_p (a value
 * outside the support makes its row NaN), the gradient is count_j - softmax_j * G. values and
 * g are read at strides vs and gs; count receives the k sums (double scratch of k). */
static inline TRE_HD void tre_categorical_shared_grad_row(int64_t k, const float *l, int64_t P,
                                                          const float *g, int64_t gs,
                                                          const float *v, int64_t vs,
                                                          double *count, float *grad) {
    for (int64_t j = 0; j < k; ++j) count[j] = 0.0;
    double G = 0.0;
    bool bad = false;
    for (int64_t p = 0; p < P; ++p) {
        const int64_t i = tre_categorical_index(k, v[p * vs]);
        const double gp = (double)g[p * gs];
        if (i < 0) bad = true;
        else count[i] += gp;
        G += gp;
    }
    tre_categorical_shared_grad_finish(k, l, count, G, bad, grad);
}

/* Inverse-CDF draw from uniform u in (0, 1): the first k whose cumulative weight exceeds
 * u * total, total = 1 + tail. Zero-weight categories are never returned (rounding at the top
 * end falls back to the last category of positive weight). NaN when the row has no valid
 * normalizer. */
static inline TRE_HD float tre_categorical_sample_row(int64_t k, const float *l, double u) {
    double w[TRE_CAT_ROW_CACHE], max;
    const bool cached = k <= TRE_CAT_ROW_CACHE;
    const double tail = tre_categorical_tail_row(k, l, &max, cached ? w : NULL);
    if (tail != tail) return NAN;
    double target = u * (1.0 + tail), cum = 0.0;
    int64_t last = 0;
    for (int64_t i = 0; i < k; ++i) {
        double wi = cached ? w[i] : exp((double)l[i] - max);
        if (wi <= 0.0) continue;
        cum += wi;
        last = i;
        if (cum > target) return (float)i;
    }
    return (float)last;
}

/* KL(p || q) of two rows: sum_k p_k (log p_k - log q_k). Terms with p_k = 0 are 0; a
 * category with q_k = 0 < p_k makes it +inf (PyTorch's conventions). */
static inline TRE_HD double tre_categorical_kl_row(int64_t k, const float *lp, const float *lq) {
    tre_cat_norm np = tre_categorical_norm_row(k, lp), nq = tre_categorical_norm_row(k, lq);
    double acc = 0.0;
    for (int64_t i = 0; i < k; ++i) {
        double logp = tre_categorical_log_softmax(&np, lp[i]);
        double p = exp(logp);
        if (p == 0.0 && logp == logp) continue;
        double logq = tre_categorical_log_softmax(&nq, lq[i]);
        acc += logq == -INFINITY ? INFINITY : p * (logp - logq);
    }
    return acc;
}

/* Derivatives of g * KL(p || q): gp[j] = g p_j (log p_j - log q_j - KL), gq[j] = g (q_j - p_j)
 * (either may be NULL). */
static inline TRE_HD void tre_categorical_kl_grad_row(int64_t k, const float *lp, const float *lq,
                                                      float g, float *gp, float *gq) {
    tre_cat_norm np = tre_categorical_norm_row(k, lp), nq = tre_categorical_norm_row(k, lq);
    double kl = tre_categorical_kl_row(k, lp, lq);
    for (int64_t j = 0; j < k; ++j) {
        double logp = tre_categorical_log_softmax(&np, lp[j]);
        double logq = tre_categorical_log_softmax(&nq, lq[j]);
        double p = exp(logp), q = exp(logq);
        if (gp) gp[j] = p == 0.0 && logp == logp ? 0.f : (float)((double)g * p * (logp - logq - kl));
        if (gq) gq[j] = (float)((double)g * (q - p));
    }
}
#endif
