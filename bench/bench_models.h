/* The benchmark's model suite: each model makes its synthetic data here (no downloads) and has
 * a mean-field guide; the same models, sizes and guides are in bench/peers/ for NumPyro and Pyro. */
#ifndef TRELBO_BENCH_MODELS_H
#define TRELBO_BENCH_MODELS_H
#include <stdbool.h>
#include <stdint.h>
#include "trelbo.h"

typedef struct bench_size {
    int64_t n, d;   /* 0: the model's default */
    /* logistic regression's likelihood as Bernoulli(logits = tre_matmul(x, w)) instead of the
     * fused tre_bernoulli_logits_glm (the same model; for comparing the two) */
    bool matmul_logits;
} bench_size;

typedef struct bench_model {
    const char *name;
    const char *sizes;          /* the default sizes, for the help text */
    tre_program model, guide;
    /* makes the data for the requested size; returns the program argument (NULL on error) */
    void *(*make)(tre_ctx *ctx, const bench_size *size);
    void (*destroy)(tre_ctx *ctx, void *data);
    /* log-density terms per particle (every element of every sample site in both traces) */
    int64_t (*terms)(const void *data);
    /* matrix-product flops per particle of a value step (0: none) */
    double (*gemm_flops)(const void *data);
    double (*closed_form)(const void *data);   /* NULL: none */
    const char *size_text;      /* filled by make: "N=10000 D=50" */
} bench_model;

extern const bench_model *const tre_bench_models[];
extern const int tre_bench_model_count;
#endif
