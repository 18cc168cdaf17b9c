/* trelbo's Philox4x32-10 stream is cuRAND's: cuRAND's host-side Philox4_32_10 generator
 * (which runs without a GPU) lays subsequence k, offset 0 out as block k of its output; the
 * same (seed, subsequence, counter) through tre_philox_block must give the same words. The CPU
 * backend and the CUDA kernels both draw through tre_philox_block, so both draw cuRAND's
 * stream: curand_init(seed, stream, 4 * block) would give the same words. */
#include <stdlib.h>
#include <curand.h>
#include "test_support.h"
#include "kernels/math/philox.h"

static void test_words_match_curand(void **state) {
    (void)state;
    const uint64_t seeds[3] = {0, 42, 0x123456789abcdefull};
    enum { BLOCKS = 4096 };
    static unsigned int out[4 * BLOCKS];
    for (int si = 0; si < 3; ++si) {
        curandGenerator_t g;
        if (curandCreateGeneratorHost(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10) != CURAND_STATUS_SUCCESS) {
            print_message("cuRAND host generator unavailable: not run\n");
            exit(77);
        }
        assert_int_equal(curandSetPseudoRandomGeneratorSeed(g, seeds[si]), CURAND_STATUS_SUCCESS);
        assert_int_equal(curandGenerate(g, out, 4 * BLOCKS), CURAND_STATUS_SUCCESS);
        for (uint64_t k = 0; k < BLOCKS; ++k) {
            tre_u32x4 w = tre_philox_block(seeds[si], k, 0);
            for (int j = 0; j < 4; ++j)
                if (w.v[j] != out[4 * k + j])
                    fail_msg("seed %llu subsequence %llu word %d: trelbo %08x, cuRAND %08x",
                             (unsigned long long)seeds[si], (unsigned long long)k, j, w.v[j], out[4 * k + j]);
        }
        curandDestroyGenerator(g);
    }
}

/* Counters past 0. The host generator runs 65536 subsequences side by side: output block i is
 * subsequence i % 65536 at counter i / 65536 (found by search on cuRAND 13; the test above
 * relies on the same layout). So with the generator's offset at 4 * 65536 * B, block k is
 * subsequence k at counter B: tre_philox_block(seed, k, B), the words the CUDA kernels draw for
 * block B of random op k. B covers the counter's low word, its high word, and the carry. */
static void test_words_match_curand_past_counter_zero(void **state) {
    (void)state;
    const uint64_t blocks[4] = {1, 12345, 0xffffffffull, 0x100000000ull + 7};
    enum { SUBSEQ = 64, LANES = 65536 };
    static unsigned int out[4 * SUBSEQ];
    const uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int bi = 0; bi < 4; ++bi) {
        curandGenerator_t g;
        if (curandCreateGeneratorHost(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10) != CURAND_STATUS_SUCCESS) {
            print_message("cuRAND host generator unavailable: not run\n");
            exit(77);
        }
        assert_int_equal(curandSetPseudoRandomGeneratorSeed(g, seed), CURAND_STATUS_SUCCESS);
        assert_int_equal(curandSetGeneratorOffset(g, 4ull * LANES * blocks[bi]), CURAND_STATUS_SUCCESS);
        assert_int_equal(curandGenerate(g, out, 4 * SUBSEQ), CURAND_STATUS_SUCCESS);
        for (uint64_t k = 0; k < SUBSEQ; ++k) {
            tre_u32x4 w = tre_philox_block(seed, k, blocks[bi]);
            for (int j = 0; j < 4; ++j)
                if (w.v[j] != out[4 * k + j])
                    fail_msg("counter %llu subsequence %llu word %d: trelbo %08x, cuRAND %08x",
                             (unsigned long long)blocks[bi], (unsigned long long)k, j, w.v[j], out[4 * k + j]);
        }
        curandDestroyGenerator(g);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_match_curand),
        cmocka_unit_test(test_words_match_curand_past_counter_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
