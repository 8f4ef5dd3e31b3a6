/* Convolutions: 2-D on channels-last maps; 1-D with circular padding for
 * the discriminator heads (as a 2-D convolution of height 1). */
#include "core/error.h"
#include "nn/ops.h"

static ig_conv_shape conv_shape(const ig_tensor *x, const ig_tensor *w, int stride, int pad)
{
    ig_conv_shape s = {(int)x->shape[0], (int)x->shape[1], (int)x->shape[2], (int)x->shape[3],
                       (int)w->shape[0], (int)w->shape[2], (int)w->shape[3], stride, stride,
                       pad, pad};
    return s;
}

static void conv2d_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0], *w = n->in[1], *b = n->nin > 2 ? n->in[2] : NULL;
    const float *dy = n->out->grad->data;
    ig_conv_shape s = conv_shape(x, w, n->p.i[0], n->p.i[1]);
    ig_gradw gw;
    float *dx = ig_gradw_begin(g, x, &gw);
    if (dx) {
        i2ig_status st = ig_k_conv_bwd_data(g->e, &s, dy, ig_t_wref(w), dx);
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
    ig_gradw_end(g, &gw);
    bool need_w = w->requires_grad, need_b = b && b->requires_grad;
    if (!need_w && !need_b) return;
    if (need_w && !w->node) {
        /* A model's weight: its gradient stays blocked until the walk ends. */
        int acc_w = 0, acc_b = 0;
        float *dwb = ig_grad_blocked(g, w, &s, need_b, &acc_w);
        float *db = need_b ? ig_grad_dest(g, b, &acc_b) : NULL;
        if (dwb && (!need_b || db)) {
            i2ig_status st = ig_k_conv_bwd_weights_blocked(g->e, &s, x->data, dy, dwb, acc_w, db,
                                                           acc_b);
            if (st != I2IG_OK) ig_graph_fail(g, st);
        }
        return;
    }
    /* The kernel writes both or adds to both: make the two agree. */
    int accumulate = (need_w && w->grad) || (need_b && b->grad);
    float *dw, *db = NULL;
    ig_tensor *scratch = NULL;
    if (need_w) {
        dw = accumulate ? ig_grad_buf(g, w) : (w->grad = ig_t_new(g, w->ndim, w->shape)) ? w->grad->data : NULL;
    } else {
        scratch = ig_t_new(g, w->ndim, w->shape);
        dw = scratch ? scratch->data : NULL;
    }
    if (need_b) db = accumulate ? ig_grad_buf(g, b) : (b->grad = ig_t_new(g, b->ndim, b->shape)) ? b->grad->data : NULL;
    if (g->status == I2IG_OK && dw && (!need_b || db)) {
        i2ig_status st = ig_k_conv_bwd_weights(g->e, &s, x->data, dy, dw, db, scratch ? 0 : accumulate);
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
    ig_t_release(scratch);
}

ig_tensor *ig_conv2d(ig_graph *g, ig_tensor *x, ig_tensor *w, ig_tensor *b, int stride, int pad)
{
    if (!ig_graph_ok(g, 2, x, w)) return NULL;
    if (x->ndim != 4 || w->ndim != 4 || x->shape[3] != w->shape[1] ||
        (b && (b->numel != (size_t)w->shape[0])))
        return ig_shape_fail(g, "conv2d", x, w);
    ig_conv_shape s = conv_shape(x, w, stride, pad);
    int64_t shape[4] = {s.n, ig_conv_out_h(&s), ig_conv_out_w(&s), s.co};
    if (shape[1] < 1 || shape[2] < 1) return ig_shape_fail(g, "conv2d", x, w);
    ig_tensor *y = ig_t_new(g, 4, shape);
    if (!y) return NULL;
    i2ig_status st = ig_k_conv_fwd(g->e, &s, x->data, ig_t_wref(w), b ? b->data : NULL, y->data);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    ig_t_drop_plain_if_packed(w);
    ig_tensor *in[3] = {x, w, b};
    ig_node *nd = ig_record(g, y, conv2d_backward, b ? 3 : 2, in, 0, NULL);
    if (nd) {
        nd->p.i[0] = stride;
        nd->p.i[1] = pad;
    }
    return y;
}

ig_tensor *ig_conv1d_circular(ig_graph *g, ig_tensor *x, ig_tensor *w, ig_tensor *b)
{
    if (!ig_graph_ok(g, 2, x, w)) return NULL;
    if (x->ndim != 3 || w->ndim != 3 || x->shape[2] != w->shape[1] || w->shape[2] % 2 == 0)
        return ig_shape_fail(g, "conv1d", x, w);
    int64_t k = w->shape[2];
    if (k == 1) {
        /* A 1x1 convolution over tokens is a linear layer. */
        int64_t w2[2] = {w->shape[0], w->shape[1]};
        ig_tensor *wl = ig_reshape(g, w, 2, w2);
        ig_tensor *y = ig_linear(g, x, wl, b);
        ig_t_release(wl);
        return y;
    }
    ig_tensor *xp = ig_pad_circular(g, x, (int)(k / 2));
    if (!xp) return NULL;
    int64_t x4[4] = {xp->shape[0], 1, xp->shape[1], xp->shape[2]};
    int64_t w4[4] = {w->shape[0], w->shape[1], 1, k};
    ig_tensor *xv = ig_reshape(g, xp, 4, x4), *wv = ig_reshape(g, w, 4, w4);
    ig_tensor *y4 = ig_conv2d(g, xv, wv, b, 1, 0);
    ig_t_release(xp);
    ig_t_release(xv);
    ig_t_release(wv);
    if (!y4) return NULL;
    int64_t y3[3] = {x->shape[0], x->shape[1], w->shape[0]};
    ig_tensor *y = ig_reshape(g, y4, 3, y3);
    ig_t_release(y4);
    return y;
}

bool ig_needs_tape(const ig_graph *g, int n, ig_tensor *const *ts)
{
    if (!g->recording) return false;
    for (int i = 0; i < n; i++)
        if (ts[i] && ts[i]->requires_grad) return true;
    return false;
}

ig_tensor *ig_conv2d_residual(ig_graph *g, ig_tensor *x, ig_tensor *w, ig_tensor *b, int stride,
                              int pad, ig_tensor *res)
{
    if (!ig_graph_ok(g, 3, x, w, res)) {
        ig_t_release(res);
        return NULL;
    }
    ig_tensor *all[4] = {x, w, b, res};
    ig_conv_shape s = conv_shape(x, w, stride, pad);
    bool fits = x->ndim == 4 && w->ndim == 4 && x->shape[3] == w->shape[1] && res->ndim == 4 &&
                res->shape[0] == s.n && res->shape[1] == ig_conv_out_h(&s) &&
                res->shape[2] == ig_conv_out_w(&s) && res->shape[3] == s.co &&
                res->data == res->storage->data;
    if (fits && !ig_needs_tape(g, 4, all) && res->refs == 1 && res->storage->refs == 1) {
        i2ig_status st = ig_k_conv_fwd_acc(g->e, &s, x->data, ig_t_wref(w), b ? b->data : NULL, res->data);
        if (st != I2IG_OK) return ig_op_fail(g, st, res);
        ig_t_drop_plain_if_packed(w);
        return res;
    }
    ig_tensor *y = ig_conv2d(g, x, w, b, stride, pad);
    ig_tensor *sum = ig_add(g, res, y);
    ig_t_release(y);
    ig_t_release(res);
    return sum;
}
