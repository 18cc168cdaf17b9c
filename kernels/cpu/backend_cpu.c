/* The CPU backend table: host memory and the CPU kernels. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cpu_backend.h"

/* Each block starts with a 64-byte header holding its size (what free subtracts from the
 * memory count); the caller gets the 64-byte-aligned bytes after it. */
#define HEADER 64
static void *cpu_alloc(void *impl, size_t bytes) {
    tre_cpu_impl *im = impl;
    size_t rounded = (bytes + 63) / 64 * 64;
    if (!rounded) rounded = 64;
    if (rounded > SIZE_MAX - HEADER) return NULL;
    unsigned char *base = aligned_alloc(64, rounded + HEADER);
    if (!base) return NULL;
    memcpy(base, &rounded, sizeof rounded);
    tre_kmemory_add(&im->mem, rounded);
    return base + HEADER;
}
static void cpu_free(void *impl, void *p) {
    if (!p) return;
    tre_cpu_impl *im = impl;
    unsigned char *base = (unsigned char *)p - HEADER;
    size_t rounded;
    memcpy(&rounded, base, sizeof rounded);
    tre_kmemory_sub(&im->mem, rounded);
    free(base);
}
static void cpu_memory(void *impl, tre_kmemory *out, bool reset_peak) {
    tre_cpu_impl *im = impl;
    *out = im->mem;
    if (reset_peak) im->mem.peak = im->mem.bytes;
}
static int cpu_memcpy(void *impl, void *dst, const void *src, size_t bytes) {
    (void)impl;
    if (bytes) memmove(dst, src, bytes);
    return 0;
}
static int cpu_fill(void *impl, float *dst, float v, int64_t n) {
    (void)impl;
    for (int64_t i = 0; i < n; ++i) dst[i] = v;
    return 0;
}
static int cpu_sync(void *impl) { (void)impl; return 0; }
static void cpu_destroy(void *impl) {
    tre_cpu_impl *im = impl;
    if (!im) return;
    cpu_free(im, im->scratch);
    free(im);
}

static int cpu_trim(void *impl) {
    tre_cpu_impl *im = impl;
    cpu_free(im, im->scratch);
    im->scratch = NULL;
    im->scratch_bytes = 0;
    return 0;
}

void *tre_cpu_scratch(void *impl, size_t bytes) {
    tre_cpu_impl *im = impl;
    if (bytes <= im->scratch_bytes) return im->scratch;
    size_t want = im->scratch_bytes * 2 > bytes ? im->scratch_bytes * 2 : bytes;
    want = (want + 63) / 64 * 64;
    void *p = cpu_alloc(im, want);
    if (!p) return NULL;
    cpu_free(im, im->scratch);
    im->scratch = p;
    im->scratch_bytes = want;
    return p;
}

tre_backend *tre_backend_cpu_create(void) {
    static const tre_backend table = {
        .name = "cpu",
        .impl = NULL,
        .alloc = cpu_alloc,
        .free = cpu_free,
        .upload = cpu_memcpy,
        .download = cpu_memcpy,
        .copy = cpu_memcpy,
        .fill = cpu_fill,
        .binary = tre_binary_cpu,
        .unary = tre_unary_cpu,
        .mask_scale = tre_mask_scale_cpu,
        .sum_rows = tre_sum_rows_cpu,
        .dot_rows = tre_dot_rows_cpu,
        .dot_gathered_rows = tre_dot_gathered_rows_cpu,
        .scatter_add_scaled = tre_scatter_add_scaled_cpu,
        .gather = tre_gather_cpu,
        .log_prob = tre_log_prob_cpu,
        .log_prob_sum = tre_log_prob_sum_cpu,
        .bernoulli_glm_sum = tre_bernoulli_glm_sum_cpu,
        .bernoulli_outer_sum = tre_bernoulli_outer_sum_cpu,
        .reduce_sum = tre_reduce_sum_cpu,
        .reduce_sum_pair = tre_reduce_sum_pair_cpu,
        .simplex_backward = tre_simplex_backward_cpu,
        .lower_cholesky_backward = tre_lower_cholesky_backward_cpu,
        .take = tre_take_cpu,
        .take_backward = tre_take_backward_cpu,
        .gemm = tre_gemm_cpu,
        .adam_update = tre_adam_update_cpu,
        .scatter_add = tre_scatter_add_cpu,
        .log_prob_backward = tre_log_prob_backward_cpu,
        .log_prob_backward_sum = tre_log_prob_backward_sum_cpu,
        .rsample_backward = tre_rsample_backward_cpu,
        .sample = tre_sample_cpu,
        .simplex = tre_simplex_cpu,
        .simplex_log_det = tre_simplex_log_det_cpu,
        .lower_cholesky = tre_lower_cholesky_cpu,
        .lower_cholesky_log_det = tre_lower_cholesky_log_det_cpu,
        .categorical_log_prob = tre_categorical_log_prob_cpu,
        .categorical_log_prob_backward = tre_categorical_log_prob_backward_cpu,
        .categorical_log_prob_backward_shared = tre_categorical_log_prob_backward_shared_cpu,
        .categorical_sample = tre_categorical_sample_cpu,
        .categorical_kl = tre_categorical_kl_cpu,
        .categorical_kl_backward = tre_categorical_kl_backward_cpu,
        .mvn_log_prob = tre_mvn_log_prob_cpu,
        .mvn_log_prob_backward = tre_mvn_log_prob_backward_cpu,
        .mvn_sample = tre_mvn_sample_cpu,
        .mvn_rsample_backward = tre_mvn_rsample_backward_cpu,
        .dirichlet_sample = tre_dirichlet_sample_cpu,
        .dirichlet_rsample_backward = tre_dirichlet_rsample_backward_cpu,
        .mvn_kl = tre_mvn_kl_cpu,
        .mvn_kl_backward = tre_mvn_kl_backward_cpu,
        .validate = tre_validate_cpu,
        .sync = cpu_sync,
        .memory = cpu_memory,
        .trim = cpu_trim,
        .destroy = cpu_destroy,
    };
    tre_backend *b = malloc(sizeof *b);
    tre_cpu_impl *im = calloc(1, sizeof *im);
    if (!b || !im) {
        free(b), free(im);
        return NULL;
    }
    *b = table;
    b->impl = im;
#ifdef _SC_LEVEL2_CACHE_SIZE
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    im->l2_bytes = l2 > 0 ? (size_t)l2 : 0;
#endif
    return b;
}
