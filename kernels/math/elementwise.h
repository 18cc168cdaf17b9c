/* Scalar elementwise functions shared by both backends: careful softplus, sigmoid, logit. */
#ifndef TRELBO_KERNELS_MATH_ELEMENTWISE_H
#define TRELBO_KERNELS_MATH_ELEMENTWISE_H
#include <float.h>
#include <math.h>
#include "hd.h"
#include "vmath.h"
#include "special.h"
#include "../backend.h"

/* log(1 + exp(x)) without overflow or loss for large |x| (vectorizable: vmath.h). */
static inline TRE_HD float tre_softplus(float x) { return tre_vsoftplusf(x); }
/* Inverse of softplus: log(exp(y) - 1) = y + log(-expm1(-y)), for y > 0. */
static inline TRE_HD float tre_softplus_inv(float y) {
    return y > 20.f ? y : logf(expm1f(y));
}
static inline TRE_HD float tre_sigmoid(float x) {
    float e = tre_vexpf(x >= 0.f ? -x : x); /* exp(-|x|) never overflows */
    return x >= 0.f ? 1.f / (1.f + e) : e / (1.f + e);
}
/* The inverse of sigmoid as PyTorch's SigmoidTransform inverts it: p clamped to
 * [FLT_MIN, 1 - FLT_EPSILON] first, so a value on the bound of a unit_interval or interval
 * param (an init of 0 or 1) has a finite unconstrained value (-87.3 or 15.9) that the
 * optimiser can move, not an infinite one that stays stuck (NaN passes through). */
static inline TRE_HD float tre_logit(float p) {
    if (p < FLT_MIN) p = FLT_MIN;
    else if (p > 1.f - FLT_EPSILON) p = 1.f - FLT_EPSILON;
    return logf(p) - log1pf(-p);
}
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
/* One unary op (tre_unop) on one value: the single definition both backends evaluate. */
static inline TRE_HD float tre_unary_apply(int op, float x) {
    switch (op) {
    case TRE_OP_NEG: return -x;
    case TRE_OP_EXP: return expf(x);
    case TRE_OP_LOG: return logf(x);
    case TRE_OP_SQUARE: return x * x;
    case TRE_OP_SOFTPLUS: return tre_softplus(x);
    case TRE_OP_SOFTPLUS_INV: return tre_softplus_inv(x);
    case TRE_OP_SIGMOID: return tre_sigmoid(x);
    case TRE_OP_LOGIT: return tre_logit(x);
    case TRE_OP_LOG_SIGMOID: return tre_log_sigmoid(x);
    case TRE_OP_LGAMMA: return (float)tre_lgamma(x);
    case TRE_OP_DIGAMMA: return (float)tre_digamma(x);
    case TRE_OP_LOG1P: return log1pf(x);
    case TRE_OP_EXPM1: return expm1f(x);
    case TRE_OP_ABS: return fabsf(x);
    case TRE_OP_SIGN: return x > 0.f ? 1.f : x < 0.f ? -1.f : x;
    case TRE_OP_TRIGAMMA: return (float)tre_trigamma(x);
    case TRE_OP_ERF: return erff(x);
    case TRE_OP_TETRAGAMMA: return (float)tre_tetragamma(x);
    default: return NAN;
    }
}

#endif
