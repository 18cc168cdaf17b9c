/* The messenger stack (SPEC.md section 2) through user-written handlers, the public way to write
 * one: dispatch order, stop, push/pop errors, sticky errors from callbacks and their unwinding,
 * and when the default action draws. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "test_support.h"

/* ---- a recording user handler ---- */

typedef struct call_log {
    char lines[64][48];
    int n;
} call_log;

static void log_add(call_log *log, const char *tag, const char *phase, const char *site) {
    if (log->n < 64) snprintf(log->lines[log->n++], 48, "%s.%s(%s)", tag, phase, site);
}

typedef struct rec_state {
    const char *tag;
    call_log *log;
    bool stop;              /* set msg->stop in process */
    const char *fail_at;    /* process returns TRE_ERR_MODEL at this site */
    bool fail_via_ctx;      /* ... after tre_ctx_fail with its own message */
    tre_tensor *set_value;  /* process sets msg->value to this */
    bool set_done;          /* ... and msg->done */
    int exits;              /* exit hook calls */
    /* what postprocess saw */
    bool post_value, post_done;
    bool proc_value, proc_done;
} rec_state;

static tre_status rec_process(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    rec_state *st = self->state;
    log_add(st->log, st->tag, "p", msg->name);
    st->proc_value = msg->value != NULL;
    st->proc_done = msg->done;
    if (st->fail_at && strcmp(msg->name, st->fail_at) == 0) {
        if (st->fail_via_ctx) return tre_ctx_fail(ctx, TRE_ERR_MODEL, "custom failure in %s", st->tag);
        return TRE_ERR_MODEL;
    }
    if (st->stop) msg->stop = true;
    if (st->set_value) msg->value = st->set_value;
    if (st->set_done) msg->done = true;
    return TRE_OK;
}

static tre_status rec_postprocess(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    (void)ctx;
    rec_state *st = self->state;
    log_add(st->log, st->tag, "post", msg->name);
    st->post_value = msg->value != NULL;
    st->post_done = msg->done;
    return TRE_OK;
}

static void rec_exit(tre_ctx *ctx, tre_messenger *self) {
    (void)ctx;
    ((rec_state *)self->state)->exits++;
}

static tre_messenger rec_handler(rec_state *st) {
    tre_messenger m = {.kind = "recorder", .process = rec_process, .postprocess = rec_postprocess,
                       .exit = rec_exit, .state = st};
    return m;
}

static void assert_log(const call_log *log, const char *const *want, int n) {
    if (log->n != n) {
        char all[2048] = "";
        for (int i = 0; i < log->n; ++i) {
            strncat(all, log->lines[i], sizeof all - strlen(all) - 1);
            strncat(all, " ", sizeof all - strlen(all) - 1);
        }
        fail_msg("log has %d calls, expected %d: %s", log->n, n, all);
    }
    for (int i = 0; i < n; ++i)
        if (strcmp(log->lines[i], want[i]) != 0)
            fail_msg("call %d: \"%s\", expected \"%s\"", i, log->lines[i], want[i]);
}

static const tre_dist *std_normal(tre_ctx *ctx) {
    return tre_normal(ctx, tre_scalar(ctx, 0.f), tre_scalar(ctx, 1.f));
}

/* ---- dispatch order ---- */

static void test_process_innermost_first_postprocess_outermost_first(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 3));
    call_log log = {0};
    rec_state sa = {.tag = "A", .log = &log}, sb = {.tag = "B", .log = &log},
              sc = {.tag = "C", .log = &log};
    tre_messenger a = rec_handler(&sa), b = rec_handler(&sb), c = rec_handler(&sc);
    TT_OK(ctx, tre_push(ctx, &a)); /* outermost */
    TT_OK(ctx, tre_push(ctx, &b));
    TT_OK(ctx, tre_push(ctx, &c)); /* innermost */
    assert_int_equal(tre_stack_depth(ctx), 3);
    tre_tensor *x = tre_sample(ctx, "x", std_normal(ctx), NULL);
    assert_non_null(x);
    assert_int_equal(x->particles, 3);
    const char *want[] = {"C.p(x)", "B.p(x)", "A.p(x)", "A.post(x)", "B.post(x)", "C.post(x)"};
    assert_log(&log, want, 6);
    /* process saw no value yet; the default action ran before postprocess */
    assert_false(sa.proc_value);
    assert_false(sa.proc_done);
    assert_true(sa.post_value && sa.post_done);
    assert_true(sc.post_value && sc.post_done);
    /* a param message takes the same path */
    log.n = 0;
    assert_non_null(tre_param(ctx, "w", tre_scalar(ctx, 1.f), TRE_C_REAL));
    const char *want_p[] = {"C.p(w)", "B.p(w)", "A.p(w)", "A.post(w)", "B.post(w)", "C.post(w)"};
    assert_log(&log, want_p, 6);
    TT_OK(ctx, tre_pop(ctx, &c));
    TT_OK(ctx, tre_pop(ctx, &b));
    TT_OK(ctx, tre_pop(ctx, &a));
    assert_int_equal(sa.exits + sb.exits + sc.exits, 3);
    assert_int_equal(tre_stack_depth(ctx), 0);
    tre_ctx_destroy(ctx);
}

static void test_stop_hides_message_from_outer_handlers(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 4));
    call_log log = {0};
    rec_state so = {.tag = "Outer", .log = &log}, sb = {.tag = "Block", .log = &log, .stop = true},
              si = {.tag = "Inner", .log = &log};
    tre_messenger o = rec_handler(&so), b = rec_handler(&sb), in = rec_handler(&si);
    TT_OK(ctx, tre_push(ctx, &o));
    TT_OK(ctx, tre_push(ctx, &b));
    TT_OK(ctx, tre_push(ctx, &in));
    tre_tensor *x = tre_sample(ctx, "x", std_normal(ctx), NULL);
    const char *want[] = {"Inner.p(x)", "Block.p(x)", "Block.post(x)", "Inner.post(x)"};
    assert_log(&log, want, 4);
    /* the default action still ran: a fresh draw for every particle */
    assert_non_null(x);
    assert_int_equal(x->particles, 4);
    assert_true(sb.post_value && sb.post_done);
    const float *h = tt_host(ctx, x, 0);
    assert_true(h[0] != h[1]);
    /* the handler at the top setting stop hides the site from every other one */
    log.n = 0;
    si.stop = true;
    assert_non_null(tre_sample(ctx, "y", std_normal(ctx), NULL));
    const char *want_y[] = {"Inner.p(y)", "Inner.post(y)"};
    assert_log(&log, want_y, 2);
    TT_OK(ctx, tre_pop(ctx, &in));
    TT_OK(ctx, tre_pop(ctx, &b));
    TT_OK(ctx, tre_pop(ctx, &o));
    tre_ctx_destroy(ctx);
}

/* ---- push / pop errors ---- */

static void test_push_twice_and_pop_not_on_top(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    call_log log = {0};
    rec_state sa = {.tag = "A", .log = &log}, sb = {.tag = "B", .log = &log};
    tre_messenger a = rec_handler(&sa), b = rec_handler(&sb);
    TT_OK(ctx, tre_push(ctx, &a));
    TT_FAILS_WITH(ctx, tre_push(ctx, &a), TRE_ERR_STACK, "already on the stack");
    assert_int_equal(tre_stack_depth(ctx), 1);
    tre_ctx_clear_error(ctx);
    TT_OK(ctx, tre_push(ctx, &b));
    /* a is not on top */
    TT_FAILS_WITH(ctx, tre_pop(ctx, &a), TRE_ERR_STACK, "not on top");
    assert_int_equal(tre_stack_depth(ctx), 2);
    assert_int_equal(sa.exits, 0);
    tre_ctx_clear_error(ctx);
    /* already on the stack but not on top: refused as well */
    TT_FAILS_WITH(ctx, tre_push(ctx, &a), TRE_ERR_STACK, "already on the stack");
    tre_ctx_clear_error(ctx);
    TT_OK(ctx, tre_pop(ctx, &b));
    TT_OK(ctx, tre_pop(ctx, &a));
    assert_int_equal(sa.exits, 1);
    assert_int_equal(sb.exits, 1);
    /* popping from an empty stack, or a handler never pushed */
    TT_FAILS_WITH(ctx, tre_pop(ctx, &a), TRE_ERR_STACK, "not on top");
    tre_ctx_clear_error(ctx);
    assert_int_equal(tre_pop(ctx, NULL), TRE_ERR_STACK);
    tre_ctx_clear_error(ctx);
    assert_int_equal(tre_push(ctx, NULL), TRE_ERR_INVALID_ARG);
    assert_int_equal(tre_stack_depth(ctx), 0);
    tre_ctx_destroy(ctx);
}

static tre_status failing_enter(tre_ctx *ctx, tre_messenger *self) {
    (void)ctx;
    (void)self;
    return TRE_ERR_MODEL;
}

static void test_enter_failure_does_not_push(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    tre_messenger m = {.kind = "picky", .enter = failing_enter};
    TT_FAILS_WITH(ctx, tre_push(ctx, &m), TRE_ERR_MODEL, "picky");
    assert_int_equal(tre_stack_depth(ctx), 0);
    tre_ctx_destroy(ctx);
}

/* ---- errors from callbacks: sticky, named, unwound ---- */

typedef struct prog_args {
    tre_messenger *leak;   /* pushed by the program and never popped */
    tre_tensor *got[3];
    int reached;
} prog_args;

static tre_tensor *three_sites(tre_ctx *c, const void *args) {
    prog_args *a = (prog_args *)args;
    if (a->leak) tre_push(c, a->leak);
    a->got[0] = tre_sample(c, "a", std_normal(c), NULL);
    a->got[1] = tre_sample(c, "bad", std_normal(c), NULL);
    a->got[2] = tre_sample(c, "c", std_normal(c), NULL);
    a->reached = 1;
    return a->got[2];
}

static void test_process_error_is_sticky_and_unwound(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 2));
    call_log log = {0};
    rec_state sbase = {.tag = "Base", .log = &log}, sf = {.tag = "F", .log = &log, .fail_at = "bad"},
              sg = {.tag = "G", .log = &log}, sl = {.tag = "Leak", .log = &log};
    tre_messenger base = rec_handler(&sbase), f = rec_handler(&sf), g = rec_handler(&sg),
                  leak = rec_handler(&sl);
    TT_OK(ctx, tre_push(ctx, &base));
    prog_args args = {.leak = &leak};
    tre_messenger *hs[2] = {&f, &g};
    tre_tensor *ret = (tre_tensor *)&args; /* overwritten with NULL on error */
    TT_FAILS_WITH(ctx, tre_run(ctx, three_sites, &args, hs, 2, &ret), TRE_ERR_MODEL, "\"bad\"");
    assert_null(ret);
    /* the program ran on; later sites were no-ops returning NULL */
    assert_int_equal(args.reached, 1);
    assert_non_null(args.got[0]);
    assert_null(args.got[1]);
    assert_null(args.got[2]);
    /* "c" never reached any handler */
    for (int i = 0; i < log.n; ++i) assert_null(strstr(log.lines[i], "(c)"));
    /* back to the depth tre_run started at, exit hooks called for the unwound handlers */
    assert_int_equal(tre_stack_depth(ctx), 1);
    assert_int_equal(sf.exits, 1);
    assert_int_equal(sg.exits, 1);
    assert_int_equal(sl.exits, 1);
    assert_int_equal(sbase.exits, 0);
    /* still sticky outside tre_run */
    assert_null(tre_sample(ctx, "d", std_normal(ctx), NULL));
    assert_null(tre_param(ctx, "w", tre_scalar(ctx, 1.f), TRE_C_REAL));
    assert_int_equal(tre_run(ctx, three_sites, &args, NULL, 0, NULL), TRE_ERR_MODEL);
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_MODEL);
    /* a new step clears it (and pops what is still on the stack) */
    tre_ctx_step_reset(ctx);
    assert_int_equal(tre_ctx_status(ctx), TRE_OK);
    assert_string_equal(tre_ctx_error(ctx), "");
    assert_int_equal(tre_stack_depth(ctx), 0);
    assert_int_equal(sbase.exits, 1);
    assert_non_null(tre_sample(ctx, "d", std_normal(ctx), NULL));
    sf.fail_at = NULL;
    prog_args ok = {0};
    TT_OK(ctx, tre_run(ctx, three_sites, &ok, hs, 2, &ret));
    assert_ptr_equal(ret, ok.got[2]);
    assert_non_null(ok.got[1]);
    assert_int_equal(tre_stack_depth(ctx), 0);
    tre_ctx_destroy(ctx);
}

/* A callback that fails through tre_ctx_fail keeps its own message, and the error still names
 * the site it failed at. */
static void test_callback_error_message_names_site(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    call_log log = {0};
    rec_state sf = {.tag = "F", .log = &log, .fail_at = "bad", .fail_via_ctx = true};
    tre_messenger f = rec_handler(&sf);
    tre_messenger *hs[1] = {&f};
    prog_args args = {0};
    TT_FAILS_WITH(ctx, tre_run(ctx, three_sites, &args, hs, 1, NULL), TRE_ERR_MODEL,
                  "custom failure in F");
    if (!strstr(tre_ctx_error(ctx), "\"bad\""))
        fail_msg("error \"%s\" does not name the site", tre_ctx_error(ctx));
    assert_int_equal(tre_stack_depth(ctx), 0);
    tre_ctx_destroy(ctx);
}

/* ... also when its message quotes another name that begins with the site's: "badge" is not
 * the site "bad" */
static tre_status fail_quoting_another_name(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    (void)self;
    if (strcmp(msg->name, "bad") != 0) return TRE_OK;
    return tre_ctx_fail(ctx, TRE_ERR_MODEL, "needs \"badge\" first");
}

static void test_callback_error_quoting_a_longer_name_names_site(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    tre_messenger f = {.kind = "quoting", .process = fail_quoting_another_name};
    tre_messenger *hs[1] = {&f};
    prog_args args = {0};
    TT_FAILS_WITH(ctx, tre_run(ctx, three_sites, &args, hs, 1, NULL), TRE_ERR_MODEL, "needs \"badge\" first");
    if (!strstr(tre_ctx_error(ctx), "\"bad\""))
        fail_msg("error \"%s\" does not name the site", tre_ctx_error(ctx));
    assert_int_equal(tre_stack_depth(ctx), 0);
    tre_ctx_destroy(ctx);
}

static tre_status failing_post(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    (void)ctx;
    (void)self;
    return strcmp(msg->name, "bad") == 0 ? TRE_ERR_DIST : TRE_OK;
}

static void test_postprocess_error(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(7);
    tre_messenger f = {.kind = "postfail", .postprocess = failing_post};
    tre_messenger *hs[1] = {&f};
    prog_args args = {0};
    TT_FAILS_WITH(ctx, tre_run(ctx, three_sites, &args, hs, 1, NULL), TRE_ERR_DIST, "\"bad\"");
    assert_null(args.got[1]);
    assert_null(args.got[2]);
    assert_int_equal(tre_stack_depth(ctx), 0);
    tre_ctx_destroy(ctx);
}

/* ---- the default action ---- */

/* Value set by a handler (with or without done): no draw, so the random stream is not
 * advanced: the next site gets exactly what a fresh context's first draw gives. */
static void check_no_draw(bool set_done) {
    const uint64_t seed = 99;
    tre_ctx *ref = tt_ctx(seed);
    TT_OK(ref, tre_ctx_set_particles(ref, 5));
    tre_tensor *first = tre_sample(ref, "y", std_normal(ref), NULL);
    const float *hr = tt_host(ref, first, 1);

    tre_ctx *ctx = tt_ctx(seed);
    TT_OK(ctx, tre_ctx_set_particles(ctx, 5));
    call_log log = {0};
    tre_tensor *fixed = tre_scalar(ctx, 42.f);
    rec_state s = {.tag = "S", .log = &log, .set_value = fixed, .set_done = set_done};
    tre_messenger m = rec_handler(&s);
    TT_OK(ctx, tre_push(ctx, &m));
    tre_tensor *x = tre_sample(ctx, "x", std_normal(ctx), NULL);
    assert_ptr_equal(x, fixed);
    assert_true(s.post_done); /* done after the default action either way */
    s.set_value = NULL;
    s.set_done = false;
    tre_tensor *y = tre_sample(ctx, "y", std_normal(ctx), NULL);
    TT_OK(ctx, tre_pop(ctx, &m));
    const float *hy = tt_host(ctx, y, 0);
    for (int p = 0; p < 5; ++p) assert_true(hy[p] == hr[p]);
    tre_ctx_destroy(ctx);
    tre_ctx_destroy(ref);
}

static void test_default_action_does_not_draw_when_value_set(void **state) {
    (void)state;
    check_no_draw(false);
    check_no_draw(true);
}

/* An observed site is not drawn either, and a site drawn normally does advance the stream (so
 * the check above can fail). */
static void test_observed_site_does_not_draw(void **state) {
    (void)state;
    tre_ctx *ref = tt_ctx(100), *ctx = tt_ctx(100), *drawn = tt_ctx(100);
    tre_tensor *r = tre_sample(ref, "y", std_normal(ref), NULL);
    tre_tensor *obs = tre_scalar(ctx, 3.f);
    assert_ptr_equal(tre_sample(ctx, "x", std_normal(ctx), obs), obs);
    tre_tensor *y = tre_sample(ctx, "y", std_normal(ctx), NULL);
    tre_sample(drawn, "x", std_normal(drawn), NULL);
    tre_tensor *y2 = tre_sample(drawn, "y", std_normal(drawn), NULL);
    float vr = tt_at(ref, r, 0);
    assert_true(tt_at(ctx, y, 0) == vr);
    assert_true(tt_at(drawn, y2, 0) != vr);
    tre_ctx_destroy(ref);
    tre_ctx_destroy(ctx);
    tre_ctx_destroy(drawn);
}

/* What a handler sees of a sample message. */
typedef struct seen {
    tre_msg msg;
    int n;
} seen;

static tre_status keep_process(tre_ctx *ctx, tre_messenger *self, tre_msg *msg) {
    (void)ctx;
    seen *s = self->state;
    s->msg = *msg;
    s->n++;
    return TRE_OK;
}

static void test_message_fields(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(8);
    seen s = {0};
    tre_messenger m = {.kind = "peek", .process = keep_process, .state = &s};
    TT_OK(ctx, tre_push(ctx, &m));
    const tre_dist *d = std_normal(ctx);
    tre_sample(ctx, "z", d, NULL);
    assert_int_equal(s.msg.type, TRE_SITE_SAMPLE);
    assert_string_equal(s.msg.name, "z");
    assert_ptr_equal(s.msg.fn, d);
    assert_null(s.msg.value);
    assert_false(s.msg.is_observed);
    assert_true(s.msg.scale == 1.0);
    assert_null(s.msg.mask);
    assert_int_equal(s.msg.n_frames, 0);
    assert_false(s.msg.done);
    assert_false(s.msg.stop);
    tre_tensor *obs = tre_scalar(ctx, 1.f);
    tre_sample(ctx, "o", d, obs);
    assert_true(s.msg.is_observed);
    assert_ptr_equal(s.msg.value, obs);
    tre_param(ctx, "p", tre_scalar(ctx, 2.f), TRE_C_POSITIVE);
    assert_int_equal(s.msg.type, TRE_SITE_PARAM);
    assert_int_equal(s.msg.constraint.kind, TRE_POSITIVE);
    assert_null(s.msg.fn);
    assert_int_equal(s.n, 3);
    TT_OK(ctx, tre_pop(ctx, &m));
    tre_ctx_destroy(ctx);
}

/* The infer set: setting a key again replaces its value in place; a full set takes no new key
 * but still replaces an existing one. */
static void test_infer_set_replaces(void **state) {
    (void)state;
    tre_infer inf = {0};
    assert_true(tre_infer_set(&inf, "enumerate", "sequential"));
    assert_true(tre_infer_set(&inf, "is_auxiliary", "false"));
    assert_true(tre_infer_set(&inf, "enumerate", "parallel"));
    assert_int_equal(inf.n, 2);
    assert_string_equal(tre_infer_get(&inf, "enumerate"), "parallel");
    assert_string_equal(tre_infer_get(&inf, "is_auxiliary"), "false");
    const char *keys[TRE_MAX_INFER] = {"k0", "k1", "k2", "k3"};
    for (int i = inf.n; i < TRE_MAX_INFER; ++i) assert_true(tre_infer_set(&inf, keys[i], "v"));
    assert_int_equal(inf.n, TRE_MAX_INFER);
    assert_false(tre_infer_set(&inf, "one_more", "v"));
    assert_null(tre_infer_get(&inf, "one_more"));
    assert_true(tre_infer_set(&inf, "is_auxiliary", "true"));
    assert_string_equal(tre_infer_get(&inf, "is_auxiliary"), "true");
    assert_int_equal(inf.n, TRE_MAX_INFER);
}

static void test_stack_full(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(9);
    static tre_messenger ms[100];
    int pushed = 0;
    for (int i = 0; i < 100; ++i) {
        ms[i] = (tre_messenger){.kind = "empty"};
        if (tre_push(ctx, &ms[i]) != TRE_OK) break;
        ++pushed;
    }
    assert_true(pushed < 100);
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_STACK);
    assert_int_equal(tre_stack_depth(ctx), pushed);
    tre_ctx_clear_error(ctx);
    /* handlers without callbacks let messages through */
    assert_non_null(tre_sample(ctx, "x", std_normal(ctx), NULL));
    for (int i = pushed - 1; i >= 0; --i) TT_OK(ctx, tre_pop(ctx, &ms[i]));
    tre_ctx_destroy(ctx);
}

/* Handlers left on the stack when a step ends are popped by tre_ctx_step_reset, innermost first,
 * with their exit hooks, before the step's memory (where constructor-made handlers live) is
 * reused: the next step starts with an empty stack and its messages reach no stale handler. */
static void test_step_reset_pops_leftover_handlers(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(10);
    call_log log = {0};
    rec_state sa = {.tag = "A", .log = &log}, sb = {.tag = "B", .log = &log};
    tre_messenger a = rec_handler(&sa), b = rec_handler(&sb);
    TT_OK(ctx, tre_push(ctx, &a));
    TT_OK(ctx, tre_push(ctx, tre_trace_handler(ctx)));  /* lives in the step arena */
    assert_non_null(tre_plate(ctx, "left_open", 3, 0)); /* so does this one */
    TT_OK(ctx, tre_push(ctx, &b));
    /* enough step memory for the arena to need several chunks (they are merged at reset) */
    for (int i = 0; i < 3000; ++i) assert_non_null(tre_full(ctx, 1, (const int64_t[]){64}, 1.f));
    tre_ctx_step_reset(ctx);
    assert_int_equal(tre_stack_depth(ctx), 0);
    assert_int_equal(sa.exits, 1);
    assert_int_equal(sb.exits, 1);
    /* nothing sees the next message; the plate's dim and name are free */
    log.n = 0;
    tre_tensor *z = tre_sample(ctx, "z", std_normal(ctx), NULL);
    assert_non_null(z);
    assert_int_equal(z->ndim, 0);
    assert_int_equal(log.n, 0);
    assert_non_null(tre_plate_dim(ctx, "left_open", 2, 0, -1));
    TT_OK(ctx, tre_plate_end(ctx));
    tre_ctx_destroy(ctx);
}

/* A NULL or nameless message is an error, not a crash; the context goes on. */
static void test_bad_message_is_an_error(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    TT_FAILS_WITH(ctx, tre_apply_stack(ctx, NULL), TRE_ERR_INVALID_ARG, "message is NULL");
    tre_ctx_clear_error(ctx);
    tre_msg msg = {.type = TRE_SITE_SAMPLE, .scale = 1.0};
    TT_FAILS_WITH(ctx, tre_apply_stack(ctx, &msg), TRE_ERR_INVALID_ARG, "no site name");
    tre_ctx_clear_error(ctx);
    TT_FAILS_WITH(ctx, tre_factor(ctx, NULL, tre_scalar(ctx, 0.f)), TRE_ERR_INVALID_ARG, "tre_factor: site name is empty");
    tre_ctx_clear_error(ctx);
    assert_non_null(tre_scalar(ctx, 1.f));
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_message_is_an_error),
        cmocka_unit_test(test_process_innermost_first_postprocess_outermost_first),
        cmocka_unit_test(test_stop_hides_message_from_outer_handlers),
        cmocka_unit_test(test_push_twice_and_pop_not_on_top),
        cmocka_unit_test(test_enter_failure_does_not_push),
        cmocka_unit_test(test_process_error_is_sticky_and_unwound),
        cmocka_unit_test(test_callback_error_message_names_site),
        cmocka_unit_test(test_callback_error_quoting_a_longer_name_names_site),
        cmocka_unit_test(test_postprocess_error),
        cmocka_unit_test(test_default_action_does_not_draw_when_value_set),
        cmocka_unit_test(test_observed_site_does_not_draw),
        cmocka_unit_test(test_message_fields),
        cmocka_unit_test(test_infer_set_replaces),
        cmocka_unit_test(test_stack_full),
        cmocka_unit_test(test_step_reset_pops_leftover_handlers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
