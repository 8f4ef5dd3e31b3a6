/* Element-wise arithmetic with broadcasting, scaling and reductions. */
#include <string.h>

#include "core/error.h"
#include "nn/ops.h"

/* b's shape right-aligned to a's rank, missing dimensions = 1. */
static bool broadcast_dims(const ig_tensor *a, const ig_tensor *b, int64_t *bd)
{
    if (b->ndim > a->ndim) return false;
    int off = a->ndim - b->ndim;
    for (int i = 0; i < a->ndim; i++) {
        bd[i] = i < off ? 1 : b->shape[i - off];
        if (bd[i] != 1 && bd[i] != a->shape[i]) return false;
    }
    return true;
}

static void add_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *a = n->in[0], *b = n->in[1];
    const float *dy = n->out->grad->data;
    if (b->numel == a->numel) { /* no broadcast: b's gradient is dy too */
        ig_grad_add(g, b, dy);
    } else if (b->requires_grad) {
        float *db = ig_grad_buf(g, b);
        if (!db) return;
        int64_t bd[IG_MAXDIM];
        broadcast_dims(a, b, bd);
        i2ig_status st = ig_k_reduce_sum(g->e, a->ndim, a->shape, bd, dy, db, 1);
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
    ig_grad_pass(g, n, a);
}

static void mul_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *a = n->in[0], *b = n->in[1];
    const float *dy = n->out->grad->data;
    int64_t bd[IG_MAXDIM];
    broadcast_dims(a, b, bd);
    float *tmp = (a->requires_grad || b->requires_grad) ? ig_engine_alloc(g->e, a->numel) : NULL;
    if ((a->requires_grad || b->requires_grad) && !tmp) {
        ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "mul backward"));
        return;
    }
    i2ig_status st = I2IG_OK;
    if (a->requires_grad) {
        st = ig_k_binary(g->e, IG_BIN_MUL, a->ndim, a->shape, bd, dy, b->data, tmp);
        if (st == I2IG_OK) ig_grad_add(g, a, tmp);
    }
    float *db = st == I2IG_OK ? ig_grad_buf(g, b) : NULL;
    if (db) {
        for (size_t i = 0; i < a->numel; i++) tmp[i] = dy[i] * a->data[i];
        st = ig_k_reduce_sum(g->e, a->ndim, a->shape, bd, tmp, db, 1);
    }
    ig_engine_release(g->e, tmp, a->numel);
    if (st != I2IG_OK) ig_graph_fail(g, st);
}

static ig_tensor *binary(ig_graph *g, ig_tensor *a, ig_tensor *b, ig_binop op)
{
    if (!ig_graph_ok(g, 2, a, b)) return NULL;
    int64_t bd[IG_MAXDIM];
    if (!broadcast_dims(a, b, bd)) return ig_shape_fail(g, op == IG_BIN_ADD ? "add" : "mul", a, b);
    ig_tensor *y = ig_t_new(g, a->ndim, a->shape);
    if (!y) return NULL;
    i2ig_status st = ig_k_binary(g->e, op, a->ndim, a->shape, bd, a->data, b->data, y->data);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    ig_tensor *in[2] = {a, b};
    ig_record(g, y, op == IG_BIN_ADD ? add_backward : mul_backward, 2, in, 0, NULL);
    return y;
}

ig_tensor *ig_add(ig_graph *g, ig_tensor *a, ig_tensor *b) { return binary(g, a, b, IG_BIN_ADD); }
ig_tensor *ig_mul(ig_graph *g, ig_tensor *a, ig_tensor *b) { return binary(g, a, b, IG_BIN_MUL); }

/* ---- linear combinations ------------------------------------------------------- */

static void scaled_add_into(ig_graph *g, ig_tensor *t, float alpha, const float *dy)
{
    float *d = ig_grad_buf(g, t);
    if (!d) return;
    for (size_t i = 0; i < t->numel; i++) d[i] += alpha * dy[i];
}

static void axpby_backward(ig_graph *g, ig_node *n)
{
    const float *dy = n->out->grad->data;
    scaled_add_into(g, n->in[0], n->p.f[0], dy);
    if (n->nin > 1) scaled_add_into(g, n->in[1], n->p.f[1], dy);
}

ig_tensor *ig_axpby(ig_graph *g, float alpha, ig_tensor *a, float beta, ig_tensor *b)
{
    if (!ig_graph_ok(g, 2, a, b)) return NULL;
    if (a->numel != b->numel) return ig_shape_fail(g, "axpby", a, b);
    ig_tensor *y = ig_t_new(g, a->ndim, a->shape);
    if (!y) return NULL;
    for (size_t i = 0; i < a->numel; i++) y->data[i] = alpha * a->data[i] + beta * b->data[i];
    ig_tensor *in[2] = {a, b};
    ig_node *nd = ig_record(g, y, axpby_backward, 2, in, 0, NULL);
    if (nd) {
        nd->p.f[0] = alpha;
        nd->p.f[1] = beta;
    }
    return y;
}

ig_tensor *ig_scale(ig_graph *g, ig_tensor *x, float alpha, float beta)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    ig_tensor *y = ig_t_new(g, x->ndim, x->shape);
    if (!y) return NULL;
    for (size_t i = 0; i < x->numel; i++) y->data[i] = alpha * x->data[i] + beta;
    ig_node *nd = ig_record(g, y, axpby_backward, 1, &x, 0, NULL);
    if (nd) nd->p.f[0] = alpha;
    return y;
}

/* ---- reductions -------------------------------------------------------------------- */

static void sum_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0];
    float *d = ig_grad_buf(g, x);
    if (!d) return;
    float v = n->out->grad->data[0] * n->p.f[0];
    for (size_t i = 0; i < x->numel; i++) d[i] += v;
}

static ig_tensor *reduce_all(ig_graph *g, ig_tensor *x, int mean)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    int64_t one = 1;
    ig_tensor *y = ig_t_new(g, 1, &one);
    if (!y) return NULL;
    double s = 0;
    for (size_t i = 0; i < x->numel; i++) s += x->data[i];
    float f = mean ? 1.0f / (float)x->numel : 1.0f;
    y->data[0] = (float)(mean ? s / (double)x->numel : s);
    ig_node *nd = ig_record(g, y, sum_backward, 1, &x, 0, NULL);
    if (nd) nd->p.f[0] = f;
    return y;
}

ig_tensor *ig_sum(ig_graph *g, ig_tensor *x) { return reduce_all(g, x, 0); }
ig_tensor *ig_mean(ig_graph *g, ig_tensor *x) { return reduce_all(g, x, 1); }
