/* Step graphs on the CUDA backend: a stream capture of one step's ops (cudaStreamBeginCapture
 * on the context's stream, relaxed mode), instantiated once and launched for each later step,
 * so a static model pays one launch per step instead of one per op.
 *
 * While capturing, an upload copies its host bytes into pinned memory owned by the graph (the
 * staging ring would be overwritten by later uploads, and waiting on its events is illegal in
 * a capture); ops that need the host (downloads, syncs, validate's readback, scratch growth)
 * refuse and mark the capture broken (backend_cuda.cu). The rng delta is a device word that
 * every random op adds to its stream when it runs; it is set by a one-thread kernel queued on
 * the stream, so it is ordered with the graph launches around it.
 *
 * The emulation (TRE_CUDA_EMULATE) records a copy of each op's closure, with its arguments,
 * instead of running it, and a launch runs the copies in order: as with a real capture, nothing
 * runs until the graph is launched. */
#include <new>
#include <stdlib.h>
#include <string.h>
#include <vector>
#include "cuda_common.cuh"
#if defined(TRE_CUDA_EMULATE)
#include <memory>
#endif

struct tre_cuda_graph {
    uint64_t scratch_gen; /* the scratch buffer its nodes point into */
    std::vector<void *> deferred_frees; /* device buffers freed during the capture */
    std::vector<tre_cuda_graph *> deferred_graphs; /* graphs destroyed during the capture */
#if defined(TRE_CUDA_EMULATE)
    std::vector<std::function<void()>> nodes;
#else
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    std::vector<void *> pinned; /* the captured uploads' host bytes (cudaHostAlloc) */
#endif
};

/* Frees g and what it holds; never during a capture (see tre_cuda_graph_destroy). */
static void graph_free(tre_cuda_impl *im, tre_cuda_graph *g) {
    if (!g) return;
    for (tre_cuda_graph *d : g->deferred_graphs) graph_free(im, d);
#if !defined(TRE_CUDA_EMULATE)
    /* a launch still queued may read the pinned uploads */
    if (im->stream && !im->cap) (void)cudaStreamSynchronize(im->stream);
    if (g->exec) (void)cudaGraphExecDestroy(g->exec);
    if (g->graph) (void)cudaGraphDestroy(g->graph);
    for (void *p : g->pinned) (void)cudaFreeHost(p);
    for (void *p : g->deferred_frees) tre_cuda_mem_forget(im, p), (void)cudaFree(p);
    (void)cudaGetLastError();
#else
    for (void *p : g->deferred_frees) tre_cuda_mem_forget(im, p), free(p);
#endif
    delete g;
}

int tre_cuda_capture_refuse(tre_cuda_impl *im) {
    im->capture_broken = 1;
    return TRE_KERR_CAPTURE;
}

void tre_cuda_capture_defer_free(tre_cuda_impl *im, void *p) {
    (void)tre_cuda_capture_refuse(im);
    try {
        im->cap->deferred_frees.push_back(p);
    } catch (...) {
        /* no room to remember it: leaking p is safe, freeing it under the graph is not */
    }
}

#if defined(TRE_CUDA_EMULATE)
int tre_cuda_emu_record(tre_cuda_impl *im, std::function<void()> run) {
    try {
        im->cap->nodes.push_back(std::move(run));
    } catch (...) {
        im->capture_broken = 1;
        return TRE_KERR_OOM;
    }
    return 0;
}
#endif

int tre_cuda_capture_upload(tre_cuda_impl *im, void *dst, const void *host, size_t bytes) {
    if (!bytes) return 0;
    const unsigned char *src = (const unsigned char *)host;
#if defined(TRE_CUDA_EMULATE)
    std::shared_ptr<std::vector<unsigned char>> copy;
    try {
        copy = std::make_shared<std::vector<unsigned char>>(src, src + bytes);
    } catch (...) {
        im->capture_broken = 1;
        return TRE_KERR_OOM;
    }
    return tre_cuda_emu_record(im, [dst, copy]() { memcpy(dst, copy->data(), copy->size()); });
#else
    void *p = NULL;
    int rc = tre_cuda_status(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
    if (!rc) {
        try {
            im->cap->pinned.push_back(p);
        } catch (...) {
            (void)cudaFreeHost(p);
            rc = TRE_KERR_OOM;
        }
    }
    if (rc) {
        im->capture_broken = 1;
        return rc;
    }
    memcpy(p, src, bytes);
    return tre_cuda_status(cudaMemcpyAsync(dst, p, bytes, cudaMemcpyHostToDevice, im->stream));
#endif
}

int tre_cuda_graph_begin(void *impl) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (im->cap) return 1; /* one capture at a time */
    tre_cuda_graph *g = new (std::nothrow) tre_cuda_graph();
    if (!g) return TRE_KERR_OOM;
    g->scratch_gen = im->scratch_gen;
#if !defined(TRE_CUDA_EMULATE)
    /* relaxed: an arena that grows inside the captured step may still cudaMalloc */
    int rc = tre_cuda_status(cudaStreamBeginCapture(im->stream, cudaStreamCaptureModeRelaxed));
    if (rc) {
        delete g;
        return rc;
    }
#endif
    im->cap = g;
    im->capture_broken = 0;
    return 0;
}

int tre_cuda_graph_end(void *impl, void **out) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    *out = NULL;
    tre_cuda_graph *g = im->cap;
    if (!g) return 1;
    im->cap = NULL;
    const int broken = im->capture_broken;
    im->capture_broken = 0;
#if !defined(TRE_CUDA_EMULATE)
    cudaGraph_t graph = NULL;
    int rc = tre_cuda_status(cudaStreamEndCapture(im->stream, &graph));
    g->graph = graph;
    if (!rc && !graph) rc = 1;
    if (!rc) rc = tre_cuda_status(cudaGraphInstantiate(&g->exec, graph, 0));
    if (rc) {
        graph_free(im, g);
        return broken ? TRE_KERR_CAPTURE : rc;
    }
#endif
    for (tre_cuda_graph *d : g->deferred_graphs) graph_free(im, d); /* the capture is over */
    g->deferred_graphs.clear();
    *out = g;
    return broken ? TRE_KERR_CAPTURE : 0;
}

int tre_cuda_graph_launch(void *impl, void *graph) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    tre_cuda_graph *g = (tre_cuda_graph *)graph;
    if (!g || im->cap) return 1;
    if (g->scratch_gen != im->scratch_gen) return TRE_KERR_STALE;
#if defined(TRE_CUDA_EMULATE)
    for (const std::function<void()> &node : g->nodes) node();
    return 0;
#else
    return tre_cuda_status(cudaGraphLaunch(g->exec, im->stream));
#endif
}

/* A graph destroyed while another is being captured is freed when that capture ends: freeing
 * its pinned uploads and deferred buffers now would synchronise the device, which a capture
 * forbids (it would break the capture), and a launch of it may still be running. */
void tre_cuda_graph_destroy(void *impl, void *graph) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    tre_cuda_graph *g = (tre_cuda_graph *)graph;
    if (!g) return;
    if (im->cap && g != im->cap) {
        try {
            im->cap->deferred_graphs.push_back(g);
        } catch (...) {
            /* no room to remember it: leaking it is safe, freeing it inside the capture is not */
        }
        return;
    }
    graph_free(im, g);
}

int tre_cuda_set_rng_delta(void *impl, uint64_t delta) {
    tre_cuda_impl *im = (tre_cuda_impl *)impl;
    if (im->cap) return tre_cuda_capture_refuse(im); /* it would be frozen into the graph */
    if (delta == im->rng_delta) return 0;
    uint64_t *d = im->d_rng_delta;
    const int rc = tre_cuda_each(im, 1, [=] TRE_CUDA_FN(int64_t) { *d = delta; });
    if (!rc) im->rng_delta = delta;
    return rc;
}
