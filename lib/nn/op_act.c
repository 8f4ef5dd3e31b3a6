/* Activations, GEGLU and softmax. */
#include "core/error.h"
#include "nn/ops.h"

static void act_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0];
    ig_gradw gw;
    float *dx = ig_gradw_begin(g, x, &gw);
    if (dx) {
        i2ig_status st = ig_k_act_bwd(g->e, (ig_act)n->p.i[0], n->p.f[1], x->numel, x->data,
                                      n->out->grad->data, dx);
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
    ig_gradw_end(g, &gw);
}

ig_tensor *ig_activation(ig_graph *g, ig_tensor *x, ig_act act, float alpha)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    ig_tensor *y = ig_t_new(g, x->ndim, x->shape);
    if (!y) return NULL;
    i2ig_status st = ig_k_act_fwd(g->e, act, alpha, x->numel, x->data, y->data);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    ig_node *nd = ig_record(g, y, act_backward, 1, &x, 0, NULL);
    if (nd) {
        nd->p.i[0] = act;
        nd->p.f[1] = alpha;
    }
    return y;
}

ig_tensor *ig_geglu(ig_graph *g, ig_tensor *x)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    int64_t c = x->shape[x->ndim - 1];
    if (c % 2) return ig_shape_fail(g, "geglu", x, NULL);
    ig_tensor *a = ig_slice_last(g, x, 0, c / 2);
    ig_tensor *gate = ig_slice_last(g, x, c / 2, c / 2);
    ig_tensor *gg = ig_activation(g, gate, IG_ACT_GELU, 0.0f);
    ig_tensor *y = ig_mul(g, a, gg);
    ig_t_release(a);
    ig_t_release(gate);
    ig_t_release(gg);
    return y;
}

static void softmax_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0], *y = n->saved[0];
    int64_t cols = x->shape[x->ndim - 1], rows = (int64_t)(x->numel / (size_t)cols);
    ig_gradw gw;
    float *dx = ig_gradw_begin(g, x, &gw);
    if (dx) {
        i2ig_status st = ig_k_softmax_bwd(g->e, rows, cols, y->data, n->out->grad->data, dx);
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
    ig_gradw_end(g, &gw);
}

ig_tensor *ig_softmax(ig_graph *g, ig_tensor *x)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    int64_t cols = x->shape[x->ndim - 1], rows = (int64_t)(x->numel / (size_t)cols);
    ig_tensor *y = ig_t_new(g, x->ndim, x->shape);
    if (!y) return NULL;
    i2ig_status st = ig_k_softmax_fwd(g->e, rows, cols, x->data, y->data);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    ig_record(g, y, softmax_backward, 1, &x, 1, &y);
    return y;
}
