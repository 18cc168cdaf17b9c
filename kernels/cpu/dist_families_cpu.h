/* Per-family CPU pieces behind the tables in dist_cpu.c. A family provides:
 *  - a block log-density: out[j] = log p(x[j] | p[0][j], p[1][j], ...) for j < n (n <= 256),
 *    over contiguous blocks; shared[i] != 0 when parameter i is the same for the whole block
 *    (so logs of it can be hoisted). It calls the family's TRE_HD function in kernels/math.
 *  - an element sampler: draw number `elem` of random op `stream` under `seed`, given the
 *    parameter values of that element (p[i]); it uses the shared Philox helpers of
 *    kernels/math/philox.h, so the CUDA backend draws the same numbers.
 * Each family group keeps these in its own file (dist_<group>_cpu.c) and adds one line per
 * family to the table in dist_cpu.c. */
#ifndef TRELBO_KERNELS_CPU_DIST_FAMILIES_H
#define TRELBO_KERNELS_CPU_DIST_FAMILIES_H
#include <stdint.h>
#include "../backend.h"

#define TRE_CPU_BLOCK 256

typedef void (*tre_lp_block_fn)(int64_t n, float *out, const float *x,
                                float p[TRE_KDIST_MAX_PARAMS][TRE_CPU_BLOCK], const int *shared);
typedef float (*tre_sample_elem_fn)(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);

/* Gradient blocks (NULL output pointers: not needed):
 *  - log-density: gv[j] = f[j] * d log p / d x, gp[i][j] = f[j] * d log p / d param_i;
 *  - reparameterized draw x[j] = h(noise; params): gp[i][j] = g[j] * d x / d param_i, with the
 *    noise recovered from x and the parameters (or, for implicit ones, the CDF's derivative). */
typedef void (*tre_lp_grad_block_fn)(int64_t n, const float *x,
                                     float p[TRE_KDIST_MAX_PARAMS][TRE_CPU_BLOCK], const float *f,
                                     float *gv, float *const *gp);
typedef void (*tre_rsample_grad_block_fn)(int64_t n, const float *x,
                                          float p[TRE_KDIST_MAX_PARAMS][TRE_CPU_BLOCK],
                                          const float *g, float *const *gp);

typedef struct tre_cpu_family {
    int nparams;
    tre_lp_block_fn log_prob;
    tre_sample_elem_fn sample;   /* NULL: this family cannot be sampled elementwise */
    tre_lp_grad_block_fn log_prob_grad;        /* NULL: no gradient yet */
    tre_rsample_grad_block_fn rsample_grad;    /* NULL: not reparameterized (or not yet) */
} tre_cpu_family;

/* Normal (dist_cpu.c) */
void tre_normal_lp_block(int64_t n, float *out, const float *x,
                         float p[TRE_KDIST_MAX_PARAMS][TRE_CPU_BLOCK], const int *shared);
float tre_normal_sample_elem(uint64_t seed, uint64_t stream, uint64_t elem, const float *p);
void tre_normal_lp_grad_block(int64_t n, const float *x, float p[TRE_KDIST_MAX_PARAMS][TRE_CPU_BLOCK],
                              const float *f, float *gv, float *const *gp);
void tre_normal_rsample_grad_block(int64_t n, const float *x,
                                   float p[TRE_KDIST_MAX_PARAMS][TRE_CPU_BLOCK], const float *g,
                                   float *const *gp);

#endif
