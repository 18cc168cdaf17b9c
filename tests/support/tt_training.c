/* The training problem of tt_training.h. */
#include <stddef.h>
#include "tt_training.h"

static const float ys[TT_TRAINING_ROWS] = {0.3f, 1.2f, -0.4f, 2.0f, 0.9f, 1.1f,
                                           0.2f, -0.8f, 1.6f, 0.5f, 0.0f, 1.4f};

tre_tensor *tt_training_model(tre_ctx *c, const void *args) {
    const tre_tensor *y = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 2.f)), NULL);
    tre_tensor *on = tre_sample(c, "on", tre_bernoulli_probs(c, tre_scalar(c, 0.4f)), NULL);
    tre_tensor *w = tre_param(c, "w", tre_full(c, 1, (int64_t[]){3}, 1.f / 3), TRE_C_SIMPLEX);
    tre_tensor *off = tre_sum(c, tre_mul(c, w, tre_from_host(c, 1, 1, (int64_t[]){3}, (float[]){-1.f, 0.f, 1.f})));
    tre_plate(c, "rows", TT_TRAINING_ROWS, 0);
    tre_sample(c, "y", tre_normal(c, tre_add(c, mu, tre_mul(c, on, off)), tre_scalar(c, 1.f)), y);
    tre_plate_end(c);
    return NULL;
}

tre_tensor *tt_training_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *m = tre_param(c, "m", tre_scalar(c, 0.f), TRE_C_REAL);
    tre_tensor *s = tre_param(c, "s", tre_scalar(c, 1.f), TRE_C_POSITIVE);
    tre_tensor *p = tre_param(c, "p", tre_scalar(c, 0.5f), TRE_C_UNIT_INTERVAL);
    tre_sample(c, "mu", tre_normal(c, m, s), NULL);
    tre_sample(c, "on", tre_bernoulli_probs(c, p), NULL);
    return NULL;
}

tre_tensor *tt_training_data(tre_ctx *ctx) {
    tre_tensor *y = NULL;
    const int64_t n = TT_TRAINING_ROWS;
    return tre_tensor_create(ctx, &y, TRE_F32, 1, 1, &n, ys) == TRE_OK ? y : NULL;
}
