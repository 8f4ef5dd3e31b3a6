/* Spectral normalisation of a weight, as torch.nn.utils.spectral_norm
 * (dim 0) computes it in training mode. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/cpu_simd.h"
#include "nn/ops.h"

/* The products with W (768 x 6912 for a discriminator head's k9
 * convolution) run on the engine's threads, each output element summed in
 * the same order as by one thread, so the result does not depend on the
 * thread count. */

/* vv[c] = sum over rows r in order of W[r, c] uu[r], for c in [c0, c1). */
IG_CPU_CLONES static void wt_times(const float *restrict W, int64_t rows, int64_t cols,
                                   int64_t c0, int64_t c1, const double *restrict uu,
                                   double *restrict vv)
{
    for (int64_t c = c0; c < c1; c++) vv[c] = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *row = W + r * cols;
        const double ur = uu[r];
        for (int64_t c = c0; c < c1; c++) vv[c] += (double)row[c] * ur;
    }
}

/* out[r] = sum over columns c in order of W[r, c] vv[c], for r in [r0, r1). */
static void w_times(const float *W, int64_t cols, int64_t r0, int64_t r1, const double *vv,
                    double *out)
{
    for (int64_t r = r0; r < r1; r++) {
        double s = 0;
        for (int64_t c = 0; c < cols; c++) s += (double)W[r * cols + c] * vv[c];
        out[r] = s;
    }
}

static void wt_times_par(int threads, const float *W, int64_t rows, int64_t cols,
                         const double *uu, double *vv)
{
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; t++)
        wt_times(W, rows, cols, cols * t / threads, cols * (t + 1) / threads, uu, vv);
}

static void w_times_par(int threads, const float *W, int64_t rows, int64_t cols,
                        const double *vv, double *out)
{
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; t++)
        w_times(W, cols, rows * t / threads, rows * (t + 1) / threads, vv, out);
}

IG_CPU_CLONES static void scale_into(const float *restrict x, float k, size_t n,
                                     float *restrict y)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] * k;
}

/* dw += dy / sigma - k u v^T */
IG_CPU_CLONES static void spectral_grad(const float *restrict dy, const float *restrict u,
                                        const float *restrict v, int64_t rows, int64_t cols,
                                        double sigma, double k, float *restrict dw)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            size_t i = (size_t)(r * cols + c);
            dw[i] += (float)(dy[i] / sigma - k * u[r] * v[c]);
        }
}

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
    spectral_grad(dy, u, v, rows, cols, sigma, k, dw);
}

ig_tensor *ig_spectral_weight(ig_graph *g, ig_tensor *w, float *u, float *v, int power_iters,
                              float eps)
{
    if (!ig_graph_ok(g, 1, w)) return NULL;
    int64_t rows = w->shape[0], cols = (int64_t)(w->numel / (size_t)rows);
    const int threads = ig_engine_threads(g->e);
    double *uu = malloc((size_t)(2 * rows + cols) * sizeof(double));
    if (!uu) return ig_op_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "spectral norm"), NULL);
    double *vv = uu + rows, *wv = vv + cols;
    for (int64_t i = 0; i < rows; i++) uu[i] = u[i];
    for (int64_t i = 0; i < cols; i++) vv[i] = v[i];
    const float *W = w->data;
    for (int it = 0; it < power_iters; it++) {
        /* v = normalize(W^T u); u = normalize(W v) */
        wt_times_par(threads, W, rows, cols, uu, vv);
        normalize(vv, cols, eps);
        w_times_par(threads, W, rows, cols, vv, uu);
        normalize(uu, rows, eps);
    }
    /* The stored state is float, as PyTorch's buffers are. */
    for (int64_t i = 0; i < rows; i++) u[i] = (float)uu[i];
    for (int64_t i = 0; i < cols; i++) v[i] = (float)vv[i];
    for (int64_t i = 0; i < cols; i++) vv[i] = v[i];
    w_times_par(threads, W, rows, cols, vv, wv);
    double sigma = 0;
    for (int64_t r = 0; r < rows; r++) sigma += (double)u[r] * wv[r];
    free(uu);
    ig_tensor *y = ig_t_new(g, w->ndim, w->shape);
    if (!y) return NULL;
    scale_into(w->data, (float)(1.0 / sigma), w->numel, y->data);
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
