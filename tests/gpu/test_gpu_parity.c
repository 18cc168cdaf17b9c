/* The CUDA backend against the CPU backend, on the same inputs and the same seed: every backend
 * op, every elementwise family's log_prob / log_prob_sum / gradients / draws, the structured
 * families and transforms, and whole tre_elbo evaluations (value and gradient; Trace_ELBO,
 * TraceMeanField_ELBO, RenyiELBO) and SVI steps agree: relative error <= 1e-5 on sums, NaN and
 * Inf in the same places (ggml's test-backend-ops, for trelbo's two backends); bit for bit where
 * both backends' math is IEEE arithmetic alone. Where the CPU backend has nothing to compare with
 * (indices no one checked, step graphs, what an op leaves alone past its output), the CUDA
 * backend's own contracts are checked against closed forms.
 *
 * Without a CUDA device this exits 77, which ctest reports as "Not Run". In a
 * -DTRELBO_CUDA_EMULATE=ON build the "device" is the CUDA backend's code compiled for the host,
 * which checks its indexing and dispatch on a machine with no GPU. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "kernels/backend.h"

static tre_backend *cpu, *gpu;

/* ---- buffers: host copies for the CPU backend, device copies for the GPU -------------------- */

#define MAX_BUFS 4096
static void *dbufs[MAX_BUFS], *hbufs[MAX_BUFS];
static int ndbufs, nhbufs;

static void *halloc(size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 4);
    assert_non_null(p);
    assert_true(nhbufs < MAX_BUFS);
    hbufs[nhbufs++] = p;
    return p;
}
static void *dalloc(size_t bytes) {
    void *p = gpu->alloc(gpu->impl, bytes ? bytes : 4);
    assert_non_null(p);
    assert_true(ndbufs < MAX_BUFS);
    dbufs[ndbufs++] = p;
    return p;
}
static void *to_dev(const void *h, size_t bytes) {
    void *d = dalloc(bytes);
    assert_int_equal(gpu->upload(gpu->impl, d, h, bytes), 0);
    return d;
}
static float *from_dev(const void *d, int64_t n) {
    float *h = halloc((size_t)n * sizeof *h);
    assert_int_equal(gpu->sync(gpu->impl), 0);
    assert_int_equal(gpu->download(gpu->impl, h, d, (size_t)n * sizeof *h), 0);
    return h;
}
static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < ndbufs; ++i) gpu->free(gpu->impl, dbufs[i]);
    for (int i = 0; i < nhbufs; ++i) free(hbufs[i]);
    ndbufs = nhbufs = 0;
    return 0;
}

/* a float buffer on both sides */
typedef struct twin {
    float *h, *d;
    int64_t n;
} twin;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double urand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}
static float frand(double lo, double hi) { return (float)(lo + (hi - lo) * urand()); }

static twin tw_from(const float *h, int64_t n) {
    twin t = {halloc((size_t)n * sizeof(float)), NULL, n};
    memcpy(t.h, h, (size_t)n * sizeof(float));
    t.d = to_dev(t.h, (size_t)n * sizeof(float));
    return t;
}
static twin tw_rand(int64_t n, double lo, double hi) {
    float *h = halloc((size_t)n * sizeof *h);
    for (int64_t i = 0; i < n; ++i) h[i] = frand(lo, hi);
    return tw_from(h, n);
}
static twin tw_int(int64_t n, int lo, int hi) { /* integers in [lo, hi] as floats */
    float *h = halloc((size_t)n * sizeof *h);
    for (int64_t i = 0; i < n; ++i) h[i] = (float)(lo + (int)floor(urand() * (hi - lo + 1)));
    return tw_from(h, n);
}
static twin tw_fill(int64_t n, float v) { /* e.g. outputs, the same start on both sides */
    float *h = halloc((size_t)n * sizeof *h);
    for (int64_t i = 0; i < n; ++i) h[i] = v;
    return tw_from(h, n);
}

/* ---- comparison --------------------------------------------------------------------------- */

static int agree(double want, double got, double rtol, double atol) {
    if (isnan(want) || isnan(got)) return isnan(want) && isnan(got);
    if (isinf(want) || isinf(got)) return want == got;
    return fabs(want - got) <= rtol * fmax(fabs(want), fabs(got)) + atol;
}

/* Compares the CPU's values with the device's; up to `allowed` elements may differ (samplers
 * whose rejection tests could round differently in rare cases), never a NaN/Inf placement
 * beyond those. Returns the number that differ. */
static int64_t expect_close(const char *what, const float *want, const float *got, int64_t n,
                            double rtol, double atol, int64_t allowed) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i)
        if (!agree(want[i], got[i], rtol, atol)) {
            if (bad < 5)
                print_message("  %s[%lld]: cpu %.9g, gpu %.9g\n", what, (long long)i, want[i], got[i]);
            ++bad;
        }
    if (bad > allowed)
        fail_msg("%s: %lld of %lld elements differ (allowed %lld)", what, (long long)bad, (long long)n,
                 (long long)allowed);
    return bad;
}
static void tw_check(const char *what, twin t, double rtol, double atol) {
    expect_close(what, t.h, from_dev(t.d, t.n), t.n, rtol, atol, 0);
}
/* Elements [n, t.n) of the device copy are still t.h's (bit for bit): an op given the first n
 * wrote nothing past them. */
static void tw_check_guard(const char *what, twin t, int64_t n) {
    const float *d = from_dev(t.d, t.n);
    for (int64_t i = n; i < t.n; ++i)
        if (memcmp(&d[i], &t.h[i], sizeof *d) != 0)
            fail_msg("%s: element %lld past the %lld written was overwritten (%.9g, was %.9g)", what,
                     (long long)i, (long long)n, d[i], t.h[i]);
}

#define RTOL 1e-5
#define ATOL 1e-5

/* ---- kernel arguments --------------------------------------------------------------------- */

static tre_kshape kshape(int ndim, const int64_t *dim) {
    tre_kshape s;
    memset(&s, 0, sizeof s);
    s.ndim = ndim;
    for (int d = 0; d < ndim; ++d) s.dim[d] = dim[d];
    return s;
}
typedef struct kpair {
    tre_karg h, d;
} kpair;
static kpair kp(twin t, int ndim, const int64_t *stride) {
    kpair k;
    memset(&k, 0, sizeof k);
    k.h.data = t.h;
    k.d.data = t.d;
    for (int d = 0; d < ndim; ++d) k.h.stride[d] = k.d.stride[d] = stride[d];
    return k;
}
static kpair kp_none(void) {
    kpair k;
    memset(&k, 0, sizeof k);
    return k;
}

/* ---- the table ---------------------------------------------------------------------------- */

/* Every entry the CPU backend fills, the CUDA backend fills too: an interface entry added
 * without its CUDA kernel would otherwise go unnoticed until a model reached it. (Everything
 * after `impl` in tre_backend is a function pointer.) */
static void test_table_complete(void **state) {
    (void)state;
    typedef void (*fnptr)(void);
    const size_t first = offsetof(tre_backend, alloc);
    const size_t n = (sizeof(tre_backend) - first) / sizeof(fnptr);
    for (size_t i = 0; i < n; ++i) {
        fnptr fc, fg;
        memcpy(&fc, (const char *)cpu + first + i * sizeof(fnptr), sizeof fc);
        memcpy(&fg, (const char *)gpu + first + i * sizeof(fnptr), sizeof fg);
        if (fc && !fg) fail_msg("backend entry %zu (after alloc) has a CPU kernel but no CUDA one", i);
    }
}

/* ---- elementwise ops ---------------------------------------------------------------------- */

/* no_nan (backend.h): true only where the output really has no NaN */
static void expect_no_nan_claim(const char *what, bool no_nan, twin o) {
    if (!no_nan) return;
    const float *d = from_dev(o.d, o.n);
    for (int64_t i = 0; i < o.n; ++i)
        if (isnan(d[i])) fail_msg("%s: no_nan set, but element %lld is NaN", what, (long long)i);
}

/* A mask of 0/1 with the other values a mask may hold, uploaded: a NaN and nonzero values other
 * than 1 (negative, fractional) keep their element, -0 drops it (mask != 0, as on the CPU). */
static void odd_mask_values(twin m) {
    assert_true(m.n >= 16);
    m.h[10] = NAN, m.h[11] = -1.f, m.h[12] = 0.5f, m.h[13] = -0.f, m.h[14] = 1e-30f, m.h[15] = -2.f;
    assert_int_equal(gpu->upload(gpu->impl, m.d, m.h, (size_t)m.n * sizeof(float)), 0);
}

static void test_binary_unary_mask(void **state) {
    (void)state;
    const int64_t dim[3] = {3, 4, 5}, sa[3] = {20, 5, 1}, sb[3] = {0, 1, 0}, sc[3] = {0, 0, 1};
    tre_kshape s = kshape(3, dim);
    twin a = tw_rand(60, -3, 3), b = tw_rand(4, -2, 2), c = tw_rand(5, -1, 1);
    b.h[2] = 0.f; /* division by zero: Inf and NaN in the same places */
    a.h[7] = 0.f;
    a.h[11] = NAN;
    assert_int_equal(gpu->upload(gpu->impl, b.d, b.h, 4 * sizeof(float)), 0);
    assert_int_equal(gpu->upload(gpu->impl, a.d, a.h, 60 * sizeof(float)), 0);
    kpair ka = kp(a, 3, sa), kb = kp(b, 3, sb), kc = kp(c, 3, sc);
    for (int op = TRE_OP_ADD; op <= TRE_OP_DIV; ++op) {
        twin o = tw_fill(60, 0.f);
        bool no_nan = true; /* the device may only claim it where it checked */
        assert_int_equal(cpu->binary(cpu->impl, (tre_binop)op, &s, o.h, &ka.h, &kb.h, NULL), 0);
        assert_int_equal(gpu->binary(gpu->impl, (tre_binop)op, &s, o.d, &ka.d, &kb.d, &no_nan), 0);
        tw_check("binary a.b", o, RTOL, 0);
        expect_no_nan_claim("binary", no_nan, o);
        twin o2 = tw_fill(60, 0.f);
        assert_int_equal(cpu->binary(cpu->impl, (tre_binop)op, &s, o2.h, &kc.h, &ka.h, NULL), 0);
        assert_int_equal(gpu->binary(gpu->impl, (tre_binop)op, &s, o2.d, &kc.d, &ka.d, NULL), 0);
        tw_check("binary c.a", o2, RTOL, 0);
    }

    enum { N = 2000 };
    float xs[N];
    for (int i = 0; i < N; ++i) xs[i] = i % 3 ? frand(-12, 12) : frand(-0.99, 3);
    xs[0] = 0.f, xs[1] = -0.f, xs[2] = NAN, xs[3] = INFINITY, xs[4] = -INFINITY, xs[5] = 1e-30f;
    xs[6] = 90.f, xs[7] = -110.f, xs[8] = 0.5f, xs[9] = 1.f;
    twin x = tw_from(xs, N);
    for (int op = TRE_OP_NEG; op <= TRE_OP_TETRAGAMMA; ++op) { /* every unary op */
        twin o = tw_fill(N, 0.f);
        bool no_nan = true;
        assert_int_equal(cpu->unary(cpu->impl, (tre_unop)op, N, o.h, x.h, NULL), 0);
        assert_int_equal(gpu->unary(gpu->impl, (tre_unop)op, N, o.d, x.d, &no_nan), 0);
        char what[32];
        snprintf(what, sizeof what, "unary op %d", op);
        tw_check(what, o, RTOL, 1e-6);
        expect_no_nan_claim(what, no_nan, o);
    }

    twin m = tw_int(20, 0, 1);
    odd_mask_values(m);
    const int64_t sm[3] = {0, 5, 1};
    kpair km = kp(m, 3, sm);
    twin o = tw_fill(60, 0.f), o2 = tw_fill(60, 0.f);
    assert_int_equal(cpu->mask_scale(cpu->impl, &s, o.h, &ka.h, &km.h, 0.25f), 0);
    assert_int_equal(gpu->mask_scale(gpu->impl, &s, o.d, &ka.d, &km.d, 0.25f), 0);
    tw_check("mask_scale", o, 0, 0);
    assert_int_equal(cpu->mask_scale(cpu->impl, &s, o2.h, &kb.h, NULL, -3.f), 0);
    assert_int_equal(gpu->mask_scale(gpu->impl, &s, o2.d, &kb.d, NULL, -3.f), 0);
    tw_check("scale", o2, 0, 0);

    twin f = tw_fill(1001, 0.f);
    for (int64_t i = 0; i < f.n; ++i) f.h[i] = 2.5f;
    assert_int_equal(gpu->fill(gpu->impl, f.d, 2.5f, f.n), 0);
    tw_check("fill", f, 0, 0);
    twin g = tw_fill(1001, 1.f);
    assert_int_equal(gpu->copy(gpu->impl, g.d, f.d, 500 * sizeof(float)), 0);
    for (int i = 0; i < 500; ++i) g.h[i] = 2.5f;
    tw_check("copy", g, 0, 0);
    /* overlapping copy: memmove semantics */
    assert_int_equal(gpu->copy(gpu->impl, g.d + 10, g.d, 600 * sizeof(float)), 0);
    memmove(g.h + 10, g.h, 600 * sizeof(float));
    tw_check("overlapping copy", g, 0, 0);
    /* a large upload goes through the staging halves in pieces */
    twin big = tw_rand((int64_t)5 << 20, -1, 1);
    tw_check("upload/download 20 MiB", big, 0, 0);
}

/* ---- reductions and index ops ------------------------------------------------------------- */

static void test_sums(void **state) {
    (void)state;
    const int64_t shapes[][2] = {{1, 300000}, {3, 100000}, {1000, 50}, {100000, 3}, {7, 3000},
                                 {70000, 100}, {5, 0}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; ++c) {
        const int64_t rows = shapes[c][0], cols = shapes[c][1];
        twin in = tw_rand(rows * cols, -1, 2), out = tw_fill(rows, -7.f);
        assert_int_equal(cpu->sum_rows(cpu->impl, rows, cols, in.h, out.h), 0);
        assert_int_equal(gpu->sum_rows(gpu->impl, rows, cols, in.d, out.d), 0);
        tw_check("sum_rows", out, RTOL, 1e-6);
    }
    /* dot_rows: rows of 5 (a shared [N, D] times per-particle rows), of 300, with the second
     * argument broadcast along the summed dim, and of none (each row's sum is 0) */
    const int64_t dcase[4][3] = {{3, 70, 5}, {2, 9, 300}, {4, 33, 6}, {2, 3, 0}};
    for (int c = 0; c < 4; ++c) {
        const int64_t P = dcase[c][0], N = dcase[c][1], D = dcase[c][2];
        const int64_t dim[3] = {P, N, D}, sa[3] = {0, D, 1};
        const int64_t sb[3] = {N * D, D, 1}, sb_bcast[3] = {N, 1, 0};
        tre_kshape s = kshape(3, dim);
        twin a = tw_rand(N * D, -2, 2), b = tw_rand(P * N * D, -2, 2), out = tw_fill(P * N, -7.f);
        kpair ka = kp(a, 3, sa), kb = kp(b, 3, c == 2 ? sb_bcast : sb);
        assert_int_equal(cpu->dot_rows(cpu->impl, &s, out.h, &ka.h, &kb.h), 0);
        assert_int_equal(gpu->dot_rows(gpu->impl, &s, out.d, &ka.d, &kb.d), 0);
        tw_check("dot_rows", out, RTOL, 1e-5);
    }
    /* reduce_sum over every choice of summed dims of a [P, 6, 5, 7] gradient */
    const int64_t dim[4] = {40, 6, 5, 7};
    tre_kshape s = kshape(4, dim);
    twin in = tw_rand(40 * 6 * 5 * 7, -1, 1);
    for (int keep = 0; keep < 16; ++keep) {
        int64_t ost[4], size = 1;
        for (int d = 3; d >= 0; --d)
            if (keep >> d & 1) {
                ost[d] = size;
                size *= dim[d];
            } else {
                ost[d] = 0;
            }
        twin out = tw_fill(size, 0.f);
        assert_int_equal(cpu->reduce_sum(cpu->impl, &s, in.h, out.h, ost), 0);
        assert_int_equal(gpu->reduce_sum(gpu->impl, &s, in.d, out.d, ost), 0);
        tw_check("reduce_sum", out, RTOL, 1e-5);
    }
    /* both sides of an outer difference [P, M, L] -> [P, M, 1] and [P, 1, L] in one call (the
     * CPU's one-pass path) */
    {
        const int64_t pdim[3] = {40, 30, 70}, sa[3] = {30, 1, 0}, sb[3] = {70, 0, 1};
        tre_kshape ps = kshape(3, pdim);
        twin pin = tw_rand(40 * 30 * 70, -1, 1), oa = tw_fill(40 * 30, 0.f), ob = tw_fill(40 * 70, 0.f);
        assert_int_equal(cpu->reduce_sum_pair(cpu->impl, &ps, pin.h, oa.h, sa, ob.h, sb), 0);
        assert_int_equal(gpu->reduce_sum_pair(gpu->impl, &ps, pin.d, oa.d, sa, ob.d, sb), 0);
        tw_check("reduce_sum_pair a", oa, RTOL, 1e-5);
        tw_check("reduce_sum_pair b", ob, RTOL, 1e-5);
    }
    /* a long reduction to one slot (a shared param's gradient over P x N) */
    const int64_t dim2[2] = {1000, 3000}, ost2[2] = {0, 0};
    tre_kshape s2 = kshape(2, dim2);
    twin in2 = tw_rand(1000 * 3000, -1, 1), out2 = tw_fill(1, 0.f);
    assert_int_equal(cpu->reduce_sum(cpu->impl, &s2, in2.h, out2.h, ost2), 0);
    assert_int_equal(gpu->reduce_sum(gpu->impl, &s2, in2.d, out2.d, ost2), 0);
    tw_check("reduce_sum to one slot", out2, RTOL, 1e-3);
}

/* dot_rows: the products are rounded to float before they are added in double (backend.h),
 * against that sum on the host. Either backend may add in another order, which moves a row's
 * float by an ulp only where the double sum sits on a rounding boundary (a few rows at most);
 * products left in double would move most rows. And a shape of one dim is one row. */
static void test_dot_rows_rounding(void **state) {
    (void)state;
    const int64_t P = 8, N = 40, D = 64, dim[3] = {P, N, D}, sa[3] = {0, D, 1}, sb[3] = {N * D, D, 1};
    tre_kshape s = kshape(3, dim);
    twin a = tw_rand(N * D, -2, 2), b = tw_rand(P * N * D, -2, 2), out = tw_fill(P * N, -7.f);
    float *cpu_out = halloc((size_t)(P * N) * sizeof(float));
    kpair ka = kp(a, 3, sa), kb = kp(b, 3, sb);
    assert_int_equal(cpu->dot_rows(cpu->impl, &s, cpu_out, &ka.h, &kb.h), 0);
    assert_int_equal(gpu->dot_rows(gpu->impl, &s, out.d, &ka.d, &kb.d), 0);
    for (int64_t p = 0; p < P; ++p)
        for (int64_t r = 0; r < N; ++r) {
            double acc = 0.0;
            for (int64_t c = 0; c < D; ++c) {
                const float prod = a.h[r * D + c] * b.h[(p * N + r) * D + c];
                acc += prod;
            }
            out.h[p * N + r] = (float)acc;
        }
    expect_close("dot_rows (cpu, float products)", out.h, cpu_out, out.n, 0, 0, out.n / 50);
    expect_close("dot_rows (float products)", out.h, from_dev(out.d, out.n), out.n, 0, 0, out.n / 50);

    const int64_t dim1[1] = {300}, st1[1] = {1};
    tre_kshape s1 = kshape(1, dim1);
    twin a1 = tw_rand(300, -2, 2), b1 = tw_rand(300, -2, 2), o1 = tw_fill(1, -7.f);
    kpair ka1 = kp(a1, 1, st1), kb1 = kp(b1, 1, st1);
    assert_int_equal(cpu->dot_rows(cpu->impl, &s1, o1.h, &ka1.h, &kb1.h), 0);
    assert_int_equal(gpu->dot_rows(gpu->impl, &s1, o1.d, &ka1.d, &kb1.d), 0);
    tw_check("dot_rows over one dim", o1, RTOL, 1e-5);
}

static void test_index_ops(void **state) {
    (void)state;
    const int64_t outer = 6, n = 10, inner = 4, k = 7;
    const int32_t index[7] = {3, 1, 3, 9, 0, 3, 1}; /* repeats: the adjoint adds them in order */
    int32_t *d_index = to_dev(index, sizeof index);
    twin in = tw_rand(outer * n * inner, -1, 1), out = tw_fill(outer * k * inner, 0.f);
    assert_int_equal(cpu->gather(cpu->impl, outer, n, inner, index, k, in.h, out.h), 0);
    assert_int_equal(gpu->gather(gpu->impl, outer, n, inner, d_index, k, in.d, out.d), 0);
    tw_check("gather", out, 0, 0);
    twin g = tw_rand(outer * k * inner, -1, 1), acc = tw_rand(outer * n * inner, -1, 1);
    assert_int_equal(cpu->scatter_add(cpu->impl, outer, n, inner, index, k, g.h, acc.h), 0);
    assert_int_equal(gpu->scatter_add(gpu->impl, outer, n, inner, d_index, k, g.d, acc.d), 0);
    tw_check("scatter_add", acc, 0, 0); /* same float adds in the same order */
    /* dot products with gathered rows: x shared, then per outer row */
    for (int xs = 0; xs < 2; ++xs) {
        twin x = tw_rand(outer * k * inner, -1, 1), dots = tw_fill(outer * k, -7.f);
        const int64_t xstride = xs ? k * inner : 0;
        assert_int_equal(cpu->dot_gathered_rows(cpu->impl, outer, n, inner, index, k, in.h, x.h, xstride, dots.h), 0);
        assert_int_equal(gpu->dot_gathered_rows(gpu->impl, outer, n, inner, d_index, k, in.d, x.d, xstride, dots.d), 0);
        tw_check("dot_gathered_rows", dots, 0, 0); /* the same sums in the same order */
    }
    /* the scaled form (gathered rows dotted with x): x shared, then per outer row */
    for (int xs = 0; xs < 2; ++xs) {
        twin sc = tw_rand(outer * k, -1, 1), x = tw_rand(outer * k * inner, -1, 1);
        twin acc_s = tw_rand(outer * n * inner, -1, 1);
        const int64_t xstride = xs ? k * inner : 0;
        assert_int_equal(cpu->scatter_add_scaled(cpu->impl, outer, n, inner, index, k, sc.h, x.h, xstride, acc_s.h), 0);
        assert_int_equal(gpu->scatter_add_scaled(gpu->impl, outer, n, inner, d_index, k, sc.d, x.d, xstride, acc_s.d), 0);
        tw_check("scatter_add_scaled", acc_s, 0, 0);
    }

    /* rows picked many times each (k >= 8 n: the CPU's grouped loops), x shared */
    {
        const int64_t gouter = 4, gn = 3, ginner = 5, gk = 40;
        int32_t gindex[40];
        for (int j = 0; j < gk; ++j) gindex[j] = (int32_t)((j * 5 + j / 7) % gn);
        int32_t *d_gindex = to_dev(gindex, sizeof gindex);
        twin gw = tw_rand(gouter * gn * ginner, -1, 1), gx = tw_rand(gk * ginner, -1, 1);
        twin gdots = tw_fill(gouter * gk, -7.f), gs = tw_rand(gouter * gk, -1, 1);
        twin gacc = tw_rand(gouter * gn * ginner, -1, 1);
        assert_int_equal(cpu->dot_gathered_rows(cpu->impl, gouter, gn, ginner, gindex, gk, gw.h, gx.h, 0, gdots.h), 0);
        assert_int_equal(gpu->dot_gathered_rows(gpu->impl, gouter, gn, ginner, d_gindex, gk, gw.d, gx.d, 0, gdots.d), 0);
        tw_check("dot_gathered_rows (grouped)", gdots, 0, 0);
        assert_int_equal(cpu->scatter_add_scaled(cpu->impl, gouter, gn, ginner, gindex, gk, gs.h, gx.h, 0, gacc.h), 0);
        assert_int_equal(gpu->scatter_add_scaled(gpu->impl, gouter, gn, ginner, d_gindex, gk, gs.d, gx.d, 0, gacc.d), 0);
        tw_check("scatter_add_scaled (grouped)", gacc, 0, 0);
    }

    /* a subsample-sized scatter: 1000 distinct rows of 5000 */
    enum { BIGN = 5000, BIGK = 1000 };
    static int32_t idx2[BIGK];
    for (int i = 0; i < BIGK; ++i) idx2[i] = (int32_t)((i * 7919) % BIGN);
    int32_t *d_idx2 = to_dev(idx2, sizeof idx2);
    twin g2 = tw_rand(3 * BIGK * 2, -1, 1), acc2 = tw_fill(3 * BIGN * 2, 0.f);
    assert_int_equal(cpu->scatter_add(cpu->impl, 3, BIGN, 2, idx2, BIGK, g2.h, acc2.h), 0);
    assert_int_equal(gpu->scatter_add(gpu->impl, 3, BIGN, 2, d_idx2, BIGK, g2.d, acc2.d), 0);
    tw_check("scatter_add (subsample)", acc2, 0, 0);

    /* take and its adjoint: per-particle or shared values, per-particle or shared indices, some
     * of them out of range (-1 and K: unchecked indices give NaN and add nothing) */
    const int64_t P = 64, N = 700, K = 5;
    for (int vs = 0; vs < 2; ++vs)
        for (int is = 0; is < 2; ++is) {
            const int64_t vstride = vs ? K : 0, istride = is ? N : 0;
            twin values = tw_rand(vs ? P * K : K, -3, 3), ix = tw_int(is ? P * N : N, -1, (int)K);
            twin o = tw_fill(P * N, 0.f);
            assert_int_equal(cpu->take(cpu->impl, P, N, values.h, vstride, K, ix.h, istride, o.h), 0);
            assert_int_equal(gpu->take(gpu->impl, P, N, values.d, vstride, K, ix.d, istride, o.d), 0);
            tw_check("take", o, 0, 0);
            twin gg = tw_rand(P * N, -1, 1), gv = tw_fill(vs ? P * K : K, 0.f);
            assert_int_equal(cpu->take_backward(cpu->impl, P, N, gg.h, ix.h, istride, gv.h, vstride, K), 0);
            assert_int_equal(gpu->take_backward(gpu->impl, P, N, gg.d, ix.d, istride, gv.d, vstride, K), 0);
            tw_check("take_backward", gv, 0, 0);
        }
}

/* Indices no one checked (a graph's replay; the host checks them otherwise) outside [0, n), for
 * n of 7, 8 and 10 (the device sorts them to key 2^bits - 1, which is n - 1 or n for the first
 * two): a gather and a gathered row's dot product give NaN, and the adjoints add nothing for
 * them and write nothing outside their rows. The CPU backend assumes checked indices, so the
 * references are closed forms, or the CPU's adjoints over the in-range positions alone. */
static void test_out_of_range_indices(void **state) {
    (void)state;
    enum { OUTER = 3, INNER = 2, KI = 9, GUARD = 16 }; /* GUARD: past index -5 and n + 3 */
    const int64_t ns[3] = {7, 8, 10};
    for (int c = 0; c < 3; ++c) {
        const int64_t n = ns[c], rows = OUTER * n * INNER;
        const int32_t index[KI] = {2, -1, 0, (int32_t)n, 2, (int32_t)n - 1, -5, (int32_t)n + 3, 0};
        int32_t *d_index = to_dev(index, sizeof index);
        int32_t kept[KI]; /* the in-range positions, in order */
        int64_t pos[KI], nk = 0;
        for (int64_t j = 0; j < KI; ++j)
            if (index[j] >= 0 && index[j] < n) kept[nk] = index[j], pos[nk++] = j;
        twin in = tw_rand(rows, -1, 1), x = tw_rand(KI * INNER, -1, 1);
        twin out = tw_fill(OUTER * KI * INNER, 7.f), dots = tw_fill(OUTER * KI, 7.f);
        assert_int_equal(gpu->gather(gpu->impl, OUTER, n, INNER, d_index, KI, in.d, out.d), 0);
        assert_int_equal(gpu->dot_gathered_rows(gpu->impl, OUTER, n, INNER, d_index, KI, in.d, x.d, 0, dots.d), 0);
        for (int64_t o = 0; o < OUTER; ++o)
            for (int64_t j = 0; j < KI; ++j) {
                const int ok = index[j] >= 0 && index[j] < n;
                const float *row = in.h + (o * n + (ok ? index[j] : 0)) * INNER;
                double acc = 0.0;
                for (int64_t i = 0; i < INNER; ++i) {
                    out.h[(o * KI + j) * INNER + i] = ok ? row[i] : NAN;
                    acc += (double)(x.h[j * INNER + i] * row[i]);
                }
                dots.h[o * KI + j] = ok ? (float)acc : NAN;
            }
        tw_check("gather (indices out of range)", out, 0, 0);
        tw_check("dot_gathered_rows (indices out of range)", dots, 0, 0);
        /* the adjoints, into the middle of a buffer whose ends must stay as they were */
        twin g = tw_rand(OUTER * KI * INNER, -1, 1), sc = tw_rand(OUTER * KI, -1, 1);
        twin xs = tw_rand(OUTER * KI * INNER, -1, 1);
        float *gk = halloc((size_t)(OUTER * KI * INNER) * sizeof(float));
        float *xk = halloc((size_t)(OUTER * KI * INNER) * sizeof(float)), *sk = halloc(OUTER * KI * sizeof(float));
        for (int64_t o = 0; o < OUTER; ++o)
            for (int64_t e = 0; e < nk; ++e) {
                sk[o * nk + e] = sc.h[o * KI + pos[e]];
                for (int64_t i = 0; i < INNER; ++i) {
                    gk[(o * nk + e) * INNER + i] = g.h[(o * KI + pos[e]) * INNER + i];
                    xk[(o * nk + e) * INNER + i] = xs.h[(o * KI + pos[e]) * INNER + i];
                }
            }
        twin acc = tw_rand(rows + 2 * GUARD, -1, 1), acc2 = tw_rand(rows + 2 * GUARD, -1, 1);
        assert_int_equal(cpu->scatter_add(cpu->impl, OUTER, n, INNER, kept, nk, gk, acc.h + GUARD), 0);
        assert_int_equal(gpu->scatter_add(gpu->impl, OUTER, n, INNER, d_index, KI, g.d, acc.d + GUARD), 0);
        tw_check("scatter_add (indices out of range)", acc, 0, 0);
        assert_int_equal(cpu->scatter_add_scaled(cpu->impl, OUTER, n, INNER, kept, nk, sk, xk, nk * INNER,
                                                 acc2.h + GUARD), 0);
        assert_int_equal(gpu->scatter_add_scaled(gpu->impl, OUTER, n, INNER, d_index, KI, sc.d, xs.d, KI * INNER,
                                                 acc2.d + GUARD), 0);
        tw_check("scatter_add_scaled (indices out of range)", acc2, 0, 0);
    }
    /* take_backward (the CPU checks its indices): -1 and K add nothing, not even to the slot
     * just past the values (the shared row's sort keys them K); gvalues is added to, not set */
    const int64_t P = 6, N = 50, K = 4;
    for (int vs = 0; vs < 2; ++vs) {
        const int64_t vstride = vs ? K : 0, nv = vs ? P * K : K;
        twin ix = tw_int(P * N, -1, (int)K), gg = tw_rand(P * N, -1, 1), gv = tw_rand(nv + GUARD, -1, 1);
        assert_int_equal(cpu->take_backward(cpu->impl, P, N, gg.h, ix.h, N, gv.h, vstride, K), 0);
        assert_int_equal(gpu->take_backward(gpu->impl, P, N, gg.d, ix.d, N, gv.d, vstride, K), 0);
        tw_check("take_backward (indices out of range)", gv, 0, 0);
    }
}

/* ---- matrix products, Adam, transforms, validation ---------------------------------------- */

static void test_gemm(void **state) {
    (void)state;
    const int64_t M = 37, N = 19, K = 23, batch = 3;
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb)
            for (int shared = 0; shared < 3; ++shared) {
                /* shared: 0 none, 1 A shared over the batch, 2 B shared */
                const int64_t lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
                const int64_t sA = shared == 1 ? 0 : M * K, sB = shared == 2 ? 0 : K * N;
                twin A = tw_rand(shared == 1 ? M * K : batch * M * K, -1, 1);
                twin B = tw_rand(shared == 2 ? K * N : batch * K * N, -1, 1);
                twin C = tw_rand(batch * M * N, -1, 1);
                const float beta = shared ? 0.5f : 0.f;
                assert_int_equal(cpu->gemm(cpu->impl, ta, tb, M, N, K, 1.5f, A.h, lda, sA, B.h, ldb, sB,
                                           beta, C.h, ldc, M * N, batch), 0);
                assert_int_equal(gpu->gemm(gpu->impl, ta, tb, M, N, K, 1.5f, A.d, lda, sA, B.d, ldb, sB,
                                           beta, C.d, ldc, M * N, batch), 0);
                tw_check("gemm", C, RTOL, 2e-6 * K);
                twin C1 = tw_rand(M * N, -1, 1);
                assert_int_equal(cpu->gemm(cpu->impl, ta, tb, M, N, K, 1.f, A.h, lda, 0, B.h, ldb, 0,
                                           1.f, C1.h, ldc, 0, 1), 0);
                assert_int_equal(gpu->gemm(gpu->impl, ta, tb, M, N, K, 1.f, A.d, lda, 0, B.d, ldb, 0,
                                           1.f, C1.d, ldc, 0, 1), 0);
                tw_check("gemm batch 1", C1, RTOL, 2e-6 * K);
            }
    /* the logistic-regression shape: X [N, D] times P particles' w [D] */
    twin X = tw_rand(2000 * 50, -1, 1), W = tw_rand(256 * 50, -1, 1), Y = tw_fill(256 * 2000, 0.f);
    assert_int_equal(cpu->gemm(cpu->impl, 0, 1, 2000, 256, 50, 1.f, X.h, 50, 0, W.h, 50, 0, 0.f, Y.h,
                               256, 0, 1), 0);
    assert_int_equal(gpu->gemm(gpu->impl, 0, 1, 2000, 256, 50, 1.f, X.d, 50, 0, W.d, 50, 0, 0.f, Y.d,
                               256, 0, 1), 0);
    tw_check("gemm X w^T", Y, RTOL, 1e-4);
    /* a batch past 65535 (P = 65536 particles and more): the device splits it into calls */
    const int64_t nb = 65537;
    twin Ab = tw_rand(nb * 2 * 3, -1, 1), Bb = tw_rand(3 * 4, -1, 1), Cb = tw_fill(nb * 2 * 4, 0.f);
    assert_int_equal(cpu->gemm(cpu->impl, 0, 0, 2, 4, 3, 1.f, Ab.h, 3, 6, Bb.h, 4, 0, 0.f, Cb.h, 4, 8, nb), 0);
    assert_int_equal(gpu->gemm(gpu->impl, 0, 0, 2, 4, 3, 1.f, Ab.d, 3, 6, Bb.d, 4, 0, 0.f, Cb.d, 4, 8, nb), 0);
    tw_check("gemm batch of 65537", Cb, RTOL, 1e-5);

    /* nothing to add (K = 0, a product over an empty dim; or alpha = 0, with NaN in A and B
     * that must not be read): C = beta C, once a product for a shared C; beta = 0 does not
     * read C either (a NaN there goes) */
    twin An = tw_fill(3 * M * K, NAN), Bn = tw_fill(3 * K * N, NAN);
    for (int c = 0; c < 6; ++c) {
        const int64_t k = c < 3 ? 0 : K, sC = c % 3 == 2 ? 0 : M * N, prods = c % 3 ? 3 : 1;
        const float alpha = c < 3 ? 1.f : 0.f, beta = c % 3 == 0 ? 0.f : 0.5f;
        twin Cz = tw_rand(3 * M * N, -1, 1);
        Cz.h[1] = beta == 0.f ? NAN : Cz.h[1];
        assert_int_equal(gpu->upload(gpu->impl, Cz.d, Cz.h, (size_t)Cz.n * sizeof(float)), 0);
        assert_int_equal(cpu->gemm(cpu->impl, 0, 0, M, N, k, alpha, An.h, k, M * k, Bn.h, N, k * N, beta, Cz.h,
                                   N, sC, prods), 0);
        assert_int_equal(gpu->gemm(gpu->impl, 0, 0, M, N, k, alpha, An.d, k, M * k, Bn.d, N, k * N, beta, Cz.d, N,
                                   sC, prods), 0);
        tw_check(c < 3 ? "gemm with K = 0" : "gemm with alpha = 0", Cz, 0, 0);
    }
}

/* the logistic-regression likelihood (bernoulli_glm_sum): fused on the CPU, composed of gemm and
 * a segmented sum on the device; shapes off the CPU's tiles, and one particle over many rows
 * (the device's sum then splits each particle: its scratch sits behind the logits); no data
 * (each sum 0, written over what was there) and no particles */
static void test_bernoulli_glm(void **state) {
    (void)state;
    const int64_t shapes[][3] = {{1, 5000, 3}, {13, 130, 7}, {256, 2000, 50}, {3, 0, 4}, {0, 40, 3}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; ++s) {
        const int64_t P = shapes[s][0], n = shapes[s][1], d = shapes[s][2];
        twin X = tw_rand(n * d + 1, -1, 1), W = tw_rand(P * d, -1.5, 1.5), Y = tw_int(n + 1, 0, 1);
        twin out = tw_fill(P, 7.f), grad = tw_fill(P * d, 7.f), out2 = tw_fill(P, 7.f);
        assert_int_equal(cpu->bernoulli_glm_sum(cpu->impl, P, n, d, X.h, W.h, Y.h, 0.5f, out.h, grad.h), 0);
        assert_int_equal(gpu->bernoulli_glm_sum(gpu->impl, P, n, d, X.d, W.d, Y.d, 0.5f, out.d, grad.d), 0);
        tw_check("bernoulli_glm_sum", out, RTOL, 1e-5 * (double)(n + 1));
        tw_check("bernoulli_glm_sum grad", grad, RTOL, 1e-5 * (double)(n + 1));
        assert_int_equal(cpu->bernoulli_glm_sum(cpu->impl, P, n, d, X.h, W.h, Y.h, 0.5f, out2.h, NULL), 0);
        assert_int_equal(gpu->bernoulli_glm_sum(gpu->impl, P, n, d, X.d, W.d, Y.d, 0.5f, out2.d, NULL), 0);
        tw_check("bernoulli_glm_sum value only", out2, RTOL, 1e-5 * (double)(n + 1));
    }
}

/* the item-response likelihood (bernoulli_outer_sum): one fused pass on the CPU, three
 * segmented sums on CUDA; rows of the grid not a multiple of 16, shared and per-particle b; an
 * empty grid either way (every output written, as 0) */
static void test_bernoulli_outer(void **state) {
    (void)state;
    const int64_t shapes[][3] = {{1, 40, 3}, {7, 23, 37}, {64, 400, 100}, {3, 0, 5}, {3, 5, 0}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; ++s) {
        const int64_t P = shapes[s][0], M = shapes[s][1], N = shapes[s][2];
        for (int shared = 0; shared < 2; ++shared) {
            const int64_t bs = shared ? 0 : N;
            const float sign = shared ? 1.f : -1.f;
            twin A = tw_rand(P * M + 1, -3, 3), B = tw_rand(P * N + 1, -3, 3), Y = tw_int(M * N + 1, 0, 1);
            twin out = tw_fill(P, 7.f), ga = tw_fill(P * M + 1, 7.f), gb = tw_fill(P * N + 1, 7.f);
            assert_int_equal(cpu->bernoulli_outer_sum(cpu->impl, P, M, N, A.h, M, B.h, bs, sign, Y.h, 0.5f,
                                                      out.h, ga.h, gb.h), 0);
            assert_int_equal(gpu->bernoulli_outer_sum(gpu->impl, P, M, N, A.d, M, B.d, bs, sign, Y.d, 0.5f,
                                                      out.d, ga.d, gb.d), 0);
            tw_check("bernoulli_outer_sum", out, RTOL, 1e-5 * (double)(M * N + 1));
            tw_check("bernoulli_outer_sum ga", ga, RTOL, 1e-5 * (double)(N + 1));
            tw_check("bernoulli_outer_sum gb", gb, RTOL, 1e-5 * (double)(M + 1));
        }
    }
}

static void test_adam(void **state) {
    (void)state;
    const int64_t n = 3001;
    const float clips[2] = {0.f, 0.3f}, wds[2] = {0.f, 0.01f};
    for (int c = 0; c < 2; ++c) {
        twin u = tw_rand(n, -2, 2), g = tw_rand(n, -1, 1), m = tw_rand(n, -0.1, 0.1), v = tw_rand(n, 0, 0.1);
        for (int step = 0; step < 3; ++step) {
            assert_int_equal(cpu->adam_update(cpu->impl, n, u.h, g.h, m.h, v.h, 0.9f, 0.999f, 1e-8f, wds[c],
                                              clips[c], 0.01f, 0.05f), 0);
            assert_int_equal(gpu->adam_update(gpu->impl, n, u.d, g.d, m.d, v.d, 0.9f, 0.999f, 1e-8f, wds[c],
                                              clips[c], 0.01f, 0.05f), 0);
        }
        tw_check("adam u", u, RTOL, 1e-6);
        tw_check("adam m", m, RTOL, 1e-7);
        tw_check("adam v", v, RTOL, 1e-9);
    }
}

static void test_transforms(void **state) {
    (void)state;
    const int64_t rows = 500, k = 6;
    twin u = tw_rand(rows * (k - 1), -4, 4), y = tw_fill(rows * k, 0.f), back = tw_fill(rows * (k - 1), 0.f);
    twin ld = tw_fill(rows, 0.f);
    assert_int_equal(cpu->simplex(cpu->impl, 0, rows, k, y.h, u.h), 0);
    assert_int_equal(gpu->simplex(gpu->impl, 0, rows, k, y.d, u.d), 0);
    tw_check("simplex", y, RTOL, 1e-7);
    assert_int_equal(cpu->simplex(cpu->impl, 1, rows, k, back.h, y.h), 0);
    assert_int_equal(gpu->simplex(gpu->impl, 1, rows, k, back.d, y.d), 0);
    tw_check("simplex inverse", back, RTOL, 1e-5);
    assert_int_equal(cpu->simplex_log_det(cpu->impl, rows, k, ld.h, u.h), 0);
    assert_int_equal(gpu->simplex_log_det(gpu->impl, rows, k, ld.d, u.d), 0);
    tw_check("simplex log det", ld, RTOL, ATOL);

    const int64_t batch = 30, n = 5;
    twin a = tw_rand(batch * n * n, -2, 2), L = tw_fill(batch * n * n, 9.f), a2 = tw_fill(batch * n * n, 9.f);
    twin ldl = tw_fill(batch, 0.f);
    assert_int_equal(cpu->lower_cholesky(cpu->impl, 0, batch, n, L.h, a.h), 0);
    assert_int_equal(gpu->lower_cholesky(gpu->impl, 0, batch, n, L.d, a.d), 0);
    tw_check("lower_cholesky", L, RTOL, 0);
    assert_int_equal(cpu->lower_cholesky(cpu->impl, 1, batch, n, a2.h, L.h), 0);
    assert_int_equal(gpu->lower_cholesky(gpu->impl, 1, batch, n, a2.d, L.d), 0);
    tw_check("lower_cholesky inverse", a2, RTOL, 1e-6);
    twin gs = tw_rand(rows * k, -1, 1), gu = tw_fill(rows * (k - 1), 0.f);
    assert_int_equal(cpu->simplex_backward(cpu->impl, rows, k, u.h, gs.h, gu.h), 0);
    assert_int_equal(gpu->simplex_backward(gpu->impl, rows, k, u.d, gs.d, gu.d), 0);
    tw_check("simplex backward", gu, RTOL, 1e-6);
    twin gL = tw_rand(batch * n * n, -1, 1), ga = tw_fill(batch * n * n, 0.f);
    assert_int_equal(cpu->lower_cholesky_backward(cpu->impl, batch, n, a.h, gL.h, ga.h), 0);
    assert_int_equal(gpu->lower_cholesky_backward(gpu->impl, batch, n, a.d, gL.d, ga.d), 0);
    tw_check("lower_cholesky backward", ga, RTOL, 1e-6);
    assert_int_equal(cpu->lower_cholesky_log_det(cpu->impl, batch, n, ldl.h, a.h), 0);
    assert_int_equal(gpu->lower_cholesky_log_det(gpu->impl, batch, n, ldl.d, a.d), 0);
    tw_check("lower_cholesky log det", ldl, RTOL, 1e-6);
}

static void test_validate(void **state) {
    (void)state;
    const int64_t dim[2] = {8, 1000}, sx[2] = {1000, 1}, sa[2] = {0, 1}, sb[2] = {0, 0};
    tre_kshape s = kshape(2, dim);
    twin x = tw_rand(8000, -0.5, 3.5), a = tw_rand(1000, 1, 3), b = tw_fill(1, 2.5f);
    for (int i = 0; i < 8000; i += 3) x.h[i] = floorf(x.h[i]);
    x.h[5] = NAN;
    x.h[6] = INFINITY;
    assert_int_equal(gpu->upload(gpu->impl, x.d, x.h, 8000 * sizeof(float)), 0);
    kpair kx = kp(x, 2, sx), ka = kp(a, 2, sa), kb = kp(b, 2, sb), kn = kp_none();
    for (int c = TRE_CHECK_NOT_NAN; c <= TRE_CHECK_GREATER_THAN_C; ++c) {
        const int two = c == TRE_CHECK_BETWEEN, one = c == TRE_CHECK_INTEGER_UPTO || c == TRE_CHECK_LESS_THAN;
        const kpair *pa = two || one ? &ka : &kn, *pb = two ? &kb : &kn;
        int64_t nc = -1, ng = -2;
        assert_int_equal(cpu->validate(cpu->impl, (tre_kcheck)c, &s, &kx.h, &pa->h, &pb->h, 2.f, &nc), 0);
        assert_int_equal(gpu->validate(gpu->impl, (tre_kcheck)c, &s, &kx.d, &pa->d, &pb->d, 2.f, &ng), 0);
        if (nc != ng) fail_msg("validate check %d: cpu counts %lld, gpu %lld", c, (long long)nc, (long long)ng);
    }
}

/* ---- elementwise families ---------------------------------------------------------------- */

typedef struct famspec {
    tre_kdist kind;
    const char *name;
    int np;
    double lo[3], hi[3]; /* parameter ranges */
    int integer_param;   /* parameter index that holds integers (total_count), else -1 */
    double xlo, xhi;     /* value range */
    int x_integer;       /* values are counts or booleans */
    int exact_draws;     /* draws by rejection or thresholds: compared by count of mismatches */
    int rgrad;           /* reparameterized: rsample_backward exists */
    /* bit a: d log p / d arg a is IEEE arithmetic alone (k / rate - 1 in double, ...) times the
     * float factor, rounded once to float: the same bits on both backends */
    unsigned exact_grads;
} famspec;

static const famspec fams[] = {
    {TRE_KDIST_NORMAL, "Normal", 2, {-2, 0.3}, {2, 3}, -1, -5, 5, 0, 0, 1, 0},
    {TRE_KDIST_LOG_NORMAL, "LogNormal", 2, {-1, 0.3}, {1, 2}, -1, 0.01, 5, 0, 0, 1, 0},
    {TRE_KDIST_HALF_NORMAL, "HalfNormal", 1, {0.3}, {3}, -1, 0, 5, 0, 0, 1, 0},
    {TRE_KDIST_CAUCHY, "Cauchy", 2, {-2, 0.3}, {2, 3}, -1, -10, 10, 0, 0, 1, 0},
    {TRE_KDIST_HALF_CAUCHY, "HalfCauchy", 1, {0.3}, {3}, -1, 0, 10, 0, 0, 1, 0},
    {TRE_KDIST_LAPLACE, "Laplace", 2, {-2, 0.3}, {2, 3}, -1, -5, 5, 0, 0, 1, 0},
    {TRE_KDIST_STUDENT_T, "StudentT", 3, {0.5, -2, 0.3}, {10, 2, 3}, -1, -5, 5, 0, 1, 1, 0},
    {TRE_KDIST_UNIFORM, "Uniform", 2, {-2, 1}, {-1, 2}, -1, -2.5, 2.5, 0, 0, 1, 0},
    {TRE_KDIST_EXPONENTIAL, "Exponential", 1, {0.3}, {3}, -1, 0, 5, 0, 0, 1, 0},
    {TRE_KDIST_GAMMA, "Gamma", 2, {0.2, 0.3}, {5, 3}, -1, 0.01, 5, 0, 1, 1, 0},
    {TRE_KDIST_BETA, "Beta", 2, {0.3, 0.3}, {5, 5}, -1, 0.01, 0.99, 0, 1, 1, 0},
    {TRE_KDIST_DELTA, "Delta", 2, {-2, -1}, {2, 1}, -1, -2, 2, 0, 0, 1, 0},
    {TRE_KDIST_BERNOULLI_PROBS, "Bernoulli(probs)", 1, {0.05}, {0.95}, -1, 0, 1, 1, 1, 0, 0},
    {TRE_KDIST_BERNOULLI_LOGITS, "Bernoulli(logits)", 1, {-4}, {4}, -1, 0, 1, 1, 1, 0, 0},
    {TRE_KDIST_POISSON, "Poisson", 1, {0.5}, {30}, -1, 0, 40, 1, 1, 0, 1u << 1},
    {TRE_KDIST_BINOMIAL_PROBS, "Binomial", 2, {20, 0.05}, {60, 0.95}, 0, 0, 20, 1, 1, 0, 1u << 2},
};

/* Layout of the family tests: particles P, inner shape [7, 43]; the value and parameter 0 vary
 * by particle and element, parameter 1 by the last dim only, parameter 2 is a scalar; the mask
 * is shared by the particles. */
#define FP 4
#define FA 7
#define FB 43
#define FN (FA * FB)

typedef struct famcase {
    twin x, p[3], mask, g;
    int64_t pn[3]; /* elements per parameter */
} famcase;

static const int64_t st_full[3] = {FN, FB, 1}, st_row[3] = {0, 0, 1}, st_scalar[3] = {0, 0, 0};
static const int64_t *pstrides3(int i) { return i == 0 ? st_full : i == 1 ? st_row : st_scalar; }

static twin param_twin(const famspec *f, int i, int64_t n) {
    return i == f->integer_param ? tw_int(n, (int)f->lo[i], (int)f->hi[i]) : tw_rand(n, f->lo[i], f->hi[i]);
}

static famcase make_case(const famspec *f, int P) {
    famcase c;
    memset(&c, 0, sizeof c);
    const int64_t pn[3] = {P * FN, FB, 1};
    for (int i = 0; i < f->np; ++i) {
        c.pn[i] = pn[i];
        c.p[i] = param_twin(f, i, pn[i]);
    }
    c.x = f->x_integer ? tw_int(P * FN, (int)f->xlo, (int)f->xhi) : tw_rand(P * FN, f->xlo, f->xhi);
    if (f->kind == TRE_KDIST_DELTA) /* half the values hit v exactly */
        for (int64_t e = 0; e < P * FN; e += 2) c.x.h[e] = c.p[0].h[e];
    c.x.h[3] = NAN; /* a NaN value: NaN in the same place */
    assert_int_equal(gpu->upload(gpu->impl, c.x.d, c.x.h, (size_t)(P * FN) * sizeof(float)), 0);
    c.mask = tw_int(FN, 0, 1);
    c.mask.h[3] = 0.f; /* the NaN of particle 0 is masked out in the sums */
    odd_mask_values(c.mask);
    c.g = tw_rand(P * FN, -1, 1);
    return c;
}

static void check_family(const famspec *f) {
    char what[96];
    const int64_t dim3[3] = {FP, FA, FB}, inner_dim[2] = {FA, FB};
    famcase c = make_case(f, FP);
    /* log_prob, materialized over [P, 7, 43] */
    tre_kshape s = kshape(3, dim3);
    kpair kx = kp(c.x, 3, st_full), kparams[3];
    tre_karg ph[3], pd[3];
    for (int i = 0; i < 3; ++i) {
        kparams[i] = i < f->np ? kp(c.p[i], 3, pstrides3(i)) : kp_none();
        ph[i] = kparams[i].h;
        pd[i] = kparams[i].d;
    }
    twin lp = tw_fill(FP * FN, 0.f);
    assert_int_equal(cpu->log_prob(cpu->impl, f->kind, &s, lp.h, &kx.h, ph), 0);
    assert_int_equal(gpu->log_prob(gpu->impl, f->kind, &s, lp.d, &kx.d, pd), 0);
    snprintf(what, sizeof what, "%s log_prob", f->name);
    tw_check(what, lp, RTOL, ATOL);

    /* log_prob_sum over the inner [7, 43], masked and scaled, one number per particle */
    tre_kshape in = kshape(2, inner_dim);
    tre_karg ah[TRE_KDIST_ARGS], ad[TRE_KDIST_ARGS];
    int64_t pstride[TRE_KDIST_ARGS] = {FN, FN, 0, 0, 0};
    const int64_t ist_full[2] = {FB, 1}, ist_row[2] = {0, 1}, ist_scalar[2] = {0, 0};
    const int64_t *ist[3] = {ist_full, ist_row, ist_scalar};
    kpair ax = kp(c.x, 2, ist_full), am = kp(c.mask, 2, ist_full);
    ah[0] = ax.h, ad[0] = ax.d;
    for (int i = 0; i < TRE_KDIST_MAX_PARAMS; ++i) {
        kpair k = i < f->np ? kp(c.p[i], 2, ist[i]) : kp_none();
        ah[1 + i] = k.h, ad[1 + i] = k.d;
    }
    for (int masked = 0; masked < 2; ++masked) {
        kpair km = masked ? am : kp_none();
        ah[TRE_KDIST_ARGS - 1] = km.h, ad[TRE_KDIST_ARGS - 1] = km.d;
        twin sum = tw_fill(FP, 0.f);
        assert_int_equal(cpu->log_prob_sum(cpu->impl, f->kind, FP, &in, sum.h, ah, pstride, 0.7f), 0);
        assert_int_equal(gpu->log_prob_sum(gpu->impl, f->kind, FP, &in, sum.d, ad, pstride, 0.7f), 0);
        snprintf(what, sizeof what, "%s log_prob_sum%s", f->name, masked ? " (masked)" : "");
        tw_check(what, sum, RTOL, 1e-4);
    }
    /* its gradients: value and every parameter, upstream g per particle, mask, scale */
    ah[TRE_KDIST_ARGS - 1] = am.h, ad[TRE_KDIST_ARGS - 1] = am.d;
    kpair kg = kp(c.g, 2, ist_full);
    twin grads[1 + TRE_KDIST_MAX_PARAMS];
    float *gh[1 + TRE_KDIST_MAX_PARAMS] = {NULL}, *gd[1 + TRE_KDIST_MAX_PARAMS] = {NULL};
    for (int a = 0; a <= f->np; ++a) {
        grads[a] = tw_fill(FP * FN, 0.f);
        gh[a] = grads[a].h;
        gd[a] = grads[a].d;
    }
    assert_int_equal(cpu->log_prob_backward(cpu->impl, f->kind, FP, &in, ah, pstride, &kg.h, FN, 0.7f, gh), 0);
    assert_int_equal(gpu->log_prob_backward(gpu->impl, f->kind, FP, &in, ad, pstride, &kg.d, FN, 0.7f, gd), 0);
    for (int a = 0; a <= f->np; ++a) {
        snprintf(what, sizeof what, "%s d log_prob / d arg %d", f->name, a);
        const int exact = f->exact_grads >> a & 1;
        tw_check(what, grads[a], exact ? 0 : RTOL, exact ? 0 : ATOL);
    }
    /* the same summed per particle (for arguments that are one number per particle) */
    if (cpu->log_prob_backward_sum) {
        assert_non_null(gpu->log_prob_backward_sum);
        twin sums[1 + TRE_KDIST_MAX_PARAMS];
        for (int a = 0; a <= f->np; ++a) {
            sums[a] = tw_fill(FP, 0.f);
            gh[a] = a == 1 ? NULL : sums[a].h; /* one left out: NULL outputs are skipped */
            gd[a] = a == 1 ? NULL : sums[a].d;
        }
        assert_int_equal(cpu->log_prob_backward_sum(cpu->impl, f->kind, FP, &in, ah, pstride, &kg.h, FN, 0.7f, gh), 0);
        assert_int_equal(gpu->log_prob_backward_sum(gpu->impl, f->kind, FP, &in, ad, pstride, &kg.d, FN, 0.7f, gd), 0);
        for (int a = 0; a <= f->np; ++a) {
            snprintf(what, sizeof what, "%s sum of d log_prob / d arg %d", f->name, a);
            tw_check(what, sums[a], RTOL, 1e-4);
        }
    }

    /* draws over [3, 7, 43] (903 elements: the last Philox block is partly used, and the
     * 4 floats after them are left alone) */
    const int64_t dim_s[3] = {3, FA, FB};
    tre_kshape ss = kshape(3, dim_s);
    twin draws = tw_fill(3 * FN + 4, -7.f);
    const uint64_t seed = 0x1234567890abull, stream = 77;
    assert_int_equal(cpu->sample(cpu->impl, f->kind, &ss, draws.h, ph, seed, stream), 0);
    assert_int_equal(gpu->sample(gpu->impl, f->kind, &ss, draws.d, pd, seed, stream), 0);
    snprintf(what, sizeof what, "%s sample", f->name);
    expect_close(what, draws.h, from_dev(draws.d, draws.n), 3 * FN, RTOL, 1e-6,
                 f->exact_draws ? 1 + draws.n / 10000 : 0);
    tw_check_guard(what, draws, 3 * FN);
    if (!f->rgrad) {
        float *gz[3] = {NULL};
        assert_int_not_equal(gpu->rsample_backward(gpu->impl, f->kind, &ss, draws.d, pd, c.g.d, gz), 0);
        return;
    }
    /* pathwise gradients at the CPU's draws */
    twin x = tw_from(draws.h, 3 * FN);
    twin rg[3];
    float *rh[3] = {NULL}, *rd[3] = {NULL};
    for (int i = 0; i < f->np; ++i) {
        rg[i] = tw_fill(3 * FN, 0.f);
        rh[i] = rg[i].h;
        rd[i] = rg[i].d;
    }
    assert_int_equal(cpu->rsample_backward(cpu->impl, f->kind, &ss, x.h, ph, c.g.h, rh), 0);
    assert_int_equal(gpu->rsample_backward(gpu->impl, f->kind, &ss, x.d, pd, c.g.d, rd), 0);
    for (int i = 0; i < f->np; ++i) {
        snprintf(what, sizeof what, "%s d draw / d param %d", f->name, i);
        tw_check(what, rg[i], RTOL, ATOL);
    }
}

static void test_families(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof fams / sizeof fams[0]; ++i) {
        print_message("%s\n", fams[i].name);
        check_family(&fams[i]);
        teardown(NULL);
    }
    /* a whole family table: every kernel id with an elementwise kernel is covered above */
    assert_int_equal((int)(sizeof fams / sizeof fams[0]), TRE_KDIST_COUNT);
}

/* A scaled log_prob_sum is rounded to float once, after the scale (scale * sum in double, as the
 * CPU backend does): with Delta terms (each its log_density, x == v) of floats in [0.5, 1), the
 * double sums are exact in any order, so both backends give the closed form's bits. */
static void test_log_prob_sum_rounding(void **state) {
    (void)state;
    const int64_t P = 64, NN = 120, inner_dim[1] = {NN}, st1[1] = {1};
    const float scale = 0.7f;
    tre_kshape in = kshape(1, inner_dim);
    twin x = tw_rand(P * NN, -3, 3), ld = tw_fill(P * NN, 0.f), sum = tw_fill(P, 0.f);
    for (int64_t i = 0; i < P * NN; ++i) ld.h[i] = (float)((i % 3 ? 1 : -1) * (0.5 + 0.5 * urand()));
    assert_int_equal(gpu->upload(gpu->impl, ld.d, ld.h, (size_t)ld.n * sizeof(float)), 0);
    const kpair args[TRE_KDIST_ARGS] = {kp(x, 1, st1), kp(x, 1, st1), kp(ld, 1, st1), kp_none(), kp_none()};
    tre_karg ah[TRE_KDIST_ARGS], ad[TRE_KDIST_ARGS];
    for (int a = 0; a < TRE_KDIST_ARGS; ++a) ah[a] = args[a].h, ad[a] = args[a].d;
    int64_t pstride[TRE_KDIST_ARGS] = {NN, NN, NN, 0, 0};
    float *cpu_sum = halloc(P * sizeof(float));
    assert_int_equal(cpu->log_prob_sum(cpu->impl, TRE_KDIST_DELTA, P, &in, cpu_sum, ah, pstride, scale), 0);
    assert_int_equal(gpu->log_prob_sum(gpu->impl, TRE_KDIST_DELTA, P, &in, sum.d, ad, pstride, scale), 0);
    for (int64_t p = 0; p < P; ++p) {
        double acc = 0.0;
        for (int64_t i = 0; i < NN; ++i) acc += ld.h[p * NN + i];
        sum.h[p] = (float)((double)scale * acc);
    }
    expect_close("Delta log_prob_sum, scaled (cpu)", sum.h, cpu_sum, P, 0, 0, 0);
    tw_check("Delta log_prob_sum, scaled", sum, 0, 0);
}

/* ---- structured families ------------------------------------------------------------------ */

static void test_categorical(void **state) {
    (void)state;
    /* rows [P=5, 40]; logits shared by the particles (strides 0, K) or per particle */
    const int64_t P = 5, R = 40, K = 6, dim[2] = {P, R};
    tre_kshape rows = kshape(2, dim);
    for (int per_particle = 0; per_particle < 2; ++per_particle) {
        twin lq = tw_rand(per_particle ? P * R * K : R * K, -3, 3), lp2 = tw_rand(R * K, -3, 3);
        lq.h[4] = -INFINITY; /* a category of weight 0 */
        assert_int_equal(gpu->upload(gpu->impl, lq.d, lq.h, (size_t)lq.n * sizeof(float)), 0);
        const int64_t sl[2] = {per_particle ? R * K : 0, K}, sv[2] = {R, 1}, sp2[2] = {0, K};
        twin v = tw_int(P * R, 0, (int)K - 1);
        v.h[7] = 2.5f; /* outside the support: NaN */
        assert_int_equal(gpu->upload(gpu->impl, v.d, v.h, (size_t)(P * R) * sizeof(float)), 0);
        kpair kl = kp(lq, 2, sl), kv = kp(v, 2, sv), kl2 = kp(lp2, 2, sp2);
        twin out = tw_fill(P * R, 0.f);
        assert_int_equal(cpu->categorical_log_prob(cpu->impl, &rows, K, out.h, &kl.h, &kv.h), 0);
        assert_int_equal(gpu->categorical_log_prob(gpu->impl, &rows, K, out.d, &kl.d, &kv.d), 0);
        tw_check("categorical log_prob", out, RTOL, ATOL);
        twin g = tw_rand(P * R, -1, 1), gl = tw_fill(P * R * K, 0.f);
        assert_int_equal(cpu->categorical_log_prob_backward(cpu->impl, &rows, K, g.h, &kl.h, &kv.h, gl.h), 0);
        assert_int_equal(gpu->categorical_log_prob_backward(gpu->impl, &rows, K, g.d, &kl.d, &kv.d, gl.d), 0);
        tw_check("categorical log_prob grad", gl, RTOL, ATOL);
        if (!per_particle) { /* logits every particle shares: the gradient summed over them */
            twin gs = tw_fill(R * K, 0.f);
            assert_int_equal(cpu->categorical_log_prob_backward_shared(cpu->impl, P, R, K, g.h, lq.h, K, v.h, R, 1, gs.h), 0);
            assert_int_equal(gpu->categorical_log_prob_backward_shared(gpu->impl, P, R, K, g.d, lq.d, K, v.d, R, 1, gs.d), 0);
            tw_check("categorical shared-logits grad", gs, RTOL, ATOL);
            /* ... which is the per-particle gradient summed over the particles */
            float summed[40 * 6];
            for (int64_t i = 0; i < R * K; ++i) {
                double acc = 0.0;
                for (int64_t p = 0; p < P; ++p) acc += gl.h[p * R * K + i];
                summed[i] = (float)acc;
            }
            expect_close("shared-logits grad vs summed per-particle grads", summed, gs.h, R * K, RTOL, ATOL, 0);
        }
        twin draws = tw_fill(P * R, -1.f);
        assert_int_equal(cpu->categorical_sample(cpu->impl, &rows, K, draws.h, &kl.h, 99, 5), 0);
        assert_int_equal(gpu->categorical_sample(gpu->impl, &rows, K, draws.d, &kl.d, 99, 5), 0);
        expect_close("categorical sample", draws.h, from_dev(draws.d, draws.n), draws.n, 0, 0, 1);
        twin kl_out = tw_fill(P * R, 0.f), gp = tw_fill(P * R * K, 0.f), gq = tw_fill(P * R * K, 0.f);
        assert_int_equal(cpu->categorical_kl(cpu->impl, &rows, K, kl_out.h, &kl2.h, &kl.h), 0);
        assert_int_equal(gpu->categorical_kl(gpu->impl, &rows, K, kl_out.d, &kl2.d, &kl.d), 0);
        tw_check("categorical kl", kl_out, RTOL, ATOL);
        assert_int_equal(cpu->categorical_kl_backward(cpu->impl, &rows, K, g.h, &kl.h, &kl2.h, gp.h, gq.h), 0);
        assert_int_equal(gpu->categorical_kl_backward(gpu->impl, &rows, K, g.d, &kl.d, &kl2.d, gp.d, gq.d), 0);
        tw_check("categorical kl grad p", gp, RTOL, ATOL);
        tw_check("categorical kl grad q", gq, RTOL, ATOL);
    }
}

/* Categorical layouts the zoo does not reach: a value every particle shares (rows at stride 0)
 * scored by per-particle logits; one of the KL's two gradients asked for (the other left as it
 * was); the shared-logits gradient with the values stored [M, P] (vstride0 1, vstride1 P) and
 * padded logits rows (lstride > k), over rows enough that their double scratch (k a row) takes
 * more than one launch (64 MiB: 4200 rows of 2048). */
static void test_categorical_layouts(void **state) {
    (void)state;
    const int64_t P = 4, R = 30, K = 5, dim[2] = {P, R}, sl[2] = {R * K, K}, sv[2] = {0, 1};
    tre_kshape rows = kshape(2, dim);
    twin l = tw_rand(P * R * K, -3, 3), l2 = tw_rand(P * R * K, -3, 3), v = tw_int(R, 0, (int)K - 1);
    twin g = tw_rand(P * R, -1, 1), out = tw_fill(P * R, 0.f), gl = tw_fill(P * R * K, 0.f);
    kpair kl = kp(l, 2, sl), kl2 = kp(l2, 2, sl), kv = kp(v, 2, sv);
    assert_int_equal(cpu->categorical_log_prob(cpu->impl, &rows, K, out.h, &kl.h, &kv.h), 0);
    assert_int_equal(gpu->categorical_log_prob(gpu->impl, &rows, K, out.d, &kl.d, &kv.d), 0);
    tw_check("categorical log_prob (shared value)", out, RTOL, ATOL);
    assert_int_equal(cpu->categorical_log_prob_backward(cpu->impl, &rows, K, g.h, &kl.h, &kv.h, gl.h), 0);
    assert_int_equal(gpu->categorical_log_prob_backward(gpu->impl, &rows, K, g.d, &kl.d, &kv.d, gl.d), 0);
    tw_check("categorical log_prob grad (shared value)", gl, RTOL, ATOL);
    for (int side = 0; side < 2; ++side) {
        twin gp = tw_fill(P * R * K, 7.f), gq = tw_fill(P * R * K, 7.f);
        assert_int_equal(cpu->categorical_kl_backward(cpu->impl, &rows, K, g.h, &kl.h, &kl2.h, side ? NULL : gp.h,
                                                      side ? gq.h : NULL), 0);
        assert_int_equal(gpu->categorical_kl_backward(gpu->impl, &rows, K, g.d, &kl.d, &kl2.d, side ? NULL : gp.d,
                                                      side ? gq.d : NULL), 0);
        tw_check("categorical kl grad p (one side asked for)", gp, RTOL, ATOL);
        tw_check("categorical kl grad q (one side asked for)", gq, RTOL, ATOL);
    }
    const int64_t PS = 3, M = 4200, KB = 2048, LS = KB + 3;
    twin sl2 = tw_rand(M * LS, -2, 2), sg = tw_rand(PS * M, -1, 1), sval = tw_int(M * PS, 0, (int)KB - 1);
    twin sgrad = tw_fill(M * KB, 7.f);
    assert_int_equal(cpu->categorical_log_prob_backward_shared(cpu->impl, PS, M, KB, sg.h, sl2.h, LS, sval.h, 1,
                                                               PS, sgrad.h), 0);
    assert_int_equal(gpu->categorical_log_prob_backward_shared(gpu->impl, PS, M, KB, sg.d, sl2.d, LS, sval.d, 1,
                                                               PS, sgrad.d), 0);
    tw_check("categorical shared-logits grad (values [M, P], many rows)", sgrad, RTOL, ATOL);
}

/* n x n lower-triangular matrices with a positive diagonal, `count` of them */
static twin tw_tril(int64_t count, int64_t n) {
    float *h = halloc((size_t)(count * n * n) * sizeof *h);
    for (int64_t b = 0; b < count; ++b)
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < n; ++j)
                h[(b * n + i) * n + j] = j > i ? 0.f : (j == i ? frand(0.5, 2) : frand(-0.5, 0.5));
    return tw_from(h, count * n * n);
}

static void test_mvn(void **state) {
    (void)state;
    const int64_t dims[2] = {3, 20};
    for (int di = 0; di < 2; ++di) {
        const int64_t d = dims[di], P = 6, R = 9, dim[2] = {P, R};
        tre_kshape rows = kshape(2, dim);
        twin x = tw_rand(P * R * d, -3, 3), loc = tw_rand(R * d, -1, 1), L = tw_tril(1, d);
        twin loc2 = tw_rand(P * d, -1, 1), L2 = tw_tril(P, d);
        const int64_t sx[2] = {R * d, d}, sloc[2] = {0, d}, sL[2] = {0, 0}, sloc2[2] = {d, 0}, sL2[2] = {d * d, 0};
        kpair kx = kp(x, 2, sx), kloc = kp(loc, 2, sloc), kL = kp(L, 2, sL), kloc2 = kp(loc2, 2, sloc2),
              kL2 = kp(L2, 2, sL2);
        twin out = tw_fill(P * R, 0.f);
        assert_int_equal(cpu->mvn_log_prob(cpu->impl, &rows, d, out.h, &kx.h, &kloc.h, &kL2.h), 0);
        assert_int_equal(gpu->mvn_log_prob(gpu->impl, &rows, d, out.d, &kx.d, &kloc.d, &kL2.d), 0);
        tw_check("mvn log_prob", out, RTOL, 1e-4);
        twin g = tw_rand(P * R, -1, 1), gx = tw_fill(P * R * d, 0.f), gl = tw_fill(P * R * d, 0.f),
             gL = tw_fill(P * R * d * d, 0.f);
        assert_int_equal(cpu->mvn_log_prob_backward(cpu->impl, &rows, d, g.h, &kx.h, &kloc.h, &kL2.h, gx.h, gl.h, gL.h), 0);
        assert_int_equal(gpu->mvn_log_prob_backward(gpu->impl, &rows, d, g.d, &kx.d, &kloc.d, &kL2.d, gx.d, gl.d, gL.d), 0);
        tw_check("mvn grad value", gx, RTOL, ATOL);
        tw_check("mvn grad loc", gl, RTOL, ATOL);
        tw_check("mvn grad scale_tril", gL, RTOL, ATOL);
        twin draws = tw_fill(P * R * d, 0.f);
        assert_int_equal(cpu->mvn_sample(cpu->impl, &rows, d, draws.h, &kloc.h, &kL.h, 4242, 3), 0);
        assert_int_equal(gpu->mvn_sample(gpu->impl, &rows, d, draws.d, &kloc.d, &kL.d, 4242, 3), 0);
        tw_check("mvn sample", draws, RTOL, 1e-6);
        twin gd = tw_rand(P * R * d, -1, 1), gLs = tw_fill(P * R * d * d, 0.f);
        assert_int_equal(cpu->mvn_rsample_backward(cpu->impl, P * R, d, gd.h, 4242, 3, gLs.h), 0);
        assert_int_equal(gpu->mvn_rsample_backward(gpu->impl, P * R, d, gd.d, 4242, 3, gLs.d), 0);
        tw_check("mvn rsample grad", gLs, RTOL, ATOL);
        twin kl = tw_fill(P * R, 0.f);
        assert_int_equal(cpu->mvn_kl(cpu->impl, &rows, d, kl.h, &kloc2.h, &kL2.h, &kloc.h, &kL.h), 0);
        assert_int_equal(gpu->mvn_kl(gpu->impl, &rows, d, kl.d, &kloc2.d, &kL2.d, &kloc.d, &kL.d), 0);
        tw_check("mvn kl", kl, RTOL, 1e-4);
        twin g1 = tw_fill(P * R * d, 0.f), g2 = tw_fill(P * R * d * d, 0.f), g3 = tw_fill(P * R * d, 0.f),
             g4 = tw_fill(P * R * d * d, 0.f);
        assert_int_equal(cpu->mvn_kl_backward(cpu->impl, &rows, d, g.h, &kloc2.h, &kL2.h, &kloc.h, &kL.h,
                                              g1.h, g2.h, g3.h, g4.h), 0);
        assert_int_equal(gpu->mvn_kl_backward(gpu->impl, &rows, d, g.d, &kloc2.d, &kL2.d, &kloc.d, &kL.d,
                                              g1.d, g2.d, g3.d, g4.d), 0);
        tw_check("mvn kl grad p loc", g1, RTOL, ATOL);
        tw_check("mvn kl grad p tril", g2, RTOL, 1e-4);
        tw_check("mvn kl grad q loc", g3, RTOL, ATOL);
        tw_check("mvn kl grad q tril", g4, RTOL, 1e-4);
    }
}

/* ---- whole ELBO evaluations through the public API --------------------------------------- */

#define ZN 60 /* data size of the models */
typedef struct zdata {
    tre_tensor *x, *xpos, *unit, *counts, *bits, *cats;
    tre_tensor *feats, *group; /* [ZN, 3] features, [ZN] int32 group of each datum (2 groups) */
    bool discrete; /* the zoo with its score-function sites (TraceMeanField_ELBO: without) */
} zdata;

/* conjugate Normal, with a plate */
static tre_tensor *conj_model(tre_ctx *c, const void *args) {
    const zdata *d = args;
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 3.f)), NULL);
    tre_plate(c, "data", ZN, 0);
    tre_sample(c, "obs", tre_normal(c, mu, tre_scalar(c, 1.f)), d->x);
    tre_plate_end(c);
    return mu;
}
static tre_tensor *conj_guide(tre_ctx *c, const void *args) {
    (void)args;
    tre_tensor *loc = tre_param(c, "q_loc", tre_scalar(c, 0.4f), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "q_scale", tre_scalar(c, 0.5f), TRE_C_POSITIVE);
    return tre_sample(c, "mu", tre_normal(c, loc, scale), NULL);
}

/* Every family in one model: reparameterized guide sites of each continuous family, score-
 * function sites (Categorical, Bernoulli, Poisson), a Dirichlet and an MVN, a mixture through
 * take, a masked and a scaled site, a subsampled plate (gather / scatter-add) and a matmul. */
static tre_tensor *zoo_guide(tre_ctx *c, const void *args) {
    const zdata *dd = args;
    const int64_t three = 3, k3[2] = {3, 3}, zk[2] = {ZN, 3};
    tre_sample(c, "mu", tre_normal(c, tre_param(c, "mu_loc", tre_scalar(c, 0.3f), TRE_C_REAL),
                                   tre_param(c, "mu_scale", tre_scalar(c, 0.4f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "tau", tre_gamma(c, tre_param(c, "tau_a", tre_scalar(c, 3.f), TRE_C_POSITIVE),
                                   tre_param(c, "tau_b", tre_scalar(c, 2.f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "p", tre_beta(c, tre_param(c, "p_a", tre_scalar(c, 2.f), TRE_C_POSITIVE),
                                tre_param(c, "p_b", tre_scalar(c, 3.f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "lam", tre_log_normal(c, tre_param(c, "lam_loc", tre_scalar(c, 1.f), TRE_C_REAL),
                                        tre_param(c, "lam_scale", tre_scalar(c, 0.3f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "hn", tre_half_normal(c, tre_param(c, "hn_scale", tre_scalar(c, 1.f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "hc", tre_half_cauchy(c, tre_param(c, "hc_scale", tre_scalar(c, 0.5f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "ex", tre_exponential(c, tre_param(c, "ex_rate", tre_scalar(c, 2.f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "un", tre_uniform(c, tre_param(c, "un_lo", tre_scalar(c, -1.f), TRE_C_REAL),
                                    tre_param(c, "un_hi", tre_scalar(c, 1.5f), TRE_C_GREATER_THAN(0.f))), NULL);
    tre_sample(c, "la", tre_laplace(c, tre_param(c, "la_loc", tre_scalar(c, 0.1f), TRE_C_REAL),
                                    tre_param(c, "la_scale", tre_scalar(c, 0.7f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "ca", tre_cauchy(c, tre_param(c, "ca_loc", tre_scalar(c, -0.2f), TRE_C_REAL),
                                   tre_param(c, "ca_scale", tre_scalar(c, 0.3f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "st", tre_student_t(c, tre_param(c, "st_df", tre_scalar(c, 4.f), TRE_C_POSITIVE),
                                      tre_param(c, "st_loc", tre_scalar(c, 0.2f), TRE_C_REAL),
                                      tre_param(c, "st_scale", tre_scalar(c, 0.6f), TRE_C_POSITIVE)), NULL);
    tre_sample(c, "w", tre_dirichlet(c, tre_param(c, "w_conc", tre_full(c, 1, &three, 2.f), TRE_C_POSITIVE)), NULL);
    float eye[9] = {1, 0, 0, 0.2f, 0.8f, 0, -0.1f, 0.3f, 0.6f};
    tre_sample(c, "v", tre_multivariate_normal(c, tre_param(c, "v_loc", tre_full(c, 1, &three, 0.5f), TRE_C_REAL),
                                               tre_param(c, "v_tril", tre_from_host(c, 1, 2, k3, eye),
                                                         TRE_C_LOWER_CHOLESKY)), NULL);
    tre_sample(c, "d", tre_delta(c, tre_param(c, "d_v", tre_scalar(c, 0.25f), TRE_C_REAL), NULL), NULL);
    if (dd->discrete) {
        tre_sample(c, "k", tre_poisson(c, tre_param(c, "k_rate", tre_scalar(c, 3.f), TRE_C_POSITIVE)), NULL);
        tre_sample(c, "b", tre_bernoulli_probs(c, tre_param(c, "b_p", tre_scalar(c, 0.3f), TRE_C_UNIT_INTERVAL)), NULL);
        tre_tensor *zl = tre_param(c, "z_logits", tre_full(c, 2, zk, 0.1f), TRE_C_REAL);
        tre_plate(c, "data", ZN, 0);
        tre_sample(c, "z", tre_categorical_logits(c, zl), NULL);
        tre_plate_end(c);
    }
    const int64_t g3[2] = {2, 3};
    tre_plate(c, "groups", 2, 0);
    tre_sample(c, "gw", tre_dist_to_event(c, tre_normal(c, tre_param(c, "gw_loc", tre_full(c, 2, g3, 0.2f), TRE_C_REAL),
                                                        tre_param(c, "gw_scale", tre_full(c, 2, g3, 0.5f), TRE_C_POSITIVE)),
                                          1),
               NULL);
    tre_plate_end(c);
    tre_plate(c, "sub", ZN, 15); /* its indices are replayed into the model */
    tre_plate_end(c);
    return NULL;
}

static tre_tensor *zoo_model(tre_ctx *c, const void *args) {
    const zdata *d = args;
    const int64_t three = 3, k3[2] = {3, 3};
    tre_tensor *zero = tre_scalar(c, 0.f), *one = tre_scalar(c, 1.f);
    tre_tensor *mu = tre_sample(c, "mu", tre_normal(c, zero, tre_scalar(c, 2.f)), NULL);
    tre_tensor *tau = tre_sample(c, "tau", tre_gamma(c, tre_scalar(c, 2.f), one), NULL);
    tre_tensor *p = tre_sample(c, "p", tre_beta(c, tre_scalar(c, 2.f), tre_scalar(c, 2.f)), NULL);
    tre_tensor *lam = tre_sample(c, "lam", tre_log_normal(c, one, one), NULL);
    tre_tensor *hn = tre_sample(c, "hn", tre_half_normal(c, one), NULL);
    tre_tensor *hc = tre_sample(c, "hc", tre_half_cauchy(c, one), NULL);
    tre_tensor *ex = tre_sample(c, "ex", tre_exponential(c, one), NULL);
    tre_sample(c, "un", tre_uniform(c, tre_scalar(c, -2.f), tre_scalar(c, 2.f)), NULL);
    tre_tensor *la = tre_sample(c, "la", tre_laplace(c, zero, one), NULL);
    tre_sample(c, "ca", tre_cauchy(c, zero, one), NULL);
    tre_tensor *st = tre_sample(c, "st", tre_student_t(c, tre_scalar(c, 3.f), zero, one), NULL);
    tre_tensor *w = tre_sample(c, "w", tre_dirichlet(c, tre_full(c, 1, &three, 1.5f)), NULL);
    float eye[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    tre_tensor *v = tre_sample(c, "v", tre_multivariate_normal(c, tre_full(c, 1, &three, 0.f),
                                                               tre_from_host(c, 1, 2, k3, eye)), NULL);
    tre_sample(c, "d", tre_normal(c, zero, one), NULL);
    tre_tensor *k = one;
    if (d->discrete) {
        k = tre_sample(c, "k", tre_poisson(c, tre_scalar(c, 2.f)), NULL);
        tre_sample(c, "b", tre_bernoulli_probs(c, tre_scalar(c, 0.5f)), NULL);
    }
    tre_plate(c, "groups", 2, 0);
    tre_tensor *gw = tre_sample(c, "gw", tre_dist_to_event(c, tre_normal(c, tre_full(c, 1, &three, 0.f), one), 1), NULL);
    tre_plate_end(c);

    tre_plate(c, "data", ZN, 0);
    tre_tensor *z = d->discrete ? tre_sample(c, "z", tre_categorical_logits(c, tre_log(c, w)), NULL)
                                : tre_sample(c, "z", tre_categorical_logits(c, tre_log(c, w)), d->cats);
    /* mixture: the component means are v (per particle) */
    tre_sample(c, "x_mix", tre_normal(c, tre_take(c, v, z), tre_div(c, one, tre_add(c, one, hn))), d->x);
    tre_sample(c, "x_norm", tre_normal(c, tre_add(c, mu, la), tre_div(c, one, tre_exp(c, tre_log(c, tau)))), d->x);
    tre_sample(c, "x_beta", tre_beta(c, tre_add(c, tre_mul(c, p, tre_scalar(c, 4.f)), tre_scalar(c, 0.5f)),
                                     tre_add(c, tre_scalar(c, 1.f), ex)), d->unit);
    tre_sample(c, "x_pois", tre_poisson(c, tre_add(c, lam, tre_mul(c, k, tre_scalar(c, 0.1f)))), d->counts);
    tre_sample(c, "x_binom", tre_binomial_probs(c, tre_scalar(c, 10.f), p), d->counts);
    tre_sample(c, "x_t", tre_student_t(c, tre_scalar(c, 3.f), st, tre_add(c, one, hc)), d->x);
    /* a hierarchical regression: each datum's features dotted with its group's weights */
    tre_sample(c, "x_group", tre_normal(c, tre_vecdot_index_select(c, d->feats, gw, d->group), one), d->x);
    tre_messenger *m = tre_mask_handler(c, d->bits);
    tre_push(c, m);
    tre_sample(c, "x_bern", tre_bernoulli_logits(c, mu), d->bits);
    tre_pop(c, m);
    tre_messenger *sc = tre_scale_handler(c, 0.5);
    tre_push(c, sc);
    tre_sample(c, "x_exp", tre_exponential(c, tre_add(c, one, ex)), d->xpos);
    tre_pop(c, sc);
    tre_plate_end(c);
    /* a subsampled plate: the data are gathered by the plate's indices */
    tre_tensor *idx = tre_plate(c, "sub", ZN, 15);
    tre_sample(c, "x_sub", tre_normal(c, mu, one), tre_index_select(c, d->x, -1, idx));
    tre_plate_end(c);
    return NULL;
}

/* logistic regression: a matmul of shared data by per-particle weights, or the fused GLM */
typedef struct lrdata {
    tre_tensor *X, *y;
    bool glm;
} lrdata;
#define LRN 200
#define LRD 6
static tre_tensor *lr_model(tre_ctx *c, const void *args) {
    const lrdata *d = args;
    const int64_t D = LRD;
    tre_tensor *w = tre_sample(c, "w", tre_dist_to_event(c, tre_dist_expand(c, tre_normal(c, tre_scalar(c, 0.f),
                                                                                         tre_scalar(c, 1.f)), 1, &D), 1), NULL);
    tre_plate(c, "data", LRN, 0);
    tre_sample(c, "y", d->glm ? tre_bernoulli_logits_glm(c, d->X, w) : tre_bernoulli_logits(c, tre_matmul(c, d->X, w)),
               d->y);
    tre_plate_end(c);
    return w;
}
static tre_tensor *lr_guide(tre_ctx *c, const void *args) {
    (void)args;
    const int64_t D = LRD;
    tre_tensor *loc = tre_param(c, "w_loc", tre_full(c, 1, &D, 0.1f), TRE_C_REAL);
    tre_tensor *scale = tre_param(c, "w_scale", tre_full(c, 1, &D, 0.5f), (tre_constraint){TRE_SOFTPLUS_POSITIVE, 0, 0});
    return tre_sample(c, "w", tre_dist_to_event(c, tre_normal(c, loc, scale), 1), NULL);
}

static tre_ctx *make_ctx(tre_backend_kind kind, uint64_t seed) {
    tre_ctx *ctx = NULL;
    tre_status s = tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = kind, .seed = seed});
    if (s != TRE_OK) fail_msg("tre_ctx_create(%d): %s", (int)kind, tre_status_name(s));
    return ctx;
}

static tre_tensor *data_of(tre_ctx *ctx, int64_t n, const float *v) {
    tre_tensor *t = NULL;
    TT_OK(ctx, tre_tensor_create(ctx, &t, TRE_F32, 1, 1, &n, v));
    return t;
}

static void zoo_setup(tre_ctx *ctx, zdata *d) {
    float x[ZN], xpos[ZN], unit[ZN], counts[ZN], bits[ZN], cats[ZN];
    for (int i = 0; i < ZN; ++i) {
        cats[i] = (float)(i % 3);
        x[i] = (float)(0.8 + 1.3 * sin(0.7 * i));
        xpos[i] = (float)(0.2 + fabs(cos(1.1 * i)));
        unit[i] = (float)(0.5 + 0.45 * sin(2.3 * i));
        counts[i] = (float)((i * 7) % 9);
        bits[i] = (float)((i * 5) % 3 == 0);
    }
    memset(d, 0, sizeof *d);
    d->x = data_of(ctx, ZN, x);
    d->xpos = data_of(ctx, ZN, xpos);
    d->unit = data_of(ctx, ZN, unit);
    d->counts = data_of(ctx, ZN, counts);
    d->bits = data_of(ctx, ZN, bits);
    d->cats = data_of(ctx, ZN, cats);
    float feats[ZN * 3];
    int32_t group[ZN];
    for (int i = 0; i < ZN; ++i) {
        group[i] = (i * 7) % 5 < 2;
        for (int j = 0; j < 3; ++j) feats[i * 3 + j] = (float)sin(0.3 * i + j);
    }
    const int64_t zn = ZN, f3[2] = {ZN, 3};
    TT_OK(ctx, tre_tensor_create(ctx, &d->feats, TRE_F32, 1, 2, f3, feats));
    TT_OK(ctx, tre_tensor_create(ctx, &d->group, TRE_I32, 1, 1, &zn, group));
    d->discrete = true;
}

static void lr_setup(tre_ctx *ctx, lrdata *d) {
    static float X[LRN * LRD], y[LRN];
    for (int i = 0; i < LRN; ++i) {
        double s = 0;
        for (int j = 0; j < LRD; ++j) {
            X[i * LRD + j] = (float)sin(0.37 * i + 1.1 * j);
            s += X[i * LRD + j] * (j - 2.5) * 0.6;
        }
        y[i] = (float)(s + 0.3 * sin(5.0 * i) > 0);
    }
    const int64_t shape[2] = {LRN, LRD}, n = LRN;
    TT_OK(ctx, tre_tensor_create(ctx, &d->X, TRE_F32, 1, 2, shape, X));
    TT_OK(ctx, tre_tensor_create(ctx, &d->y, TRE_F32, 1, 1, &n, y));
    d->glm = false;
}

/* Runs one ELBO on both contexts and compares estimate, per-particle values and gradients. */
static void compare_elbo(const char *what, tre_ctx *a, tre_ctx *b, tre_program model, tre_program guide,
                         const void *args_a, const void *args_b, const tre_elbo_opts *opts) {
    tre_elbo_result ra, rb;
    TT_OK(a, tre_elbo(a, model, guide, args_a, opts, &ra));
    TT_OK(b, tre_elbo(b, model, guide, args_b, opts, &rb));
    char buf[128];
    print_message("%s: cpu %.7g, gpu %.7g\n", what, ra.mean, rb.mean);
    snprintf(buf, sizeof buf, "%s elbo_s", what);
    expect_close(buf, ra.particles, rb.particles, ra.num_particles, RTOL, 1e-4, 0);
    /* RenyiELBO weighs particles by exp((1 - alpha) elbo_s): a difference d in one elbo_s (a
     * float ulp of a sum of ~1e3 is ~1e-4, and the backends' sums may round apart) moves its
     * weight by a relative (1 - alpha) d, which the estimate and gradients inherit */
    double dmax = 0.0, amp = opts->kind == TRE_RENYI_ELBO ? fabs(1.0 - opts->alpha) : 0.0;
    for (int64_t s = 0; s < ra.num_particles; ++s)
        if (isfinite(ra.particles[s])) dmax = fmax(dmax, fabs((double)ra.particles[s] - rb.particles[s]));
    if (!agree(ra.mean, rb.mean, RTOL, 1e-4 + amp * dmax))
        fail_msg("%s: elbo cpu %.9g, gpu %.9g", what, ra.mean, rb.mean);
    if (!opts->grad) return;
    const double rtol = RTOL + 2.0 * amp * dmax;
    assert_int_equal(tre_param_store_size(a), tre_param_store_size(b));
    for (int64_t i = 0; i < tre_param_store_size(a); ++i) {
        const tre_param_entry *ea = tre_param_store_at(a, i), *eb = tre_param_store_get(b, ea->name);
        assert_non_null(eb);
        const int64_t n = ea->grad->numel;
        float *ga = halloc((size_t)n * sizeof(float)), *gb = halloc((size_t)n * sizeof(float));
        TT_OK(a, tre_tensor_to_host(a, ea->grad, ga, n));
        TT_OK(b, tre_tensor_to_host(b, eb->grad, gb, n));
        double gmax = 1.0;
        for (int64_t j = 0; j < n; ++j) gmax = fmax(gmax, fabs(ga[j]));
        snprintf(buf, sizeof buf, "%s grad %s", what, ea->name);
        expect_close(buf, ga, gb, n, rtol, rtol * gmax, 0);
    }
}

static void test_elbo_conjugate(void **state) {
    (void)state;
    tre_ctx *a = make_ctx(TRE_BACKEND_CPU, 11), *b = make_ctx(TRE_BACKEND_CUDA, 11);
    assert_string_not_equal(tre_ctx_backend_name(b), "cpu");
    zdata da, db;
    zoo_setup(a, &da);
    zoo_setup(b, &db);
    const tre_elbo_opts kinds[4] = {
        {.kind = TRE_TRACE_ELBO, .num_particles = 1000, .grad = true},
        {.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 1000, .grad = true},
        {.kind = TRE_RENYI_ELBO, .alpha = 0.0, .num_particles = 1000, .grad = true},
        {.kind = TRE_RENYI_ELBO, .alpha = 0.5, .num_particles = 77, .grad = true},
    };
    for (int k = 0; k < 4; ++k) compare_elbo("conjugate", a, b, conj_model, conj_guide, &da, &db, &kinds[k]);
    /* SVI steps: the same updates on both; and the GPU's step arena stops growing */
    tre_adam *oa, *ob;
    TT_OK(a, tre_adam_create(a, &(tre_adam_opts){.lr = 0.05}, &oa));
    TT_OK(b, tre_adam_create(b, &(tre_adam_opts){.lr = 0.05}, &ob));
    tre_ctx_memory m0 = {0}, m1 = {0};
    for (int step = 0; step < 8; ++step) {
        double la, lb;
        TT_OK(a, tre_svi_step(a, conj_model, conj_guide, &da, &kinds[0], oa, &la));
        TT_OK(b, tre_svi_step(b, conj_model, conj_guide, &db, &kinds[0], ob, &lb));
        if (!agree(la, lb, RTOL, 1e-4)) fail_msg("svi step %d: loss cpu %.9g, gpu %.9g", step, la, lb);
        if (step == 2) tre_ctx_memory_stats(b, &m0);
    }
    tre_ctx_memory_stats(b, &m1);
    if (m1.data_grows != m0.data_grows) fail_msg("the device step arena grew after step 3");
    const char *names[2] = {"q_loc", "q_scale"};
    for (int i = 0; i < 2; ++i) {
        float ua, ub;
        TT_OK(a, tre_tensor_to_host(a, tre_param_store_get(a, names[i])->unconstrained, &ua, 1));
        TT_OK(b, tre_tensor_to_host(b, tre_param_store_get(b, names[i])->unconstrained, &ub, 1));
        if (!agree(ua, ub, RTOL, 1e-6)) fail_msg("after SVI, %s: cpu %.9g, gpu %.9g", names[i], ua, ub);
    }
    tre_adam_destroy(a, oa);
    tre_adam_destroy(b, ob);
    tre_ctx_destroy(a);
    tre_ctx_destroy(b);
}

static void test_elbo_zoo(void **state) {
    (void)state;
    tre_ctx *a = make_ctx(TRE_BACKEND_CPU, 5), *b = make_ctx(TRE_BACKEND_CUDA, 5);
    zdata da, db;
    zoo_setup(a, &da);
    zoo_setup(b, &db);
    const tre_elbo_opts kinds[3] = {
        {.kind = TRE_TRACE_ELBO, .num_particles = 512, .grad = true},
        /* with gradients: the Gamma / Beta / Dirichlet KLs differentiate through digamma
         * (its derivative, trigamma, on both backends) */
        {.kind = TRE_TRACE_MEANFIELD_ELBO, .num_particles = 512, .grad = true},
        {.kind = TRE_RENYI_ELBO, .alpha = 0.0, .num_particles = 512, .grad = true},
    };
    for (int k = 0; k < 3; ++k) {
        /* TraceMeanField_ELBO wants every guide site reparameterized: z observed, no k and b */
        da.discrete = db.discrete = kinds[k].kind != TRE_TRACE_MEANFIELD_ELBO;
        compare_elbo(da.discrete ? "zoo" : "zoo (reparameterized)", a, b, zoo_model, zoo_guide, &da, &db,
                     &kinds[k]);
    }
    da.discrete = db.discrete = true;
    /* value only, a particle count that is not a multiple of anything */
    const tre_elbo_opts v = {.kind = TRE_TRACE_ELBO, .num_particles = 333, .grad = false};
    compare_elbo("zoo (value)", a, b, zoo_model, zoo_guide, &da, &db, &v);
    tre_ctx_destroy(a);
    tre_ctx_destroy(b);
}

static void test_elbo_logistic(void **state) {
    (void)state;
    tre_ctx *a = make_ctx(TRE_BACKEND_CPU, 3), *b = make_ctx(TRE_BACKEND_CUDA, 3);
    lrdata da, db;
    lr_setup(a, &da);
    lr_setup(b, &db);
    const tre_elbo_opts kinds[2] = {
        {.kind = TRE_TRACE_ELBO, .num_particles = 256, .grad = true},
        {.kind = TRE_RENYI_ELBO, .alpha = 0.0, .num_particles = 256, .grad = true},
    };
    for (int glm = 0; glm < 2; ++glm) {
        da.glm = db.glm = glm;
        for (int k = 0; k < 2; ++k)
            compare_elbo(glm ? "logistic (GLM)" : "logistic", a, b, lr_model, lr_guide, &da, &db, &kinds[k]);
    }
    tre_ctx_destroy(a);
    tre_ctx_destroy(b);
}

/* Backend choice and failures reach the public API as statuses, never aborts. */
static void test_backend_choice(void **state) {
    (void)state;
    const char *old = getenv("TRELBO_BACKEND");
    char saved[64] = "";
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("TRELBO_BACKEND", "cpu", 1);
    tre_ctx *c = make_ctx(TRE_BACKEND_AUTO, 1);
    assert_string_equal(tre_ctx_backend_name(c), "cpu");
    tre_ctx_destroy(c);
    unsetenv("TRELBO_BACKEND");
    c = make_ctx(TRE_BACKEND_AUTO, 1);
    assert_string_not_equal(tre_ctx_backend_name(c), "cpu"); /* a device exists: AUTO takes it */
    tre_ctx_destroy(c);
    if (old) setenv("TRELBO_BACKEND", saved, 1);
    c = make_ctx(TRE_BACKEND_CUDA, 1);
    tre_tensor *t = NULL;
    const int64_t huge = (int64_t)1 << 44; /* 64 TiB of floats */
    tre_status s = tre_tensor_create(c, &t, TRE_F32, 1, 1, &huge, NULL);
    if (s != TRE_ERR_OUT_OF_MEMORY) fail_msg("a failed device allocation gave %s", tre_status_name(s));
    tre_ctx_clear_error(c);
    /* the context still works after it */
    tre_tensor *ok = NULL;
    const int64_t n = 4;
    const float v[4] = {1, 2, 3, 4};
    float back[4];
    TT_OK(c, tre_tensor_create(c, &ok, TRE_F32, 1, 1, &n, v));
    TT_OK(c, tre_tensor_to_host(c, ok, back, 4));
    assert_memory_equal(v, back, sizeof v);
    tre_tensor_destroy(c, ok);
    tre_ctx_destroy(c);
}

/* A device buffer freed while a step is being captured: the capture breaks, the graph is still
 * launched (it holds the step's device side), and the buffer must outlive that launch (released
 * with the graph). Under the emulated build's AddressSanitizer a use after free fails here. */
static void test_free_during_capture(void **state) {
    (void)state;
    const int64_t n = 1000;
    const uint64_t bytes = (uint64_t)n * sizeof(float);
    tre_kmemory m0, m;
    gpu->memory(gpu->impl, &m0, false);
    float *keep = gpu->alloc(gpu->impl, (size_t)n * sizeof(float));
    float *doomed = gpu->alloc(gpu->impl, (size_t)n * sizeof(float));
    assert_non_null(keep);
    assert_non_null(doomed);
    gpu->memory(gpu->impl, &m, false);
    assert_int_equal(m.bytes, m0.bytes + 2 * bytes);
    assert_true(m.peak >= m.bytes);
    assert_int_equal(gpu->graph_begin(gpu->impl), 0);
    assert_int_equal(gpu->fill(gpu->impl, doomed, 3.f, n), 0);
    assert_int_equal(gpu->fill(gpu->impl, keep, 5.f, n), 0);
    gpu->free(gpu->impl, doomed); /* the fill above still points at it */
    void *graph = NULL;
    assert_int_equal(gpu->graph_end(gpu->impl, &graph), TRE_KERR_CAPTURE);
    assert_non_null(graph);
    assert_int_equal(gpu->graph_launch(gpu->impl, graph), 0);
    gpu->memory(gpu->impl, &m, false); /* the deferred buffer is still held ... */
    assert_int_equal(m.bytes, m0.bytes + 2 * bytes);
    gpu->graph_destroy(gpu->impl, graph); /* ... until the graph releases it */
    gpu->memory(gpu->impl, &m, true);
    assert_int_equal(m.bytes, m0.bytes + bytes);
    assert_true(m.peak >= m0.bytes + 2 * bytes);
    gpu->memory(gpu->impl, &m, false); /* the reset peak starts from what is held */
    assert_int_equal(m.peak, m.bytes);
    float back[1000];
    assert_int_equal(gpu->sync(gpu->impl), 0);
    assert_int_equal(gpu->download(gpu->impl, back, keep, sizeof back), 0);
    for (int64_t i = 0; i < n; ++i) assert_true(back[i] == 5.f);
    gpu->free(gpu->impl, keep);
    gpu->memory(gpu->impl, &m, false);
    assert_int_equal(m.bytes, m0.bytes);
}

/* The graph entries' contracts, on a backend of its own (its scratch at the size it starts
 * with): one capture at a time; no launch and no rng delta change inside a capture (the delta
 * would be frozen into the graph: the call refuses and the capture breaks); a captured upload
 * writes, at every launch, the bytes the host had at capture time; the scratch does not grow
 * inside a capture (the op that needs it refuses, TRE_KERR_CAPTURE); and a graph whose scratch
 * has moved since its capture (grown by a larger op, or given back by trim) is not run; and a
 * graph may be destroyed during another's capture. */
static void test_graph_contracts(void **state) {
    (void)state;
    tre_backend *b = tre_backend_cuda_create();
    assert_non_null(b);
    void *im = b->impl;
    enum { NF = 16, BIGK = 200000 };
    float host[NF], back[NF];
    for (int i = 0; i < NF; ++i) host[i] = (float)i + 0.5f;
    const int32_t index[4] = {1, 0, 1, 3};
    static int32_t big_index[BIGK]; /* zeros: row 0, BIGK times */
    float *x = b->alloc(im, sizeof host), *g = b->alloc(im, BIGK * 2 * sizeof(float));
    float *acc = b->alloc(im, 4 * 2 * sizeof(float));
    int32_t *d_index = b->alloc(im, sizeof index), *d_big = b->alloc(im, sizeof big_index);
    assert_true(x && g && acc && d_index && d_big);
    assert_int_equal(b->upload(im, d_index, index, sizeof index), 0);
    assert_int_equal(b->upload(im, d_big, big_index, sizeof big_index), 0);
    assert_int_equal(b->fill(im, g, 0.25f, BIGK * 2), 0);
    assert_int_equal(b->fill(im, acc, 0.f, 8), 0);

    void *g1 = NULL, *g2 = NULL;
    assert_int_equal(b->graph_begin(im), 0);
    assert_int_not_equal(b->graph_begin(im), 0); /* one capture at a time */
    assert_int_equal(b->upload(im, x, host, sizeof host), 0);
    assert_int_equal(b->scatter_add(im, 1, 4, 2, d_index, 4, g, acc), 0); /* sorts in the scratch */
    assert_int_equal(b->graph_end(im, &g1), 0);
    assert_non_null(g1);
    for (int i = 0; i < NF; ++i) host[i] = -1.f; /* the caller reuses its buffer */
    assert_int_equal(b->fill(im, x, 9.f, NF), 0);
    assert_int_equal(b->graph_launch(im, g1), 0);
    assert_int_equal(b->sync(im), 0);
    assert_int_equal(b->download(im, back, x, sizeof back), 0);
    for (int i = 0; i < NF; ++i)
        if (back[i] != (float)i + 0.5f) fail_msg("captured upload, element %d: %g after the launch", i, back[i]);

    assert_int_equal(b->graph_begin(im), 0);
    assert_int_not_equal(b->graph_launch(im, g1), 0); /* not inside a capture */
    assert_int_equal(b->fill(im, acc, 0.f, 8), 0);     /* (no empty graph: CUDA need not make one) */
    assert_int_equal(b->graph_end(im, &g2), 0);
    b->graph_destroy(im, g2);
    g2 = NULL;
    assert_int_equal(b->graph_begin(im), 0);
    assert_int_equal(b->set_rng_delta(im, 5), TRE_KERR_CAPTURE);
    assert_int_equal(b->fill(im, acc, 0.f, 8), 0);
    assert_int_equal(b->graph_end(im, &g2), TRE_KERR_CAPTURE);
    b->graph_destroy(im, g2);
    g2 = NULL;

    /* a scatter of BIGK entries needs more scratch than the backend started with: not inside
     * a capture (the scratch would move under the graph's nodes), but outside it */
    assert_int_equal(b->graph_begin(im), 0);
    assert_int_equal(b->scatter_add(im, 1, 4, 2, d_big, BIGK, g, acc), TRE_KERR_CAPTURE);
    assert_int_equal(b->graph_end(im, &g2), TRE_KERR_CAPTURE);
    b->graph_destroy(im, g2);
    g2 = NULL;
    assert_int_equal(b->graph_launch(im, g1), 0); /* the refused growth moved nothing */
    assert_int_equal(b->scatter_add(im, 1, 4, 2, d_big, BIGK, g, acc), 0);
    assert_int_equal(b->graph_launch(im, g1), TRE_KERR_STALE);
    assert_int_equal(b->graph_begin(im), 0);
    assert_int_equal(b->scatter_add(im, 1, 4, 2, d_index, 4, g, acc), 0);
    assert_int_equal(b->graph_end(im, &g2), 0);
    assert_int_equal(b->graph_launch(im, g2), 0);
    assert_int_equal(b->trim(im), 0); /* the grown scratch given back */
    assert_int_equal(b->graph_launch(im, g2), TRE_KERR_STALE);

    /* a graph destroyed inside another's capture is freed when that capture ends (its pinned
     * upload freed inside it would synchronise the device and break the capture; the leak
     * check of the sanitized build sees it freed at all) */
    void *g3 = NULL;
    assert_int_equal(b->graph_begin(im), 0);
    assert_int_equal(b->fill(im, acc, 0.f, 8), 0);
    b->graph_destroy(im, g1);
    assert_int_equal(b->graph_end(im, &g3), 0);
    assert_int_equal(b->graph_launch(im, g3), 0);

    b->graph_destroy(im, g3);
    b->graph_destroy(im, g2);
    b->free(im, x);
    b->free(im, g);
    b->free(im, acc);
    b->free(im, d_index);
    b->free(im, d_big);
    b->destroy(im);
    free(b);
}

int main(void) {
    if (tre_cuda_device_count() <= 0) {
        printf("no CUDA device: the GPU parity tests are not run\n");
        return 77;
    }
    cpu = tre_backend_cpu_create();
    gpu = tre_backend_cuda_create();
    if (!cpu || !gpu) {
        printf("a CUDA device exists but the CUDA backend could not be created\n");
        return 1;
    }
    printf("device backend: %s\n", gpu->name);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_free_during_capture),
        cmocka_unit_test(test_graph_contracts),
        cmocka_unit_test_teardown(test_binary_unary_mask, teardown),
        cmocka_unit_test_teardown(test_sums, teardown),
        cmocka_unit_test_teardown(test_dot_rows_rounding, teardown),
        cmocka_unit_test_teardown(test_index_ops, teardown),
        cmocka_unit_test_teardown(test_out_of_range_indices, teardown),
        cmocka_unit_test_teardown(test_gemm, teardown),
        cmocka_unit_test_teardown(test_bernoulli_glm, teardown),
        cmocka_unit_test_teardown(test_bernoulli_outer, teardown),
        cmocka_unit_test_teardown(test_adam, teardown),
        cmocka_unit_test_teardown(test_transforms, teardown),
        cmocka_unit_test_teardown(test_validate, teardown),
        cmocka_unit_test_teardown(test_families, teardown),
        cmocka_unit_test_teardown(test_log_prob_sum_rounding, teardown),
        cmocka_unit_test_teardown(test_categorical, teardown),
        cmocka_unit_test_teardown(test_categorical_layouts, teardown),
        cmocka_unit_test_teardown(test_mvn, teardown),
        cmocka_unit_test_teardown(test_elbo_conjugate, teardown),
        cmocka_unit_test_teardown(test_elbo_zoo, teardown),
        cmocka_unit_test_teardown(test_elbo_logistic, teardown),
        cmocka_unit_test_teardown(test_backend_choice, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cpu->destroy(cpu->impl);
    free(cpu);
    gpu->destroy(gpu->impl);
    free(gpu);
    return rc;
}
