/* trelbo's Philox4x32-10 stream is cuRAND's: cuRAND's host-side Philox4_32_10 generator
 * (which runs without a GPU) lays subsequence k, offset 0 out as block k of its output; the
 * same (seed, subsequence, counter) through tre_philox_block must give the same words. The CPU
 * backend and the CUDA kernels both draw through tre_philox_block, so both draw cuRAND's
 * stream: curand_init(seed, stream, 4 * block) would give the same words. */
#include <stdlib.h>
#include <curand.h>
#include "test_support.h"
#include "kernels/math/philox.h"

/* The host generator runs LANES subsequences side by side: output block i is subsequence
 * i % LANES at counter i / LANES (found by search on cuRAND 13). So with the generator's offset at
 * 4 * LANES * counter, its block k is subsequence k at that counter: tre_philox_block(seed, k,
 * counter), the words the CUDA kernels draw for block `counter` of random op k. Checks the first
 * `subseqs` of them. */
enum { LANES = 65536, MAX_SUBSEQ = 4096 };
static void expect_curand_words(uint64_t seed, uint64_t counter, uint64_t subseqs) {
    static unsigned int out[4 * MAX_SUBSEQ];
    curandGenerator_t g;
    if (curandCreateGeneratorHost(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10) != CURAND_STATUS_SUCCESS) {
        print_message("cuRAND host generator unavailable: not run\n");
        exit(77);
    }
    assert_true(subseqs <= MAX_SUBSEQ);
    assert_int_equal(curandSetPseudoRandomGeneratorSeed(g, seed), CURAND_STATUS_SUCCESS);
    assert_int_equal(curandSetGeneratorOffset(g, 4ull * LANES * counter), CURAND_STATUS_SUCCESS);
    assert_int_equal(curandGenerate(g, out, 4 * subseqs), CURAND_STATUS_SUCCESS);
    for (uint64_t k = 0; k < subseqs; ++k) {
        tre_u32x4 w = tre_philox_block(seed, k, counter);
        for (int j = 0; j < 4; ++j)
            if (w.v[j] != out[4 * k + j])
                fail_msg("seed %llu counter %llu subsequence %llu word %d: trelbo %08x, cuRAND %08x",
                         (unsigned long long)seed, (unsigned long long)counter, (unsigned long long)k, j,
                         w.v[j], out[4 * k + j]);
    }
    curandDestroyGenerator(g);
}

static void test_words_match_curand(void **state) {
    (void)state;
    const uint64_t seeds[3] = {0, 42, 0x123456789abcdefull};
    for (int si = 0; si < 3; ++si) expect_curand_words(seeds[si], 0, MAX_SUBSEQ);
}

/* Counters past 0: the counter's low word, its high word, and the carry between them. */
static void test_words_match_curand_past_counter_zero(void **state) {
    (void)state;
    const uint64_t counters[4] = {1, 12345, 0xffffffffull, 0x100000000ull + 7};
    for (int ci = 0; ci < 4; ++ci) expect_curand_words(0x9e3779b97f4a7c15ull, counters[ci], 64);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_match_curand),
        cmocka_unit_test(test_words_match_curand_past_counter_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
