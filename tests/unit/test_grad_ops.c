/* Reverse mode against central finite differences, op by op (CPU backend, float32).
 *
 * Tolerances: values are float32, so a central difference with step h carries a rounding
 * error of about eps32 * |loss| / h ~ 6e-8 * |loss| / h plus a truncation error of order h^2;
 * with h = 1e-2 * max(1, |x|) and losses of order 1-10 both stay below ~1e-4, so gradients
 * are compared with |analytic - numeric| <= 2e-3 * (1 + |numeric|). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "src/tensor/autograd.h"
#include "src/dist/dist_impl.h"

#define MAX_IN 3

typedef tre_tensor *(*build_fn)(tre_ctx *ctx, tre_tensor *const *in);

typedef struct grad_case {
    const char *name;
    build_fn build;
    int nin;
    int64_t particles[MAX_IN];
    int ndim[MAX_IN];
    int64_t shape[MAX_IN][3];
    float lo[MAX_IN], hi[MAX_IN];   /* input values drawn uniformly in [lo, hi] */
} grad_case;

static float uniform(uint64_t *s, float lo, float hi) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)((*s >> 40) / 16777216.0);
}

/* loss = mean over particles of sum_i w_i * out_i, with fixed weights w */
static tre_tensor *loss_of(tre_ctx *ctx, const tre_tensor *out) {
    int64_t n = out->particles * out->numel;
    float *w = malloc((size_t)n * sizeof *w);
    for (int64_t i = 0; i < n; ++i) w[i] = 0.5f + 0.37f * (float)((i * 7) % 5) - 0.4f * (float)(i % 2);
    tre_tensor *wt = tre_from_host(ctx, out->particles, out->ndim, out->shape, w);
    free(w);
    return tre_particle_mean(ctx, tre_sum(ctx, tre_mul(ctx, (tre_tensor *)out, wt)));
}

static double eval_loss(tre_ctx *ctx, const grad_case *c, tre_tensor *const *in) {
    tre_ctx_step_reset(ctx);
    tre_tensor *l = loss_of(ctx, c->build(ctx, in));
    if (!l) fail_msg("%s: %s", c->name, tre_ctx_error(ctx));
    return tt_at(ctx, l, 0);
}

/* data_inputs: bit i set when input i is data (no gradient wanted, none checked) */
static void check_case(const grad_case *c, unsigned data_inputs) {
    tre_ctx *ctx = tt_ctx(3);
    tre_tensor *in[MAX_IN];
    uint64_t seed = 12345;
    for (int i = 0; i < c->nin; ++i) {
        int64_t n = c->particles[i] * tre_shape_numel(c->ndim[i], c->shape[i]);
        float *v = malloc((size_t)n * sizeof *v);
        for (int64_t j = 0; j < n; ++j) v[j] = uniform(&seed, c->lo[i], c->hi[i]);
        TT_OK(ctx, tre_tensor_create(ctx, &in[i], TRE_F32, c->particles[i], c->ndim[i], c->shape[i], v));
        free(v);
        in[i]->requires_grad = !(data_inputs >> i & 1u);
    }
    tre_ctx_step_reset(ctx);
    tre_grad_begin(ctx);
    tre_tensor *loss = loss_of(ctx, c->build(ctx, in));
    tre_grad_end(ctx);
    if (!loss) fail_msg("%s: %s", c->name, tre_ctx_error(ctx));
    TT_OK(ctx, tre_grad_backward(ctx, loss));
    for (int i = 0; i < c->nin; ++i) {
        /* as torch: a tensor that wants no gradient gets none (its grad stays NULL) */
        if (!in[i]->requires_grad && in[i]->grad)
            fail_msg("%s: data input %d was given a gradient", c->name, i);
        if (!in[i]->requires_grad) continue;
        int64_t n = in[i]->particles * in[i]->numel;
        float *g = calloc((size_t)n, sizeof *g);
        if (in[i]->grad) TT_OK(ctx, tre_tensor_to_host(ctx, in[i]->grad, g, n));
        float *x = in[i]->data; /* CPU backend: host memory */
        for (int64_t j = 0; j < n; ++j) {
            float x0 = x[j], h = 1e-2f * fmaxf(1.f, fabsf(x0));
            x[j] = x0 + h;
            double fp = eval_loss(ctx, c, in);
            x[j] = x0 - h;
            double fm = eval_loss(ctx, c, in);
            x[j] = x0;
            double num = (fp - fm) / (2.0 * (double)h);
            if (!(fabs(g[j] - num) <= 2e-3 * (1 + fabs(num))))
                fail_msg("%s: d loss / d in%d[%lld] = %.6g by reverse mode, %.6g by finite differences",
                         c->name, i, (long long)j, g[j], num);
        }
        free(g);
        in[i]->grad = NULL;
    }
    tre_ctx_destroy(ctx);
}

static tre_tensor *b_add(tre_ctx *c, tre_tensor *const *in) { return tre_add(c, in[0], in[1]); }
static tre_tensor *b_sub(tre_ctx *c, tre_tensor *const *in) { return tre_sub(c, in[0], in[1]); }
/* (a + b) + a: the outer sum lends its gradient to both terms unchanged, so a's second
 * contribution must not be summed into the tensor (a + b) and b were given */
static tre_tensor *b_add_reuse(tre_ctx *c, tre_tensor *const *in) { return tre_add(c, tre_add(c, in[0], in[1]), in[0]); }
static tre_tensor *b_mul(tre_ctx *c, tre_tensor *const *in) { return tre_mul(c, in[0], in[1]); }
static tre_tensor *b_div(tre_ctx *c, tre_tensor *const *in) { return tre_div(c, in[0], in[1]); }
static tre_tensor *b_neg(tre_ctx *c, tre_tensor *const *in) { return tre_neg(c, in[0]); }
static tre_tensor *b_exp(tre_ctx *c, tre_tensor *const *in) { return tre_exp(c, in[0]); }
static tre_tensor *b_log(tre_ctx *c, tre_tensor *const *in) { return tre_log(c, in[0]); }
static tre_tensor *b_square(tre_ctx *c, tre_tensor *const *in) { return tre_square(c, in[0]); }
#define UNARY(fn, op) \
    static tre_tensor *fn(tre_ctx *c, tre_tensor *const *in) { return tre_unary_op(c, op, #op, in[0]); }
UNARY(b_softplus, TRE_OP_SOFTPLUS)
UNARY(b_softplus_inv, TRE_OP_SOFTPLUS_INV)
UNARY(b_sigmoid, TRE_OP_SIGMOID)
UNARY(b_logit, TRE_OP_LOGIT)
UNARY(b_log_sigmoid, TRE_OP_LOG_SIGMOID)
UNARY(b_lgamma, TRE_OP_LGAMMA)
UNARY(b_digamma, TRE_OP_DIGAMMA)
UNARY(b_trigamma, TRE_OP_TRIGAMMA)
UNARY(b_log1p, TRE_OP_LOG1P)
UNARY(b_expm1, TRE_OP_EXPM1)
UNARY(b_abs, TRE_OP_ABS)
static tre_tensor *b_sum(tre_ctx *c, tre_tensor *const *in) { return tre_sum(c, in[0]); }
static tre_tensor *b_sum_trailing(tre_ctx *c, tre_tensor *const *in) { return tre_sum_trailing(c, in[0], 1); }
static tre_tensor *b_vecdot(tre_ctx *c, tre_tensor *const *in) { return tre_vecdot(c, in[0], in[1]); }
static tre_tensor *b_pmean(tre_ctx *c, tre_tensor *const *in) { return tre_particle_mean(c, in[0]); }
static tre_tensor *b_view(tre_ctx *c, tre_tensor *const *in) {
    int64_t s[1] = {in[0]->numel};
    return tre_square(c, tre_tensor_reshape_view(c, in[0], 1, s));
}
static tre_tensor *b_index_select(tre_ctx *c, tre_tensor *const *in) {
    int32_t idx[3] = {2, 0, 3};
    int64_t k = 3;
    tre_tensor *it = NULL;
    tre_tensor_create(c, &it, TRE_I32, 1, 1, &k, idx);
    return tre_square(c, tre_index_select(c, in[0], -1, it));
}
/* rows of w picked by index (one picked three times) dotted with x, plus another use of the
 * picked rows: both routes of the rows' gradient (straight to w, and through index_select) */
static tre_tensor *b_vecdot_gathered(tre_ctx *c, tre_tensor *const *in) {
    int32_t idx[5] = {2, 0, 3, 2, 2};
    int64_t k = 5;
    tre_tensor *it = NULL;
    tre_tensor_create(c, &it, TRE_I32, 1, 1, &k, idx);
    tre_tensor *rows = tre_index_select(c, in[0], -2, it);
    return tre_add(c, tre_vecdot(c, in[1], rows), tre_sum_trailing(c, tre_square(c, rows), 1));
}
/* x_j . w[index_j] with rows picked 0, 1 or 3 times (row 1 never) */
static tre_tensor *b_vecdot_index_select(tre_ctx *c, tre_tensor *const *in) {
    int32_t idx[5] = {2, 0, 3, 2, 2};
    int64_t k = 5;
    tre_tensor *it = NULL;
    tre_tensor_create(c, &it, TRE_I32, 1, 1, &k, idx);
    return tre_vecdot_index_select(c, in[1], in[0], it);
}
static tre_tensor *b_mask_scale(tre_ctx *c, tre_tensor *const *in) {
    const float m[4] = {1, 0, 1, 1};
    int64_t s = 4;
    return tre_mask_scale(c, in[0], tre_from_host(c, 1, 1, &s, m), 2.5, in[0]->particles, in[0]->ndim, in[0]->shape);
}
static tre_tensor *b_take(tre_ctx *c, tre_tensor *const *in) {
    /* per-particle indices into shared or per-particle values */
    const float ix[3 * 5] = {0, 3, 3, 1, 2, 2, 2, 0, 1, 3, 1, 1, 0, 0, 2};
    int64_t n = 5;
    return tre_square(c, tre_take(c, in[0], tre_from_host(c, 3, 1, &n, ix)));
}
static tre_tensor *b_take_shared_index(tre_ctx *c, tre_tensor *const *in) {
    /* one index tensor shared by all particles (read with stride 0, forward and backward) */
    const float ix[5] = {0, 3, 3, 1, 2};
    int64_t n = 5;
    return tre_square(c, tre_take(c, in[0], tre_from_host(c, 1, 1, &n, ix)));
}
static tre_tensor *b_matmul(tre_ctx *c, tre_tensor *const *in) { return tre_matmul(c, in[0], in[1]); }
static tre_tensor *b_normal_lp(tre_ctx *c, tre_tensor *const *in) {
    return tre_dist_log_prob(c, tre_normal(c, in[1], in[2]), in[0]);
}
static tre_tensor *b_normal_lp_sum_masked(tre_ctx *c, tre_tensor *const *in) {
    const float m[4] = {1, 1, 0, 1};
    int64_t s = 4;
    return tre_dist_log_prob_sum(c, tre_normal(c, in[1], in[2]), in[0], tre_from_host(c, 1, 1, &s, m), 1.7);
}
static tre_tensor *b_normal_rsample(tre_ctx *c, tre_tensor *const *in) {
    /* the same noise in every evaluation: a seed handler around the draw */
    tre_messenger *sd = tre_seed_handler(c, 77);
    tre_push(c, sd);
    tre_tensor *x = tre_dist_sample(c, tre_normal(c, in[0], in[1]), 3);
    tre_pop(c, sd);
    return tre_square(c, x);
}
static tre_tensor *b_transforms(tre_ctx *c, tre_tensor *const *in) {
    tre_constraint cs[5] = {TRE_C_POSITIVE, {TRE_SOFTPLUS_POSITIVE, 0, 0}, TRE_C_GREATER_THAN(-1.f),
                            TRE_C_UNIT_INTERVAL, TRE_C_INTERVAL(-2.f, 3.f)};
    tre_tensor *acc = tre_transform_to(c, TRE_C_REAL, in[0]);
    for (int i = 0; i < 5; ++i) acc = tre_add(c, acc, tre_transform_to(c, cs[i], in[0]));
    return acc;
}

static tre_tensor *b_simplex(tre_ctx *c, tre_tensor *const *in) {
    return tre_transform_to(c, TRE_C_SIMPLEX, in[0]);
}
static tre_tensor *b_lower_cholesky(tre_ctx *c, tre_tensor *const *in) {
    return tre_transform_to(c, TRE_C_LOWER_CHOLESKY, in[0]);
}

#define D1(p, n) {p}, {1}, {{n}}
static const grad_case cases[] = {
    {"add bcast", b_add, 2, {4, 1}, {2, 1}, {{2, 3}, {3}}, {-2, -2}, {2, 2}},
    {"add reusing an input", b_add_reuse, 2, {2, 2}, {1, 1}, {{3}, {3}}, {-2, -2}, {2, 2}},
    {"sub bcast", b_sub, 2, {1, 4}, {2, 2}, {{2, 3}, {2, 1}}, {-2, -2}, {2, 2}},
    {"mul bcast", b_mul, 2, {4, 4}, {2, 1}, {{2, 3}, {1}}, {-2, -2}, {2, 2}},
    {"div", b_div, 2, {2, 1}, {1, 1}, {{3}, {3}}, {-2, 0.5f}, {2, 2}},
    {"neg", b_neg, 1, {2}, {1}, {{3}}, {-2}, {2}},
    {"exp", b_exp, 1, {2}, {1}, {{3}}, {-2}, {2}},
    {"log", b_log, 1, {2}, {1}, {{3}}, {0.5f}, {3}},
    {"square", b_square, 1, {2}, {1}, {{3}}, {-2}, {2}},
    {"softplus", b_softplus, 1, {2}, {1}, {{3}}, {-3}, {3}},
    {"softplus_inv", b_softplus_inv, 1, {2}, {1}, {{3}}, {0.2f}, {3}},
    {"sigmoid", b_sigmoid, 1, {2}, {1}, {{3}}, {-3}, {3}},
    {"logit", b_logit, 1, {2}, {1}, {{3}}, {0.2f}, {0.8f}},
    {"log_sigmoid", b_log_sigmoid, 1, {2}, {1}, {{3}}, {-3}, {3}},
    {"lgamma", b_lgamma, 1, {2}, {1}, {{3}}, {0.5f}, {5}},
    {"digamma", b_digamma, 1, {2}, {1}, {{3}}, {0.5f}, {5}},
    {"trigamma", b_trigamma, 1, {2}, {1}, {{3}}, {0.5f}, {5}},
    {"log1p", b_log1p, 1, {2}, {1}, {{3}}, {-0.5f}, {3}},
    {"expm1", b_expm1, 1, {2}, {1}, {{3}}, {-2}, {2}},
    {"abs", b_abs, 1, {2}, {1}, {{3}}, {0.3f}, {2}},
    {"sum", b_sum, 1, {3}, {2}, {{2, 2}}, {-2}, {2}},
    {"sum_trailing", b_sum_trailing, 1, {3}, {2}, {{2, 3}}, {-2}, {2}},
    {"vecdot shared rows x per-particle rows", b_vecdot, 2, {1, 3}, {2, 3}, {{3, 4}, {2, 3, 4}}, {-2, -2}, {2, 2}},
    {"vecdot last dim broadcast", b_vecdot, 2, {2, 1}, {2, 2}, {{3, 4}, {3, 1}}, {-2, -2}, {2, 2}},
    {"vecdot long rows", b_vecdot, 2, {2, 2}, {1, 1}, {{300}, {300}}, {-1, -1}, {1, 1}},
    {"particle_mean", b_pmean, 1, {5}, {1}, {{2}}, {-2}, {2}},
    {"view", b_view, 1, {2}, {2}, {{2, 2}}, {-2}, {2}},
    {"vecdot of gathered rows", b_vecdot_gathered, 2, {2, 1}, {2, 2}, {{4, 3}, {5, 3}}, {-2, -2}, {2, 2}},
    {"vecdot of gathered rows, per-particle x", b_vecdot_gathered, 2, {2, 2}, {2, 2}, {{4, 3}, {5, 3}}, {-2, -2}, {2, 2}},
    {"vecdot_index_select, x with a gradient (composed ops)", b_vecdot_index_select, 2, {2, 1}, {2, 2},
     {{4, 3}, {5, 3}}, {-2, -2}, {2, 2}},
    {"index_select", b_index_select, 1, {2}, {2}, {{2, 4}}, {-2}, {2}},
    {"mask_scale", b_mask_scale, 1, {3}, {1}, {{4}}, {-2}, {2}},
    {"take shared values", b_take, 1, {1}, {1}, {{4}}, {-2}, {2}},
    {"take per-particle values", b_take, 1, {3}, {1}, {{4}}, {-2}, {2}},
    {"matmul shared x per-particle vector", b_matmul, 2, {1, 4}, {2, 1}, {{3, 2}, {2}}, {-1, -1}, {1, 1}},
    {"matmul per-particle vector x shared", b_matmul, 2, {4, 1}, {1, 2}, {{2}, {2, 3}}, {-1, -1}, {1, 1}},
    {"take per-particle values, shared index", b_take_shared_index, 1, {3}, {1}, {{4}}, {-2}, {2}},
    {"matmul per-particle matrix x shared vector", b_matmul, 2, {3, 1}, {2, 1}, {{2, 3}, {3}}, {-1, -1}, {1, 1}},
    {"matmul batched", b_matmul, 2, {3, 3}, {2, 2}, {{2, 2}, {2, 3}}, {-1, -1}, {1, 1}},
    {"matmul shared matrix x per-particle matrix", b_matmul, 2, {1, 3}, {2, 2}, {{2, 3}, {3, 2}}, {-1, -1}, {1, 1}},
    {"matmul shared", b_matmul, 2, {1, 1}, {2, 1}, {{2, 3}, {3}}, {-1, -1}, {1, 1}},
    {"normal log_prob", b_normal_lp, 3, {3, 1, 3}, {1, 1, 0}, {{2}, {2}, {0}}, {-2, -1, 0.5f}, {2, 1, 2}},
    {"normal log_prob_sum masked", b_normal_lp_sum_masked, 3, {1, 3, 1}, {1, 0, 1}, {{4}, {0}, {4}},
     {-2, -1, 0.5f}, {2, 1, 2}},
    {"normal rsample", b_normal_rsample, 2, {1, 1}, {1, 1}, {{2}, {2}}, {-1, 0.5f}, {1, 2}},
    {"constraint transforms", b_transforms, 1, {2}, {1}, {{3}}, {-1.5f}, {1.5f}},
    {"simplex transform", b_simplex, 1, {2}, {2}, {{2, 3}}, {-1.5f}, {1.5f}},
    {"lower_cholesky transform", b_lower_cholesky, 1, {2}, {2}, {{3, 3}}, {-1.f}, {1.f}},
};

static void test_every_op_against_finite_differences(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) check_case(&cases[i], 0);
}

/* ops whose fast path needs an input to be data: in[1] here */
static const grad_case data_x_cases[] = {
    {"vecdot_index_select, data x", b_vecdot_index_select, 2, {2, 1}, {2, 2}, {{4, 3}, {5, 3}}, {-2, -2}, {2, 2}},
    {"vecdot_index_select, per-particle data x", b_vecdot_index_select, 2, {2, 2}, {2, 2}, {{4, 3}, {5, 3}},
     {-2, -2}, {2, 2}},
};

static void test_ops_with_data_inputs_against_finite_differences(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof data_x_cases / sizeof *data_x_cases; ++i) check_case(&data_x_cases[i], 2u);
}

static void test_stop_grad_blocks(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    tre_tensor *x = NULL;
    int64_t n = 2;
    const float v[2] = {1.5f, -0.5f};
    TT_OK(ctx, tre_tensor_create(ctx, &x, TRE_F32, 1, 1, &n, v));
    x->requires_grad = true;
    tre_grad_begin(ctx);
    /* loss = sum(x * stop_grad(x)): gradient stop_grad(x) = x, not 2x */
    tre_tensor *loss = tre_sum(ctx, tre_mul(ctx, x, tre_stop_grad(ctx, x)));
    tre_grad_end(ctx);
    TT_OK(ctx, tre_grad_backward(ctx, loss));
    const float *g = tt_host(ctx, x->grad, 0);
    assert_float_equal(g[0], 1.5f, 0);
    assert_float_equal(g[1], -0.5f, 0);
    x->grad = NULL;
    tre_ctx_destroy(ctx);
}

/* tre_vecdot's values against a plain double loop: broadcast leading dims, rows of 5 (blocks of
 * whole rows), of 300 (longer than a kernel block) and of 0; a shape [] argument is refused */
static void test_vecdot_values(void **state) {
    (void)state;
    const int64_t lens[3] = {5, 300, 0};
    for (int c = 0; c < 3; ++c) {
        tre_ctx *ctx = tt_ctx(1);
        const int64_t P = 3, N = 70, D = lens[c];
        int64_t xs[2] = {N, D}, ws[3] = {N, D};
        float *x = malloc((size_t)(N * D + 1) * sizeof *x), *w = malloc((size_t)(P * N * D + 1) * sizeof *w);
        uint64_t seed = 7;
        for (int64_t i = 0; i < N * D; ++i) x[i] = uniform(&seed, -2, 2);
        for (int64_t i = 0; i < P * N * D; ++i) w[i] = uniform(&seed, -2, 2);
        tre_tensor *tx = tre_from_host(ctx, 1, 2, xs, x), *tw = tre_from_host(ctx, P, 2, ws, w);
        tre_tensor *dot = tre_vecdot(ctx, tx, tw);
        TT_OK(ctx, tre_ctx_status(ctx));
        assert_int_equal(dot->particles, P);
        assert_int_equal(dot->ndim, 1);
        assert_int_equal(dot->shape[0], N);
        const float *got = tt_host(ctx, dot, 0);
        for (int64_t p = 0; p < P; ++p)
            for (int64_t n = 0; n < N; ++n) {
                double want = 0;
                for (int64_t k = 0; k < D; ++k) want += (double)x[n * D + k] * w[(p * N + n) * D + k];
                assert_true(fabs(got[p * N + n] - want) <= 1e-5 * (1 + fabs(want)));
            }
        assert_null(tre_vecdot(ctx, tre_scalar(ctx, 1.f), tx));
        assert_int_equal(tre_ctx_status(ctx), TRE_ERR_SHAPE);
        assert_non_null(strstr(tre_ctx_error(ctx), "tre_vecdot"));
        free(x), free(w);
        tre_ctx_destroy(ctx);
    }
}

/* With gradients recorded, a dot with rows picked by index_select reads the source rows
 * directly: the same values as the dot with the picked copy (products and sums alike) */
/* A grouped-regression layout: per-particle weights w [G, D], shared features x [N, D], and each
 * datum's group (some groups picked often, every group at least once). */
enum { GR_P = 3, GR_G = 4, GR_N = 9, GR_D = 5 };
static const int32_t gr_index[GR_N] = {3, 0, 2, 2, 1, 3, 0, 0, 2};
static void grouped_make(tre_ctx *ctx, uint64_t seed, tre_tensor **tw, tre_tensor **tx, tre_tensor **ti) {
    int64_t ws[2] = {GR_G, GR_D}, xs[2] = {GR_N, GR_D}, k = GR_N;
    float w[GR_P * GR_G * GR_D], x[GR_N * GR_D];
    for (int i = 0; i < GR_P * GR_G * GR_D; ++i) w[i] = uniform(&seed, -2, 2);
    for (int i = 0; i < GR_N * GR_D; ++i) x[i] = uniform(&seed, -2, 2);
    TT_OK(ctx, tre_tensor_create(ctx, tw, TRE_F32, GR_P, 2, ws, w));
    TT_OK(ctx, tre_tensor_create(ctx, tx, TRE_F32, 1, 2, xs, x));
    TT_OK(ctx, tre_tensor_create(ctx, ti, TRE_I32, 1, 1, &k, gr_index));
}

static void test_vecdot_gathered_rows_forward(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    const int64_t P = GR_P, N = GR_N;
    tre_tensor *tw = NULL, *tx = NULL, *ti = NULL;
    grouped_make(ctx, 11, &tw, &tx, &ti);
    tw->requires_grad = true;
    tre_grad_begin(ctx);
    tre_tensor *rows = tre_index_select(ctx, tw, -2, ti);
    tre_tensor *fused = tre_vecdot(ctx, tx, rows);
    tre_grad_end(ctx);
    tre_tensor *plain = tre_vecdot(ctx, tx, tre_stop_grad(ctx, rows)); /* no tape: the picked copy */
    TT_OK(ctx, tre_ctx_status(ctx));
    assert_non_null(rows->grad_fn);
    const float *f = tt_host(ctx, fused, 0), *q = tt_host(ctx, plain, 1);
    for (int64_t i = 0; i < P * N; ++i) assert_float_equal(f[i], q[i], 0);
    tre_tensor_destroy(ctx, tw), tre_tensor_destroy(ctx, tx), tre_tensor_destroy(ctx, ti);
    tre_ctx_destroy(ctx);
}

/* tre_vecdot_index_select reads w's rows in place, with or without a tape: the values of the
 * composed ops on the picked copy, bit for bit; a bad index or a float index is refused by name
 * and the context goes on working */
static void test_vecdot_index_select_values_and_errors(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    const int64_t P = GR_P, N = GR_N, k = GR_N;
    int32_t bad[GR_N];
    memcpy(bad, gr_index, sizeof bad);
    bad[4] = GR_G; /* one past the last group */
    tre_tensor *tw = NULL, *tx = NULL, *ti = NULL, *tb = NULL;
    grouped_make(ctx, 5, &tw, &tx, &ti);
    TT_OK(ctx, tre_tensor_create(ctx, &tb, TRE_I32, 1, 1, &k, bad));
    for (int taped = 0; taped < 2; ++taped) {
        tw->requires_grad = taped;
        tre_ctx_step_reset(ctx);
        if (taped) tre_grad_begin(ctx);
        tre_tensor *fused = tre_vecdot_index_select(ctx, tx, tw, ti);
        if (taped) tre_grad_end(ctx);
        tre_tensor *plain = tre_vecdot(ctx, tx, tre_index_select(ctx, tw, -2, ti)); /* no tape */
        TT_OK(ctx, tre_ctx_status(ctx));
        assert_int_equal(fused->particles, P);
        assert_int_equal(fused->ndim, 1);
        if (taped) assert_string_equal(fused->grad_fn->name, "tre_vecdot_index_select");
        const float *f = tt_host(ctx, fused, 0), *q = tt_host(ctx, plain, 1);
        for (int64_t i = 0; i < P * N; ++i) assert_float_equal(f[i], q[i], 0);
    }
    tre_ctx_step_reset(ctx);
    assert_null(tre_vecdot_index_select(ctx, tx, tw, tb));
    assert_non_null(strstr(tre_ctx_error(ctx), "tre_vecdot_index_select: index 4 at position 4 is outside [0, 4)"));
    tre_ctx_clear_error(ctx);
    assert_null(tre_vecdot_index_select(ctx, tx, tw, tx));
    assert_non_null(strstr(tre_ctx_error(ctx), "tre_vecdot_index_select: index must be an int32 tensor"));
    tre_ctx_clear_error(ctx);
    tre_ctx_step_reset(ctx);
    assert_non_null(tre_vecdot_index_select(ctx, tx, tw, ti));
    TT_OK(ctx, tre_ctx_status(ctx));
    tre_tensor_destroy(ctx, tw), tre_tensor_destroy(ctx, tx), tre_tensor_destroy(ctx, ti), tre_tensor_destroy(ctx, tb);
    tre_ctx_destroy(ctx);
}

/* tre_take without validation (or in a graph replay) gets indices nobody checked: one outside
 * [0, K) or NaN gives NaN and adds nothing to the gradient, never a read or write outside the
 * values (ASan watches the unit suite). */
static void test_take_unchecked_indices_stay_in_bounds(void **state) {
    (void)state;
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 4,
                                                     .no_validation = true}));
    const float vh[3] = {1.f, 2.f, 3.f};
    const float ix[2 * 4] = {0, 2, 3, -1, 1, NAN, 1e9f, 2};
    for (int shared = 0; shared < 2; ++shared) {
        tre_tensor *values = NULL;
        float vv[6];
        for (int i = 0; i < 6; ++i) vv[i] = vh[i % 3] + (shared ? 0.f : 10.f * (float)(i / 3));
        TT_OK(ctx, tre_tensor_create(ctx, &values, TRE_F32, shared ? 1 : 2, 1, (const int64_t[]){3}, vv));
        values->requires_grad = true;
        tre_ctx_step_reset(ctx);
        tre_grad_begin(ctx);
        tre_tensor *out = tre_take(ctx, values, tre_from_host(ctx, 2, 1, (const int64_t[]){4}, ix));
        tre_tensor *loss = tre_particle_mean(ctx, tre_sum(ctx, out));
        tre_grad_end(ctx);
        assert_non_null(out);
        const float *o = tt_host(ctx, out, 0);
        const bool bad[8] = {0, 0, 1, 1, 0, 1, 1, 0};
        for (int j = 0; j < 8; ++j) {
            if (bad[j]) {
                assert_true(isnan(o[j]));
            } else {
                const int p = j / 4;
                assert_true(o[j] == vv[(shared ? 0 : 3 * p) + (int)ix[j]]);
            }
        }
        /* d mean_p sum_i out[p, i] / d values: 1/P for every in-range pick of that value, and
         * nothing for the others */
        TT_OK(ctx, tre_grad_backward(ctx, loss));
        assert_non_null(values->grad);
        const float *g = tt_host(ctx, values->grad, 1);
        const float want_shared[3] = {0.5f, 0.5f, 1.f}, want_rows[6] = {0.5f, 0, 0.5f, 0, 0.5f, 0.5f};
        for (int j = 0; j < (shared ? 3 : 6); ++j)
            assert_true(g[j] == (shared ? want_shared[j] : want_rows[j]));
        values->grad = NULL;
        tre_tensor_destroy(ctx, values);
    }
    tre_ctx_destroy(ctx);
}

/* tre_take's argument rules: values a float32 vector (numpy's take along the last dim of a
 * [K] vector), and with validation every index an integer in [0, K), an error naming K. */
static void test_take_argument_errors(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    const float ix[2] = {0.f, 1.f}, bad_ix[2] = {0.f, 3.f}, frac_ix[2] = {0.5f, 1.f};
    tre_tensor *matrix = tre_full(ctx, 2, (const int64_t[]){2, 2}, 1.f);
    assert_null(tre_take(ctx, matrix, tre_from_host(ctx, 1, 1, (const int64_t[]){2}, ix)));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_INVALID_ARG, "values must be a float32 vector [K]");
    tre_ctx_step_reset(ctx);
    tre_tensor *v3 = tre_full(ctx, 1, (const int64_t[]){3}, 1.f);
    assert_non_null(tre_take(ctx, v3, tre_from_host(ctx, 1, 1, (const int64_t[]){2}, ix)));
    assert_null(tre_take(ctx, v3, tre_from_host(ctx, 1, 1, (const int64_t[]){2}, bad_ix)));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_INVALID_ARG, "1 indices are not integers in [0, 3)");
    tre_ctx_step_reset(ctx);
    v3 = tre_full(ctx, 1, (const int64_t[]){3}, 1.f);
    assert_null(tre_take(ctx, v3, tre_from_host(ctx, 1, 1, (const int64_t[]){2}, frac_ix)));
    TT_FAILS_WITH(ctx, tre_ctx_status(ctx), TRE_ERR_INVALID_ARG, "not integers in [0, 3)");
    tre_ctx_destroy(ctx);
}

/* Layouts the gathered-rows kernel does not cover still give x_j . w[index_j] with numpy's
 * broadcasting (through the composed ops): x of one row [1, D] or one column [N, 1], and x
 * per particle while w is shared by all particles (the result then has x's particles). */
static void test_vecdot_index_select_broadcast_layouts(void **state) {
    (void)state;
    enum { G = 3, D = 4, N = 5, XP = 2 };
    const int32_t idx[N] = {2, 0, 1, 2, 0};
    float w[G * D], x[XP * N * D];
    uint64_t seed = 77;
    for (int i = 0; i < G * D; ++i) w[i] = uniform(&seed, -2, 2);
    for (int i = 0; i < XP * N * D; ++i) x[i] = uniform(&seed, -2, 2);
    const struct {
        int64_t particles, rows, cols;
    } xs[3] = {{1, 1, D}, {1, N, 1}, {XP, N, D}};
    for (int c = 0; c < 3; ++c) {
        tre_ctx *ctx = tt_ctx(2);
        tre_tensor *ti = NULL;
        TT_OK(ctx, tre_tensor_create(ctx, &ti, TRE_I32, 1, 1, (const int64_t[]){N}, idx));
        tre_tensor *tw = tre_from_host(ctx, 1, 2, (const int64_t[]){G, D}, w);
        tre_tensor *tx = tre_from_host(ctx, xs[c].particles, 2, (const int64_t[]){xs[c].rows, xs[c].cols}, x);
        tre_tensor *out = tre_vecdot_index_select(ctx, tx, tw, ti);
        if (!out) fail_msg("case %d: %s", c, tre_ctx_error(ctx));
        assert_int_equal(out->particles, xs[c].particles);
        assert_int_equal(out->ndim, 1);
        assert_int_equal(out->shape[0], N);
        const float *o = tt_host(ctx, out, 0);
        for (int64_t p = 0; p < xs[c].particles; ++p)
            for (int j = 0; j < N; ++j) {
                double want = 0;
                for (int d = 0; d < D; ++d) {
                    const int64_t r = xs[c].rows == 1 ? 0 : j, col = xs[c].cols == 1 ? 0 : d;
                    want += (double)x[(p * xs[c].rows + r) * xs[c].cols + col] * w[idx[j] * D + d];
                }
                TT_NEAR(o[p * N + j], want, 1e-5 * (1 + fabs(want)));
            }
        tre_tensor_destroy(ctx, ti);
        tre_ctx_destroy(ctx);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_against_finite_differences),
        cmocka_unit_test(test_take_unchecked_indices_stay_in_bounds),
        cmocka_unit_test(test_take_argument_errors),
        cmocka_unit_test(test_vecdot_index_select_broadcast_layouts),
        cmocka_unit_test(test_ops_with_data_inputs_against_finite_differences),
        cmocka_unit_test(test_vecdot_values),
        cmocka_unit_test(test_vecdot_gathered_rows_forward),
        cmocka_unit_test(test_vecdot_index_select_values_and_errors),
        cmocka_unit_test(test_stop_grad_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
