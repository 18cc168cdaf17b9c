/* The CUDA backend's shared machinery: its state, error checks, device scratch, strided
 * layouts, the Philox words from cuRAND, and the three generic kernels every op is written with:
 * one functor call per element (tre_cuda_each), per-segment sums accumulated in double in a
 * fixed tree order (tre_cuda_seg_sum) and a stable sort of (key, value) pairs
 * (tre_cuda_sort_pairs). The op files only write functors over the shared math in kernels/math.
 *
 * Under TRE_CUDA_EMULATE (the TRELBO_CUDA_EMULATE CMake option: a development build for machines
 * without a GPU) the same sources compile as host C++ and these helpers run the functors in
 * serial loops, so that every op's indexing, argument plumbing and family dispatch can be
 * checked against the CPU backend by the parity test with no device. While a graph is being
 * captured the emulation records a copy of each op's closure instead of running it, and a launch
 * runs the copies in order, as a CUDA graph would. Only this header and backend_cuda.cu /
 * gemm_cuda.cu / graph_cuda.cu know the difference. */
#ifndef TRELBO_KERNELS_CUDA_COMMON_CUH
#define TRELBO_KERNELS_CUDA_COMMON_CUH

#include <stddef.h>
#include <stdint.h>
#include "../backend.h"
#include "../math/hd.h"
#include "../math/philox.h"

#if defined(TRE_CUDA_EMULATE)
#include <functional>
#define TRE_CUDA_FN
#else
#include <cublas_v2.h>
#include <cuda_runtime.h>
#define TRE_CUDA_FN __device__
#endif

#define TRE_CUDA_THREADS 256
#define TRE_CUDA_MAX_BLOCKS 65536            /* grid-stride loops cover the rest */
#define TRE_CUDA_STAGE_HALF (4u << 20)       /* pinned staging: two halves of 4 MiB */
#define TRE_CUDA_BLAS_WORKSPACE (32u << 20)  /* cuBLAS workspace (Hopper wants 32 MiB) */
#define TRE_CUDA_SCRATCH_MIN (1u << 20)

struct tre_cuda_graph; /* graph_cuda.cu */

/* One backend instance: everything runs in order on one stream, so a buffer of this struct
 * (scratch, staging) is free for the next op as soon as the previous op is queued. */
struct tre_cuda_impl {
#if !defined(TRE_CUDA_EMULATE)
    cudaStream_t stream;
    cublasHandle_t blas;
    void *d_blas_ws;
    unsigned char *h_stage;        /* pinned, 2 * TRE_CUDA_STAGE_HALF bytes */
    cudaEvent_t stage_done[2];     /* the last copy out of each half */
    int stage_next;
    double *h_result;              /* pinned: small results read back (validate counts) */
#endif
    void *d_scratch;
    size_t scratch_bytes;
    uint64_t scratch_gen;          /* bumped whenever d_scratch moves (graphs point into it) */
    double *d_result;              /* device: small results (validate counts) */
    /* added to `stream` by every random op when it runs (graph replays draw a later step's
     * numbers); device memory, 0 outside graph launches. rng_delta: its current value. */
    uint64_t *d_rng_delta;
    uint64_t rng_delta;
    /* device memory held (cuda_alloc's blocks and the cuBLAS workspace): the count, and each
     * block's size by its address (a std::unordered_map<void *, size_t>) for the free */
    tre_kmemory mem;
    void *mem_sizes;
    tre_cuda_graph *cap;           /* the graph being captured (NULL: ops run) */
    int capture_broken;            /* an op that cannot be captured was asked for */
    /* TRELBO_CUDA_SYNC=1: wait for every kernel after its launch, so that a fault inside it is
     * reported by that op rather than by a later sync (for bringing up a new device; slow) */
    int sync_launches;
    /* the device current in the creating thread: every backend entry runs on it
     * (backend_cuda.cu's device_guard) */
    int device;
};

/* True while ops are recorded into a graph instead of run. An op that would need the host
 * (a readback, a sync, scratch growth) calls tre_cuda_capture_refuse, which breaks the capture
 * and returns TRE_KERR_CAPTURE. */
static inline bool tre_cuda_capturing(const tre_cuda_impl *im) { return im && im->cap; }
int tre_cuda_capture_refuse(tre_cuda_impl *im);
/* A free while capturing: the nodes recorded so far may use p, and the graph is still launched
 * (it holds the device side of what the host did in the step), so p is released with the
 * graph, after its last launch; the capture breaks as for a refused op. */
void tre_cuda_capture_defer_free(tre_cuda_impl *im, void *p);
/* Takes a block cuda_alloc handed out off the memory count, as it is freed (graph_free frees
 * the deferred ones itself). */
void tre_cuda_mem_forget(tre_cuda_impl *im, void *p);
/* An upload while capturing: the bytes are copied into memory owned by the graph, which the
 * graph's copy node reads at every launch. */
int tre_cuda_capture_upload(tre_cuda_impl *im, void *dst, const void *host, size_t bytes);
#if defined(TRE_CUDA_EMULATE)
/* Emulation: queue a copy of `run` (with the arguments it captured) on the graph. */
int tre_cuda_emu_record(tre_cuda_impl *im, std::function<void()> run);
/* Emulation: run `run` now, or record it while capturing (as a stream capture would). */
template <class R> inline int tre_cuda_emu_run(tre_cuda_impl *im, const R &run) {
    if (tre_cuda_capturing(im)) return tre_cuda_emu_record(im, std::function<void()>(run));
    run();
    return 0;
}
#endif

/* Device scratch of at least `bytes` for the op being queued (NULL: out of memory). Growing it
 * waits for the stream, since queued ops may still read the old buffer. */
void *tre_cuda_scratch(tre_cuda_impl *im, size_t bytes);
/* The error for a NULL from tre_cuda_scratch: a capture refused to move it, else no memory. */
static inline int tre_cuda_scratch_error(const tre_cuda_impl *im) {
    return tre_cuda_capturing(im) ? TRE_KERR_CAPTURE : TRE_KERR_OOM;
}
#if !defined(TRE_CUDA_EMULATE)
/* 0 for cudaSuccess, else TRE_KERR_OOM or 1 (the error is cleared when possible). */
int tre_cuda_status(cudaError_t e);
/* The same for a cuBLAS status: the failure is kept for the host's message. */
int tre_cuda_blas_status(cublasStatus_t s);
#endif
/* 0 after a successful launch, else TRE_KERR_OOM or 1 (the error is cleared when possible). */
int tre_cuda_launch_status(tre_cuda_impl *im);
/* Copies a small device result to the host and waits for it. */
int tre_cuda_read_result(tre_cuda_impl *im, double *host, const double *d_src);

static inline int64_t tre_cuda_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
/* Rows a chunk takes when each row costs `per_row` (bytes, entries) and a chunk at most `cap`:
 * at least 1, at most `total` (all of them when a row costs nothing). */
static inline int64_t tre_cuda_chunk_rows(int64_t total, int64_t per_row, int64_t cap) {
    const int64_t c = per_row > 0 ? cap / per_row : total;
    return c < 1 ? 1 : c > total ? total : c;
}
/* Scratch carving: the byte offset after `off` aligned to 256. */
static inline size_t tre_cuda_align(size_t off) { return (off + 255) & ~(size_t)255; }

/* ---- strided layouts ----------------------------------------------------------------------- */

/* A broadcast iteration space: NA arguments with their strides over ndim dims; element i is
 * the row-major (contiguous-output) linear index. */
template <int NA> struct tre_cuda_layout {
    int ndim;
    int64_t dim[TRE_KDIMS];
    int64_t stride[NA][TRE_KDIMS];

    TRE_CUDA_FN void offsets(int64_t i, int64_t *off) const {
#pragma unroll
        for (int a = 0; a < NA; ++a) off[a] = 0;
        for (int d = ndim - 1; d >= 0; --d) {
            const int64_t n = dim[d];
            int64_t q, r;
            if ((uint64_t)i <= 0xffffffffu && (uint64_t)n <= 0xffffffffu) { /* cheap 32-bit divide */
                q = (int64_t)((uint32_t)i / (uint32_t)n);
                r = i - q * n;
            } else {
                q = i / n;
                r = i - q * n;
            }
            i = q;
#pragma unroll
            for (int a = 0; a < NA; ++a) off[a] += r * stride[a][d];
        }
    }
};

/* The layout of a kernel shape; argument a takes its strides from args[a] (NULL: contiguous,
 * i.e. the output's own layout). Returns the number of elements. */
template <int NA>
inline int64_t tre_cuda_layout_init(tre_cuda_layout<NA> *L, const tre_kshape *s,
                                    const int64_t *const *strides) {
    L->ndim = s->ndim;
    int64_t total = 1;
    for (int d = s->ndim - 1; d >= 0; --d) {
        L->dim[d] = s->dim[d];
        for (int a = 0; a < NA; ++a) L->stride[a][d] = strides[a] ? strides[a][d] : total;
        total *= s->dim[d];
    }
    for (int d = s->ndim; d < TRE_KDIMS; ++d) {
        L->dim[d] = 1;
        for (int a = 0; a < NA; ++a) L->stride[a][d] = 0;
    }
    return total;
}

/* ---- random numbers ------------------------------------------------------------------------ */

/* The kernels draw through kernels/math/philox.h, as the CPU backend does: tre_philox_block's
 * words are cuRAND's Philox4_32_10 at subsequence `stream`, offset 4 * block (curand_init's
 * counter is {block, stream} under key seed; tests/cuda/test_curand_parity.c checks the words
 * against cuRAND's generator, counters past 2^32 included), each block computed once where
 * curand_init plus curand4 would compute it three times. */

/* The random op number a kernel draws from: its host-given `stream` plus the rng delta. */
static inline TRE_CUDA_FN uint64_t tre_cuda_stream(const uint64_t *d_delta, uint64_t stream) {
    return stream + *d_delta;
}

/* ---- tre_cuda_each: f(i) for i < n ---------------------------------------------------------- */

#if !defined(TRE_CUDA_EMULATE)
template <class F> __global__ void tre_cuda_each_kernel(int64_t n, const __grid_constant__ F f) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) f(i);
}
#endif

template <class F> inline int tre_cuda_each(tre_cuda_impl *im, int64_t n, const F &f) {
    if (n <= 0) return 0;
#if defined(TRE_CUDA_EMULATE)
    return tre_cuda_emu_run(im, [n, f]() {
        for (int64_t i = 0; i < n; ++i) f(i);
    });
#else
    int64_t blocks = tre_cuda_ceil_div(n, TRE_CUDA_THREADS);
    if (blocks > TRE_CUDA_MAX_BLOCKS) blocks = TRE_CUDA_MAX_BLOCKS;
    tre_cuda_each_kernel<F><<<(unsigned)blocks, TRE_CUDA_THREADS, 0, im->stream>>>(n, f);
    return tre_cuda_launch_status(im);
#endif
}

/* ---- tre_cuda_seg_sum: out[row(r).out] = (T)(scale * sum_c term(row(r), c)) ----------------
 * A source S provides `tre_cuda_seg row(int64_t r)` (the segment's output slot and whatever
 * bases it needs) and `double term(const tre_cuda_seg &, int64_t c)`. Sums accumulate in double
 * in an order fixed by (rows, cols) alone: short segments one thread each in order; long ones
 * by blocks of threads (a segment split into `groups` fixed parts when there are few segments)
 * combined by a fixed tree, then the parts in order. No atomics: run to run, device to device,
 * the result is the same. */
struct tre_cuda_seg {
    int64_t out;
    int64_t base[TRE_KDIST_ARGS + 1];
};
/* the segment whose sum goes to slot out and whose terms start at base (base[0]) */
static inline TRE_CUDA_FN tre_cuda_seg tre_cuda_seg_at(int64_t out, int64_t base) {
    tre_cuda_seg s;
    s.out = out;
    s.base[0] = base;
    return s;
}

struct tre_cuda_seg_plan {
    int threads;    /* 1: one thread per segment */
    int64_t groups; /* blocks per segment */
};

static inline tre_cuda_seg_plan tre_cuda_seg_plan_for(int64_t rows, int64_t cols) {
    tre_cuda_seg_plan p = {1, 1};
    if (cols <= 32 || (rows >= 65536 && cols <= 256)) return p;
    p.threads = cols <= 256 ? 32 : (cols <= 2048 ? 128 : 256);
    const int64_t target_blocks = 1024, per_block = (int64_t)p.threads * 16;
    int64_t g = tre_cuda_ceil_div(target_blocks, rows), gmax = tre_cuda_ceil_div(cols, per_block);
    p.groups = g < gmax ? g : gmax;
    if (p.groups < 1) p.groups = 1;
    return p;
}

#if !defined(TRE_CUDA_EMULATE)
template <class S, class T>
__global__ void tre_cuda_seg_thread_kernel(int64_t rows, int64_t cols, const __grid_constant__ S s,
                                           T *out, double scale) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += step) {
        const tre_cuda_seg rw = s.row(r);
        double acc = 0.0;
        for (int64_t c = 0; c < cols; ++c) acc += s.term(rw, c);
        out[rw.out] = (T)(acc * scale);
    }
}

template <class S, class T>
__global__ void tre_cuda_seg_block_kernel(int64_t rows, int64_t cols, int64_t groups,
                                          const __grid_constant__ S s, T *out, double *partial,
                                          double scale) {
    extern __shared__ double tre_seg_shared[];
    const int tid = threadIdx.x;
    for (int64_t b = blockIdx.x; b < rows * groups; b += gridDim.x) { /* uniform per block */
        const int64_t r = b / groups, g = b - r * groups;
        const int64_t c0 = cols / groups * g + (cols % groups) * g / groups;
        const int64_t c1 = cols / groups * (g + 1) + (cols % groups) * (g + 1) / groups;
        const tre_cuda_seg rw = s.row(r);
        double acc = 0.0;
        for (int64_t c = c0 + tid; c < c1; c += blockDim.x) acc += s.term(rw, c);
        tre_seg_shared[tid] = acc;
        __syncthreads();
        for (int w = blockDim.x / 2; w > 0; w >>= 1) {
            if (tid < w) tre_seg_shared[tid] += tre_seg_shared[tid + w];
            __syncthreads();
        }
        if (tid == 0) {
            if (groups == 1) out[rw.out] = (T)(tre_seg_shared[0] * scale);
            else partial[b] = tre_seg_shared[0];
        }
        __syncthreads();
    }
}

template <class S, class T>
__global__ void tre_cuda_seg_finish_kernel(int64_t rows, int64_t groups, const __grid_constant__ S s,
                                           T *out, const double *partial, double scale) {
    const int64_t step = (int64_t)gridDim.x * blockDim.x;
    for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += step) {
        double acc = 0.0;
        for (int64_t g = 0; g < groups; ++g) acc += partial[r * groups + g];
        out[s.row(r).out] = (T)(acc * scale);
    }
}
#endif

/* Bytes of device scratch tre_cuda_seg_sum uses (from its scratch_offset on). */
static inline size_t tre_cuda_seg_scratch_bytes(int64_t rows, int64_t cols) {
    const tre_cuda_seg_plan p = tre_cuda_seg_plan_for(rows, cols);
    return p.threads > 1 && p.groups > 1 ? (size_t)(rows * p.groups) * sizeof(double) : 0;
}

/* scratch_offset: where its part of the device scratch starts (a caller that keeps its own data
 * in front of it, having asked for the whole size first so that the scratch cannot move) */
template <class S, class T>
inline int tre_cuda_seg_sum(tre_cuda_impl *im, int64_t rows, int64_t cols, const S &s, T *out,
                            double scale, size_t scratch_offset = 0) {
    if (rows <= 0) return 0;
    if (cols < 0) return 1;
#if defined(TRE_CUDA_EMULATE)
    (void)scratch_offset;
    return tre_cuda_emu_run(im, [rows, cols, s, out, scale]() {
        for (int64_t r = 0; r < rows; ++r) {
            const tre_cuda_seg rw = s.row(r);
            double acc = 0.0;
            for (int64_t c = 0; c < cols; ++c) acc += s.term(rw, c);
            out[rw.out] = (T)(acc * scale);
        }
    });
#else
    const tre_cuda_seg_plan p = tre_cuda_seg_plan_for(rows, cols);
    if (p.threads == 1) {
        int64_t blocks = tre_cuda_ceil_div(rows, TRE_CUDA_THREADS);
        if (blocks > TRE_CUDA_MAX_BLOCKS) blocks = TRE_CUDA_MAX_BLOCKS;
        tre_cuda_seg_thread_kernel<S, T>
            <<<(unsigned)blocks, TRE_CUDA_THREADS, 0, im->stream>>>(rows, cols, s, out, scale);
        return tre_cuda_launch_status(im);
    }
    double *partial = NULL;
    if (p.groups > 1) {
        unsigned char *base = (unsigned char *)tre_cuda_scratch(
            im, scratch_offset + (size_t)(rows * p.groups) * sizeof(double));
        if (!base) return tre_cuda_scratch_error(im);
        partial = (double *)(base + scratch_offset);
    }
    int64_t blocks = rows * p.groups;
    if (blocks > TRE_CUDA_MAX_BLOCKS) blocks = TRE_CUDA_MAX_BLOCKS;
    tre_cuda_seg_block_kernel<S, T><<<(unsigned)blocks, p.threads, p.threads * sizeof(double),
                                      im->stream>>>(rows, cols, p.groups, s, out, partial, scale);
    int rc = tre_cuda_launch_status(im);
    if (rc || p.groups == 1) return rc;
    blocks = tre_cuda_ceil_div(rows, TRE_CUDA_THREADS);
    if (blocks > TRE_CUDA_MAX_BLOCKS) blocks = TRE_CUDA_MAX_BLOCKS;
    tre_cuda_seg_finish_kernel<S, T><<<(unsigned)blocks, TRE_CUDA_THREADS, 0, im->stream>>>(
        rows, p.groups, s, out, partial, scale);
    return tre_cuda_launch_status(im);
#endif
}

/* ---- stable sort of pairs ------------------------------------------------------------------ */

/* Sorts n (key, value) pairs by key (keys in [0, 2^bits)), keeping the input order of equal
 * keys; keys/values in and out are device arrays of n. The scratch it needs must not overlap
 * them: the caller passes `temp` of tre_cuda_sort_temp_bytes(n, bits). */
size_t tre_cuda_sort_temp_bytes(int64_t n, int bits);
int tre_cuda_sort_pairs(tre_cuda_impl *im, void *temp, size_t temp_bytes, int64_t n, int bits,
                        const int32_t *keys_in, int32_t *keys_out, const int32_t *vals_in,
                        int32_t *vals_out);

/* ---- the backend's entries (one file per family of kernels) ------------------------------- */

int tre_binary_cuda(void *impl, tre_binop op, const tre_kshape *shape, float *out,
                    const tre_karg *a, const tre_karg *b, bool *no_nan);
int tre_unary_cuda(void *impl, tre_unop op, int64_t n, float *out, const float *in, bool *no_nan);
int tre_mask_scale_cuda(void *impl, const tre_kshape *shape, float *out, const tre_karg *x,
                        const tre_karg *mask, float scale);
int tre_fill_cuda(void *impl, float *dst, float v, int64_t n);
int tre_sum_rows_cuda(void *impl, int64_t rows, int64_t cols, const float *in, float *out);
int tre_scatter_add_scaled_cuda(void *impl, int64_t outer, int64_t n, int64_t inner,
                                const int32_t *index, int64_t k, const float *s, const float *x,
                                int64_t xstride, float *out);
int tre_dot_gathered_rows_cuda(void *impl, int64_t outer, int64_t n, int64_t inner,
                               const int32_t *index, int64_t k, const float *w, const float *x,
                               int64_t xstride, float *out);
int tre_dot_rows_cuda(void *impl, const tre_kshape *shape, float *out, const tre_karg *a,
                      const tre_karg *b);
int tre_gather_cuda(void *impl, int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                    int64_t k, const float *in, float *out);
int tre_reduce_sum_cuda(void *impl, const tre_kshape *shape, const float *in, float *out,
                        const int64_t *out_stride);
int tre_reduce_sum_pair_cuda(void *impl, const tre_kshape *shape, const float *in, float *out_a,
                             const int64_t *stride_a, float *out_b, const int64_t *stride_b);
int tre_scatter_add_cuda(void *impl, int64_t outer, int64_t n, int64_t inner, const int32_t *index,
                         int64_t k, const float *g, float *out);
int tre_take_cuda(void *impl, int64_t P, int64_t n, const float *values, int64_t vstride, int64_t K,
                  const float *index, int64_t istride, float *out);
int tre_take_backward_cuda(void *impl, int64_t P, int64_t n, const float *g, const float *index,
                           int64_t istride, float *gvalues, int64_t vstride, int64_t K);
int tre_log_prob_cuda(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                      const tre_karg *value, const tre_karg *params);
int tre_log_prob_sum_cuda(void *impl, tre_kdist kind, int64_t particles, const tre_kshape *inner,
                          float *out, const tre_karg *args, const int64_t *pstride, float scale);
int tre_validate_cuda(void *impl, tre_kcheck check, const tre_kshape *shape, const tre_karg *x,
                      const tre_karg *a, const tre_karg *b, float ca, int64_t *count);
int tre_sample_cuda(void *impl, tre_kdist kind, const tre_kshape *shape, float *out,
                    const tre_karg *params, uint64_t seed, uint64_t stream);
int tre_log_prob_backward_cuda(void *impl, tre_kdist kind, int64_t particles,
                               const tre_kshape *inner, const tre_karg *args,
                               const int64_t *pstride, const tre_karg *g, int64_t gstride,
                               float scale, float *const *grads);
int tre_log_prob_backward_sum_cuda(void *impl, tre_kdist kind, int64_t particles,
                                   const tre_kshape *inner, const tre_karg *args,
                                   const int64_t *pstride, const tre_karg *g, int64_t gstride,
                                   float scale, float *const *sums);
int tre_rsample_backward_cuda(void *impl, tre_kdist kind, const tre_kshape *shape, const float *x,
                              const tre_karg *params, const float *g, float *const *grads);
int tre_adam_update_cuda(void *impl, int64_t n, float *u, const float *g, float *m, float *v,
                         float beta1, float beta2, float eps, float wd, float clip,
                         float step_size, float bc2_sqrt);
int tre_bernoulli_glm_sum_cuda(void *impl, int64_t P, int64_t n, int64_t d, const float *x,
                               const float *w, const float *y, float scale, float *out,
                               float *grad);
int tre_bernoulli_outer_sum_cuda(void *impl, int64_t P, int64_t M, int64_t N, const float *a,
                                 int64_t a_pstride, const float *b, int64_t b_pstride, float sign,
                                 const float *y, float scale, float *out, float *ga, float *gb);
int tre_gemm_cuda(void *impl, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, int64_t strideA, const float *B, int64_t ldb,
                  int64_t strideB, float beta, float *C, int64_t ldc, int64_t strideC,
                  int64_t batch);
int tre_simplex_cuda(void *impl, int inverse, int64_t rows, int64_t k, float *out,
                     const float *in);
int tre_simplex_log_det_cuda(void *impl, int64_t rows, int64_t k, float *out, const float *in);
int tre_lower_cholesky_cuda(void *impl, int inverse, int64_t batch, int64_t n, float *out,
                            const float *in);
int tre_simplex_backward_cuda(void *impl, int64_t rows, int64_t k, const float *u, const float *g,
                              float *gu);
int tre_lower_cholesky_backward_cuda(void *impl, int64_t batch, int64_t n, const float *u,
                                     const float *g, float *gu);
int tre_lower_cholesky_log_det_cuda(void *impl, int64_t batch, int64_t n, float *out,
                                    const float *in);
int tre_categorical_log_prob_cuda(void *impl, const tre_kshape *rows, int64_t k, float *out,
                                  const tre_karg *logits, const tre_karg *value);
int tre_categorical_log_prob_backward_shared_cuda(void *impl, int64_t P, int64_t M, int64_t k,
                                                  const float *g, const float *logits, int64_t lstride,
                                                  const float *value, int64_t vstride0, int64_t vstride1,
                                                  float *grad_logits);
int tre_categorical_log_prob_backward_cuda(void *impl, const tre_kshape *rows, int64_t k,
                                           const float *g, const tre_karg *logits,
                                           const tre_karg *value, float *grad_logits);
int tre_categorical_sample_cuda(void *impl, const tre_kshape *rows, int64_t k, float *out,
                                const tre_karg *logits, uint64_t seed, uint64_t stream);
int tre_categorical_kl_cuda(void *impl, const tre_kshape *rows, int64_t k, float *out,
                            const tre_karg *p_logits, const tre_karg *q_logits);
int tre_categorical_kl_backward_cuda(void *impl, const tre_kshape *rows, int64_t k, const float *g,
                                     const tre_karg *p_logits, const tre_karg *q_logits,
                                     float *grad_p, float *grad_q);
int tre_mvn_log_prob_cuda(void *impl, const tre_kshape *rows, int64_t d, float *out,
                          const tre_karg *value, const tre_karg *loc, const tre_karg *scale_tril);
int tre_mvn_log_prob_backward_cuda(void *impl, const tre_kshape *rows, int64_t d, const float *g,
                                   const tre_karg *value, const tre_karg *loc,
                                   const tre_karg *scale_tril, float *grad_value, float *grad_loc,
                                   float *grad_scale_tril);
int tre_mvn_sample_cuda(void *impl, const tre_kshape *rows, int64_t d, float *out,
                        const tre_karg *loc, const tre_karg *scale_tril, uint64_t seed,
                        uint64_t stream);
int tre_mvn_rsample_backward_cuda(void *impl, int64_t rows, int64_t d, const float *g,
                                  uint64_t seed, uint64_t stream, float *grad_scale_tril);
int tre_dirichlet_sample_cuda(void *impl, const tre_kshape *rows, int64_t k, float *out,
                              const tre_karg *conc, uint64_t seed, uint64_t stream);
int tre_dirichlet_rsample_backward_cuda(void *impl, const tre_kshape *rows, int64_t k, const float *g,
                                        const tre_karg *conc, uint64_t seed, uint64_t stream,
                                        float *grad_conc);
int tre_mvn_kl_cuda(void *impl, const tre_kshape *rows, int64_t d, float *out,
                    const tre_karg *p_loc, const tre_karg *p_scale_tril, const tre_karg *q_loc,
                    const tre_karg *q_scale_tril);
int tre_cuda_graph_begin(void *impl);
int tre_cuda_graph_end(void *impl, void **graph);
int tre_cuda_graph_launch(void *impl, void *graph);
void tre_cuda_graph_destroy(void *impl, void *graph);
int tre_cuda_set_rng_delta(void *impl, uint64_t delta);
int tre_mvn_kl_backward_cuda(void *impl, const tre_kshape *rows, int64_t d, const float *g,
                             const tre_karg *p_loc, const tre_karg *p_scale_tril,
                             const tre_karg *q_loc, const tre_karg *q_scale_tril,
                             float *grad_p_loc, float *grad_p_scale_tril, float *grad_q_loc,
                             float *grad_q_scale_tril);

#endif
