/* Row grids and row layouts of the structured families (see dist_rows.h). */
#include <string.h>
#include "dist_rows.h"

int tre_dist_row_batch(const tre_dist *d, int64_t *shape) {
    int moved = d->event_ndim - d->family->base_event_ndim;
    memcpy(shape, d->batch_shape, (size_t)d->batch_ndim * sizeof(int64_t));
    memcpy(shape + d->batch_ndim, d->event_shape, (size_t)moved * sizeof(int64_t));
    return d->batch_ndim + moved;
}

bool tre_dist_rows_join(const tre_dist *a, const tre_dist *b, tre_dist_rows *grid) {
    int64_t s[TRE_MAX_DIMS];
    grid->ndim = tre_dist_row_batch(a, grid->shape);
    grid->particles = tre_dist_particles(a);
    if (b) {
        int nd = tre_dist_row_batch(b, s);
        grid->particles = tre_particles_join(grid->particles, tre_dist_particles(b));
        if (grid->particles < 0 ||
            !tre_shape_broadcast(grid->ndim, grid->shape, nd, s, &grid->ndim, grid->shape))
            return false;
    }
    return true;
}

bool tre_dist_rows_for_value(tre_ctx *ctx, const tre_dist *d, const tre_tensor *value,
                             tre_dist_rows *grid) {
    int base = d->family->base_event_ndim;
    char s1[96], s2[96];
    grid->ndim = tre_dist_row_batch(d, grid->shape);
    grid->particles = tre_particles_join(tre_dist_particles(d), value->particles);
    if (value->ndim < base || grid->particles < 0 ||
        !tre_shape_broadcast(grid->ndim, grid->shape, value->ndim - base, value->shape,
                             &grid->ndim, grid->shape)) {
        tre_ctx_fail(ctx, TRE_ERR_SHAPE, "log_prob: value of shape %s does not fit %s with batch shape %s",
                     tre_shape_str(s1, sizeof s1, value->ndim, value->shape), d->family->name,
                     tre_shape_str(s2, sizeof s2, d->batch_ndim, d->batch_shape));
        return false;
    }
    return true;
}

void tre_dist_rows_of(const tre_tensor *t, int row_ndim, tre_dist_rows *grid) {
    grid->particles = t->particles;
    grid->ndim = t->ndim - row_ndim;
    memcpy(grid->shape, t->shape, (size_t)grid->ndim * sizeof(int64_t));
}

void tre_dist_row_layout(const tre_dist_rows *grid, int nargs, const tre_tensor *const *args,
                         const int *row_ndim, tre_kshape *ks, tre_karg *ka) {
    /* lay each argument out as if its rows were scalars, then scale its strides by the row
     * size: merging of dims is unaffected, since it compares strides within one argument */
    tre_tensor out = {.particles = grid->particles, .ndim = grid->ndim,
                      .numel = tre_shape_numel(grid->ndim, grid->shape)};
    memcpy(out.shape, grid->shape, (size_t)grid->ndim * sizeof(int64_t));
    tre_tensor lead[TRE_DIST_ROW_ARGS];
    const tre_tensor *la[TRE_DIST_ROW_ARGS];
    int64_t row_size[TRE_DIST_ROW_ARGS];
    if (nargs > TRE_DIST_ROW_ARGS) nargs = TRE_DIST_ROW_ARGS;
    for (int a = 0; a < nargs; ++a) {
        const tre_tensor *t = args[a];
        int nd = t->ndim - row_ndim[a];
        lead[a] = (tre_tensor){.data = t->data, .particles = t->particles, .ndim = nd,
                               .numel = tre_shape_numel(nd, t->shape)};
        memcpy(lead[a].shape, t->shape, (size_t)nd * sizeof(int64_t));
        row_size[a] = tre_shape_numel(row_ndim[a], t->shape + nd);
        la[a] = &lead[a];
    }
    tre_kernel_layout(&out, nargs, la, ks, ka);
    for (int a = 0; a < nargs; ++a)
        for (int i = 0; i < ks->ndim; ++i) ka[a].stride[i] *= row_size[a];
}
