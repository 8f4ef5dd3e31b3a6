/* Multi-head attention from matmul + softmax + matmul. Heads are read and
 * written in place through strides (q, k, v stay N,T,H*d), so the only
 * buffer of its own is the N,H,T,S probability matrix. */
#include "core/error.h"
#include "nn/ops.h"

typedef struct attn_dims {
    int64_t n, t, s, h, d;
} attn_dims;

/* A head-strided operand: rows x cols of head j of sample i of a N,R,H*d
 * tensor (cols = d), or of a dense N,H,R,C matrix. */
static void head_operand(const attn_dims *a, int64_t rows, int dense, int64_t cols, int64_t *ld,
                         int64_t *stride)
{
    if (dense) {
        *ld = cols;
        stride[0] = a->h * rows * cols;
        stride[1] = rows * cols;
    } else {
        *ld = a->h * a->d;
        stride[0] = rows * a->h * a->d;
        stride[1] = a->d;
    }
}

/* C = alpha * op(A) op(B) over the N x H heads. X_dense says whether X is a
 * dense N,H,rows,cols matrix or a head slice of an N,rows,H*d tensor;
 * X_rows is the number of stored rows. */
static i2ig_status head_mm(ig_graph *g, const attn_dims *ad, int64_t m, int64_t nn, int64_t k,
                           const float *a, int a_dense, int trans_a, int64_t a_rows,
                           const float *b, int b_dense, int trans_b, int64_t b_rows, float *c,
                           int c_dense, int64_t c_rows, float alpha, int accumulate)
{
    ig_mm_shape s;
    s.batch[0] = ad->n;
    s.batch[1] = ad->h;
    s.m = m;
    s.n = nn;
    s.k = k;
    s.trans_a = trans_a;
    s.trans_b = trans_b;
    head_operand(ad, a_rows, a_dense, trans_a ? m : k, &s.lda, s.sa);
    head_operand(ad, b_rows, b_dense, trans_b ? k : nn, &s.ldb, s.sb);
    head_operand(ad, c_rows, c_dense, nn, &s.ldc, s.sc);
    s.alpha = alpha;
    s.accumulate = accumulate;
    return ig_k_matmul(g->e, &s, a, b, NULL, c);
}

/* Writes into t's gradient (accumulating when it exists). */
static float *grad_target(ig_graph *g, ig_tensor *t, int *accumulate)
{
    if (!t->requires_grad || g->status != I2IG_OK) return NULL;
    *accumulate = t->grad != NULL;
    if (!t->grad && !(t->grad = ig_t_new(g, t->ndim, t->shape))) return NULL;
    return t->grad->data;
}

static void attention_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2], *p = n->saved[0];
    attn_dims ad = {q->shape[0], q->shape[1], k->shape[1], n->p.i[0], q->shape[2] / n->p.i[0]};
    float scale = n->p.f[1];
    const float *dout = n->out->grad->data;
    i2ig_status st = I2IG_OK;
    int acc;
    float *dv = grad_target(g, v, &acc);
    /* dV = P^T dO */
    if (dv) st = head_mm(g, &ad, ad.s, ad.d, ad.t, p->data, 1, 1, ad.t, dout, 0, 0, ad.t, dv, 0,
                         ad.s, 1.0f, acc);
    if (st == I2IG_OK && (q->requires_grad || k->requires_grad)) {
        size_t np = p->numel;
        float *dp = ig_engine_alloc(g->e, np);
        if (!dp) st = ig_fail(I2IG_ERR_OUT_OF_MEMORY, "attention backward");
        /* dP = dO V^T, then through the softmax */
        if (st == I2IG_OK)
            st = head_mm(g, &ad, ad.t, ad.s, ad.d, dout, 0, 0, ad.t, v->data, 0, 1, ad.s, dp, 1,
                         ad.t, 1.0f, 0);
        if (st == I2IG_OK) st = ig_k_softmax_bwd(g->e, ad.n * ad.h * ad.t, ad.s, p->data, dp, dp);
        float *dq = st == I2IG_OK ? grad_target(g, q, &acc) : NULL;
        /* dQ = scale dS K */
        if (dq) st = head_mm(g, &ad, ad.t, ad.d, ad.s, dp, 1, 0, ad.t, k->data, 0, 0, ad.s, dq, 0,
                             ad.t, scale, acc);
        float *dk = st == I2IG_OK ? grad_target(g, k, &acc) : NULL;
        /* dK = scale dS^T Q */
        if (dk) st = head_mm(g, &ad, ad.s, ad.d, ad.t, dp, 1, 1, ad.t, q->data, 0, 0, ad.t, dk, 0,
                             ad.s, scale, acc);
        ig_engine_release(g->e, dp, np);
    }
    if (st != I2IG_OK) ig_graph_fail(g, st);
}

ig_tensor *ig_attention(ig_graph *g, ig_tensor *q, ig_tensor *k, ig_tensor *v, int heads,
                        float scale, const float *key_bias)
{
    if (!ig_graph_ok(g, 3, q, k, v)) return NULL;
    if (q->ndim != 3 || k->ndim != 3 || !ig_same_shape(k, v) || q->shape[0] != k->shape[0] ||
        q->shape[2] != k->shape[2] || heads < 1 || q->shape[2] % heads)
        return ig_shape_fail(g, "attention", q, k);
    attn_dims ad = {q->shape[0], q->shape[1], k->shape[1], heads, q->shape[2] / heads};
    int64_t pshape[4] = {ad.n, ad.h, ad.t, ad.s};
    ig_tensor *p = ig_t_new(g, 4, pshape);
    ig_tensor *out = ig_t_new(g, 3, q->shape);
    i2ig_status st = g->status;
    /* S = scale Q K^T; P = softmax(S); O = P V */
    if (st == I2IG_OK)
        st = head_mm(g, &ad, ad.t, ad.s, ad.d, q->data, 0, 0, ad.t, k->data, 0, 1, ad.s, p->data,
                     1, ad.t, scale, 0);
    if (st == I2IG_OK && key_bias) {
        /* The bias is a constant: the softmax backward needs no change. */
        int64_t dims[4] = {ad.n, ad.h, ad.t, ad.s}, bdims[4] = {ad.n, 1, 1, ad.s};
        st = ig_k_binary(g->e, IG_BIN_ADD, 4, dims, bdims, p->data, key_bias, p->data);
    }
    if (st == I2IG_OK) st = ig_k_softmax_fwd(g->e, ad.n * ad.h * ad.t, ad.s, p->data, p->data);
    if (st == I2IG_OK)
        st = head_mm(g, &ad, ad.t, ad.d, ad.s, p->data, 1, 0, ad.t, v->data, 0, 0, ad.s,
                     out->data, 0, ad.t, 1.0f, 0);
    if (st == I2IG_OK) {
        ig_tensor *in[3] = {q, k, v};
        ig_node *nd = ig_record(g, out, attention_backward, 3, in, 1, &p);
        if (nd) {
            nd->p.i[0] = heads;
            nd->p.f[1] = scale;
        }
    }
    ig_t_release(p);
    if (st != I2IG_OK) return ig_op_fail(g, st, out);
    return out;
}
