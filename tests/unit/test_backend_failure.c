/* How the host reports a backend failure: with the cause the backend gives (the CUDA runtime's
 * error string) a failed op or allocation is TRE_ERR_BACKEND naming that cause, not "out of
 * memory"; without one, an allocation that failed is TRE_ERR_OUT_OF_MEMORY as before. The
 * cause is taken once, and the context works again after a reset.
 *
 * The CUDA backend's causes cannot be provoked without a device, so this drives the host side
 * through a CPU context whose backend table is patched to fail. */
#include <string.h>
#include "test_support.h"
#include "src/core/ctx_impl.h"

static const char *pending_cause; /* what the patched backend gives as its next cause */
static int takes;

static const char *fake_cause(void *impl) {
    (void)impl;
    const char *c = pending_cause;
    pending_cause = NULL;
    ++takes;
    return c;
}
static void *failing_alloc(void *impl, size_t bytes) {
    (void)impl, (void)bytes;
    return NULL;
}
static int failing_fill(void *impl, float *dst, float v, int64_t n) {
    (void)impl, (void)dst, (void)v, (void)n;
    return 1;
}
static int failing_fill_oom(void *impl, float *dst, float v, int64_t n) {
    (void)impl, (void)dst, (void)v, (void)n;
    return TRE_KERR_OOM;
}

#define STICKY "an illegal memory access was encountered (cudaErrorIllegalAddress)"

static void test_allocation_failure_with_and_without_cause(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    tre_backend saved = *ctx->be;
    ctx->be->alloc = failing_alloc;
    ctx->be->take_failure_cause = fake_cause;
    tre_tensor *t = NULL;
    const int64_t n = 4;
    /* a device fault behind the failed allocation */
    pending_cause = STICKY;
    TT_FAILS_WITH(ctx, tre_tensor_create(ctx, &t, TRE_F32, 1, 1, &n, NULL), TRE_ERR_BACKEND, STICKY);
    assert_non_null(strstr(tre_ctx_error(ctx), "tre_tensor_create: cpu backend: allocating 16 bytes failed"));
    assert_null(t);
    assert_null(pending_cause); /* taken */
    tre_ctx_clear_error(ctx);
    /* no cause: out of memory, naming the caller and the size */
    TT_FAILS_WITH(ctx, tre_tensor_create(ctx, &t, TRE_F32, 1, 1, &n, NULL), TRE_ERR_OUT_OF_MEMORY,
                  "tre_tensor_create: out of cpu memory (16 bytes)");
    tre_ctx_clear_error(ctx);
    /* step memory: a fresh context's arena has no chunk yet, so its first op allocates */
    tre_ctx_step_reset(ctx);
    tre_ctx_memory_trim(ctx);
    pending_cause = STICKY;
    assert_null(tre_full(ctx, 1, &n, 1.f));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_BACKEND);
    assert_non_null(strstr(tre_ctx_error(ctx), "step data: cpu backend: allocating"));
    assert_non_null(strstr(tre_ctx_error(ctx), STICKY));
    /* back to a working backend: the context and a new tensor work */
    ctx->be->alloc = saved.alloc;
    ctx->be->take_failure_cause = saved.take_failure_cause;
    tre_ctx_step_reset(ctx);
    TT_OK(ctx, tre_tensor_create(ctx, &t, TRE_F32, 1, 1, &n, NULL));
    TT_NEAR(tt_at(ctx, tre_sum(ctx, tre_add(ctx, t, tre_scalar(ctx, 2.f))), 0), 8.0, 0);
    tre_tensor_destroy(ctx, t);
    tre_ctx_destroy(ctx);
}

static void test_op_failure_with_and_without_cause(void **state) {
    (void)state;
    tre_ctx *ctx = tt_ctx(1);
    tre_backend saved = *ctx->be;
    ctx->be->take_failure_cause = fake_cause;
    const int64_t n = 3;
    ctx->be->fill = failing_fill;
    pending_cause = STICKY;
    assert_null(tre_full(ctx, 1, &n, 1.f));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_BACKEND);
    assert_string_equal(tre_ctx_error(ctx), "cpu backend: fill failed: " STICKY);
    tre_ctx_step_reset(ctx);
    assert_null(tre_full(ctx, 1, &n, 1.f));
    assert_string_equal(tre_ctx_error(ctx), "cpu backend: fill failed");
    tre_ctx_step_reset(ctx);
    /* an op's out-of-memory code with a device fault behind it is the fault */
    ctx->be->fill = failing_fill_oom;
    pending_cause = STICKY;
    assert_null(tre_full(ctx, 1, &n, 1.f));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_BACKEND);
    tre_ctx_step_reset(ctx);
    assert_null(tre_full(ctx, 1, &n, 1.f));
    assert_int_equal(tre_ctx_status(ctx), TRE_ERR_OUT_OF_MEMORY);
    assert_string_equal(tre_ctx_error(ctx), "cpu backend: fill: out of memory");
    /* a successful op takes no cause */
    ctx->be->fill = saved.fill;
    tre_ctx_step_reset(ctx);
    const int before = takes;
    TT_NEAR(tt_at(ctx, tre_sum(ctx, tre_full(ctx, 1, &n, 2.f)), 0), 6.0, 0);
    assert_int_equal(takes, before);
    ctx->be->take_failure_cause = saved.take_failure_cause;
    tre_ctx_destroy(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocation_failure_with_and_without_cause),
        cmocka_unit_test(test_op_failure_with_and_without_cause),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
