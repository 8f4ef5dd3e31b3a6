/* Operations that move data: concatenation, slicing, permutation, circular
 * padding and the grey-to-RGB channel expansion. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ops.h"

static int64_t last(const ig_tensor *t) { return t->shape[t->ndim - 1]; }
static int64_t rows_of(const ig_tensor *t) { return (int64_t)(t->numel / (size_t)last(t)); }

/* ---- concat ------------------------------------------------------------------ */

static void concat_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *a = n->in[0], *b = n->in[1];
    int64_t rows = rows_of(a), ca = last(a), cb = last(b);
    const float *dy = n->out->grad->data;
    int acc_a = 0, acc_b = 0;
    float *da = ig_grad_dest(g, a, &acc_a), *db = ig_grad_dest(g, b, &acc_b);
    if (g->status == I2IG_OK && (da || db))
        ig_k_split_last(g->e, rows, ca, cb, dy, da, acc_a, db, acc_b);
}

ig_tensor *ig_concat_last(ig_graph *g, ig_tensor *a, ig_tensor *b)
{
    if (!ig_graph_ok(g, 2, a, b)) return NULL;
    if (!ig_same_rows(a, b)) return ig_shape_fail(g, "concat", a, b);
    int64_t shape[IG_MAXDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = last(a) + last(b);
    ig_tensor *y = ig_t_new(g, a->ndim, shape);
    if (!y) return NULL;
    i2ig_status st = ig_k_concat_last(g->e, rows_of(a), last(a), last(b), a->data, b->data, y->data);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    ig_tensor *in[2] = {a, b};
    ig_record(g, y, concat_backward, 2, in, 0, NULL);
    return y;
}

/* ---- slice ------------------------------------------------------------------- */

static void slice_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0];
    float *dx = ig_grad_buf(g, x);
    if (!dx) return;
    int64_t rows = rows_of(x), c = last(x), start = n->p.l[0], len = n->p.l[1];
    const float *dy = n->out->grad->data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < len; j++) dx[r * c + start + j] += dy[r * len + j];
}

ig_tensor *ig_slice_last(ig_graph *g, ig_tensor *x, int64_t start, int64_t len)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    if (start < 0 || len < 1 || start + len > last(x)) return ig_shape_fail(g, "slice", x, NULL);
    int64_t shape[IG_MAXDIM];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = len;
    ig_tensor *y = ig_t_new(g, x->ndim, shape);
    if (!y) return NULL;
    int64_t dims[2] = {rows_of(x), len}, strides[2] = {last(x), 1};
    i2ig_status st = ig_k_copy_strided(g->e, 2, dims, strides, x->data + start, y->data);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    ig_node *nd = ig_record(g, y, slice_backward, 1, &x, 0, NULL);
    if (nd) {
        nd->p.l[0] = start;
        nd->p.l[1] = len;
    }
    return y;
}

/* ---- permute ----------------------------------------------------------------- */

static void dense_strides(int nd, const int64_t *shape, int64_t *st)
{
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= shape[i];
    }
}

static void permute_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0], *y = n->out;
    ig_gradw gw;
    float *dx = ig_gradw_begin(g, x, &gw);
    if (dx) {
        /* dx[j...] = dy at the permuted position: read dy with strides
         * arranged in x's dimension order. */
        int64_t yst[IG_MAXDIM], sst[IG_MAXDIM];
        dense_strides(y->ndim, y->shape, yst);
        for (int i = 0; i < y->ndim; i++) sst[n->p.i[i]] = yst[i];
        i2ig_status st = ig_k_copy_strided(g->e, x->ndim, x->shape, sst, y->grad->data, dx);
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
    ig_gradw_end(g, &gw);
}

ig_tensor *ig_permute(ig_graph *g, ig_tensor *x, const int *perm)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    int seen = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= x->ndim || (seen >> perm[i]) & 1)
            return ig_shape_fail(g, "permute", x, NULL);
        seen |= 1 << perm[i];
    }
    int64_t xst[IG_MAXDIM], shape[IG_MAXDIM], sst[IG_MAXDIM];
    dense_strides(x->ndim, x->shape, xst);
    for (int i = 0; i < x->ndim; i++) {
        shape[i] = x->shape[perm[i]];
        sst[i] = xst[perm[i]];
    }
    ig_tensor *y = ig_t_new(g, x->ndim, shape);
    if (!y) return NULL;
    i2ig_status st = ig_k_copy_strided(g->e, x->ndim, shape, sst, x->data, y->data);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    ig_node *nd = ig_record(g, y, permute_backward, 1, &x, 0, NULL);
    if (nd)
        for (int i = 0; i < x->ndim; i++) nd->p.i[i] = perm[i];
    return y;
}

/* ---- views and stacking -------------------------------------------------------------- */

static void view_range_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0];
    float *dx = ig_grad_buf(g, x);
    if (!dx) return;
    size_t off = (size_t)n->p.l[0];
    const float *dy = n->out->grad->data;
    for (size_t i = 0; i < n->out->numel; i++) dx[off + i] += dy[i];
}

ig_tensor *ig_view_range(ig_graph *g, ig_tensor *x, size_t offset, int ndim, const int64_t *shape)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    size_t n = ig_shape_numel(ndim, shape);
    if (ndim < 1 || ndim > IG_MAXDIM || n == 0 || offset > x->numel || n > x->numel - offset)
        return ig_shape_fail(g, "view", x, NULL);
    ig_tensor *v = ig_t_detach(g, x);
    if (!v) return NULL;
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) v->shape[i] = shape[i];
    v->numel = n;
    v->data = x->data + offset;
    v->uid = 0; /* a piece of a weight is not the weight */
    ig_node *nd = ig_record(g, v, view_range_backward, 1, &x, 0, NULL);
    if (nd) nd->p.l[0] = (int64_t)offset;
    return v;
}

static void stack_backward(ig_graph *g, ig_node *n)
{
    const float *dy = n->out->grad->data;
    for (int i = 0; i < n->nin; i++) ig_grad_add(g, n->in[i], dy + (size_t)i * n->in[0]->numel);
}

ig_tensor *ig_stack(ig_graph *g, ig_tensor *const *xs, int n)
{
    if (n < 1 || n > IG_NODE_MAXIN) {
        ig_graph_fail(g, ig_fail(I2IG_ERR_INTERNAL, "stack of %d tensors", n));
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!ig_graph_ok(g, 1, xs[i])) return NULL;
    for (int i = 1; i < n; i++)
        if (!ig_same_shape(xs[0], xs[i]) || xs[0]->ndim >= IG_MAXDIM)
            return ig_shape_fail(g, "stack", xs[0], xs[i]);
    int64_t shape[IG_MAXDIM];
    shape[0] = n;
    for (int i = 0; i < xs[0]->ndim; i++) shape[i + 1] = xs[0]->shape[i];
    ig_tensor *y = ig_t_new(g, xs[0]->ndim + 1, shape);
    if (!y) return NULL;
    for (int i = 0; i < n; i++)
        memcpy(y->data + (size_t)i * xs[0]->numel, xs[i]->data, xs[0]->numel * sizeof(float));
    ig_record(g, y, stack_backward, n, xs, 0, NULL);
    return y;
}

/* ---- circular padding ----------------------------------------------------------- */

static int64_t wrap(int64_t i, int64_t n) { return ((i % n) + n) % n; }

static void pad_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0];
    float *dx = ig_grad_buf(g, x);
    if (!dx) return;
    int64_t nb = x->shape[0], t = x->shape[1], c = x->shape[2], p = n->p.i[0], tp = t + 2 * p;
    const float *dy = n->out->grad->data;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = 0; i < tp; i++) {
            float *d = dx + (b * t + wrap(i - p, t)) * c;
            const float *s = dy + (b * tp + i) * c;
            for (int64_t j = 0; j < c; j++) d[j] += s[j];
        }
}

ig_tensor *ig_pad_circular(ig_graph *g, ig_tensor *x, int p)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    if (x->ndim != 3 || p < 0 || p > x->shape[1]) return ig_shape_fail(g, "circular pad", x, NULL);
    int64_t nb = x->shape[0], t = x->shape[1], c = x->shape[2], tp = t + 2 * p;
    int64_t shape[3] = {nb, tp, c};
    ig_tensor *y = ig_t_new(g, 3, shape);
    if (!y) return NULL;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = 0; i < tp; i++)
            memcpy(y->data + (b * tp + i) * c, x->data + (b * t + wrap(i - p, t)) * c,
                   (size_t)c * sizeof(float));
    ig_node *nd = ig_record(g, y, pad_backward, 1, &x, 0, NULL);
    if (nd) nd->p.i[0] = p;
    return y;
}

/* ---- channel expansion ----------------------------------------------------------- */

static void expand_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0];
    float *dx = ig_grad_buf(g, x);
    if (!dx) return;
    int c = n->p.i[0];
    const float *scale = n->extra, *dy = n->out->grad->data;
    for (size_t i = 0; i < x->numel; i++) {
        double s = 0;
        for (int j = 0; j < c; j++) s += (double)dy[i * (size_t)c + (size_t)j] * scale[j];
        dx[i] += (float)s;
    }
}

ig_tensor *ig_channel_expand(ig_graph *g, ig_tensor *x, int c, const float *scale,
                             const float *shift)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    if (last(x) != 1 || c < 1 || c > 16) return ig_shape_fail(g, "channel expand", x, NULL);
    int64_t shape[IG_MAXDIM];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = c;
    ig_tensor *y = ig_t_new(g, x->ndim, shape);
    if (!y) return NULL;
    for (size_t i = 0; i < x->numel; i++)
        for (int j = 0; j < c; j++) y->data[i * (size_t)c + (size_t)j] = x->data[i] * scale[j] + shift[j];
    ig_node *nd = ig_record(g, y, expand_backward, 1, &x, 0, NULL);
    if (nd) {
        nd->p.i[0] = c;
        nd->extra = malloc((size_t)c * sizeof(float));
        if (!nd->extra) return ig_op_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "expand"), y);
        memcpy(nd->extra, scale, (size_t)c * sizeof(float));
    }
    return y;
}
