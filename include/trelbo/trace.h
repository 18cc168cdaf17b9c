/* Traces: the record of every message that reached a trace handler's postprocess. */
#ifndef TRELBO_TRACE_H
#define TRELBO_TRACE_H

#include "messenger.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tre_trace tre_trace;

typedef struct tre_trace_node {
    tre_msg msg;              /* a copy of the message as it left postprocess */
    tre_tensor *log_prob;     /* cached per-site scale*mask*log_prob, batch shape (or NULL) */
    tre_tensor *log_prob_sum; /* cached per-particle sum, shape [] */
} tre_trace_node;

int64_t tre_trace_size(const tre_trace *tr);
const tre_trace_node *tre_trace_at(const tre_trace *tr, int64_t i);   /* execution order */
const tre_trace_node *tre_trace_get(const tre_trace *tr, const char *name);
const void *tre_trace_args(const tre_trace *tr);         /* the input node */
tre_tensor *tre_trace_return(const tre_trace *tr);       /* the _RETURN node */

/* Per-site scale * mask * log_prob (masked elements exactly 0), computed once and cached. */
tre_tensor *tre_trace_site_log_prob(tre_ctx *ctx, tre_trace *tr, const char *name);
/* Sum over every sample node (observed included, index sites excluded): one number per
 * particle, shape [] with the particle extent of the values. */
tre_tensor *tre_trace_log_prob_sum(tre_ctx *ctx, tre_trace *tr);

/* Score parts of a sample site (docs/SPEC.md section 3): reparameterized sites give
 * (log_prob, 0, log_prob), others (log_prob, log_prob, 0). The score-function term carries no
 * scale or mask. Any out pointer may be NULL; 0 terms come back as NULL. */
tre_status tre_trace_score_parts(tre_ctx *ctx, tre_trace *tr, const char *name,
                                 tre_tensor **log_prob, tre_tensor **score_function,
                                 tre_tensor **entropy);

#ifdef __cplusplus
}
#endif
#endif
