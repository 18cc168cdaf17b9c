/* Misuse of the public API is an error that names what is wrong, never a crash, a wrong TRE_OK
 * or another context's memory freed, and the context goes on (found by a robustness review):
 * shapes and particle counts beyond 2^60 elements (their byte counts would wrap), a step reset
 * from inside a model, a tensor or an optimiser used with another context (also one created at
 * a destroyed context's address), infer sets out of range or of short-lived strings, messages
 * built by hand with fields out of range; and the calls that report their own outcome while an
 * earlier error is pending report their own message too. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include "test_support.h"

static tre_tensor *model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_sample(c, "y", tre_normal(c, z, tre_scalar(c, 1.f)), tre_scalar(c, 0.5f));
    return z;
}
static tre_tensor *guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *m = tre_param(c, "m", tre_scalar(c, 0.f), TRE_C_REAL);
    return tre_sample(c, "z", tre_normal(c, m, tre_scalar(c, 1.f)), NULL);
}

static void expect_usable(tre_ctx *ctx) {
    tre_ctx_clear_error(ctx);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, guide, NULL, &(tre_elbo_opts){.num_particles = 8, .grad = true}, &r));
    assert_true(isfinite(r.mean));
}

static void test_sizes_beyond_2_to_the_60(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    tre_tensor *t = NULL;
    const int64_t big = (int64_t)1 << 62, half = (int64_t)1 << 31;
    TT_FAILS_WITH(ctx, tre_tensor_create(ctx, &t, TRE_F32, 1, 2, (int64_t[]){half, half}, NULL),
                  TRE_ERR_INVALID_ARG, "more than 2^60 elements");
    assert_null(t);
    tre_ctx_clear_error(ctx);
    /* [2^62, 4]: the element count wraps to 0, which once made this TRE_OK */
    TT_FAILS_WITH(ctx, tre_tensor_create(ctx, &t, TRE_I32, 1, 2, (int64_t[]){big, 4}, NULL), TRE_ERR_INVALID_ARG,
                  "more than 2^60 elements");
    tre_ctx_clear_error(ctx);
    TT_FAILS_WITH(ctx, tre_tensor_create(ctx, &t, TRE_F32, (int64_t)1 << 40, 1, (int64_t[]){1 << 21}, NULL),
                  TRE_ERR_INVALID_ARG, "more than 2^60 elements");
    tre_ctx_clear_error(ctx);
    assert_null(tre_full(ctx, 1, (int64_t[]){big}, 1.f));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_INVALID_ARG);
    assert_non_null(strstr(tre_ctx_error(ctx), "tre_full: ")); /* the error names the call */
    tre_ctx_clear_error(ctx);
    assert_null(tre_from_host(ctx, 1, 1, (int64_t[]){-2}, (const float[]){0.f}));
    assert_non_null(strstr(tre_ctx_error(ctx), "tre_from_host: negative size"));
    tre_ctx_clear_error(ctx);
    /* a zero-size dim makes any other size fine, also sizes whose product would overflow */
    TT_OK(ctx, tre_tensor_create(ctx, &t, TRE_F32, 1, 2, (int64_t[]){big, 0}, NULL));
    tre_tensor_destroy(ctx, t);
    TT_OK(ctx, tre_tensor_create(ctx, &t, TRE_F32, 1, 3, (int64_t[]){big, big, 0}, NULL));
    assert_int_equal(t->numel, 0);
    tre_tensor_destroy(ctx, t);
    TT_FAILS_WITH(ctx, tre_ctx_set_particles(ctx, big), TRE_ERR_INVALID_ARG, "1..2^60");
    tre_ctx_clear_error(ctx);
    tre_elbo_result r;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model, guide, NULL, &(tre_elbo_opts){.num_particles = big}, &r),
                  TRE_ERR_INVALID_ARG, "num_particles must be in 1..2^60");
    expect_usable(ctx);
    tre_ctx_destroy(ctx);
}

static tre_tensor *resetting_model(tre_ctx *c, const void *args) {
    tre_tensor *z = model(c, args);
    tre_ctx_step_reset(c); /* would free the guide's trace and pop tre_elbo's handlers */
    return z;
}

static void test_step_reset_inside_a_model_is_refused(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    tre_elbo_result r;
    TT_FAILS_WITH(ctx, tre_elbo(ctx, resetting_model, guide, NULL, &(tre_elbo_opts){.num_particles = 4}, &r),
                  TRE_ERR_INVALID_ARG, "tre_ctx_step_reset: called inside a model");
    expect_usable(ctx);
    tre_ctx_destroy(ctx);
}

static void test_objects_of_another_context(void **state) {
    (void)state;
    tre_ctx *a = tt_ctx(3), *b = tt_ctx(4);
    tre_tensor *t = NULL;
    TT_OK(a, tre_tensor_create(a, &t, TRE_F32, 1, 1, (int64_t[]){3}, NULL));
    tre_tensor_destroy(b, t); /* refused: it is on a's list, in a's backend */
    assert_int_equal(tre_ctx_status(b), TRE_ERR_INVALID_ARG);
    assert_non_null(strstr(tre_ctx_error(b), "belongs to another context"));
    expect_usable(b);
    float h[3];
    TT_OK(a, tre_tensor_to_host(a, t, h, 3)); /* still a's */
    tre_ctx_destroy(b);
    /* an optimiser outliving its context: a new context at the same address is not its own */
    tre_adam *opt = NULL;
    TT_OK(a, tre_adam_create(a, NULL, &opt));
    expect_usable(a);
    double loss;
    TT_OK(a, tre_svi_step(a, model, guide, NULL, &(tre_elbo_opts){.num_particles = 4}, opt, &loss));
    const void *old = a;
    tre_ctx_destroy(a);
    tre_ctx *c = tt_ctx(5);
    if ((const void *)c == old) /* the allocator reused the address, as it usually does */
        print_message("(a context at the destroyed one's address)\n");
    TT_FAILS_WITH(c, tre_adam_step(c, opt), TRE_ERR_INVALID_ARG, "created for another context");
    tre_ctx_clear_error(c);
    tre_ctx_memory before, after;
    tre_ctx_memory_stats(c, &before);
    tre_adam_destroy(c, opt); /* host memory only: the moments went with their context */
    tre_ctx_memory_stats(c, &after);
    assert_int_equal(before.backend_bytes, after.backend_bytes);
    expect_usable(c);
    tre_ctx_destroy(c);
}

static void test_pending_error_own_message(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    tre_adam *opt = NULL;
    TT_OK(ctx, tre_adam_create(ctx, NULL, &opt));
    tre_ctx_fail(ctx, TRE_ERR_DIST, "an earlier error");
    tre_tensor *t = NULL;
    float h[4] = {0};
    TT_FAILS_WITH(ctx, tre_tensor_create(ctx, &t, TRE_F32, 1, 9, (int64_t[9]){1}, NULL), TRE_ERR_INVALID_ARG,
                  "ndim must be in 0..8");
    tre_ctx_clear_error(ctx);
    TT_OK(ctx, tre_tensor_create(ctx, &t, TRE_F32, 1, 1, (int64_t[]){4}, h));
    tre_ctx_fail(ctx, TRE_ERR_DIST, "an earlier error");
    TT_FAILS_WITH(ctx, tre_tensor_write(ctx, t, h, 3), TRE_ERR_INVALID_ARG, "count 3 differs");
    tre_ctx_clear_error(ctx);
    tre_ctx_fail(ctx, TRE_ERR_DIST, "an earlier error");
    TT_FAILS_WITH(ctx, tre_tensor_to_host(ctx, t, h, 2), TRE_ERR_INVALID_ARG, "capacity 2 < 4");
    tre_ctx_clear_error(ctx);
    tre_ctx_fail(ctx, TRE_ERR_DIST, "an earlier error");
    TT_FAILS_WITH(ctx, tre_param_store_save(ctx, "/nonexistent-dir/p.ckpt"), TRE_ERR_IO, "nonexistent-dir");
    tre_ctx_clear_error(ctx);
    tre_ctx_fail(ctx, TRE_ERR_DIST, "an earlier error");
    TT_FAILS_WITH(ctx, tre_adam_save(ctx, opt, "/nonexistent-dir/a.ckpt"), TRE_ERR_IO, "nonexistent-dir");
    tre_ctx_clear_error(ctx);
    /* a success leaves the earlier error pending */
    tre_ctx_fail(ctx, TRE_ERR_DIST, "an earlier error");
    TT_OK(ctx, tre_tensor_write(ctx, t, h, 4));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_DIST);
    assert_string_equal(tre_ctx_error(ctx), "an earlier error");
    tre_ctx_clear_error(ctx);
    tre_tensor_destroy(ctx, t);
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
}

typedef struct infer_args {
    int n;
    bool null_key;
} infer_args;

static tre_tensor *infer_guide(tre_ctx *c, const void *args) {
    const infer_args *a = args;
    tre_tensor *m = tre_param(c, "m", tre_scalar(c, 0.f), TRE_C_REAL);
    char key[16] = "note", value[16] = "kept";
    tre_infer inf = {.n = a->n, .keys = {key}, .values = {value}};
    if (a->null_key) inf.keys[0] = NULL;
    tre_tensor *z = tre_sample_ex(c, "z", tre_normal(c, m, tre_scalar(c, 1.f)), &(tre_sample_opts){.infer = &inf});
    memset(key, 'x', sizeof key - 1); /* the caller's strings change (or die) after the call */
    memset(value, 'x', sizeof value - 1);
    return z;
}

static void test_infer_checked_and_copied(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(7);
    tre_elbo_result r;
    const tre_elbo_opts o = {.num_particles = 4};
    TT_OK(ctx, tre_elbo(ctx, model, infer_guide, &(infer_args){.n = 1}, &o, &r));
    assert_string_equal(tre_infer_get(&tre_trace_get(r.guide_trace, "z")->msg.infer, "note"), "kept");
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model, infer_guide, &(infer_args){.n = TRE_MAX_INFER + 1}, &o, &r),
                  TRE_ERR_INVALID_ARG, "tre_sample(\"z\"): infer holds 5 entries");
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model, infer_guide, &(infer_args){.n = 1, .null_key = true}, &o, &r),
                  TRE_ERR_INVALID_ARG, "infer entry 0 has a NULL key");
    expect_usable(ctx);
    tre_ctx_destroy(ctx);
}

static void test_hand_built_messages_checked(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(8);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_OK(ctx, tre_push(ctx, tr));
    const tre_msg good = {.type = TRE_SITE_SAMPLE, .name = "s", .fn = tre_normal(ctx, tre_scalar(ctx, 0.f), tre_scalar(ctx, 1.f)), .scale = 1.0};
    struct { tre_msg m; const char *why; } cases[7];
    for (int i = 0; i < 7; ++i) cases[i].m = good;
    cases[0].m.n_frames = -1, cases[0].why = "n_frames";
    cases[1].m.n_frames = 20, cases[1].why = "n_frames";
    cases[2].m.type = (tre_site_type)99, cases[2].why = "unknown site type";
    cases[3].m.scale = 0.0, cases[3].why = "scale";
    cases[4].m = (tre_msg){.type = TRE_SITE_SUBSAMPLE, .name = "p", .size = -1, .subsample_size = 1, .scale = 1.0};
    cases[4].why = "plate sizes";
    cases[5].m = (tre_msg){.type = TRE_SITE_SUBSAMPLE, .name = "p", .size = 3, .subsample_size = 5, .scale = 1.0};
    cases[5].why = "plate sizes";
    cases[6].m.fn = NULL, cases[6].m.value = tre_scalar(ctx, 1.f), cases[6].m.is_observed = true;
    cases[6].why = "no distribution"; /* the ELBO's checks read every sample site's fn */
    for (int i = 0; i < 7; ++i) {
        TT_FAILS_WITH(ctx, tre_apply_stack(ctx, &cases[i].m), TRE_ERR_INVALID_ARG, cases[i].why);
        tre_ctx_clear_error(ctx);
    }
    tre_msg ok = good;
    TT_OK(ctx, tre_apply_stack(ctx, &ok));
    assert_non_null(ok.value);
    TT_OK(ctx, tre_pop(ctx, tr));
    /* shape helpers refuse negative ranks rather than copying a negative size */
    int nd;
    int64_t out[TRE_MAX_DIMS];
    assert_false(tre_shape_broadcast(-1, (int64_t[]){1}, -1, (int64_t[]){1}, &nd, out));
    tre_ctx_destroy(ctx);
}

/* a model latent named by args that the guide lacks: a warning naming it, distinct per name */
static tre_tensor *named_model(tre_ctx *c, const void *args) {
    char name[32];
    snprintf(name, sizeof name, "latent_%d", *(const int *)args);
    return tre_sample(c, name, tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
}
static tre_tensor *empty_guide(tre_ctx *c, const void *args) {
    (void)c, (void)args;
    return NULL;
}

/* Each distinct warning once, however many distinct ones a long run gives (there were 32
 * slots; the 33rd and later warnings then repeated every step). */
static void test_many_distinct_warnings_each_once(void **state) {
    (void)state;
    int warnings = 0;
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .warn = tt_count_warnings,
                                                     .warn_user = &warnings}));
    tre_elbo_result r;
    for (int round = 0; round < 3; ++round)
        for (int k = 0; k < 100; ++k)
            TT_OK(ctx, tre_elbo(ctx, named_model, empty_guide, &k, &(tre_elbo_opts){.num_particles = 2}, &r));
    assert_int_equal(warnings, 100);
    tre_ctx_destroy(ctx);
}

/* A site name of thousands of characters shows shortened in messages, so that the reason after
 * it is kept; a constructor's error is still prefixed with the (shortened) site. */
static char long_name[3001];
static tre_tensor *model_long_name_twice(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *z = model(c, NULL);
    tre_sample(c, long_name, tre_normal(c, z, tre_scalar(c, 1.f)), tre_scalar(c, 0.5f));
    tre_deterministic(c, long_name, z);
    return z;
}
static tre_tensor *model_long_name_no_scale(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *z = model(c, NULL);
    tre_sample(c, long_name, tre_normal(c, z, NULL), tre_scalar(c, 0.5f));
    return z;
}
static void expect_shortened_name(tre_ctx *ctx) {
    const char *e = tre_ctx_error(ctx);
    assert_true(strlen(e) < 400);
    assert_non_null(strstr(e, "\"nnnnnnnnnn"));
    assert_non_null(strstr(e, "n...n"));
    const char *end = strstr(e, "n_end\"");
    assert_non_null(end);
    /* the site once: a message that already shows the shortened name gets no "site" prefix */
    if (strstr(end + 1, "n_end\"")) fail_msg("error \"%s\" shows the site twice", e);
}
static void test_long_site_names_keep_the_reason(void **state) {
    (void)state;
    memset(long_name, 'n', sizeof long_name - 5);
    strcpy(long_name + sizeof long_name - 5, "_end");
    tre_ctx *ctx = tt_ctx(1);
    tre_elbo_result r;
    const tre_elbo_opts o = {.num_particles = 4};
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model_long_name_twice, guide, NULL, &o, &r), TRE_ERR_DUPLICATE_SITE,
                  "is already in the trace as a sample site, not a deterministic site");
    expect_shortened_name(ctx);
    tre_ctx_clear_error(ctx);
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model_long_name_no_scale, guide, NULL, &o, &r), TRE_ERR_INVALID_ARG,
                  ": Normal: parameter scale is NULL");
    expect_shortened_name(ctx);
    assert_true(strncmp(tre_ctx_error(ctx), "site \"", 6) == 0);
    expect_usable(ctx);
    /* a name of exactly 120 characters shows whole; one more and it is shortened */
    for (int len = 120; len <= 121; ++len) {
        memset(long_name, 'n', (size_t)len - 4);
        strcpy(long_name + len - 4, "_end");
        assert_int_equal(strlen(long_name), len);
        TT_FAILS_WITH(ctx, tre_elbo(ctx, model_long_name_no_scale, guide, NULL, &o, &r), TRE_ERR_INVALID_ARG,
                      ": Normal: parameter scale is NULL");
        const bool whole = strstr(tre_ctx_error(ctx), long_name) != NULL;
        if (whole != (len == 120)) fail_msg("name of %d characters: error \"%s\"", len, tre_ctx_error(ctx));
        tre_ctx_clear_error(ctx);
    }
    tre_ctx_destroy(ctx);
}

/* tre_ctx_fail always leaves an error: a user handler that passes TRE_OK gets
 * TRE_ERR_INVALID_ARG, with its message, rather than an error state that reads as success */
static void test_fail_with_ok_status_is_still_an_error(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    assert_int_equal(tre_ctx_fail(ctx, TRE_OK, "user check %d failed", 7), TRE_ERR_INVALID_ARG);
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_INVALID_ARG);
    assert_string_equal(tre_ctx_error(ctx), "user check 7 failed");
    /* the first error wins */
    assert_int_equal(tre_ctx_fail(ctx, TRE_ERR_MODEL, "second"), TRE_ERR_INVALID_ARG);
    assert_string_equal(tre_ctx_error(ctx), "user check 7 failed");
    expect_usable(ctx);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_beyond_2_to_the_60),
        cmocka_unit_test(test_step_reset_inside_a_model_is_refused),
        cmocka_unit_test(test_objects_of_another_context),
        cmocka_unit_test(test_pending_error_own_message),
        cmocka_unit_test(test_infer_checked_and_copied),
        cmocka_unit_test(test_hand_built_messages_checked),
        cmocka_unit_test(test_many_distinct_warnings_each_once),
        cmocka_unit_test(test_long_site_names_keep_the_reason),
        cmocka_unit_test(test_fail_with_ok_status_is_still_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
