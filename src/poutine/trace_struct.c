/* The Trace type (SPEC.md section 3): nodes in execution order, lookup by name, duplicate-name
 * rules, and the cached per-site and per-particle log-probs. */
#include <stdio.h>
#include <string.h>
#include "poutine_impl.h"

struct tre_trace {
    tre_strmap by_name;        /* name -> tre_trace_node* */
    tre_trace_node **nodes;
    int64_t count, cap;
    const void *args;
    tre_tensor *ret;
    tre_tensor *log_prob_sum;  /* cached */
};

tre_trace *tre_trace_new(tre_ctx *ctx) {
    tre_trace *tr = tre_step_alloc(ctx, sizeof *tr);
    if (tr) tre_strmap_init(&tr->by_name, tre_step_alloc_cb, NULL, ctx);
    return tr;
}

tre_status tre_trace_add(tre_ctx *ctx, tre_trace *tr, const tre_msg *msg) {
    tre_trace_node *old = tre_strmap_get(&tr->by_name, msg->name);
    if (old) {
        if (old->msg.type != msg->type)
            return tre_ctx_fail(ctx, TRE_ERR_DUPLICATE_SITE,
                                "site \"%s\" is already in the trace as a %s site, not a %s site",
                                msg->name, tre_site_type_name(old->msg.type),
                                tre_site_type_name(msg->type));
        if (msg->type != TRE_SITE_PARAM)
            return tre_ctx_fail(ctx, TRE_ERR_DUPLICATE_SITE, "multiple %s sites named \"%s\"",
                                tre_site_type_name(msg->type), msg->name);
        old->msg = *msg; /* a repeated param site replaces the earlier node */
        old->log_prob = old->log_prob_sum = NULL;
        return TRE_OK;
    }
    if (tr->count == tr->cap) {
        int64_t cap = tr->cap ? tr->cap * 2 : 16;
        tre_trace_node **nodes = tre_step_alloc(ctx, (size_t)cap * sizeof *nodes);
        if (!nodes) return ctx->status;
        if (tr->count) memcpy(nodes, tr->nodes, (size_t)tr->count * sizeof *nodes);
        tr->nodes = nodes;
        tr->cap = cap;
    }
    tre_trace_node *node = tre_step_alloc(ctx, sizeof *node);
    if (!node) return ctx->status;
    node->msg = *msg;
    if (!tre_strmap_put(&tr->by_name, node->msg.name, node))
        return tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "trace: out of memory");
    tr->nodes[tr->count++] = node;
    tr->log_prob_sum = NULL;
    return TRE_OK;
}

void tre_trace_set_io(tre_trace *tr, const void *args, tre_tensor *ret) {
    tr->args = args;
    tr->ret = ret;
}

int64_t tre_trace_size(const tre_trace *tr) { return tr ? tr->count : 0; }
const tre_trace_node *tre_trace_at(const tre_trace *tr, int64_t i) {
    return tr && i >= 0 && i < tr->count ? tr->nodes[i] : NULL;
}
const tre_trace_node *tre_trace_get(const tre_trace *tr, const char *name) {
    return tr && name ? tre_strmap_get(&tr->by_name, name) : NULL;
}
const void *tre_trace_args(const tre_trace *tr) { return tr ? tr->args : NULL; }
tre_tensor *tre_trace_return(const tre_trace *tr) { return tr ? tr->ret : NULL; }

static tre_trace_node *sample_node(tre_ctx *ctx, tre_trace *tr, const char *name) {
    tre_trace_node *node = tr && name ? tre_strmap_get(&tr->by_name, name) : NULL;
    if (!node || node->msg.type != TRE_SITE_SAMPLE) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "trace has no sample site \"%s\"", name ? name : "");
        return NULL;
    }
    return node;
}

/* With validation on, every value is checked against its distribution's support once, before
 * its first log-prob (observed data, replayed and conditioned values, and NaNs anywhere). */
static bool node_value_valid(tre_ctx *ctx, tre_trace_node *node) {
    if (!ctx->validate || node->log_prob || node->log_prob_sum) return true;
    const bool sig = tre_step_sig_pause(ctx);
    const tre_status vs = tre_dist_validate_value(ctx, node->msg.fn, node->msg.value);
    ctx->step_sig_on = sig;
    if (vs == TRE_OK) return true;
    tre_ctx_name_site(ctx, node->msg.name);
    return false;
}

/* scale * mask * log_prob of one node, computed once. */
static tre_tensor *node_log_prob(tre_ctx *ctx, tre_trace_node *node) {
    if (node->log_prob || !tre_ok(ctx)) return node->log_prob;
    if (!node_value_valid(ctx, node)) return NULL;
    const tre_msg *m = &node->msg;
    tre_tensor *lp = tre_dist_log_prob(ctx, m->fn, m->value);
    if (lp && (m->mask || m->scale != 1.0))
        lp = tre_mask_scale(ctx, lp, m->mask, m->scale, lp->particles, lp->ndim, lp->shape);
    if (!lp) {
        tre_ctx_name_site(ctx, m->name);
        return NULL;
    }
    node->log_prob = lp;
    if (!node->log_prob_sum) node->log_prob_sum = tre_sum(ctx, lp);
    return lp;
}

/* Per-particle sum of one node, cached; fused (nothing elementwise kept) unless the per-site
 * log_prob was already materialized. */
static tre_tensor *node_log_prob_sum(tre_ctx *ctx, tre_trace_node *node) {
    if (node->log_prob_sum || !tre_ok(ctx)) return node->log_prob_sum;
    if (!node_value_valid(ctx, node)) return NULL;
    const tre_msg *m = &node->msg;
    node->log_prob_sum = tre_dist_log_prob_sum(ctx, m->fn, m->value, m->mask, m->scale);
    if (!node->log_prob_sum) tre_ctx_name_site(ctx, m->name);
    return node->log_prob_sum;
}

tre_tensor *tre_trace_site_log_prob(tre_ctx *ctx, tre_trace *tr, const char *name) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    tre_trace_node *node = sample_node(ctx, tr, name);
    return node ? node_log_prob(ctx, node) : NULL;
}

tre_tensor *tre_trace_log_prob_sum(tre_ctx *ctx, tre_trace *tr) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!tr) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "log_prob_sum: trace is NULL");
        return NULL;
    }
    if (tr->log_prob_sum) return tr->log_prob_sum;
    tre_tensor *total = NULL;
    for (int64_t i = 0; i < tr->count && tre_ok(ctx); ++i) {
        tre_trace_node *node = tr->nodes[i];
        if (node->msg.type != TRE_SITE_SAMPLE || !node_log_prob_sum(ctx, node)) continue;
        total = total ? tre_add(ctx, total, node->log_prob_sum) : node->log_prob_sum;
    }
    if (!total) total = tre_scalar(ctx, 0.f);
    if (!tre_ok(ctx)) return NULL;
    tr->log_prob_sum = total;
    return total;
}

tre_status tre_trace_score_parts(tre_ctx *ctx, tre_trace *tr, const char *name,
                                 tre_tensor **log_prob, tre_tensor **score_function,
                                 tre_tensor **entropy) {
    if (!ctx) return TRE_ERR_INVALID_ARG;
    if (log_prob) *log_prob = NULL;
    if (score_function) *score_function = NULL;
    if (entropy) *entropy = NULL;
    if (!tre_ok(ctx)) return ctx->status;
    tre_trace_node *node = sample_node(ctx, tr, name);
    tre_tensor *lp = node ? node_log_prob(ctx, node) : NULL;
    if (!lp) return ctx->status;
    if (log_prob) *log_prob = lp;
    if (tre_dist_has_rsample(node->msg.fn)) {
        if (entropy) *entropy = lp;
    } else if (score_function) {
        /* the score-function term carries neither scale nor mask */
        *score_function = tre_dist_log_prob(ctx, node->msg.fn, node->msg.value);
    }
    return ctx->status;
}
