/* Step arenas: bump allocation from chunks that are kept across steps. A reset that finds more
 * than one chunk replaces them by one chunk of their total size, so a loop whose footprint is
 * stable stops asking the system for memory after its first step. */
#ifndef TRELBO_CORE_ARENA_H
#define TRELBO_CORE_ARENA_H
#include <stddef.h>
#include <stdint.h>

typedef struct tre_arena_chunk tre_arena_chunk;

typedef struct tre_arena {
    void *(*alloc)(void *user, size_t bytes);
    void (*free)(void *user, void *p);
    void *user;
    size_t min_chunk;
    tre_arena_chunk *chunks;   /* current chunk first */
    uint64_t capacity;         /* bytes over all chunks */
    uint64_t grows;            /* chunks obtained from `alloc` since creation */
} tre_arena;

void tre_arena_init(tre_arena *a, void *(*alloc)(void *, size_t), void (*free_fn)(void *, void *),
                    void *user, size_t min_chunk);
/* NULL when the underlying allocator fails. align must be a power of two. */
void *tre_arena_alloc(tre_arena *a, size_t bytes, size_t align);
void tre_arena_reset(tre_arena *a);
void tre_arena_release(tre_arena *a);

#endif
