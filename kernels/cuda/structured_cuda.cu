/* CUDA kernels of the structured families (Categorical, MultivariateNormal): a thread per row
 * over the shared row math in kernels/math/categorical.h and kernels/math/mvn.h. Row r is
 * numbered in the order of the contiguous output; each argument finds its row through the row
 * grid's broadcast strides. The MVN row functions and the shared-logits Categorical gradient
 * take double scratch: each thread gets its own slice of the device scratch buffer (rows go in
 * chunks when they would need too much), never a large per-thread stack. Categorical draws take Philox uniform number r (cuRAND's block
 * r / 4, word r % 4); MVN draws call the shared row sampler, whose noise is element r * d + j
 * of the op's Philox normals, as on the CPU. */
#include "cuda_common.cuh"
#include "../math/categorical.h"
#include "../math/dirichlet.h"
#include "../math/mvn.h"

#define WORK_CAP ((int64_t)64 << 20) /* bytes of row scratch per launch */

template <int NA>
static int64_t rows_layout(tre_cuda_layout<NA> *L, const tre_kshape *rows,
                           const tre_karg *const *args) {
    const int64_t *st[NA];
    for (int a = 0; a < NA; ++a) st[a] = args[a]->stride;
    return tre_cuda_layout_init(L, rows, st);
}

/* Row scratch (MVN, the shared-logits Categorical gradient) for `total` rows of `W` doubles
 * each: the rows of one launch (*chunk) at most. */
static double *row_work(tre_cuda_impl *im, int64_t total, int64_t W, int64_t *chunk) {
    const int64_t c = tre_cuda_chunk_rows(total, W * (int64_t)sizeof(double), WORK_CAP);
    *chunk = c;
    return (double *)tre_cuda_scratch(im, (size_t)(c * W) * sizeof(double));
}

/* f(r, work) for the rows r in [0, total), each with W doubles of scratch at work: the rows go
 * in launches of at most WORK_CAP bytes of scratch. */
template <class F>
static int each_row_with_work(tre_cuda_impl *im, int64_t total, int64_t W, F f) {
    if (total <= 0) return 0;
    int64_t chunk;
    double *work = row_work(im, total, W, &chunk);
    if (!work) return tre_cuda_scratch_error(im);
    for (int64_t r0 = 0; r0 < total; r0 += chunk) {
        const int64_t len = total - r0 < chunk ? total - r0 : chunk;
        int rc = tre_cuda_each(im, len, [=] TRE_CUDA_FN(int64_t i) { f(r0 + i, work + i * W); });
        if (rc) return rc;
    }
    return 0;
}

/* ---- Categorical ----------------------------------------------------------------------- */

int tre_categorical_log_prob_cuda(void *impl, const tre_kshape *rows, int64_t k, float *out,
                                  const tre_karg *logits, const tre_karg *value) {
    if (k < 1) return 1;
    tre_cuda_layout<2> L;
    const tre_karg *args[2] = {logits, value};
    const int64_t total = rows_layout(&L, rows, args);
    const float *l = logits->data, *v = value->data;
    return tre_cuda_each((tre_cuda_impl *)impl, total, [=] TRE_CUDA_FN(int64_t r) {
        int64_t off[2];
        L.offsets(r, off);
        out[r] = tre_categorical_log_prob_row(k, l + off[0], v[off[1]]);
    });
}

int tre_categorical_log_prob_backward_cuda(void *impl, const tre_kshape *rows, int64_t k,
                                           const float *g, const tre_karg *logits,
                                           const tre_karg *value, float *grad_logits) {
    if (k < 1) return 1;
    if (!grad_logits) return 0;
    tre_cuda_layout<2> L;
    const tre_karg *args[2] = {logits, value};
    const int64_t total = rows_layout(&L, rows, args);
    const float *l = logits->data, *v = value->data;
    return tre_cuda_each((tre_cuda_impl *)impl, total, [=] TRE_CUDA_FN(int64_t r) {
        int64_t off[2];
        L.offsets(r, off);
        tre_categorical_log_prob_grad_row(k, l + off[0], v[off[1]], g[r], grad_logits + r * k);
    });
}

/* a thread per logits row, its particles in order (reads of g and values coalesce across the
 * rows); the k per-category sums in device scratch, k doubles per row */
int tre_categorical_log_prob_backward_shared_cuda(void *impl, int64_t P, int64_t M, int64_t k,
                                                  const float *g, const float *logits, int64_t lstride,
                                                  const float *value, int64_t vstride0, int64_t vstride1,
                                                  float *grad_logits) {
    if (k < 1) return 1;
    /* k doubles of scratch per row */
    return each_row_with_work((tre_cuda_impl *)impl, M, k, [=] TRE_CUDA_FN(int64_t m, double *work) {
        tre_categorical_shared_grad_row(k, logits + m * lstride, P, g + m, M, value + m * vstride1, vstride0,
                                        work, grad_logits + m * k);
    });
}

int tre_categorical_sample_cuda(void *impl, const tre_kshape *rows, int64_t k, float *out,
                                const tre_karg *logits, uint64_t seed, uint64_t stream0) {
    if (k < 1) return 1;
    tre_cuda_layout<1> L;
    const tre_karg *args[1] = {logits};
    const int64_t total = rows_layout(&L, rows, args);
    const float *l = logits->data;
    const uint64_t *dl = ((tre_cuda_impl *)impl)->d_rng_delta;
    return tre_cuda_each((tre_cuda_impl *)impl, total, [=] TRE_CUDA_FN(int64_t r) {
        const uint64_t stream = tre_cuda_stream(dl, stream0);
        int64_t off[1];
        L.offsets(r, off);
        out[r] = tre_categorical_sample_row(k, l + off[0], tre_philox_uniform(seed, stream, (uint64_t)r));
    });
}

int tre_categorical_kl_cuda(void *impl, const tre_kshape *rows, int64_t k, float *out,
                            const tre_karg *p_logits, const tre_karg *q_logits) {
    if (k < 1) return 1;
    tre_cuda_layout<2> L;
    const tre_karg *args[2] = {p_logits, q_logits};
    const int64_t total = rows_layout(&L, rows, args);
    const float *lp = p_logits->data, *lq = q_logits->data;
    return tre_cuda_each((tre_cuda_impl *)impl, total, [=] TRE_CUDA_FN(int64_t r) {
        int64_t off[2];
        L.offsets(r, off);
        out[r] = (float)tre_categorical_kl_row(k, lp + off[0], lq + off[1]);
    });
}

int tre_categorical_kl_backward_cuda(void *impl, const tre_kshape *rows, int64_t k, const float *g,
                                     const tre_karg *p_logits, const tre_karg *q_logits,
                                     float *grad_p, float *grad_q) {
    if (k < 1) return 1;
    if (!grad_p && !grad_q) return 0;
    tre_cuda_layout<2> L;
    const tre_karg *args[2] = {p_logits, q_logits};
    const int64_t total = rows_layout(&L, rows, args);
    const float *lp = p_logits->data, *lq = q_logits->data;
    return tre_cuda_each((tre_cuda_impl *)impl, total, [=] TRE_CUDA_FN(int64_t r) {
        int64_t off[2];
        L.offsets(r, off);
        tre_categorical_kl_grad_row(k, lp + off[0], lq + off[1], g[r],
                                    grad_p ? grad_p + r * k : NULL, grad_q ? grad_q + r * k : NULL);
    });
}

/* ---- MultivariateNormal ------------------------------------------------------------------ */

int tre_mvn_log_prob_cuda(void *impl, const tre_kshape *rows, int64_t d, float *out,
                          const tre_karg *value, const tre_karg *loc, const tre_karg *scale_tril) {
    if (d < 1) return 1;
    tre_cuda_layout<3> L;
    const tre_karg *args[3] = {value, loc, scale_tril};
    const int64_t total = rows_layout(&L, rows, args);
    const float *x = value->data, *m = loc->data, *S = scale_tril->data;
    return each_row_with_work((tre_cuda_impl *)impl, total, d, [=] TRE_CUDA_FN(int64_t r, double *work) {
        int64_t off[3];
        L.offsets(r, off);
        out[r] = (float)tre_mvn_log_prob_row(d, x + off[0], m + off[1], S + off[2], work);
    });
}

int tre_mvn_log_prob_backward_cuda(void *impl, const tre_kshape *rows, int64_t d, const float *g,
                                   const tre_karg *value, const tre_karg *loc,
                                   const tre_karg *scale_tril, float *grad_value, float *grad_loc,
                                   float *grad_scale_tril) {
    if (d < 1) return 1;
    if (!grad_value && !grad_loc && !grad_scale_tril) return 0;
    tre_cuda_layout<3> L;
    const tre_karg *args[3] = {value, loc, scale_tril};
    const int64_t total = rows_layout(&L, rows, args);
    const float *x = value->data, *m = loc->data, *S = scale_tril->data;
    return each_row_with_work((tre_cuda_impl *)impl, total, 2 * d, [=] TRE_CUDA_FN(int64_t r, double *work) {
        int64_t off[3];
        L.offsets(r, off);
        tre_mvn_log_prob_grad_row(d, x + off[0], m + off[1], S + off[2], g[r],
                                  grad_value ? grad_value + r * d : NULL, grad_loc ? grad_loc + r * d : NULL,
                                  grad_scale_tril ? grad_scale_tril + r * d * d : NULL, work);
    });
}

int tre_mvn_sample_cuda(void *impl, const tre_kshape *rows, int64_t d, float *out,
                        const tre_karg *loc, const tre_karg *scale_tril, uint64_t seed,
                        uint64_t stream0) {
    if (d < 1) return 1;
    tre_cuda_layout<2> L;
    const tre_karg *args[2] = {loc, scale_tril};
    const int64_t total = rows_layout(&L, rows, args);
    const float *m = loc->data, *S = scale_tril->data;
    const uint64_t *dl = ((tre_cuda_impl *)impl)->d_rng_delta;
    return tre_cuda_each((tre_cuda_impl *)impl, total, [=] TRE_CUDA_FN(int64_t r) {
        const uint64_t stream = tre_cuda_stream(dl, stream0);
        int64_t off[2];
        L.offsets(r, off);
        tre_mvn_sample_row(d, m + off[0], S + off[1], seed, stream, (uint64_t)(r * d), out + r * d);
    });
}

int tre_mvn_rsample_backward_cuda(void *impl, int64_t rows, int64_t d, const float *g,
                                  uint64_t seed, uint64_t stream0, float *grad_scale_tril) {
    if (d < 1 || rows < 0) return 1;
    const uint64_t *dl = ((tre_cuda_impl *)impl)->d_rng_delta;
    return tre_cuda_each((tre_cuda_impl *)impl, rows, [=] TRE_CUDA_FN(int64_t r) {
        const uint64_t stream = tre_cuda_stream(dl, stream0);
        tre_mvn_rsample_grad_row(d, g + r * d, seed, stream, (uint64_t)(r * d),
                                 grad_scale_tril + r * d * d);
    });
}

int tre_dirichlet_sample_cuda(void *impl, const tre_kshape *rows, int64_t k, float *out,
                              const tre_karg *conc, uint64_t seed, uint64_t stream0) {
    if (k < 1) return 1;
    tre_cuda_layout<1> L;
    const int64_t total = rows_layout(&L, rows, &conc);
    const float *a = conc->data;
    const uint64_t *dl = ((tre_cuda_impl *)impl)->d_rng_delta;
    return tre_cuda_each((tre_cuda_impl *)impl, total, [=] TRE_CUDA_FN(int64_t r) {
        const uint64_t stream = tre_cuda_stream(dl, stream0);
        int64_t off[1];
        L.offsets(r, off);
        tre_dirichlet_sample_row(k, a + off[0], seed, stream, (uint64_t)(r * k), NULL, out + r * k);
    });
}

int tre_dirichlet_rsample_backward_cuda(void *impl, const tre_kshape *rows, int64_t k, const float *g,
                                        const tre_karg *conc, uint64_t seed, uint64_t stream0,
                                        float *grad_conc) {
    if (k < 1) return 1;
    tre_cuda_layout<1> L;
    const int64_t total = rows_layout(&L, rows, &conc);
    const float *a = conc->data;
    const uint64_t *dl = ((tre_cuda_impl *)impl)->d_rng_delta;
    return tre_cuda_each((tre_cuda_impl *)impl, total, [=] TRE_CUDA_FN(int64_t r) {
        const uint64_t stream = tre_cuda_stream(dl, stream0);
        int64_t off[1];
        L.offsets(r, off);
        tre_dirichlet_rsample_grad_row(k, a + off[0], g + r * k, seed, stream, (uint64_t)(r * k), NULL,
                                       grad_conc + r * k);
    });
}

int tre_mvn_kl_cuda(void *impl, const tre_kshape *rows, int64_t d, float *out,
                    const tre_karg *p_loc, const tre_karg *p_scale_tril, const tre_karg *q_loc,
                    const tre_karg *q_scale_tril) {
    if (d < 1) return 1;
    tre_cuda_layout<4> L;
    const tre_karg *args[4] = {p_loc, p_scale_tril, q_loc, q_scale_tril};
    const int64_t total = rows_layout(&L, rows, args);
    const float *mp = p_loc->data, *Lp = p_scale_tril->data, *mq = q_loc->data,
                *Lq = q_scale_tril->data;
    return each_row_with_work((tre_cuda_impl *)impl, total, d * d + d, [=] TRE_CUDA_FN(int64_t r, double *work) {
        int64_t off[4];
        L.offsets(r, off);
        out[r] = (float)tre_mvn_kl_row(d, mp + off[0], Lp + off[1], mq + off[2], Lq + off[3], work);
    });
}

int tre_mvn_kl_backward_cuda(void *impl, const tre_kshape *rows, int64_t d, const float *g,
                             const tre_karg *p_loc, const tre_karg *p_scale_tril,
                             const tre_karg *q_loc, const tre_karg *q_scale_tril,
                             float *grad_p_loc, float *grad_p_scale_tril, float *grad_q_loc,
                             float *grad_q_scale_tril) {
    if (d < 1) return 1;
    if (!grad_p_loc && !grad_p_scale_tril && !grad_q_loc && !grad_q_scale_tril) return 0;
    tre_cuda_layout<4> L;
    const tre_karg *args[4] = {p_loc, p_scale_tril, q_loc, q_scale_tril};
    const int64_t total = rows_layout(&L, rows, args);
    const float *mp = p_loc->data, *Lp = p_scale_tril->data, *mq = q_loc->data,
                *Lq = q_scale_tril->data;
    return each_row_with_work((tre_cuda_impl *)impl, total, 2 * d * d + 2 * d,
                              [=] TRE_CUDA_FN(int64_t r, double *work) {
        int64_t off[4];
        L.offsets(r, off);
        tre_mvn_kl_grad_row(d, mp + off[0], Lp + off[1], mq + off[2], Lq + off[3], g[r],
                            grad_p_loc ? grad_p_loc + r * d : NULL,
                            grad_p_scale_tril ? grad_p_scale_tril + r * d * d : NULL,
                            grad_q_loc ? grad_q_loc + r * d : NULL,
                            grad_q_scale_tril ? grad_q_scale_tril + r * d * d : NULL, work);
    });
}
