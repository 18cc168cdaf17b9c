/* The fixture battery of a univariate distribution family (see tt_family.h). */
#include <stdio.h>
#include <stdlib.h>
#include "tt_family.h"
#include "src/dist/dist_impl.h" /* tre_dist_log_prob_sum: the fused kernel the ELBO uses */

void tt_family_check_elementwise(const tt_family *f) {
    const tt_fixture_row *r = tt_fixture_find(f->file, f->name);
    const int np = f->nparams;
    assert_int_equal(r->nfields, np + 2);
    const int64_t n = r->len[0];
    for (int i = 1; i < r->nfields; ++i) assert_int_equal(r->len[i], n);
    tre_ctx *ctx = tt_ctx(1);
    tre_tensor *x = tt_tensor_from_doubles(ctx, 1, 1, &n, r->field[0]);
    tre_tensor *p[TT_FAMILY_MAX_PARAMS] = {NULL};
    for (int i = 0; i < np; ++i) p[i] = tt_tensor_from_doubles(ctx, 1, 1, &n, r->field[1 + i]);
    tre_dist *d = f->make(ctx, p);
    assert_non_null(d);
    if (tre_dist_has_rsample(d) != f->has_rsample)
        fail_msg("%s: has_rsample is %d, expected %d", f->name, tre_dist_has_rsample(d), f->has_rsample);
    tre_tensor *lp = tre_dist_log_prob(ctx, d, x);
    if (!lp) fail_msg("log_prob: %s", tre_ctx_error(ctx));
    tt_expect_shape(lp, 1, 1, &n);
    tt_expect_all(f->name, tt_host(ctx, lp, 0), r->field[np + 1], n, f->rtol, f->atol);
    tre_ctx_destroy(ctx);
}

tt_family_grid tt_family_grid_load(const tt_family *f) {
    char name[64];
    snprintf(name, sizeof name, "%s_grid", f->name);
    const tt_fixture_row *r = tt_fixture_find(f->file, name);
    const int np = f->nparams;
    assert_int_equal(r->nfields, np + 2);
    tt_family_grid g = {.R = r->len[0], .K = r->len[np], .x = r->field[np], .lp = r->field[np + 1]};
    for (int i = 0; i < np; ++i) g.params[i] = r->field[i];
    assert_int_equal(r->len[np + 1], g.R * g.K);
    return g;
}

void tt_family_check_grid(const tt_family *f) {
    const tt_family_grid g = tt_family_grid_load(f);
    const double rtol = f->rtol, atol = f->atol;
    tre_ctx *ctx = tt_ctx(2);
    const int64_t rk[2] = {g.R, g.K}, r1[2] = {g.R, 1};
    tre_tensor *x = tt_tensor_from_doubles(ctx, 1, 1, &g.K, g.x);
    int64_t bs[TRE_MAX_DIMS];

    /* batch broadcasting: params [R, 1] against values [K] give [R, K] */
    tre_tensor *pc[TT_FAMILY_MAX_PARAMS] = {NULL};
    for (int i = 0; i < f->nparams; ++i) pc[i] = tt_tensor_from_doubles(ctx, 1, 2, r1, g.params[i]);
    tre_dist *d = f->make(ctx, pc);
    assert_non_null(d);
    assert_int_equal(tre_dist_batch_shape(d, bs), 2);
    assert_int_equal(bs[0], g.R);
    assert_int_equal(bs[1], 1);
    assert_int_equal(tre_dist_event_shape(d, bs), 0);
    tre_tensor *lp = tre_dist_log_prob(ctx, d, x);
    tt_expect_shape(lp, 1, 2, rk);
    tt_expect_all("broadcast", tt_host(ctx, lp, 0), g.lp, g.R * g.K, rtol, atol);

    /* expand to [R, K]: the same log-densities, and the batch shape says so */
    tre_dist *e = tre_dist_expand(ctx, d, 2, rk);
    assert_non_null(e);
    assert_int_equal(tre_dist_batch_shape(e, bs), 2);
    assert_int_equal(bs[1], g.K);
    lp = tre_dist_log_prob(ctx, e, x);
    tt_expect_shape(lp, 1, 2, rk);
    tt_expect_all("expand", tt_host(ctx, lp, 0), g.lp, g.R * g.K, rtol, atol);

    /* to_event(1): batch [R], event [K], log-densities summed over the event */
    tre_dist *ev = tre_dist_to_event(ctx, e, 1);
    assert_non_null(ev);
    assert_int_equal(tre_dist_event_shape(ev, bs), 1);
    assert_int_equal(bs[0], g.K);
    lp = tre_dist_log_prob(ctx, ev, x);
    tt_expect_shape(lp, 1, 1, &g.R);
    const float *h = tt_host(ctx, lp, 0);
    for (int64_t r = 0; r < g.R; ++r)
        tt_expect_rel("to_event", r, h[r], tt_row_sum(g.lp, g.K, r, NULL), rtol, atol);

    /* parameters with particle extent P = R (shape []): particle r has parameter point r */
    tre_tensor *pp[TT_FAMILY_MAX_PARAMS] = {NULL};
    for (int i = 0; i < f->nparams; ++i) pp[i] = tt_tensor_from_doubles(ctx, g.R, 0, NULL, g.params[i]);
    tre_dist *dp = f->make(ctx, pp);
    assert_non_null(dp);
    lp = tre_dist_log_prob(ctx, dp, x);
    tt_expect_shape(lp, g.R, 1, &g.K);
    tt_expect_all("particles", tt_host(ctx, lp, 0), g.lp, g.R * g.K, rtol, atol);

    /* the fused per-particle sum (what the ELBO uses), plain and with mask and scale */
    tre_tensor *s = tre_dist_log_prob_sum(ctx, dp, x, NULL, 1.0);
    tt_expect_shape(s, g.R, 0, NULL);
    h = tt_host(ctx, s, 0);
    for (int64_t r = 0; r < g.R; ++r)
        tt_expect_rel("log_prob_sum", r, h[r], tt_row_sum(g.lp, g.K, r, NULL), rtol, atol);
    /* the mask of particle r drops exactly its infinite terms, so its masked sum is finite */
    float *mask = malloc((size_t)g.K * sizeof *mask);
    for (int64_t r = 0; r < g.R; ++r) {
        for (int64_t k = 0; k < g.K; ++k) mask[k] = isinf(g.lp[r * g.K + k]) ? 0.f : 1.f;
        tre_tensor *m = tre_from_host(ctx, 1, 1, &g.K, mask);
        tre_tensor *sm = tre_dist_log_prob_sum(ctx, dp, x, m, 2.0);
        tt_expect_shape(sm, g.R, 0, NULL);
        tt_expect_rel("masked log_prob_sum", r, tt_at(ctx, sm, r), 2.0 * tt_row_sum(g.lp, g.K, r, mask),
                      rtol, atol);
    }
    free(mask);
    tre_ctx_destroy(ctx);
}

/* Parameters of shape [] (one value for the whole space, as a plate's shared parameters):
 * the kernels hoist their logs and log-normalizers out of the loop over values. All shared
 * against the reference grid; then each mix of shared and per-value parameters against the
 * same parameter values given as [K] tensors throughout (the unhoisted path, which the
 * elementwise rows check), with validation off since the mixes leave the grid's points. */
void tt_family_check_shared_params(const tt_family *f) {
    const tt_family_grid g = tt_family_grid_load(f);
    tre_ctx *ctx = NULL;
    TT_OK(ctx, tre_ctx_create(&ctx, &(tre_ctx_opts){.backend = TRE_BACKEND_CPU, .seed = 3, .no_validation = true}));
    tre_tensor *x = tt_tensor_from_doubles(ctx, 1, 1, &g.K, g.x);
    double *v = malloc((size_t)g.K * sizeof *v);
    for (int64_t r = 0; r < g.R; ++r) {
        tre_tensor *ps[TT_FAMILY_MAX_PARAMS] = {NULL};
        for (int i = 0; i < f->nparams; ++i) ps[i] = tt_tensor_from_doubles(ctx, 1, 0, NULL, g.params[i] + r);
        tre_tensor *lp = tre_dist_log_prob(ctx, f->make(ctx, ps), x);
        tt_expect_shape(lp, 1, 1, &g.K);
        tt_expect_all("shared parameters", tt_host(ctx, lp, 0), g.lp + r * g.K, g.K, f->rtol, f->atol);
        for (unsigned mix = 1; mix + 1 < 1u << f->nparams; ++mix) {
            tre_tensor *pm[TT_FAMILY_MAX_PARAMS] = {NULL}, *pf[TT_FAMILY_MAX_PARAMS] = {NULL};
            for (int i = 0; i < f->nparams; ++i) {
                /* parameter i shared (bit i set) at point r, or varying over the values */
                for (int64_t k = 0; k < g.K; ++k) v[k] = mix >> i & 1u ? g.params[i][r] : g.params[i][(r + k + i) % g.R];
                pf[i] = tt_tensor_from_doubles(ctx, 1, 1, &g.K, v);
                pm[i] = mix >> i & 1u ? ps[i] : pf[i];
            }
            tre_tensor *got = tre_dist_log_prob(ctx, f->make(ctx, pm), x);
            tre_tensor *want = tre_dist_log_prob(ctx, f->make(ctx, pf), x);
            tt_expect_shape(got, 1, 1, &g.K);
            tt_expect_shape(want, 1, 1, &g.K);
            const float *hw = tt_host(ctx, want, 1);
            double ref[64];
            assert_true(g.K <= 64);
            for (int64_t k = 0; k < g.K; ++k) ref[k] = hw[k];
            tt_expect_all("mixed shared parameters", tt_host(ctx, got, 0), ref, g.K, f->rtol, f->atol);
        }
        tre_ctx_step_reset(ctx);
        x = tt_tensor_from_doubles(ctx, 1, 1, &g.K, g.x);
    }
    free(v);
    tre_ctx_destroy(ctx);
}

void tt_family_test_elementwise(void **state) { tt_family_check_elementwise(*state); }
void tt_family_test_shapes(void **state) { tt_family_check_grid(*state); }
void tt_family_test_shared(void **state) { tt_family_check_shared_params(*state); }
