/* Matrix products (numpy.matmul for 1-D and 2-D operands) over particles: a shared matrix times
 * per-particle vectors is ONE GEMM over all particles (SPEC.md section 1), not P products. */
#include "autograd.h"

typedef struct mm_shape {
    int64_t n, k, m;          /* a: [n, k], b: [k, m] (1-D operands: n = 1 or m = 1) */
    int64_t pa, pb, p;        /* particle extents */
} mm_shape;

static bool mm_shape_of(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b, mm_shape *s) {
    char s1[96], s2[96];
    if (a->ndim < 1 || a->ndim > 2 || b->ndim < 1 || b->ndim > 2) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "tre_matmul: operands must be 1-D or 2-D, got %s and %s",
                     tre_shape_str(s1, sizeof s1, a->ndim, a->shape),
                     tre_shape_str(s2, sizeof s2, b->ndim, b->shape));
        return false;
    }
    s->n = a->ndim == 2 ? a->shape[0] : 1;
    s->k = a->shape[a->ndim - 1];
    s->m = b->ndim == 2 ? b->shape[1] : 1;
    s->pa = a->particles;
    s->pb = b->particles;
    s->p = tre_particles_join(a->particles, b->particles);
    if (b->shape[0] != s->k || s->p < 0) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "tre_matmul: %s and %s do not multiply%s",
                     tre_shape_str(s1, sizeof s1, a->ndim, a->shape),
                     tre_shape_str(s2, sizeof s2, b->ndim, b->shape),
                     s->p < 0 ? " (particle extents differ)" : "");
        return false;
    }
    return true;
}

static bool gemm(tre_ctx *ctx, int ta, int tb, int64_t M, int64_t N, int64_t K, const float *A,
                 int64_t lda, int64_t sa, const float *B, int64_t ldb, int64_t sb, float *C,
                 int64_t ldc, int64_t sc, int64_t batch) {
    return tre_backend_check(ctx, ctx->be->gemm(ctx->be->impl, ta, tb, M, N, K, 1.f, A, lda, sa, B, ldb, sb,
                                                0.f, C, ldc, sc, batch),
                             "gemm") == TRE_OK;
}

static void matmul_backward(tre_ctx *ctx, const tre_grad_node *node, const tre_tensor *g) {
    const tre_tensor *a = node->in[0], *b = node->in[1];
    mm_shape s;
    if (!mm_shape_of(ctx, a, b, &s)) return;
    const float *A = a->data, *B = b->data, *G = g->data;
    const int64_t n = s.n, k = s.k, m = s.m, P = s.p;
    if (a->requires_grad) {
        tre_tensor *ga;
        if (s.pa == 1 && s.pb > 1 && m == 1) { /* sum_p gC_p outer B_p = gC^T B */
            ga = tre_tensor_new(ctx, TRE_F32, 1, a->ndim, a->shape);
            if (!ga || !gemm(ctx, 1, 0, n, k, P, G, n, 0, B, k, 0, ga->data, k, 0, 1)) return;
        } else if (s.pb == 1 && n == 1) {          /* gA [P, k] = gC [P, m] B^T */
            ga = tre_tensor_new(ctx, TRE_F32, P, a->ndim, a->shape);
            if (!ga || !gemm(ctx, 0, 1, P, k, m, G, m, 0, B, m, 0, ga->data, k, 0, 1)) return;
        } else {                                   /* per particle, then summed if shared */
            int64_t shape[2] = {n, k};
            ga = tre_tensor_new(ctx, TRE_F32, P, 2, shape);
            if (!ga || !gemm(ctx, 0, 1, n, k, m, G, m, n * m, B, m, s.pb > 1 ? k * m : 0, ga->data, k,
                             n * k, P))
                return;
            ga = tre_tensor_reshape_view(ctx, ga, a->ndim, a->shape);
        }
        tre_grad_accumulate(ctx, a, ga);
    }
    if (b->requires_grad) {
        tre_tensor *gb;
        if (s.pa == 1 && s.pb > 1 && m == 1) {     /* gB [P, k] = gC [P, n] A */
            gb = tre_tensor_new(ctx, TRE_F32, P, b->ndim, b->shape);
            if (!gb || !gemm(ctx, 0, 0, P, k, n, G, n, 0, A, k, 0, gb->data, k, 0, 1)) return;
        } else if (s.pb == 1 && n == 1) {          /* gB [k, m] = A^T [k, P] gC [P, m] */
            gb = tre_tensor_new(ctx, TRE_F32, 1, b->ndim, b->shape);
            if (!gb || !gemm(ctx, 1, 0, k, m, P, A, k, 0, G, m, 0, gb->data, m, 0, 1)) return;
        } else {
            int64_t shape[2] = {k, m};
            gb = tre_tensor_new(ctx, TRE_F32, P, 2, shape);
            if (!gb || !gemm(ctx, 1, 0, k, m, n, A, k, s.pa > 1 ? n * k : 0, G, m, n * m, gb->data, m,
                             k * m, P))
                return;
            gb = tre_tensor_reshape_view(ctx, gb, b->ndim, b->shape);
        }
        tre_grad_accumulate(ctx, b, gb);
    }
}

tre_tensor *tre_matmul(tre_ctx *ctx, const tre_tensor *a, const tre_tensor *b) {
    if (!ctx || !tre_ok(ctx)) return NULL;
    if (!a || !b || a->dtype != TRE_F32 || b->dtype != TRE_F32) {
        tre_ctx_fail(ctx, TRE_ERR_INVALID_ARG, "tre_matmul: argument %s is %s", !a || a->dtype != TRE_F32 ? "a" : "b",
                     (!a || !b) ? "NULL" : "not float32");
        return NULL;
    }
    mm_shape s;
    if (!mm_shape_of(ctx, a, b, &s)) return NULL;
    int64_t shape[2];
    int nd = 0;
    if (a->ndim == 2) shape[nd++] = s.n;
    if (b->ndim == 2) shape[nd++] = s.m;
    tre_tensor *out = tre_tensor_new(ctx, TRE_F32, s.p, nd, shape);
    if (!out) return NULL;
    const float *A = a->data, *B = b->data;
    bool ok;
    if (s.pa == 1 && s.pb > 1 && s.m == 1) /* C [P, n] = B [P, k] A^T: one GEMM */
        ok = gemm(ctx, 0, 1, s.p, s.n, s.k, B, s.k, 0, A, s.k, 0, out->data, s.n, 0, 1);
    else if (s.pa > 1 && s.pb == 1 && s.n == 1) /* C [P, m] = A [P, k] B: one GEMM */
        ok = gemm(ctx, 0, 0, s.p, s.m, s.k, A, s.k, 0, B, s.m, 0, out->data, s.m, 0, 1);
    else
        ok = gemm(ctx, 0, 0, s.n, s.m, s.k, A, s.k, s.pa > 1 ? s.n * s.k : 0, B, s.m,
                  s.pb > 1 ? s.k * s.m : 0, out->data, s.m, s.n * s.m, s.p);
    if (!ok) return NULL;
    const tre_tensor *in[2] = {a, b};
    if (tre_grad_wanted(ctx, 2, in)) tre_grad_record(ctx, out, "matmul", matmul_backward, 2, in);
    return out;
}
