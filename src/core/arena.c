/* Step arenas (see arena.h). */
#include "arena.h"
#include <stdlib.h>

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
}

static tre_arena_chunk *chunk_new(tre_arena *a, size_t size) {
    tre_arena_chunk *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->base = a->alloc(a->user, size);
    if (!c->base) {
        free(c);
        return NULL;
    }
    c->size = size;
    c->used = 0;
    c->next = a->chunks;
    a->chunks = c;
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
    size_t size = a->min_chunk;
    if (c && c->size * 2 > size) size = c->size * 2;
    if (bytes + align > size) size = bytes + align;
    c = chunk_new(a, size);
    if (!c) return NULL;
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
}

void tre_arena_reset(tre_arena *a) {
    if (a->chunks && a->chunks->next) {
        size_t total = (size_t)a->capacity;
        free_chunks(a);
        if (!chunk_new(a, total)) return; /* next alloc retries with a smaller chunk */
        return;
    }
    if (a->chunks) a->chunks->used = 0;
}

void tre_arena_release(tre_arena *a) { free_chunks(a); }
