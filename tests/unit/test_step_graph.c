/* tre_svi_step_graphed on the CPU backend, which has no launch graphs: every step runs eagerly
 * and equals tre_svi_step bit for bit, the stats say why, and bad calls fail as tre_svi_step's
 * do. (tests/gpu/test_gpu_step_graph.c checks capture and replay on the CUDA backend.) */
#include <stdlib.h>
#include "test_support.h"
#include "tt_conjugate.h"

static const float X[6] = {1.2f, 0.7f, 2.1f, 1.6f, 0.9f, 1.4f};

static tt_conj conj_of(void) {
    return (tt_conj){.m0 = 0, .s0 = 2, .s = 1, .qa = 0.3, .qb = 0.8, .n = 6, .x = X};
}

static void test_cpu_graphed_equals_eager(void **state) {
    (void)state;
    tre_ctx *a = tt_ctx(9), *b = tt_ctx(9);
    tt_conj ca = conj_of(), cb = conj_of();
    tt_conj_setup(a, &ca);
    tt_conj_setup(b, &cb);
    tre_adam *oa, *ob;
    TT_OK(a, tre_adam_create(a, &(tre_adam_opts){.lr = 0.05}, &oa));
    TT_OK(b, tre_adam_create(b, &(tre_adam_opts){.lr = 0.05}, &ob));
    tre_step_graph *g = NULL;
    TT_OK(b, tre_step_graph_create(b, &g));
    const tre_elbo_opts o = {.kind = TRE_TRACE_ELBO, .num_particles = 50};
    for (int step = 0; step < 8; ++step) {
        double la, lb;
        TT_OK(a, tre_svi_step(a, tt_conj_model, tt_conj_guide, &ca, &o, oa, &la));
        TT_OK(b, tre_svi_step_graphed(b, g, tt_conj_model, tt_conj_guide, &cb, &o, ob, &lb));
        if (memcmp(&la, &lb, sizeof la) != 0) fail_msg("step %d: loss %.17g vs %.17g", step, la, lb);
    }
    const char *names[2] = {"q_loc", "q_scale"};
    for (int i = 0; i < 2; ++i) {
        float ua, ub;
        TT_OK(a, tre_tensor_to_host(a, tre_param_store_get(a, names[i])->unconstrained, &ua, 1));
        TT_OK(b, tre_tensor_to_host(b, tre_param_store_get(b, names[i])->unconstrained, &ub, 1));
        assert_memory_equal(&ua, &ub, sizeof ua);
    }
    tre_step_graph_stats s;
    tre_step_graph_stats_get(g, &s);
    assert_int_equal(s.steps, 8);
    assert_int_equal(s.eager_steps, 8);
    assert_int_equal(s.captures, 0);
    assert_int_equal(s.replays, 0);
    assert_non_null(s.eager_reason);
    assert_non_null(strstr(s.eager_reason, "no launch graphs"));
    tre_step_graph_destroy(b, g);
    tre_adam_destroy(a, oa);
    tre_adam_destroy(b, ob);
    tre_ctx_destroy(a);
    tre_ctx_destroy(b);
}

static void test_bad_calls(void **state) {
    (void)state;
    tre_ctx *c = tt_ctx(1);
    tt_conj cc = conj_of();
    tt_conj_setup(c, &cc);
    tre_adam *opt;
    TT_OK(c, tre_adam_create(c, NULL, &opt));
    tre_step_graph *g = NULL;
    TT_OK(c, tre_step_graph_create(c, &g));
    const tre_elbo_opts o = {.kind = TRE_TRACE_ELBO, .num_particles = 4};
    TT_FAILS_WITH(c, tre_svi_step_graphed(c, NULL, tt_conj_model, tt_conj_guide, &cc, &o, opt, NULL),
                  TRE_ERR_INVALID_ARG, "graph is NULL");
    tre_ctx_clear_error(c);
    TT_FAILS_WITH(c, tre_svi_step_graphed(c, g, tt_conj_model, tt_conj_guide, &cc, NULL, opt, NULL),
                  TRE_ERR_INVALID_ARG, "opts is NULL");
    tre_ctx_clear_error(c);
    const tre_elbo_opts zero = {.kind = TRE_TRACE_ELBO, .num_particles = 0};
    TT_FAILS_WITH(c, tre_svi_step_graphed(c, g, tt_conj_model, tt_conj_guide, &cc, &zero, opt, NULL),
                  TRE_ERR_INVALID_ARG, "num_particles");
    tre_ctx_clear_error(c);
    TT_OK(c, tre_svi_step_graphed(c, g, tt_conj_model, tt_conj_guide, &cc, &o, opt, NULL));
    assert_int_equal(tre_svi_step_graphed(NULL, g, tt_conj_model, tt_conj_guide, &cc, &o, opt, NULL),
                     TRE_ERR_INVALID_ARG);
    tre_step_graph_stats s;
    tre_step_graph_stats_get(NULL, &s);
    assert_int_equal(s.steps, 0);
    /* a graph and an optimiser belong to their context: another one is refused and goes on;
     * destroyed with another context, they free host memory only (c frees their tensors) */
    tre_ctx *c2 = tt_ctx(2);
    tt_conj cc2 = conj_of();
    tt_conj_setup(c2, &cc2);
    tre_adam *opt2;
    TT_OK(c2, tre_adam_create(c2, NULL, &opt2));
    TT_FAILS_WITH(c2, tre_svi_step_graphed(c2, g, tt_conj_model, tt_conj_guide, &cc2, &o, opt2, NULL),
                  TRE_ERR_INVALID_ARG, "step graph was created for another context");
    tre_ctx_clear_error(c2);
    tre_step_graph *g2 = NULL;
    TT_OK(c2, tre_step_graph_create(c2, &g2));
    TT_OK(c2, tre_svi_step_graphed(c2, g2, tt_conj_model, tt_conj_guide, &cc2, &o, opt2, NULL));
    tre_adam *opt3;
    TT_OK(c, tre_adam_create(c, NULL, &opt3));
    TT_OK(c, tre_svi_step(c, tt_conj_model, tt_conj_guide, &cc, &o, opt3, NULL));
    tre_adam_destroy(c2, opt3);
    tre_step_graph_destroy(c2, g);
    g = NULL;
    tre_step_graph_destroy(c2, g2);
    tre_adam_destroy(c2, opt2);
    tre_ctx_destroy(c2);
    tre_step_graph_destroy(c, g);
    tre_step_graph_destroy(c, NULL);
    tre_adam_destroy(c, opt);
    tre_ctx_destroy(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_graphed_equals_eager),
        cmocka_unit_test(test_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
