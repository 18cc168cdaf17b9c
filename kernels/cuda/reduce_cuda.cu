/* CUDA reductions and index ops: per-row sums and the adjoint of broadcasting (double
 * accumulation, fixed tree order: tre_cuda_seg_sum), gathers and takes (a thread per output
 * element), and their adjoints without atomics: the indices are stably sorted so that one
 * thread owns each output slot and adds its contributions in the CPU backend's order. */
#include "cuda_common.cuh"
#include "../math/check.h"

/* ---- sum_rows ---------------------------------------------------------------------------- */

/* segments that are consecutive rows of `cols` terms, row r into out[r] */
struct row_segments {
    int64_t cols;
    TRE_CUDA_FN tre_cuda_seg row(int64_t r) const { return tre_cuda_seg_at(r, r * cols); }
};

struct rows_src : row_segments {
    const float *in;
    TRE_CUDA_FN double term(const tre_cuda_seg &s, int64_t c) const {
        return (double)in[s.base[0] + c];
    }
};

int tre_sum_rows_cuda(void *impl, int64_t rows, int64_t cols, const float *in, float *out) {
    rows_src s;
    s.in = in;
    s.cols = cols;
    return tre_cuda_seg_sum((tre_cuda_impl *)impl, rows, cols, s, out, 1.0);
}

/* ---- dot_rows: the terms of row r are a * b over its last-dim elements --------------------- */

struct dot_src : row_segments {
    const float *a, *b;
    tre_cuda_layout<2> L;
    TRE_CUDA_FN double term(const tre_cuda_seg &s, int64_t c) const {
        int64_t off[2];
        L.offsets(s.base[0] + c, off);
        return (double)(a[off[0]] * b[off[1]]); /* the product in float, as on the CPU */
    }
};

int tre_dot_rows_cuda(void *impl, const tre_kshape *shape, float *out, const tre_karg *a,
                      const tre_karg *b) {
    if (shape->ndim < 1) return 1;
    dot_src s;
    const int64_t *st[2] = {a->stride, b->stride};
    tre_cuda_layout_init(&s.L, shape, st);
    s.a = a->data;
    s.b = b->data;
    s.cols = shape->dim[shape->ndim - 1];
    /* the rows from the leading dims: with no columns each row is still written, as 0 */
    int64_t rows = 1;
    for (int d = 0; d < shape->ndim - 1; ++d) rows *= shape->dim[d];
    return tre_cuda_seg_sum((tre_cuda_impl *)impl, rows, s.cols, s, out, 1.0);
}

/* ---- reduce_sum: out[slot] = sum over the summed dims --------------------------------------
 * Slots enumerate the kept dims (nonzero out stride) row-major; the terms of a slot enumerate
 * the summed dims row-major, the order the CPU backend adds them in. */
struct reduce_src {
    const float *in;
    int nk, nr;
    int64_t kdim[TRE_KDIMS], kin[TRE_KDIMS], kout[TRE_KDIMS]; /* kept dims: size, in/out stride */
    int64_t rdim[TRE_KDIMS], rin[TRE_KDIMS];                  /* summed dims: size, in stride */
    TRE_CUDA_FN tre_cuda_seg row(int64_t r) const {
        tre_cuda_seg s;
        s.out = 0;
        s.base[0] = 0;
        for (int k = nk - 1; k >= 0; --k) {
            const int64_t q = r / kdim[k], i = r - q * kdim[k];
            r = q;
            s.base[0] += i * kin[k];
            s.out += i * kout[k];
        }
        return s;
    }
    TRE_CUDA_FN double term(const tre_cuda_seg &s, int64_t c) const {
        int64_t off = s.base[0];
        for (int k = nr - 1; k >= 0; --k) {
            const int64_t q = c / rdim[k], i = c - q * rdim[k];
            c = q;
            off += i * rin[k];
        }
        return (double)in[off];
    }
};

int tre_reduce_sum_cuda(void *impl, const tre_kshape *shape, const float *in, float *out,
                        const int64_t *out_stride) {
    reduce_src s;
    s.in = in;
    s.nk = s.nr = 0;
    int64_t in_stride[TRE_KDIMS], c = 1, slots = 1, count = 1;
    for (int d = shape->ndim - 1; d >= 0; --d) {
        in_stride[d] = c;
        c *= shape->dim[d];
    }
    for (int d = 0; d < shape->ndim; ++d) {
        if (out_stride[d]) {
            s.kdim[s.nk] = shape->dim[d];
            s.kin[s.nk] = in_stride[d];
            s.kout[s.nk++] = out_stride[d];
            slots *= shape->dim[d];
        } else {
            s.rdim[s.nr] = shape->dim[d];
            s.rin[s.nr++] = in_stride[d];
            count *= shape->dim[d];
        }
    }
    return tre_cuda_seg_sum((tre_cuda_impl *)impl, slots, count, s, out, 1.0);
}

/* Both sides of a broadcast a - b: two segmented sums (each pass already reads `in` at the
 * device's bandwidth; a one-pass version would pay only where the tensor is large). */
int tre_reduce_sum_pair_cuda(void *impl, const tre_kshape *shape, const float *in, float *out_a,
                             const int64_t *stride_a, float *out_b, const int64_t *stride_b) {
    const int rc = tre_reduce_sum_cuda(impl, shape, in, out_a, stride_a);
    return rc ? rc : tre_reduce_sum_cuda(impl, shape, in, out_b, stride_b);
}

/* ---- gather / take ------------------------------------------------------------------------- */

/* An index out of range (which the host checks, except in a graph's replay) gives NaN, never a
 * read outside the tensor: the replay's loss is then not finite and the step is rerun eagerly. */
int tre_gather_cuda(void *impl, int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                    int64_t k, const float *in, float *out) {
    return tre_cuda_each((tre_cuda_impl *)impl, outer * k * inner, [=] TRE_CUDA_FN(int64_t t) {
        const int64_t i = t % inner, oj = t / inner, j = oj % k, o = oj / k;
        const int32_t r = index[j];
        out[t] = r >= 0 && r < n ? in[(o * n + r) * inner + i] : NAN;
    });
}

int tre_dot_gathered_rows_cuda(void *impl, int64_t outer, int64_t n, int64_t inner,
                               const int32_t *index, int64_t k, const float *w, const float *x,
                               int64_t xstride, float *out) {
    /* a thread per output row, its terms in order: the CPU's sums exactly */
    return tre_cuda_each((tre_cuda_impl *)impl, outer * k, [=] TRE_CUDA_FN(int64_t t) {
        const int64_t o = t / k, j = t - o * k;
        const int32_t r = index[j];
        if (r < 0 || r >= n) { /* as in tre_gather_cuda */
            out[t] = NAN;
            return;
        }
        const float *xr = x + o * xstride + j * inner, *wr = w + (o * n + r) * inner;
        double acc = 0.0;
        for (int64_t i = 0; i < inner; ++i) acc += (double)(xr[i] * wr[i]);
        out[t] = (float)acc;
    });
}

int tre_take_cuda(void *impl, int64_t P, int64_t n, const float *values, int64_t vstride, int64_t K,
                  const float *index, int64_t istride, float *out) {
    return tre_cuda_each((tre_cuda_impl *)impl, P * n, [=] TRE_CUDA_FN(int64_t t) {
        const int64_t p = t / n, i = t - p * n;
        const float x = index[p * istride + i];
        out[t] = tre_index_in_range(x, K) ? values[p * vstride + (int64_t)x] : NAN;
    });
}

/* ---- sorted segments for the adjoints ------------------------------------------------------ */

/* Bits that hold every key below `bound`. */
static int key_bits(int64_t bound) {
    int b = 1;
    while (b < 31 && ((int64_t)1 << b) < bound) ++b;
    return b;
}

/* Scratch for sorting n pairs: keys and values in and out, then the sort's own temp. */
struct sort_bufs {
    int32_t *keys_in, *keys_out, *vals_in, *vals_out;
    void *temp;
    size_t temp_bytes;
};

static int sort_bufs_get(tre_cuda_impl *im, int64_t n, int bits, sort_bufs *b) {
    if (n > 0x7fffffff) return 1;
    const size_t arr = tre_cuda_align((size_t)n * sizeof(int32_t));
    b->temp_bytes = tre_cuda_sort_temp_bytes(n, bits);
    if (!b->temp_bytes) return 1;
    unsigned char *base = (unsigned char *)tre_cuda_scratch(im, 4 * arr + b->temp_bytes);
    if (!base) return tre_cuda_scratch_error(im);
    b->keys_in = (int32_t *)base;
    b->keys_out = (int32_t *)(base + arr);
    b->vals_in = (int32_t *)(base + 2 * arr);
    b->vals_out = (int32_t *)(base + 3 * arr);
    b->temp = base + 4 * arr;
    return 0;
}

/* out[o, index[j], i] += term(o, j, i): the j with one index, in increasing j, are one sorted
 * segment; the thread of segment start s adds them all to its slot, as the CPU loop does. */
template <typename Term>
static int scatter_segments(tre_cuda_impl *im, int64_t outer, int64_t n, int64_t inner,
                            const int32_t *index, int64_t k, Term term, float *out) {
    if (k <= 0 || outer <= 0 || inner <= 0) return 0;
    sort_bufs b;
    const int bits = key_bits(n + 1); /* room for the out-of-range key 2^bits - 1 >= n */
    int rc = sort_bufs_get(im, k, bits, &b);
    if (rc) return rc;
    int32_t *ki = b.keys_in, *vi = b.vals_in;
    /* out-of-range indices (the caller checks them) sort to a key that is then skipped */
    rc = tre_cuda_each(im, k, [=] TRE_CUDA_FN(int64_t j) {
        const int32_t r = index[j];
        ki[j] = r >= 0 && r < n ? r : (int32_t)(((int64_t)1 << bits) - 1);
        vi[j] = (int32_t)j;
    });
    if (!rc) rc = tre_cuda_sort_pairs(im, b.temp, b.temp_bytes, k, bits, b.keys_in, b.keys_out,
                                      b.vals_in, b.vals_out);
    if (rc) return rc;
    const int32_t *ks = b.keys_out, *vs = b.vals_out;
    return tre_cuda_each(im, outer * k * inner, [=] TRE_CUDA_FN(int64_t t) {
        const int64_t i = t % inner, os = t / inner, s = os % k, o = os / k;
        const int32_t r = ks[s];
        if ((s > 0 && ks[s - 1] == r) || r >= n) return;
        float *dst = out + (o * n + r) * inner + i;
        float acc = *dst;
        for (int64_t e = s; e < k && ks[e] == r; ++e) acc += term(o, (int64_t)vs[e], i);
        *dst = acc;
    });
}

int tre_scatter_add_cuda(void *impl, int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                         int64_t k, const float *g, float *out) {
    return scatter_segments((tre_cuda_impl *)impl, outer, n, inner, index, k,
                            [=] TRE_CUDA_FN(int64_t o, int64_t j, int64_t i) { return g[(o * k + j) * inner + i]; },
                            out);
}

int tre_scatter_add_scaled_cuda(void *impl, int64_t outer, int64_t n, int64_t inner,
                                const int32_t *index, int64_t k, const float *s, const float *x,
                                int64_t xstride, float *out) {
    return scatter_segments((tre_cuda_impl *)impl, outer, n, inner, index, k,
                            [=] TRE_CUDA_FN(int64_t o, int64_t j, int64_t i) {
                                return s[o * k + j] * x[o * xstride + j * inner + i];
                            },
                            out);
}

/* The shared row's adjoint sorts at most this many (p, i) entries at a time: whole particles,
 * chunk after chunk in p order, so that the terms still add in (p, i) order and the sort's int32
 * values and its scratch (16 bytes an entry and the sort's temp) stay bounded at any P. The
 * emulated build takes small chunks, so that the parity test goes through more than one. */
#if defined(TRE_CUDA_EMULATE)
#define TAKE_SORT_CAP ((int64_t)1 << 14)
#else
#define TAKE_SORT_CAP ((int64_t)1 << 27)
#endif

/* gvalues[index[p, i]] += g[p, i] for the P particles from g and index on, sorted by index */
static int take_backward_shared(tre_cuda_impl *im, int64_t P, int64_t n, const float *g,
                                const float *index, int64_t istride, float *gvalues, int64_t K) {
    const int64_t m = P * n;
    const int bits = key_bits(K + 1);
    sort_bufs b;
    int rc = sort_bufs_get(im, m, bits, &b);
    if (rc) return rc;
    int32_t *ki = b.keys_in, *vi = b.vals_in;
    rc = tre_cuda_each(im, m, [=] TRE_CUDA_FN(int64_t t) {
        const int64_t p = t / n, i = t - p * n;
        const float x = index[p * istride + i];
        ki[t] = tre_index_in_range(x, K) ? (int32_t)x : (int32_t)K; /* K: out of range, skipped */
        vi[t] = (int32_t)t;
    });
    if (!rc) rc = tre_cuda_sort_pairs(im, b.temp, b.temp_bytes, m, bits, b.keys_in, b.keys_out,
                                      b.vals_in, b.vals_out);
    if (rc) return rc;
    const int32_t *ks = b.keys_out, *vs = b.vals_out;
    return tre_cuda_each(im, m, [=] TRE_CUDA_FN(int64_t s) {
        const int32_t r = ks[s];
        if (r >= K || (s > 0 && ks[s - 1] == r)) return;
        float acc = gvalues[r];
        for (int64_t e = s; e < m && ks[e] == r; ++e) acc += g[vs[e]];
        gvalues[r] = acc;
    });
}

/* gvalues[p * vstride + index[p, i]] += g[p, i]. Per-particle rows: one thread per row, in i
 * order. A shared row (vstride 0): the entries are sorted by index, stably, so each value's
 * thread adds its terms in (p, i) order, as the CPU's serial loop does. */
int tre_take_backward_cuda(void *impl, int64_t P, int64_t n, const float *g, const float *index,
                           int64_t istride, float *gvalues, int64_t vstride, int64_t K) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (P <= 0 || n <= 0) return 0;
    if (vstride != 0)
        return tre_cuda_each(im, P, [=] TRE_CUDA_FN(int64_t p) {
            float *gv = gvalues + p * vstride;
            const float *ix = index + p * istride, *gp = g + p * n;
            for (int64_t i = 0; i < n; ++i)
                if (tre_index_in_range(ix[i], K)) gv[(int64_t)ix[i]] += gp[i];
        });
    if (K >= INT32_MAX) return 1; /* the sort's keys are int32, K itself among them */
    const int64_t chunk = tre_cuda_chunk_rows(P, n, TAKE_SORT_CAP);
    for (int64_t p0 = 0; p0 < P; p0 += chunk) {
        const int64_t pc = P - p0 < chunk ? P - p0 : chunk;
        const int rc = take_backward_shared(im, pc, n, g + p0 * n, index + p0 * istride, istride,
                                            gvalues, K);
        if (rc) return rc;
    }
    return 0;
}
