/* Shared test helpers: contexts, host copies of tensors, status assertions. */
#ifndef TRELBO_TEST_SUPPORT_H
#define TRELBO_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "trelbo.h"

/* A CPU context with the given seed; fails the test if creation fails. */
tre_ctx *tt_ctx(uint64_t seed);
/* Host copy of a tensor's data (particles * numel floats), freed at the next tt_host call
 * on the same slot (0..7). */
const float *tt_host(tre_ctx *ctx, const tre_tensor *t, int slot);
/* Scalar value of particle p of a tensor of shape []. */
float tt_at(tre_ctx *ctx, const tre_tensor *t, int64_t p);
/* Persistent 1-d data tensor. */
tre_tensor *tt_data(tre_ctx *ctx, int64_t n, const float *values);
/* A warning callback that counts calls (user: int*) and keeps the last message. */
void tt_count_warnings(void *user, const char *message);
extern char tt_last_warning[512];

/* Status assertions that print the context's error text. */
#define TT_OK(ctx, expr)                                                                         \
    do {                                                                                         \
        tre_status s_ = (expr);                                                                  \
        if (s_ != TRE_OK) fail_msg("%s -> %s: %s", #expr, tre_status_name(s_), tre_ctx_error(ctx)); \
    } while (0)
#define TT_FAILS_WITH(ctx, expr, status, needle)                                                 \
    do {                                                                                         \
        tre_status s_ = (expr);                                                                  \
        if (s_ != (status))                                                                      \
            fail_msg("%s -> %s, expected %s (%s)", #expr, tre_status_name(s_),                   \
                     tre_status_name(status), tre_ctx_error(ctx));                              \
        if (!strstr(tre_ctx_error(ctx), (needle)))                                               \
            fail_msg("error \"%s\" does not mention \"%s\"", tre_ctx_error(ctx), (needle));      \
    } while (0)
#define TT_NEAR(a, b, tol)                                                                       \
    do {                                                                                         \
        double a_ = (a), b_ = (b);                                                               \
        if (!(fabs(a_ - b_) <= (tol)))                                                           \
            fail_msg("%s = %.9g, %s = %.9g, |diff| %.3g > %.3g", #a, a_, #b, b_, fabs(a_ - b_),    \
                     (double)(tol));                                                             \
    } while (0)

#endif
