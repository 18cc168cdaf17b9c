/* An experiment, not part of the library or its build: logistic regression's value + gradient
 * step (P particles, N x D data) as ONE fused CPU kernel, to measure what the fusion described
 * in docs/cpu-backend.md would reach on this machine before anyone builds the deferred matmul it
 * needs on the host side.
 *
 * Per block of TR particles and tile of 16*TC data rows: the forward product w_p . x_n into
 * TR x TC registers (K = D), the Bernoulli(logits) log-density summed and y - sigmoid(l) formed
 * on those registers, and the gradient product from the same registers into the block's [TR, D]
 * partial sums (L1). The [P, N] logits and their gradient never reach memory. X is packed once
 * as [D, N] (padded to whole tiles, padded columns masked out of the sum). Checked against a
 * double-precision loop for one particle; timed against OpenBLAS's two sgemms alone.
 *
 * Build and run (AVX-512 machine; OpenBLAS from Debian):
 *   gcc -O3 -march=native -fopenmp -DTR=6 -DTC=4 bench/experiments/fused_logistic.c \
 *       -o /tmp/fused_logistic -lopenblas -lm
 *   OMP_WAIT_POLICY=passive OMP_NUM_THREADS=2 /tmp/fused_logistic
 *
 * Measured 2026-11-24 on the project VM (2 Zen 4 cores), P = 1020 (TR = 6), N = 10000, D = 50,
 * min of 7, TR=6 TC=4, two threads, five runs over a quiet and a slow stretch: the fused step
 * 12.3 / 12.5 / 14.5 / 24.0 / 24.0 ms against OpenBLAS's two sgemms alone in the same program
 * 15.1 / 15.2 / 16.9 / 24.7 / 24.9 ms, i.e. 0.82-0.97x of the products alone, where the issue
 * asks for at most 1.25x. TR=4 TC=4 was about 25% slower than TR=6 TC=4 (more loads of X per
 * FMA). The library's step (eager sgemm, log-density, gradient, sgemm) took 25.8-41.7 ms in the
 * same minutes. Not done here: double accumulation of the log-density (DESIGN.md; the lanes
 * sum in float: 7e-4 off at -7078), NaN validation of the logits, the tail without padding. */
#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
#ifndef TR
#define TR 4
#endif
#ifndef TC
#define TC 4
#endif
static inline __m512 vexp_nonpos(__m512 x) { /* exp for x<=0, cephes-like */
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.f));
    __m512 t =
        _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(12582912.0f));
    __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(12582912.0f));
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 rr = _mm512_mul_ps(r, r);
    p = _mm512_fmadd_ps(p, rr, _mm512_add_ps(r, _mm512_set1_ps(1.f)));
    return _mm512_scalef_ps(p, n);
}
static inline __m512 vl1p(__m512 e) {
    __m512 p = _mm512_set1_ps(-3.1760570127516985e-3f);
    p = _mm512_fmadd_ps(p, e, _mm512_set1_ps(1.9542526453733444e-2f));
    p = _mm512_fmadd_ps(p, e, _mm512_set1_ps(-5.6373611092567444e-2f));
    p = _mm512_fmadd_ps(p, e, _mm512_set1_ps(1.0543623566627502e-1f));
    p = _mm512_fmadd_ps(p, e, _mm512_set1_ps(-1.5269666910171509e-1f));
    p = _mm512_fmadd_ps(p, e, _mm512_set1_ps(1.9663274288177490e-1f));
    p = _mm512_fmadd_ps(p, e, _mm512_set1_ps(-2.4951615929603577e-1f));
    p = _mm512_fmadd_ps(p, e, _mm512_set1_ps(3.3329710364341736e-1f));
    p = _mm512_fmadd_ps(p, e, _mm512_set1_ps(-4.9999892711639404e-1f));
    p = _mm512_fmadd_ps(p, e, _mm512_set1_ps(1.0f));
    return _mm512_mul_ps(e, p);
}
/* row d of the data tile: 16 * TC consecutive n of X^T */
static inline void load_tile_row(const float *xr, __m512 x[TC]) {
    for (int c = 0; c < TC; ++c)
        x[c] = _mm512_load_ps(xr + 16 * c);
}

/* Xt [D][Np], W [P][D], Y [Np]; lp [P], gw [P][D] */
static void fused(int P, int N, int Np, int D, const float *Xt, const float *W, const float *Y,
                  double *lp, float *gw) {
#pragma omp parallel for schedule(static)
    for (int pb = 0; pb < P; pb += TR) {
        __m512 *gacc = aligned_alloc(64, (size_t)TR * D * 64);
        for (int i = 0; i < TR * D; ++i)
            gacc[i] = _mm512_setzero_ps();
        __m512 lacc[TR];
        for (int r = 0; r < TR; ++r)
            lacc[r] = _mm512_setzero_ps();
        const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.f);
        const __m512i absm = _mm512_set1_epi32(0x7fffffff);
        for (int nt = 0; nt < Np; nt += 16 * TC) {
            __m512 a[TR][TC];
            for (int r = 0; r < TR; ++r)
                for (int c = 0; c < TC; ++c)
                    a[r][c] = zero;
            for (int d = 0; d < D; ++d) {
                __m512 x[TC];
                load_tile_row(Xt + (size_t)d * Np + nt, x);
                for (int r = 0; r < TR; ++r) {
                    __m512 w = _mm512_set1_ps(W[(pb + r) * D + d]);
                    for (int c = 0; c < TC; ++c)
                        a[r][c] = _mm512_fmadd_ps(w, x[c], a[r][c]);
                }
            }
            for (int c = 0; c < TC; ++c) {
                __m512 y = _mm512_load_ps(Y + nt + 16 * c);
                const int left = N - (nt + 16 * c); /* padded columns (x = 0) stay out of the sum */
                const __mmask16 valid = left >= 16  ? 0xffff
                                        : left <= 0 ? 0
                                                    : (__mmask16)((1u << left) - 1);
                for (int r = 0; r < TR; ++r) {
                    __m512 l = a[r][c];
                    __m512 al = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(l), absm));
                    __m512 e = vexp_nonpos(_mm512_sub_ps(zero, al));
                    __m512 term = _mm512_sub_ps(
                        _mm512_sub_ps(_mm512_mul_ps(y, l), _mm512_max_ps(l, zero)), vl1p(e));
                    lacc[r] = _mm512_mask_add_ps(lacc[r], valid, lacc[r], term);
                    __m512 q = _mm512_div_ps(one, _mm512_add_ps(one, e));
                    __mmask16 pos = _mm512_cmp_ps_mask(l, zero, _CMP_GE_OQ);
                    __m512 s = _mm512_mask_blend_ps(pos, _mm512_mul_ps(e, q), q);
                    a[r][c] = _mm512_sub_ps(y, s);
                }
            }
            for (int d = 0; d < D; ++d) {
                __m512 x[TC];
                load_tile_row(Xt + (size_t)d * Np + nt, x);
                for (int r = 0; r < TR; ++r) {
                    __m512 g = gacc[r * D + d];
                    for (int c = 0; c < TC; ++c)
                        g = _mm512_fmadd_ps(a[r][c], x[c], g);
                    gacc[r * D + d] = g;
                }
            }
        }
        for (int r = 0; r < TR; ++r) {
            lp[pb + r] = _mm512_reduce_add_ps(lacc[r]);
            for (int d = 0; d < D; ++d)
                gw[(pb + r) * D + d] = _mm512_reduce_add_ps(gacc[r * D + d]);
        }
        free(gacc);
    }
}
int main(void) {
    int P = 1024 / TR * TR, N = 10000, D = 50, Np = (N + 16 * TC - 1) / (16 * TC) * (16 * TC);
    float *Xt = aligned_alloc(64, (size_t)D * Np * 4), *X = aligned_alloc(64, (size_t)Np * D * 4),
          *W = aligned_alloc(64, (size_t)P * D * 4), *Y = aligned_alloc(64, (size_t)Np * 4),
          *gw = aligned_alloc(64, (size_t)P * D * 4);
    double *lp = malloc(P * 8);
    srand(1);
    for (int n = 0; n < Np; ++n) {
        for (int d = 0; d < D; ++d) {
            float v = n < N ? (float)rand() / RAND_MAX - 0.5f : 0;
            Xt[(size_t)d * Np + n] = v;
            X[(size_t)n * D + d] = v;
        }
        Y[n] = n < N ? (rand() & 1) : 0;
    }
    for (int i = 0; i < P * D; ++i)
        W[i] = ((float)rand() / RAND_MAX - 0.5f) * 0.5f;
    double best = 1e9;
    for (int k = 0; k < 7; ++k) {
        double t = now();
        fused(P, N, Np, D, Xt, W, Y, lp, gw);
        t = now() - t;
        if (t < best)
            best = t;
    }
    /* check vs reference for particle 3 */
    double lref = 0;
    double gref[64] = {0};
    int p = 3;
    for (int n = 0; n < N; ++n) {
        double l = 0;
        for (int d = 0; d < D; ++d)
            l += (double)W[p * D + d] * X[(size_t)n * D + d];
        double y = Y[n];
        lref += y * l - (l > 0 ? l : 0) - log1p(exp(-fabs(l)));
        double s = 1 / (1 + exp(-l));
        for (int d = 0; d < D; ++d)
            gref[d] += (y - s) * X[(size_t)n * D + d];
    }
    double maxg = 0;
    for (int d = 0; d < D; ++d) {
        double e = fabs(gw[p * D + d] - gref[d]);
        if (e > maxg)
            maxg = e;
    }
    /* openblas: the two sgemms */
    float *L = aligned_alloc(64, (size_t)P * N * 4);
    float *gw2 = aligned_alloc(64, (size_t)P * D * 4);
    double bf = 1e9, bb = 1e9;
    for (int k = 0; k < 7; ++k) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, P, N, D, 1.f, W, D, X, D, 0.f, L, N);
        t = now() - t;
        if (t < bf)
            bf = t;
        t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, P, D, N, 1.f, L, N, X, D, 0.f, gw2,
                    D);
        t = now() - t;
        if (t < bb)
            bb = t;
    }
    double fl = 4.0 * P * (double)N * D;
    printf("threads %d fused %.2f ms (%.0f GFLOP/s on the products)  lp err %.3g (ref %.1f)  grad "
           "max err %.3g | openblas fwd %.2f bwd %.2f sum %.2f ms (%.0f GFLOP/s)\n",
           omp_get_max_threads(), best * 1e3, fl / best / 1e9, fabs(lp[p] - lref), lref, maxg,
           bf * 1e3, bb * 1e3, (bf + bb) * 1e3, fl / (bf + bb) / 1e9);
}
