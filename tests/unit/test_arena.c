/* The step arena (src/core/arena.c): alignment, chunks for large allocations, and the reset
 * that replaces a step's chunks by one chunk of about the size the step used. */
#include <stdlib.h>
#include "test_support.h"
#include "src/core/arena.h"

/* an allocator that counts what it hands out (64-byte aligned, as the backends') */
typedef struct counting {
    size_t held, peak;
    int calls;
} counting;
typedef struct block_head {
    size_t size;
    char pad[56];
} block_head;
static void *count_alloc(void *user, size_t bytes) {
    counting *c = user;
    block_head *h = aligned_alloc(64, sizeof *h + (bytes + 63) / 64 * 64);
    if (!h) return NULL;
    h->size = bytes;
    c->held += bytes;
    if (c->held > c->peak) c->peak = c->held;
    c->calls++;
    return h + 1;
}
static void count_free(void *user, void *p) {
    counting *c = user;
    block_head *h = (block_head *)p - 1;
    c->held -= h->size;
    free(h);
}

enum { MIN_CHUNK = 64 * 1024, SMALL = 100, NSMALL = 3000, BIG = 10 << 20 };

/* one step: small allocations, a big one, more small ones; returns the bytes asked for */
static size_t step(tre_arena *a) {
    size_t asked = 0;
    for (int i = 0; i < 2 * NSMALL; ++i) {
        if (i == NSMALL) {
            char *big = tre_arena_alloc(a, BIG, 64);
            assert_non_null(big);
            assert_int_equal((uintptr_t)big % 64, 0);
            big[0] = big[BIG - 1] = 1;
            asked += BIG;
        }
        size_t align = (size_t)1 << (i % 7); /* 1 .. 64 */
        char *p = tre_arena_alloc(a, SMALL, align);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
        p[0] = p[SMALL - 1] = 2;
        asked += SMALL;
    }
    return asked;
}

static void test_first_step_holds_about_what_it_uses(void **state) {
    (void)state;
    counting c = {0};
    tre_arena a;
    tre_arena_init(&a, count_alloc, count_free, &c, MIN_CHUNK);
    size_t asked = step(&a);
    /* the big allocation has a chunk of its own size; the small ones doubling chunks of at
     * most twice their total (plus padding up to 63 bytes each) */
    const size_t small_max = 2 * NSMALL * (SMALL + 63);
    assert_true(a.capacity >= asked);
    assert_true(a.capacity <= BIG + 64 + 2 * small_max + MIN_CHUNK);
    assert_int_equal(c.held, a.capacity);
    tre_arena_release(&a);
    assert_int_equal(c.held, 0);
}

static void test_reset_keeps_one_chunk_of_the_used_size(void **state) {
    (void)state;
    counting c = {0};
    tre_arena a;
    tre_arena_init(&a, count_alloc, count_free, &c, MIN_CHUNK);
    size_t asked = step(&a);
    assert_true(a.grows > 1);
    tre_arena_reset(&a); /* one chunk: what the step used, a sixteenth more, 64 per chunk */
    const uint64_t after_reset = a.capacity, grows = a.grows;
    assert_true(after_reset >= asked);
    assert_true(after_reset <= asked + asked / 16 + 2 * NSMALL * 64 + 64 * a.grows);
    /* the same step again fits in it: no more memory asked for, step after step */
    for (int k = 0; k < 3; ++k) {
        step(&a);
        assert_int_equal(a.grows, grows);
        assert_int_equal(a.capacity, after_reset);
        tre_arena_reset(&a);
    }
    assert_int_equal(c.held, after_reset);
    tre_arena_release(&a);
    assert_int_equal(c.held, 0);
}

/* A big allocation first: the small ones after it start from the minimum chunk, not from
 * twice the big one. */
static void test_big_first_then_small(void **state) {
    (void)state;
    counting c = {0};
    tre_arena a;
    tre_arena_init(&a, count_alloc, count_free, &c, MIN_CHUNK);
    assert_non_null(tre_arena_alloc(&a, BIG, 64));
    for (int i = 0; i < 10; ++i) assert_non_null(tre_arena_alloc(&a, SMALL, 16));
    assert_int_equal(a.capacity, BIG + 64 + MIN_CHUNK);
    tre_arena_release(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_step_holds_about_what_it_uses),
        cmocka_unit_test(test_reset_keeps_one_chunk_of_the_used_size),
        cmocka_unit_test(test_big_first_then_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
