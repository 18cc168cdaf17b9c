/* Derivatives of the structured families' row math (kernels/math/categorical.h, mvn.h)
 * against central finite differences, and the same gradients through the host's tape
 * (broadcast parameters and values, particle extents, to_event) on the CPU backend; the
 * Dirichlet rows (dirichlet.h) give the same bits whether they keep their draws or regenerate
 * them.
 *
 * Row math: the functions take float inputs and compute in double, so a central difference
 * over a float input, with the step taken as the exact difference of the two perturbed floats,
 * is a double-precision difference: step 2^-10 * max(1, |x|) gives a truncation error
 * ~ h^2 |f'''| / 6 < 1e-6 for the moderate rows used and a rounding error ~ 1e-16 / h, while
 * the analytic derivatives are rounded to float (6e-8 relative). Tolerance 1e-5 (1 + |d|).
 * Through the tape the loss is float32, as in test_grad_ops.c: step 1e-2 max(1, |x|),
 * tolerance 2e-3 (1 + |d|). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "kernels/math/categorical.h"
#include "kernels/math/dirichlet.h"
#include "kernels/math/mvn.h"
#include "src/tensor/autograd.h"
#include "src/dist/dist_impl.h"

#define MAXD 8
#define MAXK 24 /* Categorical rows: longer than TRE_CAT_ROW_CACHE too */
#define TOL_ROW 1e-5

typedef double (*row_fn)(void *state);

/* d f / d x[i] by central differences over the float x[i] (restored afterwards) */
static double fd(row_fn f, void *st, float *x) {
    const float x0 = *x;
    const float h = ldexpf(1.f, -10) * fmaxf(1.f, fabsf(x0));
    const float xp = x0 + h, xm = x0 - h;
    *x = xp;
    double fp = f(st);
    *x = xm;
    double fm = f(st);
    *x = x0;
    return (fp - fm) / ((double)xp - (double)xm);
}

static void near(const char *what, int i, double analytic, double numeric, double tol) {
    if (!(fabs(analytic - numeric) <= tol * (1.0 + fabs(numeric))))
        fail_msg("%s[%d]: analytic %.10g, finite difference %.10g", what, i, analytic, numeric);
}

static uint64_t rng_state = 88172645463325252ull;
static float unif(float lo, float hi) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (float)((double)(rng_state >> 11) / 9007199254740992.0);
}

/* a well-conditioned lower-triangular d x d matrix (zeros above the diagonal) */
static void rand_tril(int64_t d, float *L) {
    for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j)
            L[i * d + j] = j > i ? 0.f : j == i ? unif(0.6f, 1.8f) : unif(-0.6f, 0.6f);
}

/* ---- Categorical ------------------------------------------------------------------------ */

typedef struct cat_st {
    int64_t k;
    float l[MAXK], lq[MAXK], value, g;
} cat_st;

static double cat_lp(void *s) {
    cat_st *c = s;
    tre_cat_norm n = tre_categorical_norm_row(c->k, c->l);
    return c->g * tre_categorical_log_softmax(&n, c->l[(int64_t)c->value]);
}

static double cat_kl(void *s) {
    cat_st *c = s;
    return c->g * tre_categorical_kl_row(c->k, c->l, c->lq);
}

static void test_categorical_log_prob_grad(void **state) {
    (void)state;
    const float rows[][5] = {{0.3f}, {0.5f, -1.f, 2.f, 0.f}, {4.f, -3.f, 0.25f, 1.5f, -0.5f},
                             {12.f, -12.f, 11.5f}};
    const int64_t ks[] = {1, 4, 5, 3};
    for (int r = 0; r < 4; ++r)
        for (int64_t v = 0; v < ks[r]; ++v) {
            cat_st c = {.k = ks[r], .value = (float)v, .g = 0.7f};
            memcpy(c.l, rows[r], sizeof rows[r]);
            float grad[MAXK];
            tre_categorical_log_prob_grad_row(c.k, c.l, c.value, c.g, grad);
            double sum = 0.0;
            for (int64_t j = 0; j < c.k; ++j) {
                near("categorical d lp / d logits", (int)j, grad[j], fd(cat_lp, &c, &c.l[j]), TOL_ROW);
                sum += grad[j];
            }
            /* log-softmax is invariant to adding a constant to every logit */
            TT_NEAR(sum, 0.0, 1e-6);
            /* and the row function agrees with the normalizer form */
            TT_NEAR(tre_categorical_log_prob_row(c.k, c.l, c.value), cat_lp(&c) / c.g, 1e-6);
        }
    /* rows too long for the row cache recompute their weights: the same derivatives, and
     * draws that follow the inverse CDF computed here */
    const int64_t long_ks[] = {TRE_CAT_ROW_CACHE - 1, TRE_CAT_ROW_CACHE, TRE_CAT_ROW_CACHE + 1, MAXK};
    for (int i = 0; i < 4; ++i) {
        const int64_t k = long_ks[i];
        cat_st c = {.k = k, .value = (float)(k / 3), .g = -1.3f};
        for (int64_t j = 0; j < k; ++j) c.l[j] = unif(-4.f, 4.f);
        c.l[k - 1] = -INFINITY; /* a zero-weight category: never drawn, zero derivative */
        float grad[MAXK] = {0}; /* (GCC -O2 cannot see the row function fill it) */
        tre_categorical_log_prob_grad_row(c.k, c.l, c.value, c.g, grad);
        for (int64_t j = 0; j + 1 < k; ++j)
            near("categorical d lp / d logits (long row)", (int)j, grad[j], fd(cat_lp, &c, &c.l[j]), TOL_ROW);
        assert_true(grad[k - 1] == 0.f);
        double w[MAXK], total = 0.0;
        for (int64_t j = 0; j < k; ++j) total += (w[j] = exp((double)c.l[j]));
        for (double u = 0.005; u < 1.0; u += 0.01) {
            int64_t want = 0;
            for (double cum = w[0]; cum <= u * total; cum += w[++want]) {}
            assert_int_equal((int64_t)tre_categorical_sample_row(k, c.l, u), want);
        }
    }
    /* values outside the support give NaN rather than reading out of bounds */
    const float l[3] = {0, 1, 2};
    assert_true(isnan(tre_categorical_log_prob_row(3, l, 3.f)));
    assert_true(isnan(tre_categorical_log_prob_row(3, l, -1.f)));
    assert_true(isnan(tre_categorical_log_prob_row(3, l, 0.5f)));
    assert_true(isnan(tre_categorical_log_prob_row(3, l, NAN)));
}

static void test_categorical_kl_grad(void **state) {
    (void)state;
    for (int trial = 0; trial < 6; ++trial) {
        cat_st c = {.k = 1 + trial, .g = 1.3f};
        for (int64_t j = 0; j < c.k; ++j) {
            c.l[j] = unif(-3.f, 3.f);
            c.lq[j] = unif(-3.f, 3.f);
        }
        float gp[MAXD], gq[MAXD];
        tre_categorical_kl_grad_row(c.k, c.l, c.lq, c.g, gp, gq);
        for (int64_t j = 0; j < c.k; ++j) {
            near("categorical d KL / d p logits", (int)j, gp[j], fd(cat_kl, &c, &c.l[j]), TOL_ROW);
            near("categorical d KL / d q logits", (int)j, gq[j], fd(cat_kl, &c, &c.lq[j]), TOL_ROW);
        }
        /* KL is 0 at p = q and positive elsewhere */
        assert_true(tre_categorical_kl_row(c.k, c.l, c.lq) >= 0.0);
        TT_NEAR(tre_categorical_kl_row(c.k, c.l, c.l), 0.0, 1e-12);
    }
    /* p_k = 0 contributes 0; q_k = 0 < p_k makes KL infinite */
    const float a[2] = {0.f, -INFINITY}, b[2] = {0.f, 0.f};
    TT_NEAR(tre_categorical_kl_row(2, a, b), log(2.0), 1e-12);
    assert_true(isinf(tre_categorical_kl_row(2, b, a)));
}

/* A category to which p gives probability 0 (logit -inf) contributes nothing to KL(p || q) whatever its
 * logit, so its derivative is 0, not NaN, and the other derivatives are still the finite
 * differences (the -inf logit is left alone by fd's perturbation of the others). */
static void test_categorical_kl_grad_zero_probability(void **state) {
    (void)state;
    cat_st c = {.k = 3, .g = 1.7f, .l = {0.5f, -INFINITY, -0.25f}, .lq = {0.f, 1.f, -1.f}};
    float gp[3], gq[3];
    tre_categorical_kl_grad_row(c.k, c.l, c.lq, c.g, gp, gq);
    assert_true(gp[1] == 0.f);
    for (int j = 0; j < 3; ++j) assert_true(isfinite(gp[j]) && isfinite(gq[j]));
    near("categorical d KL / d p logits", 0, gp[0], fd(cat_kl, &c, &c.l[0]), TOL_ROW);
    near("categorical d KL / d p logits", 2, gp[2], fd(cat_kl, &c, &c.l[2]), TOL_ROW);
    for (int j = 0; j < 3; ++j) near("categorical d KL / d q logits", j, gq[j], fd(cat_kl, &c, &c.lq[j]), TOL_ROW);
}

/* ---- MultivariateNormal ----------------------------------------------------------------- */

typedef struct mvn_st {
    int64_t d;
    float x[MAXD], loc[MAXD], L[MAXD * MAXD], loc2[MAXD], L2[MAXD * MAXD], g[MAXD];
    float gs;
} mvn_st;

static double mvn_lp(void *s) {
    mvn_st *m = s;
    double work[MAXD];
    return m->gs * tre_mvn_log_prob_row(m->d, m->x, m->loc, m->L, work);
}

static double mvn_kl(void *s) {
    mvn_st *m = s;
    double work[MAXD * MAXD + MAXD];
    return m->gs * tre_mvn_kl_row(m->d, m->loc, m->L, m->loc2, m->L2, work);
}

static double mvn_draw_dot(void *s) { /* sum_i g_i x_i for the draw with fixed noise */
    mvn_st *m = s;
    float x[MAXD];
    tre_mvn_sample_row(m->d, m->loc, m->L, 5, 9, 40, x);
    double acc = 0.0;
    for (int64_t i = 0; i < m->d; ++i) acc += (double)m->g[i] * (double)x[i];
    return acc;
}

static void rand_mvn(mvn_st *m, int64_t d) {
    m->d = d;
    m->gs = 0.9f;
    for (int64_t i = 0; i < d; ++i) {
        m->x[i] = unif(-2.f, 2.f);
        m->loc[i] = unif(-1.f, 1.f);
        m->loc2[i] = unif(-1.f, 1.f);
        m->g[i] = unif(-1.f, 1.f);
    }
    rand_tril(d, m->L);
    rand_tril(d, m->L2);
}

static void test_mvn_log_prob_grad(void **state) {
    (void)state;
    for (int64_t d = 1; d <= 6; ++d) {
        mvn_st m;
        rand_mvn(&m, d);
        float gx[MAXD], gloc[MAXD], gL[MAXD * MAXD];
        double work[2 * MAXD];
        tre_mvn_log_prob_grad_row(d, m.x, m.loc, m.L, m.gs, gx, gloc, gL, work);
        for (int64_t i = 0; i < d; ++i) {
            near("mvn d lp / d x", (int)i, gx[i], fd(mvn_lp, &m, &m.x[i]), TOL_ROW);
            near("mvn d lp / d loc", (int)i, gloc[i], fd(mvn_lp, &m, &m.loc[i]), TOL_ROW);
            for (int64_t j = 0; j < d; ++j) {
                if (j > i) assert_true(gL[i * d + j] == 0.f);
                else near("mvn d lp / d scale_tril", (int)(i * d + j), gL[i * d + j], fd(mvn_lp, &m, &m.L[i * d + j]), TOL_ROW);
            }
        }
        /* NULL outputs are skipped */
        tre_mvn_log_prob_grad_row(d, m.x, m.loc, m.L, m.gs, NULL, NULL, NULL, work);
    }
    /* D = 1 is the univariate normal */
    const float x = 0.3f, loc = -0.2f, s = 1.7f;
    double work[1], z = (0.3 - -0.2) / 1.7;
    TT_NEAR(tre_mvn_log_prob_row(1, &x, &loc, &s, work),
            -0.5 * z * z - log((double)s) - 0.91893853320467274178, 1e-6);
}

static void test_mvn_kl_grad(void **state) {
    (void)state;
    for (int64_t d = 1; d <= 5; ++d) {
        mvn_st m;
        rand_mvn(&m, d);
        float gmp[MAXD], gLp[MAXD * MAXD], gmq[MAXD], gLq[MAXD * MAXD];
        double work[2 * MAXD * MAXD + 2 * MAXD];
        tre_mvn_kl_grad_row(d, m.loc, m.L, m.loc2, m.L2, m.gs, gmp, gLp, gmq, gLq, work);
        for (int64_t i = 0; i < d; ++i) {
            near("mvn d KL / d loc_p", (int)i, gmp[i], fd(mvn_kl, &m, &m.loc[i]), TOL_ROW);
            near("mvn d KL / d loc_q", (int)i, gmq[i], fd(mvn_kl, &m, &m.loc2[i]), TOL_ROW);
            for (int64_t j = 0; j <= i; ++j) {
                near("mvn d KL / d scale_tril_p", (int)(i * d + j), gLp[i * d + j],
                     fd(mvn_kl, &m, &m.L[i * d + j]), TOL_ROW);
                near("mvn d KL / d scale_tril_q", (int)(i * d + j), gLq[i * d + j],
                     fd(mvn_kl, &m, &m.L2[i * d + j]), TOL_ROW);
            }
            for (int64_t j = i + 1; j < d; ++j) assert_true(gLp[i * d + j] == 0.f && gLq[i * d + j] == 0.f);
        }
        double w1[MAXD * MAXD + MAXD];
        assert_true(tre_mvn_kl_row(d, m.loc, m.L, m.loc2, m.L2, w1) > 0.0);
        TT_NEAR(tre_mvn_kl_row(d, m.loc, m.L, m.loc, m.L, w1), 0.0, 1e-12);
    }
}

static void test_mvn_rsample_grad(void **state) {
    (void)state;
    for (int64_t d = 1; d <= 6; ++d) {
        mvn_st m;
        rand_mvn(&m, d);
        /* the draw is loc + L eps with eps the row's Philox normals */
        float x[MAXD];
        tre_mvn_sample_row(d, m.loc, m.L, 5, 9, 40, x);
        for (int64_t i = 0; i < d; ++i) {
            double e = m.loc[i];
            for (int64_t j = 0; j <= i; ++j) e += (double)m.L[i * d + j] * tre_mvn_eps(5, 9, 40, j);
            TT_NEAR(x[i], e, 1e-6 * (1.0 + fabs(e)));
            assert_true(tre_mvn_eps(5, 9, 40, i) == tre_philox_std_normal(5, 9, 40 + (uint64_t)i));
        }
        float gL[MAXD * MAXD];
        tre_mvn_rsample_grad_row(d, m.g, 5, 9, 40, gL);
        for (int64_t i = 0; i < d; ++i)
            for (int64_t j = 0; j < d; ++j) {
                if (j > i) {
                    assert_true(gL[i * d + j] == 0.f);
                    continue;
                }
                /* x is linear in L: a wide step has no truncation error, only float rounding */
                float *e = &m.L[i * d + j], e0 = *e;
                *e = e0 + 0.25f;
                double fp = mvn_draw_dot(&m);
                *e = e0 - 0.25f;
                double fm = mvn_draw_dot(&m);
                *e = e0;
                near("mvn d x / d scale_tril", (int)(i * d + j), gL[i * d + j], (fp - fm) / 0.5, 1e-5);
            }
    }
}

/* A Dirichlet row keeps its k log-gamma draws in lg when given one (the CPU backend does) and
 * regenerates them otherwise (the CUDA backend): the draw and its gradient must be the same bits
 * either way, including rows whose draws underflow (tiny concentrations) and rows with a NaN. */
static void test_dirichlet_rows_keep_or_regenerate(void **state) {
    (void)state;
    enum { K = 20 };
    const float tiny[3] = {1e-3f, 2e-3f, 5e-4f}, with_nan[3] = {1.5f, NAN, 2.f};
    float wide[K], g[K];
    for (int j = 0; j < K; ++j) {
        wide[j] = 0.3f + 0.4f * (float)j;
        g[j] = (float)sin(1.7 * j);
    }
    const struct { int64_t k; const float *conc; } rows[] = {{1, wide}, {3, wide}, {K, wide}, {3, tiny}, {3, with_nan}};
    for (size_t c = 0; c < sizeof rows / sizeof rows[0]; ++c) {
        const int64_t k = rows[c].k;
        for (uint64_t elem0 = 0; elem0 < 40; elem0 += 13) {
            double lg[K];
            float kept[K], regen[K], gk[K], gr[K];
            tre_dirichlet_sample_row(k, rows[c].conc, 11, 3, elem0, lg, kept);
            tre_dirichlet_sample_row(k, rows[c].conc, 11, 3, elem0, NULL, regen);
            assert_memory_equal(kept, regen, (size_t)k * sizeof(float));
            for (int64_t j = 0; j < k; ++j) {
                const double l = tre_dirichlet_log_gamma(rows[c].conc, j, 11, 3, elem0);
                assert_memory_equal(&lg[j], &l, sizeof l);
            }
            tre_dirichlet_rsample_grad_row(k, rows[c].conc, g, 11, 3, elem0, lg, gk);
            tre_dirichlet_rsample_grad_row(k, rows[c].conc, g, 11, 3, elem0, NULL, gr);
            assert_memory_equal(gk, gr, (size_t)k * sizeof(float));
            if (rows[c].conc == with_nan) assert_true(isnan(kept[0]) && isnan(gk[0]));
            else for (int64_t j = 0; j < k; ++j) assert_true(kept[j] > 0.f && isfinite(gk[j]));
        }
    }
}

/* ---- through the tape ------------------------------------------------------------------- */

#define MAX_IN 4

typedef tre_tensor *(*build_fn)(tre_ctx *ctx, tre_tensor *const *in);

typedef struct tape_case {
    const char *name;
    build_fn build;
    int nin;
    int64_t particles[MAX_IN];
    int ndim[MAX_IN];
    int64_t shape[MAX_IN][3];
    int kind[MAX_IN]; /* 0: real in [-1, 1]; 1: lower-triangular matrices; 2: categories < 3 */
    bool differentiate[MAX_IN];
} tape_case;

static tre_tensor *loss_of(tre_ctx *ctx, const tre_tensor *out) {
    if (!out) return NULL;
    int64_t n = out->particles * out->numel;
    float *w = malloc((size_t)n * sizeof *w);
    for (int64_t i = 0; i < n; ++i) w[i] = 0.5f + 0.37f * (float)((i * 7) % 5) - 0.4f * (float)(i % 2);
    tre_tensor *wt = tre_from_host(ctx, out->particles, out->ndim, out->shape, w);
    free(w);
    return tre_particle_mean(ctx, tre_sum(ctx, tre_mul(ctx, (tre_tensor *)out, wt)));
}

static double eval_loss(tre_ctx *ctx, const tape_case *c, tre_tensor *const *in) {
    tre_ctx_step_reset(ctx);
    ctx->rng_stream = 0; /* the same noise for every evaluation of a draw */
    tre_tensor *l = loss_of(ctx, c->build(ctx, in));
    if (!l) fail_msg("%s: %s", c->name, tre_ctx_error(ctx));
    return tt_at(ctx, l, 0);
}

static void check_tape_case(const tape_case *c) {
    tre_ctx *ctx = tt_ctx(3);
    tre_tensor *in[MAX_IN];
    for (int i = 0; i < c->nin; ++i) {
        int64_t per = tre_shape_numel(c->ndim[i], c->shape[i]), n = c->particles[i] * per;
        int64_t d = c->shape[i][c->ndim[i] - 1];
        float *v = malloc((size_t)n * sizeof *v);
        for (int64_t j = 0; j < n; ++j) {
            int64_t r = (j % (d * d)) / d, col = j % d;
            v[j] = c->kind[i] == 2 ? (float)(j % 3)
                   : c->kind[i] == 1 ? (col > r ? 0.f : col == r ? unif(0.7f, 1.5f) : unif(-0.5f, 0.5f))
                                     : unif(-1.f, 1.f);
        }
        TT_OK(ctx, tre_tensor_create(ctx, &in[i], TRE_F32, c->particles[i], c->ndim[i], c->shape[i], v));
        free(v);
        in[i]->requires_grad = c->differentiate[i];
    }
    tre_ctx_step_reset(ctx);
    ctx->rng_stream = 0;
    tre_grad_begin(ctx);
    tre_tensor *loss = loss_of(ctx, c->build(ctx, in));
    tre_grad_end(ctx);
    if (!loss) fail_msg("%s: %s", c->name, tre_ctx_error(ctx));
    TT_OK(ctx, tre_grad_backward(ctx, loss));
    for (int i = 0; i < c->nin; ++i) {
        if (!c->differentiate[i]) continue;
        int64_t n = in[i]->particles * in[i]->numel, d = in[i]->shape[in[i]->ndim - 1];
        float *g = calloc((size_t)n, sizeof *g);
        if (!in[i]->grad) fail_msg("%s: input %d got no gradient", c->name, i);
        TT_OK(ctx, tre_tensor_to_host(ctx, in[i]->grad, g, n));
        float *x = in[i]->data; /* CPU backend: host memory */
        for (int64_t j = 0; j < n; ++j) {
            if (c->kind[i] == 1 && j % d > (j % (d * d)) / d) { /* above the diagonal */
                if (g[j] != 0.f) fail_msg("%s: input %d [%lld] above the diagonal has gradient %g", c->name, i, (long long)j, g[j]);
                continue;
            }
            float x0 = x[j], h = 1e-2f * fmaxf(1.f, fabsf(x0));
            x[j] = x0 + h;
            double fp = eval_loss(ctx, c, in);
            x[j] = x0 - h;
            double fm = eval_loss(ctx, c, in);
            x[j] = x0;
            double num = (fp - fm) / (2.0 * (double)h);
            if (!(fabs(g[j] - num) <= 2e-3 * (1.0 + fabs(num))))
                fail_msg("%s: d loss / d input %d [%lld]: tape %.6g, finite difference %.6g", c->name, i,
                         (long long)j, g[j], num);
        }
        free(g);
    }
    for (int i = 0; i < c->nin; ++i) tre_tensor_destroy(ctx, in[i]);
    tre_ctx_destroy(ctx);
}

static tre_tensor *b_cat_lp(tre_ctx *ctx, tre_tensor *const *in) {
    return tre_dist_log_prob(ctx, tre_categorical_logits(ctx, in[0]), in[1]);
}
static tre_tensor *b_cat_lp_event(tre_ctx *ctx, tre_tensor *const *in) {
    tre_dist *d = tre_dist_to_event(ctx, tre_dist_expand(ctx, tre_categorical_logits(ctx, in[0]), 2,
                                                          (int64_t[]){2, 3}), 1);
    return tre_dist_log_prob(ctx, d, in[1]);
}
static tre_tensor *b_mvn_lp(tre_ctx *ctx, tre_tensor *const *in) {
    return tre_dist_log_prob(ctx, tre_multivariate_normal(ctx, in[1], in[2]), in[0]);
}
static tre_tensor *b_mvn_lp_event(tre_ctx *ctx, tre_tensor *const *in) {
    return tre_dist_log_prob(ctx, tre_dist_to_event(ctx, tre_multivariate_normal(ctx, in[1], in[2]), 1), in[0]);
}
static tre_tensor *b_mvn_rsample(tre_ctx *ctx, tre_tensor *const *in) {
    return tre_dist_sample(ctx, tre_multivariate_normal(ctx, in[0], in[1]), 3);
}
static tre_tensor *b_mvn_rsample_score(tre_ctx *ctx, tre_tensor *const *in) {
    /* a draw scored under another MVN: the gradient flows through the value and the draw */
    tre_tensor *x = tre_dist_sample(ctx, tre_multivariate_normal(ctx, in[0], in[1]), 2);
    return tre_dist_log_prob(ctx, tre_multivariate_normal(ctx, in[2], in[3]), x);
}
static tre_tensor *b_cat_kl(tre_ctx *ctx, tre_tensor *const *in) {
    return tre_kl_divergence(ctx, tre_categorical_logits(ctx, in[0]), tre_categorical_logits(ctx, in[1]));
}
static tre_tensor *b_mvn_kl(tre_ctx *ctx, tre_tensor *const *in) {
    return tre_kl_divergence(ctx, tre_multivariate_normal(ctx, in[0], in[1]),
                             tre_multivariate_normal(ctx, in[2], in[3]));
}

static void test_gradients_through_the_tape(void **state) {
    (void)state;
    const tape_case cases[] = {
        {"Categorical log_prob, logits broadcast over particle values", b_cat_lp, 2, {1, 2}, {2, 2},
         {{3, 4}, {2, 3}}, {0, 2}, {true, false}},
        {"Categorical log_prob, particle logits, expand + to_event", b_cat_lp_event, 2, {2, 1}, {2, 1},
         {{1, 3}, {3}}, {0, 2}, {true, false}},
        {"MVN log_prob, particle values, batched scale_tril", b_mvn_lp, 3, {2, 1, 1}, {1, 1, 3},
         {{3}, {3}, {2, 3, 3}}, {0, 0, 1}, {true, true, true}},
        {"MVN log_prob, to_event, particle loc", b_mvn_lp_event, 3, {1, 2, 1}, {2, 2, 2},
         {{2, 2}, {2, 2}, {2, 2}}, {0, 0, 1}, {true, true, true}},
        {"MVN rsample", b_mvn_rsample, 2, {1, 1}, {2, 2}, {{2, 3}, {3, 3}}, {0, 1}, {true, true}},
        {"MVN rsample scored under another MVN", b_mvn_rsample_score, 4, {1, 1, 1, 1}, {1, 2, 1, 2},
         {{3}, {3, 3}, {3}, {3, 3}}, {0, 1, 0, 1}, {true, true, true, true}},
        {"Categorical KL", b_cat_kl, 2, {1, 2}, {2, 1}, {{2, 4}, {4}}, {0, 0}, {true, true}},
        {"MVN KL", b_mvn_kl, 4, {1, 1, 2, 1}, {1, 2, 2, 2}, {{3}, {3, 3}, {2, 3}, {3, 3}}, {0, 1, 0, 1},
         {true, true, true, true}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) check_tape_case(&cases[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_categorical_log_prob_grad),
        cmocka_unit_test(test_categorical_kl_grad),
        cmocka_unit_test(test_categorical_kl_grad_zero_probability),
        cmocka_unit_test(test_mvn_log_prob_grad),
        cmocka_unit_test(test_mvn_kl_grad),
        cmocka_unit_test(test_mvn_rsample_grad),
        cmocka_unit_test(test_dirichlet_rows_keep_or_regenerate),
        cmocka_unit_test(test_gradients_through_the_tape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
