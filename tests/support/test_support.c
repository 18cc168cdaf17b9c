/* Shared test helpers (see test_support.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "test_support.h"

char tt_last_warning[512];

tre_ctx *tt_ctx(uint64_t seed) {
    tre_ctx *ctx = NULL;
    tre_ctx_opts o = {.backend = TRE_BACKEND_CPU, .seed = seed};
    tre_status s = tre_ctx_create(&ctx, &o);
    if (s != TRE_OK) fail_msg("tre_ctx_create: %s", tre_status_name(s));
    return ctx;
}

static float *slots[8];

static void free_slots(void) {
    for (int i = 0; i < 8; ++i) {
        free(slots[i]);
        slots[i] = NULL;
    }
}

const float *tt_host(tre_ctx *ctx, const tre_tensor *t, int slot) {
    static int registered;
    if (!registered) {
        atexit(free_slots);
        registered = 1;
    }
    if (!t) fail_msg("tt_host: tensor is NULL (%s)", tre_ctx_error(ctx));
    int64_t n = t->particles * t->numel;
    free(slots[slot]);
    slots[slot] = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (tre_tensor_to_host(ctx, t, slots[slot], n) != TRE_OK)
        fail_msg("tt_host: %s", tre_ctx_error(ctx));
    return slots[slot];
}

float tt_at(tre_ctx *ctx, const tre_tensor *t, int64_t p) {
    const float *h = tt_host(ctx, t, 7);
    return h[t->particles == 1 ? 0 : p * t->numel];
}

tre_tensor *tt_data(tre_ctx *ctx, int64_t n, const float *values) {
    tre_tensor *t = NULL;
    if (tre_tensor_create(ctx, &t, TRE_F32, 1, 1, &n, values) != TRE_OK)
        fail_msg("tt_data: %s", tre_ctx_error(ctx));
    return t;
}

void tt_count_warnings(void *user, const char *message) {
    ++*(int *)user;
    strncpy(tt_last_warning, message, sizeof tt_last_warning - 1);
}
