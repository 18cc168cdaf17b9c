/* The backend interface: HOW values are computed. The host (src/) decides what to compute and
 * hands the backend raw buffers with broadcast strides; a backend (kernels/cpu, kernels/cuda)
 * fills in this table. Nothing here knows about messages, traces or handlers.
 *
 * Shapes passed to kernels include the particle dimension as dim[0]. A stride of 0 broadcasts.
 * Every function returns 0 on success, nonzero on a backend failure (TRE_KERR_OOM when it
 * could not get the memory it needs, which the host reports as TRE_ERR_OUT_OF_MEMORY). */
#ifndef TRELBO_KERNELS_BACKEND_H
#define TRELBO_KERNELS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TRE_KERR_OOM 2 /* return code of a backend function that ran out of memory */
/* An op that cannot be recorded in a graph (a readback, a sync, scratch growth) was asked for
 * while capturing: the op did nothing and graph_end will report the capture as broken. */
#define TRE_KERR_CAPTURE 3
/* graph_launch: a buffer the graph points to (the backend's scratch) has moved since capture. */
#define TRE_KERR_STALE 4
#define TRE_KDIMS 9 /* particle dim + TRE_MAX_DIMS */

/* The memory a backend holds (the device's on CUDA; host memory on the CPU): everything it
 * allocated and has not freed yet (tensors, the step arenas' chunks, its own scratch and
 * workspaces), and the most it held at once since it was created or its peak was last reset. */
typedef struct tre_kmemory {
    uint64_t bytes, peak;
} tre_kmemory;
static inline void tre_kmemory_add(tre_kmemory *m, uint64_t bytes) {
    m->bytes += bytes;
    if (m->bytes > m->peak) m->peak = m->bytes;
}
static inline void tre_kmemory_sub(tre_kmemory *m, uint64_t bytes) {
    m->bytes = bytes < m->bytes ? m->bytes - bytes : 0;
}

typedef struct tre_kshape {
    int ndim;
    int64_t dim[TRE_KDIMS];
} tre_kshape;

typedef struct tre_karg {
    const float *data;
    int64_t stride[TRE_KDIMS];
} tre_karg;

typedef enum tre_binop { TRE_OP_ADD = 0, TRE_OP_SUB, TRE_OP_MUL, TRE_OP_DIV } tre_binop;

typedef enum tre_unop {
    TRE_OP_NEG = 0, TRE_OP_EXP, TRE_OP_LOG, TRE_OP_SQUARE,
    TRE_OP_SOFTPLUS, TRE_OP_SOFTPLUS_INV, TRE_OP_SIGMOID, TRE_OP_LOGIT,
    TRE_OP_LOG_SIGMOID,  /* log(sigmoid(x)), stable */
    TRE_OP_LGAMMA, TRE_OP_DIGAMMA, TRE_OP_LOG1P, TRE_OP_EXPM1, TRE_OP_ABS,
    TRE_OP_SIGN,         /* -1, 0, 1 (NaN stays NaN) */
    TRE_OP_TRIGAMMA,     /* d digamma / dx */
    TRE_OP_ERF,          /* the error function, 2 / sqrt(pi) int_0^x exp(-t^2) dt */
    TRE_OP_TETRAGAMMA    /* d trigamma / dx (the last op: backends range-check against it) */
} tre_unop;

/* Distribution families with an elementwise kernel (log_prob / sample by element). */
typedef enum tre_kdist {
    TRE_KDIST_NORMAL = 0,     /* loc, scale */
    TRE_KDIST_LOG_NORMAL,     /* loc, scale */
    TRE_KDIST_HALF_NORMAL,    /* scale */
    TRE_KDIST_CAUCHY,         /* loc, scale */
    TRE_KDIST_HALF_CAUCHY,    /* scale */
    TRE_KDIST_LAPLACE,        /* loc, scale */
    TRE_KDIST_STUDENT_T,      /* df, loc, scale */
    TRE_KDIST_UNIFORM,        /* low, high */
    TRE_KDIST_EXPONENTIAL,    /* rate */
    TRE_KDIST_GAMMA,          /* concentration, rate */
    TRE_KDIST_BETA,           /* concentration1, concentration0 */
    TRE_KDIST_DELTA,          /* v, log_density */
    TRE_KDIST_BERNOULLI_PROBS,  /* probs */
    TRE_KDIST_BERNOULLI_LOGITS, /* logits */
    TRE_KDIST_POISSON,        /* rate */
    TRE_KDIST_BINOMIAL_PROBS, /* total_count, probs */
    TRE_KDIST_COUNT
} tre_kdist;

/* Elementwise checks of values against a constraint (validation). a and b are broadcast
 * argument tensors (or constants ca, cb where noted). NaN never passes. */
typedef enum tre_kcheck {
    TRE_CHECK_NOT_NAN = 0,    /* real */
    TRE_CHECK_POSITIVE,       /* x > 0 */
    TRE_CHECK_NONNEGATIVE,    /* x >= 0 */
    TRE_CHECK_UNIT_INTERVAL,  /* 0 <= x <= 1 */
    TRE_CHECK_BOOLEAN,        /* x == 0 or x == 1 */
    TRE_CHECK_NONNEG_INTEGER, /* x >= 0, integral */
    TRE_CHECK_INTEGER_UPTO,   /* 0 <= x <= a, integral */
    TRE_CHECK_BETWEEN,        /* a <= x <= b */
    TRE_CHECK_LESS_THAN,      /* x < a */
    TRE_CHECK_CATEGORY,       /* 0 <= x < ca, integral */
    TRE_CHECK_GREATER_THAN_C  /* x > ca */
} tre_kcheck;

#define TRE_KDIST_MAX_PARAMS 3
#define TRE_KDIST_ARGS (2 + TRE_KDIST_MAX_PARAMS) /* value, params, mask */

typedef struct tre_backend {
    const char *name;
    void *impl;
    void *(*alloc)(void *impl, size_t bytes);               /* NULL on failure */
    /* The cause of the failure just returned (a nonzero code, or NULL from alloc) in words,
     * taken once: NULL where the code says it all (out of memory) or none was recorded. A
     * cause makes a NULL from alloc a device failure rather than a lack of memory. May itself
     * be NULL (the CPU backend records none). */
    const char *(*take_failure_cause)(void *impl);
    void (*free)(void *impl, void *p);
    int (*upload)(void *impl, void *dst, const void *host, size_t bytes);
    int (*download)(void *impl, void *host, const void *src, size_t bytes);
    int (*copy)(void *impl, void *dst, const void *src, size_t bytes);
    int (*fill)(void *impl, float *dst, float v, int64_t n);
    /* Elementwise ops. no_nan (may be NULL): set true when the backend has checked on the way
     * that no output element is NaN, else false (not checked, or one found): a known-NaN-free
     * result spares validation its NaN pass over the same memory. */
    int (*binary)(void *impl, tre_binop op, const tre_kshape *shape, float *out,
                  const tre_karg *a, const tre_karg *b, bool *no_nan);
    int (*unary)(void *impl, tre_unop op, int64_t n, float *out, const float *in, bool *no_nan);
    /* out[i] = mask[i] != 0 ? scale * x[i] : 0 (exact 0 even where x is NaN); mask may be NULL */
    int (*mask_scale)(void *impl, const tre_kshape *shape, float *out, const tre_karg *x,
                      const tre_karg *mask, float scale);
    /* out[r] = sum of in[r*cols .. r*cols+cols-1], accumulated in double */
    int (*sum_rows)(void *impl, int64_t rows, int64_t cols, const float *in, float *out);
    /* out[r] = sum over the last dim of `shape` of a * b, products in float, sums in double, for the
     * rows r of the other dims (out contiguous); a and b are broadcast views of shape. The
     * product is never formed: one read of each argument. */
    int (*dot_rows)(void *impl, const tre_kshape *shape, float *out, const tre_karg *a,
                    const tre_karg *b);
    /* out[o, j] = sum over i < inner of x[o * xstride + j * inner + i] * w[o * n + index[j], i]
     * (products in float, summed in double in order): dot products with rows gathered from w
     * [outer, n, inner] (the indices in [0, n)), without the gathered [outer, k, inner] copy */
    int (*dot_gathered_rows)(void *impl, int64_t outer, int64_t n, int64_t inner,
                             const int32_t *index, int64_t k, const float *w, const float *x,
                             int64_t xstride, float *out);
    /* out[o, j, i] = in[o, index[j], i] for o < outer, j < k, i < inner; in has n rows */
    int (*gather)(void *impl, int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                  int64_t k, const float *in, float *out);
    int (*log_prob)(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                    const tre_karg *value, const tre_karg *params);
    /* Fused log-density reduction, one number per particle:
     *   out[p] = sum over the elements i of particle p of (mask_i != 0 ? scale * lp_i : 0),
     * accumulated in double in a fixed order (the result does not depend on thread count).
     * args: value, params[0..TRE_KDIST_MAX_PARAMS-1], mask (data NULL: no mask), laid out over
     * the per-particle shape `inner`; pstride[a] is argument a's particle stride (0 or numel). */
    int (*log_prob_sum)(void *impl, tre_kdist kind, int64_t particles, const tre_kshape *inner,
                        float *out, const tre_karg *args, const int64_t *pstride, float scale);
    /* A logistic regression's likelihood, Bernoulli(logits = x . w_p) over one shared design
     * matrix x [n, d] (row-major) and per-particle coefficients w [P, d], y [n]:
     *   out[p] = scale * sum over i < n of log p(y[i] | l_pi),  l_pi = sum over j < d of
     *            x[i * d + j] * w[p * d + j],
     * summed in double per particle in an order fixed by (n, d) alone; and, when grad is not
     * NULL, the gradient w.r.t. w: grad[p * d + j] = scale * sum over i of
     * (y[i] - sigmoid(l_pi)) * x[i * d + j]. The density is kernels/math/bernoulli.h's. A
     * backend fuses what it can: the CPU's one pass never writes the [P, n] logits. */
    int (*bernoulli_glm_sum)(void *impl, int64_t P, int64_t n, int64_t d, const float *x,
                             const float *w, const float *y, float scale, float *out, float *grad);
    /* Bernoulli(logits = a_i + sign * b_j) over an [M, N] grid, y [M, N] shared by the
     * particles; a and b per particle at strides a_pstride, b_pstride (0: shared).
     * out[p] = scale * sum over i, j of the log-mass (kernels/math/bernoulli.h's), summed in double
     * per particle in an order fixed by (M, N) alone; with ga and gb (both or neither):
     * ga[p * M + i] = scale * sum over j of (y_ij - sigmoid(l_pij)) and
     * gb[p * N + j] = scale * sign * sum over i of the same. Optional (NULL: the caller forms the
     * logits); the CPU's one pass never writes the [P, M, N] logits. */
    int (*bernoulli_outer_sum)(void *impl, int64_t P, int64_t M, int64_t N, const float *a,
                               int64_t a_pstride, const float *b, int64_t b_pstride, float sign,
                               const float *y, float scale, float *out, float *ga, float *gb);
    /* Reverse mode. reduce_sum: out (zeroed here) += in over the broadcast dims, where `shape`
     * is in's (contiguous) layout and out_stride the output's strides in it (0 = summed). */
    int (*reduce_sum)(void *impl, const tre_kshape *shape, const float *in, float *out,
                      const int64_t *out_stride);
    /* reduce_sum of the same `in` to two outputs at once, both sides of a broadcast a - b
     * (one read of `in` where the backend can) */
    int (*reduce_sum_pair)(void *impl, const tre_kshape *shape, const float *in, float *out_a,
                           const int64_t *stride_a, float *out_b, const int64_t *stride_b);
    /* out[o, index[j], i] += g[o, j, i] (the adjoint of gather); out is not zeroed */
    int (*scatter_add)(void *impl, int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                       int64_t k, const float *g, float *out);
    /* out[o, index[j], i] += s[o, j] * x[o * xstride + j * inner + i] (xstride 0: x shared),
     * the product in float, each slot's terms in increasing j as scatter_add: the adjoint of a
     * gather followed by a dot product (rows w[idx] . x), without the [outer, k, inner] product */
    int (*scatter_add_scaled)(void *impl, int64_t outer, int64_t n, int64_t inner,
                              const int32_t *index, int64_t k, const float *s, const float *x,
                              int64_t xstride, float *out);
    /* Gradients of log-densities. Per element i of particle p the upstream factor is
     *   f = (mask_i != 0) ? scale * g : 0,  g from the `g` argument (broadcast like the others,
     * particle stride gstride); grads[a] (a = 0: value, 1..: params; NULL: not needed) receive
     * f * d log p / d arg_a over the full [particles, inner] shape, contiguous. */
    int (*log_prob_backward)(void *impl, tre_kdist kind, int64_t particles, const tre_kshape *inner,
                             const tre_karg *args, const int64_t *pstride, const tre_karg *g,
                             int64_t gstride, float scale, float *const *grads);
    /* The same, summed per particle: sums[a] (NULL: not needed) receive, for each particle p,
     * the sum over its elements of f * d log p / d arg_a (in double, in a fixed order). For
     * arguments that are one number per particle, this saves the full-shape gradient. */
    int (*log_prob_backward_sum)(void *impl, tre_kdist kind, int64_t particles,
                                 const tre_kshape *inner, const tre_karg *args,
                                 const int64_t *pstride, const tre_karg *g, int64_t gstride,
                                 float scale, float *const *sums);
    /* Pathwise gradients of reparameterized draws x (shape as in `sample`): grads[i] (NULL: not
     * needed) receive g * d x / d param_i over the full shape, contiguous. */
    int (*rsample_backward)(void *impl, tre_kdist kind, const tre_kshape *shape, const float *x,
                            const tre_karg *params, const float *g, float *const *grads);
    /* Adam on n elements in place: u -= step_size * m / (sqrt(v) / bc2_sqrt + eps) after
     * m, v updates with g (clipped to [-clip, clip] when clip > 0, plus wd * u). */
    int (*adam_update)(void *impl, int64_t n, float *u, const float *g, float *m, float *v,
                       float beta1, float beta2, float eps, float wd, float clip, float step_size,
                       float bc2_sqrt);
    /* Batched row-major GEMM: for b < batch, C_b = alpha * op(A_b) op(B_b) + beta * C_b, with
     * op = transpose when trans* != 0, A_b = A + b * strideA (stride 0: shared), likewise B, C.
     * As BLAS defines it: beta = 0 does not read C, and K = 0 or alpha = 0 does not read A, B. */
    int (*gemm)(void *impl, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                const float *A, int64_t lda, int64_t strideA, const float *B, int64_t ldb,
                int64_t strideB, float beta, float *C, int64_t ldc, int64_t strideC, int64_t batch);
    /* out[p, i] = values[p * vstride + (int)index[p * istride + i]] for p < P, i < n, rows of K
     * values; the adjoint adds g into gvalues the same way (one thread per values row, so
     * shared rows accumulate in a fixed order). The host checks the (float) indices in [0, K)
     * when validating; unchecked (validation off, a graph replay), an index outside it or NaN
     * gives NaN and adds nothing, never a read or write outside the rows. */
    int (*take)(void *impl, int64_t P, int64_t n, const float *values, int64_t vstride, int64_t K,
                const float *index, int64_t istride, float *out);
    int (*take_backward)(void *impl, int64_t P, int64_t n, const float *g, const float *index,
                         int64_t istride, float *gvalues, int64_t vstride, int64_t K);
    /* Adjoints of the forward structured transforms: gu = (dy/du)^T g, rows (matrices) laid
     * out as in simplex / lower_cholesky (u: rows x (k-1), g: rows x k; u, g: batch x n x n) */
    int (*simplex_backward)(void *impl, int64_t rows, int64_t k, const float *u, const float *g,
                            float *gu);
    int (*lower_cholesky_backward)(void *impl, int64_t batch, int64_t n, const float *u,
                                   const float *g, float *gu);
    /* Reparameterized draws: element i (linear in the output) uses Philox block i / 4, number
     * i % 4, of random op `stream` under `seed`. */
    int (*sample)(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                  const tre_karg *params, uint64_t seed, uint64_t stream);
    /* Structured constraint transforms (kernels/math/transform.h) over contiguous rows.
     * Stick-breaking onto the simplex of size k (k >= 1; k >= 2 for the inverse): forward maps
     * rows x (k-1) values to rows x k, inverse (inverse != 0) rows x k to rows x (k-1). */
    int (*simplex)(void *impl, int inverse, int64_t rows, int64_t k, float *out, const float *in);
    /* out[r] = log|det J| of row r (k-1 unconstrained values) onto its first k-1 outputs */
    int (*simplex_log_det)(void *impl, int64_t rows, int64_t k, float *out, const float *in);
    /* batch n x n matrices, row-major: keep the strict lower part, exp (inverse: log) the
     * diagonal, zero the upper part */
    int (*lower_cholesky)(void *impl, int inverse, int64_t batch, int64_t n, float *out,
                          const float *in);
    /* out[b] = sum of the diagonal of unconstrained matrix b, accumulated in double */
    int (*lower_cholesky_log_det)(void *impl, int64_t batch, int64_t n, float *out,
                                  const float *in);
    /* Structured families (kernels/math/categorical.h, mvn.h), one row per batch element, so
     * that a CUDA thread (or warp) takes a row. `rows` is the row grid (particle dim first, in
     * the order of the contiguous output); each argument's strides, in floats, locate the first
     * element of its row for each grid index (0 broadcasts); inside a row, elements are
     * contiguous: logits [k], loc and values [d], scale_tril [d, d] row-major. Outputs and
     * upstream gradients are contiguous over the rows: out[r] (log-densities, KL), out[r*k+j],
     * out[r*d+i], out[r*d*d+i*d+j]. Gradient outputs may be NULL where not needed.
     * Categorical: values are category indices as floats; draws by inverse CDF from Philox
     * uniform number r of op `stream` (r: the draw's index in the output). */
    int (*categorical_log_prob)(void *impl, const tre_kshape *rows, int64_t k, float *out,
                                const tre_karg *logits, const tre_karg *value);
    int (*categorical_log_prob_backward)(void *impl, const tre_kshape *rows, int64_t k,
                                         const float *g, const tre_karg *logits,
                                         const tre_karg *value, float *grad_logits);
    /* The same gradient summed over the particles, for rows [P, M] whose logits row m (at
     * logits + m * lstride) every particle shares, as a guide's per-datum logits scoring each
     * particle's draws: grad_logits[m * k + j] = sum over p of g[p * M + m] * d log p / d l_j,
     * accumulated in double in particle order. value: [P, M] at strides (vstride0, vstride1). */
    int (*categorical_log_prob_backward_shared)(void *impl, int64_t P, int64_t M, int64_t k,
                                                const float *g, const float *logits, int64_t lstride,
                                                const float *value, int64_t vstride0, int64_t vstride1,
                                                float *grad_logits);
    int (*categorical_sample)(void *impl, const tre_kshape *rows, int64_t k, float *out,
                              const tre_karg *logits, uint64_t seed, uint64_t stream);
    int (*categorical_kl)(void *impl, const tre_kshape *rows, int64_t k, float *out,
                          const tre_karg *p_logits, const tre_karg *q_logits);
    int (*categorical_kl_backward)(void *impl, const tre_kshape *rows, int64_t k, const float *g,
                                   const tre_karg *p_logits, const tre_karg *q_logits,
                                   float *grad_p, float *grad_q);
    /* MultivariateNormal(loc, scale_tril). Draw r is loc + L eps with eps_i Philox normal
     * number r*d+i of op `stream`; rsample_backward regenerates that noise to form
     * grad_scale_tril[r] = tril(g[r] eps^T) (the gradient w.r.t. loc is g itself). */
    int (*mvn_log_prob)(void *impl, const tre_kshape *rows, int64_t d, float *out,
                        const tre_karg *value, const tre_karg *loc, const tre_karg *scale_tril);
    int (*mvn_log_prob_backward)(void *impl, const tre_kshape *rows, int64_t d, const float *g,
                                 const tre_karg *value, const tre_karg *loc,
                                 const tre_karg *scale_tril, float *grad_value, float *grad_loc,
                                 float *grad_scale_tril);
    int (*mvn_sample)(void *impl, const tre_kshape *rows, int64_t d, float *out,
                      const tre_karg *loc, const tre_karg *scale_tril, uint64_t seed,
                      uint64_t stream);
    int (*mvn_rsample_backward)(void *impl, int64_t rows, int64_t d, const float *g, uint64_t seed,
                                uint64_t stream, float *grad_scale_tril);
    int (*mvn_kl)(void *impl, const tre_kshape *rows, int64_t d, float *out, const tre_karg *p_loc,
                  const tre_karg *p_scale_tril, const tre_karg *q_loc,
                  const tre_karg *q_scale_tril);
    int (*mvn_kl_backward)(void *impl, const tre_kshape *rows, int64_t d, const float *g,
                           const tre_karg *p_loc, const tre_karg *p_scale_tril,
                           const tre_karg *q_loc, const tre_karg *q_scale_tril,
                           float *grad_p_loc, float *grad_p_scale_tril, float *grad_q_loc,
                           float *grad_q_scale_tril);
    /* Dirichlet(concentration) rows (kernels/math/dirichlet.h): row r of out is a draw from the
     * standard gamma draws r*k + j of op `stream`, combined in log space; rsample_backward
     * regenerates them to form grad_conc (rows x k, contiguous) from g (rows x k). */
    int (*dirichlet_sample)(void *impl, const tre_kshape *rows, int64_t k, float *out,
                            const tre_karg *conc, uint64_t seed, uint64_t stream);
    int (*dirichlet_rsample_backward)(void *impl, const tre_kshape *rows, int64_t k, const float *g,
                                      const tre_karg *conc, uint64_t seed, uint64_t stream,
                                      float *grad_conc);
    /* *count = number of elements of the broadcast shape failing `check` */
    int (*validate)(void *impl, tre_kcheck check, const tre_kshape *shape, const tre_karg *x,
                    const tre_karg *a, const tre_karg *b, float ca, int64_t *count);
    /* Step graphs (optional: NULL where launches cost nothing worth saving, as on the CPU).
     * Between graph_begin and graph_end the backend records the ops queued instead of running
     * them (uploads keep a copy of their host bytes, owned by the graph); an op that needs the
     * host (download, sync, validate's count, scratch growth) returns TRE_KERR_CAPTURE, and
     * graph_end then returns TRE_KERR_CAPTURE too. Either way graph_end hands back what was
     * recorded (*graph, NULL when nothing could be kept), which graph_launch runs in order
     * with the arguments of the capture. Random ops read a device word, the rng delta, that is
     * added to their `stream` when they run (0 unless set_rng_delta says otherwise), so a
     * replayed graph can draw the numbers of a later step. A graph destroyed during another's
     * capture is freed when that capture ends. */
    int (*graph_begin)(void *impl);
    int (*graph_end)(void *impl, void **graph);
    int (*graph_launch)(void *impl, void *graph);
    void (*graph_destroy)(void *impl, void *graph);
    int (*set_rng_delta)(void *impl, uint64_t delta);
    int (*sync)(void *impl);
    /* What the backend holds now and at most (tre_kmemory); reset_peak: the peak starts again
     * from what is held now, after it is read. */
    void (*memory)(void *impl, tre_kmemory *out, bool reset_peak);
    /* Gives back the scratch a larger step made the backend keep (down to its size at
     * creation); the next op that needs more grows it again. Not while capturing. */
    int (*trim)(void *impl);
    void (*destroy)(void *impl);
} tre_backend;

/* Backend constructors; NULL when unavailable. */
tre_backend *tre_backend_cpu_create(void);
#ifdef TRELBO_HAVE_CUDA
tre_backend *tre_backend_cuda_create(void);
int tre_cuda_device_count(void);
#endif

#ifdef __cplusplus
}
#endif
#endif
