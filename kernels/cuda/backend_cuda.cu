/* The CUDA backend table and its memory: device buffers from cudaMalloc (the context's step
 * arenas take big chunks of them, so nothing is allocated per op), uploads and downloads
 * through pinned staging on the context's stream, a device scratch buffer that only grows, and
 * the stable sort behind the deterministic scatter-adds. Every CUDA, cuBLAS and CUB call is
 * checked; an allocation that fails gives NULL or TRE_KERR_OOM, never an abort.
 *
 * Step graphs (issue 5 item 4, graph_cuda.cu; the host side is src/infer/step_graph.c): while
 * a step is captured, uploads go to graph-owned pinned memory instead of the staging ring, and
 * the ops that need the host (downloads, syncs, validate's readback, scratch growth, frees)
 * refuse with TRE_KERR_CAPTURE, which makes the host run that program eagerly from then on.
 * Random ops add the device word d_rng_delta to their stream, so a replay draws the numbers of
 * the step it stands for. Left to do: a device-side NaN/Inf count captured in the graph, so a
 * replay needs one readback instead of one per param gradient; Adam inside the graph (its bias
 * corrections would have to become device words too). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <new>
#include <unordered_map>
#include "cuda_common.cuh"

#if defined(TRE_CUDA_EMULATE)
#include <algorithm>
#include <vector>
#else
#include <cub/device/device_radix_sort.cuh>
#endif

/* ---- errors ------------------------------------------------------------------------------- */

#if !defined(TRE_CUDA_EMULATE)
/* The last failure's error, for the host's message (the runtime's errors are per host thread
 * too). Taken by cuda_take_failure_cause. */
static thread_local cudaError_t last_failure = cudaSuccess;
static thread_local cublasStatus_t last_blas_failure = CUBLAS_STATUS_SUCCESS;

int tre_cuda_status(cudaError_t e) {
    if (e == cudaSuccess) return 0;
    last_failure = e;
    last_blas_failure = CUBLAS_STATUS_SUCCESS;
    (void)cudaGetLastError(); /* clears it unless it is sticky (then every later call fails) */
    return e == cudaErrorMemoryAllocation ? TRE_KERR_OOM : 1;
}

int tre_cuda_blas_status(cublasStatus_t s) {
    if (s == CUBLAS_STATUS_SUCCESS) return 0;
    last_failure = cudaSuccess;
    last_blas_failure = s;
    /* a failed launch inside cuBLAS leaves its error behind: clear it (unless sticky), or the
     * next op's launch check would report it as its own */
    (void)cudaGetLastError();
    return s == CUBLAS_STATUS_ALLOC_FAILED ? TRE_KERR_OOM : 1;
}

/* The errors after which the CUDA runtime documents that the process is left in an
 * inconsistent state: every later CUDA call fails the same way until the process restarts. */
static bool sticky(cudaError_t e) {
    switch (e) {
    case cudaErrorIllegalAddress: case cudaErrorLaunchFailure: case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction: case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace: case cudaErrorInvalidPc: case cudaErrorAssert:
    case cudaErrorLaunchTimeout: case cudaErrorECCUncorrectable:
        return true;
    default:
        return false;
    }
}
#endif

static const char *cuda_take_failure_cause(void *impl) {
    (void)impl;
#if defined(TRE_CUDA_EMULATE)
    return NULL;
#else
    const cudaError_t e = last_failure;
    const cublasStatus_t b = last_blas_failure;
    last_failure = cudaSuccess;
    last_blas_failure = CUBLAS_STATUS_SUCCESS;
    static thread_local char text[320];
    if (b != CUBLAS_STATUS_SUCCESS && b != CUBLAS_STATUS_ALLOC_FAILED) {
        snprintf(text, sizeof text, "cuBLAS: %s", cublasGetStatusString(b));
        return text;
    }
    if (e == cudaSuccess || e == cudaErrorMemoryAllocation) return NULL;
    snprintf(text, sizeof text, "%s (%s)%s", cudaGetErrorString(e), cudaGetErrorName(e),
             sticky(e) ? "; this error is sticky: every later CUDA call in this process fails, "
                         "so the process must restart"
                       : "");
    return text;
#endif
}

int tre_cuda_launch_status(tre_cuda_impl *im) {
#if defined(TRE_CUDA_EMULATE)
    (void)im;
    return 0;
#else
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && im && im->sync_launches && !tre_cuda_capturing(im))
        e = cudaStreamSynchronize(im->stream);
    return tre_cuda_status(e);
#endif
}

/* ---- memory ------------------------------------------------------------------------------- */

typedef std::unordered_map<void *, size_t> mem_sizes;

static void *cuda_alloc(void *impl, size_t bytes) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (!bytes) bytes = 256;
#if defined(TRE_CUDA_EMULATE)
    if (bytes > ((size_t)1 << 40)) return NULL; /* the pretend device has 1 TiB */
    void *p = aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (!p) return NULL;
#else
    void *p = NULL;
    if (tre_cuda_status(cudaMalloc(&p, bytes))) return NULL; /* the error stays for the cause */
#endif
    try {
        (*(mem_sizes *)im->mem_sizes)[p] = bytes;
        tre_kmemory_add(&im->mem, bytes);
    } catch (...) {
        /* no room to remember the size: the block works, the count leaves it out */
    }
    return p;
}

void tre_cuda_mem_forget(tre_cuda_impl *im, void *p) {
    mem_sizes *sizes = (mem_sizes *)im->mem_sizes;
    auto it = sizes->find(p);
    if (it == sizes->end()) return;
    tre_kmemory_sub(&im->mem, it->second);
    sizes->erase(it);
}

static void cuda_free(void *impl, void *p) {
    if (!p) return;
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    /* a capture cannot wait for the nodes that use p: it breaks, and p goes with the graph */
    if (tre_cuda_capturing(im)) {
        tre_cuda_capture_defer_free(im, p);
        return;
    }
    tre_cuda_mem_forget(im, p);
#if defined(TRE_CUDA_EMULATE)
    free(p);
#else
    /* queued work may still use p: let the stream drain first (frees are rare: arena
     * consolidation, scratch growth, destruction) */
    if (im && im->stream) (void)cudaStreamSynchronize(im->stream);
    (void)cudaFree(p);
    (void)cudaGetLastError();
#endif
}

static void cuda_memory(void *impl, tre_kmemory *out, bool reset_peak) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    *out = im->mem;
    if (reset_peak) im->mem.peak = im->mem.bytes;
}

void *tre_cuda_scratch(tre_cuda_impl *im, size_t bytes) {
    if (bytes <= im->scratch_bytes) return im->d_scratch;
    /* a graph's nodes point into the scratch: it cannot move during a capture (the eager steps
     * before a capture have grown it to what the step needs) */
    if (tre_cuda_capturing(im)) {
        (void)tre_cuda_capture_refuse(im);
        return NULL;
    }
    im->scratch_gen++;
    size_t want = im->scratch_bytes * 2 > bytes ? im->scratch_bytes * 2 : bytes;
    if (want < TRE_CUDA_SCRATCH_MIN) want = TRE_CUDA_SCRATCH_MIN;
#if !defined(TRE_CUDA_EMULATE)
    if (im->d_scratch && tre_cuda_status(cudaStreamSynchronize(im->stream))) return NULL;
#endif
    cuda_free(im, im->d_scratch);
    im->d_scratch = NULL;
    im->scratch_bytes = 0;
    void *p = cuda_alloc(im, want);
    if (!p && want > bytes) p = cuda_alloc(im, want = bytes);
    if (!p) return NULL;
    im->d_scratch = p;
    im->scratch_bytes = want;
    return p;
}

static int cuda_trim(void *impl) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (tre_cuda_capturing(im)) return tre_cuda_capture_refuse(im);
    if (im->scratch_bytes <= TRE_CUDA_SCRATCH_MIN) return 0;
    /* as a growth: graphs that point into the old scratch see it moved (TRE_KERR_STALE) */
    im->scratch_gen++;
    cuda_free(im, im->d_scratch);
    im->d_scratch = NULL;
    im->scratch_bytes = 0;
    return tre_cuda_scratch(im, TRE_CUDA_SCRATCH_MIN) ? 0 : TRE_KERR_OOM;
}

static int cuda_upload(void *impl, void *dst, const void *host, size_t bytes) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (tre_cuda_capturing(im)) return tre_cuda_capture_upload(im, dst, host, bytes);
#if defined(TRE_CUDA_EMULATE)
    (void)im;
    if (bytes) memcpy(dst, host, bytes);
    return 0;
#else
    /* host -> pinned half -> device, alternating halves: the host fills one half while the
     * other is being copied, and `host` may be reused by the caller as soon as this returns */
    for (size_t off = 0; off < bytes; off += TRE_CUDA_STAGE_HALF) {
        const size_t len = bytes - off < TRE_CUDA_STAGE_HALF ? bytes - off : TRE_CUDA_STAGE_HALF;
        const int half = im->stage_next;
        im->stage_next ^= 1;
        unsigned char *stage = im->h_stage + (size_t)half * TRE_CUDA_STAGE_HALF;
        int rc = tre_cuda_status(cudaEventSynchronize(im->stage_done[half]));
        if (rc) return rc;
        memcpy(stage, (const unsigned char *)host + off, len);
        rc = tre_cuda_status(cudaMemcpyAsync((unsigned char *)dst + off, stage, len,
                                       cudaMemcpyHostToDevice, im->stream));
        if (!rc) rc = tre_cuda_status(cudaEventRecord(im->stage_done[half], im->stream));
        if (rc) return rc;
    }
    return 0;
#endif
}

static int cuda_download(void *impl, void *host, const void *src, size_t bytes) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (tre_cuda_capturing(im)) return tre_cuda_capture_refuse(im);
#if defined(TRE_CUDA_EMULATE)
    (void)im;
    if (bytes) memcpy(host, src, bytes);
    return 0;
#else
    /* the copy queues behind every op on the stream, so it sees their results */
    for (size_t off = 0; off < bytes; off += 2 * (size_t)TRE_CUDA_STAGE_HALF) {
        const size_t cap = 2 * (size_t)TRE_CUDA_STAGE_HALF;
        const size_t len = bytes - off < cap ? bytes - off : cap;
        int rc = tre_cuda_status(cudaMemcpyAsync(im->h_stage, (const unsigned char *)src + off, len,
                                           cudaMemcpyDeviceToHost, im->stream));
        if (!rc) rc = tre_cuda_status(cudaStreamSynchronize(im->stream));
        if (rc) return rc;
        memcpy((unsigned char *)host + off, im->h_stage, len);
    }
    return 0;
#endif
}

int tre_cuda_read_result(tre_cuda_impl *im, double *host, const double *d_src) {
    if (tre_cuda_capturing(im)) return tre_cuda_capture_refuse(im);
#if defined(TRE_CUDA_EMULATE)
    (void)im;
    *host = *d_src;
    return 0;
#else
    int rc = tre_cuda_status(cudaMemcpyAsync(im->h_result, d_src, sizeof(double), cudaMemcpyDeviceToHost,
                                       im->stream));
    if (!rc) rc = tre_cuda_status(cudaStreamSynchronize(im->stream));
    if (!rc) *host = *im->h_result;
    return rc;
#endif
}

static int cuda_copy(void *impl, void *dst, const void *src, size_t bytes) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (!bytes || dst == src) return 0;
    const unsigned char *s = (const unsigned char *)src;
    unsigned char *d = (unsigned char *)dst;
    const int overlap = d < s + bytes && s < d + bytes;
#if defined(TRE_CUDA_EMULATE)
    (void)overlap;
    return tre_cuda_emu_run(im, [d, s, bytes]() { memmove(d, s, bytes); });
#else
    if (!overlap)
        return tre_cuda_status(cudaMemcpyAsync(d, s, bytes, cudaMemcpyDeviceToDevice, im->stream));
    /* memmove semantics (cudaMemcpy leaves overlapping copies undefined): through scratch */
    void *tmp = tre_cuda_scratch(im, bytes);
    if (!tmp) return tre_cuda_scratch_error(im);
    int rc = tre_cuda_status(cudaMemcpyAsync(tmp, s, bytes, cudaMemcpyDeviceToDevice, im->stream));
    if (!rc) rc = tre_cuda_status(cudaMemcpyAsync(d, tmp, bytes, cudaMemcpyDeviceToDevice, im->stream));
    return rc;
#endif
}

static int cuda_sync(void *impl) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (tre_cuda_capturing(im)) return tre_cuda_capture_refuse(im);
#if defined(TRE_CUDA_EMULATE)
    return 0;
#else
    return tre_cuda_status(cudaStreamSynchronize(im->stream));
#endif
}

/* ---- stable sort -------------------------------------------------------------------------- */

size_t tre_cuda_sort_temp_bytes(int64_t n, int bits) {
#if defined(TRE_CUDA_EMULATE)
    (void)bits;
    return (size_t)n * 2 * sizeof(int32_t);
#else
    size_t bytes = 0;
    if (n <= 0 || n > 0x7fffffff) return 0;
    if (cub::DeviceRadixSort::SortPairs(NULL, bytes, (const int32_t *)NULL, (int32_t *)NULL,
                                        (const int32_t *)NULL, (int32_t *)NULL, (int)n, 0, bits) !=
        cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return bytes;
#endif
}

int tre_cuda_sort_pairs(tre_cuda_impl *im, void *temp, size_t temp_bytes, int64_t n, int bits,
                        const int32_t *keys_in, int32_t *keys_out, const int32_t *vals_in,
                        int32_t *vals_out) {
    if (n <= 0) return 0;
    if (n > 0x7fffffff || bits < 1 || bits > 32) return 1;
#if defined(TRE_CUDA_EMULATE)
    (void)temp;
    (void)temp_bytes;
    return tre_cuda_emu_run(im, [=]() {
        std::vector<int64_t> order((size_t)n);
        for (int64_t i = 0; i < n; ++i) order[(size_t)i] = i;
        std::stable_sort(order.begin(), order.end(),
                         [&](int64_t a, int64_t b) { return keys_in[a] < keys_in[b]; });
        for (int64_t i = 0; i < n; ++i) {
            keys_out[i] = keys_in[order[(size_t)i]];
            vals_out[i] = vals_in[order[(size_t)i]];
        }
    });
#else
    size_t bytes = temp_bytes;
    /* LSD radix sort: stable, so equal keys keep their values' input order */
    return tre_cuda_status(cub::DeviceRadixSort::SortPairs(temp, bytes, keys_in, keys_out, vals_in,
                                                     vals_out, (int)n, 0, bits, im->stream));
#endif
}

/* ---- lifetime ----------------------------------------------------------------------------- */

static void cuda_destroy(void *impl) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (!im) return;
    if (tre_cuda_capturing(im)) { /* a capture left open: end it and drop what it recorded */
        void *g = NULL;
        (void)tre_cuda_graph_end(im, &g);
        tre_cuda_graph_destroy(im, g);
    }
    /* the device buffers first: cuda_free drains im->stream, which must still exist */
    cuda_free(im, im->d_scratch);
    cuda_free(im, im->d_result);
    cuda_free(im, im->d_rng_delta);
    im->d_scratch = NULL, im->d_result = NULL, im->d_rng_delta = NULL;
#if !defined(TRE_CUDA_EMULATE)
    if (im->stream) (void)cudaStreamSynchronize(im->stream);
    if (im->blas) cublasDestroy(im->blas);
    for (int i = 0; i < 2; ++i)
        if (im->stage_done[i]) (void)cudaEventDestroy(im->stage_done[i]);
    if (im->h_stage) (void)cudaFreeHost(im->h_stage);
    if (im->h_result) (void)cudaFreeHost(im->h_result);
    cuda_free(im, im->d_blas_ws);
    if (im->stream) (void)cudaStreamDestroy(im->stream);
    im->stream = NULL;
    (void)cudaGetLastError();
#endif
    delete (mem_sizes *)im->mem_sizes;
    free(im);
}

static tre_cuda_impl *impl_create(void) {
    tre_cuda_impl *im = (tre_cuda_impl *)calloc(1, sizeof *im);
    if (!im) return NULL;
    im->mem_sizes = new (std::nothrow) mem_sizes();
    if (!im->mem_sizes) {
        free(im);
        return NULL;
    }
    const char *sync = getenv("TRELBO_CUDA_SYNC");
    im->sync_launches = sync && strcmp(sync, "0") != 0 && sync[0] != '\0';
#if !defined(TRE_CUDA_EMULATE)
    int ok = cudaGetDevice(&im->device) == cudaSuccess;
    ok = ok && cudaStreamCreateWithFlags(&im->stream, cudaStreamNonBlocking) == cudaSuccess;
    ok = ok && cudaHostAlloc((void **)&im->h_stage, 2 * (size_t)TRE_CUDA_STAGE_HALF,
                             cudaHostAllocDefault) == cudaSuccess;
    ok = ok && cudaHostAlloc((void **)&im->h_result, sizeof(double), cudaHostAllocDefault) ==
                   cudaSuccess;
    for (int i = 0; i < 2 && ok; ++i)
        ok = cudaEventCreateWithFlags(&im->stage_done[i], cudaEventDisableTiming) == cudaSuccess;
    ok = ok && (im->d_blas_ws = cuda_alloc(im, TRE_CUDA_BLAS_WORKSPACE)) != NULL;
    ok = ok && cublasCreate(&im->blas) == CUBLAS_STATUS_SUCCESS;
    ok = ok && cublasSetStream(im->blas, im->stream) == CUBLAS_STATUS_SUCCESS;
    /* its own workspace, so cuBLAS never allocates inside a step; full fp32 (no TF32), so
     * products match the CPU backend's */
    ok = ok && cublasSetWorkspace(im->blas, im->d_blas_ws, TRE_CUDA_BLAS_WORKSPACE) ==
                   CUBLAS_STATUS_SUCCESS;
    ok = ok && cublasSetMathMode(im->blas, CUBLAS_DEFAULT_MATH) == CUBLAS_STATUS_SUCCESS;
    if (!ok) {
        cuda_destroy(im);
        return NULL;
    }
#endif
    im->d_result = (double *)cuda_alloc(im, sizeof(double));
    im->d_rng_delta = (uint64_t *)cuda_alloc(im, sizeof(uint64_t));
    /* the rng delta is zeroed by a kernel, which doubles as the probe that this build has code
     * for the device (a GPU older than the compiled architectures fails here, and AUTO then
     * takes the CPU, instead of failing every op later) */
    uint64_t *delta = im->d_rng_delta;
    int zeroed = delta != NULL && tre_cuda_each(im, 1, [=] TRE_CUDA_FN(int64_t) { *delta = 0; }) == 0;
#if !defined(TRE_CUDA_EMULATE)
    zeroed = zeroed && cudaStreamSynchronize(im->stream) == cudaSuccess;
    (void)cudaGetLastError();
#endif
    if (!im->d_result || !zeroed || !tre_cuda_scratch(im, TRE_CUDA_SCRATCH_MIN)) {
        cuda_destroy(im);
        return NULL;
    }
    return im;
}

/* ---- the context's device ----------------------------------------------------------------- */

/* A context's stream, cuBLAS handle and buffers belong to the device that was current in the
 * thread that created it. Every entry of the table makes that device current for the call and
 * gives the calling thread its own device back afterwards (as a device guard does), so a
 * context may be used from any thread, whatever device that thread has selected. */
class device_guard {
  public:
    explicit device_guard(const tre_cuda_impl *im) {
#if !defined(TRE_CUDA_EMULATE)
        int cur = -1;
        if (im && cudaGetDevice(&cur) == cudaSuccess && cur != im->device &&
            cudaSetDevice(im->device) == cudaSuccess)
            prev_ = cur;
#else
        (void)im;
#endif
    }
    ~device_guard() {
#if !defined(TRE_CUDA_EMULATE)
        if (prev_ >= 0) (void)cudaSetDevice(prev_);
#endif
    }
    device_guard(const device_guard &) = delete;
    device_guard &operator=(const device_guard &) = delete;

  private:
    int prev_ = -1; /* the caller's device, to restore; -1: it was the context's already */
};

/* on_device<F>::call: F(impl, ...) under the context's device */
template <auto F> struct on_device;
template <typename R, typename... A, R (*F)(void *, A...)> struct on_device<F> {
    static R call(void *impl, A... a) {
        device_guard guard(static_cast<const tre_cuda_impl *>(impl));
        return F(impl, a...);
    }
};

extern "C" tre_backend *tre_backend_cuda_create(void) {
    if (tre_cuda_device_count() <= 0) return NULL;
    tre_backend *b = (tre_backend *)calloc(1, sizeof *b);
    if (!b) return NULL;
    tre_cuda_impl *im = impl_create();
    if (!im) {
        free(b);
        /* forget the set-up's failure (AUTO goes on with the CPU): left recorded for this
         * thread, it would be given as the cause of a later context's first failure */
        (void)cuda_take_failure_cause(NULL);
        return NULL;
    }
#if defined(TRE_CUDA_EMULATE)
    b->name = "cuda-emulated";
#else
    b->name = "cuda";
#endif
    b->impl = im;
    b->alloc = on_device<cuda_alloc>::call;
    b->take_failure_cause = on_device<cuda_take_failure_cause>::call;
    b->free = on_device<cuda_free>::call;
    b->upload = on_device<cuda_upload>::call;
    b->download = on_device<cuda_download>::call;
    b->copy = on_device<cuda_copy>::call;
    b->fill = on_device<tre_fill_cuda>::call;
    b->binary = on_device<tre_binary_cuda>::call;
    b->unary = on_device<tre_unary_cuda>::call;
    b->mask_scale = on_device<tre_mask_scale_cuda>::call;
    b->sum_rows = on_device<tre_sum_rows_cuda>::call;
    b->dot_rows = on_device<tre_dot_rows_cuda>::call;
    b->dot_gathered_rows = on_device<tre_dot_gathered_rows_cuda>::call;
    b->scatter_add_scaled = on_device<tre_scatter_add_scaled_cuda>::call;
    b->gather = on_device<tre_gather_cuda>::call;
    b->log_prob = on_device<tre_log_prob_cuda>::call;
    b->log_prob_sum = on_device<tre_log_prob_sum_cuda>::call;
    b->bernoulli_glm_sum = on_device<tre_bernoulli_glm_sum_cuda>::call;
    b->bernoulli_outer_sum = on_device<tre_bernoulli_outer_sum_cuda>::call;
    b->reduce_sum = on_device<tre_reduce_sum_cuda>::call;
    b->reduce_sum_pair = on_device<tre_reduce_sum_pair_cuda>::call;
    b->scatter_add = on_device<tre_scatter_add_cuda>::call;
    b->log_prob_backward = on_device<tre_log_prob_backward_cuda>::call;
    b->log_prob_backward_sum = on_device<tre_log_prob_backward_sum_cuda>::call;
    b->rsample_backward = on_device<tre_rsample_backward_cuda>::call;
    b->adam_update = on_device<tre_adam_update_cuda>::call;
    b->gemm = on_device<tre_gemm_cuda>::call;
    b->take = on_device<tre_take_cuda>::call;
    b->take_backward = on_device<tre_take_backward_cuda>::call;
    b->sample = on_device<tre_sample_cuda>::call;
    b->simplex = on_device<tre_simplex_cuda>::call;
    b->simplex_log_det = on_device<tre_simplex_log_det_cuda>::call;
    b->lower_cholesky = on_device<tre_lower_cholesky_cuda>::call;
    b->lower_cholesky_log_det = on_device<tre_lower_cholesky_log_det_cuda>::call;
    b->simplex_backward = on_device<tre_simplex_backward_cuda>::call;
    b->lower_cholesky_backward = on_device<tre_lower_cholesky_backward_cuda>::call;
    b->categorical_log_prob = on_device<tre_categorical_log_prob_cuda>::call;
    b->categorical_log_prob_backward = on_device<tre_categorical_log_prob_backward_cuda>::call;
    b->categorical_log_prob_backward_shared = on_device<tre_categorical_log_prob_backward_shared_cuda>::call;
    b->categorical_sample = on_device<tre_categorical_sample_cuda>::call;
    b->categorical_kl = on_device<tre_categorical_kl_cuda>::call;
    b->categorical_kl_backward = on_device<tre_categorical_kl_backward_cuda>::call;
    b->mvn_log_prob = on_device<tre_mvn_log_prob_cuda>::call;
    b->mvn_log_prob_backward = on_device<tre_mvn_log_prob_backward_cuda>::call;
    b->mvn_sample = on_device<tre_mvn_sample_cuda>::call;
    b->mvn_rsample_backward = on_device<tre_mvn_rsample_backward_cuda>::call;
    b->dirichlet_sample = on_device<tre_dirichlet_sample_cuda>::call;
    b->dirichlet_rsample_backward = on_device<tre_dirichlet_rsample_backward_cuda>::call;
    b->mvn_kl = on_device<tre_mvn_kl_cuda>::call;
    b->mvn_kl_backward = on_device<tre_mvn_kl_backward_cuda>::call;
    b->validate = on_device<tre_validate_cuda>::call;
    b->graph_begin = on_device<tre_cuda_graph_begin>::call;
    b->graph_end = on_device<tre_cuda_graph_end>::call;
    b->graph_launch = on_device<tre_cuda_graph_launch>::call;
    b->graph_destroy = on_device<tre_cuda_graph_destroy>::call;
    b->set_rng_delta = on_device<tre_cuda_set_rng_delta>::call;
    b->sync = on_device<cuda_sync>::call;
    b->memory = on_device<cuda_memory>::call;
    b->trim = on_device<cuda_trim>::call;
    b->destroy = on_device<cuda_destroy>::call;
    return b;
}
