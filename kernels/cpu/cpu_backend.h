/* The CPU backend's kernels (one file per family), assembled into a tre_backend table. */
#ifndef TRELBO_KERNELS_CPU_BACKEND_H
#define TRELBO_KERNELS_CPU_BACKEND_H
#include "../backend.h"

/* The CPU backend's state (tre_backend.impl): a scratch buffer that only grows, for kernels that
 * need more than the stack, so that a training loop stops allocating after its first steps.
 * A context uses its backend from one thread at a time. */
typedef struct tre_cpu_impl {
    void *scratch;
    size_t scratch_bytes;
    tre_kmemory mem; /* what cpu_alloc handed out and cpu_free has not taken back */
    size_t l2_bytes; /* one core's L2 cache as the C library reports it (0: unknown) */
} tre_cpu_impl;
/* At least `bytes` of 64-byte-aligned scratch, valid until the next call (NULL: out of memory;
 * the old contents are not kept when it grows). */
void *tre_cpu_scratch(void *impl, size_t bytes);

int tre_binary_cpu(void *impl, tre_binop op, const tre_kshape *shape, float *out,
                   const tre_karg *a, const tre_karg *b, bool *no_nan);
int tre_unary_cpu(void *impl, tre_unop op, int64_t n, float *out, const float *in, bool *no_nan);
int tre_mask_scale_cpu(void *impl, const tre_kshape *shape, float *out, const tre_karg *x,
                       const tre_karg *mask, float scale);
int tre_sum_rows_cpu(void *impl, int64_t rows, int64_t cols, const float *in, float *out);
int tre_dot_gathered_rows_cpu(void *impl, int64_t outer, int64_t n, int64_t inner,
                              const int32_t *index, int64_t k, const float *w, const float *x,
                              int64_t xstride, float *out);
int tre_dot_rows_cpu(void *impl, const tre_kshape *shape, float *out, const tre_karg *a,
                     const tre_karg *b);
int tre_gather_cpu(void *impl, int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                   int64_t k, const float *in, float *out);
int tre_log_prob_cpu(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                     const tre_karg *value, const tre_karg *params);
int tre_log_prob_sum_cpu(void *impl, tre_kdist kind, int64_t particles, const tre_kshape *inner,
                         float *out, const tre_karg *args, const int64_t *pstride, float scale);
int tre_validate_cpu(void *impl, tre_kcheck check, const tre_kshape *shape, const tre_karg *x,
                     const tre_karg *a, const tre_karg *b, float ca, int64_t *count);
int tre_reduce_sum_cpu(void *impl, const tre_kshape *shape, const float *in, float *out,
                       const int64_t *out_stride);
int tre_reduce_sum_pair_cpu(void *impl, const tre_kshape *shape, const float *in, float *out_a,
                            const int64_t *stride_a, float *out_b, const int64_t *stride_b);
int tre_scatter_add_cpu(void *impl, int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                        int64_t k, const float *g, float *out);
int tre_scatter_add_scaled_cpu(void *impl, int64_t outer, int64_t n, int64_t inner,
                               const int32_t *index, int64_t k, const float *s, const float *x,
                               int64_t xstride, float *out);
int tre_log_prob_backward_cpu(void *impl, tre_kdist kind, int64_t particles, const tre_kshape *inner,
                              const tre_karg *args, const int64_t *pstride, const tre_karg *g,
                              int64_t gstride, float scale, float *const *grads);
int tre_rsample_backward_cpu(void *impl, tre_kdist kind, const tre_kshape *shape, const float *x,
                             const tre_karg *params, const float *g, float *const *grads);
int tre_adam_update_cpu(void *impl, int64_t n, float *u, const float *g, float *m, float *v,
                        float beta1, float beta2, float eps, float wd, float clip, float step_size,
                        float bc2_sqrt);
int tre_gemm_cpu(void *impl, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t lda, int64_t strideA, const float *B, int64_t ldb,
                 int64_t strideB, float beta, float *C, int64_t ldc, int64_t strideC, int64_t batch);
int tre_take_cpu(void *impl, int64_t P, int64_t n, const float *values, int64_t vstride,
                 int64_t K, const float *index, int64_t istride, float *out);
int tre_take_backward_cpu(void *impl, int64_t P, int64_t n, const float *g, const float *index,
                          int64_t istride, float *gvalues, int64_t vstride, int64_t K);
int tre_simplex_backward_cpu(void *impl, int64_t rows, int64_t k, const float *u, const float *g,
                             float *gu);
int tre_lower_cholesky_backward_cpu(void *impl, int64_t batch, int64_t n, const float *u,
                                    const float *g, float *gu);
int tre_log_prob_backward_sum_cpu(void *impl, tre_kdist kind, int64_t particles,
                                  const tre_kshape *inner, const tre_karg *args,
                                  const int64_t *pstride, const tre_karg *g, int64_t gstride,
                                  float scale, float *const *sums);
int tre_sample_cpu(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                   const tre_karg *params, uint64_t seed, uint64_t stream);
int tre_simplex_cpu(void *impl, int inverse, int64_t rows, int64_t k, float *out,
                    const float *in);
int tre_simplex_log_det_cpu(void *impl, int64_t rows, int64_t k, float *out, const float *in);
int tre_lower_cholesky_cpu(void *impl, int inverse, int64_t batch, int64_t n, float *out,
                           const float *in);
int tre_lower_cholesky_log_det_cpu(void *impl, int64_t batch, int64_t n, float *out,
                                   const float *in);
/* structured families (dist_structured_cpu.c) */
int tre_categorical_log_prob_cpu(void *impl, const tre_kshape *rows, int64_t k, float *out,
                                 const tre_karg *logits, const tre_karg *value);
int tre_categorical_log_prob_backward_shared_cpu(void *impl, int64_t P, int64_t M, int64_t k,
                                                 const float *g, const float *logits, int64_t lstride,
                                                 const float *value, int64_t vstride0, int64_t vstride1,
                                                 float *grad_logits);
int tre_categorical_log_prob_backward_cpu(void *impl, const tre_kshape *rows, int64_t k,
                                          const float *g, const tre_karg *logits,
                                          const tre_karg *value, float *grad_logits);
int tre_categorical_sample_cpu(void *impl, const tre_kshape *rows, int64_t k, float *out,
                               const tre_karg *logits, uint64_t seed, uint64_t stream);
int tre_categorical_kl_cpu(void *impl, const tre_kshape *rows, int64_t k, float *out,
                           const tre_karg *p_logits, const tre_karg *q_logits);
int tre_categorical_kl_backward_cpu(void *impl, const tre_kshape *rows, int64_t k, const float *g,
                                    const tre_karg *p_logits, const tre_karg *q_logits,
                                    float *grad_p, float *grad_q);
int tre_mvn_log_prob_cpu(void *impl, const tre_kshape *rows, int64_t d, float *out,
                         const tre_karg *value, const tre_karg *loc, const tre_karg *scale_tril);
int tre_mvn_log_prob_backward_cpu(void *impl, const tre_kshape *rows, int64_t d, const float *g,
                                  const tre_karg *value, const tre_karg *loc,
                                  const tre_karg *scale_tril, float *grad_value, float *grad_loc,
                                  float *grad_scale_tril);
int tre_mvn_sample_cpu(void *impl, const tre_kshape *rows, int64_t d, float *out,
                       const tre_karg *loc, const tre_karg *scale_tril, uint64_t seed,
                       uint64_t stream);
int tre_mvn_rsample_backward_cpu(void *impl, int64_t rows, int64_t d, const float *g,
                                 uint64_t seed, uint64_t stream, float *grad_scale_tril);
int tre_dirichlet_sample_cpu(void *impl, const tre_kshape *rows, int64_t k, float *out,
                             const tre_karg *conc, uint64_t seed, uint64_t stream);
int tre_dirichlet_rsample_backward_cpu(void *impl, const tre_kshape *rows, int64_t k, const float *g,
                                       const tre_karg *conc, uint64_t seed, uint64_t stream,
                                       float *grad_conc);
int tre_mvn_kl_cpu(void *impl, const tre_kshape *rows, int64_t d, float *out, const tre_karg *p_loc,
                   const tre_karg *p_scale_tril, const tre_karg *q_loc,
                   const tre_karg *q_scale_tril);
int tre_mvn_kl_backward_cpu(void *impl, const tre_kshape *rows, int64_t d, const float *g,
                            const tre_karg *p_loc, const tre_karg *p_scale_tril,
                            const tre_karg *q_loc, const tre_karg *q_scale_tril, float *grad_p_loc,
                            float *grad_p_scale_tril, float *grad_q_loc,
                            float *grad_q_scale_tril);
int tre_bernoulli_glm_sum_cpu(void *impl, int64_t P, int64_t n, int64_t d, const float *x,
                              const float *w, const float *y, float scale, float *out, float *grad);
int tre_bernoulli_outer_sum_cpu(void *impl, int64_t P, int64_t M, int64_t N, const float *a,
                                int64_t a_pstride, const float *b, int64_t b_pstride, float sign,
                                const float *y, float scale, float *out, float *ga, float *gb);
#endif
