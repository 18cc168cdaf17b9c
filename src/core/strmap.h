/* A string -> pointer hash map (open addressing, FNV-1a), with a pluggable allocator so that
 * traces keep theirs in the step arena and the param store in the heap. */
#ifndef TRELBO_CORE_STRMAP_H
#define TRELBO_CORE_STRMAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tre_strmap_slot {
    const char *key;   /* not copied: the caller keeps it alive */
    void *value;
} tre_strmap_slot;

typedef struct tre_strmap {
    tre_strmap_slot *slots;
    int64_t cap, count;
    void *(*alloc)(void *user, size_t bytes);   /* zeroing not required */
    void (*free)(void *user, void *p);          /* may be NULL (arena) */
    void *user;
} tre_strmap;

void tre_strmap_init(tre_strmap *m, void *(*alloc)(void *, size_t), void (*free_fn)(void *, void *),
                     void *user);
void *tre_strmap_get(const tre_strmap *m, const char *key);
/* Insert or replace; false on allocation failure. */
bool tre_strmap_put(tre_strmap *m, const char *key, void *value);
bool tre_strmap_remove(tre_strmap *m, const char *key);
void tre_strmap_release(tre_strmap *m);

#endif
