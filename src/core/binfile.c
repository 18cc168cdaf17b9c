/* Checkpoint files: see binfile.h. Host byte order, with a mark that refuses a file from a
 * machine of the other order. */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat, fsync */
#include "binfile.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BYTE_ORDER_MARK 0x01020304u

/* The system's text for err, in the caller's buffer (strerror's is shared between threads). */
typedef struct error_text {
    char text[128];
} error_text;
static const char *error_text_of(int err, error_text *t) {
    if (strerror_r(err, t->text, sizeof t->text) != 0)
        snprintf(t->text, sizeof t->text, "error %d", err);
    return t->text;
}

static char *dup_str(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    char *d = malloc(a + b + 1);
    if (d) memcpy(d, s, a), memcpy(d + a, suffix, b + 1);
    return d;
}

tre_status tre_bin_create(tre_ctx *ctx, tre_bin_writer *w, const char *what, const char *path,
                          const char magic[8]) {
    memset(w, 0, sizeof *w);
    if (!path || !*path) return tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: path is empty", what);
    w->path = dup_str(path, "");
    w->tmp_path = dup_str(path, ".tmp");
    if (!w->path || !w->tmp_path) {
        free(w->path), free(w->tmp_path);
        return tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
    }
    w->f = fopen(w->tmp_path, "wb");
    if (!w->f) {
        const tre_status s = tre_ctx_fail(ctx, TRE_ERR_IO, "%s: cannot write \"%s\": %s", what,
                                          w->tmp_path, error_text_of(errno, &(error_text){0}));
        free(w->path), free(w->tmp_path);
        return s;
    }
    w->ok = true;
    w->hash = TRE_FNV_OFFSET;
    const uint32_t head[2] = {TRE_BIN_VERSION, BYTE_ORDER_MARK};
    tre_bin_put(w, magic, 8);
    tre_bin_put(w, head, sizeof head);
    return TRE_OK;
}

void tre_bin_put(tre_bin_writer *w, const void *p, size_t n) {
    if (w->ok && n && fwrite(p, 1, n, w->f) != n) w->ok = false;
    w->hash = tre_fnv1a(w->hash, p, n);
}
void tre_bin_put_u64(tre_bin_writer *w, uint64_t v) { tre_bin_put(w, &v, sizeof v); }
void tre_bin_put_f64(tre_bin_writer *w, double v) { tre_bin_put(w, &v, sizeof v); }

void tre_bin_put_tensor(tre_ctx *ctx, tre_bin_writer *w, const char *name, const tre_tensor *t) {
    if (!w->ok) return;
    const int64_t n = t->particles * t->numel;
    float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    if (!h) {
        w->status = tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "saving \"%s\": out of memory", name);
        w->ok = false;
        return;
    }
    /* its own status, also with an error pending (ctx.h) */
    const tre_status s = tre_tensor_to_host(ctx, t, h, n);
    if (s != TRE_OK) {
        w->status = s;
        free(h);
        w->ok = false;
        return;
    }
    const uint32_t len = (uint32_t)strlen(name), nd = (uint32_t)t->ndim;
    tre_bin_put(w, &len, sizeof len);
    tre_bin_put(w, name, len);
    tre_bin_put(w, &nd, sizeof nd);
    tre_bin_put(w, t->shape, (size_t)t->ndim * sizeof *t->shape);
    tre_bin_put(w, h, (size_t)n * sizeof *h);
    free(h);
}

tre_status tre_bin_commit(tre_ctx *ctx, tre_bin_writer *w, const char *what) {
    const uint64_t hash = w->hash;
    tre_bin_put(w, &hash, sizeof hash);
    bool ok = w->ok && fflush(w->f) == 0 && fsync(fileno(w->f)) == 0;
    const int err = ok ? 0 : errno;
    if (fclose(w->f) != 0) ok = false;
    tre_status s = w->status;
    if (ok && rename(w->tmp_path, w->path) != 0) {
        s = tre_ctx_fail(ctx, TRE_ERR_IO, "%s: cannot rename \"%s\" to \"%s\": %s", what, w->tmp_path,
                         w->path, error_text_of(errno, &(error_text){0}));
        ok = false;
    } else if (!ok && s == TRE_OK) {
        s = tre_ctx_fail(ctx, TRE_ERR_IO, "%s: cannot write \"%s\"%s%s", what, w->tmp_path,
                         err ? ": " : "", err ? error_text_of(err, &(error_text){0}) : "");
    }
    if (!ok) remove(w->tmp_path);
    free(w->path), free(w->tmp_path);
    return ok ? TRE_OK : s;
}

bool tre_bin_open(tre_ctx *ctx, tre_bin_reader *r, const char *what, const char *path,
                  const char magic[8]) {
    memset(r, 0, sizeof *r);
    if (!path || !*path) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "%s: path is empty", what);
        return false;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        tre_ctx_fail(ctx, TRE_ERR_IO, "%s: cannot read \"%s\": %s", what, path,
                     error_text_of(errno, &(error_text){0}));
        return false;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" is not a regular file", what, path);
        return false;
    }
    r->len = (size_t)st.st_size;
    r->buf = malloc(r->len ? r->len : 1);
    const bool read = r->buf && fread(r->buf, 1, r->len, f) == r->len;
    fclose(f);
    if (!read) {
        if (r->buf) tre_ctx_fail(ctx, TRE_ERR_IO, "%s: cannot read \"%s\"", what, path);
        else tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "%s: out of memory for \"%s\"", what, path);
        tre_bin_close(r);
        return false;
    }
    r->ok = true;
    char m[8];
    uint32_t head[2];
    if (!tre_bin_get(r, m, 8) || memcmp(m, magic, 8) != 0 || !tre_bin_get(r, head, sizeof head)) {
        tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" is not a trelbo %.8s file", what, path, magic);
    } else if (head[1] != BYTE_ORDER_MARK) {
        tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" was written on a machine of the other byte order",
                     what, path);
    } else if (head[0] != TRE_BIN_VERSION) {
        tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" has format version %u; this library reads %u",
                     what, path, head[0], TRE_BIN_VERSION);
    } else {
        uint64_t hash = 0;
        const size_t body = r->len - sizeof hash;
        const bool has_hash = r->len >= r->at + sizeof hash;
        if (has_hash) memcpy(&hash, r->buf + body, sizeof hash);
        if (has_hash && tre_fnv1a(TRE_FNV_OFFSET, r->buf, body) == hash) {
            r->len = body;
            return true;
        }
        tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" is cut short or damaged (its checksum does not match)",
                     what, path);
    }
    tre_bin_close(r);
    return false;
}

void tre_bin_close(tre_bin_reader *r) {
    free(r->buf);
    memset(r, 0, sizeof *r);
}

bool tre_bin_get(tre_bin_reader *r, void *out, size_t n) {
    if (!r->ok || n > r->len - r->at) return r->ok = false;
    memcpy(out, r->buf + r->at, n);
    r->at += n;
    return true;
}

void *tre_bin_get_count(tre_ctx *ctx, tre_bin_reader *r, const char *what, const char *path,
                        size_t min_bytes, size_t elem_size, uint64_t *count) {
    if (!tre_bin_get(r, count, sizeof *count) || *count > (r->len - r->at) / min_bytes) {
        tre_ctx_fail(ctx, TRE_ERR_IO, "%s: \"%s\" is cut short or damaged (its header)", what, path);
        return NULL;
    }
    void *a = malloc((size_t)(*count ? *count : 1) * elem_size);
    if (!a) tre_ctx_fail(ctx, TRE_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
    return a;
}

bool tre_bin_get_tensor(tre_bin_reader *r, tre_bin_tensor *t) {
    uint32_t len, nd;
    if (!tre_bin_get(r, &len, sizeof len) || len == 0 || len > r->len - r->at) return r->ok = false;
    t->name = (const char *)r->buf + r->at;
    t->name_len = len;
    r->at += len;
    if (memchr(t->name, 0, len) || !tre_bin_get(r, &nd, sizeof nd) || nd > TRE_MAX_DIMS) return r->ok = false;
    t->ndim = (int)nd;
    if (!tre_bin_get(r, t->shape, nd * sizeof *t->shape)) return false;
    t->numel = 1;
    for (int i = 0; i < t->ndim; ++i) {
        /* each factor checked against what is left of the file: no overflow */
        if (t->shape[i] < 0 || (t->shape[i] && t->numel > (int64_t)((r->len - r->at) / 4) / t->shape[i]))
            return r->ok = false;
        t->numel *= t->shape[i];
    }
    const size_t bytes = (size_t)t->numel * 4;
    if (bytes > r->len - r->at) return r->ok = false;
    t->data = r->buf + r->at;
    r->at += bytes;
    return true;
}

char *tre_bin_name_dup(const tre_bin_tensor *t) {
    char *s = malloc(t->name_len + 1);
    if (s) memcpy(s, t->name, t->name_len), s[t->name_len] = 0;
    return s;
}
