/* The training losses: L1, MSE (against a tensor or a constant) and the
 * cosine similarity of row vectors. Sums are taken in double so that the
 * scalar matches PyTorch's pairwise float sums to well within 1e-6. */
#include <math.h>

#include "core/error.h"
#include "nn/ops.h"

enum { LOSS_L1 = 1, LOSS_MSE = 2, LOSS_MSE_CONST = 3 };

static void loss_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *a = n->in[0], *b = n->nin > 1 ? n->in[1] : NULL;
    int kind = n->p.i[0];
    float target = n->p.f[1];
    float scale = n->out->grad->data[0] / (float)a->numel;
    float *da = ig_grad_buf(g, a), *db = b ? ig_grad_buf(g, b) : NULL;
    for (size_t i = 0; i < a->numel; i++) {
        float diff = a->data[i] - (b ? b->data[i] : target);
        float d = kind == LOSS_L1 ? (float)((diff > 0) - (diff < 0)) * scale : 2.0f * diff * scale;
        if (da) da[i] += d;
        if (db) db[i] -= d;
    }
}

static ig_tensor *loss(ig_graph *g, ig_tensor *a, ig_tensor *b, int kind, float target)
{
    if (!ig_graph_ok(g, 1, a) || (kind != LOSS_MSE_CONST && !ig_graph_ok(g, 1, b))) return NULL;
    if (b && a->numel != b->numel) return ig_shape_fail(g, "loss", a, b);
    int64_t one = 1;
    ig_tensor *y = ig_t_new(g, 1, &one);
    if (!y) return NULL;
    double s = 0;
    for (size_t i = 0; i < a->numel; i++) {
        double diff = (double)a->data[i] - (b ? b->data[i] : target);
        s += kind == LOSS_L1 ? fabs(diff) : diff * diff;
    }
    y->data[0] = (float)(s / (double)a->numel);
    ig_tensor *in[2] = {a, b};
    ig_node *nd = ig_record(g, y, loss_backward, b ? 2 : 1, in, 0, NULL);
    if (nd) {
        nd->p.i[0] = kind;
        nd->p.f[1] = target;
    }
    return y;
}

ig_tensor *ig_l1_loss(ig_graph *g, ig_tensor *a, ig_tensor *b) { return loss(g, a, b, LOSS_L1, 0); }
ig_tensor *ig_mse_loss(ig_graph *g, ig_tensor *a, ig_tensor *b) { return loss(g, a, b, LOSS_MSE, 0); }
ig_tensor *ig_mse_const(ig_graph *g, ig_tensor *a, float target)
{
    return loss(g, a, NULL, LOSS_MSE_CONST, target);
}

/* ---- cosine similarity of rows ---------------------------------------------------- */

#define COS_EPS 1e-12

static void cos_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *a = n->in[0], *b = n->in[1], *c = n->out;
    int64_t r = a->shape[0], d = (int64_t)(a->numel / (size_t)r);
    float *da = ig_grad_buf(g, a), *db = ig_grad_buf(g, b);
    for (int64_t i = 0; i < r; i++) {
        const float *x = a->data + i * d, *y = b->data + i * d;
        double xx = COS_EPS, yy = COS_EPS;
        for (int64_t j = 0; j < d; j++) {
            xx += (double)x[j] * x[j];
            yy += (double)y[j] * y[j];
        }
        double den = sqrt(xx * yy), cs = c->data[i], gr = c->grad->data[i];
        for (int64_t j = 0; j < d; j++) {
            if (da) da[i * d + j] += (float)(gr * (y[j] / den - cs * x[j] / xx));
            if (db) db[i * d + j] += (float)(gr * (x[j] / den - cs * y[j] / yy));
        }
    }
}

ig_tensor *ig_cos_rows(ig_graph *g, ig_tensor *a, ig_tensor *b)
{
    if (!ig_graph_ok(g, 2, a, b)) return NULL;
    if (a->numel != b->numel || a->shape[0] != b->shape[0]) return ig_shape_fail(g, "cosine", a, b);
    int64_t r = a->shape[0], d = (int64_t)(a->numel / (size_t)r);
    ig_tensor *y = ig_t_new(g, 1, &r);
    if (!y) return NULL;
    for (int64_t i = 0; i < r; i++) {
        const float *x = a->data + i * d, *z = b->data + i * d;
        double xy = 0, xx = COS_EPS, zz = COS_EPS;
        for (int64_t j = 0; j < d; j++) {
            xy += (double)x[j] * z[j];
            xx += (double)x[j] * x[j];
            zz += (double)z[j] * z[j];
        }
        y->data[i] = (float)(xy / sqrt(xx * zz));
    }
    ig_tensor *in[2] = {a, b};
    ig_record(g, y, cos_backward, 2, in, 1, &y);
    return y;
}
