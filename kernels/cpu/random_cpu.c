/* Blocks of standard normal draws on the CPU: the same numbers as tre_philox_std_normal (shared
 * math in kernels/math/philox.h), computed for a whole block of elements at once. The Philox
 * rounds run over structure-of-arrays counters and Box-Muller over word pairs, two loops the
 * compiler vectorizes, instead of one scalar generator call per element. */
#include "dist_families_cpu.h"
#include "../math/philox.h"

#define MAX_WORDS (TRE_CPU_BLOCK / 4 + 2)

void tre_cpu_std_normal_block(uint64_t seed, uint64_t stream, uint64_t elem0, int64_t n, float *out) {
    while (n > 0) { /* at most TRE_CPU_BLOCK elements per pass */
        const int64_t m = n < TRE_CPU_BLOCK ? n : TRE_CPU_BLOCK;
        const uint64_t b0 = elem0 >> 2;
        const int64_t nb = (int64_t)(((elem0 + (uint64_t)m + 3) >> 2) - b0);
        uint32_t c0[MAX_WORDS], c1[MAX_WORDS], c2[MAX_WORDS], c3[MAX_WORDS];
        for (int64_t i = 0; i < nb; ++i) {
            const uint64_t b = b0 + (uint64_t)i;
            c0[i] = (uint32_t)b;
            c1[i] = (uint32_t)(b >> 32);
            c2[i] = (uint32_t)stream;
            c3[i] = (uint32_t)(stream >> 32);
        }
        uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
        for (int r = 0; r < 10; ++r) { /* tre_philox4x32_10, lane-parallel */
            for (int64_t i = 0; i < nb; ++i) {
                const uint64_t p0 = (uint64_t)0xD2511F53u * c0[i], p1 = (uint64_t)0xCD9E8D57u * c2[i];
                const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[i] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3[i] ^ k1;
                c1[i] = (uint32_t)p1;
                c3[i] = (uint32_t)p0;
                c0[i] = n0;
                c2[i] = n2;
            }
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        float z[4 * MAX_WORDS];
        for (int64_t i = 0; i < nb; ++i) {
            tre_box_muller(c0[i], c1[i], &z[4 * i], &z[4 * i + 1]);
            tre_box_muller(c2[i], c3[i], &z[4 * i + 2], &z[4 * i + 3]);
        }
        const int64_t first = (int64_t)(elem0 & 3);
        for (int64_t j = 0; j < m; ++j) out[j] = z[first + j];
        out += m;
        elem0 += (uint64_t)m;
        n -= m;
    }
}
