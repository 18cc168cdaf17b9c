/* seed: the same seed draws bit-identical values whatever the context's own seed and history,
 * different seeds differ, and leaving the handler (normally, nested, or after an error) puts
 * the outer stream back as if the block had drawn nothing (SPEC.md section 4). */
#include <math.h>
#include <string.h>
#include "test_support.h"

#define P 64

static tre_tensor *draw(tre_ctx *c, const char *name) {
    return tre_sample(c, name, tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
}

/* Host copy of the P values of a tensor of shape []. */
static void copy_out(tre_ctx *ctx, const tre_tensor *t, float out[P]) {
    assert_non_null(t);
    assert_int_equal(t->particles, P);
    memcpy(out, tt_host(ctx, t, 0), P * sizeof(float));
}

static tre_ctx *ctx_p(uint64_t seed) {
    tre_ctx *ctx = tt_ctx(seed);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    return ctx;
}

static tre_tensor *two_draws(tre_ctx *c, const void *args) {
    float *out = (float *)args; /* [2 * P] */
    copy_out(c, draw(c, "a"), out);
    copy_out(c, draw(c, "b"), out + P);
    return NULL;
}

static void run_seeded(tre_ctx *ctx, uint64_t seed, float out[2 * P]) {
    tre_messenger *s = tre_seed_handler(ctx, seed);
    assert_non_null(s);
    TT_OK(ctx, tre_run(ctx, two_draws, out, &s, 1, NULL));
}

static void test_same_seed_bit_identical_different_seed_differs(void **state) {
    (void)state;
    static float first[2 * P], again[2 * P], other_ctx[2 * P], other_seed[2 * P];
    tre_ctx *ctx = ctx_p(1);
    run_seeded(ctx, 42, first);
    tre_ctx_step_reset(ctx);
    run_seeded(ctx, 42, again);
    assert_memory_equal(first, again, sizeof first);
    /* two draws inside one block differ, and particles differ */
    assert_true(first[0] != first[P] && first[0] != first[1]);

    /* another context with another seed and some history: the same values */
    tre_ctx *ctx2 = ctx_p(999);
    draw(ctx2, "history");
    run_seeded(ctx2, 42, other_ctx);
    assert_memory_equal(first, other_ctx, sizeof first);

    run_seeded(ctx, 43, other_seed);
    for (int i = 0; i < 2 * P; ++i) assert_true(first[i] != other_seed[i]);
    tre_ctx_destroy(ctx2);
    tre_ctx_destroy(ctx);
}

static tre_tensor *seeded_block(tre_ctx *c, const void *args) {
    (void)args;
    draw(c, "y1");
    draw(c, "y2");
    return NULL;
}

static void test_outer_stream_resumes_after_block(void **state) {
    (void)state;
    static float u_ref[P], v_ref[P], u[P], v[P];
    tre_ctx *ref = ctx_p(7);
    copy_out(ref, draw(ref, "u"), u_ref);
    copy_out(ref, draw(ref, "v"), v_ref);

    tre_ctx *ctx = ctx_p(7);
    copy_out(ctx, draw(ctx, "u"), u);
    tre_messenger *s = tre_seed_handler(ctx, 42);
    TT_OK(ctx, tre_run(ctx, seeded_block, NULL, &s, 1, NULL));
    copy_out(ctx, draw(ctx, "v"), v);
    assert_memory_equal(u, u_ref, sizeof u);
    assert_memory_equal(v, v_ref, sizeof v);
    /* the reference draws differ from each other, so a stuck stream would be caught */
    assert_true(u_ref[0] != v_ref[0]);
    tre_ctx_destroy(ctx);
    tre_ctx_destroy(ref);
}

typedef struct nested_args {
    bool inner_block;
    float *a, *b, *c; /* [P] each; b only with inner_block */
} nested_args;

static tre_tensor *nested(tre_ctx *ctx, const void *args) {
    const nested_args *n = args;
    copy_out(ctx, draw(ctx, "a"), n->a);
    if (n->inner_block) {
        tre_messenger *s = tre_seed_handler(ctx, 6);
        TT_OK(ctx, tre_push(ctx, s));
        copy_out(ctx, draw(ctx, "b"), n->b);
        TT_OK(ctx, tre_pop(ctx, s));
    }
    copy_out(ctx, draw(ctx, "c"), n->c);
    return NULL;
}

static tre_tensor *one_draw(tre_ctx *ctx, const void *args) {
    copy_out(ctx, draw(ctx, "b"), (float *)args);
    return NULL;
}

static void test_nested_seeds(void **state) {
    (void)state;
    static float a1[P], b1[P], c1[P], a2[P], c2[P], b_alone[P];
    tre_ctx *ctx = ctx_p(3);
    nested_args with = {true, a1, b1, c1}, without = {false, a2, NULL, c2};
    tre_messenger *s5 = tre_seed_handler(ctx, 5);
    TT_OK(ctx, tre_run(ctx, nested, &with, &s5, 1, NULL));
    tre_messenger *s5b = tre_seed_handler(ctx, 5);
    TT_OK(ctx, tre_run(ctx, nested, &without, &s5b, 1, NULL));
    tre_messenger *s6 = tre_seed_handler(ctx, 6);
    TT_OK(ctx, tre_run(ctx, one_draw, b_alone, &s6, 1, NULL));
    assert_memory_equal(a1, a2, sizeof a1);
    assert_memory_equal(c1, c2, sizeof c1);
    assert_memory_equal(b1, b_alone, sizeof b1);
    tre_ctx_destroy(ctx);
}

static tre_tensor *draw_then_fail(tre_ctx *c, const void *args) {
    (void)args;
    draw(c, "y");
    tre_ctx_fail(c, TRE_ERR_MODEL, "model failed on purpose");
    return NULL;
}

static void test_stream_restored_after_error_and_push_errors(void **state) {
    (void)state;
    static float v_ref[P], v[P];
    tre_ctx *ref = ctx_p(11);
    draw(ref, "u");
    copy_out(ref, draw(ref, "v"), v_ref);

    tre_ctx *ctx = ctx_p(11);
    draw(ctx, "u");
    tre_messenger *s = tre_seed_handler(ctx, 42);
    TT_FAILS_WITH(ctx, tre_run(ctx, draw_then_fail, NULL, &s, 1, NULL), TRE_ERR_MODEL,
                  "on purpose");
    assert_int_equal(tre_stack_depth(ctx), 0);
    tre_ctx_step_reset(ctx);

    /* pushing the same seed handler twice fails without touching the stream */
    tre_messenger *s2 = tre_seed_handler(ctx, 42);
    TT_OK(ctx, tre_push(ctx, s2));
    TT_FAILS_WITH(ctx, tre_push(ctx, s2), TRE_ERR_STACK, "seed");
    assert_int_equal(tre_stack_depth(ctx), 1);
    tre_ctx_clear_error(ctx);
    TT_OK(ctx, tre_pop(ctx, s2));

    /* a context in the error state gives no handler */
    tre_ctx_fail(ctx, TRE_ERR_MODEL, "earlier");
    assert_null(tre_seed_handler(ctx, 1));
    tre_ctx_step_reset(ctx);

    copy_out(ctx, draw(ctx, "v"), v);
    assert_memory_equal(v, v_ref, sizeof v);
    tre_ctx_destroy(ctx);
    tre_ctx_destroy(ref);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_bit_identical_different_seed_differs),
        cmocka_unit_test(test_outer_stream_resumes_after_block),
        cmocka_unit_test(test_nested_seeds),
        cmocka_unit_test(test_stream_restored_after_error_and_push_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
