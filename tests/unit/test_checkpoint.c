/* Checkpoints of a training run: the param store and the optimiser saved to files and loaded,
 * with the random stream's position. A run resumed in a fresh context continues the
 * uninterrupted one bit for bit (losses and params); a load merges into the store, and into the
 * optimiser's state, as Pyro's does (what the file does not hold is kept); a file that is
 * missing, of the other kind, of another version, cut short at any byte or with bytes past its
 * end is an error naming the path that changes nothing; an optimiser state whose param is
 * missing or of another shape is an error naming the param, and so is a store record that
 * tre_param would not make (or a name saved twice); and none of them may run inside a model.
 * A flipped bit anywhere is found by the file's checksum. */
#define _POSIX_C_SOURCE 200809L /* access */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "test_support.h"
#include "tt_training.h"
#include "src/core/binfile.h"  /* the format version, for crafted files */
#include "src/core/ctx_impl.h" /* the backend table, patched to fail; the checksum */


static const char *path_of(const char *name) {
    static char p[4][128];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(p[slot], sizeof p[slot], "%s/%s", tt_dir, name);
    return p[slot];
}

static const tre_adam_opts adam_opts = {.lr = 0.05, .clip_norm = 10.0, .lrd = 0.99};
static const tre_elbo_opts elbo_opts = {.num_particles = 4};

typedef struct run {
    tre_ctx *ctx;
    tre_adam *opt;
    tre_tensor *y;
} run;

static run run_new(void) {
    run r = {tt_ctx(11), NULL, NULL};
    TT_OK(r.ctx, tre_adam_create(r.ctx, &adam_opts, &r.opt));
    r.y = tt_training_data(r.ctx);
    if (!r.y) fail_msg("%s", tre_ctx_error(r.ctx));
    return r;
}
static void run_free(run *r) {
    tre_adam_destroy(r->ctx, r->opt);
    tre_ctx_destroy(r->ctx);
}
static void steps(run *r, int n, double *losses) {
    for (int i = 0; i < n; ++i) TT_OK(r->ctx, tre_svi_step(r->ctx, tt_training_model, tt_training_guide, r->y, &elbo_opts, r->opt, &losses[i]));
}
/* every param's unconstrained values, in store order, into out (at most cap floats) */
static int params_of(tre_ctx *ctx, float *out, int cap) {
    int n = 0;
    for (int64_t i = 0; i < tre_param_store_size(ctx); ++i) {
        const tre_tensor *u = tre_param_store_at(ctx, i)->unconstrained;
        assert_true(n + u->numel <= cap);
        TT_OK(ctx, tre_tensor_to_host(ctx, u, out + n, u->numel));
        n += (int)u->numel;
    }
    return n;
}

static void test_resume_continues_the_run_bit_for_bit(void **state) {
    (void)state;
    double straight[20], first[10], resumed[10];
    run a = run_new();
    steps(&a, 20, straight);
    float pa[16], pb[16];
    const int na = params_of(a.ctx, pa, 16);

    run b = run_new();
    steps(&b, 10, first);
    TT_OK(b.ctx, tre_param_store_save(b.ctx, path_of("store")));
    TT_OK(b.ctx, tre_adam_save(b.ctx, b.opt, path_of("adam")));
    const uint64_t position = tre_ctx_rng_position(b.ctx);
    assert_true(position > 0);
    run_free(&b);

    run c = run_new();
    TT_OK(c.ctx, tre_param_store_load(c.ctx, path_of("store")));
    TT_OK(c.ctx, tre_adam_load(c.ctx, c.opt, path_of("adam")));
    TT_OK(c.ctx, tre_ctx_set_rng_position(c.ctx, position));
    steps(&c, 10, resumed);
    for (int i = 0; i < 10; ++i) assert_true(first[i] == straight[i]);
    for (int i = 0; i < 10; ++i)
        if (resumed[i] != straight[10 + i]) fail_msg("step %d: loss %.9g resumed, %.9g straight", 10 + i, resumed[i], straight[10 + i]);
    assert_int_equal(params_of(c.ctx, pb, 16), na);
    for (int i = 0; i < na; ++i) assert_true(pa[i] == pb[i]);
    assert_true(tre_adam_lr(c.opt) == tre_adam_lr(a.opt));
    assert_int_equal(access(path_of("store.tmp"), F_OK), -1); /* renamed into place */
    run_free(&c);

    /* without the optimiser's state the moments start afresh: another trajectory */
    run d = run_new();
    TT_OK(d.ctx, tre_param_store_load(d.ctx, path_of("store")));
    TT_OK(d.ctx, tre_ctx_set_rng_position(d.ctx, position));
    steps(&d, 10, resumed);
    assert_true(resumed[9] != straight[19]);
    run_free(&d);
    run_free(&a);
}

static void test_load_merges_into_the_store(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    tre_tensor *v3 = tre_from_host(ctx, 1, 1, (int64_t[]){3}, (float[]){1.f, 2.f, 3.f});
    assert_non_null(tre_param(ctx, "a", v3, TRE_C_POSITIVE));
    assert_non_null(tre_param(ctx, "b", tre_scalar(ctx, 0.25f), TRE_C_INTERVAL(0.f, 2.f)));
    TT_OK(ctx, tre_param_store_save(ctx, path_of("merge")));
    TT_OK(ctx, tre_param_store_clear(ctx));
    assert_non_null(tre_param(ctx, "b", tre_full(ctx, 1, (int64_t[]){2}, 5.f), TRE_C_REAL));
    assert_non_null(tre_param(ctx, "c", tre_scalar(ctx, 7.f), TRE_C_REAL));
    TT_OK(ctx, tre_param_store_load(ctx, path_of("merge")));
    assert_int_equal(tre_param_store_size(ctx), 3);
    const tre_param_entry *a = tre_param_store_get(ctx, "a"), *b = tre_param_store_get(ctx, "b"),
                          *c = tre_param_store_get(ctx, "c");
    assert_non_null(a), assert_non_null(b), assert_non_null(c);
    assert_int_equal(a->constraint.kind, TRE_POSITIVE);
    assert_int_equal(b->constraint.kind, TRE_INTERVAL);
    assert_true(b->constraint.upper == 2.f);
    assert_int_equal(b->unconstrained->ndim, 0); /* the saved [] replaced the [2] */
    const float *ha = tt_host(ctx, tre_param_constrained(ctx, a), 0);
    for (int i = 0; i < 3; ++i) TT_NEAR(ha[i], i + 1.0, 1e-6);
    TT_NEAR(tt_at(ctx, tre_param_constrained(ctx, b), 0), 0.25, 1e-6);
    TT_NEAR(tt_at(ctx, tre_param_constrained(ctx, c), 0), 7.0, 0);
    /* a loaded value flows into the program: param() ignores init for a stored name */
    TT_NEAR(tt_at(ctx, tre_param(ctx, "b", tre_scalar(ctx, 1.5f), TRE_C_INTERVAL(0.f, 2.f)), 0), 0.25, 1e-6);
    tre_ctx_destroy(ctx);
}

static unsigned char *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*len + 8);
    assert_int_equal(fread(b, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return b;
}
static void spill(const char *path, const unsigned char *b, long len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
}

/* the store as it was: "k" [2] = (0.5, -1) */
static void expect_store_unchanged(tre_ctx *ctx) {
    assert_int_equal(tre_param_store_size(ctx), 1);
    const float *h = tt_host(ctx, tre_param_store_get(ctx, "k")->unconstrained, 0);
    assert_true(h[0] == 0.5f && h[1] == -1.f);
}

static void test_bad_files_change_nothing(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    assert_non_null(tre_param(ctx, "x", tre_full(ctx, 1, (int64_t[]){4}, 3.f), TRE_C_REAL));
    assert_non_null(tre_param(ctx, "longer name", tre_scalar(ctx, 2.f), TRE_C_POSITIVE));
    TT_OK(ctx, tre_param_store_save(ctx, path_of("good")));
    TT_OK(ctx, tre_param_store_clear(ctx));
    assert_non_null(tre_param(ctx, "k", tre_from_host(ctx, 1, 1, (int64_t[]){2}, (float[]){0.5f, -1.f}), TRE_C_REAL));

    TT_FAILS_WITH(ctx, tre_param_store_load(ctx, path_of("missing")), TRE_ERR_IO, "missing\": ");
    /* with that error pending, a save still reports its own outcome (ctx.h), success or not */
    TT_OK(ctx, tre_param_store_save(ctx, path_of("pending")));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_IO);
    tre_ctx_fail(ctx, TRE_ERR_DIST, "an earlier error");
    assert_int_equal(tre_param_store_save(ctx, path_of("no/such/dir")), TRE_ERR_IO);
    tre_ctx_clear_error(ctx);
    /* a directory is not a file to load */
    TT_FAILS_WITH(ctx, tre_param_store_load(ctx, tt_dir), TRE_ERR_IO, "is not a regular file");
    tre_ctx_clear_error(ctx);
    expect_store_unchanged(ctx);
    long len;
    unsigned char *b = slurp(path_of("good"), &len);
    /* cut short at every byte: each is an error naming the path */
    for (long cut = 0; cut < len; ++cut) {
        spill(path_of("cut"), b, cut);
        tre_status s = tre_param_store_load(ctx, path_of("cut"));
        if (s != TRE_ERR_IO || !strstr(tre_ctx_error(ctx), path_of("cut")))
            fail_msg("cut at %ld of %ld: %s (%s)", cut, len, tre_status_name(s), tre_ctx_error(ctx));
        tre_ctx_clear_error(ctx);
        expect_store_unchanged(ctx);
    }
    b[len] = 0;
    spill(path_of("long"), b, len + 1);
    TT_FAILS_WITH(ctx, tre_param_store_load(ctx, path_of("long")), TRE_ERR_IO, "checksum does not match");
    tre_ctx_clear_error(ctx);
    expect_store_unchanged(ctx);
    /* one bit flipped anywhere past the header (the values, a name, a shape, the hash) */
    for (long at = 16; at < len; at += 3) {
        b[at] ^= 0x10;
        spill(path_of("flipped"), b, len);
        TT_FAILS_WITH(ctx, tre_param_store_load(ctx, path_of("flipped")), TRE_ERR_IO, "checksum does not match");
        tre_ctx_clear_error(ctx);
        expect_store_unchanged(ctx);
        b[at] ^= 0x10;
    }
    b[8] ^= 0x7f; /* the version */
    spill(path_of("version"), b, len);
    TT_FAILS_WITH(ctx, tre_param_store_load(ctx, path_of("version")), TRE_ERR_IO, "format version");
    tre_ctx_clear_error(ctx);
    b[8] ^= 0x7f;
    /* the header as a machine of the other byte order writes it: the version and the byte-order
     * mark byte-swapped (refused for the order, before the version or the checksum) */
    unsigned char swapped[8];
    for (int i = 0; i < 8; ++i) swapped[i] = b[8 + (i / 4) * 4 + 3 - i % 4];
    memcpy(b + 8, swapped, 8);
    spill(path_of("order"), b, len);
    TT_FAILS_WITH(ctx, tre_param_store_load(ctx, path_of("order")), TRE_ERR_IO, "other byte order");
    tre_ctx_clear_error(ctx);
    expect_store_unchanged(ctx);
    for (int i = 0; i < 8; ++i) swapped[i] = b[8 + (i / 4) * 4 + 3 - i % 4];
    memcpy(b + 8, swapped, 8);
    b[2] = 'x'; /* the magic */
    spill(path_of("magic"), b, len);
    TT_FAILS_WITH(ctx, tre_param_store_load(ctx, path_of("magic")), TRE_ERR_IO, "is not a trelbo TREPARAM file");
    tre_ctx_clear_error(ctx);
    expect_store_unchanged(ctx);
    free(b);
    /* the context goes on: the good file loads */
    TT_OK(ctx, tre_param_store_load(ctx, path_of("good")));
    assert_int_equal(tre_param_store_size(ctx), 3);
    TT_NEAR(tt_at(ctx, tre_param_constrained(ctx, tre_param_store_get(ctx, "longer name")), 0), 2.0, 1e-6);
    /* a directory that does not exist: an error naming the file, nothing left behind */
    TT_FAILS_WITH(ctx, tre_param_store_save(ctx, path_of("no/such/dir")), TRE_ERR_IO, "no/such/dir.tmp");
    tre_ctx_clear_error(ctx);
    tre_ctx_destroy(ctx);
}

static bool same_file(const char *a, const char *b) {
    long la, lb;
    unsigned char *x = slurp(a, &la), *y = slurp(b, &lb);
    const bool same = la == lb && memcmp(x, y, (size_t)la) == 0;
    free(x), free(y);
    return same;
}

/* the optimiser's state now is the one in file `want` */
static void expect_state(run *r, const char *want) {
    char now[128], w[128];
    snprintf(w, sizeof w, "%s", want); /* path_of's slots rotate */
    snprintf(now, sizeof now, "%s", path_of("state-now"));
    TT_OK(r->ctx, tre_adam_save(r->ctx, r->opt, now));
    if (!same_file(now, w)) {
        char c[600];
        snprintf(c, sizeof c, "cmp -l %s %s | head -5; ls -l %s %s", now, w, now, w);
        (void)!system(c);
        fail_msg("the optimiser's state is not %s's", w);
    }
}

static void test_optimiser_state_must_match_the_store(void **state) {
    (void)state;
    run r = run_new();
    double losses[3];
    steps(&r, 3, losses);
    TT_OK(r.ctx, tre_adam_save(r.ctx, r.opt, path_of("opt")));
    /* the store's file is not an optimiser's */
    TT_OK(r.ctx, tre_param_store_save(r.ctx, path_of("opt-store")));
    TT_FAILS_WITH(r.ctx, tre_adam_load(r.ctx, r.opt, path_of("opt-store")), TRE_ERR_IO, "is not a trelbo TREADAMS file");
    tre_ctx_clear_error(r.ctx);
    expect_state(&r, path_of("opt"));
    /* a param of another shape, then a missing one: errors naming it, the state kept (saved
     * without m's state, which is saved only while its param is in the store) */
    TT_OK(r.ctx, tre_param_store_remove(r.ctx, "m"));
    assert_non_null(tre_param(r.ctx, "m", tre_full(r.ctx, 1, (int64_t[]){2}, 0.f), TRE_C_REAL));
    TT_OK(r.ctx, tre_adam_save(r.ctx, r.opt, path_of("opt-no-m")));
    TT_FAILS_WITH(r.ctx, tre_adam_load(r.ctx, r.opt, path_of("opt")), TRE_ERR_PARAM, "param \"m\" of unconstrained shape [2]");
    tre_ctx_clear_error(r.ctx);
    expect_state(&r, path_of("opt-no-m"));
    TT_OK(r.ctx, tre_param_store_remove(r.ctx, "m"));
    TT_FAILS_WITH(r.ctx, tre_adam_load(r.ctx, r.opt, path_of("opt")), TRE_ERR_PARAM, "param \"m\", which is not in the store");
    tre_ctx_clear_error(r.ctx);
    expect_state(&r, path_of("opt-no-m"));
    /* cut short: an error, the state kept */
    long la;
    unsigned char *a = slurp(path_of("opt"), &la);
    spill(path_of("opt-cut"), a, la - 3);
    free(a);
    assert_non_null(tre_param(r.ctx, "m", tre_scalar(r.ctx, 0.f), TRE_C_REAL));
    TT_FAILS_WITH(r.ctx, tre_adam_load(r.ctx, r.opt, path_of("opt-cut")), TRE_ERR_IO, "cut short or damaged");
    tre_ctx_clear_error(r.ctx);
    expect_state(&r, path_of("opt-no-m"));
    TT_OK(r.ctx, tre_adam_load(r.ctx, r.opt, path_of("opt")));
    run_free(&r);
    /* an optimiser that never stepped: an empty state saves and loads */
    run e = run_new(), f = run_new();
    TT_OK(e.ctx, tre_adam_save(e.ctx, e.opt, path_of("opt-empty")));
    TT_OK(f.ctx, tre_adam_load(f.ctx, f.opt, path_of("opt-empty")));
    run_free(&e), run_free(&f);
}

/* A backend whose n-th upload or allocation fails: a load that fails there leaves the store
 * and the optimiser as they were */
static tre_backend real_be;
static long upload_countdown, alloc_countdown;
static int failing_upload(void *impl, void *dst, const void *host, size_t bytes) {
    if (upload_countdown > 0 && --upload_countdown == 0) return 1;
    return real_be.upload(impl, dst, host, bytes);
}
static void *failing_alloc(void *impl, size_t bytes) {
    if (alloc_countdown > 0 && --alloc_countdown == 0) return NULL;
    return real_be.alloc(impl, bytes);
}

/* A run whose param "b" joins late (from step 4), and "a" is used in two steps of three; the
 * loss is a sum of a term in a and one in b, so each param's updates depend on its own value
 * and optimiser state only. ClippedAdam with decay: a param's rate and step count matter. */
static tre_tensor *quad(tre_ctx *c, tre_tensor *p, float k) {
    return tre_sum(c, tre_sub(c, tre_mul(c, tre_scalar(c, k), p), tre_mul(c, tre_scalar(c, 0.15f), tre_square(c, p))));
}
static tre_tensor *late_model(tre_ctx *c, const void *args) {
    const int t = *(const int *)args;
    tre_tensor *lf = tre_scalar(c, 0.f);
    if (t % 3 != 1) lf = tre_add(c, lf, quad(c, tre_param(c, "a", tre_full(c, 1, (int64_t[]){3}, 0.5f), TRE_C_REAL), sinf((float)t)));
    if (t >= 4) lf = tre_add(c, lf, quad(c, tre_param(c, "b", tre_full(c, 1, (int64_t[]){2}, 2.f), TRE_C_POSITIVE), cosf((float)t)));
    tre_factor(c, "f", lf);
    return NULL;
}
static tre_tensor *late_guide(tre_ctx *c, const void *args) {
    (void)c, (void)args;
    return NULL;
}
static const tre_adam_opts late_opts = {.lr = 0.05, .clip_norm = 0.7, .lrd = 0.97, .weight_decay = 0.01};
static run late_new(void) {
    run r = {tt_ctx(1), NULL, NULL};
    TT_OK(r.ctx, tre_adam_create(r.ctx, &late_opts, &r.opt));
    return r;
}
static void late_steps(run *r, int from, int to) {
    for (int t = from; t < to; ++t) {
        double loss;
        TT_OK(r->ctx, tre_svi_step(r->ctx, late_model, late_guide, &t, &(tre_elbo_opts){.num_particles = 1}, r->opt, &loss));
    }
}
/* a param's unconstrained values (at most 3) */
static void value_of(run *r, const char *name, float out[3]) {
    const tre_param_entry *e = tre_param_store_get(r->ctx, name);
    assert_non_null(e);
    assert_true(e->unconstrained->numel <= 3);
    TT_OK(r->ctx, tre_tensor_to_host(r->ctx, e->unconstrained, out, e->unconstrained->numel));
}

/* Pyro's PyroOptim.load merges: a saved state replaces its param's, the states of params not
 * in the file are kept (b's moments, step count and decayed rate go on as if never loaded) */
static void test_optimiser_load_keeps_the_other_states(void **state) {
    (void)state;
    float a_x[3], b_x[3], a_want[3], b_want[3], a_fresh[3];
    run straight = late_new();
    late_steps(&straight, 0, 15);
    value_of(&straight, "b", b_want);

    run x = late_new();
    late_steps(&x, 0, 4); /* only a so far */
    TT_OK(x.ctx, tre_param_store_save(x.ctx, path_of("late-store")));
    TT_OK(x.ctx, tre_adam_save(x.ctx, x.opt, path_of("late-adam")));
    late_steps(&x, 4, 10); /* b joins */
    /* a load that fails keeps both states */
    char before[128];
    snprintf(before, sizeof before, "%s", path_of("late-before"));
    TT_OK(x.ctx, tre_adam_save(x.ctx, x.opt, before));
    long len;
    unsigned char *bytes = slurp(path_of("late-adam"), &len);
    spill(path_of("late-adam-cut"), bytes, len - 1);
    free(bytes);
    TT_FAILS_WITH(x.ctx, tre_adam_load(x.ctx, x.opt, path_of("late-adam-cut")), TRE_ERR_IO, "late-adam-cut");
    tre_ctx_clear_error(x.ctx);
    expect_state(&x, before);
    /* the files hold a, not b: a's value and state are the file's, b's stay */
    TT_OK(x.ctx, tre_param_store_load(x.ctx, path_of("late-store")));
    /* (a load that fails at any allocation or upload on the backend keeps b's state, and a's
     * is still none: the store's load made a a new param) */
    snprintf(before, sizeof before, "%s", path_of("late-before-merge"));
    TT_OK(x.ctx, tre_adam_save(x.ctx, x.opt, before));
    real_be = *x.ctx->be;
    x.ctx->be->upload = failing_upload;
    x.ctx->be->alloc = failing_alloc;
    int failures = 0;
    for (int alloc = 0; alloc < 2; ++alloc)
        for (long n = 1;; ++n) {
            long *countdown = alloc ? &alloc_countdown : &upload_countdown;
            *countdown = n;
            const tre_status s = tre_adam_load(x.ctx, x.opt, path_of("late-adam"));
            const bool failed = *countdown == 0;
            *countdown = 0;
            if (!failed) { /* past its last call: loaded (the rate too); the store's load makes a new again */
                TT_OK(x.ctx, s);
                TT_OK(x.ctx, tre_param_store_load(x.ctx, path_of("late-store")));
                TT_OK(x.ctx, tre_adam_save(x.ctx, x.opt, before));
                break;
            }
            if (s == TRE_OK) fail_msg("%s #%ld: tre_adam_load failed but said OK", alloc ? "alloc" : "upload", n);
            tre_ctx_clear_error(x.ctx);
            expect_state(&x, before);
            ++failures;
        }
    *x.ctx->be = real_be;
    assert_true(failures >= 4); /* a's two moments: allocated and uploaded */
    TT_OK(x.ctx, tre_adam_load(x.ctx, x.opt, path_of("late-adam")));
    late_steps(&x, 10, 15);
    value_of(&x, "a", a_x);
    value_of(&x, "b", b_x);
    for (int i = 0; i < 2; ++i)
        if (b_x[i] != b_want[i]) fail_msg("b[%d] = %.9g after the load, %.9g straight: its state was not kept", i, b_x[i], b_want[i]);

    /* a's state is the file's: as in a fresh run that loads both files */
    run w = late_new();
    TT_OK(w.ctx, tre_param_store_load(w.ctx, path_of("late-store")));
    TT_OK(w.ctx, tre_adam_load(w.ctx, w.opt, path_of("late-adam")));
    late_steps(&w, 10, 15);
    value_of(&w, "a", a_want);
    for (int i = 0; i < 3; ++i)
        if (a_x[i] != a_want[i]) fail_msg("a[%d] = %.9g, %.9g from the files: its state is not the file's", i, a_x[i], a_want[i]);
    /* (and the state mattered: without it a goes elsewhere) */
    run v = late_new();
    TT_OK(v.ctx, tre_param_store_load(v.ctx, path_of("late-store")));
    late_steps(&v, 10, 15);
    value_of(&v, "a", a_fresh);
    assert_true(a_fresh[0] != a_want[0]);

    /* the state the optimiser holds for a param of the file is replaced, with the store not
     * loaded: x's a (its own value, the file's state) goes on as in a fresh run that loads x's
     * store and the file; b's state, not in the file, is kept again */
    TT_OK(x.ctx, tre_param_store_save(x.ctx, path_of("late-store-15")));
    TT_OK(x.ctx, tre_adam_load(x.ctx, x.opt, path_of("late-adam")));
    late_steps(&x, 15, 20);
    run y = late_new();
    TT_OK(y.ctx, tre_param_store_load(y.ctx, path_of("late-store-15")));
    TT_OK(y.ctx, tre_adam_load(y.ctx, y.opt, path_of("late-adam")));
    late_steps(&y, 15, 20);
    late_steps(&straight, 15, 20);
    value_of(&x, "a", a_x);
    value_of(&y, "a", a_want);
    value_of(&x, "b", b_x);
    value_of(&straight, "b", b_want);
    for (int i = 0; i < 3; ++i)
        if (a_x[i] != a_want[i]) fail_msg("a[%d] = %.9g, %.9g from the files: its state was not replaced", i, a_x[i], a_want[i]);
    for (int i = 0; i < 2; ++i)
        if (b_x[i] != b_want[i]) fail_msg("b[%d] = %.9g after the second load, %.9g straight", i, b_x[i], b_want[i]);
    run_free(&y), run_free(&v), run_free(&w), run_free(&x), run_free(&straight);
}

/* A param-store file of these records with a correct checksum: the format of binfile.h */
typedef struct rec {
    int32_t kind;
    float lower, upper;
    const char *name;
    int ndim;
    int64_t shape[3];
} rec;
static void craft_store(const char *path, const rec *rs, int n) {
    unsigned char b[4096];
    size_t at = 0;
#define PUT(p, k) (assert_true(at + (k) <= sizeof b), memcpy(b + at, (p), (k)), at += (k))
    const uint32_t head[2] = {TRE_BIN_VERSION, 0x01020304u}; /* the version, the byte-order mark */
    const uint64_t count = (uint64_t)n;
    PUT("TREPARAM", 8);
    PUT(head, sizeof head);
    PUT(&count, sizeof count);
    for (int i = 0; i < n; ++i) {
        const rec *r = &rs[i];
        const uint32_t len = (uint32_t)strlen(r->name), nd = (uint32_t)r->ndim;
        PUT(&r->kind, 4);
        PUT(&r->lower, 4);
        PUT(&r->upper, 4);
        PUT(&len, 4);
        PUT(r->name, len);
        PUT(&nd, 4);
        PUT(r->shape, (size_t)r->ndim * 8);
        int64_t numel = 1;
        for (int d = 0; d < r->ndim; ++d) numel *= r->shape[d];
        for (int64_t j = 0; j < numel; ++j) {
            const float v = 0.25f * (float)j - 0.5f;
            PUT(&v, 4);
        }
    }
    const uint64_t hash = tre_fnv1a(TRE_FNV_OFFSET, b, at);
    PUT(&hash, sizeof hash);
#undef PUT
    spill(path, b, (long)at);
}

static tre_status made(tre_ctx *ctx, const tre_tensor *t) { return t ? TRE_OK : tre_ctx_status(ctx); }

/* A file with a correct checksum whose records tre_param would not make (a constraint it
 * refuses, a value of a shape its constraint does not take) or with a name twice: an error
 * naming the path and the param, the store byte for byte as it was */
static void test_invalid_records_change_nothing(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    assert_non_null(tre_param(ctx, "k", tre_from_host(ctx, 1, 1, (int64_t[]){2}, (float[]){0.5f, -1.f}), TRE_C_REAL));
    char before[128];
    snprintf(before, sizeof before, "%s", path_of("valid-before"));
    TT_OK(ctx, tre_param_store_save(ctx, before));
    /* valid records first (a new param, and one replacing k), then the bad one */
    const rec z = {TRE_REAL, 0, 0, "z", 1, {2}}, k = {TRE_POSITIVE, 0, 0, "k", 0, {0}};
    const struct {
        rec bad;
        const char *needle;
    } cases[] = {
        {{TRE_SIMPLEX, 0, 0, "w", 0, {0}}, "simplex acts on the last dim"},
        {{TRE_LOWER_CHOLESKY, 0, 0, "L", 2, {2, 3}}, "square matrix"},
        {{TRE_LOWER_CHOLESKY, 0, 0, "L", 1, {4}}, "square matrix"},
        {{TRE_INTERVAL, 5.f, 1.f, "i", 1, {2}}, "lower < upper"},
        {{TRE_INTERVAL, 1.f, 1.f, "i", 1, {2}}, "lower < upper"},
        {{TRE_INTERVAL, NAN, 1.f, "i", 1, {2}}, "lower < upper"},
        {{TRE_INTERVAL, 0.f, NAN, "i", 1, {2}}, "lower < upper"},
        {{TRE_INTERVAL, -INFINITY, 1.f, "i", 1, {2}}, "finite bounds"},
        {{TRE_INTERVAL, -3e38f, 3e38f, "i", 1, {2}}, "finite width"}, /* upper - lower overflows float */
        {{TRE_GREATER_THAN, NAN, 0, "g", 0, {0}}, "finite lower bound"},
        {{TRE_GREATER_THAN, INFINITY, 0, "g", 0, {0}}, "finite lower bound"},
        {{TRE_LOWER_CHOLESKY + 1, 0, 0, "u", 0, {0}}, "unknown constraint"},
        {{-1, 0, 0, "u", 0, {0}}, "unknown constraint"},
        {{TRE_UNIT_INTERVAL, 0, 0, "z", 0, {0}}, "two params named \"z\""},
    };
    const int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; ++i) {
        char path[128];
        snprintf(path, sizeof path, "%s-%d", path_of("invalid"), i);
        craft_store(path, (rec[]){z, k, cases[i].bad}, 3);
        const tre_status s = tre_param_store_load(ctx, path);
        const char *err = tre_ctx_error(ctx);
        char quoted[16];
        snprintf(quoted, sizeof quoted, "\"%s\"", cases[i].bad.name);
        if (s != TRE_ERR_IO || !strstr(err, path) || !strstr(err, quoted) || !strstr(err, cases[i].needle))
            fail_msg("case %d: %s (%s), expected TRE_ERR_IO naming %s and %s, saying \"%s\"", i, tre_status_name(s),
                     err, path, quoted, cases[i].needle);
        tre_ctx_clear_error(ctx);
        TT_OK(ctx, tre_param_store_save(ctx, path_of("valid-now")));
        if (!same_file(path_of("valid-now"), before)) fail_msg("case %d: the store changed", i);
    }
    /* the same records, valid: they load (the crafted format is right) */
    craft_store(path_of("valid-crafted"),
                (rec[]){z, k, {TRE_SIMPLEX, 0, 0, "w", 1, {2}}, {TRE_LOWER_CHOLESKY, 0, 0, "L", 2, {2, 2}},
                        {TRE_INTERVAL, -1.f, 2.f, "i", 1, {2}}, {TRE_GREATER_THAN, -1.5f, 0, "g", 0, {0}}},
                6);
    TT_OK(ctx, tre_param_store_load(ctx, path_of("valid-crafted")));
    assert_int_equal(tre_param_store_size(ctx), 6);
    for (int i = 0; i < 6; ++i) assert_non_null(tre_param_constrained(ctx, tre_param_store_at(ctx, i)));
    assert_int_equal(tre_param_store_get(ctx, "k")->constraint.kind, TRE_POSITIVE);
    /* the same rules when a param is made: tre_param refuses these constraints too */
    TT_FAILS_WITH(ctx, made(ctx, tre_param(ctx, "g2", tre_scalar(ctx, 1.f), TRE_C_GREATER_THAN(NAN))),
                  TRE_ERR_INVALID_ARG, "finite lower bound");
    tre_ctx_clear_error(ctx);
    TT_FAILS_WITH(ctx, made(ctx, tre_param(ctx, "i2", tre_scalar(ctx, 1.f), TRE_C_INTERVAL(NAN, 2.f))),
                  TRE_ERR_INVALID_ARG, "lower < upper");
    tre_ctx_clear_error(ctx);
    TT_FAILS_WITH(ctx, made(ctx, tre_param(ctx, "i3", tre_scalar(ctx, 1.f), TRE_C_INTERVAL(-3e38f, 3e38f))),
                  TRE_ERR_INVALID_ARG, "finite width");
    tre_ctx_clear_error(ctx);
    assert_int_equal(tre_param_store_size(ctx), 6);
    tre_ctx_destroy(ctx);
}

/* More files with a correct checksum that must not load: exactly two records with one name,
 * a record with an empty name, and bytes after the last record; each an IO error that leaves
 * the store empty */
static void test_more_malformed_stores_are_refused(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    craft_store(path_of("dup-two"), (rec[]){{TRE_REAL, 0, 0, "z", 1, {2}}, {TRE_REAL, 0, 0, "z", 0, {0}}}, 2);
    TT_FAILS_WITH(ctx, tre_param_store_load(ctx, path_of("dup-two")), TRE_ERR_IO, "two params named \"z\"");
    tre_ctx_clear_error(ctx);
    craft_store(path_of("empty-name"), (rec[]){{TRE_REAL, 0, 0, "", 1, {2}}}, 1);
    TT_FAILS_WITH(ctx, tre_param_store_load(ctx, path_of("empty-name")), TRE_ERR_IO, "cut short or damaged");
    tre_ctx_clear_error(ctx);
    /* a negative size, also behind a 0 (no values to read: the element count stays 0) */
    craft_store(path_of("negative-size"), (rec[]){{TRE_REAL, 0, 0, "n", 2, {0, -2}}}, 1);
    TT_FAILS_WITH(ctx, tre_param_store_load(ctx, path_of("negative-size")), TRE_ERR_IO, "cut short or damaged");
    tre_ctx_clear_error(ctx);
    /* a valid one-record file, then 4 zero bytes before a recomputed checksum */
    craft_store(path_of("tail"), (rec[]){{TRE_REAL, 0, 0, "t", 1, {2}}}, 1);
    long len;
    unsigned char *b = slurp(path_of("tail"), &len);
    size_t at = (size_t)len - 8;
    memset(b + at, 0, 4);
    at += 4;
    const uint64_t hash = tre_fnv1a(TRE_FNV_OFFSET, b, at);
    memcpy(b + at, &hash, sizeof hash);
    spill(path_of("tail"), b, (long)(at + sizeof hash));
    free(b);
    TT_FAILS_WITH(ctx, tre_param_store_load(ctx, path_of("tail")), TRE_ERR_IO, "bytes past its last param");
    tre_ctx_clear_error(ctx);
    /* a count of records that the rest of the file cannot hold (a damaged header) is refused
     * before anything is allocated for them */
    craft_store(path_of("count"), (rec[]){{TRE_REAL, 0, 0, "c", 1, {2}}}, 1);
    b = slurp(path_of("count"), &len);
    const uint64_t many = 2; /* two records need 50 bytes or more; 37 are left */
    memcpy(b + 16, &many, sizeof many);
    at = (size_t)len - 8;
    const uint64_t rehash = tre_fnv1a(TRE_FNV_OFFSET, b, at);
    memcpy(b + at, &rehash, sizeof rehash);
    spill(path_of("count"), b, len);
    free(b);
    TT_FAILS_WITH(ctx, tre_param_store_load(ctx, path_of("count")), TRE_ERR_IO, "cut short or damaged (its header)");
    tre_ctx_clear_error(ctx);
    assert_int_equal(tre_param_store_size(ctx), 0);
    tre_ctx_destroy(ctx);
}

static void test_failed_loads_change_nothing(void **state) {
    (void)state;
    run r = run_new();
    double losses[5];
    steps(&r, 3, losses);
    TT_OK(r.ctx, tre_param_store_save(r.ctx, path_of("store-a")));
    TT_OK(r.ctx, tre_adam_save(r.ctx, r.opt, path_of("adam-a")));
    steps(&r, 2, losses);
    TT_OK(r.ctx, tre_param_store_save(r.ctx, path_of("store-b")));
    TT_OK(r.ctx, tre_adam_save(r.ctx, r.opt, path_of("adam-b")));
    TT_OK(r.ctx, tre_param_store_load(r.ctx, path_of("store-a")));
    TT_OK(r.ctx, tre_adam_load(r.ctx, r.opt, path_of("adam-a")));
    real_be = *r.ctx->be;
    r.ctx->be->upload = failing_upload;
    r.ctx->be->alloc = failing_alloc;
    int failures = 0;
    for (int alloc = 0; alloc < 2; ++alloc)
        for (long n = 1;; ++n) {
            const char *kind = alloc ? "alloc" : "upload";
            long *countdown = alloc ? &alloc_countdown : &upload_countdown;
            /* the optimiser: b's state, or a's kept */
            *countdown = n;
            const tre_status sa = tre_adam_load(r.ctx, r.opt, path_of("adam-b"));
            const bool adam_failed = *countdown == 0;
            *countdown = 0;
            tre_ctx_clear_error(r.ctx);
            if (adam_failed && sa == TRE_OK) fail_msg("%s #%ld: tre_adam_load failed but said OK", kind, n);
            expect_state(&r, path_of(adam_failed ? "adam-a" : "adam-b"));
            TT_OK(r.ctx, tre_adam_load(r.ctx, r.opt, path_of("adam-a")));
            /* the store: b's params, or a's kept */
            *countdown = n;
            const tre_status ss = tre_param_store_load(r.ctx, path_of("store-b"));
            const bool store_failed = *countdown == 0;
            *countdown = 0;
            tre_ctx_clear_error(r.ctx);
            if (store_failed && ss == TRE_OK) fail_msg("%s #%ld: tre_param_store_load failed but said OK", kind, n);
            TT_OK(r.ctx, tre_param_store_save(r.ctx, path_of("store-now")));
            if (!same_file(path_of("store-now"), path_of(store_failed ? "store-a" : "store-b")))
                fail_msg("%s #%ld: the store is not %s's", kind, n, store_failed ? "a" : "b");
            /* back to a (loaded params are new params: the optimiser's state after them) */
            TT_OK(r.ctx, tre_param_store_load(r.ctx, path_of("store-a")));
            TT_OK(r.ctx, tre_adam_load(r.ctx, r.opt, path_of("adam-a")));
            failures += adam_failed + store_failed;
            if (!adam_failed && !store_failed) break; /* past the last call of both */
        }
    print_message("%d failed loads, each leaving the store and the optimiser as they were\n", failures);
    assert_true(failures >= 8);
    run_free(&r);
}

/* None of them inside a program */
static tre_tensor *saving_model(tre_ctx *c, const void *args) {
    const int which = *(const int *)args;
    tre_param(c, "q", tre_scalar(c, 1.f), TRE_C_REAL);
    if (which == 0) tre_param_store_save(c, path_of("inside"));
    if (which == 1) tre_param_store_load(c, path_of("inside"));
    if (which == 2) tre_ctx_set_rng_position(c, 3);
    return tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
}
static tre_tensor *no_guide(tre_ctx *c, const void *args) {
    (void)c, (void)args;
    return NULL;
}

static void test_not_inside_a_program(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    const char *names[3] = {"tre_param_store_save", "tre_param_store_load", "tre_ctx_set_rng_position"};
    for (int which = 0; which < 3; ++which) {
        tre_elbo_result r;
        TT_FAILS_WITH(ctx, tre_elbo(ctx, saving_model, no_guide, &which, &(tre_elbo_opts){.num_particles = 2}, &r),
                      TRE_ERR_INVALID_ARG, names[which]);
        assert_non_null(strstr(tre_ctx_error(ctx), "inside a model or guide"));
        tre_ctx_clear_error(ctx);
    }
    /* the position: where the next random op draws */
    TT_OK(ctx, tre_ctx_set_rng_position(ctx, 5));
    const float *x = tt_host(ctx, tre_dist_sample(ctx, tre_normal(ctx, tre_scalar(ctx, 0.f), tre_scalar(ctx, 1.f)), 3), 0);
    assert_int_equal(tre_ctx_rng_position(ctx), 6);
    float first[3] = {x[0], x[1], x[2]};
    TT_OK(ctx, tre_ctx_set_rng_position(ctx, 5));
    x = tt_host(ctx, tre_dist_sample(ctx, tre_normal(ctx, tre_scalar(ctx, 0.f), tre_scalar(ctx, 1.f)), 3), 0);
    for (int i = 0; i < 3; ++i) assert_true(x[i] == first[i]);
    tre_ctx_destroy(ctx);
}

/* ClippedAdam's rate lr * lrd^t may underflow to 0 in a long run (here in two steps): the
 * optimiser saved then is as valid as any, loads, and keeps its params where they are. */
static void test_fully_decayed_rate_saves_and_loads(void **state) {
    (void)state;
    const tre_adam_opts fast_decay = {.lr = 0.05, .lrd = 1e-200};
    double loss[2];
    run a = run_new();
    tre_adam_destroy(a.ctx, a.opt);
    TT_OK(a.ctx, tre_adam_create(a.ctx, &fast_decay, &a.opt));
    steps(&a, 2, loss);
    assert_true(tre_adam_lr(a.opt) == 0.0);
    TT_OK(a.ctx, tre_param_store_save(a.ctx, path_of("store")));
    TT_OK(a.ctx, tre_adam_save(a.ctx, a.opt, path_of("adam")));
    float before[16], after[16];
    const int n = params_of(a.ctx, before, 16);

    run b = run_new();
    tre_adam_destroy(b.ctx, b.opt);
    TT_OK(b.ctx, tre_adam_create(b.ctx, &fast_decay, &b.opt));
    TT_OK(b.ctx, tre_param_store_load(b.ctx, path_of("store")));
    TT_OK(b.ctx, tre_adam_load(b.ctx, b.opt, path_of("adam")));
    assert_true(tre_adam_lr(b.opt) == 0.0);
    steps(&b, 2, loss); /* a rate of 0 moves nothing */
    assert_int_equal(params_of(b.ctx, after, 16), n);
    for (int i = 0; i < n; ++i) assert_true(after[i] == before[i]);
    run_free(&a);
    run_free(&b);
}

/* Loading the store over an existing param gives it a new tensor: as in Pyro, whose optimiser
 * keeps one state per param tensor, the optimiser starts that param over. Its next update is
 * then a first torch Adam step, lr * g / (|g| + eps) (bias corrections cancel), whatever
 * moments the earlier steps left. The loaded tensor is written in place by the optimiser from
 * then on, so it is not marked NaN-free. */
static tre_tensor *pull_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *w = tre_param(c, "w", tre_scalar(c, 0.f), TRE_C_REAL);
    tre_factor(c, "f", tre_neg(c, tre_square(c, tre_sub(c, w, tre_scalar(c, 0.5f)))));
    return NULL;
}

static void test_loaded_param_starts_its_optimiser_over(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    tre_adam *opt = NULL;
    const double lr = 1.0;
    TT_OK(ctx, tre_adam_create(ctx, &(tre_adam_opts){.lr = lr}, &opt));
    const tre_elbo_opts eo = {.num_particles = 1};
    for (int t = 0; t < 3; ++t) TT_OK(ctx, tre_svi_step(ctx, pull_model, late_guide, NULL, &eo, opt, NULL));
    TT_OK(ctx, tre_param_store_save(ctx, path_of("pull")));
    TT_OK(ctx, tre_param_store_load(ctx, path_of("pull")));
    const tre_param_entry *e = tre_param_store_get(ctx, "w");
    assert_non_null(e);
    assert_false(e->unconstrained->known_no_nan);
    float w0, w1;
    TT_OK(ctx, tre_tensor_to_host(ctx, e->unconstrained, &w0, 1));
    TT_OK(ctx, tre_svi_step(ctx, pull_model, late_guide, NULL, &eo, opt, NULL));
    TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "w")->unconstrained, &w1, 1));
    const double g = 2.0 * ((double)w0 - 0.5); /* d loss / dw, loss = (w - 0.5)^2 */
    assert_true(fabs(g) > 0.1);
    TT_NEAR(w1, (double)w0 - lr * g / (fabs(g) + 1e-8), 1e-5);
    tre_adam_destroy(ctx, opt);
    tre_ctx_destroy(ctx);
}

/* Optimiser files with a correct checksum that must not load (the format of adam.c: magic,
 * version and byte-order mark, the rate (f64), the count (u64), then per state its step
 * (i64), rate (f64) and two tensor records): a negative step count, and bytes after the last
 * state. Either is an error naming the file, and the optimiser keeps its state. */
static void rehash_and_spill(const char *path, unsigned char *b, size_t body) {
    const uint64_t hash = tre_fnv1a(TRE_FNV_OFFSET, b, body);
    memcpy(b + body, &hash, sizeof hash);
    spill(path, b, (long)(body + sizeof hash));
}

static void test_malformed_optimiser_files_are_refused(void **state) {
    (void)state;
    run r = run_new();
    double losses[2];
    steps(&r, 2, losses);
    char good[128];
    snprintf(good, sizeof good, "%s", path_of("adam-good"));
    TT_OK(r.ctx, tre_adam_save(r.ctx, r.opt, good));
    long len;
    unsigned char *b = slurp(good, &len);
    uint64_t count;
    memcpy(&count, b + 24, sizeof count);
    assert_true(count >= 1);
    /* the first state's step count, negative */
    int64_t step;
    memcpy(&step, b + 32, sizeof step);
    assert_int_equal(step, 2);
    step = -1;
    memcpy(b + 32, &step, sizeof step);
    rehash_and_spill(path_of("adam-negative-step"), b, (size_t)len - 8);
    TT_FAILS_WITH(r.ctx, tre_adam_load(r.ctx, r.opt, path_of("adam-negative-step")), TRE_ERR_IO,
                  "cut short or damaged (state 1 of");
    tre_ctx_clear_error(r.ctx);
    expect_state(&r, good);
    free(b);
    /* an infinite rate, in the header or in a state (a decayed rate is finite, >= 0) */
    const size_t rate_at[2] = {16, 40};
    const char *rate_needle[2] = {"cut short or damaged (its header)", "cut short or damaged (state 1 of"};
    for (int i = 0; i < 2; ++i) {
        b = slurp(good, &len);
        const double inf = INFINITY;
        memcpy(b + rate_at[i], &inf, sizeof inf);
        rehash_and_spill(path_of("adam-inf-rate"), b, (size_t)len - 8);
        TT_FAILS_WITH(r.ctx, tre_adam_load(r.ctx, r.opt, path_of("adam-inf-rate")), TRE_ERR_IO, rate_needle[i]);
        tre_ctx_clear_error(r.ctx);
        expect_state(&r, good);
        free(b);
    }
    /* the good file, then 4 zero bytes before a recomputed checksum */
    b = slurp(good, &len);
    unsigned char *longer = calloc((size_t)len + 4, 1);
    assert_non_null(longer);
    memcpy(longer, b, (size_t)len - 8);
    rehash_and_spill(path_of("adam-tail"), longer, (size_t)len - 8 + 4);
    TT_FAILS_WITH(r.ctx, tre_adam_load(r.ctx, r.opt, path_of("adam-tail")), TRE_ERR_IO, "bytes past its last state");
    tre_ctx_clear_error(r.ctx);
    expect_state(&r, good);
    free(longer), free(b);
    /* the first state twice (the count one more): two states for one param */
    b = slurp(good, &len);
    size_t at = 32 + 16; /* past the first state's step and rate: its two tensor records */
    for (int t = 0; t < 2; ++t) {
        uint32_t name_len, nd;
        memcpy(&name_len, b + at, 4);
        memcpy(&nd, b + at + 4 + name_len, 4);
        int64_t numel = 1;
        for (uint32_t d = 0; d < nd; ++d) {
            int64_t sz;
            memcpy(&sz, b + at + 8 + name_len + 8 * d, 8);
            numel *= sz;
        }
        at += 8 + name_len + 8 * nd + 4 * (size_t)numel;
    }
    const size_t state_len = at - 32;
    unsigned char *twice = calloc((size_t)len + state_len, 1);
    assert_non_null(twice);
    memcpy(twice, b, 32);
    memcpy(twice + 32, b + 32, state_len);
    memcpy(twice + 32 + state_len, b + 32, (size_t)len - 8 - 32);
    const uint64_t more = count + 1;
    memcpy(twice + 24, &more, sizeof more);
    rehash_and_spill(path_of("adam-twice"), twice, (size_t)len - 8 + state_len);
    TT_FAILS_WITH(r.ctx, tre_adam_load(r.ctx, r.opt, path_of("adam-twice")), TRE_ERR_IO, "holds two states for param");
    tre_ctx_clear_error(r.ctx);
    expect_state(&r, good);
    free(twice), free(b);
    /* the good file itself loads */
    TT_OK(r.ctx, tre_adam_load(r.ctx, r.opt, good));
    run_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_continues_the_run_bit_for_bit),
        cmocka_unit_test(test_load_merges_into_the_store),
        cmocka_unit_test(test_bad_files_change_nothing),
        cmocka_unit_test(test_optimiser_state_must_match_the_store),
        cmocka_unit_test(test_optimiser_load_keeps_the_other_states),
        cmocka_unit_test(test_failed_loads_change_nothing),
        cmocka_unit_test(test_invalid_records_change_nothing),
        cmocka_unit_test(test_more_malformed_stores_are_refused),
        cmocka_unit_test(test_not_inside_a_program),
        cmocka_unit_test(test_fully_decayed_rate_saves_and_loads),
        cmocka_unit_test(test_loaded_param_starts_its_optimiser_over),
        cmocka_unit_test(test_malformed_optimiser_files_are_refused),
    };
    return cmocka_run_group_tests(tests, tt_make_dir, tt_remove_dir);
}
