/* The CPU log-density kernels hoist what depends on one parameter alone (log scale, lgamma of a
 * concentration) out of the element loop when that parameter is one value over a block, also
 * when it only happens to be (a per-particle scale broadcast over the data: blocks inside one
 * particle's row). The hoisted and the per-element forms must give the same bits: here the
 * same numbers with the parameter per particle and broadcast, against the parameter written
 * out in full (every block per element), for the elementwise log_prob and the fused sum. */
#include <string.h>
#include "test_support.h"
#include "src/dist/dist_impl.h" /* tre_dist_log_prob_sum: the fused kernel the ELBO uses */

enum { P = 7, N = 1000 }; /* 1000 = 3 blocks of 256 and a part: some blocks cross particles */

static float frand(unsigned *s, float lo, float hi) {
    *s = *s * 1103515245u + 12345u;
    return lo + (hi - lo) * (float)((*s >> 8) & 0xffff) / 65536.f;
}

typedef tre_dist *(*make_fn)(tre_ctx *c, const tre_tensor *a, const tre_tensor *b);
static tre_dist *mk_normal(tre_ctx *c, const tre_tensor *a, const tre_tensor *b) { return tre_normal(c, a, b); }
static tre_dist *mk_gamma(tre_ctx *c, const tre_tensor *a, const tre_tensor *b) { return tre_gamma(c, b, a); }

/* family(data-sized first argument, per-particle second argument) vs the second written out */
static void check(const char *what, make_fn make, float plo, float phi) {
    tre_ctx *c = tt_ctx(3);
    static float x[N], a[P * N], s[P];
    unsigned seed = 11;
    for (int i = 0; i < N; ++i) x[i] = frand(&seed, 0.1f, 4.f);
    for (int i = 0; i < P * N; ++i) a[i] = frand(&seed, 0.2f, 3.f);
    for (int p = 0; p < P; ++p) s[p] = frand(&seed, plo, phi);
    const int64_t n = N;
    tre_tensor *xt = tt_data(c, N, x);
    tre_tensor *at = tre_from_host(c, P, 1, &n, a);
    tre_tensor *per_particle = tre_from_host(c, P, 0, NULL, s);
    tre_tensor *full = tre_add(c, per_particle, tre_full(c, 1, &n, 0.f)); /* [P, N], every element */
    assert_non_null(full);
    const tre_dist *d1 = make(c, at, per_particle), *d2 = make(c, at, full);
    tre_tensor *lp1 = tre_dist_log_prob(c, d1, xt), *lp2 = tre_dist_log_prob(c, d2, xt);
    tre_tensor *sum1 = tre_dist_log_prob_sum(c, d1, xt, NULL, 1.0), *sum2 = tre_dist_log_prob_sum(c, d2, xt, NULL, 1.0);
    if (!lp1 || !lp2 || !sum1 || !sum2) fail_msg("%s: %s", what, tre_ctx_error(c));
    if (memcmp(tt_host(c, lp1, 0), tt_host(c, lp2, 1), sizeof(float) * P * N) != 0)
        fail_msg("%s: log_prob differs with the parameter per particle", what);
    if (memcmp(tt_host(c, sum1, 2), tt_host(c, sum2, 3), sizeof(float) * P) != 0)
        fail_msg("%s: log_prob_sum differs with the parameter per particle", what);
    tre_tensor_destroy(c, xt);
    tre_ctx_destroy(c);
}

static void test_normal_scale_per_particle(void **state) {
    (void)state;
    check("Normal(loc, scale per particle)", mk_normal, 0.3f, 2.f);
}

static void test_gamma_concentration_per_particle(void **state) {
    (void)state;
    check("Gamma(concentration per particle, rate)", mk_gamma, 0.5f, 5.f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_scale_per_particle),
        cmocka_unit_test(test_gamma_concentration_per_particle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
