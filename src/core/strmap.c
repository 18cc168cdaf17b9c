/* String -> pointer hash map (see strmap.h). Deletion uses backward-shift, no tombstones. */
#include "strmap.h"
#include <string.h>

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; ++s) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void tre_strmap_init(tre_strmap *m, void *(*alloc)(void *, size_t), void (*free_fn)(void *, void *),
                     void *user) {
    m->slots = NULL;
    m->cap = m->count = 0;
    m->alloc = alloc;
    m->free = free_fn;
    m->user = user;
}

static int64_t find_slot(const tre_strmap_slot *slots, int64_t cap, const char *key) {
    int64_t i = (int64_t)(hash_str(key) & (uint64_t)(cap - 1));
    while (slots[i].key && strcmp(slots[i].key, key) != 0) i = (i + 1) & (cap - 1);
    return i;
}

void *tre_strmap_get(const tre_strmap *m, const char *key) {
    if (!m->count) return NULL;
    int64_t i = find_slot(m->slots, m->cap, key);
    return m->slots[i].key ? m->slots[i].value : NULL;
}

static bool grow(tre_strmap *m) {
    int64_t cap = m->cap ? m->cap * 2 : 16;
    tre_strmap_slot *s = m->alloc(m->user, (size_t)cap * sizeof *s);
    if (!s) return false;
    memset(s, 0, (size_t)cap * sizeof *s);
    for (int64_t i = 0; i < m->cap; ++i)
        if (m->slots[i].key) s[find_slot(s, cap, m->slots[i].key)] = m->slots[i];
    if (m->free && m->slots) m->free(m->user, m->slots);
    m->slots = s;
    m->cap = cap;
    return true;
}

bool tre_strmap_put(tre_strmap *m, const char *key, void *value) {
    if ((m->count + 1) * 4 > m->cap * 3 && !grow(m)) return false;
    int64_t i = find_slot(m->slots, m->cap, key);
    if (!m->slots[i].key) {
        m->slots[i].key = key;
        m->count++;
    }
    m->slots[i].value = value;
    return true;
}

bool tre_strmap_remove(tre_strmap *m, const char *key) {
    if (!m->count) return false;
    int64_t i = find_slot(m->slots, m->cap, key);
    if (!m->slots[i].key) return false;
    m->slots[i].key = NULL;
    m->count--;
    int64_t j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->slots[j].key) break;
        int64_t home = (int64_t)(hash_str(m->slots[j].key) & (uint64_t)(m->cap - 1));
        /* move j back to i if its home is not in (i, j] cyclically */
        bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
    return true;
}

void tre_strmap_release(tre_strmap *m) {
    if (m->free && m->slots) m->free(m->user, m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}
