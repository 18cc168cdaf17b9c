/* Bernoulli(logits = a_i +- b_j) summed in one fused pass (backend op bernoulli_outer_sum,
 * src/dist/bernoulli_outer.c).
 *
 * The kernel against a double-precision loop (rows not a multiple of 16, per-particle and shared
 * operands, both signs, a scale, a NaN in one particle), and its sums independent of the thread
 * count. Through the API, an item-response model: ELBO values and every param gradient equal
 * those of the unfused path (the same model with an all-ones mask, which takes it), with the
 * logits also read by a second site (their gradient then flows through the subtraction too),
 * with tre_add, and under a scale handler. */
#include <omp.h>
#include <stdlib.h>
#include "test_support.h"
#include "kernels/backend.h"
#include "kernels/math/bernoulli.h"
#include "src/tensor/autograd.h"
#include "src/dist/dist_impl.h"

static double unif(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* out[p], ga[p, i], gb[p, j] in double */
static void reference(int64_t P, int64_t M, int64_t N, const float *a, int64_t as, const float *b,
                      int64_t bs, double sign, const float *y, double scale, double *out, double *ga,
                      double *gb) {
    for (int64_t p = 0; p < P; ++p) {
        out[p] = 0;
        for (int64_t j = 0; j < N; ++j) gb[p * N + j] = 0;
        for (int64_t i = 0; i < M; ++i) {
            ga[p * M + i] = 0;
            for (int64_t j = 0; j < N; ++j) {
                const double l = (double)a[p * as + i] + sign * (double)b[p * bs + j];
                out[p] += scale * tre_bernoulli_logits_log_prob_d(y[i * N + j], l);
                const double g = scale * tre_bernoulli_logits_dlp_dlogits_d(y[i * N + j], l);
                ga[p * M + i] += g;
                gb[p * N + j] += sign * g;
            }
        }
    }
}

static void test_kernel_matches_reference(void **state) {
    (void)state;
    tre_backend *be = tre_backend_cpu_create();
    assert_non_null(be);
    assert_non_null(be->bernoulli_outer_sum);
    const int64_t P = 5, M = 7, N = 37;
    uint64_t s = 9;
    float a[5 * 7], b[5 * 37], y[7 * 37];
    for (int i = 0; i < P * M; ++i) a[i] = (float)(6 * unif(&s) - 3);
    for (int i = 0; i < P * N; ++i) b[i] = (float)(6 * unif(&s) - 3);
    for (int i = 0; i < M * N; ++i) y[i] = unif(&s) < 0.4 ? 1.f : 0.f;
    for (int shared_b = 0; shared_b < 2; ++shared_b)
        for (int neg = 0; neg < 2; ++neg) {
            const double sign = neg ? -1.0 : 1.0, scale = 0.75;
            const int64_t bs = shared_b ? 0 : N;
            float out[5], ga[5 * 7], gb[5 * 37], out2[5], ga2[5 * 7], gb2[5 * 37];
            double ro[5], rga[5 * 7], rgb[5 * 37];
            assert_int_equal(be->bernoulli_outer_sum(be->impl, P, M, N, a, M, b, bs, (float)sign, y,
                                                     (float)scale, out, ga, gb), 0);
            reference(P, M, N, a, M, b, bs, sign, y, scale, ro, rga, rgb);
            for (int64_t p = 0; p < P; ++p) {
                TT_NEAR(out[p], ro[p], 1e-5 * (1 + fabs(ro[p])));
                for (int64_t i = 0; i < M; ++i) TT_NEAR(ga[p * M + i], rga[p * M + i], 1e-5 * (1 + fabs(rga[p * M + i])));
                for (int64_t j = 0; j < N; ++j) TT_NEAR(gb[p * N + j], rgb[p * N + j], 1e-5 * (1 + fabs(rgb[p * N + j])));
            }
            /* one thread sums in the same order as two */
            const int threads = omp_get_max_threads();
            omp_set_num_threads(1);
            assert_int_equal(be->bernoulli_outer_sum(be->impl, P, M, N, a, M, b, bs, (float)sign, y,
                                                     (float)scale, out2, ga2, gb2), 0);
            omp_set_num_threads(threads);
            assert_memory_equal(out, out2, sizeof out);
            assert_memory_equal(ga, ga2, sizeof ga);
            assert_memory_equal(gb, gb2, sizeof gb);
        }
    /* a NaN in one particle's operand makes that particle's sum NaN, and only its */
    a[2 * M + 3] = NAN;
    float out[5];
    assert_int_equal(be->bernoulli_outer_sum(be->impl, P, M, N, a, M, b, N, -1.f, y, 1.f, out, NULL, NULL), 0);
    for (int64_t p = 0; p < P; ++p) assert_true(p == 2 ? isnan(out[p]) : isfinite(out[p]));
    be->destroy(be->impl);
    free(be);
}

/* ---- through the API: an item-response model, fused against unfused ----------------------- */

enum { M_ROWS = 23, N_COLS = 19, P_MAX = 12 };

typedef struct irt_args {
    tre_tensor *y, *ones;
    bool unfused;     /* an all-ones mask on the likelihood: the unfused path */
    bool add;         /* logits a + b instead of a - b */
    bool second_site; /* the logits also feed a second (observed Normal) site */
    double scale;     /* a scale handler around the likelihood (1: none) */
    bool mul;         /* logits a * b (not an outer sum: never fused) */
} irt_args;

static tre_tensor *irt_model(tre_ctx *c, const void *p) {
    const irt_args *a = p;
    tre_plate_dim(c, "rows", M_ROWS, 0, -2);
    tre_tensor *ab = tre_sample(c, "a", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_plate_end(c);
    tre_plate_dim(c, "cols", N_COLS, 0, -1);
    tre_tensor *df = tre_sample(c, "b", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_plate_end(c);
    tre_plate_dim(c, "rows", M_ROWS, 0, -2);
    tre_plate_dim(c, "cols", N_COLS, 0, -1);
    tre_tensor *l = a->mul ? tre_mul(c, ab, df) : a->add ? tre_add(c, ab, df) : tre_sub(c, ab, df);
    tre_messenger *mask = a->unfused ? tre_mask_handler(c, a->ones) : NULL;
    tre_messenger *scale = a->scale != 1.0 ? tre_scale_handler(c, a->scale) : NULL;
    if (mask) tre_push(c, mask);
    if (scale) tre_push(c, scale);
    tre_sample(c, "y", tre_bernoulli_logits(c, l), a->y);
    if (scale) tre_pop(c, scale);
    if (mask) tre_pop(c, mask);
    if (a->second_site) tre_sample(c, "z", tre_normal(c, l, tre_scalar(c, 2.f)), a->y);
    tre_plate_end(c);
    tre_plate_end(c);
    return ab;
}
static tre_tensor *irt_guide(tre_ctx *c, const void *p) {
    (void)p;
    int64_t s1[2] = {M_ROWS, 1}, n = N_COLS;
    tre_tensor *al = tre_param(c, "a_loc", tre_full(c, 2, s1, 0.2f), TRE_C_REAL);
    tre_tensor *as = tre_param(c, "a_scale", tre_full(c, 2, s1, 0.7f), TRE_C_POSITIVE);
    tre_tensor *bl = tre_param(c, "b_loc", tre_full(c, 1, &n, -0.1f), TRE_C_REAL);
    tre_tensor *bs = tre_param(c, "b_scale", tre_full(c, 1, &n, 0.9f), TRE_C_POSITIVE);
    tre_plate_dim(c, "rows", M_ROWS, 0, -2);
    tre_tensor *ab = tre_sample(c, "a", tre_normal(c, al, as), NULL);
    tre_plate_end(c);
    tre_plate_dim(c, "cols", N_COLS, 0, -1);
    tre_sample(c, "b", tre_normal(c, bl, bs), NULL);
    tre_plate_end(c);
    return ab;
}

typedef struct irt_run {
    int fused;        /* the evaluation's tape nodes of the fused pass */
    float elbo[P_MAX];
    float g[4][M_ROWS > N_COLS ? M_ROWS : N_COLS];
} irt_run;

static irt_run run(irt_args a, int64_t P, bool grad) {
    tre_ctx *ctx = tt_ctx(5);
    irt_run r = {0};
    float y[M_ROWS * N_COLS], ones[M_ROWS * N_COLS];
    uint64_t s = 4;
    for (int i = 0; i < M_ROWS * N_COLS; ++i) y[i] = unif(&s) < 0.5 ? 1.f : 0.f, ones[i] = 1.f;
    int64_t shape[2] = {M_ROWS, N_COLS};
    TT_OK(ctx, tre_tensor_create(ctx, &a.y, TRE_F32, 1, 2, shape, y));
    TT_OK(ctx, tre_tensor_create(ctx, &a.ones, TRE_F32, 1, 2, shape, ones));
    tre_elbo_result res;
    TT_OK(ctx, tre_elbo(ctx, irt_model, irt_guide, &a, &(tre_elbo_opts){.num_particles = P, .grad = grad}, &res));
    for (int64_t p = 0; p < P; ++p) r.elbo[p] = res.particles[p];
    for (int64_t i = 0; i < ctx->tape_len; ++i) r.fused += !strcmp(ctx->tape[i]->name, "bernoulli_outer_log_prob_sum");
    const char *names[4] = {"a_loc", "a_scale", "b_loc", "b_scale"};
    for (int k = 0; grad && k < 4; ++k) {
        const tre_param_entry *e = tre_param_store_get(ctx, names[k]);
        assert_non_null(e->grad);
        TT_OK(ctx, tre_tensor_to_host(ctx, e->grad, r.g[k], e->grad->numel));
    }
    tre_tensor_destroy(ctx, a.y);
    tre_tensor_destroy(ctx, a.ones);
    tre_ctx_destroy(ctx);
    return r;
}

static void compare(irt_args a, int64_t P) {
    irt_args u = a;
    u.unfused = true;
    const irt_run f = run(a, P, true), m = run(u, P, true);
    assert_int_equal(f.fused, 1);
    assert_int_equal(m.fused, 0);
    for (int64_t p = 0; p < P; ++p) TT_NEAR(f.elbo[p], m.elbo[p], 2e-5 * (1 + fabs(m.elbo[p])));
    const int len[4] = {M_ROWS, M_ROWS, N_COLS, N_COLS};
    for (int k = 0; k < 4; ++k)
        for (int i = 0; i < len[k]; ++i) TT_NEAR(f.g[k][i], m.g[k][i], 1e-4 * (1 + fabs(m.g[k][i])));
    /* value only: the unfused path either way, the same draws */
    const irt_run v = run(a, P, false);
    for (int64_t p = 0; p < P; ++p) TT_NEAR(v.elbo[p], m.elbo[p], 2e-5 * (1 + fabs(m.elbo[p])));
}

static void test_elbo_and_gradients_match_unfused(void **state) {
    (void)state;
    compare((irt_args){.scale = 1.0}, P_MAX);
    compare((irt_args){.scale = 1.0}, 1);
    compare((irt_args){.scale = 1.0, .add = true}, 5);
    compare((irt_args){.scale = 0.25}, 5);
    compare((irt_args){.scale = 1.0, .second_site = true}, 5);
}

/* logits a_i * b_j have the outer shape but are not a_i +- b_j: the unfused path, whose value
 * and gradients are those of the masked (unfused) run */
static void test_products_are_not_fused(void **state) {
    (void)state;
    const irt_args a = {.scale = 1.0, .mul = true};
    irt_args u = a;
    u.unfused = true;
    const irt_run f = run(a, 5, true), m = run(u, 5, true);
    assert_int_equal(f.fused, 0);
    for (int64_t p = 0; p < 5; ++p) TT_NEAR(f.elbo[p], m.elbo[p], 2e-5 * (1 + fabs(m.elbo[p])));
    const int len[4] = {M_ROWS, M_ROWS, N_COLS, N_COLS};
    for (int k = 0; k < 4; ++k)
        for (int i = 0; i < len[k]; ++i) TT_NEAR(f.g[k][i], m.g[k][i], 1e-4 * (1 + fabs(m.g[k][i])));
}

/* One operand shared by every particle (a param, extent 1) and the other per particle: the
 * fused sum (taken: its tape node is recorded) equals the unfused one, either way round. */
static void test_operand_shared_by_the_particles(void **state) {
    (void)state;
    enum { P = 5, M = 7, N = 21 };
    uint64_t s = 9;
    float av[P * M], bv[P * N], yv[M * N];
    for (int i = 0; i < P * M; ++i) av[i] = (float)(4 * unif(&s) - 2);
    for (int i = 0; i < P * N; ++i) bv[i] = (float)(4 * unif(&s) - 2);
    for (int i = 0; i < M * N; ++i) yv[i] = unif(&s) < 0.5 ? 1.f : 0.f;
    for (int shared_a = 0; shared_a < 2; ++shared_a) {
        tre_ctx *ctx = tt_ctx(2);
        tre_tensor *a, *b, *y;
        TT_OK(ctx, tre_tensor_create(ctx, &a, TRE_F32, shared_a ? 1 : P, 2, (int64_t[]){M, 1}, av));
        TT_OK(ctx, tre_tensor_create(ctx, &b, TRE_F32, shared_a ? P : 1, 1, (int64_t[]){N}, bv));
        TT_OK(ctx, tre_tensor_create(ctx, &y, TRE_F32, 1, 2, (int64_t[]){M, N}, yv));
        a->requires_grad = b->requires_grad = true;
        tre_grad_begin(ctx);
        const tre_dist *d = tre_bernoulli_logits(ctx, tre_sub(ctx, a, b));
        tre_tensor *f = tre_dist_log_prob_sum(ctx, d, y, NULL, 1.0);
        tre_tensor *u = tre_dist_log_prob_sum_unfused(ctx, d, y, NULL, 1.0);
        tre_grad_end(ctx);
        assert_non_null(f);
        assert_non_null(u);
        int fused = 0;
        for (int64_t i = 0; i < ctx->tape_len; ++i) fused += !strcmp(ctx->tape[i]->name, "bernoulli_outer_log_prob_sum");
        assert_int_equal(fused, 1);
        const float *fv = tt_host(ctx, f, 0), *uv = tt_host(ctx, u, 1);
        for (int p = 0; p < P; ++p) TT_NEAR(fv[p], uv[p], 2e-5 * (1 + fabs(uv[p])));
        tre_tensor_destroy(ctx, a), tre_tensor_destroy(ctx, b), tre_tensor_destroy(ctx, y);
        tre_ctx_destroy(ctx);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_matches_reference),
        cmocka_unit_test(test_elbo_and_gradients_match_unfused),
        cmocka_unit_test(test_products_are_not_fused),
        cmocka_unit_test(test_operand_shared_by_the_particles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
