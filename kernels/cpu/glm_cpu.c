/* The fused Bernoulli(logits = x . w_p) likelihood on the CPU (backend.h bernoulli_glm_sum): a
 * logistic regression's value and gradient in one pass that never writes the [P, n] logits.
 *
 * Unfused, the step is a GEMM writing the logits (40 MB at P = 1024, n = 10,000), a pass of
 * log-masses reading them, a pass writing their gradient, and a second GEMM reading it: twice
 * the time of the two products alone on this project's machines. Here, per block of GLM_R
 * particles (single particles for the last P % GLM_R) and tile of GLM_T data rows, all in
 * GLM_R x GLM_C vector registers:
 *  - the forward product (x packed once per call as [d, n], tiles padded with zeros, so that each
 *    step loads whole vectors);
 *  - the tile's log-masses x l - max(l, 0) - log1p(e), e = exp(-|l|), summed per particle and
 *    lane: the first part in float over the tile, then in double; the log1p as the log of the
 *    product of 1 + e over GLM_FOLD tiles (one multiply-add per row instead of log1p's
 *    polynomial: 10% of the step at P = 1024; the products' rounding is that of a float sum);
 *  - y - sigmoid(l), over vmath_v16.h's lane-for-lane twins of the unfused kernels' math (the
 *    same bits);
 *  - the gradient product from those registers into the block's [GLM_R, d] partial sums (L1).
 * The blocks pass over the tiles a chunk at a time (GLM_CHUNK_BYTES of packed x: 2 MB at
 * n = 10,000, d = 50, more than this project's machines' L2), GLM_UNIT blocks in turn over each
 * chunk, so that x is read from L2 rather than L3 (6% of the op at P = 1024 on the Intel VM),
 * each block's sums kept between chunks. Only the last tile masks its padding rows.
 * Each particle's sums run in a fixed order (tile by tile), whatever the thread count. */
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "cpu_backend.h"
#include "cpu_iter.h"
#include "vmath_v16.h"

#define GLM_R 6            /* particles per register block */
#define GLM_C 4            /* vectors of 16 data rows per tile */
#define GLM_T (16 * GLM_C) /* data rows per tile */
#define GLM_FOLD 16        /* tiles per product of 1 + e (64 factors in [1, 2]: under 2^64) */
#define GLM_CHUNK_BYTES (512 * 1024) /* packed x per chunk of tiles, kept in L2 by every block:
                                      * a quarter of L2 where it is known (on a 2 MiB L2, a half
                                      * measured 3-6% slower, an eighth and a sixteenth no faster) */
#define GLM_UNIT 8                   /* work items that pass over each chunk in turn */

typedef double glm_v8d __attribute__((vector_size(64)));
typedef float glm_v8f __attribute__((vector_size(32)));

/* acc (8 double lanes x 2) += the 16 float lanes of v */
static inline void add_to_double(glm_v8d *acc, tre_v16 v) {
    glm_v8f h[2];
    memcpy(h, &v, sizeof v);
    acc[0] += __builtin_convertvector(h[0], glm_v8d);
    acc[1] += __builtin_convertvector(h[1], glm_v8d);
}

/* log1p(s) = k log 2 + f lane by lane, for s in [0, 2^64) or NaN: returns f and sets *k (an
 * integer, 0 where s <= 1 or NaN). s <= 1: f = log1p(s) (a tiny s keeps its relative accuracy);
 * else 1 + s = (1 + m) 2^k with m in [0, 1) exactly and f = log1p(m). k log 2 is left to the
 * caller, in double. */
static inline tre_v16 log1p_split(tre_v16 s, tre_v16 *k) {
    const tre_i16 bits = (tre_i16)(1.0f + s);
    const tre_i16 small = (s <= 1.0f) | (s != s);
    *k = tre_v16_select(small, (tre_v16){0}, __builtin_convertvector((bits >> 23) - 127, tre_v16));
    const tre_v16 m = (tre_v16)((bits & 0x007fffff) | 0x3f800000) - 1.0f;
    return tre_v16_log1p_unit(tre_v16_select(small, s, m));
}

/* A block's running sums between chunks of tiles: per particle and lane, the sum of
 * x l - max(l, 0) and of -log1p's f parts (lp), of its k parts (lk), and the product of 1 + e
 * since the last fold, less 1 (tail: a tiny product keeps its relative accuracy). */
typedef struct glm_state {
    glm_v8d lp[GLM_R][2], lk[GLM_R][2];
    tre_v16 tail[GLM_R];
} glm_state;

/* One vector of a tile's rows, given the logits l: the sum of x l - max(l, 0) and the product
 * of 1 + e less 1 (tail) updated, and with grad the gradient y - sigmoid(l) (dl). in: the rows
 * that count; only the last tile has rows past n (padding: x = 0, so l = 0), and only there
 * (edge) are they masked (the masks cost 7% of the op at P = 1024); elsewhere the bits are the
 * masked ones. */
typedef struct glm_term {
    tre_v16 sum, tail, dl;
} glm_term;
static inline __attribute__((always_inline)) glm_term
glm_term_at(const bool edge, bool grad, tre_i16 in, tre_v16 y, tre_v16 l, tre_v16 sum, tre_v16 tail) {
    const tre_v16 e = tre_v16_bernoulli_e(l), linear = tre_v16_bernoulli_logits_linear(y, l);
    const tre_v16 dl = grad ? tre_v16_bernoulli_logits_dlp_dlogits_e(y, l, e) : l;
    if (!edge) return (glm_term){sum + linear, tre_v16_fma(tail, 1.0f + e, e), dl};
    /* (1 + tail)(1 + e) - 1 */
    return (glm_term){sum + tre_v16_select(in, linear, (tre_v16){0}),
                      tre_v16_fma(tail, tre_v16_select(in, 1.0f + e, tre_v16_splat(1.f)),
                                  tre_v16_select(in, e, (tre_v16){0})),
                      tre_v16_select(in, dl, (tre_v16){0})};
}

/* One block of R particles (w: their [R, d] coefficients) over tiles [t_begin, t_end): R =
 * GLM_R, or 1 for the last P % GLM_R particles. The first chunk (t_begin 0) clears st and gacc;
 * the last (t_end * GLM_T == np) writes out and grad. Always inlined into the two callers below,
 * so that R is a constant there and a[R][GLM_C] lives in registers. gacc: the block's R * d
 * vectors of gradient sums (NULL: no gradient). */
static inline __attribute__((always_inline)) void
glm_rows(const int R, int64_t n, int64_t np, int64_t d, int64_t t_begin, int64_t t_end,
         const float *xt, const float *yp, const float *w, float scale, glm_state *st,
         tre_v16 *gacc, float *out, float *grad) {
    if (t_begin == 0) {
        memset(st, 0, sizeof *st);
        if (gacc) memset(gacc, 0, (size_t)(R * d) * sizeof *gacc);
    }
    glm_v8d lp[GLM_R][2], lk[GLM_R][2];
    tre_v16 tail[GLM_R];
    memcpy(lp, st->lp, sizeof lp);
    memcpy(lk, st->lk, sizeof lk);
    memcpy(tail, st->tail, sizeof tail);
    const tre_i16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int64_t t0 = t_begin * GLM_T; t0 < t_end * GLM_T; t0 += GLM_T) {
        tre_v16 a[GLM_R][GLM_C];
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < GLM_C; ++c) a[r][c] = (tre_v16){0};
        for (int64_t j = 0; j < d; ++j) {
            tre_v16 xv[GLM_C];
            for (int c = 0; c < GLM_C; ++c) xv[c] = tre_v16_load(xt + j * np + t0 + 16 * c);
            for (int r = 0; r < R; ++r) {
                const tre_v16 wr = tre_v16_splat(w[r * d + j]);
                for (int c = 0; c < GLM_C; ++c) a[r][c] = tre_v16_fma(wr, xv[c], a[r][c]);
            }
        }
        /* the log-masses and their gradient (in place of the logits); the loop is written twice,
         * whole tiles and the edge tile: passing a[][] to a helper for it put a[][] on the stack
         * (12.7 against 10.2 ms in the harness) */
        tre_v16 sum[GLM_R];
        for (int r = 0; r < R; ++r) sum[r] = (tre_v16){0};
        if (t0 + GLM_T <= n) {
            for (int c = 0; c < GLM_C; ++c) {
                const tre_v16 y = tre_v16_load(yp + t0 + 16 * c);
                for (int r = 0; r < R; ++r) {
                    const glm_term g = glm_term_at(false, gacc, (tre_i16){0}, y, a[r][c], sum[r], tail[r]);
                    sum[r] = g.sum, tail[r] = g.tail, a[r][c] = g.dl;
                }
            }
        } else {
            for (int c = 0; c < GLM_C; ++c) {
                const tre_v16 y = tre_v16_load(yp + t0 + 16 * c);
                const tre_i16 in = iota < (int32_t)(n - t0 - 16 * c < 16 ? n - t0 - 16 * c : 16);
                for (int r = 0; r < R; ++r) {
                    const glm_term g = glm_term_at(true, gacc, in, y, a[r][c], sum[r], tail[r]);
                    sum[r] = g.sum, tail[r] = g.tail, a[r][c] = g.dl;
                }
            }
        }
        for (int r = 0; r < R; ++r) add_to_double(lp[r], sum[r]);
        if ((t0 / GLM_T) % GLM_FOLD == GLM_FOLD - 1 || t0 + GLM_T == np)
            for (int r = 0; r < R; ++r) {
                tre_v16 k;
                add_to_double(lp[r], -log1p_split(tail[r], &k));
                add_to_double(lk[r], k);
                tail[r] = (tre_v16){0};
            }
        if (!gacc) continue;
        for (int64_t j = 0; j < d; ++j) {
            tre_v16 xv[GLM_C];
            for (int c = 0; c < GLM_C; ++c) xv[c] = tre_v16_load(xt + j * np + t0 + 16 * c);
            for (int r = 0; r < R; ++r) {
                tre_v16 g = gacc[r * d + j];
                for (int c = 0; c < GLM_C; ++c) g = tre_v16_fma(a[r][c], xv[c], g);
                gacc[r * d + j] = g;
            }
        }
    }
    if (t_end * GLM_T < np) {
        memcpy(st->lp, lp, sizeof lp);
        memcpy(st->lk, lk, sizeof lk);
        memcpy(st->tail, tail, sizeof tail);
        return;
    }
    for (int r = 0; r < R; ++r) {
        double s = 0, k2 = 0;
        for (int h = 0; h < 2; ++h)
            for (int k = 0; k < 8; ++k) s += lp[r][h][k], k2 += lk[r][h][k];
        s -= k2 * 0.693147180559945309;
        out[r] = (float)(scale * s);
        if (!gacc) continue;
        for (int64_t j = 0; j < d; ++j) grad[r * d + j] = scale * tre_v16_hsum(gacc[r * d + j]);
    }
}

static void glm_block(int64_t n, int64_t np, int64_t d, int64_t t_begin, int64_t t_end,
                      const float *xt, const float *yp, const float *w, float scale,
                      glm_state *st, tre_v16 *gacc, float *out, float *grad) {
    glm_rows(GLM_R, n, np, d, t_begin, t_end, xt, yp, w, scale, st, gacc, out, grad);
}
static void glm_row(int64_t n, int64_t np, int64_t d, int64_t t_begin, int64_t t_end,
                    const float *xt, const float *yp, const float *w, float scale,
                    glm_state *st, tre_v16 *gacc, float *out, float *grad) {
    glm_rows(1, n, np, d, t_begin, t_end, xt, yp, w, scale, st, gacc, out, grad);
}

/* Tile t of x and y packed: xt [d, np] and yp [np], rows past n zero. With AVX-512, 16 rows
 * of one column by a gather (at n = 10,000, d = 50: 0.08 ms less than the scalar loop's 0.17). */
static void glm_pack_tile(int64_t n, int64_t np, int64_t d, int64_t t, const float *x,
                          const float *y, float *xt, float *yp) {
#if defined(__AVX512F__)
    if (d <= INT32_MAX / 16) {
        const __m512i rows = _mm512_mullo_epi32(
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            _mm512_set1_epi32((int32_t)d));
        for (int64_t i0 = t * GLM_T; i0 < (t + 1) * GLM_T; i0 += 16) {
            if (i0 >= n) {
                for (int64_t j = 0; j < d; ++j) _mm512_store_ps(xt + j * np + i0, _mm512_setzero_ps());
                _mm512_store_ps(yp + i0, _mm512_setzero_ps());
                continue;
            }
            const __mmask16 in = (__mmask16)(n - i0 >= 16 ? 0xffff : (1u << (n - i0)) - 1);
            for (int64_t j = 0; j < d; ++j)
                _mm512_store_ps(xt + j * np + i0, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), in, rows,
                                                                           x + i0 * d + j, 4));
            _mm512_store_ps(yp + i0, _mm512_maskz_loadu_ps(in, y + i0));
        }
        return;
    }
#endif
    for (int64_t i = t * GLM_T; i < (t + 1) * GLM_T; ++i) {
        for (int64_t j = 0; j < d; ++j) xt[j * np + i] = i < n ? x[i * d + j] : 0.f;
        yp[i] = i < n ? y[i] : 0.f;
    }
}

int tre_bernoulli_glm_sum_cpu(void *impl, int64_t P, int64_t n, int64_t d, const float *x,
                              const float *w, const float *y, float scale, float *out, float *grad) {
    if (P < 0 || n < 0 || d < 0) return 1;
    if (P == 0) return 0;
    const int64_t tiles = (n + GLM_T - 1) / GLM_T, np = tiles * GLM_T;
    /* work items: whole blocks of GLM_R particles, then one item per particle left over. They
     * are taken GLM_UNIT at a time (the last GLM_UNIT * 2 per thread one at a time, to even the
     * threads' ends), each unit over the tiles chunk by chunk, so that a chunk of packed x is
     * read from L2 by each of the unit's items in turn */
    const int64_t blocks = P / GLM_R, items = blocks + P % GLM_R;
    const bool parallel = P * (n + 1) * (d + 1) >= TRE_CPU_PARALLEL_MIN;
    const int threads = parallel ? omp_get_max_threads() : 1;
    const int64_t ends = (int64_t)GLM_UNIT * 2 * threads;
    const int64_t unit_items = (items > ends ? (items - ends) / GLM_UNIT : 0) * GLM_UNIT;
    const int64_t units = unit_items / GLM_UNIT + (items - unit_items);
    const size_t l2 = ((tre_cpu_impl *)impl)->l2_bytes;
    const int64_t chunk_bytes = l2 ? (int64_t)(l2 / 4) : GLM_CHUNK_BYTES;
    int64_t chunk_tiles = chunk_bytes / ((d + 1) * GLM_T * (int64_t)sizeof(float));
    if (chunk_tiles < 1) chunk_tiles = 1;
    /* in the backend's scratch: x packed as [d, np], y padded to np, then per thread GLM_UNIT
     * items' states and (with a gradient) their GLM_R * d vectors of gradient sums */
    const size_t x_bytes = ((size_t)((d + 1) * np) * sizeof(float) + 63) / 64 * 64;
    const size_t item_bytes = sizeof(glm_state) + (grad ? (size_t)(GLM_R * d) * sizeof(tre_v16) : 0);
    char *mem = tre_cpu_scratch(impl, x_bytes + (size_t)threads * GLM_UNIT * item_bytes);
    if (!mem) return TRE_KERR_OOM;
    float *xt = (float *)mem, *yp = xt + d * np;
#pragma omp parallel if (parallel)
    {
#pragma omp for schedule(static)
        for (int64_t t = 0; t < tiles; ++t) glm_pack_tile(n, np, d, t, x, y, xt, yp);
        char *states = mem + x_bytes + (size_t)omp_get_thread_num() * GLM_UNIT * item_bytes;
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < units; ++u) {
            const int64_t b0 = u * GLM_UNIT < unit_items ? u * GLM_UNIT : unit_items + (u - unit_items / GLM_UNIT);
            const int64_t b1 = b0 < unit_items ? b0 + GLM_UNIT : b0 + 1;
            /* (n = 0: one empty chunk, which writes the sums of no rows) */
            for (int64_t c0 = 0; c0 == 0 || c0 < tiles; c0 += chunk_tiles) {
                const int64_t c1 = c0 + chunk_tiles < tiles ? c0 + chunk_tiles : tiles;
                for (int64_t b = b0; b < b1; ++b) {
                    const int64_t p0 = b < blocks ? b * GLM_R : blocks * GLM_R + (b - blocks);
                    char *item = states + (size_t)(b - b0) * item_bytes;
                    tre_v16 *gacc = grad ? (tre_v16 *)(item + sizeof(glm_state)) : NULL;
                    (b < blocks ? glm_block : glm_row)(n, np, d, c0, c1, xt, yp, w + p0 * d, scale,
                                                       (glm_state *)item, gacc, out + p0,
                                                       grad ? grad + p0 * d : NULL);
                }
            }
        }
    }
    return 0;
}
