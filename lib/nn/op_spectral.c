/* Spectral normalisation of a weight, as torch.nn.utils.spectral_norm
 * (dim 0) computes it in training mode. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ops.h"

/* x /= max(|x|, eps), as F.normalize */
static void normalize(double *x, int64_t n, double eps)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i] * x[i];
    double nrm = sqrt(s);
    if (nrm < eps) nrm = eps;
    for (int64_t i = 0; i < n; i++) x[i] /= nrm;
}

static void spectral_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *w = n->in[0];
    float *dw = ig_grad_buf(g, w);
    if (!dw) return;
    int64_t rows = w->shape[0], cols = (int64_t)(w->numel / (size_t)rows);
    const float *u = n->extra, *v = u + rows, *dy = n->out->grad->data;
    double sigma = n->p.d[0];
    /* y = W / sigma(W) with sigma = u^T W v (u, v fixed):
     * dW = dY / sigma - (<dY, W> / sigma^2) u v^T */
    double dot = 0;
    for (size_t i = 0; i < w->numel; i++) dot += (double)dy[i] * w->data[i];
    double k = dot / (sigma * sigma);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            size_t i = (size_t)(r * cols + c);
            dw[i] += (float)(dy[i] / sigma - k * u[r] * v[c]);
        }
}

ig_tensor *ig_spectral_weight(ig_graph *g, ig_tensor *w, float *u, float *v, int power_iters,
                              float eps)
{
    if (!ig_graph_ok(g, 1, w)) return NULL;
    int64_t rows = w->shape[0], cols = (int64_t)(w->numel / (size_t)rows);
    double *uu = malloc((size_t)(rows + cols) * sizeof(double));
    if (!uu) return ig_op_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "spectral norm"), NULL);
    double *vv = uu + rows;
    for (int64_t i = 0; i < rows; i++) uu[i] = u[i];
    for (int64_t i = 0; i < cols; i++) vv[i] = v[i];
    const float *W = w->data;
    for (int it = 0; it < power_iters; it++) {
        /* v = normalize(W^T u); u = normalize(W v) */
        for (int64_t c = 0; c < cols; c++) vv[c] = 0;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) vv[c] += (double)W[r * cols + c] * uu[r];
        normalize(vv, cols, eps);
        for (int64_t r = 0; r < rows; r++) {
            double s = 0;
            for (int64_t c = 0; c < cols; c++) s += (double)W[r * cols + c] * vv[c];
            uu[r] = s;
        }
        normalize(uu, rows, eps);
    }
    /* The stored state is float, as PyTorch's buffers are. */
    for (int64_t i = 0; i < rows; i++) u[i] = (float)uu[i];
    for (int64_t i = 0; i < cols; i++) v[i] = (float)vv[i];
    double sigma = 0;
    for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        for (int64_t c = 0; c < cols; c++) s += (double)W[r * cols + c] * v[c];
        sigma += (double)u[r] * s;
    }
    free(uu);
    ig_tensor *y = ig_t_new(g, w->ndim, w->shape);
    if (!y) return NULL;
    float inv = (float)(1.0 / sigma);
    for (size_t i = 0; i < w->numel; i++) y->data[i] = w->data[i] * inv;
    ig_node *nd = ig_record(g, y, spectral_backward, 1, &w, 0, NULL);
    if (nd) {
        nd->p.d[0] = sigma;
        nd->extra = malloc((size_t)(rows + cols) * sizeof(float));
        if (!nd->extra) return ig_op_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "spectral"), y);
        memcpy(nd->extra, u, (size_t)rows * sizeof(float));
        memcpy((float *)nd->extra + rows, v, (size_t)cols * sizeof(float));
    }
    return y;
}
