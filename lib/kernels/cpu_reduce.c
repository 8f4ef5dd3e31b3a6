/* Broadcast-reduction sums (bias gradients, the backward of broadcast adds
 * and multiplies). oneDNN 2.6 runs these shapes -- (N,H,W,C) -> (N,1,1,C),
 * (M,C) -> (1,C) -- on its reference reduction (`ref:any`), which took a
 * third of a training step; this is a hand-written kernel instead: the
 * axes are merged into alternating kept / reduced runs, the source is
 * walked in order, split into one contiguous chunk per thread, each chunk
 * summed in double into its own buffer, and the buffers added in chunk
 * order -- results depend only on the thread count. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/cpu_simd.h"
#include "kernels/onednn_internal.h"

#define IG_RED_MAXDIM 6

/* Merged view: run k has size[k] elements, reduced (red[k]) or kept; the
 * destination stride of a kept run is dstride[k] (0 when reduced). */
typedef struct red_view {
    int n;
    int64_t size[IG_RED_MAXDIM], dstride[IG_RED_MAXDIM];
    int red[IG_RED_MAXDIM];
} red_view;

static void red_view_make(int ndim, const int64_t *dims, const int64_t *ddims, red_view *v)
{
    v->n = 0;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] == 1) continue;
        int red = ddims[i] == 1;
        if (v->n > 0 && v->red[v->n - 1] == red) {
            v->size[v->n - 1] *= dims[i];
        } else {
            v->size[v->n] = dims[i];
            v->red[v->n] = red;
            v->n++;
        }
    }
    int64_t s = 1;
    for (int k = v->n - 1; k >= 0; k--) {
        v->dstride[k] = v->red[k] ? 0 : s;
        if (!v->red[k]) s *= v->size[k];
    }
}

/* Adds src rows [r0, r1) (a row = the innermost run) into acc (nout doubles). */
IG_CPU_CLONES static void red_chunk(const red_view *v, const float *src, int64_t r0, int64_t r1,
                                    double *acc)
{
    const int last = v->n - 1;
    const int64_t inner = v->size[last];
    int64_t idx[IG_RED_MAXDIM] = {0}, off = 0, rem = r0;
    for (int k = last - 1; k >= 0; k--) { /* position of row r0 */
        idx[k] = rem % v->size[k];
        rem /= v->size[k];
        off += idx[k] * v->dstride[k];
    }
    for (int64_t r = r0; r < r1; r++) {
        const float *row = src + r * inner;
        if (v->red[last]) {
            double s = 0;
            for (int64_t j = 0; j < inner; j++) s += row[j];
            acc[off] += s;
        } else {
            double *a = acc + off;
            for (int64_t j = 0; j < inner; j++) a[j] += row[j];
        }
        for (int k = last - 1; k >= 0; k--) { /* next row */
            off += v->dstride[k];
            if (++idx[k] < v->size[k]) break;
            off -= idx[k] * v->dstride[k];
            idx[k] = 0;
        }
    }
}

i2ig_status ig_k_reduce_sum(ig_engine *e, int ndim, const int64_t *dims, const int64_t *ddims,
                            const float *src, float *dst, int accumulate)
{
    if (ndim < 1 || ndim > IG_RED_MAXDIM)
        return ig_fail(I2IG_ERR_INTERNAL, "reduction with %d dimensions", ndim);
    int64_t nout = 1, nin = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 1 || (ddims[i] != 1 && ddims[i] != dims[i]))
            return ig_fail(I2IG_ERR_SHAPE, "reduction: dimension %d is %lld, result has %lld", i,
                           (long long)dims[i], (long long)ddims[i]);
        nout *= ddims[i];
        nin *= dims[i];
    }
    red_view v;
    red_view_make(ndim, dims, ddims, &v);
    if (v.n == 0) { /* a single element */
        dst[0] = (accumulate ? dst[0] : 0.0f) + src[0];
        return I2IG_OK;
    }
    const int64_t rows = nin / v.size[v.n - 1];
    /* Enough rows per chunk that a thread's buffer costs less than its work. */
    int chunks = ig_engine_threads(e);
    while (chunks > 1 && rows * v.size[v.n - 1] < (int64_t)chunks * (nout + 4096)) chunks--;
    if (chunks > rows) chunks = (int)rows;
    double *acc = calloc((size_t)chunks * (size_t)nout, sizeof(double));
    if (!acc) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "reduction: %lld sums", (long long)nout);
#pragma omp parallel for schedule(static) num_threads(chunks) if (chunks > 1)
    for (int c = 0; c < chunks; c++)
        red_chunk(&v, src, rows * c / chunks, rows * (c + 1) / chunks, acc + (size_t)c * (size_t)nout);
    for (int64_t i = 0; i < nout; i++) {
        double s = 0;
        for (int c = 0; c < chunks; c++) s += acc[(size_t)c * (size_t)nout + (size_t)i];
        dst[i] = accumulate ? (float)((double)dst[i] + s) : (float)s;
    }
    free(acc);
    return I2IG_OK;
}
