/* Shapes: right-aligned broadcasting, particle extents, kernel layouts with dim merging. */
#include <stdio.h>
#include <string.h>
#include "tensor_impl.h"

bool tre_shape_equal(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b) {
    if (ndim_a != ndim_b) return false;
    for (int i = 0; i < ndim_a; ++i)
        if (a[i] != b[i]) return false;
    return true;
}

bool tre_shape_broadcast(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b,
                         int *ndim_out, int64_t *out) {
    if (ndim_a < 0 || ndim_b < 0 || (ndim_a > 0 && !a) || (ndim_b > 0 && !b) || !ndim_out || !out)
        return false;
    int n = ndim_a > ndim_b ? ndim_a : ndim_b;
    if (n > TRE_MAX_DIMS) return false;
    int64_t tmp[TRE_MAX_DIMS];
    for (int i = 0; i < n; ++i) {
        int ia = ndim_a - n + i, ib = ndim_b - n + i;
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1) return false;
        tmp[i] = da == 1 ? db : da;
    }
    memcpy(out, tmp, (size_t)n * sizeof *out);
    *ndim_out = n;
    return true;
}

int64_t tre_particles_join(int64_t a, int64_t b) {
    if (a == b || b == 1) return a;
    if (a == 1) return b;
    return -1;
}

/* 0 when any size is 0; else the product, saturated at INT64_MAX rather than overflowing (a
 * shape that large is refused where a tensor of it would be made: check_shape). */
int64_t tre_shape_numel(int ndim, const int64_t *shape) {
    for (int i = 0; i < ndim; ++i)
        if (shape[i] == 0) return 0;
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i)
        n = shape[i] > 0 && n > INT64_MAX / shape[i] ? INT64_MAX : n * shape[i];
    return n;
}

const char *tre_shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t pos = 0;
    pos += (size_t)snprintf(buf + pos, n - pos, "[");
    for (int i = 0; i < ndim && pos < n; ++i)
        pos += (size_t)snprintf(buf + pos, n - pos, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (pos < n) snprintf(buf + pos, n - pos, "]");
    return buf;
}

void tre_kernel_layout(const tre_tensor *out, int nargs, const tre_tensor *const *args,
                       tre_kshape *ks, tre_karg *ka) {
    /* every argument absent or laid out as out itself (the common case): one contiguous run,
     * which is what the general path below merges such a space into */
    bool own = true;
    for (int a = 0; a < nargs && own; ++a)
        own = !args[a] || (args[a]->particles == out->particles &&
                           tre_shape_equal(args[a]->ndim, args[a]->shape, out->ndim, out->shape));
    if (own) {
        const int64_t total = out->particles * out->numel;
        ks->ndim = 1;
        ks->dim[0] = total;
        for (int a = 0; a < nargs; ++a) {
            ka[a].data = args[a] ? (const float *)args[a]->data : NULL;
            ka[a].stride[0] = args[a] && total != 1 ? 1 : 0; /* a single element: stride 0 */
        }
        return;
    }
    int n = out->ndim + 1;
    int64_t dim[TRE_KDIMS], st[TRE_KDIMS + 1][TRE_KDIMS];
    dim[0] = out->particles;
    for (int d = 0; d < out->ndim; ++d) dim[d + 1] = out->shape[d];
    /* row 0: the contiguous output; rows 1..nargs: the arguments */
    int64_t c = 1;
    for (int d = n - 1; d >= 0; --d) {
        st[0][d] = c;
        c *= dim[d];
    }
    for (int a = 0; a < nargs; ++a) {
        const tre_tensor *t = args[a];
        int64_t *s = st[a + 1];
        for (int d = 0; d < n; ++d) s[d] = 0;
        if (!t) continue;
        int64_t tc = 1;
        for (int j = t->ndim - 1; j >= 0; --j) {
            int d = n - t->ndim + j;
            s[d] = t->shape[j] == 1 ? 0 : tc;
            tc *= t->shape[j];
        }
        s[0] = t->particles == 1 ? 0 : t->numel;
    }
    /* drop size-1 dims, then merge neighbours whose strides chain for every row */
    int m = 0;
    for (int d = 0; d < n; ++d) {
        if (dim[d] == 1) continue;
        bool merge = m > 0;
        for (int r = 0; merge && r <= nargs; ++r)
            if (st[r][m - 1] != st[r][d] * dim[d]) merge = false;
        if (merge) {
            dim[m - 1] *= dim[d];
            for (int r = 0; r <= nargs; ++r) st[r][m - 1] = st[r][d];
        } else {
            dim[m] = dim[d];
            for (int r = 0; r <= nargs; ++r) st[r][m] = st[r][d];
            ++m;
        }
    }
    if (m == 0) {
        m = 1;
        dim[0] = 1;
        for (int r = 0; r <= nargs; ++r) st[r][0] = 0;
    }
    ks->ndim = m;
    for (int d = 0; d < m; ++d) ks->dim[d] = dim[d];
    for (int a = 0; a < nargs; ++a) {
        ka[a].data = args[a] ? (const float *)args[a]->data : NULL;
        for (int d = 0; d < m; ++d) ka[a].stride[d] = st[a + 1][d];
    }
}
