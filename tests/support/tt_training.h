/* A small training problem for tests of whole runs (checkpoints, injected failures):
 *   mu ~ Normal(0, 2), on ~ Bernoulli(0.4) (a score-function site: the random stream matters),
 *   y_i ~ Normal(mu + on * (w . (-1, 0, 1)), 1) over a plate of TT_TRAINING_ROWS rows,
 * with w a simplex param of the model, and a guide of params m (real), s (positive) and p
 * (unit interval). args: the data, from tt_training_data. */
#ifndef TRELBO_TT_TRAINING_H
#define TRELBO_TT_TRAINING_H
#include "trelbo.h"

#define TT_TRAINING_ROWS 12
tre_tensor *tt_training_model(tre_ctx *c, const void *args);
tre_tensor *tt_training_guide(tre_ctx *c, const void *args);
/* The data y [TT_TRAINING_ROWS], persistent (NULL with the context's error on failure). */
tre_tensor *tt_training_data(tre_ctx *ctx);
#endif
