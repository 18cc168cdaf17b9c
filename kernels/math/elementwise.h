/* Scalar elementwise functions shared by both backends: careful softplus, sigmoid, logit. */
#ifndef TRELBO_KERNELS_MATH_ELEMENTWISE_H
#define TRELBO_KERNELS_MATH_ELEMENTWISE_H
#include <math.h>
#include "hd.h"

/* log(1 + exp(x)) without overflow or loss for large |x|. */
static inline TRE_HD float tre_softplus(float x) {
    return x > 0.f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}
/* Inverse of softplus: log(exp(y) - 1) = y + log(-expm1(-y)), for y > 0. */
static inline TRE_HD float tre_softplus_inv(float y) {
    return y > 20.f ? y : logf(expm1f(y));
}
static inline TRE_HD float tre_sigmoid(float x) {
    if (x >= 0.f) return 1.f / (1.f + expf(-x));
    float e = expf(x);
    return e / (1.f + e);
}
static inline TRE_HD float tre_logit(float p) { return logf(p) - log1pf(-p); }
/* log(sigmoid(x)) = -softplus(-x) */
static inline TRE_HD float tre_log_sigmoid(float x) { return -tre_softplus(-x); }

static inline TRE_HD float tre_binop_apply(int op, float a, float b) {
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    default: return a / b;
    }
}
#endif
