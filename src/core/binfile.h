/* Checkpoint files (the param store's and the optimiser's): a header (an 8-byte magic naming
 * the contents, a format version, a byte-order mark), then records of named float32 tensors,
 * then a 64-bit FNV-1a hash of all the bytes before it (a flipped bit anywhere is found).
 * Written to "<path>.tmp" and renamed over <path> once complete, so that a run stopped during
 * a save keeps its previous checkpoint; read whole, then parsed with bounds checks, so that a
 * file cut short or not of this kind is an error naming the path and changes nothing. */
#ifndef TRELBO_CORE_BINFILE_H
#define TRELBO_CORE_BINFILE_H
#include <stdio.h>
#include "ctx_impl.h"

#define TRE_BIN_VERSION 1u

typedef struct tre_bin_writer {
    FILE *f;
    char *path, *tmp_path; /* heap copies */
    uint64_t hash;         /* of the bytes written so far */
    bool ok;
    tre_status status;     /* the first failure's own status (TRE_OK: none, or a write) */
} tre_bin_writer;

/* The writer's calls report their own outcome (status; the public saves set a pending error
 * aside while they run, so the message is theirs too: tre_error_set_aside). */

/* Opens "<path>.tmp" and writes the header; else the error (naming `what` and the path). */
tre_status tre_bin_create(tre_ctx *ctx, tre_bin_writer *w, const char *what, const char *path,
                          const char magic[8]);
void tre_bin_put(tre_bin_writer *w, const void *p, size_t n);
void tre_bin_put_u64(tre_bin_writer *w, uint64_t v);
void tre_bin_put_f64(tre_bin_writer *w, double v);
/* A tensor record: name, ndim, shape, then its particles * numel floats read back from the
 * backend (extent 1 tensors only). */
void tre_bin_put_tensor(tre_ctx *ctx, tre_bin_writer *w, const char *name, const tre_tensor *t);
/* Flushes the file to the disk (fsync), closes it and renames it over the path; on any
 * earlier failure removes it instead. TRE_OK, or the error (naming `what` and the path). */
tre_status tre_bin_commit(tre_ctx *ctx, tre_bin_writer *w, const char *what);

typedef struct tre_bin_reader {
    unsigned char *buf;
    size_t len, at;
    bool ok;
} tre_bin_reader;

/* Reads the whole file (a regular file) and checks its header against `magic` and its hash;
 * false with the error set. The reader then ends before the hash. */
bool tre_bin_open(tre_ctx *ctx, tre_bin_reader *r, const char *what, const char *path,
                  const char magic[8]);
void tre_bin_close(tre_bin_reader *r);
/* n bytes from the file (false past its end: r->ok turns false) */
bool tre_bin_get(tre_bin_reader *r, void *out, size_t n);

/* The record count (u64) next in the file, checked against what is left of it (a record takes
 * at least min_bytes), and an array of that many elements of elem_size bytes for the caller to
 * fill and free; NULL with the error set (naming `what` and the path). */
void *tre_bin_get_count(tre_ctx *ctx, tre_bin_reader *r, const char *what, const char *path,
                        size_t min_bytes, size_t elem_size, uint64_t *count);

/* A tensor record's header, its name and float data left in the file (they point into the
 * buffer: the name is not NUL-terminated, the data maybe unaligned; copy it out with memcpy or
 * tre_tensor_write). */
typedef struct tre_bin_tensor {
    const char *name;
    size_t name_len;
    int ndim;
    int64_t shape[TRE_MAX_DIMS];
    int64_t numel;
    const unsigned char *data;
} tre_bin_tensor;
/* false (r->ok false) when the record is cut short or malformed */
bool tre_bin_get_tensor(tre_bin_reader *r, tre_bin_tensor *t);
/* A heap copy of the record's name (NULL when out of memory) */
char *tre_bin_name_dup(const tre_bin_tensor *t);
#endif
