/* Philox4x32-10 (Salmon et al., SC'11), the counter-based generator cuRAND also provides.
 * One copy for both backends: element i of random op number `stream` under key `seed` always
 * gets the same bits, whichever backend or thread computes it. */
#ifndef TRELBO_KERNELS_MATH_PHILOX_H
#define TRELBO_KERNELS_MATH_PHILOX_H
#include <math.h>
#include "hd.h"
#include "vmath.h"

typedef struct tre_u32x4 { uint32_t v[4]; } tre_u32x4;

static inline TRE_HD uint32_t tre_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

static inline TRE_HD tre_u32x4 tre_philox4x32_10(tre_u32x4 ctr, uint32_t k0, uint32_t k1) {
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
    const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int r = 0; r < 10; ++r) {
        uint32_t hi0, hi1;
        uint32_t lo0 = tre_mulhilo32(M0, ctr.v[0], &hi0);
        uint32_t lo1 = tre_mulhilo32(M1, ctr.v[2], &hi1);
        tre_u32x4 n;
        n.v[0] = hi1 ^ ctr.v[1] ^ k0;
        n.v[1] = lo1;
        n.v[2] = hi0 ^ ctr.v[3] ^ k1;
        n.v[3] = lo0;
        ctr = n;
        k0 += W0;
        k1 += W1;
    }
    return ctr;
}

/* The 4 words for block `block` (elements 4*block .. 4*block+3) of random op `stream`. */
static inline TRE_HD tre_u32x4 tre_philox_block(uint64_t seed, uint64_t stream, uint64_t block) {
    tre_u32x4 c;
    c.v[0] = (uint32_t)block;
    c.v[1] = (uint32_t)(block >> 32);
    c.v[2] = (uint32_t)stream;
    c.v[3] = (uint32_t)(stream >> 32);
    return tre_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* The Box-Muller pair of two random words: radius from a (a uniform in (0, 1), never 0),
 * angle from the top 24 bits of b; *c = r cos, *s = r sin. Float arithmetic over the
 * vectorizable functions of vmath.h, so a CPU loop over pairs vectorizes and both backends
 * compute the same float operations. */
static inline TRE_HD void tre_box_muller(uint32_t a, uint32_t b, float *c, float *s) {
    /* log u1 for u1 = (a + 0.5) / 2^32. Near 1, float cannot hold u1 (nor 1 - u1) finely
     * enough, so the upper half goes through t = 1 - u1 = (~a + 0.5) / 2^32, which is exact,
     * and log1p(-t) = log(u) * -t / (u - 1) with u = 1 - t (as tre_vlog1pf): one log either way. */
    const int upper = (int)(a >> 31);
    const float t = ((float)(upper ? ~a : a) + 0.5f) * 2.3283064365386963e-10f; /* 2^-32 */
    const float u = upper ? 1.0f - t : t, d = u - 1.0f;
    const float l = tre_vlogf(u);
    const float log_u1 = !upper ? l : (d == 0.0f ? -t : l * (-t / d));
    const float u2 = ((float)(b >> 8) + 0.5f) * 5.9604644775390625e-8f; /* 2^-24 */
    const float r = sqrtf(-2.0f * log_u1);
    float sn, cs;
    tre_vsincos2pif(u2, &sn, &cs);
    *c = r * cs;
    *s = r * sn;
}

/* Standard normal number j (0..3) of a Philox block: Box-Muller on word pairs (0,1), (2,3),
 * cos for the even number of a pair, sin for the odd one. */
static inline TRE_HD float tre_philox_normal(tre_u32x4 w, int j) {
    const int pair = (j >> 1) << 1;
    float c, s;
    tre_box_muller(w.v[pair], w.v[pair + 1], &c, &s);
    return (j & 1) ? s : c;
}

/* Standard normal number `elem` of random op `stream`: Box-Muller over block elem / 4. */
static inline TRE_HD float tre_philox_std_normal(uint64_t seed, uint64_t stream, uint64_t elem) {
    return tre_philox_normal(tre_philox_block(seed, stream, elem >> 2), (int)(elem & 3));
}

/* Uniform number `elem` of random op `stream` in the open interval (0, 1), in double with 32
 * random bits (word elem % 4 of block elem / 4): for inverse-CDF samplers. */
static inline TRE_HD double tre_philox_uniform(uint64_t seed, uint64_t stream, uint64_t elem) {
    tre_u32x4 w = tre_philox_block(seed, stream, elem >> 2);
    return ((double)w.v[elem & 3] + 0.5) * (1.0 / 4294967296.0);
}

/* Draw `draw` (0, 1, 2, ...) of element `elem` of random op `stream`: an independent sequence
 * of 4-word blocks per element, for samplers that need a variable number of uniforms
 * (rejection: Gamma, Poisson, Binomial). Uses its own counter layout; an op uses one layout. */
static inline TRE_HD tre_u32x4 tre_philox_elem(uint64_t seed, uint64_t stream, uint64_t elem,
                                               uint32_t draw) {
    tre_u32x4 c;
    c.v[0] = draw;
    c.v[1] = (uint32_t)elem;
    c.v[2] = (uint32_t)(elem >> 32);
    c.v[3] = (uint32_t)stream;
    return tre_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32) ^ (uint32_t)(stream >> 32));
}
/* A word of such a block as a double uniform in the open interval (0, 1): never 0 (log-safe)
 * and never 1. */
static inline TRE_HD double tre_u32_to_open01_d(uint32_t x) {
    return ((double)x + 0.5) * (1.0 / 4294967296.0);
}
#endif
