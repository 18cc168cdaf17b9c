/* Distribution internals: a family table per distribution and the generic dist object. */
#ifndef TRELBO_DIST_IMPL_H
#define TRELBO_DIST_IMPL_H
#include "../tensor/tensor_impl.h"

typedef struct tre_dist_family {
    const char *name;
    tre_kdist kernel;                 /* the elementwise kernel of log_prob / sample */
    int nparams;
    const char *param_names[TRE_KDIST_MAX_PARAMS];
    bool has_rsample;
} tre_dist_family;

struct tre_dist {
    const tre_dist_family *family;
    const tre_tensor *params[TRE_KDIST_MAX_PARAMS];
    int batch_ndim;
    int64_t batch_shape[TRE_MAX_DIMS];
    int event_ndim;                   /* dims moved by to_event (the families here are scalar) */
    int64_t event_shape[TRE_MAX_DIMS];
};

/* A distribution of an elementwise family: checks arguments, batch shape = broadcast of the
 * parameters' shapes. */
tre_dist *tre_dist_elementwise(tre_ctx *ctx, const tre_dist_family *family,
                               const tre_tensor *const *params);
/* Per-particle sum of scale * mask * log_prob(value), fused in one kernel without
 * materializing the elementwise log-densities (mask: NULL, or covering the batch dims). */
tre_tensor *tre_dist_log_prob_sum(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                                  const tre_tensor *mask, double scale);
/* Particle extent shared by the parameters (P or 1). */
int64_t tre_dist_particles(const tre_dist *d);
#endif
