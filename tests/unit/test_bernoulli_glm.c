/* Bernoulli(logits = x w) (tre_bernoulli_logits_glm) and its fused CPU kernel.
 *
 * The kernel (backend op bernoulli_glm_sum) against a double-precision loop over shapes that
 * miss its tiles (data rows not a multiple of 64, particles not a multiple of 6, one feature,
 * none) or span several of its chunks of tiles, its gradient against central differences of that loop, and its sums independent of the
 * thread count. Through the API: ELBO values and parameter gradients of a logistic regression
 * equal those of Bernoulli(logits = tre_matmul(x, w)) with the same draws, on the fused path and
 * on the paths that form the logits (a mask, a scale, gradients w.r.t. x, log_prob, sampling);
 * bad arguments are errors that name the site and the parameter and leave the context usable. */
#include <omp.h>
#include <stdlib.h>
#include "test_support.h"
#include "kernels/backend.h"
#include "kernels/math/bernoulli.h"
#include "src/dist/dist_impl.h" /* tre_dist_log_prob_sum: the site's sum, fused or not */

static double unif(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* out[p] = scale * sum_i lp(y_i | x_i . w_p) and its gradient w.r.t. w, in double */
static void reference(int64_t P, int64_t n, int64_t d, const float *x, const double *w,
                      const float *y, double scale, double *lp, double *grad) {
    for (int64_t p = 0; p < P; ++p) {
        lp[p] = 0;
        for (int64_t j = 0; j < d; ++j) grad[p * d + j] = 0;
        for (int64_t i = 0; i < n; ++i) {
            double l = 0;
            for (int64_t j = 0; j < d; ++j) l += (double)x[i * d + j] * w[p * d + j];
            lp[p] += scale * tre_bernoulli_logits_log_prob_d(y[i], l);
            const double r = tre_bernoulli_logits_dlp_dlogits_d(y[i], l);
            for (int64_t j = 0; j < d; ++j) grad[p * d + j] += scale * r * x[i * d + j];
        }
    }
}

typedef struct glm_case {
    int64_t P, n, d;
    float *x, *w, *y;
    double *wd;
} glm_case;

static glm_case make_case(int64_t P, int64_t n, int64_t d, uint64_t seed) {
    glm_case c = {P, n, d, malloc((size_t)(n * d + 1) * sizeof(float)),
                  malloc((size_t)(P * d + 1) * sizeof(float)), malloc((size_t)(n + 1) * sizeof(float)),
                  malloc((size_t)(P * d + 1) * sizeof(double))};
    for (int64_t i = 0; i < n * d; ++i) c.x[i] = (float)(2 * unif(&seed) - 1);
    for (int64_t i = 0; i < P * d; ++i) c.wd[i] = c.w[i] = (float)(3 * unif(&seed) - 1.5);
    for (int64_t i = 0; i < n; ++i) c.y[i] = unif(&seed) < 0.4 ? 1.f : 0.f;
    return c;
}
static void free_case(glm_case *c) { free(c->x), free(c->w), free(c->y), free(c->wd); }

static void test_kernel_matches_reference(void **state) {
    (void)state;
    tre_backend *be = tre_backend_cpu_create();
    assert_non_null(be);
    const int64_t shapes[][3] = {{1, 1, 1}, {5, 63, 3}, {7, 64, 50}, {13, 130, 7}, {6, 200, 70},
                                 {2, 0, 4}, {3, 5, 0}, {1100, 150, 5}, {7, 2500, 3}, {6, 1024, 2},
                                 /* several chunks of tiles (units of blocks, then single
                                  * blocks and particles); one tile per chunk */
                                 {250, 6000, 50}, {13, 200, 2100}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; ++s) {
        const int64_t P = shapes[s][0], n = shapes[s][1], d = shapes[s][2];
        glm_case c = make_case(P, n, d, 17 + s);
        const double scale = 0.75;
        double *lp = malloc((size_t)P * sizeof *lp), *gr = malloc((size_t)(P * d + 1) * sizeof *gr);
        float *out = malloc((size_t)P * sizeof *out), *grad = malloc((size_t)(P * d + 1) * sizeof *grad),
              *out2 = malloc((size_t)P * sizeof *out2), *grad1 = malloc((size_t)(P * d + 1) * sizeof *grad1);
        reference(P, n, d, c.x, c.wd, c.y, scale, lp, gr);
        assert_int_equal(be->bernoulli_glm_sum(be->impl, P, n, d, c.x, c.w, c.y, (float)scale, out, grad), 0);
        for (int64_t p = 0; p < P; ++p) {
            TT_NEAR(out[p], lp[p], 2e-6 * (n * d + 1) + 1e-6 * fabs(lp[p]));
            for (int64_t j = 0; j < d; ++j) TT_NEAR(grad[p * d + j], gr[p * d + j], 2e-6 * (n + 1) * (d + 1));
        }
        /* the value alone is the same number; one thread sums in the same order as two */
        assert_int_equal(be->bernoulli_glm_sum(be->impl, P, n, d, c.x, c.w, c.y, (float)scale, out2, NULL), 0);
        assert_memory_equal(out, out2, (size_t)P * sizeof *out);
        const int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        assert_int_equal(be->bernoulli_glm_sum(be->impl, P, n, d, c.x, c.w, c.y, (float)scale, out2, grad1), 0);
        omp_set_num_threads(threads);
        assert_memory_equal(out, out2, (size_t)P * sizeof *out);
        assert_memory_equal(grad, grad1, (size_t)(P * d) * sizeof *grad);
        free(lp), free(gr), free(out), free(grad), free(out2), free(grad1);
        free_case(&c);
    }
    be->destroy(be->impl);
    free(be);
}

/* The log-mass sum stays accurate where its terms are tiny: confident, correct logits (30 to 45)
 * over rows that span several of the kernel's partial products, each term -log1p(e^-l) about
 * 1e-13 to 1e-20, so the sum keeps its relative accuracy rather than rounding to 0 (with the
 * gradient on or off: the same sum). A NaN
 * coefficient gives that particle NaN and leaves the others alone. */
static void test_kernel_sum_of_tiny_terms_and_nan(void **state) {
    (void)state;
    tre_backend *be = tre_backend_cpu_create();
    const int64_t P = 7, n = 3000, d = 2;
    glm_case c = make_case(P, n, d, 3);
    for (int64_t i = 0; i < n; ++i) c.x[i * d] = 1.f, c.x[i * d + 1] = (float)(i % 7) / 7.f, c.y[i] = 1.f;
    for (int64_t p = 0; p < P; ++p) c.wd[p * d] = c.w[p * d] = 30.f + 2.f * (float)p, c.wd[p * d + 1] = c.w[p * d + 1] = 0.5f;
    float out[7], grad[14];
    double lp[7], gr[14];
    assert_int_equal(be->bernoulli_glm_sum(be->impl, P, n, d, c.x, c.w, c.y, 1.f, out, grad), 0);
    reference(P, n, d, c.x, c.wd, c.y, 1.0, lp, gr);
    for (int64_t p = 0; p < P; ++p) {
        assert_true(lp[p] < 0 && lp[p] > -1e-9);
        TT_NEAR(out[p], lp[p], 1e-5 * fabs(lp[p])); /* (1 - sigmoid(l) rounds to 0 in float) */
    }
    c.w[3 * d + 1] = NAN;
    assert_int_equal(be->bernoulli_glm_sum(be->impl, P, n, d, c.x, c.w, c.y, 1.f, out, NULL), 0);
    for (int64_t p = 0; p < P; ++p)
        if (p == 3) assert_true(isnan(out[p]));
        else TT_NEAR(out[p], lp[p], 1e-5 * fabs(lp[p]));
    free_case(&c);
    be->destroy(be->impl);
    free(be);
}

/* the kernel's gradient is the derivative of the log-likelihood: central differences of the
 * double-precision sum, with confident logits (|l| up to ~15) among the rows */
static void test_kernel_gradient_is_derivative(void **state) {
    (void)state;
    tre_backend *be = tre_backend_cpu_create();
    const int64_t P = 7, n = 77, d = 4;
    glm_case c = make_case(P, n, d, 5);
    for (int64_t i = 0; i < n * d; i += 9) c.x[i] *= 8.f;
    float out[7], grad[28];
    assert_int_equal(be->bernoulli_glm_sum(be->impl, P, n, d, c.x, c.w, c.y, 1.f, out, grad), 0);
    double lp_plus[7], lp_minus[7], scratch[28];
    for (int64_t p = 0; p < P; ++p)
        for (int64_t j = 0; j < d; ++j) {
            const double w0 = c.wd[p * d + j], h = 1e-5;
            c.wd[p * d + j] = w0 + h;
            reference(P, n, d, c.x, c.wd, c.y, 1.0, lp_plus, scratch);
            c.wd[p * d + j] = w0 - h;
            reference(P, n, d, c.x, c.wd, c.y, 1.0, lp_minus, scratch);
            c.wd[p * d + j] = w0;
            const double num = (lp_plus[p] - lp_minus[p]) / (2 * h);
            TT_NEAR(grad[p * d + j], num, 1e-4 * (1 + fabs(num)));
        }
    free_case(&c);
    be->destroy(be->impl);
    free(be);
}

/* ---- through the API: the GLM against Bernoulli(logits = matmul) --------------------------- */

typedef struct lr_args {
    tre_tensor *x, *y, *mask;
    int64_t n, d;
    bool glm;           /* the GLM family, else Bernoulli(logits = tre_matmul(x, w)) */
    double scale;       /* a scale handler around the likelihood (1: none) */
    bool x_param;       /* x a param (gradients w.r.t. x: the formed-logits path) */
} lr_args;

static tre_tensor *lr_model(tre_ctx *c, const void *p) {
    const lr_args *a = p;
    tre_tensor *w = tre_sample(c, "w",
                               tre_dist_to_event(c, tre_dist_expand(c, tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), 1, &a->d), 1),
                               NULL);
    const tre_tensor *x = a->x_param ? tre_param(c, "x", a->x, TRE_C_REAL) : a->x;
    tre_messenger *mask = a->mask ? tre_mask_handler(c, a->mask) : NULL;
    tre_messenger *scale = a->scale != 1.0 ? tre_scale_handler(c, a->scale) : NULL;
    if (mask) tre_push(c, mask);
    if (scale) tre_push(c, scale);
    tre_plate(c, "data", a->n, 0);
    tre_sample(c, "y", a->glm ? tre_bernoulli_logits_glm(c, x, w) : tre_bernoulli_logits(c, tre_matmul(c, x, w)), a->y);
    tre_plate_end(c);
    if (scale) tre_pop(c, scale);
    if (mask) tre_pop(c, mask);
    return w;
}
static tre_tensor *lr_guide(tre_ctx *c, const void *p) {
    const lr_args *a = p;
    tre_tensor *loc = tre_param(c, "w_loc", tre_full(c, 1, &a->d, 0.3f), TRE_C_REAL);
    tre_tensor *sc = tre_param(c, "w_scale", tre_full(c, 1, &a->d, 0.5f), TRE_C_POSITIVE);
    return tre_sample(c, "w", tre_dist_to_event(c, tre_normal(c, loc, sc), 1), NULL);
}

typedef struct lr_run {
    double mean;
    float elbo[37];
    float g_loc[9], g_scale[9], g_x[9 * 150];
} lr_run;

static lr_run run_elbo(lr_args *a, bool grad, int64_t P) {
    tre_ctx *ctx = tt_ctx(11);
    lr_run r = {0};
    tre_tensor *x = NULL, *y = NULL, *mask = NULL;
    uint64_t s = 3;
    float xs[150 * 9], ys[150], ms[150];
    for (int64_t i = 0; i < a->n * a->d; ++i) xs[i] = (float)(2 * unif(&s) - 1);
    for (int64_t i = 0; i < a->n; ++i) ys[i] = unif(&s) < 0.5 ? 1.f : 0.f, ms[i] = i % 3 ? 1.f : 0.f;
    int64_t xshape[2] = {a->n, a->d};
    TT_OK(ctx, tre_tensor_create(ctx, &x, TRE_F32, 1, 2, xshape, xs));
    y = tt_data(ctx, a->n, ys);
    lr_args b = *a;
    b.x = x, b.y = y;
    if (a->mask) {
        mask = tt_data(ctx, a->n, ms);
        b.mask = mask;
    }
    tre_elbo_result res;
    TT_OK(ctx, tre_elbo(ctx, lr_model, lr_guide, &b, &(tre_elbo_opts){.num_particles = P, .grad = grad}, &res));
    r.mean = res.mean;
    memcpy(r.elbo, res.particles, (size_t)P * sizeof(float));
    if (grad) {
        TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "w_loc")->grad, r.g_loc, a->d));
        TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "w_scale")->grad, r.g_scale, a->d));
        if (a->x_param)
            TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "x")->grad, r.g_x, a->n * a->d));
    }
    tre_tensor_destroy(ctx, x);
    tre_tensor_destroy(ctx, y);
    if (mask) tre_tensor_destroy(ctx, mask);
    tre_ctx_destroy(ctx);
    return r;
}

static void compare_runs(lr_args a, bool grad, int64_t P) {
    a.glm = true;
    lr_run f = run_elbo(&a, grad, P);
    a.glm = false;
    lr_run m = run_elbo(&a, grad, P);
    for (int64_t p = 0; p < P; ++p) TT_NEAR(f.elbo[p], m.elbo[p], 2e-5 * (1 + fabs(m.elbo[p])));
    if (!grad) return;
    for (int64_t j = 0; j < a.d; ++j) {
        TT_NEAR(f.g_loc[j], m.g_loc[j], 2e-4 * (1 + fabs(m.g_loc[j])));
        TT_NEAR(f.g_scale[j], m.g_scale[j], 2e-4 * (1 + fabs(m.g_scale[j])));
    }
    if (a.x_param)
        for (int64_t i = 0; i < a.n * a.d; ++i) TT_NEAR(f.g_x[i], m.g_x[i], 1e-5 * (1 + fabs(m.g_x[i])));
}

static void test_elbo_matches_matmul_form(void **state) {
    (void)state;
    const lr_args base = {.n = 150, .d = 9, .scale = 1.0};
    compare_runs(base, true, 37);  /* the fused path, value and gradients */
    compare_runs(base, false, 37); /* value only */
    compare_runs(base, true, 1);
    lr_args scaled = base;
    scaled.scale = 0.25;           /* fused, scaled */
    compare_runs(scaled, true, 37);
    lr_args masked = base;
    masked.mask = (tre_tensor *)1; /* formed logits: a mask */
    compare_runs(masked, true, 37);
    lr_args xgrad = base;
    xgrad.x_param = true;          /* formed logits: gradients w.r.t. x */
    compare_runs(xgrad, true, 5);
}

/* gradients w.r.t. x with enough particles for the fused pass (P >= 8): the formed-logits path
 * must still be taken, so that x's gradient is the matmul form's */
static void test_x_gradient_at_many_particles(void **state) {
    (void)state;
    lr_args xgrad = {.n = 150, .d = 9, .scale = 1.0, .x_param = true};
    compare_runs(xgrad, true, 37);
}

/* the scale reaches the fused sum: a scale of 0.25 gives a quarter of the likelihood term */
static void test_scale_reaches_the_fused_sum(void **state) {
    (void)state;
    lr_args a = {.n = 150, .d = 9, .scale = 1.0, .glm = true};
    lr_run one = run_elbo(&a, false, 4);
    a.scale = 0.25;
    lr_run quarter = run_elbo(&a, false, 4);
    a.scale = 0.5;
    lr_run half = run_elbo(&a, false, 4);
    /* elbo(s) = s L + rest: linear in s */
    for (int p = 0; p < 4; ++p) {
        const double L = (one.elbo[p] - half.elbo[p]) * 2;
        TT_NEAR(quarter.elbo[p], one.elbo[p] - 0.75 * L, 1e-3);
        assert_true(fabs(L) > 1.0);
    }
}

static void test_log_prob_and_sample_match(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(4);
    const int64_t n = 70, d = 3, P = 5, xshape[2] = {n, d};
    uint64_t s = 9;
    float xs[70 * 3], ws[5 * 3], ys[70];
    for (int i = 0; i < n * d; ++i) xs[i] = (float)(4 * unif(&s) - 2);
    for (int i = 0; i < P * d; ++i) ws[i] = (float)(2 * unif(&s) - 1);
    for (int i = 0; i < n; ++i) ys[i] = (float)(i % 2);
    tre_tensor *x = tre_from_host(ctx, 1, 2, xshape, xs), *w = tre_from_host(ctx, P, 1, &d, ws),
               *y = tre_from_host(ctx, 1, 1, &n, ys);
    tre_dist *g = tre_bernoulli_logits_glm(ctx, x, w), *b = tre_bernoulli_logits(ctx, tre_matmul(ctx, x, w));
    int64_t bs[4];
    assert_int_equal(tre_dist_batch_shape(g, bs), 1);
    assert_int_equal(bs[0], n);
    assert_string_equal(tre_dist_name(g), "Bernoulli");
    assert_false(tre_dist_has_rsample(g));
    const float *lg = tt_host(ctx, tre_dist_log_prob(ctx, g, y), 0), *lb = tt_host(ctx, tre_dist_log_prob(ctx, b, y), 1);
    for (int i = 0; i < P * n; ++i) TT_NEAR(lg[i], lb[i], 1e-5 * (1 + fabs(lb[i])));
    /* to_event(1): one number per particle, the fused sum's */
    const float *le = tt_host(ctx, tre_dist_log_prob(ctx, tre_dist_to_event(ctx, g, 1), y), 2);
    for (int p = 0; p < P; ++p) {
        double sum = 0;
        for (int i = 0; i < n; ++i) sum += lb[p * n + i];
        TT_NEAR(le[p], sum, 1e-4 * (1 + fabs(sum)));
    }
    /* draws: the same random op as Bernoulli(logits) gives the same 0/1 values */
    tre_messenger *sd = tre_seed_handler(ctx, 21);
    TT_OK(ctx, tre_push(ctx, sd));
    const float *sg = tt_host(ctx, tre_dist_sample(ctx, g, P), 3);
    TT_OK(ctx, tre_pop(ctx, sd));
    sd = tre_seed_handler(ctx, 21);
    TT_OK(ctx, tre_push(ctx, sd));
    const float *sb = tt_host(ctx, tre_dist_sample(ctx, b, P), 4);
    TT_OK(ctx, tre_pop(ctx, sd));
    int ones = 0;
    for (int i = 0; i < P * n; ++i) {
        assert_true(sg[i] == 0.f || sg[i] == 1.f);
        ones += sg[i] == 1.f;
    }
    assert_memory_equal(sg, sb, (size_t)(P * n) * sizeof(float));
    assert_true(ones > 0 && ones < P * n);
    TT_OK(ctx, tre_ctx_status(ctx));
    tre_ctx_destroy(ctx);
}

/* The fused pass computes one shape: y [N] against the batch [N] of the data rows. A value [1]
 * that broadcasts over the rows, and the GLM expanded to a batch [2, N] (the rows twice), are
 * summed like Bernoulli(logits = x w) (here with P = 9 particles, where the plain case fuses). */
static void test_fused_sum_only_for_its_own_shape(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    const int64_t P = 9, n = 70, d = 3, xshape[2] = {n, d}, b2n[2] = {2, n}, one = 1;
    glm_case c = make_case(P, n, d, 23);
    tre_tensor *x = tre_from_host(ctx, 1, 2, xshape, c.x), *w = tre_from_host(ctx, P, 1, &d, c.w),
               *y = tre_from_host(ctx, 1, 1, &n, c.y), *y1 = tre_from_host(ctx, 1, 1, &one, (const float[]){1.f});
    tre_dist *g = tre_bernoulli_logits_glm(ctx, x, w);
    double lp_y[9], lp_ones[9], scratch[27];
    float ones[70];
    for (int64_t i = 0; i < n; ++i) ones[i] = 1.f;
    reference(P, n, d, c.x, c.wd, c.y, 1.0, lp_y, scratch);
    reference(P, n, d, c.x, c.wd, ones, 1.0, lp_ones, scratch);
    tre_tensor *s_y = tre_dist_log_prob_sum(ctx, g, y, NULL, 1.0), *s_1 = tre_dist_log_prob_sum(ctx, g, y1, NULL, 1.0);
    tre_tensor *s_e = tre_dist_log_prob_sum(ctx, tre_dist_expand(ctx, g, 2, b2n), y, NULL, 1.0);
    assert_true(s_y && s_1 && s_e && s_y->particles == P && s_1->particles == P && s_e->particles == P);
    for (int64_t p = 0; p < P; ++p) {
        TT_NEAR(tt_at(ctx, s_y, p), lp_y[p], 1e-5 * (1 + fabs(lp_y[p])));
        TT_NEAR(tt_at(ctx, s_1, p), lp_ones[p], 1e-5 * (1 + fabs(lp_ones[p])));
        TT_NEAR(tt_at(ctx, s_e, p), 2 * lp_y[p], 2e-5 * (1 + fabs(lp_y[p])));
    }
    TT_OK(ctx, tre_ctx_status(ctx));
    free_case(&c);
    tre_ctx_destroy(ctx);
}

/* ---- bad arguments ------------------------------------------------------------------------- */

typedef struct bad_args {
    tre_tensor *x, *y;
    int64_t d;
} bad_args;

static tre_tensor *bad_model(tre_ctx *c, const void *p) {
    const bad_args *a = p;
    tre_tensor *w = tre_sample(c, "w", tre_dist_to_event(c, tre_dist_expand(c, tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), 1, &a->d), 1), NULL);
    tre_plate(c, "data", a->y->shape[0], 0);
    tre_sample(c, "y", tre_bernoulli_logits_glm(c, a->x, w), a->y);
    tre_plate_end(c);
    return w;
}
static tre_tensor *bad_guide(tre_ctx *c, const void *p) {
    const bad_args *a = p;
    tre_tensor *loc = tre_param(c, "w_loc", tre_full(c, 1, &a->d, 0.f), TRE_C_REAL);
    return tre_sample(c, "w", tre_dist_to_event(c, tre_normal(c, loc, tre_scalar(c, 1.f)), 1), NULL);
}

static void test_bad_arguments_name_site_and_parameter(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(2);
    float xs[12] = {0.5f, -1, 2, 0.25f, 1, 1, -2, 0.5f, 0, 1, 1, -1}, ys[4] = {1, 0, 1, 1};
    int64_t xshape[2] = {4, 3}, flat = 12, n = 4;
    tre_tensor *x = NULL, *x1 = NULL, *y = tt_data(ctx, n, ys), *ybad = NULL;
    TT_OK(ctx, tre_tensor_create(ctx, &x, TRE_F32, 1, 2, xshape, xs));
    TT_OK(ctx, tre_tensor_create(ctx, &x1, TRE_F32, 1, 1, &flat, xs));
    float yb[4] = {1, 0, 2, 1};
    ybad = tt_data(ctx, n, yb);
    const tre_elbo_opts o = {.num_particles = 8, .grad = true};
    tre_elbo_result r;
    bad_args a = {x1, y, 3};
    TT_FAILS_WITH(ctx, tre_elbo(ctx, bad_model, bad_guide, &a, &o, &r), TRE_ERR_SHAPE, "parameter x must be a matrix");
    assert_non_null(strstr(tre_ctx_error(ctx), "site \"y\""));
    tre_param_store_clear(ctx);
    a = (bad_args){x, y, 2}; /* w [2] against x [4, 3] */
    TT_FAILS_WITH(ctx, tre_elbo(ctx, bad_model, bad_guide, &a, &o, &r), TRE_ERR_SHAPE, "parameter w of shape [2]");
    tre_param_store_clear(ctx);
    a = (bad_args){x, ybad, 3};
    TT_FAILS_WITH(ctx, tre_elbo(ctx, bad_model, bad_guide, &a, &o, &r), TRE_ERR_DIST, "value must be 0 or 1");
    xs[4] = NAN;
    TT_OK(ctx, tre_tensor_write(ctx, x, xs, 12)); /* with the last error pending: its own status */
    a = (bad_args){x, y, 3};
    TT_FAILS_WITH(ctx, tre_elbo(ctx, bad_model, bad_guide, &a, &o, &r), TRE_ERR_DIST, "parameter x must be a real number");
    assert_non_null(strstr(tre_ctx_error(ctx), "site \"y\""));
    /* the context and the param store go on */
    xs[4] = 1.f;
    TT_OK(ctx, tre_tensor_write(ctx, x, xs, 12));
    TT_OK(ctx, tre_elbo(ctx, bad_model, bad_guide, &a, &o, &r));
    assert_true(isfinite(r.mean));
    assert_non_null(tre_param_store_get(ctx, "w_loc"));
    tre_tensor_destroy(ctx, x), tre_tensor_destroy(ctx, x1), tre_tensor_destroy(ctx, y), tre_tensor_destroy(ctx, ybad);
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_matches_reference),
        cmocka_unit_test(test_kernel_gradient_is_derivative),
        cmocka_unit_test(test_kernel_sum_of_tiny_terms_and_nan),
        cmocka_unit_test(test_elbo_matches_matmul_form),
        cmocka_unit_test(test_x_gradient_at_many_particles),
        cmocka_unit_test(test_scale_reaches_the_fused_sum),
        cmocka_unit_test(test_log_prob_and_sample_match),
        cmocka_unit_test(test_fused_sum_only_for_its_own_shape),
        cmocka_unit_test(test_bad_arguments_name_site_and_parameter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
