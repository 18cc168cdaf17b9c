/* The estimators against Pyro itself: thirteen programs written here as in
 * tests/reference/gen_pyro_elbo.py (same priors, likelihoods, data, handlers, guides, param
 * inits and constraints), whose Pyro estimates and loss gradients that script averaged over
 * many batches (tests/reference/pyro_elbo.txt). The library's mean over its own batches must
 * agree with Pyro's, for the estimate and for the gradient with respect to every unconstrained
 * param, within 5 combined standard errors. Each program exercises semantics where a misreading
 * of Pyro would move an expected value: a subsample's scale, the scale and mask handlers,
 * factor, score-function terms (in plates, nested ones included, of each discrete family, in
 * RenyiELBO), a model latent absent from the guide (drawn from the prior and differentiated
 * pathwise) and a param of the model, TraceMeanField_ELBO's analytic KL and its Monte Carlo
 * fallback, RenyiELBO's bound over particles and per datum, and every reparameterized family as
 * a guide (the implicit gradients of Dirichlet, Beta, Gamma and StudentT's df included), with
 * every constraint transform. The minibatches are fixed by conditioning the plates' index sites
 * (in Pyro: plate(..., subsample=indices)), so that the subsample draw adds no variance. Only
 * expected values are compared: what changes the variance alone (Rao-Blackwellizing the score
 * terms) is tested elsewhere (test_rao_blackwell). */
#include <math.h>
#include <stdio.h>
#include "test_support.h"

#define MAX_GRADS 96
#define MAX_PARAMS 24

typedef struct prog_args {
    tre_tensor *y;          /* the program's data (persistent) */
    tre_tensor *idx;        /* fixed minibatch indices of the "data" plate (int32), or NULL */
    int64_t size;           /* the "data" plate's size */
} prog_args;

static tre_tensor *f(tre_ctx *c, float v) { return tre_scalar(c, v); }
static tre_tensor *vec(tre_ctx *c, int64_t n, const float *v) {
    return tre_from_host(c, 1, 1, (const int64_t[]){n}, v);
}
static tre_tensor *positive(tre_ctx *c, const char *name, float init) {
    return tre_param(c, name, f(c, init), TRE_C_POSITIVE);
}

/* A plate (dim 0: the rightmost free one), with its minibatch fixed by condition when idx is
 * given (as Pyro's plate(subsample=indices)); the handler stays pushed until batch_plate_end.
 * One such plate at a time. */
static tre_messenger *fixed_batch;
static tre_tensor *batch_plate(tre_ctx *c, const char *name, int64_t size, tre_tensor *idx, int dim) {
    fixed_batch = NULL;
    if (idx) {
        tre_dict *d = tre_dict_new(c);
        tre_dict_set(c, d, name, idx);
        fixed_batch = tre_condition_handler(c, d);
        tre_push(c, fixed_batch);
    }
    return tre_plate_dim(c, name, size, idx ? idx->shape[0] : 0, dim);
}
static void batch_plate_end(tre_ctx *c) {
    tre_plate_end(c);
    if (fixed_batch) tre_pop(c, fixed_batch);
}
/* The programs' "data" plate (closed by batch_plate_end) */
static tre_tensor *data_plate(tre_ctx *c, const prog_args *a) { return batch_plate(c, "data", a->size, a->idx, 0); }

/* ---- subsample_local ---- */
static tre_tensor *subsample_local_model(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, f(c, 0.f), f(c, 2.f)), NULL);
    tre_tensor *idx = data_plate(c, a);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, mu, f(c, 1.f)), NULL);
    tre_sample(c, "y", tre_normal(c, z, f(c, 0.5f)), tre_index_select(c, a->y, -1, idx));
    batch_plate_end(c);
    return NULL;
}
static tre_tensor *subsample_local_guide(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *m = tre_param(c, "m", f(c, 0.3f), TRE_C_REAL);
    tre_sample(c, "mu", tre_normal(c, m, positive(c, "s", 0.8f)), NULL);
    float a0[8];
    for (int i = 0; i < 8; ++i) a0[i] = (float)(0.1 * i - 0.3);
    tre_tensor *loc = tre_param(c, "a", vec(c, 8, a0), TRE_C_REAL);
    tre_tensor *sd = positive(c, "t", 0.7f);
    tre_tensor *idx = data_plate(c, a);
    tre_sample(c, "z", tre_normal(c, tre_index_select(c, loc, -1, idx), sd), NULL);
    batch_plate_end(c);
    return NULL;
}

/* ---- scale_mask_factor ---- */
static tre_tensor *scale_mask_factor_model(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, f(c, 0.f), f(c, 1.f)), NULL);
    tre_messenger *quarter = tre_scale_handler(c, 0.25);
    tre_push(c, quarter);
    tre_tensor *tau = tre_sample(c, "tau", tre_normal(c, mu, f(c, 1.5f)), NULL);
    tre_pop(c, quarter);
    tre_plate(c, "obs", 4, 0);
    tre_messenger *mask = tre_mask_handler(c, vec(c, 4, (const float[]){1.f, 0.f, 1.f, 1.f}));
    tre_push(c, mask);
    tre_sample(c, "y", tre_normal(c, tre_add(c, mu, tau), f(c, 1.f)), a->y);
    tre_pop(c, mask);
    tre_plate_end(c);
    tre_factor(c, "pen", tre_mul(c, f(c, -0.3f), tre_square(c, mu)));
    tre_deterministic(c, "d", tre_add(c, mu, tau));
    return NULL;
}
static tre_tensor *scale_mask_factor_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *m1 = tre_param(c, "m1", f(c, 0.2f), TRE_C_REAL);
    tre_sample(c, "mu", tre_normal(c, m1, positive(c, "s1", 0.9f)), NULL);
    tre_tensor *m2 = tre_param(c, "m2", f(c, -0.4f), TRE_C_REAL);
    tre_tensor *s2 = positive(c, "s2", 1.3f);
    tre_messenger *half = tre_scale_handler(c, 0.5);
    tre_push(c, half);
    tre_sample(c, "tau", tre_normal(c, m2, s2), NULL);
    tre_pop(c, half);
    return NULL;
}

/* ---- score_plate ---- */
static tre_tensor *score_plate_model(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, f(c, 0.f), f(c, 1.f)), NULL);
    tre_tensor *idx = data_plate(c, a);
    tre_tensor *on = tre_sample(c, "c", tre_bernoulli_probs(c, f(c, 0.3f)), NULL);
    tre_tensor *loc = tre_add(c, mu, tre_sub(c, tre_mul(c, f(c, 2.f), on), f(c, 1.f)));
    tre_sample(c, "y", tre_normal(c, loc, f(c, 1.f)), tre_index_select(c, a->y, -1, idx));
    batch_plate_end(c);
    return NULL;
}
static tre_tensor *score_plate_guide(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *m = tre_param(c, "m", f(c, 0.1f), TRE_C_REAL);
    tre_sample(c, "mu", tre_normal(c, m, positive(c, "s", 0.6f)), NULL);
    tre_tensor *p = tre_param(c, "p", vec(c, 6, (const float[]){0.2f, 0.5f, 0.7f, 0.4f, 0.6f, 0.3f}),
                              TRE_C_UNIT_INTERVAL);
    tre_tensor *idx = data_plate(c, a);
    tre_sample(c, "c", tre_bernoulli_probs(c, tre_index_select(c, p, -1, idx)), NULL);
    batch_plate_end(c);
    return NULL;
}

/* ---- model_only ---- */
static tre_tensor *model_only_model(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *w = tre_param(c, "w", f(c, 0.5f), TRE_C_REAL);
    tre_tensor *u = tre_sample(c, "u", tre_normal(c, w, f(c, 1.5f)), NULL);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, f(c, 0.f), f(c, 1.f)), NULL);
    tre_plate(c, "obs", 3, 0);
    tre_sample(c, "y", tre_normal(c, tre_add(c, u, z), f(c, 1.f)), a->y);
    tre_plate_end(c);
    return NULL;
}
static tre_tensor *model_only_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *m = tre_param(c, "m", f(c, 0.4f), TRE_C_REAL);
    tre_sample(c, "z", tre_normal(c, m, positive(c, "s", 0.7f)), NULL);
    return NULL;
}

/* ---- meanfield ---- */
static tre_tensor *meanfield_model(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, f(c, 0.f), f(c, 2.f)), NULL);
    tre_tensor *sigma = tre_sample(c, "sigma", tre_gamma(c, f(c, 2.f), f(c, 2.f)), NULL);
    tre_tensor *idx = data_plate(c, a);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, mu, f(c, 1.f)), NULL);
    tre_sample(c, "y", tre_normal(c, z, sigma), tre_index_select(c, a->y, -1, idx));
    batch_plate_end(c);
    return NULL;
}
static tre_tensor *meanfield_guide(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *m = tre_param(c, "m", f(c, 0.5f), TRE_C_REAL);
    tre_sample(c, "mu", tre_normal(c, m, positive(c, "s", 0.6f)), NULL);
    tre_tensor *lm = tre_param(c, "lm", f(c, -0.2f), TRE_C_REAL);
    tre_sample(c, "sigma", tre_log_normal(c, lm, positive(c, "ls", 0.4f)), NULL);
    tre_tensor *loc = tre_param(c, "a", vec(c, 5, (const float[]){0.6f, 1.2f, 0.1f, 0.9f, 0.5f}), TRE_C_REAL);
    tre_tensor *sd = positive(c, "t", 0.8f);
    tre_tensor *idx = data_plate(c, a);
    tre_sample(c, "z", tre_normal(c, tre_index_select(c, loc, -1, idx), sd), NULL);
    batch_plate_end(c);
    return NULL;
}

/* ---- renyi_global ---- */
static tre_tensor *renyi_global_model(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, f(c, 0.f), f(c, 1.f)), NULL);
    tre_plate(c, "obs", 4, 0);
    tre_sample(c, "y", tre_normal(c, mu, f(c, 1.f)), a->y);
    tre_plate_end(c);
    return NULL;
}
static tre_tensor *renyi_global_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *m = tre_param(c, "m", f(c, 0.2f), TRE_C_REAL);
    tre_sample(c, "mu", tre_normal(c, m, positive(c, "s", 0.9f)), NULL);
    return NULL;
}

/* ---- renyi_local ---- */
static tre_tensor *renyi_local_model(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    data_plate(c, a);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, f(c, 0.f), f(c, 1.f)), NULL);
    tre_sample(c, "y", tre_normal(c, z, f(c, 1.f)), a->y);
    batch_plate_end(c);
    return NULL;
}
static tre_tensor *renyi_local_guide(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *loc = tre_param(c, "a", vec(c, 4, (const float[]){1.0f, -0.8f, 0.9f, -0.6f}), TRE_C_REAL);
    tre_tensor *sd = positive(c, "t", 0.5f);
    data_plate(c, a);
    tre_sample(c, "z", tre_normal(c, loc, sd), NULL);
    batch_plate_end(c);
    return NULL;
}

/* ---- structured ---- */
static tre_tensor *structured_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *theta = tre_sample(c, "theta", tre_dirichlet(c, vec(c, 3, (const float[]){1.5f, 2.f, 1.f})), NULL);
    tre_plate(c, "o1", 5, 0);
    tre_sample(c, "x", tre_categorical_logits(c, tre_log(c, theta)),
               vec(c, 5, (const float[]){0.f, 1.f, 1.f, 2.f, 1.f}));
    tre_plate_end(c);
    tre_tensor *rho = tre_sample(c, "rho", tre_beta(c, f(c, 2.f), f(c, 3.f)), NULL);
    tre_plate(c, "o2", 4, 0);
    tre_sample(c, "b", tre_bernoulli_probs(c, rho), vec(c, 4, (const float[]){1.f, 0.f, 0.f, 1.f}));
    tre_plate_end(c);
    tre_tensor *lam = tre_sample(c, "lam", tre_gamma(c, f(c, 3.f), f(c, 1.f)), NULL);
    tre_plate(c, "o3", 3, 0);
    tre_sample(c, "k", tre_poisson(c, lam), vec(c, 3, (const float[]){2.f, 4.f, 3.f}));
    tre_plate_end(c);
    tre_tensor *tril = tre_from_host(c, 1, 2, (const int64_t[]){2, 2}, (const float[]){1.f, 0.f, 0.5f, 1.f});
    tre_tensor *v = tre_sample(c, "v", tre_multivariate_normal(c, tre_full(c, 1, (const int64_t[]){2}, 0.f), tril), NULL);
    tre_sample(c, "w", tre_dist_to_event(c, tre_normal(c, v, f(c, 1.f)), 1),
               vec(c, 2, (const float[]){0.7f, -0.4f}));
    return NULL;
}
static tre_tensor *structured_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *alpha = tre_param(c, "alpha", vec(c, 3, (const float[]){2.f, 2.5f, 1.5f}), TRE_C_POSITIVE);
    tre_sample(c, "theta", tre_dirichlet(c, alpha), NULL);
    tre_tensor *c1 = positive(c, "c1", 2.5f), *c0 = positive(c, "c0", 3.5f);
    tre_sample(c, "rho", tre_beta(c, c1, c0), NULL);
    tre_tensor *gc = positive(c, "gc", 4.f), *gr = positive(c, "gr", 1.2f);
    tre_sample(c, "lam", tre_gamma(c, gc, gr), NULL);
    tre_tensor *vl = tre_param(c, "vl", vec(c, 2, (const float[]){0.2f, -0.1f}), TRE_C_REAL);
    tre_tensor *vL = tre_param(c, "vL", tre_from_host(c, 1, 2, (const int64_t[]){2, 2}, (const float[]){0.8f, 0.f, 0.3f, 0.6f}),
                               TRE_C_LOWER_CHOLESKY);
    tre_sample(c, "v", tre_multivariate_normal(c, vl, vL), NULL);
    return NULL;
}

/* ---- discrete ---- */
static tre_tensor *discrete_model(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *n = tre_sample(c, "n", tre_poisson(c, f(c, 3.f)), NULL);
    tre_tensor *k = tre_sample(c, "k", tre_binomial_probs(c, f(c, 10.f), f(c, 0.3f)), NULL);
    tre_tensor *cat = tre_sample(c, "c", tre_categorical_logits(c, vec(c, 3, (const float[]){0.1f, 0.5f, -0.3f})), NULL);
    tre_plate(c, "obs", 3, 0);
    tre_tensor *loc = tre_add(c, tre_add(c, tre_mul(c, f(c, 0.3f), n), tre_mul(c, f(c, 0.2f), k)),
                              tre_take(c, vec(c, 3, (const float[]){-0.5f, 0.f, 0.8f}), cat));
    tre_sample(c, "y", tre_normal(c, loc, f(c, 1.f)), a->y);
    tre_plate_end(c);
    return NULL;
}
static tre_tensor *discrete_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_sample(c, "n", tre_poisson(c, positive(c, "rate", 2.5f)), NULL);
    tre_tensor *kp = tre_param(c, "kp", f(c, 0.4f), TRE_C_UNIT_INTERVAL);
    tre_sample(c, "k", tre_binomial_probs(c, f(c, 10.f), kp), NULL);
    tre_tensor *cl = tre_param(c, "cl", vec(c, 3, (const float[]){0.f, 0.2f, -0.1f}), TRE_C_REAL);
    tre_sample(c, "c", tre_categorical_logits(c, cl), NULL);
    return NULL;
}

/* ---- renyi_discrete ---- */
static tre_tensor *renyi_discrete_model(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, f(c, 0.f), f(c, 1.f)), NULL);
    data_plate(c, a);
    tre_tensor *on = tre_sample(c, "c", tre_bernoulli_probs(c, f(c, 0.4f)), NULL);
    tre_sample(c, "y", tre_normal(c, tre_add(c, mu, on), f(c, 1.f)), a->y);
    batch_plate_end(c);
    return NULL;
}
static tre_tensor *renyi_discrete_guide(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *m = tre_param(c, "m", f(c, 0.2f), TRE_C_REAL);
    tre_sample(c, "mu", tre_normal(c, m, positive(c, "s", 0.9f)), NULL);
    tre_tensor *p = tre_param(c, "p", vec(c, 4, (const float[]){0.3f, 0.6f, 0.2f, 0.5f}), TRE_C_UNIT_INTERVAL);
    data_plate(c, a);
    tre_sample(c, "c", tre_bernoulli_probs(c, p), NULL);
    batch_plate_end(c);
    return NULL;
}

/* ---- nested ---- */
static tre_tensor *nested_model(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *gi = batch_plate(c, "groups", a->size, a->idx, -2);
    tre_tensor *gm = tre_sample(c, "gm", tre_normal(c, f(c, 0.f), f(c, 1.f)), NULL);
    tre_plate_dim(c, "items", 5, 0, -1);
    tre_tensor *k = tre_sample(c, "c", tre_categorical_logits(c, vec(c, 3, (const float[]){0.2f, -0.4f, 0.1f})), NULL);
    tre_tensor *loc = tre_add(c, gm, tre_take(c, vec(c, 3, (const float[]){-1.f, 0.f, 1.5f}), k));
    tre_sample(c, "y", tre_normal(c, loc, f(c, 1.f)), tre_index_select(c, a->y, -2, gi));
    tre_plate_end(c);
    batch_plate_end(c);
    return NULL;
}
static tre_tensor *nested_guide(tre_ctx *c, const void *args) {
    const prog_args *a = args;
    tre_tensor *gl = tre_param(c, "gl", tre_from_host(c, 1, 2, (const int64_t[]){4, 1}, (const float[]){0.3f, -0.2f, 0.5f, 0.1f}),
                               TRE_C_REAL);
    tre_tensor *gs = positive(c, "gs", 0.7f);
    float cl0[60];
    for (int j = 0; j < 60; ++j) cl0[j] = (float)(0.1 * (j % 7) - 0.3);
    tre_tensor *cl = tre_param(c, "cl", tre_from_host(c, 1, 3, (const int64_t[]){4, 5, 3}, cl0), TRE_C_REAL);
    tre_tensor *gi = batch_plate(c, "groups", a->size, a->idx, -2);
    tre_sample(c, "gm", tre_normal(c, tre_index_select(c, gl, -2, gi), gs), NULL);
    tre_plate_dim(c, "items", 5, 0, -1);
    tre_sample(c, "c", tre_categorical_logits(c, tre_index_select(c, cl, -3, gi)), NULL);
    tre_plate_end(c);
    batch_plate_end(c);
    return NULL;
}

/* ---- families (run with TraceMeanField_ELBO and with Trace_ELBO) ---- */
static tre_tensor *families_model(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *g = tre_sample(c, "g", tre_gamma(c, f(c, 2.f), f(c, 1.5f)), NULL);
    tre_tensor *b = tre_sample(c, "b", tre_beta(c, f(c, 2.f), f(c, 2.f)), NULL);
    tre_tensor *d = tre_sample(c, "d", tre_dirichlet(c, vec(c, 3, (const float[]){1.f, 2.f, 3.f})), NULL);
    tre_tensor *h = tre_sample(c, "h", tre_half_normal(c, f(c, 1.5f)), NULL);
    tre_tensor *e = tre_sample(c, "e", tre_gamma(c, f(c, 2.f), f(c, 3.f)), NULL);
    tre_tensor *lap = tre_sample(c, "l", tre_normal(c, f(c, 0.5f), f(c, 1.2f)), NULL);
    tre_tensor *tril = tre_from_host(c, 1, 2, (const int64_t[]){2, 2}, (const float[]){1.f, 0.f, 0.4f, 0.8f});
    tre_tensor *v = tre_sample(c, "v", tre_multivariate_normal(c, vec(c, 2, (const float[]){0.2f, -0.1f}), tril), NULL);
    tre_tensor *u = tre_sample(c, "u", tre_normal(c, f(c, 0.3f), f(c, 2.f)), NULL);
    tre_sample(c, "r", tre_uniform(c, f(c, 0.f), f(c, 1.f)), NULL);
    tre_sample(c, "c", tre_cauchy(c, f(c, 0.f), f(c, 1.f)), NULL);
    tre_tensor *n = tre_sample(c, "n", tre_log_normal(c, f(c, 0.f), f(c, 1.f)), NULL);
    tre_tensor *st = tre_sample(c, "st", tre_student_t(c, f(c, 4.f), f(c, 0.f), f(c, 1.f)), NULL);
    tre_tensor *hc = tre_sample(c, "hc", tre_half_cauchy(c, f(c, 1.f)), NULL);
    tre_tensor *loc = tre_add(c, tre_add(c, lap, u), tre_mul(c, f(c, 0.5f), st));
    tre_sample(c, "y", tre_normal(c, loc, f(c, 1.f)), f(c, 0.7f));
    tre_sample(c, "k", tre_poisson(c, tre_add(c, g, e)), f(c, 3.f));
    tre_sample(c, "q", tre_bernoulli_probs(c, b), f(c, 1.f));
    tre_sample(c, "x", tre_categorical_logits(c, tre_log(c, d)), f(c, 2.f));
    tre_sample(c, "z", tre_dist_to_event(c, tre_normal(c, v, f(c, 1.f)), 1), vec(c, 2, (const float[]){0.1f, -0.3f}));
    tre_sample(c, "s", tre_normal(c, f(c, 0.f), tre_add(c, f(c, 1.f), tre_add(c, h, hc))), f(c, 0.4f));
    tre_sample(c, "ln", tre_normal(c, tre_log(c, n), f(c, 1.f)), f(c, 0.2f));
    return NULL;
}
static tre_tensor *families_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_sample(c, "g", tre_gamma(c, positive(c, "gc", 3.f), positive(c, "gr", 2.f)), NULL);
    tre_sample(c, "b", tre_beta(c, positive(c, "bc1", 1.5f), positive(c, "bc0", 2.5f)), NULL);
    tre_tensor *da = tre_param(c, "da", vec(c, 3, (const float[]){2.f, 2.f, 2.f}), TRE_C_POSITIVE);
    tre_sample(c, "d", tre_dirichlet(c, da), NULL);
    tre_sample(c, "h", tre_half_normal(c, positive(c, "hs", 0.8f)), NULL);
    tre_sample(c, "e", tre_exponential(c, positive(c, "er", 2.f)), NULL);
    tre_tensor *ll = tre_param(c, "ll", f(c, 0.1f), TRE_C_REAL);
    tre_sample(c, "l", tre_laplace(c, ll, positive(c, "lb", 0.7f)), NULL);
    tre_tensor *vm = tre_param(c, "vm", vec(c, 2, (const float[]){0.3f, -0.2f}), TRE_C_REAL);
    tre_tensor *vs = tre_param(c, "vs", vec(c, 2, (const float[]){0.6f, 0.9f}), TRE_C_POSITIVE);
    tre_sample(c, "v", tre_dist_to_event(c, tre_normal(c, vm, vs), 1), NULL);
    tre_tensor *ulo = tre_param(c, "ulo", f(c, -0.5f), TRE_C_REAL);
    tre_sample(c, "u", tre_uniform(c, ulo, tre_add(c, ulo, positive(c, "uw", 1.5f))), NULL);
    tre_sample(c, "r", tre_beta(c, positive(c, "rc1", 2.f), positive(c, "rc0", 3.f)), NULL);
    tre_tensor *cl = tre_param(c, "cl", f(c, 0.2f), TRE_C_REAL);
    tre_sample(c, "c", tre_cauchy(c, cl, positive(c, "cs", 0.5f)), NULL);
    tre_tensor *nl = tre_param(c, "nl", f(c, 0.3f), TRE_C_REAL);
    tre_sample(c, "n", tre_log_normal(c, nl, positive(c, "ns", 0.6f)), NULL);
    tre_tensor *sdf = positive(c, "sdf", 5.f);
    tre_tensor *sl = tre_param(c, "sl", f(c, 0.1f), TRE_C_REAL);
    tre_sample(c, "st", tre_student_t(c, sdf, sl, positive(c, "ss", 0.9f)), NULL);
    tre_sample(c, "hc", tre_half_cauchy(c, positive(c, "hcs", 0.7f)), NULL);
    return NULL;
}

/* ---- the comparison ---- */

typedef struct program {
    const char *name;
    tre_program model, guide;
    tre_elbo_kind kind;             /* Trace_ELBO unless said */
    double alpha;                   /* RenyiELBO */
    const char *params[MAX_PARAMS]; /* in the reference row's order */
    const float *y;                 /* data: ny values, a vector or, with y_cols, a matrix */
    int64_t ny, y_cols;
    int32_t idx[4];                 /* the fixed minibatch of the program's plate, when n_idx > 0 */
    int64_t n_idx, size;            /* ... and that plate's size */
    int64_t batches;                /* fewer than B for the programs of many gamma-type draws */
} program;

static const float Y8[8] = {0.3f, -1.2f, 2.1f, 0.7f, -0.4f, 1.5f, 0.9f, -2.0f};
static const float Y6[6] = {1.2f, -0.8f, 0.4f, 2.2f, -1.5f, 0.1f};
static const float Y5[5] = {0.8f, 1.9f, -0.3f, 1.1f, 0.6f};
static const float Y4[4] = {0.4f, 1.1f, -0.3f, 0.9f};
static const float YM[4] = {0.5f, 3.0f, -0.2f, 1.1f};
static const float YO[3] = {1.3f, 0.2f, 2.0f};
static float Y45[20]; /* [4, 5], filled by the test as the script makes it */

enum { P = 10000, B = 100, B_GAMMAS = 40, RENYI_P = 8, RENYI_B = 20000 };
#define FAMILY_PARAMS                                                                              \
    {"gc", "gr", "bc1", "bc0", "da", "hs", "er", "ll", "lb", "vm", "vs", "ulo", "uw", "rc1", "rc0", \
     "cl", "cs", "nl", "ns", "sdf", "sl", "ss", "hcs"}

static const program programs[] = {
    {.name = "subsample_local", .model = subsample_local_model, .guide = subsample_local_guide,
     .params = {"m", "s", "a", "t"}, .y = Y8, .ny = 8, .idx = {1, 4, 6}, .n_idx = 3, .size = 8},
    {.name = "scale_mask_factor", .model = scale_mask_factor_model, .guide = scale_mask_factor_guide,
     .params = {"m1", "s1", "m2", "s2"}, .y = YM, .ny = 4},
    {.name = "score_plate", .model = score_plate_model, .guide = score_plate_guide,
     .params = {"m", "s", "p"}, .y = Y6, .ny = 6, .idx = {0, 2, 3, 5}, .n_idx = 4, .size = 6},
    {.name = "model_only", .model = model_only_model, .guide = model_only_guide,
     .params = {"w", "m", "s"}, .y = YO, .ny = 3},
    {.name = "meanfield", .model = meanfield_model, .guide = meanfield_guide, .kind = TRE_TRACE_MEANFIELD_ELBO,
     .params = {"m", "s", "lm", "ls", "a", "t"}, .y = Y5, .ny = 5, .idx = {1, 3}, .n_idx = 2, .size = 5},
    {.name = "renyi_global", .model = renyi_global_model, .guide = renyi_global_guide, .kind = TRE_RENYI_ELBO,
     .alpha = 0.5, .params = {"m", "s"}, .y = Y4, .ny = 4},
    {.name = "renyi_local", .model = renyi_local_model, .guide = renyi_local_guide, .kind = TRE_RENYI_ELBO,
     .alpha = 0.3, .params = {"a", "t"}, .y = Y4, .ny = 4, .size = 4},
    {.name = "structured", .model = structured_model, .guide = structured_guide,
     .params = {"alpha", "c1", "c0", "gc", "gr", "vl", "vL"}, .batches = B_GAMMAS},
    {.name = "discrete", .model = discrete_model, .guide = discrete_guide, .params = {"rate", "kp", "cl"},
     .y = (const float[]){1.5f, 2.2f, 0.9f}, .ny = 3},
    {.name = "renyi_discrete", .model = renyi_discrete_model, .guide = renyi_discrete_guide,
     .kind = TRE_RENYI_ELBO, .alpha = 0.5, .params = {"m", "s", "p"}, .y = Y4, .ny = 4, .size = 4},
    {.name = "nested", .model = nested_model, .guide = nested_guide, .params = {"gl", "gs", "cl"},
     .y = Y45, .ny = 20, .y_cols = 5, .idx = {0, 2, 3}, .n_idx = 3, .size = 4},
    {.name = "families_meanfield", .model = families_model, .guide = families_guide,
     .kind = TRE_TRACE_MEANFIELD_ELBO, .params = FAMILY_PARAMS, .batches = B_GAMMAS},
    {.name = "families_trace", .model = families_model, .guide = families_guide, .params = FAMILY_PARAMS,
     .batches = B_GAMMAS},
};

static const tt_fixture_row *find_row(const tt_fixture_row *rows, int n, const char *name) {
    for (int i = 0; i < n; ++i)
        if (!strcmp(rows[i].name, name)) return &rows[i];
    fail_msg("no reference row \"%s\" in pyro_elbo.txt", name);
    return NULL;
}

/* Copies every listed param's gradient into g (flattened, in order); returns their count. */
static int gather_grads(tre_ctx *ctx, const program *pg, double *g) {
    int n = 0;
    for (int i = 0; i < MAX_PARAMS && pg->params[i]; ++i) {
        const tre_param_entry *e = tre_param_store_get(ctx, pg->params[i]);
        if (!e || !e->grad) fail_msg("%s: param \"%s\" has no gradient", pg->name, pg->params[i]);
        int64_t k = e->grad->numel;
        assert_true(n + k <= MAX_GRADS);
        float host[MAX_GRADS];
        TT_OK(ctx, tre_tensor_to_host(ctx, e->grad, host, k));
        for (int64_t j = 0; j < k; ++j) g[n++] = host[j];
    }
    return n;
}

static void check_program(const program *pg, const tt_fixture_row *ref) {
    int warnings = 0;
    tre_ctx *ctx = NULL;
    tre_ctx_opts o = {.backend = TRE_BACKEND_CPU, .seed = 20261207, .warn = tt_count_warnings,
                      .warn_user = &warnings};
    TT_OK(ctx, tre_ctx_create(&ctx, &o));
    prog_args a = {.size = pg->size};
    if (pg->ny) {
        const int64_t shape[2] = {pg->y_cols ? pg->ny / pg->y_cols : pg->ny, pg->y_cols};
        TT_OK(ctx, tre_tensor_create(ctx, &a.y, TRE_F32, 1, pg->y_cols ? 2 : 1, shape, pg->y));
    }
    if (pg->n_idx)
        TT_OK(ctx, tre_tensor_create(ctx, &a.idx, TRE_I32, 1, 1, (const int64_t[]){pg->n_idx}, pg->idx));

    /* sums of the batches' values and squares: the estimate (index 0) and the gradients */
    double sum[1 + MAX_GRADS] = {0}, sq[1 + MAX_GRADS] = {0}, g[MAX_GRADS];
    int ng = 0;
    /* RenyiELBO's bound depends on the particle count: Pyro's, in many batches */
    const bool renyi = pg->kind == TRE_RENYI_ELBO;
    const int64_t particles = renyi ? RENYI_P : P, batches = renyi ? RENYI_B : pg->batches ? pg->batches : B;
    tre_elbo_opts eo = {.kind = pg->kind, .num_particles = particles, .alpha = pg->alpha, .grad = true};
    for (int64_t b = 0; b < batches; ++b) {
        tre_elbo_result r;
        TT_OK(ctx, tre_elbo(ctx, pg->model, pg->guide, &a, &eo, &r));
        ng = gather_grads(ctx, pg, g);
        sum[0] += r.mean;
        sq[0] += r.mean * r.mean;
        for (int j = 0; j < ng; ++j) {
            sum[1 + j] += g[j];
            sq[1 + j] += g[j] * g[j];
        }
    }
    assert_int_equal(ref->nfields, 3);
    assert_int_equal(ref->len[0], 2);
    assert_int_equal(ref->len[1], ng);
    assert_int_equal(ref->len[2], ng);
    bool ok = true;
    double worst = 0;
    char what[32], worst_what[32] = "elbo";
    const double n = (double)batches;
    for (int j = 0; j <= ng; ++j) {
        double mean = sum[j] / n, se = sqrt(fmax(0.0, (sq[j] - n * mean * mean) / (n - 1)) / n);
        double want = j == 0 ? ref->field[0][0] : ref->field[1][j - 1];
        double want_se = j == 0 ? ref->field[0][1] : ref->field[2][j - 1];
        double se_both = sqrt(se * se + want_se * want_se), diff = fabs(mean - want);
        /* equal expected values: within 5 standard errors (and float rounding, for the terms
         * without noise, such as the analytic KL's gradients) */
        bool agree = diff <= 5.0 * se_both + 1e-5 * fmax(1.0, fabs(want));
        snprintf(what, sizeof what, j == 0 ? "elbo" : "grad[%d]", j - 1);
        if (!agree)
            print_message("  %s %s: trelbo %.6f +- %.6f, Pyro %.6f +- %.6f DIFFER\n", pg->name, what, mean, se,
                          want, want_se);
        ok &= agree;
        if (se_both > 0 && diff / se_both > worst) {
            worst = diff / se_both;
            snprintf(worst_what, sizeof worst_what, "%s", what);
        }
    }
    print_message("%-18s %2d gradients, %lld batches of %lld particles: largest |z| %.2f (%s)\n", pg->name, ng,
                  (long long)batches, (long long)particles, worst, worst_what);
    /* the model_only program's missing site warns, once; no other program warns */
    assert_int_equal(warnings, strcmp(pg->name, "model_only") ? 0 : 1);
    tre_tensor_destroy(ctx, a.y);
    tre_tensor_destroy(ctx, a.idx);
    tre_ctx_destroy(ctx);
    if (!ok) fail_msg("%s: trelbo and Pyro differ (above)", pg->name);
}

static void test_estimators_agree_with_pyro(void **state) {
    (void)state;
    for (int j = 0; j < 20; ++j) Y45[j] = (float)(0.5 * ((j * 7) % 11) - 2.0);
    int nrows = 0;
    tt_fixture_row *rows = tt_fixture_load("pyro_elbo.txt", &nrows);
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; ++i)
        check_program(&programs[i], find_row(rows, nrows, programs[i].name));
    tt_fixture_free(rows, nrows);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimators_agree_with_pyro),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
