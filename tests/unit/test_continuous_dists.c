/* The continuous families as distribution objects: parameter validation at the sample site
 * and support validation before a value's first log-prob (errors naming the site, the family
 * and the parameter), validation off, batch shapes, expand and to_event, Delta's point mass,
 * the KL registry (LogNormal || LogNormal beside Normal || Normal), reproducible draws, and
 * the noise shared between families (one Philox stream: the CUDA backend must draw the same). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "kernels/math/special.h"

/* ---- parameter validation at the sample site ----------------------------------------------- */

typedef tre_dist *(*builder)(tre_ctx *c);

static tre_dist *b_normal_scale(tre_ctx *c) { return tre_normal(c, tre_scalar(c, 0), tre_scalar(c, 0)); }
static tre_dist *b_normal_loc(tre_ctx *c) { return tre_normal(c, tre_scalar(c, NAN), tre_scalar(c, 1)); }
static tre_dist *b_log_normal_scale(tre_ctx *c) { return tre_log_normal(c, tre_scalar(c, 0), tre_scalar(c, -1)); }
static tre_dist *b_log_normal_loc(tre_ctx *c) { return tre_log_normal(c, tre_scalar(c, NAN), tre_scalar(c, 1)); }
static tre_dist *b_half_normal(tre_ctx *c) { return tre_half_normal(c, tre_scalar(c, -1)); }
static tre_dist *b_cauchy_scale(tre_ctx *c) { return tre_cauchy(c, tre_scalar(c, 0), tre_scalar(c, -0.5f)); }
static tre_dist *b_cauchy_loc(tre_ctx *c) { return tre_cauchy(c, tre_scalar(c, NAN), tre_scalar(c, 1)); }
static tre_dist *b_half_cauchy(tre_ctx *c) { return tre_half_cauchy(c, tre_scalar(c, 0)); }
static tre_dist *b_laplace_scale(tre_ctx *c) { return tre_laplace(c, tre_scalar(c, 0), tre_scalar(c, -2)); }
static tre_dist *b_laplace_loc(tre_ctx *c) { return tre_laplace(c, tre_scalar(c, NAN), tre_scalar(c, 1)); }
static tre_dist *b_uniform_reversed(tre_ctx *c) { return tre_uniform(c, tre_scalar(c, 2), tre_scalar(c, 1)); }
static tre_dist *b_uniform_empty(tre_ctx *c) { return tre_uniform(c, tre_scalar(c, 1), tre_scalar(c, 1)); }
static tre_dist *b_uniform_elementwise(tre_ctx *c) {
    int64_t n = 3;
    /* low < high holds for elements 0 and 2 only: the check compares element by element */
    return tre_uniform(c, tre_from_host(c, 1, 1, &n, (const float[]){0, 3, -1}),
                       tre_from_host(c, 1, 1, &n, (const float[]){1, 2, 5}));
}
static tre_dist *b_uniform_high(tre_ctx *c) { return tre_uniform(c, tre_scalar(c, -INFINITY), tre_scalar(c, NAN)); }
static tre_dist *b_exponential(tre_ctx *c) { return tre_exponential(c, tre_scalar(c, 0)); }
static tre_dist *b_delta_v(tre_ctx *c) { return tre_delta(c, tre_scalar(c, NAN), NULL); }
static tre_dist *b_delta_ld(tre_ctx *c) { return tre_delta(c, tre_scalar(c, 1), tre_scalar(c, NAN)); }

static const struct {
    builder build;
    const char *needle;
} bad_params[] = {
    {b_normal_scale, "Normal parameter scale must be positive"},
    {b_normal_loc, "Normal parameter loc must be a real number"},
    {b_log_normal_scale, "LogNormal parameter scale must be positive"},
    {b_log_normal_loc, "LogNormal parameter loc must be a real number"},
    {b_half_normal, "HalfNormal parameter scale must be positive"},
    {b_cauchy_scale, "Cauchy parameter scale must be positive"},
    {b_cauchy_loc, "Cauchy parameter loc must be a real number"},
    {b_half_cauchy, "HalfCauchy parameter scale must be positive"},
    {b_laplace_scale, "Laplace parameter scale must be positive"},
    {b_laplace_loc, "Laplace parameter loc must be a real number"},
    {b_uniform_reversed, "Uniform parameter low must be less than high"},
    {b_uniform_empty, "Uniform parameter low must be less than high"},
    {b_uniform_elementwise, "Uniform parameter low must be less than high (1 of 3 values"},
    {b_uniform_high, "Uniform parameter high must be a real number (not NaN)"},
    {b_exponential, "Exponential parameter rate must be positive"},
    {b_delta_v, "Delta parameter v must be a real number"},
    {b_delta_ld, "Delta parameter log_density must be a real number"},
};

typedef struct site_args {
    builder build;
} site_args;

static tre_tensor *one_site(tre_ctx *c, const void *args) {
    return tre_sample(c, "z", ((const site_args *)args)->build(c), NULL);
}

static tre_dist *b_uniform_narrow(tre_ctx *c) {
    return tre_uniform(c, tre_scalar(c, -1.f), tre_scalar(c, nextafterf(-1.f, 0.f)));
}
static tre_dist *b_tiny_scales(tre_ctx *c) {
    tre_tensor *t = tre_scalar(c, 1e-38f);
    return tre_dist_to_event(c, tre_dist_expand(c, tre_half_cauchy(c, t), 1, (const int64_t[]){1}), 1);
}

static void test_bad_parameters_name_site_and_parameter(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    for (size_t i = 0; i < sizeof bad_params / sizeof *bad_params; ++i) {
        tre_ctx_step_reset(ctx);
        site_args a = {bad_params[i].build};
        TT_FAILS_WITH(ctx, tre_run(ctx, one_site, &a, NULL, 0, NULL),
                      TRE_ERR_DIST, bad_params[i].needle);
        TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_DIST, "site \"z\"");
    }
    /* the same parameters pass with validation off, and sampling still runs */
    tre_ctx *off = NULL;
    TT_OK(off, tre_ctx_create(&off, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 1,
                                                     .no_validation = true}));
    tre_tensor *z = NULL;
    site_args a = {b_half_normal};
    TT_OK(off, tre_run(off, one_site, &a, NULL, 0, &z));
    assert_non_null(z);
    tre_ctx_destroy(off);
    /* parameters at the edge of validity pass */
    builder edge[] = {b_uniform_narrow, b_tiny_scales};
    for (size_t i = 0; i < sizeof edge / sizeof *edge; ++i) {
        tre_ctx_step_reset(ctx);
        a.build = edge[i];
        TT_OK(ctx, tre_run(ctx, one_site, &a, NULL, 0, NULL));
    }
    tre_ctx_destroy(ctx);
}

/* ---- support validation before the first log-prob ------------------------------------------ */

typedef struct obs_case {
    builder build;
    float value;
    const char *needle; /* NULL: the value is in the support */
} obs_case;

static tre_dist *s_normal(tre_ctx *c) { return tre_normal(c, tre_scalar(c, 0), tre_scalar(c, 1)); }
static tre_dist *s_log_normal(tre_ctx *c) { return tre_log_normal(c, tre_scalar(c, 0), tre_scalar(c, 1)); }
static tre_dist *s_half_normal(tre_ctx *c) { return tre_half_normal(c, tre_scalar(c, 1)); }
static tre_dist *s_cauchy(tre_ctx *c) { return tre_cauchy(c, tre_scalar(c, 0), tre_scalar(c, 1)); }
static tre_dist *s_half_cauchy(tre_ctx *c) { return tre_half_cauchy(c, tre_scalar(c, 1)); }
static tre_dist *s_laplace(tre_ctx *c) { return tre_laplace(c, tre_scalar(c, 0), tre_scalar(c, 1)); }
static tre_dist *s_uniform(tre_ctx *c) { return tre_uniform(c, tre_scalar(c, -1), tre_scalar(c, 2)); }
static tre_dist *s_exponential(tre_ctx *c) { return tre_exponential(c, tre_scalar(c, 3)); }
static tre_dist *s_delta(tre_ctx *c) { return tre_delta(c, tre_scalar(c, 1.5f), NULL); }

static const obs_case obs_cases[] = {
    {s_normal, NAN, "Normal value must be a real number"},
    {s_normal, -1e30f, NULL},
    {s_log_normal, 0.f, "LogNormal value must be positive"},
    {s_log_normal, -2.f, "LogNormal value must be positive"},
    {s_log_normal, 1e-30f, NULL},
    {s_half_normal, -0.1f, "HalfNormal value must be nonnegative"},
    {s_half_normal, 0.f, NULL},
    {s_cauchy, NAN, "Cauchy value must be a real number"},
    {s_half_cauchy, -1.f, "HalfCauchy value must be nonnegative"},
    {s_half_cauchy, 0.f, NULL},
    {s_laplace, NAN, "Laplace value must be a real number"},
    {s_uniform, 2.5f, "Uniform value must be in [low, high]"},
    {s_uniform, -1.5f, "Uniform value must be in [low, high]"},
    {s_uniform, -1.f, NULL},
    {s_uniform, 2.f, NULL},
    {s_exponential, -1e-6f, "Exponential value must be nonnegative"},
    {s_exponential, 0.f, NULL},
    {s_delta, NAN, "Delta value must be a real number"},
    {s_delta, 7.f, NULL}, /* in the support (reals); its log-density is -inf */
};

typedef struct obs_args {
    builder build;
    const tre_tensor *obs;
} obs_args;

static tre_tensor *observed_site(tre_ctx *c, const void *args) {
    const obs_args *a = args;
    return tre_sample(c, "obs", a->build(c), a->obs);
}

static void test_values_outside_the_support_name_the_site(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    for (size_t i = 0; i < sizeof obs_cases / sizeof *obs_cases; ++i) {
        tre_ctx_step_reset(ctx);
        obs_args a = {obs_cases[i].build, tre_scalar(ctx, obs_cases[i].value)};
        tre_messenger *tr = tre_trace_handler(ctx);
        TT_OK(ctx, tre_run(ctx, observed_site, &a, &tr, 1, NULL));
        tre_tensor *lp = tre_trace_log_prob_sum(ctx, tre_trace_handler_trace(tr));
        if (obs_cases[i].needle) {
            assert_null(lp);
            TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_DIST, obs_cases[i].needle);
            TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_DIST, "site \"obs\"");
        } else if (!lp) {
            fail_msg("case %zu (value %g): %s", i, (double)obs_cases[i].value, tre_ctx_error(ctx));
        }
    }
    tre_ctx_destroy(ctx);
}

/* A value too large for one pass (the check runs in chunks, in parallel) is checked up to its
 * last element: one bad element, last, or first, or none, over a length that does not fill its
 * last chunk. */
static void test_large_value_checked_to_its_end(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    const int64_t n = 3 * 65536 + 5;
    float *v = malloc((size_t)n * sizeof *v);
    const int64_t bad_at[3] = {n - 1, 0, -1};
    for (int c = 0; c < 3; ++c) {
        tre_ctx_step_reset(ctx);
        for (int64_t i = 0; i < n; ++i) v[i] = i == bad_at[c] ? -0.5f : 0.25f + (float)(i % 7);
        obs_args a = {s_half_normal, tre_from_host(ctx, 1, 1, &n, v)};
        tre_messenger *tr = tre_trace_handler(ctx);
        TT_OK(ctx, tre_run(ctx, observed_site, &a, &tr, 1, NULL));
        tre_tensor *lp = tre_trace_log_prob_sum(ctx, tre_trace_handler_trace(tr));
        if (bad_at[c] >= 0) {
            assert_null(lp);
            TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_DIST, "HalfNormal value must be nonnegative");
            tre_ctx_clear_error(ctx);
        } else if (!lp) {
            fail_msg("all values valid: %s", tre_ctx_error(ctx));
        }
    }
    free(v);
    tre_ctx_destroy(ctx);
}

/* With validation off, values outside the support get log-density -inf (not an error). */
static void test_outside_support_without_validation(void **state) {
    (void)state;
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .no_validation = true}));
    int64_t n = 2;
    tre_tensor *neg = tre_from_host(ctx, 1, 1, &n, (const float[]){-1.f, 0.f});
    const tre_dist *ds[] = {tre_log_normal(ctx, tre_scalar(ctx, 0), tre_scalar(ctx, 1)),
                            tre_half_normal(ctx, tre_scalar(ctx, 1)), tre_half_cauchy(ctx, tre_scalar(ctx, 1)),
                            tre_exponential(ctx, tre_scalar(ctx, 1)),
                            tre_uniform(ctx, tre_scalar(ctx, 0.5f), tre_scalar(ctx, 1))};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; ++i) {
        const float *h = tt_host(ctx, tre_dist_log_prob(ctx, ds[i], neg), 0);
        assert_true(isinf(h[0]) && h[0] < 0);
        /* 0 is in the closed support of the half-line families, not of LogNormal or Uniform */
        assert_true(i == 0 || i == 4 ? isinf(h[1]) : isfinite(h[1]));
    }
    tre_ctx_destroy(ctx);
}

/* ---- shapes, expand, to_event, Delta ------------------------------------------------------- */

static void test_names_rsample_and_shapes(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(3);
    int64_t s3 = 3, shape[TRE_MAX_DIMS];
    tre_tensor *v3 = tre_from_host(ctx, 1, 1, &s3, (const float[]){0.5f, 1.f, 2.f});
    tre_tensor *one = tre_scalar(ctx, 1.f);
    struct {
        const tre_dist *d;
        const char *name;
    } cases[] = {
        {tre_log_normal(ctx, v3, one), "LogNormal"},   {tre_half_normal(ctx, v3), "HalfNormal"},
        {tre_cauchy(ctx, one, v3), "Cauchy"},          {tre_half_cauchy(ctx, v3), "HalfCauchy"},
        {tre_laplace(ctx, v3, one), "Laplace"},        {tre_uniform(ctx, tre_scalar(ctx, 0), v3), "Uniform"},
        {tre_exponential(ctx, v3), "Exponential"},     {tre_delta(ctx, v3, NULL), "Delta"},
        {tre_normal(ctx, one, v3), "Normal"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        const tre_dist *d = cases[i].d;
        if (!d) fail_msg("%s: %s", cases[i].name, tre_ctx_error(ctx));
        assert_string_equal(tre_dist_name(d), cases[i].name);
        assert_true(tre_dist_has_rsample(d));
        assert_int_equal(tre_dist_batch_shape(d, shape), 1);
        assert_int_equal(shape[0], 3);
        assert_int_equal(tre_dist_event_shape(d, NULL), 0);
        /* expand to [4, 3], move both dims to the event: a draw has shape [4, 3] and one
         * log-density per particle */
        const tre_dist *e = tre_dist_to_event(ctx, tre_dist_expand(ctx, d, 2, (const int64_t[]){4, 3}), 2);
        tre_tensor *x = tre_dist_sample(ctx, e, 5);
        if (!x) fail_msg("%s: %s", cases[i].name, tre_ctx_error(ctx));
        assert_true(x->particles == 5 && x->ndim == 2 && x->shape[0] == 4 && x->shape[1] == 3);
        tre_tensor *lp = tre_dist_log_prob(ctx, e, x);
        assert_true(lp && lp->particles == 5 && lp->ndim == 0);
        const float *h = tt_host(ctx, lp, 0);
        for (int p = 0; p < 5; ++p)
            if (!isfinite(h[p])) fail_msg("%s: log-density of its own draw is %g", cases[i].name, h[p]);
    }
    /* a draw needs at least one particle */
    assert_null(tre_dist_sample(ctx, cases[0].d, 0));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_SHAPE, "sample: LogNormal");
    tre_ctx_clear_error(ctx);
    assert_null(tre_dist_sample(ctx, cases[0].d, -2));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_SHAPE, "sample: LogNormal");
    tre_ctx_clear_error(ctx);
    /* parameters that do not broadcast: a shape error naming the parameter */
    int64_t s2 = 2;
    tre_tensor *v2 = tre_from_host(ctx, 1, 1, &s2, (const float[]){1, 2});
    assert_null(tre_uniform(ctx, v3, v2));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_SHAPE, "Uniform: parameter high");
    /* expand to a negative size is a shape error (it broadcast, and an observed site then
     * summed over no elements), named at the site that uses it; NULL has no shapes */
    tre_ctx_step_reset(ctx);
    tre_dist *neg = tre_dist_expand(ctx, tre_normal(ctx, tre_scalar(ctx, 0.f), tre_scalar(ctx, 1.f)), 1,
                                    (const int64_t[]){-3});
    assert_null(neg);
    assert_null(tre_sample(ctx, "x", neg, tre_scalar(ctx, 5.f)));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_SHAPE, "sizes must be >= 0");
    assert_non_null(strstr(tre_ctx_error(ctx), "\"x\""));
    /* so are to_event past the batch dims, and an expand that does not broadcast */
    tre_ctx_clear_error(ctx);
    tre_ctx_step_reset(ctx);
    v3 = tre_from_host(ctx, 1, 1, &s3, (const float[]){0.5f, 1.f, 2.f});
    assert_null(tre_sample(ctx, "ev", tre_dist_to_event(ctx, tre_normal(ctx, v3, tre_scalar(ctx, 1.f)), 2), NULL));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_SHAPE, "site \"ev\": to_event(2)");
    tre_ctx_clear_error(ctx);
    assert_null(tre_sample(ctx, "ex", tre_dist_expand(ctx, tre_normal(ctx, v3, tre_scalar(ctx, 1.f)), 1, &s2), NULL));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_SHAPE, "site \"ex\": expand");
    assert_int_equal(tre_dist_batch_shape(NULL, NULL), 0);
    assert_int_equal(tre_dist_event_shape(NULL, NULL), 0);
    tre_ctx_destroy(ctx);
}

/* expand only grows: a batch shape [3] does not expand to [1] or to [] (they broadcast with it,
 * but to [3]), while [3] -> [2, 3] does */
static void test_expand_cannot_shrink_the_batch_shape(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    int64_t s3 = 3, s1 = 1;
    for (int nd = 0; nd < 2; ++nd) {
        tre_ctx_step_reset(ctx);
        tre_tensor *v3 = tre_from_host(ctx, 1, 1, &s3, (const float[]){0.5f, 1.f, 2.f});
        assert_null(tre_dist_expand(ctx, tre_normal(ctx, v3, tre_scalar(ctx, 1.f)), nd, nd ? &s1 : NULL));
        TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_SHAPE, nd ? "cannot expand to [1]" : "cannot expand to []");
        tre_ctx_clear_error(ctx);
    }
    tre_ctx_step_reset(ctx);
    tre_tensor *v3 = tre_from_host(ctx, 1, 1, &s3, (const float[]){0.5f, 1.f, 2.f});
    const tre_dist *e = tre_dist_expand(ctx, tre_normal(ctx, v3, tre_scalar(ctx, 1.f)), 2, (const int64_t[]){2, 3});
    assert_non_null(e);
    int64_t b[8];
    assert_int_equal(tre_dist_batch_shape(e, b), 2);
    assert_true(b[0] == 2 && b[1] == 3);
    tre_ctx_destroy(ctx);
}

static void test_delta_point_mass(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    int64_t shape[2] = {2, 3};
    const float vv[6] = {0.f, 1.f, -2.f, 3.5f, 1e30f, -0.f};
    tre_tensor *v = tre_from_host(ctx, 1, 2, shape, vv);
    tre_tensor *ld = tre_from_host(ctx, 1, 1, &shape[1], (const float[]){-1.f, 0.5f, 2.f});
    /* NULL log_density: 0 */
    tre_dist *d0 = tre_delta(ctx, v, NULL), *d = tre_delta(ctx, v, ld);
    assert_non_null(d0);
    assert_non_null(d);
    int64_t b[TRE_MAX_DIMS];
    assert_int_equal(tre_dist_batch_shape(d, b), 2);
    assert_true(b[0] == 2 && b[1] == 3);
    /* a draw is v itself, for every particle, and uses no randomness */
    tre_tensor *x = tre_dist_sample(ctx, d, 4);
    const float *hx = tt_host(ctx, x, 0);
    for (int i = 0; i < 24; ++i) assert_true(memcmp(&hx[i], &vv[i % 6], sizeof(float)) == 0);
    /* log_prob: log_density on the atom (0 for NULL), -inf elsewhere; +0 and -0 are one atom */
    float other[6];
    memcpy(other, vv, sizeof other);
    other[1] = 1.0000001f;
    other[5] = 0.f;
    tre_tensor *xo = tre_from_host(ctx, 1, 2, shape, other);
    const float *l0 = tt_host(ctx, tre_dist_log_prob(ctx, d0, v), 1);
    const float *l1 = tt_host(ctx, tre_dist_log_prob(ctx, d, xo), 2);
    const float want1[6] = {-1.f, -INFINITY, 2.f, -1.f, 0.5f, 2.f};
    for (int i = 0; i < 6; ++i) {
        assert_true(l0[i] == 0.f);
        assert_true(l1[i] == want1[i]);
    }
    /* to_event(2): one number, the sum */
    tre_tensor *s = tre_dist_log_prob(ctx, tre_dist_to_event(ctx, d, 2), v);
    TT_NEAR(tt_at(ctx, s, 0), 2 * (-1.0 + 0.5 + 2.0), 1e-6);
    tre_ctx_destroy(ctx);
}

/* ---- KL ------------------------------------------------------------------------------------ */

static double kl_normal(double m1, double s1, double m2, double s2) {
    return log(s2 / s1) + (s1 * s1 + (m1 - m2) * (m1 - m2)) / (2 * s2 * s2) - 0.5;
}

static void test_kl_registry(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    int64_t n = 3;
    const float m1[3] = {0.f, 0.3f, -1.f}, s1[3] = {1.f, 0.5f, 2.f};
    const float m2 = 0.2f, s2 = 1.5f;
    tre_tensor *pm = tre_from_host(ctx, 1, 1, &n, m1), *ps = tre_from_host(ctx, 1, 1, &n, s1);
    tre_dist *pn = tre_normal(ctx, pm, ps), *qn = tre_normal(ctx, tre_scalar(ctx, m2), tre_scalar(ctx, s2));
    tre_dist *pl = tre_log_normal(ctx, pm, ps), *ql = tre_log_normal(ctx, tre_scalar(ctx, m2), tre_scalar(ctx, s2));
    assert_true(tre_kl_exists(pn, qn) && tre_kl_exists(pl, ql));
    assert_false(tre_kl_exists(pl, qn));
    assert_false(tre_kl_exists(pn, ql));
    const float *kn = tt_host(ctx, tre_kl_divergence(ctx, pn, qn), 0);
    const float *kl = tt_host(ctx, tre_kl_divergence(ctx, pl, ql), 1);
    for (int i = 0; i < 3; ++i) {
        double want = kl_normal(m1[i], s1[i], m2, s2);
        TT_NEAR(kn[i], want, 1e-6 * (1 + want));
        TT_NEAR(kl[i], want, 1e-6 * (1 + want));
    }
    /* KL(p || p) = 0; to_event(1) sums over the reinterpreted dim */
    const float *self = tt_host(ctx, tre_kl_divergence(ctx, pl, pl), 2);
    for (int i = 0; i < 3; ++i) TT_NEAR(self[i], 0.0, 1e-7);
    tre_tensor *ke = tre_kl_divergence(ctx, tre_dist_to_event(ctx, pl, 1),
                                       tre_dist_to_event(ctx, tre_dist_expand(ctx, ql, 1, &n), 1));
    assert_true(ke && ke->ndim == 0);
    double sum = 0;
    for (int i = 0; i < 3; ++i) sum += kl_normal(m1[i], s1[i], m2, s2);
    TT_NEAR(tt_at(ctx, ke, 0), sum, 1e-5);
    /* an expanded distribution's batch shape holds more than its parameters: the KL has that
     * shape (either side expanded), and to_event sums only the reinterpreted dims */
    const int64_t b23[2] = {2, 3};
    tre_tensor *kx[2] = {tre_kl_divergence(ctx, tre_dist_expand(ctx, pn, 2, b23), qn),
                         tre_kl_divergence(ctx, pn, tre_dist_expand(ctx, qn, 2, b23))};
    for (int k = 0; k < 2; ++k) {
        assert_true(kx[k] && kx[k]->ndim == 2 && kx[k]->shape[0] == 2 && kx[k]->shape[1] == 3);
        const float *h = tt_host(ctx, kx[k], 3);
        for (int i = 0; i < 6; ++i) TT_NEAR(h[i], kl_normal(m1[i % 3], s1[i % 3], m2, s2), 1e-6 * (1 + h[i]));
    }
    tre_tensor *kxe = tre_kl_divergence(ctx, tre_dist_to_event(ctx, tre_dist_expand(ctx, pn, 2, b23), 1),
                                        tre_dist_to_event(ctx, tre_dist_expand(ctx, qn, 1, &n), 1));
    assert_true(kxe && kxe->ndim == 1 && kxe->shape[0] == 2);
    TT_NEAR(tt_host(ctx, kxe, 3)[0], sum, 1e-5);
    TT_NEAR(tt_host(ctx, kxe, 3)[1], sum, 1e-5);
    /* HalfNormal, Exponential and Poisson pairs (PyTorch's closed forms), against the
     * formulas in double */
    const float a[3] = {0.5f, 1.f, 3.f};
    const double b = 1.7;
    tre_tensor *pa = tre_from_host(ctx, 1, 1, &n, a), *qb = tre_scalar(ctx, (float)b);
    const float *khn = tt_host(ctx, tre_kl_divergence(ctx, tre_half_normal(ctx, pa), tre_half_normal(ctx, qb)), 0);
    const float *kex = tt_host(ctx, tre_kl_divergence(ctx, tre_exponential(ctx, pa), tre_exponential(ctx, qb)), 1);
    const float *kpo = tt_host(ctx, tre_kl_divergence(ctx, tre_poisson(ctx, pa), tre_poisson(ctx, qb)), 2);
    for (int i = 0; i < 3; ++i) {
        const double r = a[i] / b;
        TT_NEAR(khn[i], 0.5 * (r * r - 1) - log(r), 1e-6);
        TT_NEAR(kex[i], 1 / r - 1 + log(r), 1e-6);
        TT_NEAR(kpo[i], a[i] * log(r) - (a[i] - b), 1e-6);
    }
    /* Laplace || Laplace, Gamma || Exponential and Exponential || Gamma (PyTorch's forms) */
    const float *kla = tt_host(ctx, tre_kl_divergence(ctx, tre_laplace(ctx, pa, pa), tre_laplace(ctx, qb, qb)), 3);
    const float *kge = tt_host(ctx, tre_kl_divergence(ctx, tre_gamma(ctx, pa, pa), tre_exponential(ctx, qb)), 4);
    const float *keg = tt_host(ctx, tre_kl_divergence(ctx, tre_exponential(ctx, pa), tre_gamma(ctx, qb, qb)), 5);
    const double euler = 0.57721566490153286;
    for (int i = 0; i < 3; ++i) {
        const double loc = a[i], sc = a[i], d = fabs(loc - b), r = sc / b;
        TT_NEAR(kla[i], -log(r) + d / b + r * exp(-d / sc) - 1, 1e-6);
        /* Gamma(a, a) || Exponential(b): -entropy(p) - log b + b a / a */
        const double c = a[i], ent = c - log(c) + lgamma(c) + (1 - c) * tre_digamma(c);
        TT_NEAR(kge[i], -ent - log(b) + b, 1e-5);
        /* Exponential(a) || Gamma(b, b): PyTorch's _kl_exponential_gamma */
        const double ratio = b / a[i];
        TT_NEAR(keg[i], -b * log(ratio) + ratio + lgamma(b) + b * euler - (1 + euler), 1e-5);
    }
    assert_false(tre_kl_exists(tre_exponential(ctx, pa), tre_half_normal(ctx, qb)));
    /* a pair without a closed form is an error naming both families */
    assert_null(tre_kl_divergence(ctx, pl, qn));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_UNSUPPORTED, "LogNormal || Normal");
    tre_ctx_destroy(ctx);
}

/* KL(Cauchy || Cauchy) by quadrature: x = m1 + g1 tan(t) makes p(x) dx = dt / pi on
 * (-pi/2, pi/2), where log p / q is smooth and bounded (midpoint rule, 2e5 points). */
#define TT_PI 3.14159265358979323846
static double cauchy_log_pdf(double x, double m, double g) {
    const double z = (x - m) / g;
    return -log(TT_PI * g * (1 + z * z));
}
static double kl_cauchy_quadrature(double m1, double g1, double m2, double g2) {
    const int n = 200000;
    double sum = 0;
    for (int i = 0; i < n; ++i) {
        const double t = -TT_PI / 2 + TT_PI * (i + 0.5) / n, x = m1 + g1 * tan(t);
        sum += cauchy_log_pdf(x, m1, g1) - cauchy_log_pdf(x, m2, g2);
    }
    return sum / n;
}

static void test_kl_cauchy_and_uniform(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    int64_t n = 4;
    const float m1[4] = {0.f, 0.3f, -1.f, 5.f}, g1[4] = {1.f, 0.5f, 2.f, 0.1f};
    const float m2 = 0.2f, g2 = 1.5f;
    tre_dist *pc = tre_cauchy(ctx, tre_from_host(ctx, 1, 1, &n, m1), tre_from_host(ctx, 1, 1, &n, g1));
    tre_dist *qc = tre_cauchy(ctx, tre_scalar(ctx, m2), tre_scalar(ctx, g2));
    assert_true(tre_kl_exists(pc, qc));
    const float *kc = tt_host(ctx, tre_kl_divergence(ctx, pc, qc), 0);
    for (int i = 0; i < 4; ++i) {
        const double want = kl_cauchy_quadrature(m1[i], g1[i], m2, g2);
        TT_NEAR(kc[i], want, 2e-6 * (1 + want));
    }
    TT_NEAR(tt_at(ctx, tre_kl_divergence(ctx, pc, pc), 1), 0.0, 1e-7);
    /* Uniform: p inside q gives log(width_q / width_p); p reaching below q's low or above q's
     * high gives +inf; equal supports give 0 */
    const float l1[5] = {0.f, -1.f, 0.5f, 2.f, -2.f}, h1[5] = {1.f, 3.f, 3.5f, 2.5f, 3.f};
    int64_t n5 = 5;
    tre_dist *pu = tre_uniform(ctx, tre_from_host(ctx, 1, 1, &n5, l1), tre_from_host(ctx, 1, 1, &n5, h1));
    tre_dist *qu = tre_uniform(ctx, tre_scalar(ctx, -1.f), tre_scalar(ctx, 3.f));
    assert_true(tre_kl_exists(pu, qu));
    assert_false(tre_kl_exists(pu, qc));
    tre_tensor *ku = tre_kl_divergence(ctx, pu, qu);
    if (!ku) fail_msg("%s", tre_ctx_error(ctx));
    assert_int_equal(ku->ndim, 1);
    assert_int_equal(ku->shape[0], 5);
    const float *hu = tt_host(ctx, ku, 1);
    TT_NEAR(hu[0], log(4.0), 1e-6);
    TT_NEAR(hu[1], 0.0, 1e-7);
    assert_true(isinf(hu[2]) && hu[2] > 0);
    TT_NEAR(hu[3], log(4.0 / 0.5), 1e-6);
    assert_true(isinf(hu[4]) && hu[4] > 0);
    /* the reverse direction: [-1, 3] lies inside [-1, 3] and [-2, 3] only */
    const float *hr = tt_host(ctx, tre_kl_divergence(ctx, qu, pu), 2);
    assert_true(isinf(hr[0]) && isinf(hr[2]) && isinf(hr[3]));
    TT_NEAR(hr[1], 0.0, 1e-7);
    TT_NEAR(hr[4], log(5.0 / 4.0), 1e-6);
    tre_ctx_destroy(ctx);
}

/* ---- draws --------------------------------------------------------------------------------- */

enum { NP = 257 }; /* not a multiple of the Philox block of 4 */

/* NP draws (particles) of a scalar distribution in a fresh context with `seed`. */
static void draw(uint64_t seed, tre_dist *(*make)(tre_ctx *c), double *out) {
    tre_ctx *ctx = tt_ctx(seed);
    tre_tensor *x = tre_dist_sample(ctx, make(ctx), NP);
    if (!x) fail_msg("%s", tre_ctx_error(ctx));
    const float *h = tt_host(ctx, x, 0);
    for (int i = 0; i < NP; ++i) out[i] = h[i];
    tre_ctx_destroy(ctx);
}

static tre_dist *d_normal(tre_ctx *c) { return tre_normal(c, tre_scalar(c, 0.3f), tre_scalar(c, 0.7f)); }
static tre_dist *d_log_normal(tre_ctx *c) { return tre_log_normal(c, tre_scalar(c, 0.3f), tre_scalar(c, 0.7f)); }
static tre_dist *d_half_normal(tre_ctx *c) { return tre_half_normal(c, tre_scalar(c, 0.7f)); }
static tre_dist *d_unit_uniform(tre_ctx *c) { return tre_uniform(c, tre_scalar(c, 0), tre_scalar(c, 1)); }
static tre_dist *d_exponential(tre_ctx *c) { return tre_exponential(c, tre_scalar(c, 2)); }
static tre_dist *d_cauchy(tre_ctx *c) { return tre_cauchy(c, tre_scalar(c, 0), tre_scalar(c, 1)); }
static tre_dist *d_half_cauchy(tre_ctx *c) { return tre_half_cauchy(c, tre_scalar(c, 1)); }
static tre_dist *d_laplace(tre_ctx *c) { return tre_laplace(c, tre_scalar(c, 0), tre_scalar(c, 1)); }

/* Draws are reproducible bit for bit under one seed, differ under another; and families that
 * transform the same noise agree: LogNormal = exp(Normal), HalfNormal = |Normal(0, s)| with the
 * normal stream, and Exponential, Cauchy, HalfCauchy, Laplace = quantiles of the uniform that
 * Uniform(0, 1) draws. The CUDA backend must reproduce these relations. */
static void test_draws_reproducible_and_share_noise(void **state) {
    (void)state;
    static double a[NP], b[NP], n[NP], u[NP];
    tre_dist *(*all[])(tre_ctx *) = {d_normal, d_log_normal, d_half_normal, d_unit_uniform,
                                      d_exponential, d_cauchy, d_half_cauchy, d_laplace};
    for (size_t k = 0; k < sizeof all / sizeof *all; ++k) {
        draw(11, all[k], a);
        draw(11, all[k], b);
        assert_memory_equal(a, b, sizeof a);
        draw(12, all[k], b);
        int same = 0;
        for (int i = 0; i < NP; ++i) same += a[i] == b[i];
        assert_true(same < 3);
    }
    draw(11, d_normal, n);
    draw(11, d_unit_uniform, u);
    draw(11, d_log_normal, a);
    for (int i = 0; i < NP; ++i) TT_NEAR(a[i], exp(n[i]), 2e-6 * exp(n[i]));
    draw(11, d_half_normal, a);
    for (int i = 0; i < NP; ++i) TT_NEAR(a[i], fabs(n[i] - 0.3), 2e-6 * (1 + fabs(n[i])));
    /* u is a float rounding of the double uniform: its quantiles agree to that rounding */
    for (int i = 0; i < NP; ++i) assert_true(u[i] > 0 && u[i] < 1);
    draw(11, d_exponential, a);
    for (int i = 0; i < NP; ++i) TT_NEAR(a[i], -log(u[i]) / 2, 1e-6 * (1 + a[i]) + 1e-7 / u[i]);
    const double pi = 3.14159265358979323846;
    draw(11, d_cauchy, a);
    for (int i = 0; i < NP; ++i) TT_NEAR(atan(a[i]) / pi + 0.5, u[i], 1e-6);
    draw(11, d_half_cauchy, a);
    for (int i = 0; i < NP; ++i) TT_NEAR(2 * atan(a[i]) / pi, u[i], 1e-6);
    draw(11, d_laplace, a);
    for (int i = 0; i < NP; ++i) {
        double cdf = a[i] < 0 ? 0.5 * exp(a[i]) : 1 - 0.5 * exp(-a[i]);
        TT_NEAR(cdf, u[i], 1e-6);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_parameters_name_site_and_parameter),
        cmocka_unit_test(test_values_outside_the_support_name_the_site),
        cmocka_unit_test(test_large_value_checked_to_its_end),
        cmocka_unit_test(test_outside_support_without_validation),
        cmocka_unit_test(test_names_rsample_and_shapes),
        cmocka_unit_test(test_expand_cannot_shrink_the_batch_shape),
        cmocka_unit_test(test_delta_point_mass),
        cmocka_unit_test(test_kl_registry),
        cmocka_unit_test(test_kl_cauchy_and_uniform),
        cmocka_unit_test(test_draws_reproducible_and_share_noise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
