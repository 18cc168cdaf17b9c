/* Constraint checks of single values (validation), shared by both backends. A NaN value never
 * passes; a NaN bound taken from another parameter (LESS_THAN's a) does, since that parameter's
 * own check reports it, with its name. */
#ifndef TRELBO_KERNELS_MATH_CHECK_H
#define TRELBO_KERNELS_MATH_CHECK_H
#include <math.h>
#include "hd.h"
#include "../backend.h"

static inline TRE_HD int tre_check_value(tre_kcheck check, float x, float a, float b, float ca) {
    switch (check) {
    case TRE_CHECK_NOT_NAN: return x == x;
    case TRE_CHECK_POSITIVE: return x > 0.f;
    case TRE_CHECK_NONNEGATIVE: return x >= 0.f;
    case TRE_CHECK_UNIT_INTERVAL: return x >= 0.f && x <= 1.f;
    case TRE_CHECK_BOOLEAN: return x == 0.f || x == 1.f;
    case TRE_CHECK_NONNEG_INTEGER: return x >= 0.f && floorf(x) == x && x != INFINITY; /* inf: not a count */
    case TRE_CHECK_INTEGER_UPTO: return x >= 0.f && x <= a && floorf(x) == x;
    case TRE_CHECK_BETWEEN: return x >= a && x <= b;
    case TRE_CHECK_LESS_THAN: return x < a || a != a;
    case TRE_CHECK_CATEGORY: return x >= 0.f && x < ca && floorf(x) == x;
    case TRE_CHECK_GREATER_THAN_C: return x > ca;
    }
    return 0;
}

/* A (float) index into K values, in [0, K): NaN and anything outside count as out of range (an
 * unchecked index, e.g. with validation off, must never address memory outside the values). */
static inline TRE_HD int tre_index_in_range(float x, int64_t K) { return x >= 0.f && x < (float)K; }
#endif
