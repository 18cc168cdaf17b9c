/* The benchmark models (see bench_models.h and bench/peers/models.py for the same in Python). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_models.h"

/* ---- synthetic data: a fixed xorshift stream ------------------------------------------------ */

static uint64_t rng_state = 88172645463325252ull;
static void rng_reset(void) { rng_state = 88172645463325252ull; }
static double unif(void) {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void) { return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif()); }

static tre_tensor *data_tensor(tre_ctx *ctx, int ndim, const int64_t *shape, const float *v) {
    tre_tensor *t = NULL;
    return tre_tensor_create(ctx, &t, TRE_F32, 1, ndim, shape, v) == TRE_OK ? t : NULL;
}

typedef struct bdata {
    tre_tensor *x, *y, *idx;
    int64_t n, d, g, k;
    bool matmul_logits;
    double closed;
    char text[64];
} bdata;

static void destroy(tre_ctx *ctx, void *p) {
    bdata *b = p;
    if (!b) return;
    tre_tensor_destroy(ctx, b->x);
    tre_tensor_destroy(ctx, b->y);
    tre_tensor_destroy(ctx, b->idx);
    free(b);
}

static tre_tensor *vec_param(tre_ctx *c, const char *name, int64_t n, float v, tre_constraint k) {
    return tre_param(c, name, tre_full(c, 1, &n, v), k);
}

/* ---- conjugate Normal: mu ~ N(0, 10), x_i ~ N(mu, 1) ------------------------------------------ */

static tre_tensor *conj_model(tre_ctx *c, const void *args) {
    const bdata *d = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 10.f)), NULL);
    tre_plate(c, "data", d->n, 0);
    tre_sample(c, "obs", tre_normal(c, mu, tre_scalar(c, 1.f)), d->x);
    tre_plate_end(c);
    return mu;
}
static tre_tensor *conj_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *loc = tre_param(c, "q_loc", tre_scalar(c, 1.0f), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "q_scale", tre_scalar(c, 0.2f), TRE_C_POSITIVE);
    return tre_sample(c, "mu", tre_normal(c, loc, scale), NULL);
}
static void *conj_make(tre_ctx *ctx, const bench_size *s) {
    bdata *b = calloc(1, sizeof *b);
    b->n = s->n ? s->n : 10000;
    float *x = malloc((size_t)b->n * sizeof *x);
    rng_reset();
    for (int64_t i = 0; i < b->n; ++i) x[i] = (float)(1.0 + gauss());
    b->x = data_tensor(ctx, 1, &b->n, x);
    /* closed-form ELBO at the guide's initial values (q = N(1, 0.2)) */
    const double l2pi = log(2 * 3.14159265358979323846), a = 1.0, q = 0.2, s0 = 10.0;
    double e = 0;
    for (int64_t i = 0; i < b->n; ++i) e += -0.5 * l2pi - ((x[i] - a) * (x[i] - a) + q * q) / 2.0;
    e += -0.5 * l2pi - log(s0) - (a * a + q * q) / (2 * s0 * s0);
    b->closed = e - (-0.5 * l2pi - log(q) - 0.5);
    free(x);
    snprintf(b->text, sizeof b->text, "N=%lld", (long long)b->n);
    if (!b->x) return destroy(ctx, b), NULL;
    return b;
}
static int64_t conj_terms(const void *p) { return ((const bdata *)p)->n + 2; }
static double conj_closed(const void *p) { return ((const bdata *)p)->closed; }
static double no_gemm(const void *p) { (void)p; return 0; }

/* ---- logistic regression: w ~ N(0, 1)^D, y_i ~ Bernoulli(logits = x_i . w) ------------------- *
 * The likelihood is tre_bernoulli_logits_glm, the library's fused form of this distribution (as
 * a Stan user writes bernoulli_logit_glm); --lr-logits matmul runs the unfused form. */

static tre_dist *std_normal_vec(tre_ctx *c, int64_t d) {
    return tre_dist_to_event(c, tre_dist_expand(c, tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), 1, &d), 1);
}
static tre_tensor *lr_model(tre_ctx *c, const void *args) {
    const bdata *d = args;
    tre_tensor *w = tre_sample(c, "w", std_normal_vec(c, d->d), NULL);
    tre_plate(c, "data", d->n, 0);
    tre_sample(c, "y", d->matmul_logits ? tre_bernoulli_logits(c, tre_matmul(c, d->x, w)) : tre_bernoulli_logits_glm(c, d->x, w),
               d->y);
    tre_plate_end(c);
    return w;
}
static tre_tensor *lr_guide(tre_ctx *c, const void *args) {
    const bdata *d = args;
    tre_tensor *loc = vec_param(c, "w_loc", d->d, 0.f, TRE_C_REAL);
    tre_tensor *scale = vec_param(c, "w_scale", d->d, 0.1f, TRE_C_POSITIVE);
    return tre_sample(c, "w", tre_dist_to_event(c, tre_normal(c, loc, scale), 1), NULL);
}
static void *lr_make(tre_ctx *ctx, const bench_size *s) {
    bdata *b = calloc(1, sizeof *b);
    b->n = s->n ? s->n : 10000;
    b->d = s->d ? s->d : 50;
    float *x = malloc((size_t)(b->n * b->d) * sizeof *x), *y = malloc((size_t)b->n * sizeof *y);
    double *w = malloc((size_t)b->d * sizeof *w);
    rng_reset();
    for (int64_t j = 0; j < b->d; ++j) w[j] = gauss() / sqrt((double)b->d) * 3;
    for (int64_t i = 0; i < b->n; ++i) {
        double z = 0;
        for (int64_t j = 0; j < b->d; ++j) z += (x[i * b->d + j] = (float)gauss()) * w[j];
        y[i] = unif() < 1 / (1 + exp(-z)) ? 1.f : 0.f;
    }
    int64_t xs[2] = {b->n, b->d};
    b->x = data_tensor(ctx, 2, xs, x);
    b->y = data_tensor(ctx, 1, &b->n, y);
    free(x), free(y), free(w);
    b->matmul_logits = s->matmul_logits;
    snprintf(b->text, sizeof b->text, "N=%lld D=%lld%s", (long long)b->n, (long long)b->d,
             b->matmul_logits ? " logits=matmul" : "");
    if (!b->x || !b->y) return destroy(ctx, b), NULL;
    return b;
}
static int64_t lr_terms(const void *p) { const bdata *b = p; return b->n + 2 * b->d; }
static double lr_flops(const void *p) { const bdata *b = p; return 2.0 * (double)b->n * (double)b->d; }

/* ---- eight schools, non-centred ---------------------------------------------------------------- */

static const float es_y[8] = {28, 8, -3, 7, -1, 1, 18, 12}, es_sigma[8] = {15, 10, 16, 11, 9, 11, 10, 18};

static tre_tensor *es_model(tre_ctx *c, const void *args) {
    const bdata *d = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 5.f)), NULL);
    tre_tensor *tau = tre_sample(c, "tau", tre_half_cauchy(c, tre_scalar(c, 5.f)), NULL);
    tre_plate(c, "schools", 8, 0);
    tre_tensor *tt = tre_sample(c, "theta_tilde", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_tensor *theta = tre_add(c, mu, tre_mul(c, tau, tt));
    tre_sample(c, "y", tre_normal(c, theta, d->x), d->y);
    tre_plate_end(c);
    return theta;
}
static tre_tensor *es_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_sample(c, "mu", tre_normal(c, tre_param(c, "mu_loc", tre_scalar(c, 0.f), TRE_C_REAL),
                                   tre_param(c, "mu_scale", tre_scalar(c, 1.f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "tau", tre_log_normal(c, tre_param(c, "tau_loc", tre_scalar(c, 0.f), TRE_C_REAL),
                                        tre_param(c, "tau_scale", tre_scalar(c, 1.f), TRE_C_POSITIVE)), NULL);
    tre_tensor *loc = vec_param(c, "tt_loc", 8, 0.f, TRE_C_REAL);
    tre_tensor *scale = vec_param(c, "tt_scale", 8, 1.f, TRE_C_POSITIVE);
    tre_plate(c, "schools", 8, 0);
    tre_tensor *tt = tre_sample(c, "theta_tilde", tre_normal(c, loc, scale), NULL);
    tre_plate_end(c);
    return tt;
}
static void *es_make(tre_ctx *ctx, const bench_size *s) {
    (void)s;
    bdata *b = calloc(1, sizeof *b);
    b->n = 8;
    b->x = data_tensor(ctx, 1, &b->n, es_sigma);
    b->y = data_tensor(ctx, 1, &b->n, es_y);
    snprintf(b->text, sizeof b->text, "J=8");
    if (!b->x || !b->y) return destroy(ctx, b), NULL;
    return b;
}
static int64_t es_terms(const void *p) { (void)p; return 2 * (2 + 8) + 8; }

/* ---- hierarchical linear model: groups share a global weight vector ---------------------------- */

static tre_tensor *hl_model(tre_ctx *c, const void *args) {
    const bdata *d = args;
    tre_tensor *w0 = tre_sample(c, "w0", std_normal_vec(c, d->d), NULL);
    tre_tensor *sigma = tre_sample(c, "sigma", tre_half_normal(c, tre_scalar(c, 1.f)), NULL);
    tre_plate(c, "groups", d->g, 0);
    tre_tensor *wg = tre_sample(c, "w", tre_dist_to_event(c, tre_normal(c, w0, tre_scalar(c, 1.f)), 1), NULL);
    tre_plate_end(c);
    /* x_i . w_g(i): each observation's features with its group's weights ([P, G, D] read in
     * place; the peers index w, [P, N, D], then multiply and sum) */
    tre_tensor *mean = tre_vecdot_index_select(c, d->x, wg, d->idx);
    tre_plate(c, "data", d->n, 0);
    tre_sample(c, "y", tre_normal(c, mean, sigma), d->y);
    tre_plate_end(c);
    return w0;
}
static tre_tensor *hl_guide(tre_ctx *c, const void *args) {
    const bdata *d = args;
    int64_t gd[2] = {d->g, d->d};
    tre_sample(c, "w0", tre_dist_to_event(c, tre_normal(c, vec_param(c, "w0_loc", d->d, 0.f, TRE_C_REAL),
                                                      vec_param(c, "w0_scale", d->d, 0.1f, TRE_C_POSITIVE)), 1), NULL);
    tre_sample(c, "sigma", tre_log_normal(c, tre_param(c, "sigma_loc", tre_scalar(c, 0.f), TRE_C_REAL),
                                          tre_param(c, "sigma_scale", tre_scalar(c, 0.1f), TRE_C_POSITIVE)), NULL);
    tre_tensor *loc = tre_param(c, "w_loc", tre_full(c, 2, gd, 0.f), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "w_scale", tre_full(c, 2, gd, 0.1f), TRE_C_POSITIVE);
    tre_plate(c, "groups", d->g, 0);
    tre_tensor *w = tre_sample(c, "w", tre_dist_to_event(c, tre_normal(c, loc, scale), 1), NULL);
    tre_plate_end(c);
    return w;
}
static void *hl_make(tre_ctx *ctx, const bench_size *s) {
    bdata *b = calloc(1, sizeof *b);
    b->n = s->n ? s->n : 2000;
    b->d = s->d ? s->d : 5;
    b->g = 20;
    float *x = malloc((size_t)(b->n * b->d) * sizeof *x), *y = malloc((size_t)b->n * sizeof *y);
    int32_t *gi = malloc((size_t)b->n * sizeof *gi);
    double w[20][64];
    rng_reset();
    for (int64_t g = 0; g < b->g; ++g)
        for (int64_t j = 0; j < b->d && j < 64; ++j) w[g][j] = gauss();
    for (int64_t i = 0; i < b->n; ++i) {
        gi[i] = (int32_t)(i % b->g);
        double z = 0;
        for (int64_t j = 0; j < b->d; ++j) z += (x[i * b->d + j] = (float)gauss()) * w[gi[i]][j % 64];
        y[i] = (float)(z + 0.5 * gauss());
    }
    int64_t xs[2] = {b->n, b->d};
    b->x = data_tensor(ctx, 2, xs, x);
    b->y = data_tensor(ctx, 1, &b->n, y);
    if (tre_tensor_create(ctx, &b->idx, TRE_I32, 1, 1, &b->n, gi) != TRE_OK) b->idx = NULL;
    free(x), free(y), free(gi);
    snprintf(b->text, sizeof b->text, "N=%lld D=%lld G=%lld", (long long)b->n, (long long)b->d, (long long)b->g);
    if (!b->x || !b->y || !b->idx) return destroy(ctx, b), NULL;
    return b;
}
static int64_t hl_terms(const void *p) {
    const bdata *b = p;
    return b->n + 2 * (b->d + 1 + b->g * b->d);
}

/* ---- Gaussian mixture: assignments are Categorical (score-function path in the guide) ---------- */

static tre_tensor *gm_model(tre_ctx *c, const void *args) {
    const bdata *d = args;
    tre_plate(c, "components", d->k, 0);
    tre_tensor *locs = tre_sample(c, "locs", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 10.f)), NULL);
    tre_plate_end(c);
    tre_plate(c, "data", d->n, 0);
    tre_tensor *z = tre_sample(c, "z", tre_categorical_logits(c, tre_full(c, 1, &d->k, 0.f)), NULL);
    tre_sample(c, "x", tre_normal(c, tre_take(c, locs, z), tre_scalar(c, 1.f)), d->x);
    tre_plate_end(c);
    return locs;
}
static tre_tensor *gm_guide(tre_ctx *c, const void *args) {
    const bdata *d = args;
    int64_t nk[2] = {d->n, d->k};
    tre_tensor *loc = vec_param(c, "locs_loc", d->k, 0.f, TRE_C_REAL);
    tre_tensor *scale = vec_param(c, "locs_scale", d->k, 1.f, TRE_C_POSITIVE);
    tre_plate(c, "components", d->k, 0);
    tre_tensor *locs = tre_sample(c, "locs", tre_normal(c, loc, scale), NULL);
    tre_plate_end(c);
    tre_tensor *logits = tre_param(c, "z_logits", tre_full(c, 2, nk, 0.f), TRE_C_REAL);
    tre_plate(c, "data", d->n, 0);
    tre_sample(c, "z", tre_categorical_logits(c, logits), NULL);
    tre_plate_end(c);
    return locs;
}
static void *gm_make(tre_ctx *ctx, const bench_size *s) {
    bdata *b = calloc(1, sizeof *b);
    b->n = s->n ? s->n : 10000;
    b->k = s->d ? s->d : 5;
    float *x = malloc((size_t)b->n * sizeof *x);
    rng_reset();
    for (int64_t i = 0; i < b->n; ++i) x[i] = (float)(5.0 * (double)(i % b->k) - 10.0 + gauss());
    b->x = data_tensor(ctx, 1, &b->n, x);
    free(x);
    snprintf(b->text, sizeof b->text, "N=%lld K=%lld", (long long)b->n, (long long)b->k);
    if (!b->x) return destroy(ctx, b), NULL;
    return b;
}
static int64_t gm_terms(const void *p) { const bdata *b = p; return 2 * b->k + 3 * b->n; }

/* ---- item-response theory, 1PL: y_sq ~ Bernoulli(logits = ability_s - difficulty_q) ------------ */

static tre_tensor *irt_model(tre_ctx *c, const void *args) {
    const bdata *d = args;
    tre_plate_dim(c, "students", d->n, 0, -2);
    tre_tensor *ability = tre_sample(c, "ability", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_plate_end(c);
    tre_plate_dim(c, "questions", d->d, 0, -1);
    tre_tensor *difficulty = tre_sample(c, "difficulty", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 1.f)), NULL);
    tre_plate_end(c);
    /* re-entering both plates, as Pyro's `with students, questions:` */
    tre_plate_dim(c, "students", d->n, 0, -2);
    tre_plate_dim(c, "questions", d->d, 0, -1);
    tre_sample(c, "y", tre_bernoulli_logits(c, tre_sub(c, ability, difficulty)), d->y);
    tre_plate_end(c);
    tre_plate_end(c);
    return ability;
}
static tre_tensor *irt_guide(tre_ctx *c, const void *args) {
    const bdata *d = args;
    int64_t s1[2] = {d->n, 1};
    tre_tensor *al = tre_param(c, "ability_loc", tre_full(c, 2, s1, 0.f), TRE_C_REAL);
    tre_tensor *as = tre_param(c, "ability_scale", tre_full(c, 2, s1, 1.f), TRE_C_POSITIVE);
    tre_tensor *dl = vec_param(c, "difficulty_loc", d->d, 0.f, TRE_C_REAL);
    tre_tensor *ds = vec_param(c, "difficulty_scale", d->d, 1.f, TRE_C_POSITIVE);
    tre_plate_dim(c, "students", d->n, 0, -2);
    tre_tensor *ability = tre_sample(c, "ability", tre_normal(c, al, as), NULL);
    tre_plate_end(c);
    tre_plate_dim(c, "questions", d->d, 0, -1);
    tre_sample(c, "difficulty", tre_normal(c, dl, ds), NULL);
    tre_plate_end(c);
    return ability;
}
static void *irt_make(tre_ctx *ctx, const bench_size *s) {
    bdata *b = calloc(1, sizeof *b);
    b->n = s->n ? s->n : 400;
    b->d = s->d ? s->d : 100;
    float *y = malloc((size_t)(b->n * b->d) * sizeof *y);
    rng_reset();
    double *ab = malloc((size_t)b->n * sizeof *ab), *df = malloc((size_t)b->d * sizeof *df);
    for (int64_t i = 0; i < b->n; ++i) ab[i] = gauss();
    for (int64_t j = 0; j < b->d; ++j) df[j] = gauss();
    for (int64_t i = 0; i < b->n; ++i)
        for (int64_t j = 0; j < b->d; ++j) y[i * b->d + j] = unif() < 1 / (1 + exp(df[j] - ab[i])) ? 1.f : 0.f;
    int64_t ys[2] = {b->n, b->d};
    b->y = data_tensor(ctx, 2, ys, y);
    free(y), free(ab), free(df);
    snprintf(b->text, sizeof b->text, "students=%lld questions=%lld", (long long)b->n, (long long)b->d);
    if (!b->y) return destroy(ctx, b), NULL;
    return b;
}
static int64_t irt_terms(const void *p) { const bdata *b = p; return b->n * b->d + 2 * (b->n + b->d); }

/* ---- the suite ---------------------------------------------------------------------------------- */

static const bench_model m_conj = {"conjugate_normal", "N=10000", conj_model, conj_guide, conj_make,
                                   destroy, conj_terms, no_gemm, conj_closed, NULL};
static const bench_model m_lr = {"logistic_regression", "N=10000 D=50 (covtype: --n 581012 --d 54)",
                                 lr_model, lr_guide, lr_make, destroy, lr_terms, lr_flops, NULL, NULL};
static const bench_model m_es = {"eight_schools", "J=8", es_model, es_guide, es_make, destroy, es_terms,
                                 no_gemm, NULL, NULL};
static const bench_model m_hl = {"hierarchical_linear", "N=2000 D=5 G=20", hl_model, hl_guide, hl_make,
                                 destroy, hl_terms, no_gemm, NULL, NULL};
static const bench_model m_gm = {"gaussian_mixture", "N=10000 K=5", gm_model, gm_guide, gm_make, destroy,
                                 gm_terms, no_gemm, NULL, NULL};
static const bench_model m_irt = {"irt_1pl", "students=400 questions=100", irt_model, irt_guide, irt_make,
                                  destroy, irt_terms, no_gemm, NULL, NULL};

const bench_model *const tre_bench_models[] = {&m_conj, &m_lr, &m_es, &m_hl, &m_gm, &m_irt};
const int tre_bench_model_count = 6;
const char *tre_bench_data_text(const void *data) { return ((const bdata *)data)->text; }
