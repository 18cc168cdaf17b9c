/* The shared conjugate Normal model and its closed forms (see tt_conjugate.h). */
#include <math.h>
#include "tt_conjugate.h"

static const double LOG_2PI = 1.83787706640934548356;

void tt_conj_setup(tre_ctx *ctx, tt_conj *c) {
    TT_OK(ctx, tre_tensor_create(ctx, &c->data, TRE_F32, 1, 1, &c->n, c->x));
}

tre_tensor *tt_conj_model(tre_ctx *ctx, const void *args) {
    const tt_conj *c = args;
    tre_tensor *mu = tre_sample(ctx, "mu", tre_normal(ctx, tre_scalar(ctx, (float)c->m0), tre_scalar(ctx, (float)c->s0)), NULL);
    tre_plate(ctx, "data", c->n, 0);
    tre_sample(ctx, "obs", tre_normal(ctx, mu, tre_scalar(ctx, (float)c->s)), c->data);
    tre_plate_end(ctx);
    return mu;
}

tre_tensor *tt_conj_guide(tre_ctx *ctx, const void *args) {
    const tt_conj *c = args;
    tre_tensor *loc = tre_param(ctx, "q_loc", tre_scalar(ctx, (float)c->qa), TRE_C_REAL);
    tre_tensor *scale = tre_param(ctx, "q_scale", tre_scalar(ctx, (float)c->qb), TRE_C_POSITIVE);
    return tre_sample(ctx, "mu", tre_normal(ctx, loc, scale), NULL);
}

double tt_conj_elbo(const tt_conj *c, double a, double b) {
    double e = 0.0;
    for (int64_t i = 0; i < c->n; ++i)
        e += -0.5 * LOG_2PI - log(c->s) - ((c->x[i] - a) * (c->x[i] - a) + b * b) / (2 * c->s * c->s);
    e += -0.5 * LOG_2PI - log(c->s0) - ((a - c->m0) * (a - c->m0) + b * b) / (2 * c->s0 * c->s0);
    return e + 0.5 * LOG_2PI + log(b) + 0.5; /* - E_q log q */
}

void tt_conj_elbo_grad(const tt_conj *c, double a, double b, double *d_a, double *d_log_b) {
    double sx = 0;
    for (int64_t i = 0; i < c->n; ++i) sx += c->x[i];
    *d_a = (sx - (double)c->n * a) / (c->s * c->s) - (a - c->m0) / (c->s0 * c->s0);
    double d_b = -(double)c->n * b / (c->s * c->s) - b / (c->s0 * c->s0) + 1.0 / b;
    *d_log_b = d_b * b;
}

void tt_conj_posterior(const tt_conj *c, double *mean, double *sd) {
    double sx = 0;
    for (int64_t i = 0; i < c->n; ++i) sx += c->x[i];
    double prec = 1 / (c->s0 * c->s0) + (double)c->n / (c->s * c->s);
    *mean = (c->m0 / (c->s0 * c->s0) + sx / (c->s * c->s)) / prec;
    *sd = sqrt(1 / prec);
}

double tt_conj_log_evidence(const tt_conj *c) {
    /* x ~ N(m0 1, s^2 I + s0^2 1 1^T): Sherman-Morrison for the inverse and the determinant */
    double sx = 0, sxx = 0;
    for (int64_t i = 0; i < c->n; ++i) {
        sx += c->x[i] - c->m0;
        sxx += (c->x[i] - c->m0) * (c->x[i] - c->m0);
    }
    double n = (double)c->n, k = c->s0 * c->s0 / (c->s * c->s + n * c->s0 * c->s0);
    double quad = (sxx - k * sx * sx) / (c->s * c->s);
    double logdet = 2 * n * log(c->s) + log(1 + n * c->s0 * c->s0 / (c->s * c->s));
    return -0.5 * (n * LOG_2PI + logdet + quad);
}
