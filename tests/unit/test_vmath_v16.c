/* The sixteen-lane Bernoulli(logits) math of the CPU kernels (kernels/cpu/vmath_v16.h: the fused
 * GLM kernel, the elementwise Bernoulli(logits) blocks) gives, lane for lane, the bits of the
 * scalar functions it twins (kernels/math/vmath.h, bernoulli.h): over sweeps of the whole range
 * they serve (exp for x <= 0 down past the subnormal results, log1p on [0, 1], the Bernoulli
 * pair over logits of both signs and both values), vectors that mix the fast path's range with
 * the far tail, and special values (NaN, infinities, signed zeros). Compiled with the CPU
 * kernels' flags, so that both sides round as they do in the library. */
#include <float.h>
#include <stdlib.h>
#include "test_support.h"
#include "kernels/cpu/vmath_v16.h"
#include "kernels/math/bernoulli.h"

static bool same_bits(float a, float b) { return tre_f2u(a) == tre_f2u(b) || (a != a && b != b); }

/* checks 16 inputs at a time; x: n inputs (n a multiple of 16) */
static void check_exp_and_log1p(const float *x, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i += 16) {
        const tre_v16 v = tre_v16_load(x + i);
        const tre_v16 e = tre_v16_exp_nonpos(v);
        for (int k = 0; k < 16; ++k)
            if (!same_bits(e[k], tre_vexp_nonposf(x[i + k])))
                fail_msg("%s: exp_nonpos(%a) lane %d: %a, scalar %a", what, (double)x[i + k], k,
                         (double)e[k], (double)tre_vexp_nonposf(x[i + k]));
    }
}

static void test_exp_nonpos_bits(void **state) {
    (void)state;
    const int64_t n = 16 * 200000;
    float *x = malloc((size_t)n * sizeof *x);
    /* a sweep of [-110, 0]: the fast path, the clamp at -103.97 and the subnormal results */
    for (int64_t i = 0; i < n; ++i) x[i] = -110.f * (float)i / (float)(n - 1);
    check_exp_and_log1p(x, n, "sweep");
    /* vectors mixing [-87, 0] with the tail and special values (the slow path for all lanes) */
    const float special[] = {-0.f, 0.f, -INFINITY, NAN, -87.f, -87.33654f, -87.5f, -103.97208f,
                             -104.f, -1e30f, -1e-45f, -FLT_MIN, -0.5f, -1.f, -20.f, -86.99f};
    check_exp_and_log1p(special, 16, "special");
    for (int64_t i = 0; i < n; ++i) x[i] = (i % 7 == 3) ? -88.f - (float)(i % 13) : -(float)(i % 870) / 10.f;
    check_exp_and_log1p(x, n, "mixed");
    free(x);
}

static void test_log1p_unit_bits(void **state) {
    (void)state;
    float x[16 * 4096];
    for (int i = 0; i < 16 * 4096; ++i) x[i] = i % 5 == 0 ? ldexpf(1.f, -(i % 150)) : (float)i / (16 * 4096 - 1);
    for (int i = 0; i < 16 * 4096; i += 16) {
        const tre_v16 p = tre_v16_log1p_unit(tre_v16_load(x + i));
        for (int k = 0; k < 16; ++k)
            if (!same_bits(p[k], tre_vlog1p_unitf(x[i + k])))
                fail_msg("log1p_unit(%a): %a, scalar %a", (double)x[i + k], (double)p[k],
                         (double)tre_vlog1p_unitf(x[i + k]));
    }
}

static void test_bernoulli_pair_bits(void **state) {
    (void)state;
    const int64_t n = 16 * 100000;
    float *l = malloc((size_t)n * sizeof *l), *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; ++i) {
        l[i] = 240.f * (float)i / (float)(n - 1) - 120.f; /* both tails past +-87 */
        y[i] = (float)((i / 3) % 2);
    }
    const float special[16] = {NAN, INFINITY, -INFINITY, 0.f, -0.f, 1e-30f, -1e-30f, 88.f,
                               -88.f, 103.f, -110.f, 5.f, -5.f, 0.5f, -0.5f, 17.f};
    memcpy(l, special, sizeof special);
    for (int64_t i = 0; i < n; i += 16) {
        const tre_v16 lv = tre_v16_load(l + i), yv = tre_v16_load(y + i), e = tre_v16_bernoulli_e(lv);
        const tre_v16 lp = tre_v16_bernoulli_logits_log_prob_e(yv, lv, e);
        const tre_v16 g = tre_v16_bernoulli_logits_dlp_dlogits_e(yv, lv, e);
        for (int k = 0; k < 16; ++k) {
            const float want_lp = tre_bernoulli_logits_log_prob(y[i + k], l[i + k]);
            const float want_g = tre_bernoulli_logits_dlp_dlogits(y[i + k], l[i + k]);
            if (!same_bits(lp[k], want_lp) || !same_bits(g[k], want_g))
                fail_msg("Bernoulli(y = %g, l = %a): log_prob %a / %a, gradient %a / %a", (double)y[i + k],
                         (double)l[i + k], (double)lp[k], (double)want_lp, (double)g[k], (double)want_g);
        }
    }
    free(l), free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_nonpos_bits),
        cmocka_unit_test(test_log1p_unit_bits),
        cmocka_unit_test(test_bernoulli_pair_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
