/* Step arenas (see arena.h). */
#include "arena.h"
#include <stdbool.h>
#include <stdlib.h>

#define ARENA_ALIGN_MAX 64 /* the largest alignment any caller asks for (ctx.c) */

struct tre_arena_chunk {
    tre_arena_chunk *next;
    char *base;
    size_t size, used;
};

void tre_arena_init(tre_arena *a, void *(*alloc)(void *, size_t), void (*free_fn)(void *, void *),
                    void *user, size_t min_chunk) {
    a->alloc = alloc;
    a->free = free_fn;
    a->user = user;
    a->min_chunk = min_chunk;
    a->chunks = NULL;
    a->capacity = 0;
    a->grows = 0;
    a->grow_size = 0;
}

/* A chunk of `size` bytes, made the current one, or put behind the current one (behind). */
static tre_arena_chunk *chunk_new(tre_arena *a, size_t size, bool behind) {
    tre_arena_chunk *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->base = a->alloc(a->user, size);
    if (!c->base) {
        free(c);
        return NULL;
    }
    c->size = size;
    c->used = 0;
    if (behind && a->chunks) {
        c->next = a->chunks->next;
        a->chunks->next = c;
    } else {
        c->next = a->chunks;
        a->chunks = c;
    }
    a->capacity += size;
    a->grows++;
    return c;
}

void *tre_arena_alloc(tre_arena *a, size_t bytes, size_t align) {
    if (bytes == 0) bytes = 1;
    tre_arena_chunk *c = a->chunks;
    if (c) {
        size_t start = (c->used + align - 1) & ~(align - 1);
        if (start + bytes <= c->size) {
            c->used = start + bytes;
            return c->base + start;
        }
    }
    size_t next = a->min_chunk;
    if (a->grow_size * 2 > next) next = a->grow_size * 2;
    /* An allocation of half the next chunk or more gets a chunk of its own size, behind the
     * current one, which goes on serving the small ones: the first step then holds about what
     * it uses, not a doubling's reserve on top of it (on CUDA that is device memory). */
    const bool own = bytes + align > next / 2;
    c = chunk_new(a, own ? bytes + align : next, own);
    if (!c) return NULL;
    if (!own) a->grow_size = next;
    size_t start = ((uintptr_t)c->base % align) ? align - (uintptr_t)c->base % align : 0;
    c->used = start + bytes;
    return c->base + start;
}

static void free_chunks(tre_arena *a) {
    tre_arena_chunk *c = a->chunks;
    while (c) {
        tre_arena_chunk *n = c->next;
        a->free(a->user, c->base);
        free(c);
        c = n;
    }
    a->chunks = NULL;
    a->capacity = 0;
    a->grow_size = 0;
}

void tre_arena_reset(tre_arena *a) {
    if (a->chunks && a->chunks->next) {
        /* what the step used, not the chunks' sizes: their unused tails and the doubling's
         * reserve are not kept (IRT's value step held 2.9x what it used). The same allocations
         * in one chunk need at most ARENA_ALIGN_MAX more per chunk (the ones that began a
         * chunk now follow another allocation); a sixteenth more absorbs small changes in the
         * step's footprint. */
        size_t used = 0, chunks = 0;
        for (const tre_arena_chunk *c = a->chunks; c; c = c->next) used += c->used, ++chunks;
        size_t total = used + used / 16 + chunks * ARENA_ALIGN_MAX;
        if (total < a->min_chunk) total = a->min_chunk;
        free_chunks(a);
        if (chunk_new(a, total, false)) a->grow_size = total; /* else the next alloc retries */
        return;
    }
    if (a->chunks) a->chunks->used = 0;
}

void tre_arena_release(tre_arena *a) { free_chunks(a); }
