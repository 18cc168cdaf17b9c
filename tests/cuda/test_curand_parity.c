/* trelbo's Philox4x32-10 stream is cuRAND's: cuRAND's host-side Philox4_32_10 generator
 * (which runs without a GPU) lays subsequence k, offset 0 out as block k of its output; the
 * same (seed, subsequence, counter) through tre_philox_block must give the same words, so the
 * CUDA backend's curand_init(seed, stream, 4 * block) draws what the CPU backend draws. */
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_match_curand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
