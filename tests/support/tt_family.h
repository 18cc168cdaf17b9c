/* The fixture checks every univariate distribution family goes through (tests/fixture): its
 * log-density elementwise at extreme parameters and support edges, then over a reference grid
 * through batch broadcasting, expand, to_event, per-particle parameters and the fused masked
 * per-particle sum the ELBO uses. Families differ only in constructor, parameter count and
 * tolerance, so the discrete and the gamma group share one battery. */
#ifndef TRELBO_TT_FAMILY_H
#define TRELBO_TT_FAMILY_H
#include "tt_fixture.h"

#define TT_FAMILY_MAX_PARAMS 3

typedef struct tt_family {
    const char *file;  /* the fixture, in tests/reference */
    const char *name;  /* its rows <name> (elementwise) and <name>_grid */
    int nparams;       /* 1..TT_FAMILY_MAX_PARAMS */
    bool has_rsample;
    tre_dist *(*make)(tre_ctx *ctx, tre_tensor *const *params);
    double rtol, atol; /* |got - ref| <= rtol * |ref| + atol; infinite references exactly */
} tt_family;

/* Row <name>: fields x [n], each parameter [n], log-density [n]. Checks the family at every
 * (x, parameters) triple as tensors of shape [n]. */
void tt_family_check_elementwise(const tt_family *f);

/* Row <name>_grid: each parameter [R] (R parameter points), x [K], log-density [R * K]. */
typedef struct tt_family_grid {
    int64_t R, K;
    const double *params[TT_FAMILY_MAX_PARAMS], *x, *lp;
} tt_family_grid;
tt_family_grid tt_family_grid_load(const tt_family *f);

/* The grid under parameters [R, 1] against values [K] (broadcast to [R, K]), expanded to [R, K],
 * to_event(1) (summed over K), with particle extent R (parameters of shape []), and the fused
 * per-particle sum, plain and with a mask that drops the infinite terms and scale 2. */
void tt_family_check_grid(const tt_family *f);

/* The grid with parameters of shape [] (hoisted by the kernels): all shared against the
 * reference, and every mix of shared and per-value parameters against the unhoisted path. */
void tt_family_check_shared_params(const tt_family *f);

/* The three checks as cmocka tests of the family in *state, and the entries that run them on a
 * family variable fam (named "<fam>_elementwise", "<fam>_shapes", "<fam>_shared"). */
void tt_family_test_elementwise(void **state);
void tt_family_test_shapes(void **state);
void tt_family_test_shared(void **state);
#define TT_FAMILY_TEST(fam, kind) \
    {.name = #fam "_" #kind, .test_func = tt_family_test_##kind, .initial_state = &(fam)}

#endif
