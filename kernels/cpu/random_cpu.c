/* Blocks of random numbers on the CPU: the same numbers as tre_philox_std_normal and
 * tre_philox_uniform (shared math in kernels/math/philox.h), computed for a whole block of
 * elements at once. The Philox rounds run over structure-of-arrays counters and Box-Muller over
 * word pairs, two loops the compiler vectorizes, instead of one scalar generator call per
 * element (which also computed each 4-word block four times). */
#include "dist_families_cpu.h"
#include "../math/philox.h"

#define MAX_WORDS (TRE_CPU_BLOCK / 4 + 2)

/* The Philox words of blocks b0 .. b0 + nb - 1 of random op `stream`, lane-parallel
 * (tre_philox4x32_10 over structure-of-arrays counters): word j of block b0 + i in c[j][i]. */
static void philox_lanes(uint64_t seed, uint64_t stream, uint64_t b0, int64_t nb, uint32_t c[4][MAX_WORDS]) {
    for (int64_t i = 0; i < nb; ++i) {
        const uint64_t b = b0 + (uint64_t)i;
        c[0][i] = (uint32_t)b;
        c[1][i] = (uint32_t)(b >> 32);
        c[2][i] = (uint32_t)stream;
        c[3][i] = (uint32_t)(stream >> 32);
    }
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; ++r) {
        for (int64_t i = 0; i < nb; ++i) {
            const uint64_t p0 = (uint64_t)0xD2511F53u * c[0][i], p1 = (uint64_t)0xCD9E8D57u * c[2][i];
            const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1][i] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c[3][i] ^ k1;
            c[1][i] = (uint32_t)p1;
            c[3][i] = (uint32_t)p0;
            c[0][i] = n0;
            c[2][i] = n2;
        }
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

void tre_cpu_std_normal_block(uint64_t seed, uint64_t stream, uint64_t elem0, int64_t n, float *out) {
    while (n > 0) { /* at most TRE_CPU_BLOCK elements per pass */
        const int64_t m = n < TRE_CPU_BLOCK ? n : TRE_CPU_BLOCK;
        const uint64_t b0 = elem0 >> 2;
        const int64_t nb = (int64_t)(((elem0 + (uint64_t)m + 3) >> 2) - b0);
        uint32_t c[4][MAX_WORDS];
        philox_lanes(seed, stream, b0, nb, c);
        float z[4 * MAX_WORDS];
        for (int64_t i = 0; i < nb; ++i) {
            tre_box_muller(c[0][i], c[1][i], &z[4 * i], &z[4 * i + 1]);
            tre_box_muller(c[2][i], c[3][i], &z[4 * i + 2], &z[4 * i + 3]);
        }
        const int64_t first = (int64_t)(elem0 & 3);
        for (int64_t j = 0; j < m; ++j) out[j] = z[first + j];
        out += m;
        elem0 += (uint64_t)m;
        n -= m;
    }
}

void tre_cpu_uniform_block(uint64_t seed, uint64_t stream, uint64_t elem0, int64_t n, double *out) {
    while (n > 0) {
        const int64_t m = n < TRE_CPU_BLOCK ? n : TRE_CPU_BLOCK;
        const uint64_t b0 = elem0 >> 2;
        const int64_t nb = (int64_t)(((elem0 + (uint64_t)m + 3) >> 2) - b0);
        uint32_t c[4][MAX_WORDS];
        philox_lanes(seed, stream, b0, nb, c);
        for (int64_t j = 0; j < m; ++j) {
            const uint64_t e = elem0 + (uint64_t)j;
            out[j] = tre_u32_to_open01_d(c[e & 3][(e >> 2) - b0]);
        }
        out += m;
        elem0 += (uint64_t)m;
        n -= m;
    }
}
