/* Philox4x32-10: the known-answer vectors of the Random123 distribution (tests/kat_vectors, the
 * three "philox4x32 10" lines), the counter/key layout of tre_philox_block, the normals built on
 * it, and the CPU sampler's use of that one stream (kernels/backend.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"
#include "kernels/math/philox.h"
#include "kernels/cpu/dist_families_cpu.h"

typedef struct kat {
    uint32_t ctr[4], key[2], expect[4];
} kat;

/* Random123 tests/kat_vectors: counter (4 words), key (2 words), result (4 words). */
static const kat kats[3] = {
    {{0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u},
     {0x00000000u, 0x00000000u},
     {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
    {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
     {0xffffffffu, 0xffffffffu},
     {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
    {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
     {0xa4093822u, 0x299f31d0u},
     {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
};

static void test_known_answer_vectors(void **state) {
    (void)state;
    for (int i = 0; i < 3; ++i) {
        tre_u32x4 c;
        memcpy(c.v, kats[i].ctr, sizeof c.v);
        tre_u32x4 r = tre_philox4x32_10(c, kats[i].key[0], kats[i].key[1]);
        for (int j = 0; j < 4; ++j)
            if (r.v[j] != kats[i].expect[j])
                fail_msg("vector %d word %d: got %08x, expected %08x", i, j, (unsigned)r.v[j],
                         (unsigned)kats[i].expect[j]);
    }
}

/* tre_philox_block(seed, stream, block) is Philox on counter (block lo, block hi, stream lo,
 * stream hi) and key (seed lo, seed hi): the third vector, reached through that layout. */
static void test_block_layout(void **state) {
    (void)state;
    const kat *k = &kats[2];
    uint64_t block = ((uint64_t)k->ctr[1] << 32) | k->ctr[0];
    uint64_t stream = ((uint64_t)k->ctr[3] << 32) | k->ctr[2];
    uint64_t seed = ((uint64_t)k->key[1] << 32) | k->key[0];
    tre_u32x4 r = tre_philox_block(seed, stream, block);
    for (int j = 0; j < 4; ++j) assert_int_equal(r.v[j], k->expect[j]);
    /* a different block, stream or seed gives different words */
    tre_u32x4 b = tre_philox_block(seed, stream, block + 1);
    tre_u32x4 s = tre_philox_block(seed, stream + 1, block);
    tre_u32x4 e = tre_philox_block(seed + 1, stream, block);
    assert_true(memcmp(b.v, r.v, sizeof r.v) != 0);
    assert_true(memcmp(s.v, r.v, sizeof r.v) != 0);
    assert_true(memcmp(e.v, r.v, sizeof r.v) != 0);
}

/* tre_philox_elem(seed, stream, elem, draw) is Philox on counter (draw, elem lo, elem hi,
 * stream lo) and key (seed lo, seed hi ^ stream hi): the third vector reached through that
 * layout, and the stream's high word is not lost (streams 2^32 apart differ). */
static void test_elem_layout(void **state) {
    (void)state;
    const kat *k = &kats[2];
    const uint64_t elem = ((uint64_t)k->ctr[2] << 32) | k->ctr[1];
    const uint64_t hi = 0x5a5a5a5au, stream = (hi << 32) | k->ctr[3];
    const uint64_t seed = ((uint64_t)(k->key[1] ^ (uint32_t)hi) << 32) | k->key[0];
    const tre_u32x4 r = tre_philox_elem(seed, stream, elem, k->ctr[0]);
    for (int j = 0; j < 4; ++j) assert_int_equal(r.v[j], k->expect[j]);
    const tre_u32x4 a = tre_philox_elem(7, 3, 11, 0), b = tre_philox_elem(7, 3 + (1ull << 32), 11, 0);
    assert_true(memcmp(a.v, b.v, sizeof a.v) != 0);
}

/* The top of the radius word: u1 = 1 - t with t = (~a + 0.5) / 2^32 below float's resolution at
 * 1, where log u1 = -t to double accuracy: the radius is sqrt(2 t), not 0. */
static void test_box_muller_radius_near_one(void **state) {
    (void)state;
    const uint32_t as[] = {0xffffffffu, 0xfffffff0u, 0xffffff80u};
    for (size_t i = 0; i < sizeof as / sizeof *as; ++i) {
        const double t = ((double)~as[i] + 0.5) / 4294967296.0, r = sqrt(2.0 * t);
        float c, s;
        tre_box_muller(as[i], 0x12345678u, &c, &s);
        const double got = sqrt((double)c * c + (double)s * s);
        if (!(fabs(got - r) <= 1e-5 * r))
            fail_msg("a = %08x: radius %.9g, expected %.9g", (unsigned)as[i], got, r);
    }
}

/* 10^6 standard normals: mean 0 and variance 1 within 5 standard errors, and no non-finite
 * draw (u1 never 0). */
static void test_normal_moments(void **state) {
    (void)state;
    const int64_t n = 1000000;
    double s1 = 0, s2 = 0, s4 = 0;
    for (int64_t i = 0; i < n; ++i) {
        tre_u32x4 w = tre_philox_block(12345, 7, (uint64_t)(i >> 2));
        double x = tre_philox_normal(w, (int)(i & 3));
        if (!isfinite(x)) fail_msg("draw %lld is not finite", (long long)i);
        s1 += x;
    }
    double mean = s1 / (double)n;
    for (int64_t i = 0; i < n; ++i) {
        tre_u32x4 w = tre_philox_block(12345, 7, (uint64_t)(i >> 2));
        double d = tre_philox_normal(w, (int)(i & 3)) - mean;
        s2 += d * d;
        s4 += d * d * d * d;
    }
    double var = s2 / (double)(n - 1);
    double m4 = s4 / (double)n;
    double se_mean = sqrt(var / (double)n);
    double se_var = sqrt((m4 - var * var) / (double)n);
    if (!(fabs(mean) <= 5 * se_mean)) fail_msg("mean %.6g, 5 SE = %.3g", mean, 5 * se_mean);
    if (!(fabs(var - 1.0) <= 5 * se_var)) fail_msg("variance %.6g, 5 SE = %.3g", var, 5 * se_var);
    /* the 4th moment of a standard normal is 3: the tails have the right weight */
    TT_NEAR(m4, 3.0, 0.05);
}

/* The two numbers of one Box-Muller pair are cos and sin of the same radius and angle, within
 * float accuracy of the double-precision transform of the same words (the angle uses the top
 * 24 bits of its word), over many blocks. */
static void test_normal_box_muller_pair(void **state) {
    (void)state;
    double worst = 0.0;
    for (uint64_t b = 0; b < 200000; ++b) {
        tre_u32x4 w = tre_philox_block(1, 2, b);
        for (int pair = 0; pair < 4; pair += 2) {
            double u1 = ((double)w.v[pair] + 0.5) / 4294967296.0;
            double u2 = ((double)(w.v[pair + 1] >> 8) + 0.5) / 16777216.0;
            double r = sqrt(-2.0 * log(u1)), a = 2.0 * 3.14159265358979323846 * u2;
            double e0 = fabs(tre_philox_normal(w, pair) - r * cos(a)) / (1 + r);
            double e1 = fabs(tre_philox_normal(w, pair + 1) - r * sin(a)) / (1 + r);
            worst = fmax(worst, fmax(e0, e1));
        }
    }
    assert_true(worst < 1e-6);
}

/* sin and cos of 2 pi u over the whole unit interval and a few periods around it */
static void test_sincos_2pi(void **state) {
    (void)state;
    for (int i = -40000; i <= 40000; ++i) {
        float u = (float)i / 16384.0f + 1e-3f * (float)(i % 7);
        float s, c;
        tre_vsincos2pif(u, &s, &c);
        double a = 2.0 * 3.14159265358979323846 * (double)u;
        TT_NEAR(s, sin(a), 3e-7);
        TT_NEAR(c, cos(a), 3e-7);
    }
}

/* The CPU backend's block generator gives exactly the element function's numbers, from any
 * starting element (unaligned to Philox's 4-word blocks) and across its internal blocks. */
static void test_block_normals_equal_element_normals(void **state) {
    (void)state;
    float out[1000];
    for (uint64_t e0 = 0; e0 < 6; ++e0) {
        tre_cpu_std_normal_block(77, 5, e0, 1000, out);
        for (int j = 0; j < 1000; ++j) assert_true(out[j] == tre_philox_std_normal(77, 5, e0 + (uint64_t)j));
    }
}

/* The CPU sampler draws element e of a random op from block e/4, number e%4 of that op's stream
 * under the context's seed (the contract of kernels/backend.h): a context's first sample is
 * stream 0, its second stream 1. */
static void test_sampler_uses_the_stream(void **state) {
    (void)state;
    const uint64_t seed = 0x1234567890abcdefull;
    tre_ctx *ctx = tt_ctx(seed);
    const int64_t P = 10;
    TT_OK(ctx, tre_ctx_set_particles(ctx, P));
    int64_t shape[1] = {3};
    tre_tensor *loc = tre_full(ctx, 1, shape, 2.0f);
    tre_tensor *scale = tre_full(ctx, 1, shape, 0.5f);
    tre_tensor *x0 = tre_sample(ctx, "x0", tre_normal(ctx, loc, scale), NULL);
    tre_tensor *x1 = tre_sample(ctx, "x1", tre_normal(ctx, loc, scale), NULL);
    assert_non_null(x0);
    assert_non_null(x1);
    assert_int_equal(x0->particles, P);
    assert_int_equal(x0->numel, 3);
    const float *h0 = tt_host(ctx, x0, 0), *h1 = tt_host(ctx, x1, 1);
    for (int64_t e = 0; e < P * 3; ++e) {
        float n0 = tre_philox_normal(tre_philox_block(seed, 0, (uint64_t)e >> 2), (int)(e & 3));
        float n1 = tre_philox_normal(tre_philox_block(seed, 1, (uint64_t)e >> 2), (int)(e & 3));
        TT_NEAR(h0[e], 2.0f + 0.5f * n0, 1e-6);
        TT_NEAR(h1[e], 2.0f + 0.5f * n1, 1e-6);
    }
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer_vectors),
        cmocka_unit_test(test_block_layout),
        cmocka_unit_test(test_elem_layout),
        cmocka_unit_test(test_box_muller_radius_near_one),
        cmocka_unit_test(test_normal_moments),
        cmocka_unit_test(test_normal_box_muller_pair),
        cmocka_unit_test(test_sincos_2pi),
        cmocka_unit_test(test_block_normals_equal_element_normals),
        cmocka_unit_test(test_sampler_uses_the_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
