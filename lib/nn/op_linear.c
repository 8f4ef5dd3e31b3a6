/* Matrix-product layers: linear, batched products, embedding lookup. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ops.h"

static int64_t rows_of(const ig_tensor *x) { return (int64_t)(x->numel / (size_t)x->shape[x->ndim - 1]); }

/* C (+)= alpha * op(A) op(B), writing into t's gradient. */
static void mm_into_grad(ig_graph *g, ig_tensor *t, ig_mm_shape s, const float *a, const float *b)
{
    float *dst = ig_grad_dest(g, t, &s.accumulate);
    if (!dst) return;
    i2ig_status st = ig_k_matmul(g->e, &s, a, b, NULL, dst);
    if (st != I2IG_OK) ig_graph_fail(g, st);
}

static void linear_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0], *w = n->in[1], *b = n->nin > 2 ? n->in[2] : NULL;
    const float *dy = n->out->grad->data;
    int64_t m = rows_of(x), k = w->shape[1], nn = w->shape[0];
    /* dx = dy W, W packed (cached per weight version) */
    int acc;
    float *dx = ig_grad_dest(g, x, &acc);
    if (dx) {
        i2ig_status st = ig_k_matmul_packed_b(g->e, m, k, nn, dy, ig_t_wref(w), acc, dx);
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
    /* dW = dy^T x */
    int accw;
    float *dw = ig_grad_dest(g, w, &accw);
    if (dw) {
        i2ig_status st = ig_k_matmul_at_b(g->e, nn, k, m, dy, x->data, accw, dw);
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
    if (b && b->requires_grad && g->status == I2IG_OK) {
        float *db = ig_grad_buf(g, b);
        int64_t dims[2] = {m, nn}, dd[2] = {1, nn};
        i2ig_status st = db ? ig_k_reduce_sum(g->e, 2, dims, dd, dy, db, 1) : I2IG_OK;
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
}

ig_tensor *ig_linear(ig_graph *g, ig_tensor *x, ig_tensor *w, ig_tensor *b)
{
    if (!ig_graph_ok(g, 2, x, w)) return NULL;
    if (w->ndim != 2 || x->shape[x->ndim - 1] != w->shape[1] ||
        (b && b->numel != (size_t)w->shape[0]))
        return ig_shape_fail(g, "linear", x, w);
    int64_t shape[IG_MAXDIM];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = w->shape[0];
    ig_tensor *y = ig_t_new(g, x->ndim, shape);
    if (!y) return NULL;
    ig_mm_shape s = ig_mm_plain(1, rows_of(x), w->shape[0], w->shape[1], 0, 1);
    i2ig_status st = ig_k_matmul(g->e, &s, x->data, w->data, b ? b->data : NULL, y->data);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    ig_tensor *in[3] = {x, w, b};
    ig_record(g, y, linear_backward, b ? 3 : 2, in, 0, NULL);
    return y;
}

ig_tensor *ig_linear_cat(ig_graph *g, ig_tensor *a, ig_tensor *b, ig_tensor *wa, ig_tensor *wb,
                         ig_tensor *bias)
{
    if (!ig_graph_ok(g, 4, a, b, wa, wb)) return NULL;
    ig_tensor *all[5] = {a, b, wa, wb, bias};
    if (ig_needs_tape(g, 5, all)) {
        ig_graph_fail(g, ig_fail(I2IG_ERR_INTERNAL, "linear of a concatenation: no gradient"));
        return NULL;
    }
    int64_t c1 = a->shape[a->ndim - 1], c2 = b->shape[b->ndim - 1], no = wa->shape[0];
    if (!ig_same_rows(a, b) || wa->ndim != 2 || wb->ndim != 2 || wa->shape[1] != c1 ||
        wb->shape[1] != c2 || wb->shape[0] != no || (bias && bias->numel != (size_t)no))
        return ig_shape_fail(g, "linear of a concatenation", a, wa);
    int64_t shape[IG_MAXDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = no;
    ig_tensor *y = ig_t_new(g, a->ndim, shape);
    if (!y) return NULL;
    ig_mm_shape s = ig_mm_plain(1, rows_of(a), no, c1, 0, 1);
    i2ig_status st = ig_k_matmul(g->e, &s, a->data, wa->data, bias ? bias->data : NULL, y->data);
    if (st == I2IG_OK) {
        s = ig_mm_plain(1, rows_of(b), no, c2, 0, 1);
        s.accumulate = 1;
        st = ig_k_matmul(g->e, &s, b->data, wb->data, NULL, y->data);
    }
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    return y;
}

/* ---- batched products ------------------------------------------------------ */

static void bmm_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *a = n->in[0], *b = n->in[1];
    int trans_b = n->p.i[0];
    float alpha = n->p.f[1];
    const float *dc = n->out->grad->data;
    int64_t batch = n->p.l[1], m = n->p.l[2], k = n->p.l[3], nn = n->p.l[4];
    ig_mm_shape s;
    /* da = alpha dc op(b)^T */
    s = ig_mm_plain(batch, m, k, nn, 0, !trans_b);
    s.alpha = alpha;
    mm_into_grad(g, a, s, dc, b->data);
    if (trans_b) {
        s = ig_mm_plain(batch, nn, k, m, 1, 0); /* db = alpha dc^T a */
        s.alpha = alpha;
        mm_into_grad(g, b, s, dc, a->data);
    } else {
        s = ig_mm_plain(batch, k, nn, m, 1, 0); /* db = alpha a^T dc */
        s.alpha = alpha;
        mm_into_grad(g, b, s, a->data, dc);
    }
}

ig_tensor *ig_bmm(ig_graph *g, ig_tensor *a, ig_tensor *b, int trans_b, float alpha)
{
    if (!ig_graph_ok(g, 2, a, b)) return NULL;
    int nd = a->ndim;
    if (nd < 2 || b->ndim != nd) return ig_shape_fail(g, "bmm", a, b);
    int64_t batch = 1;
    for (int i = 0; i < nd - 2; i++) {
        if (a->shape[i] != b->shape[i]) return ig_shape_fail(g, "bmm", a, b);
        batch *= a->shape[i];
    }
    int64_t m = a->shape[nd - 2], k = a->shape[nd - 1];
    int64_t bk = trans_b ? b->shape[nd - 1] : b->shape[nd - 2];
    int64_t nn = trans_b ? b->shape[nd - 2] : b->shape[nd - 1];
    if (bk != k) return ig_shape_fail(g, "bmm", a, b);
    int64_t shape[IG_MAXDIM];
    memcpy(shape, a->shape, sizeof shape);
    shape[nd - 1] = nn;
    ig_tensor *c = ig_t_new(g, nd, shape);
    if (!c) return NULL;
    ig_mm_shape s = ig_mm_plain(batch, m, nn, k, 0, trans_b);
    s.alpha = alpha;
    i2ig_status st = ig_k_matmul(g->e, &s, a->data, b->data, NULL, c->data);
    if (st != I2IG_OK) return ig_op_fail(g, st, c);
    ig_tensor *in[2] = {a, b};
    ig_node *node = ig_record(g, c, bmm_backward, 2, in, 0, NULL);
    if (node) {
        node->p.i[0] = trans_b;
        node->p.f[1] = alpha;
        node->p.l[1] = batch;
        node->p.l[2] = m;
        node->p.l[3] = k;
        node->p.l[4] = nn;
    }
    return c;
}

/* ---- embedding ---------------------------------------------------------------- */

static void embedding_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *table = n->in[0];
    float *dt = ig_grad_buf(g, table);
    if (!dt) return;
    const int *ids = n->extra;
    int64_t d = table->shape[1];
    const float *dy = n->out->grad->data;
    for (int i = 0; i < n->p.i[0]; i++)
        for (int64_t j = 0; j < d; j++) dt[(int64_t)ids[i] * d + j] += dy[(int64_t)i * d + j];
}

ig_tensor *ig_embedding(ig_graph *g, ig_tensor *table, const int *ids, int n)
{
    if (!ig_graph_ok(g, 1, table)) return NULL;
    if (table->ndim != 2 || n < 1) return ig_shape_fail(g, "embedding", table, NULL);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= table->shape[0]) {
            ig_graph_fail(g, ig_fail(I2IG_ERR_UNKNOWN_DOMAIN, "label %d outside 0..%lld", ids[i],
                                     (long long)table->shape[0] - 1));
            return NULL;
        }
    int64_t d = table->shape[1], shape[2] = {n, d};
    ig_tensor *y = ig_t_new(g, 2, shape);
    if (!y) return NULL;
    for (int i = 0; i < n; i++) memcpy(y->data + (int64_t)i * d, table->data + (int64_t)ids[i] * d, (size_t)d * sizeof(float));
    ig_node *node = ig_record(g, y, embedding_backward, 1, &table, 0, NULL);
    if (node) {
        node->p.i[0] = n;
        node->extra = malloc((size_t)n * sizeof(int));
        if (!node->extra) return ig_op_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "embedding"), y);
        memcpy(node->extra, ids, (size_t)n * sizeof(int));
    }
    return y;
}
