/* substitute: param sites named in data take that value without reading or creating the store
 * entry, and are done for the handlers outside it; sample sites are untouched; unmatched names warn under validation; errors name the
 * argument or the site (SPEC.md section 4). */
#include <math.h>
#include <string.h>
#include "test_support.h"

/* loc = param(1.0); z ~ N(loc, 0.001); return z */
static tre_tensor *loc_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *loc = tre_param(c, "loc", tre_scalar(c, 1.f), TRE_C_REAL);
    return tre_sample(c, "z", tre_normal(c, loc, tre_scalar(c, 0.001f)), NULL);
}

static tre_messenger *substitute_of(tre_ctx *ctx, const char *name, tre_tensor *v) {
    tre_dict *d = tre_dict_new(ctx);
    TT_OK(ctx, tre_dict_set(ctx, d, name, v));
    tre_messenger *m = tre_substitute_handler(ctx, d);
    assert_non_null(m);
    return m;
}

static void test_param_takes_value_and_store_is_not_created(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 8));
    tre_tensor *v = tre_scalar(ctx, -4.f);
    tre_messenger *h[2] = {tre_trace_handler(ctx), substitute_of(ctx, "loc", v)};
    tre_tensor *z = NULL;
    TT_OK(ctx, tre_run(ctx, loc_model, NULL, h, 2, &z));
    const tre_trace_node *n = tre_trace_get(tre_trace_handler_trace(h[0]), "loc");
    assert_int_equal(n->msg.type, TRE_SITE_PARAM);
    assert_ptr_equal(n->msg.value, v);
    assert_null(tre_param_store_get(ctx, "loc"));
    assert_int_equal(tre_param_store_size(ctx), 0);
    /* the model used the substituted value */
    const float *zs = tt_host(ctx, z, 0);
    for (int p = 0; p < 8; ++p) TT_NEAR(zs[p], -4.0, 0.01);
    /* without the handler the store is created and its value used */
    tre_ctx_step_reset(ctx);
    TT_OK(ctx, tre_run(ctx, loc_model, NULL, NULL, 0, &z));
    assert_non_null(tre_param_store_get(ctx, "loc"));
    TT_NEAR(tt_at(ctx, z, 0), 1.0, 0.01);
    tre_ctx_destroy(ctx);
}

/* A user handler outside substitute sees the substituted param message done, with its value */
static bool outer_saw_done;
static tre_status note_param_done(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    (void)ctx, (void)self;
    if (msg->type == TRE_SITE_PARAM) outer_saw_done = msg->done && msg->value;
    return TRE_OK;
}
static void test_outer_handlers_see_the_param_done(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    tre_messenger outer = {.kind = "user", .process = note_param_done};
    tre_messenger *h[2] = {&outer, substitute_of(ctx, "loc", tre_scalar(ctx, -4.f))};
    outer_saw_done = false;
    TT_OK(ctx, tre_run(ctx, loc_model, NULL, h, 2, NULL));
    assert_true(outer_saw_done);
    /* and without substitute, the param is not done before the default action */
    TT_OK(ctx, tre_run(ctx, loc_model, NULL, h, 1, NULL));
    assert_false(outer_saw_done);
    tre_ctx_destroy(ctx);
}

static void test_existing_store_entry_is_left_alone(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    assert_non_null(tre_param(ctx, "loc", tre_scalar(ctx, 3.f), TRE_C_REAL));
    tre_messenger *sub = substitute_of(ctx, "loc", tre_scalar(ctx, 9.f));
    tre_tensor *z = NULL;
    TT_OK(ctx, tre_run(ctx, loc_model, NULL, &sub, 1, &z));
    TT_NEAR(tt_at(ctx, z, 0), 9.0, 0.01);
    const tre_param_entry *e = tre_param_store_get(ctx, "loc");
    assert_float_equal(tt_at(ctx, tre_param_constrained(ctx, e), 0), 3.f, 0);
    tre_ctx_destroy(ctx);
}

static void test_sample_sites_are_not_substituted(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 4));
    tre_messenger *h[2] = {tre_trace_handler(ctx), substitute_of(ctx, "z", tre_scalar(ctx, 50.f))};
    TT_OK(ctx, tre_run(ctx, loc_model, NULL, h, 2, NULL));
    const tre_trace_node *z = tre_trace_get(tre_trace_handler_trace(h[0]), "z");
    assert_false(z->msg.is_observed);
    assert_int_equal(z->msg.value->particles, 4);
    TT_NEAR(tt_at(ctx, z->msg.value, 0), 1.0, 0.01);
    tre_ctx_destroy(ctx);
}

static tre_ctx *counting_ctx(int *warnings, bool validate) {
    tre_ctx *ctx = NULL;
    tre_ctx_opts o = {.backend = TRE_BACKEND_CPU, .seed = 4, .warn = tt_count_warnings,
                      .warn_user = warnings, .no_validation = !validate};
    assert_int_equal(tre_ctx_create(&ctx, &o), TRE_OK);
    return ctx;
}

static void test_unmatched_names_warn_under_validation(void **state) {
    (void)state;
    int warnings = 0;
    tre_ctx *ctx = counting_ctx(&warnings, true);
    tre_dict *d = tre_dict_new(ctx);
    TT_OK(ctx, tre_dict_set(ctx, d, "loc", tre_scalar(ctx, 0.f)));
    TT_OK(ctx, tre_dict_set(ctx, d, "lco", tre_scalar(ctx, 0.f)));
    tre_messenger *sub = tre_substitute_handler(ctx, d);
    TT_OK(ctx, tre_run(ctx, loc_model, NULL, &sub, 1, NULL));
    assert_int_equal(warnings, 1);
    assert_non_null(strstr(tt_last_warning, "substitute: 1 of the 2"));
    /* every name matched (one of them twice): no warning */
    tre_messenger *sub2 = substitute_of(ctx, "loc", tre_scalar(ctx, 0.f));
    TT_OK(ctx, tre_push(ctx, sub2));
    tre_param(ctx, "loc", NULL, TRE_C_REAL);
    tre_param(ctx, "loc", NULL, TRE_C_REAL);
    TT_OK(ctx, tre_pop(ctx, sub2));
    assert_int_equal(warnings, 1);
    tre_ctx_destroy(ctx);

    /* validation off: silent */
    warnings = 0;
    ctx = counting_ctx(&warnings, false);
    tre_messenger *sub3 = substitute_of(ctx, "nope", tre_scalar(ctx, 0.f));
    TT_OK(ctx, tre_run(ctx, loc_model, NULL, &sub3, 1, NULL));
    assert_int_equal(warnings, 0);
    tre_ctx_destroy(ctx);
}

/* A run that failed stopped early: names it never reached say nothing, so leaving the handler
 * after an error gives no unmatched-names warning. */
static tre_tensor *fails_before_loc(tre_ctx *c, const void *args) {
    (void)args;
    tre_ctx_fail(c, TRE_ERR_MODEL, "stops before param \"loc\"");
    return NULL;
}

static void test_no_warning_after_a_failed_run(void **state) {
    (void)state;
    int warnings = 0;
    tre_ctx *ctx = counting_ctx(&warnings, true);
    tre_messenger *h = substitute_of(ctx, "loc", tre_scalar(ctx, 2.f));
    TT_FAILS_WITH(ctx, tre_run(ctx, fails_before_loc, NULL, &h, 1, NULL), TRE_ERR_MODEL, "stops before");
    assert_int_equal(warnings, 0);
    tre_ctx_destroy(ctx);
}

static void test_errors_name_argument_or_site(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    assert_null(tre_substitute_handler(ctx, NULL));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_INVALID_ARG, "data");
    tre_ctx_step_reset(ctx);

    int32_t k = 2;
    tre_tensor *bad = NULL;
    TT_OK(ctx, tre_tensor_create(ctx, &bad, TRE_I32, 1, 0, NULL, &k));
    tre_messenger *sub = substitute_of(ctx, "loc", bad);
    TT_FAILS_WITH(ctx, tre_run(ctx, loc_model, NULL, &sub, 1, NULL), TRE_ERR_INVALID_ARG,
                  "\"loc\"");
    assert_int_equal(tre_stack_depth(ctx), 0);
    assert_null(tre_param_store_get(ctx, "loc"));
    tre_tensor_destroy(ctx, bad);

    /* usable again */
    tre_ctx_step_reset(ctx);
    tre_messenger *ok = substitute_of(ctx, "loc", tre_scalar(ctx, 2.f));
    tre_tensor *z = NULL;
    TT_OK(ctx, tre_run(ctx, loc_model, NULL, &ok, 1, &z));
    TT_NEAR(tt_at(ctx, z, 0), 2.0, 0.01);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_takes_value_and_store_is_not_created),
        cmocka_unit_test(test_outer_handlers_see_the_param_done),
        cmocka_unit_test(test_existing_store_entry_is_left_alone),
        cmocka_unit_test(test_sample_sites_are_not_substituted),
        cmocka_unit_test(test_unmatched_names_warn_under_validation),
        cmocka_unit_test(test_no_warning_after_a_failed_run),
        cmocka_unit_test(test_errors_name_argument_or_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
