/* tre_deterministic (Pyro's and NumPyro's deterministic): the value is recorded in the trace
 * under its name and returned; the ELBO and its gradients are bit for bit those of the program
 * without it, even when the value is NaN; replay does not carry a guide's deterministic value
 * into the model, condition leaves it alone, block's "deterministic" type hides it; a name taken
 * by a sample site, or a NULL value, is an error naming the site, and the context goes on. */
#include <math.h>
#include "test_support.h"

typedef struct dargs {
    bool record;      /* the programs record their deterministic sites */
    bool nan_value;   /* the model's recorded value is NaN */
    bool clash;       /* the model's deterministic site reuses the name "z" */
} dargs;

static tre_tensor *model(tre_ctx *c, const void *args) {
    const dargs *a = args;
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, tre_scalar(c, 0.f), tre_scalar(c, 2.f)), NULL);
    if (a->record) {
        tre_tensor *v = a->nan_value ? tre_log(c, tre_neg(c, tre_exp(c, z))) : tre_mul(c, z, z);
        if (tre_deterministic(c, a->clash ? "z" : "z_sq", v) != v) return NULL;
        tre_deterministic(c, "shared", tre_scalar(c, 2.f));
    }
    tre_sample(c, "y", tre_normal(c, z, tre_scalar(c, 1.f)), tre_scalar(c, 0.3f));
    return z;
}

static tre_tensor *guide(tre_ctx *c, const void *args) {
    const dargs *a = args;
    tre_tensor *m = tre_param(c, "m", tre_scalar(c, 0.4f), TRE_C_REAL);
    tre_tensor *s = tre_param(c, "s", tre_scalar(c, 0.7f), TRE_C_POSITIVE);
    tre_tensor *z = tre_sample(c, "z", tre_normal(c, m, s), NULL);
    if (a->record) {
        tre_deterministic(c, "guide_only", tre_add(c, z, m)); /* not in the model: no error */
        tre_deterministic(c, "shared", tre_scalar(c, 1.f));
    }
    return z;
}

enum { P = 32 };

static void test_recorded_and_free(void **state) {
    (void)state;
    float e[2][P], g[2][2];
    for (int rec = 0; rec < 2; ++rec) {
        tre_ctx *ctx = tt_ctx(4);
        tre_elbo_result r;
        const dargs a = {.record = rec};
        TT_OK(ctx, tre_elbo(ctx, model, guide, &a, &(tre_elbo_opts){.num_particles = P, .grad = true}, &r));
        memcpy(e[rec], r.particles, sizeof e[rec]);
        TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "m")->grad, &g[rec][0], 1));
        TT_OK(ctx, tre_tensor_to_host(ctx, tre_param_store_get(ctx, "s")->grad, &g[rec][1], 1));
        if (rec) {
            const tre_trace_node *n = tre_trace_get(r.model_trace, "z_sq");
            assert_non_null(n);
            assert_int_equal(n->msg.type, TRE_SITE_DETERMINISTIC);
            assert_string_equal(tre_site_type_name(n->msg.type), "deterministic");
            const float *z = tt_host(ctx, tre_trace_get(r.model_trace, "z")->msg.value, 0);
            const float *zz = tt_host(ctx, n->msg.value, 1);
            for (int k = 0; k < P; ++k) assert_true(zz[k] == z[k] * z[k]);
            /* the model's own value, not the guide's of the same name */
            assert_true(tt_at(ctx, tre_trace_get(r.model_trace, "shared")->msg.value, 0) == 2.f);
            assert_true(tt_at(ctx, tre_trace_get(r.guide_trace, "shared")->msg.value, 0) == 1.f);
            assert_non_null(tre_trace_get(r.guide_trace, "guide_only"));
        }
        tre_ctx_destroy(ctx);
    }
    assert_memory_equal(e[0], e[1], sizeof e[0]);
    assert_memory_equal(g[0], g[1], sizeof g[0]);
    /* a NaN value is recorded and read by nothing */
    tre_ctx *ctx = tt_ctx(4);
    tre_elbo_result r;
    TT_OK(ctx, tre_elbo(ctx, model, guide, &(dargs){.record = true, .nan_value = true},
                        &(tre_elbo_opts){.num_particles = P, .grad = true}, &r));
    assert_memory_equal(r.particles, e[0], sizeof e[0]);
    assert_true(isnan(tt_at(ctx, tre_trace_get(r.model_trace, "z_sq")->msg.value, 0)));
    tre_ctx_destroy(ctx);
}

static void test_handlers_leave_it_or_hide_it(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(5);
    tre_dict *data = tre_dict_new(ctx);
    TT_OK(ctx, tre_dict_set(ctx, data, "z_sq", tre_scalar(ctx, 5.f)));
    const char *det[1] = {"deterministic"}, *obs[1] = {"observe"};
    for (int h = 0; h < 3; ++h) {
        tre_messenger *hs[2] = {tre_trace_handler(ctx), NULL};
        if (h == 0) hs[1] = tre_condition_handler(ctx, data);
        if (h == 1) hs[1] = tre_block_handler(ctx, &(tre_block_opts){.hide_types = det, .n_hide_types = 1});
        if (h == 2) hs[1] = tre_block_handler(ctx, &(tre_block_opts){.hide_types = obs, .n_hide_types = 1});
        TT_OK(ctx, tre_run(ctx, model, &(dargs){.record = true}, hs, 2, NULL));
        const tre_trace *t = tre_trace_handler_trace(hs[0]);
        const tre_trace_node *n = tre_trace_get(t, "z_sq");
        if (h == 1) {
            assert_null(n);
            assert_non_null(tre_trace_get(t, "y"));
            continue;
        }
        assert_non_null(n);
        assert_false(n->msg.is_observed);
        const float z = tt_at(ctx, tre_trace_get(t, "z")->msg.value, 0);
        assert_true(tt_at(ctx, n->msg.value, 0) == z * z); /* not conditioned to 5 */
        if (h == 2) assert_null(tre_trace_get(t, "y"));
    }
    tre_ctx_destroy(ctx);
}

static tre_tensor *null_value(tre_ctx *c, const void *args) {
    (void)args;
    return tre_deterministic(c, "d", NULL);
}

static void test_errors_name_the_site(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(6);
    tre_elbo_result r;
    const tre_elbo_opts o = {.num_particles = 4, .grad = true};
    TT_FAILS_WITH(ctx, tre_elbo(ctx, model, guide, &(dargs){.record = true, .clash = true}, &o, &r),
                  TRE_ERR_DUPLICATE_SITE, "site \"z\" is already in the trace as a sample site");
    tre_ctx_clear_error(ctx);
    tre_messenger *tr = tre_trace_handler(ctx);
    TT_FAILS_WITH(ctx, tre_run(ctx, null_value, NULL, &tr, 1, NULL), TRE_ERR_INVALID_ARG,
                  "tre_deterministic(\"d\"): value is NULL");
    tre_ctx_clear_error(ctx);
    TT_OK(ctx, tre_elbo(ctx, model, guide, &(dargs){.record = true}, &o, &r));
    assert_true(isfinite(r.mean));
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_and_free),
        cmocka_unit_test(test_handlers_leave_it_or_hide_it),
        cmocka_unit_test(test_errors_name_the_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
