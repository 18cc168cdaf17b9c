/* Step arenas: bump allocation from chunks that are kept across steps. A reset that finds more
 * than one chunk replaces them by one chunk of the size the step used (plus a sixteenth), so a
 * loop whose footprint is stable stops asking the system for memory after its first step, and
 * holds about what it uses. Alignments up to 64 bytes. */
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
    size_t grow_size;          /* the last growth chunk's size (the next one doubles it) */
} tre_arena;

void tre_arena_init(tre_arena *a, void *(*alloc)(void *, size_t), void (*free_fn)(void *, void *),
                    void *user, size_t min_chunk);
/* NULL when the underlying allocator fails. align must be a power of two, at most 64, and the
 * allocator's blocks aligned to it. */
void *tre_arena_alloc(tre_arena *a, size_t bytes, size_t align);
void tre_arena_reset(tre_arena *a);
void tre_arena_release(tre_arena *a);

#endif
