/* The vectorizable float math of kernels/math/vmath.h against libm: within 2 ulp (or the
 * absolute floor below) over a sweep of the whole float range, and libm's special values. */
#include <float.h>
#include <math.h>
#include "test_support.h"
#include "kernels/math/vmath.h"

/* distance in units in the last place, on the float grid */
static double ulps(float a, float b) {
    if (a == b) return 0;
    if (isnan(a) || isnan(b) || isinf(a) || isinf(b)) return INFINITY;
    int32_t ia = (int32_t)tre_f2u(a), ib = (int32_t)tre_f2u(b);
    if (ia < 0) ia = (int32_t)0x80000000 - ia;
    if (ib < 0) ib = (int32_t)0x80000000 - ib;
    return fabs((double)ia - (double)ib);
}

static void sweep(const char *name, float (*f)(float), double (*ref)(double), float lo, float hi,
                  double max_ulp, double abs_floor) {
    const int n = 2000003;
    double worst = 0;
    float at = 0;
    for (int i = 0; i < n; ++i) {
        float x = lo + (hi - lo) * (float)i / (float)(n - 1);
        float got = f(x), want = (float)ref((double)x);
        if (fabs((double)got - (double)want) <= abs_floor) continue;
        double u = ulps(got, want);
        if (u > worst) worst = u, at = x;
    }
    print_message("%s on [%g, %g]: worst %.1f ulp at %g\n", name, (double)lo, (double)hi, worst, (double)at);
    if (worst > max_ulp) fail_msg("%s: %.1f ulp at x = %.9g", name, worst, (double)at);
}

static double ref_softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

static void test_accuracy(void **state) {
    (void)state;
    sweep("exp", tre_vexpf, exp, -103.9f, 88.7f, 2, 0);
    sweep("exp near 0", tre_vexpf, exp, -1e-3f, 1e-3f, 1, 0);
    sweep("log", tre_vlogf, log, 1e-30f, 1e30f, 2, 0);
    sweep("log near 1", tre_vlogf, log, 0.5f, 2.0f, 2, 0);
    sweep("log subnormal", tre_vlogf, log, 1e-45f, 1e-38f, 2, 0);
    sweep("log1p", tre_vlog1pf, log1p, -0.999f, 1e6f, 2, 0);
    sweep("log1p tiny", tre_vlog1pf, log1p, -1e-6f, 1e-6f, 2, 0);
    sweep("log1p_unit", tre_vlog1p_unitf, log1p, 0.f, 1.f, 2, 0);
    sweep("log1p_unit small", tre_vlog1p_unitf, log1p, 0.f, 1e-3f, 2, 0);
    sweep("log1p_unit subnormal", tre_vlog1p_unitf, log1p, 0.f, 1e-38f, 2, 0);
    sweep("softplus", tre_vsoftplusf, ref_softplus, -100.f, 100.f, 3, 1e-44); /* composes two */
}

static void test_special_values(void **state) {
    (void)state;
    assert_true(isinf(tre_vexpf(89.f)) && tre_vexpf(89.f) > 0);
    assert_true(isinf(tre_vexpf(INFINITY)));
    assert_true(tre_vexpf(-104.f) == 0.f && tre_vexpf(-INFINITY) == 0.f);
    assert_true(isnan(tre_vexpf(NAN)));
    assert_true(tre_vexpf(0.f) == 1.f);
    assert_true(isinf(tre_vlogf(0.f)) && tre_vlogf(0.f) < 0);
    assert_true(isnan(tre_vlogf(-1.f)) && isnan(tre_vlogf(NAN)));
    assert_true(isinf(tre_vlogf(INFINITY)) && tre_vlogf(INFINITY) > 0);
    assert_true(tre_vlogf(1.f) == 0.f);
    assert_true(tre_vlog1pf(0.f) == 0.f && tre_vlog1pf(1e-30f) == 1e-30f);
    assert_true(isinf(tre_vlog1pf(-1.f)) && tre_vlog1pf(-1.f) < 0);
    assert_true(isinf(tre_vsoftplusf(INFINITY)) && tre_vsoftplusf(-INFINITY) == 0.f);
    assert_true(isnan(tre_vsoftplusf(NAN)));
    assert_true(tre_vlog1p_unitf(0.f) == 0.f && isnan(tre_vlog1p_unitf(NAN)));
    assert_true(tre_vsoftplusf(-200.f) == 0.f && tre_vsoftplusf(200.f) == 200.f);
}

/* tre_vexp_nonposf is tre_vexpf without the overflow side: the same bits for every x <= 0
 * (-0 and -inf included; NaN stays NaN), checked over a stride through all negative floats */
static void test_exp_nonpos_same_bits(void **state) {
    (void)state;
    int64_t checked = 0;
    for (uint64_t u = 0x80000000u; u <= 0xff800000u; u += 211) {
        const float x = tre_u2f((uint32_t)u);
        const float a = tre_vexp_nonposf(x), b = tre_vexpf(x);
        if (tre_f2u(a) != tre_f2u(b)) fail_msg("x = %.9g: %.9g vs %.9g", (double)x, (double)a, (double)b);
        ++checked;
    }
    const float edge[5] = {0.f, -0.f, -103.972084045410f, -87.33654f, -INFINITY};
    for (int i = 0; i < 5; ++i) assert_true(tre_f2u(tre_vexp_nonposf(edge[i])) == tre_f2u(tre_vexpf(edge[i])));
    assert_true(isnan(tre_vexp_nonposf(NAN)));
    assert_true(checked > 10000000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_special_values),
        cmocka_unit_test(test_exp_nonpos_same_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
