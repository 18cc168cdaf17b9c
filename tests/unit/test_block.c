/* block: Pyro's BlockMessenger rules (hide, expose, type lists with "observe", the hide-all
 * default and its precedence, predicate), hidden sites still drawn but invisible outside, and
 * the constructor's errors (SPEC.md section 4). */
#include <math.h>
#include <string.h>
#include "test_support.h"

#define P 16

/* param s; latent a, b; observed x; a plate whose index site is "data" with latent c inside */
static tre_tensor *abx_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *s = tre_param(c, "s", tre_scalar(c, 1.f), TRE_C_POSITIVE);
    tre_tensor *a = tre_sample(c, "a", tre_normal(c, tre_scalar(c, 0.f), s), NULL);
    tre_tensor *b = tre_sample(c, "b", tre_normal(c, a, tre_scalar(c, 1.f)), NULL);
    tre_sample(c, "x", tre_normal(c, b, tre_scalar(c, 1.f)), tre_scalar(c, 0.5f));
    tre_plate(c, "data", 3, 0);
    tre_sample(c, "c", tre_normal(c, b, tre_scalar(c, 1.f)), NULL);
    tre_plate_end(c);
    return b;
}

/* Names in a trace, in order, joined by ','. */
static const char *names_of(const tre_trace *tr) {
    static char buf[256];
    buf[0] = '\0';
    for (int64_t i = 0; i < tre_trace_size(tr); ++i) {
        if (i) strcat(buf, ",");
        strcat(buf, tre_trace_at(tr, i)->msg.name);
    }
    return buf;
}

/* Runs abx_model under {outer trace, block(opts), inner trace}; returns the outer trace's names
 * and checks the inner trace saw every site. */
static const char *visible(tre_ctx *ctx, const tre_block_opts *opts) {
    tre_ctx_step_reset(ctx);
    tre_messenger *h[3] = {tre_trace_handler(ctx), tre_block_handler(ctx, opts),
                           tre_trace_handler(ctx)};
    assert_non_null(h[1]);
    TT_OK(ctx, tre_run(ctx, abx_model, NULL, h, 3, NULL));
    assert_string_equal(names_of(tre_trace_handler_trace(h[2])), "s,a,b,x,data,c");
    return names_of(tre_trace_handler_trace(h[0]));
}

static void test_no_arguments_hide_everything(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    assert_string_equal(visible(ctx, NULL), "");
    /* opts with no list given is the same as no opts */
    assert_string_equal(visible(ctx, &(tre_block_opts){0}), "");
    tre_ctx_destroy(ctx);
}

static void test_hidden_site_is_drawn_but_outer_handlers_skip_it(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    const char *hide[] = {"a"};
    tre_block_opts o = {.hide = hide, .n_hide = 1};
    tre_messenger *h[4] = {tre_trace_handler(ctx), tre_scale_handler(ctx, 2.0),
                           tre_block_handler(ctx, &o), tre_trace_handler(ctx)};
    tre_tensor *ret = NULL;
    TT_OK(ctx, tre_run(ctx, abx_model, NULL, h, 4, &ret));
    tre_trace *outer = tre_trace_handler_trace(h[0]), *inner = tre_trace_handler_trace(h[3]);
    assert_string_equal(names_of(outer), "s,b,x,data,c");
    assert_null(tre_trace_get(outer, "a"));
    /* "a" was still drawn, per particle, and used downstream */
    const tre_trace_node *a = tre_trace_get(inner, "a");
    assert_non_null(a);
    assert_non_null(a->msg.value);
    assert_int_equal(a->msg.value->particles, P);
    assert_non_null(ret);
    /* the outer scale never saw the hidden site */
    assert_true(a->msg.scale == 1.0);
    assert_true(tre_trace_get(inner, "b")->msg.scale == 2.0);
    tre_ctx_destroy(ctx);
}

static void test_expose_only(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    const char *expose[] = {"b", "x"};
    assert_string_equal(visible(ctx, &(tre_block_opts){.expose = expose, .n_expose = 2}), "b,x");
    tre_ctx_destroy(ctx);
}

static void test_hide_list_exposes_the_rest(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    const char *hide[] = {"s", "c"};
    assert_string_equal(visible(ctx, &(tre_block_opts){.hide = hide, .n_hide = 2}), "a,b,x,data");
    /* a given but empty list (Pyro's hide=[]) switches hide-all off: everything is exposed */
    assert_string_equal(visible(ctx, &(tre_block_opts){.hide = hide, .n_hide = 0}),
                        "s,a,b,x,data,c");
    tre_ctx_destroy(ctx);
}

static void test_observed_sites_are_type_observe(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    const char *observe[] = {"observe"}, *sample[] = {"sample"}, *param[] = {"param"},
               *sub[] = {"subsample"};
    assert_string_equal(visible(ctx, &(tre_block_opts){.hide_types = observe, .n_hide_types = 1}),
                        "s,a,b,data,c");
    /* "sample" does not cover observed sample sites, but covers a plate's index site (Pyro's
     * index site is a sample site with a _Subsample fn); "subsample" names index sites alone */
    assert_string_equal(visible(ctx, &(tre_block_opts){.hide_types = sample, .n_hide_types = 1}),
                        "s,x");
    assert_string_equal(visible(ctx, &(tre_block_opts){.hide_types = param, .n_hide_types = 1}),
                        "a,b,x,data,c");
    assert_string_equal(visible(ctx, &(tre_block_opts){.hide_types = sub, .n_hide_types = 1}),
                        "s,a,b,x,c");
    /* expose_types hides everything else, observed sites included */
    assert_string_equal(
        visible(ctx, &(tre_block_opts){.expose_types = sample, .n_expose_types = 1}), "a,b,data,c");
    assert_string_equal(
        visible(ctx, &(tre_block_opts){.expose_types = sub, .n_expose_types = 1}), "data");
    assert_string_equal(
        visible(ctx, &(tre_block_opts){.expose_types = observe, .n_expose_types = 1}), "x");
    tre_ctx_destroy(ctx);
}

static void test_list_precedence_follows_pyro(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    const char *b[] = {"b"}, *a[] = {"a"}, *param[] = {"param"}, *observe[] = {"observe"};
    /* hide_types comes after expose: hide-all is off again, only params are hidden */
    assert_string_equal(visible(ctx, &(tre_block_opts){.expose = b, .n_expose = 1,
                                                       .hide_types = param, .n_hide_types = 1}),
                        "a,b,x,data,c");
    /* expose_types comes last: hide-all is on; exposed are b (by name) and x (by type),
     * and the hide list still wins over the type it would otherwise be exposed by */
    assert_string_equal(visible(ctx, &(tre_block_opts){.hide = a, .n_hide = 1, .expose = b,
                                                       .n_expose = 1, .expose_types = observe,
                                                       .n_expose_types = 1}),
                        "b,x");
    /* a name in hide is hidden even if its type is exposed */
    const char *sample[] = {"sample"};
    assert_string_equal(visible(ctx, &(tre_block_opts){.hide = a, .n_hide = 1,
                                                       .expose_types = sample,
                                                       .n_expose_types = 1}),
                        "b,data,c");
    tre_ctx_destroy(ctx);
}

static void test_expose_after_hide_turns_hide_all_back_on(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(10);
    const char *a[] = {"a"}, *b[] = {"b"};
    /* Pyro's order: hide switches hide-all off, the expose list given after it switches it back
     * on, so only the exposed name is visible */
    assert_string_equal(
        visible(ctx, &(tre_block_opts){.hide = a, .n_hide = 1, .expose = b, .n_expose = 1}), "b");
    tre_ctx_destroy(ctx);
}

static bool hide_latent(const tre_msg *msg, void *user) {
    ++*(int *)user;
    return msg->type == TRE_SITE_SAMPLE && !msg->is_observed;
}

static void test_predicate_alone_decides(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(7);
    int calls = 0;
    const char *x[] = {"x"};
    /* the lists are ignored when a predicate is given (as in Pyro) */
    tre_block_opts o = {.hide_fn = hide_latent, .hide_fn_user = &calls, .hide = x, .n_hide = 1};
    assert_string_equal(visible(ctx, &o), "s,x,data");
    assert_int_equal(calls, 6);
    tre_ctx_destroy(ctx);
}

static void expect_ctor_error(tre_ctx *ctx, const tre_block_opts *o, const char *needle) {
    tre_ctx_step_reset(ctx);
    assert_null(tre_block_handler(ctx, o));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_INVALID_ARG, needle);
    /* usable again after a reset */
    tre_ctx_step_reset(ctx);
    assert_string_equal(visible(ctx, NULL), "");
}

static void test_constructor_errors(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(8);
    const char *ab[] = {"a", "b"}, *b[] = {"b"}, *param[] = {"param"},
               *sample_param[] = {"sample", "param"}, *typo[] = {"obs"}, *with_null[] = {"a", NULL};
    expect_ctor_error(ctx, &(tre_block_opts){.hide = ab, .n_hide = 2, .expose = b, .n_expose = 1},
                      "cannot hide and expose site \"b\"");
    expect_ctor_error(ctx,
                      &(tre_block_opts){.hide_types = param, .n_hide_types = 1,
                                        .expose_types = sample_param, .n_expose_types = 2},
                      "cannot hide and expose site type \"param\"");
    /* every kind is checked, the last one in the list of type names too (Pyro asserts the
     * hide and expose type sets are disjoint, whatever the kind) */
    const char *det[] = {"deterministic"};
    expect_ctor_error(ctx,
                      &(tre_block_opts){.hide_types = det, .n_hide_types = 1,
                                        .expose_types = det, .n_expose_types = 1},
                      "cannot hide and expose site type \"deterministic\"");
    expect_ctor_error(ctx, &(tre_block_opts){.hide_types = typo, .n_hide_types = 1}, "\"obs\"");
    expect_ctor_error(ctx, &(tre_block_opts){.n_hide = 2}, "hide");
    expect_ctor_error(ctx, &(tre_block_opts){.expose = ab, .n_expose = -1}, "expose");
    expect_ctor_error(ctx, &(tre_block_opts){.expose = with_null, .n_expose = 2}, "expose[1]");
    /* a context already in the error state gives no handler and keeps its first error */
    tre_ctx_fail(ctx, TRE_ERR_MODEL, "earlier failure");
    assert_null(tre_block_handler(ctx, NULL));
    assert_string_equal(tre_ctx_error(ctx), "earlier failure");
    tre_ctx_destroy(ctx);
}

static void test_lists_are_copied(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(9);
    char name[8] = "a";
    const char *hide[] = {name};
    tre_block_opts o = {.hide = hide, .n_hide = 1};
    tre_messenger *h[2] = {tre_trace_handler(ctx), tre_block_handler(ctx, &o)};
    /* the caller may reuse its buffers once the handler exists */
    strcpy(name, "b");
    hide[0] = NULL;
    TT_OK(ctx, tre_run(ctx, abx_model, NULL, h, 2, NULL));
    assert_string_equal(names_of(tre_trace_handler_trace(h[0])), "s,b,x,data,c");
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_arguments_hide_everything),
        cmocka_unit_test(test_hidden_site_is_drawn_but_outer_handlers_skip_it),
        cmocka_unit_test(test_expose_only),
        cmocka_unit_test(test_hide_list_exposes_the_rest),
        cmocka_unit_test(test_observed_sites_are_type_observe),
        cmocka_unit_test(test_list_precedence_follows_pyro),
        cmocka_unit_test(test_expose_after_hide_turns_hide_all_back_on),
        cmocka_unit_test(test_predicate_alone_decides),
        cmocka_unit_test(test_constructor_errors),
        cmocka_unit_test(test_lists_are_copied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
