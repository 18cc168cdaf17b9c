/* Distributions: constructors, reshaping (to_event, expand), log_prob and sampling. */
#ifndef TRELBO_DIST_H
#define TRELBO_DIST_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tre_dist tre_dist;

/* Normal(loc, scale), reparameterized. Step-scoped; NULL on error (sticky). */
tre_dist *tre_normal(tre_ctx *ctx, const tre_tensor *loc, const tre_tensor *scale);

/* Move the rightmost n batch dims into the event (Pyro's to_event / Independent). */
tre_dist *tre_dist_to_event(tre_ctx *ctx, const tre_dist *d, int n);
/* Broadcast the batch shape to `shape` (Pyro's expand). */
tre_dist *tre_dist_expand(tre_ctx *ctx, const tre_dist *d, int ndim, const int64_t *shape);

const char *tre_dist_name(const tre_dist *d);
bool tre_dist_has_rsample(const tre_dist *d);
int tre_dist_batch_shape(const tre_dist *d, int64_t *shape);  /* returns ndim */
int tre_dist_event_shape(const tre_dist *d, int64_t *shape);  /* returns ndim */

/* log_prob of value: shape = batch shape broadcast with value's batch dims; particle extent
 * of the inputs. Sample: particles draws (extent `particles`), shape batch + event. */
tre_tensor *tre_dist_log_prob(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value);
tre_tensor *tre_dist_sample(tre_ctx *ctx, const tre_dist *d, int64_t particles);

#ifdef __cplusplus
}
#endif
#endif
