/* The conjugate Normal model the statistical tests share, with its closed forms:
 *   mu ~ N(m0, s0), x_i ~ N(mu, s) (i < n);  guide q(mu) = N(q_loc, q_scale), params initialised
 *   at qa and qb (q_scale positive). */
#ifndef TRELBO_TT_CONJUGATE_H
#define TRELBO_TT_CONJUGATE_H
#include "test_support.h"

typedef struct tt_conj {
    double m0, s0, s, qa, qb;
    int64_t n;
    const float *x;      /* host data, n values */
    tre_tensor *data;    /* made by tt_conj_setup */
} tt_conj;

/* Uploads c->x into a persistent tensor of ctx. */
void tt_conj_setup(tre_ctx *ctx, tt_conj *c);
/* tre_program's for model and guide; args = the tt_conj */
tre_tensor *tt_conj_model(tre_ctx *ctx, const void *args);
tre_tensor *tt_conj_guide(tre_ctx *ctx, const void *args);
/* closed forms: the ELBO at guide N(a, b), its gradient w.r.t. a and log b, the exact posterior,
 * and the log evidence */
double tt_conj_elbo(const tt_conj *c, double a, double b);
void tt_conj_elbo_grad(const tt_conj *c, double a, double b, double *d_a, double *d_log_b);
void tt_conj_posterior(const tt_conj *c, double *mean, double *sd);
double tt_conj_log_evidence(const tt_conj *c);
#endif
