/* Run decomposition of broadcast shapes for the CPU kernels. */
#include "cpu_iter.h"

void tre_cpu_runs_init(tre_cpu_runs *r, const tre_kshape *s) {
    r->ndim = s->ndim;
    r->total = 1;
    for (int d = 0; d < s->ndim; ++d) {
        r->dim[d] = s->dim[d];
        r->total *= s->dim[d];
    }
    r->inner = s->ndim ? s->dim[s->ndim - 1] : 1;
    if (r->inner <= 0 || r->total <= 0) {
        r->chunks_per_row = 0;
        r->nruns = 0;
        return;
    }
    r->chunks_per_row = (r->inner + TRE_CPU_CHUNK - 1) / TRE_CPU_CHUNK;
    r->nruns = (r->total / r->inner) * r->chunks_per_row;
}

int64_t tre_cpu_run_at(const tre_cpu_runs *r, int64_t k, int nargs, const int64_t *const *strides,
                       int64_t *offs) {
    int64_t row = k / r->chunks_per_row, chunk = k % r->chunks_per_row;
    int64_t start = chunk * TRE_CPU_CHUNK;
    int64_t len = r->inner - start < TRE_CPU_CHUNK ? r->inner - start : TRE_CPU_CHUNK;
    for (int a = 0; a < nargs; ++a) offs[a] = 0;
    /* contiguous (output) strides */
    int64_t cstride = r->inner;
    for (int d = r->ndim - 2; d >= 0; --d) {
        int64_t i = row % r->dim[d];
        row /= r->dim[d];
        for (int a = 0; a < nargs; ++a)
            offs[a] += i * (strides[a] ? strides[a][d] : cstride);
        cstride *= r->dim[d];
    }
    for (int a = 0; a < nargs; ++a)
        offs[a] += start * (strides[a] ? strides[a][r->ndim - 1] : 1);
    return len;
}
