/* Status names, the sticky error state and warnings. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctx_impl.h"

const char *tre_status_name(tre_status s) {
    switch (s) {
    case TRE_OK: return "TRE_OK";
    case TRE_ERR_INVALID_ARG: return "TRE_ERR_INVALID_ARG";
    case TRE_ERR_SHAPE: return "TRE_ERR_SHAPE";
    case TRE_ERR_DUPLICATE_SITE: return "TRE_ERR_DUPLICATE_SITE";
    case TRE_ERR_REPLAY: return "TRE_ERR_REPLAY";
    case TRE_ERR_STACK: return "TRE_ERR_STACK";
    case TRE_ERR_PARAM: return "TRE_ERR_PARAM";
    case TRE_ERR_DIST: return "TRE_ERR_DIST";
    case TRE_ERR_PLATE: return "TRE_ERR_PLATE";
    case TRE_ERR_MODEL: return "TRE_ERR_MODEL";
    case TRE_ERR_OUT_OF_MEMORY: return "TRE_ERR_OUT_OF_MEMORY";
    case TRE_ERR_BACKEND: return "TRE_ERR_BACKEND";
    case TRE_ERR_UNSUPPORTED: return "TRE_ERR_UNSUPPORTED";
    case TRE_ERR_IO: return "TRE_ERR_IO";
    }
    return "TRE_ERR_UNKNOWN";
}

tre_status tre_ctx_status(const tre_ctx *ctx) { return ctx ? ctx->status : TRE_ERR_INVALID_ARG; }
const char *tre_ctx_error(const tre_ctx *ctx) { return ctx ? ctx->error : "ctx is NULL"; }

void tre_ctx_clear_error(tre_ctx *ctx) {
    if (!ctx) return;
    ctx->status = TRE_OK;
    ctx->error[0] = '\0';
    ctx->error_needs_site = false;
}

void tre_error_set_aside(tre_ctx *ctx, tre_error_aside *a) {
    a->status = ctx->status;
    if (a->status == TRE_OK) return;
    a->needs_site = ctx->error_needs_site;
    memcpy(a->error, ctx->error, sizeof a->error);
    tre_ctx_clear_error(ctx);
}

tre_status tre_error_put_back(tre_ctx *ctx, const tre_error_aside *a, tre_status own) {
    if (own != TRE_OK || a->status == TRE_OK) return own;
    ctx->status = a->status;
    ctx->error_needs_site = a->needs_site;
    memcpy(ctx->error, a->error, sizeof ctx->error);
    return own;
}

/* Names longer than TRE_NAME_SHOWN characters show in messages as their first and last
 * characters around "...": a site name of thousands of characters would otherwise fill the
 * message before its reason. */
enum { TRE_NAME_SHOWN = 120, TRE_NAME_HEAD = 80, TRE_NAME_TAIL = 37 };

/* Write name (len characters) quoted and shortened to out, which may overlap the name at or
 * before it; returns the characters written (at most TRE_NAME_SHOWN + 2, no terminator). */
static size_t write_shown_name(char *out, const char *name, size_t len) {
    char *w = out;
    *w++ = '"';
    if (len <= TRE_NAME_SHOWN) {
        memmove(w, name, len);
        w += len;
    } else {
        memmove(w, name, TRE_NAME_HEAD);
        w += TRE_NAME_HEAD;
        memcpy(w, "...", 3);
        w += 3;
        memmove(w, name + len - TRE_NAME_TAIL, TRE_NAME_TAIL);
        w += TRE_NAME_TAIL;
    }
    *w++ = '"';
    return (size_t)(w - out);
}

/* Shorten, in place, every double-quoted run of s longer than TRE_NAME_SHOWN characters. */
static void elide_long_quotes(char *s) {
    char *w = s;
    for (const char *r = s; *r;) {
        const char *close = *r == '"' ? strchr(r + 1, '"') : NULL;
        if (close) {
            w += write_shown_name(w, r + 1, (size_t)(close - r - 1));
            r = close + 1;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

/* Whether msg holds name between double quotes. */
static bool names_quoted(const char *msg, const char *name) {
    const size_t len = strlen(name);
    if (len == 0) return strstr(msg, "\"\"") != NULL;
    for (const char *at = strstr(msg, name); at; at = strstr(at + 1, name))
        if (at > msg && at[-1] == '"' && at[len] == '"') return true;
    return false;
}

tre_status tre_ctx_fail(tre_ctx *ctx, tre_status s, const char *fmt, ...) {
    if (!ctx) return s;
    if (ctx->status != TRE_OK) return ctx->status; /* the first error wins */
    if (s == TRE_OK) s = TRE_ERR_INVALID_ARG;
    ctx->status = s;
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    const int n = vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
    va_end(ap);
    /* a message longer than the buffer (a site name of thousands of characters) is formatted
     * whole and its long quoted names shortened, so that the reason after them survives */
    char *whole = n >= (int)sizeof ctx->error ? malloc((size_t)n + 1) : NULL;
    if (whole) {
        vsnprintf(whole, (size_t)n + 1, fmt, again);
        elide_long_quotes(whole);
        snprintf(ctx->error, sizeof ctx->error, "%s", whole);
        free(whole);
    }
    va_end(again);
    return s;
}

void tre_warn(tre_ctx *ctx, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* each distinct warning once per context, as Python's default warnings filter does: a
     * training loop would otherwise repeat it every step */
    const uint64_t h = tre_fnv1a(TRE_FNV_OFFSET, buf, strlen(buf));
    for (int i = 0; i < ctx->n_warned; ++i)
        if (ctx->warned[i] == h) return;
    /* kept up to 2^16 distinct warnings (beyond, a warning is given again each time) */
    if (ctx->n_warned == ctx->cap_warned && ctx->cap_warned < (1 << 16)) {
        const int cap = ctx->cap_warned ? 2 * ctx->cap_warned : 32;
        uint64_t *w = realloc(ctx->warned, (size_t)cap * sizeof *w);
        if (w) {
            ctx->warned = w;
            ctx->cap_warned = cap;
        }
    }
    if (ctx->n_warned < ctx->cap_warned) ctx->warned[ctx->n_warned++] = h;
    if (ctx->warn)
        ctx->warn(ctx->warn_user, buf);
    else
        fprintf(stderr, "trelbo warning: %s\n", buf);
}

static const char *failure_cause(tre_ctx *ctx) {
    return ctx->be->take_failure_cause ? ctx->be->take_failure_cause(ctx->be->impl) : NULL;
}

tre_status tre_backend_check(tre_ctx *ctx, int rc, const char *what) {
    if (rc == 0) return ctx->status;
    /* a device fault behind an op (say, an allocation after an illegal access) is not a lack
     * of memory, whatever code it came back as */
    const char *cause = failure_cause(ctx);
    if (cause)
        return tre_ctx_fail(ctx, TRE_ERR_BACKEND, "%s backend: %s failed: %s", ctx->be->name, what, cause);
    if (rc == TRE_KERR_OOM)
        return tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "%s backend: %s: out of memory", ctx->be->name, what);
    return tre_ctx_fail(ctx, TRE_ERR_BACKEND, "%s backend: %s failed", ctx->be->name, what);
}

void tre_backend_forget_failure(tre_ctx *ctx) { (void)failure_cause(ctx); }

tre_status tre_backend_alloc_failed(tre_ctx *ctx, const char *what, size_t bytes) {
    const char *cause = failure_cause(ctx);
    if (cause)
        return tre_ctx_fail(ctx, TRE_ERR_BACKEND, "%s: %s backend: allocating %zu bytes failed: %s",
                            what, ctx->be->name, bytes, cause);
    return tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "%s: out of %s memory (%zu bytes)", what,
                        ctx->be->name, bytes);
}

void tre_ctx_name_site(tre_ctx *ctx, const char *site) {
    if (tre_ok(ctx) || !site) return;
    char shown[TRE_NAME_SHOWN + 3];
    shown[write_shown_name(shown, site, strlen(site))] = '\0';
    if (names_quoted(ctx->error, site) || strstr(ctx->error, shown)) return;
    char prefix[sizeof shown + 8];
    const int n = snprintf(prefix, sizeof prefix, "site %s: ", shown);
    if (n <= 0 || (size_t)n >= sizeof prefix) return;
    size_t len = strlen(ctx->error), room = sizeof ctx->error - 1 - (size_t)n;
    if (len > room) len = room;
    memmove(ctx->error + n, ctx->error, len);
    memcpy(ctx->error, prefix, (size_t)n);
    ctx->error[n + len] = '\0';
}
