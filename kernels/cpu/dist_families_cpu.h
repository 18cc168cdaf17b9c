/* Per-family CPU pieces behind the tables in dist_cpu.c. A family provides:
 *  - a block log-density: out[j] = log p(x[j] | p[0][j], p[1][j], ...) for j < n (n <= 256),
 *    over contiguous blocks; shared[i] != 0 when parameter i is the same for the whole block
 *    (so logs of it can be hoisted). It calls the family's TRE_HD function in kernels/math.
 *  - an element sampler: draw number `elem` of random op `stream` under `seed`, given the
 *    parameter values of that element (p[i]); it uses the shared Philox helpers of
 *    kernels/math/philox.h, so the CUDA backend draws the same numbers. Families whose draw
 *    transforms a standard normal (Normal, LogNormal, HalfNormal) have a block sampler over
 *    tre_cpu_std_normal_block instead, with the same numbers.
 * Each family group keeps these in its own file (dist_<group>_cpu.c) and adds one line per
 * family to the table in dist_cpu.c. */
#ifndef TRELBO_KERNELS_CPU_DIST_FAMILIES_H
#define TRELBO_KERNELS_CPU_DIST_FAMILIES_H
#include <stdint.h>
#include "../backend.h"
#include "cpu_iter.h"

/* A block's parameter values: p[i][j] is parameter i of element j (read only; each row is the
 * argument's own memory when it is contiguous there, else a gathered copy) */
typedef const float *const *tre_pblock;

typedef void (*tre_lp_block_fn)(int64_t n, float *out, const float *x,
                                tre_pblock p, const int *shared);
typedef float (*tre_sample_elem_fn)(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
/* A block sampler: out[j] = draw number elem0 + j (the numbers of tre_philox_std_normal's
 * transform, as the CUDA backend draws them element by element) */
typedef void (*tre_sample_block_fn)(int64_t n, uint64_t seed, uint64_t stream, uint64_t elem0,
                                    tre_pblock p, float *out);

/* Gradient blocks (NULL output pointers: not needed):
 *  - log-density: gv[j] = f[j] * d log p / d x, gp[i][j] = f[j] * d log p / d param_i;
 *  - reparameterized draw x[j] = h(noise; params): gp[i][j] = g[j] * d x / d param_i, with the
 *    noise recovered from x and the parameters (or, for implicit ones, the CDF's derivative). */
typedef void (*tre_lp_grad_block_fn)(int64_t n, const float *x,
                                     tre_pblock p, const float *f,
                                     float *gv, float *const *gp);
typedef void (*tre_rsample_grad_block_fn)(int64_t n, const float *x,
                                          tre_pblock p,
                                          const float *g, float *const *gp);

typedef struct tre_cpu_family {
    int nparams;
    tre_lp_block_fn log_prob;
    tre_sample_elem_fn sample;   /* NULL: none, or the block sampler below is the sampler */
    tre_lp_grad_block_fn log_prob_grad;        /* NULL: no gradient yet */
    tre_rsample_grad_block_fn rsample_grad;    /* NULL: not reparameterized (or not yet) */
    tre_sample_block_fn sample_block;          /* NULL: the element sampler, element by element */
    /* bit i: when shared[i], log_prob hoists work that depends on parameter i alone (its log,
     * lgamma) out of the element loop, bit for bit what the loop computes per element; the
     * kernels then also look for blocks in which parameter i happens to be one value (a
     * per-particle scale over the data) */
    unsigned hoists;
} tre_cpu_family;

/* Standard normal draws elem0 .. elem0 + n - 1 of random op `stream` (tre_philox_std_normal's
 * numbers), a block at a time so that the generator and the transform vectorize. */
void tre_cpu_std_normal_block(uint64_t seed, uint64_t stream, uint64_t elem0, int64_t n, float *out);
/* Uniforms elem0 .. elem0 + n - 1 of random op `stream` (tre_philox_uniform's numbers). */
void tre_cpu_uniform_block(uint64_t seed, uint64_t stream, uint64_t elem0, int64_t n, double *out);

/* Normal (dist_cpu.c) */
void tre_normal_lp_block(int64_t n, float *out, const float *x,
                         tre_pblock p, const int *shared);
void tre_normal_sample_block(int64_t n, uint64_t seed, uint64_t stream, uint64_t elem0,
                             tre_pblock p, float *out);
void tre_normal_lp_grad_block(int64_t n, const float *x, tre_pblock p,
                              const float *f, float *gv, float *const *gp);
void tre_normal_rsample_grad_block(int64_t n, const float *x,
                                   tre_pblock p, const float *g,
                                   float *const *gp);

/* Discrete families (dist_discrete_cpu.c): Bernoulli (probs, logits), Poisson, Binomial */
void tre_bernoulli_probs_lp_block(int64_t n, float *out, const float *x,
                                  tre_pblock p, const int *shared);
float tre_bernoulli_probs_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_bernoulli_probs_lp_grad_block(int64_t n, const float *x,
                                       tre_pblock p, const float *f,
                                       float *gv, float *const *gp);
void tre_bernoulli_logits_lp_block(int64_t n, float *out, const float *x,
                                   tre_pblock p, const int *shared);
float tre_bernoulli_logits_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_bernoulli_logits_lp_grad_block(int64_t n, const float *x,
                                        tre_pblock p, const float *f,
                                        float *gv, float *const *gp);
void tre_poisson_lp_block(int64_t n, float *out, const float *x,
                          tre_pblock p, const int *shared);
float tre_poisson_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_poisson_lp_grad_block(int64_t n, const float *x, tre_pblock p,
                               const float *f, float *gv, float *const *gp);
void tre_binomial_lp_block(int64_t n, float *out, const float *x,
                           tre_pblock p, const int *shared);
float tre_binomial_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_binomial_lp_grad_block(int64_t n, const float *x, tre_pblock p,
                                const float *f, float *gv, float *const *gp);

/* Continuous families (dist_continuous_cpu.c): LogNormal, HalfNormal, Cauchy, HalfCauchy,
 * Laplace, Uniform, Exponential, Delta */
void tre_log_normal_lp_block(int64_t n, float *out, const float *x,
                             tre_pblock p, const int *shared);
void tre_log_normal_sample_block(int64_t n, uint64_t seed, uint64_t stream, uint64_t elem0,
                                 tre_pblock p, float *out);
void tre_log_normal_lp_grad_block(int64_t n, const float *x,
                                  tre_pblock p, const float *f,
                                  float *gv, float *const *gp);
void tre_log_normal_rsample_grad_block(int64_t n, const float *x,
                                       tre_pblock p, const float *g,
                                       float *const *gp);
void tre_half_normal_lp_block(int64_t n, float *out, const float *x,
                              tre_pblock p, const int *shared);
void tre_half_normal_sample_block(int64_t n, uint64_t seed, uint64_t stream, uint64_t elem0,
                                  tre_pblock p, float *out);
void tre_half_normal_lp_grad_block(int64_t n, const float *x,
                                   tre_pblock p, const float *f,
                                   float *gv, float *const *gp);
void tre_half_normal_rsample_grad_block(int64_t n, const float *x,
                                        tre_pblock p, const float *g,
                                        float *const *gp);
void tre_cauchy_lp_block(int64_t n, float *out, const float *x,
                         tre_pblock p, const int *shared);
float tre_cauchy_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_cauchy_lp_grad_block(int64_t n, const float *x,
                              tre_pblock p, const float *f,
                              float *gv, float *const *gp);
void tre_cauchy_rsample_grad_block(int64_t n, const float *x,
                                   tre_pblock p, const float *g,
                                   float *const *gp);
void tre_half_cauchy_lp_block(int64_t n, float *out, const float *x,
                              tre_pblock p, const int *shared);
float tre_half_cauchy_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_half_cauchy_lp_grad_block(int64_t n, const float *x,
                                   tre_pblock p, const float *f,
                                   float *gv, float *const *gp);
void tre_half_cauchy_rsample_grad_block(int64_t n, const float *x,
                                        tre_pblock p, const float *g,
                                        float *const *gp);
void tre_laplace_lp_block(int64_t n, float *out, const float *x,
                          tre_pblock p, const int *shared);
float tre_laplace_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_laplace_lp_grad_block(int64_t n, const float *x,
                               tre_pblock p, const float *f,
                               float *gv, float *const *gp);
void tre_laplace_rsample_grad_block(int64_t n, const float *x,
                                    tre_pblock p, const float *g,
                                    float *const *gp);
void tre_uniform_lp_block(int64_t n, float *out, const float *x,
                          tre_pblock p, const int *shared);
float tre_uniform_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_uniform_lp_grad_block(int64_t n, const float *x,
                               tre_pblock p, const float *f,
                               float *gv, float *const *gp);
void tre_uniform_rsample_grad_block(int64_t n, const float *x,
                                    tre_pblock p, const float *g,
                                    float *const *gp);
void tre_exponential_lp_block(int64_t n, float *out, const float *x,
                              tre_pblock p, const int *shared);
float tre_exponential_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_exponential_lp_grad_block(int64_t n, const float *x,
                                   tre_pblock p, const float *f,
                                   float *gv, float *const *gp);
void tre_exponential_rsample_grad_block(int64_t n, const float *x,
                                        tre_pblock p, const float *g,
                                        float *const *gp);
void tre_delta_lp_block(int64_t n, float *out, const float *x,
                        tre_pblock p, const int *shared);
float tre_delta_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_delta_lp_grad_block(int64_t n, const float *x,
                             tre_pblock p, const float *f,
                             float *gv, float *const *gp);
void tre_delta_rsample_grad_block(int64_t n, const float *x,
                                  tre_pblock p, const float *g,
                                  float *const *gp);

/* Gamma group (dist_gamma_cpu.c): Gamma, Beta, StudentT (Dirichlet composes the Gamma kernels) */
void tre_gamma_lp_block(int64_t n, float *out, const float *x,
                        tre_pblock p, const int *shared);
float tre_gamma_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_gamma_lp_grad_block(int64_t n, const float *x, tre_pblock p,
                             const float *f, float *gv, float *const *gp);
void tre_gamma_rsample_grad_block(int64_t n, const float *x,
                                  tre_pblock p, const float *g,
                                  float *const *gp);
void tre_beta_lp_block(int64_t n, float *out, const float *x,
                       tre_pblock p, const int *shared);
float tre_beta_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_beta_lp_grad_block(int64_t n, const float *x, tre_pblock p,
                            const float *f, float *gv, float *const *gp);
void tre_beta_rsample_grad_block(int64_t n, const float *x,
                                 tre_pblock p, const float *g,
                                 float *const *gp);
void tre_student_t_lp_block(int64_t n, float *out, const float *x,
                            tre_pblock p, const int *shared);
float tre_student_t_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_student_t_lp_grad_block(int64_t n, const float *x,
                                 tre_pblock p, const float *f,
                                 float *gv, float *const *gp);
void tre_student_t_rsample_grad_block(int64_t n, const float *x,
                                      tre_pblock p, const float *g,
                                      float *const *gp);

#endif
