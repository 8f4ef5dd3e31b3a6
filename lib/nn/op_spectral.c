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

/* out[r] = sum over columns c in order of W[r, c] vv[c], for r in [r0, r1);
 * eight rows at a time so that eight independent sums are in flight (one
 * row's sum is a chain of dependent additions). */
IG_CPU_CLONES static void w_times(const float *restrict W, int64_t cols, int64_t r0, int64_t r1,
                                  const double *restrict vv, double *restrict out)
{
    int64_t r = r0;
    for (; r + 8 <= r1; r += 8) {
        double s[8] = {0};
        const float *w = W + r * cols;
        for (int64_t c = 0; c < cols; c++)
            for (int j = 0; j < 8; j++) s[j] += (double)w[j * cols + c] * vv[c];
        for (int j = 0; j < 8; j++) out[r + j] = s[j];
    }
    for (; r < r1; r++) {
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

/* dw += g - k u v^T, rows [r0, r1) */
IG_CPU_CLONES static void spectral_grad(const float *restrict g, const float *restrict u,
                                        const float *restrict v, int64_t r0, int64_t r1,
                                        int64_t cols, double k, float *restrict dw)
{
    for (int64_t r = r0; r < r1; r++)
        for (int64_t c = 0; c < cols; c++) {
            size_t i = (size_t)(r * cols + c);
            dw[i] += (float)(g[i] - k * u[r] * v[c]);
        }
}

/* g -= k u v^T, rows [r0, r1) */
IG_CPU_CLONES static void spectral_fix(float *restrict g, const float *restrict u,
                                       const float *restrict v, int64_t r0, int64_t r1,
                                       int64_t cols, double k)
{
    for (int64_t r = r0; r < r1; r++)
        for (int64_t c = 0; c < cols; c++) {
            size_t i = (size_t)(r * cols + c);
            g[i] = (float)(g[i] - k * u[r] * v[c]);
        }
}

/* sum of a[i] b[i] over [i0, i1), in double (float products are exact) */
IG_CPU_CLONES static double dot_range(const float *restrict a, const float *restrict b, size_t i0,
                                      size_t i1)
{
    double s[8] = {0};
    size_t i = i0;
    for (; i + 8 <= i1; i += 8)
        for (int j = 0; j < 8; j++) s[j] += (double)a[i + j] * b[i + j];
    for (; i < i1; i++) s[0] += (double)a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* <a, b> over n elements: fixed blocks summed in block order, so the value
 * does not depend on the thread count. */
#define IG_DOT_BLOCK 16384
static double dot_blocked(int threads, const float *a, const float *b, size_t n)
{
    size_t nb = (n + IG_DOT_BLOCK - 1) / IG_DOT_BLOCK;
    double part[64];
    double s = 0;
    for (size_t b0 = 0; b0 < nb; b0 += 64) {
        size_t m = nb - b0 < 64 ? nb - b0 : 64;
#pragma omp parallel for schedule(static) num_threads(threads) if (m > 1 && threads > 1)
        for (size_t j = 0; j < m; j++) {
            size_t i0 = (b0 + j) * IG_DOT_BLOCK, i1 = i0 + IG_DOT_BLOCK < n ? i0 + IG_DOT_BLOCK : n;
            part[j] = dot_range(a, b, i0, i1);
        }
        for (size_t j = 0; j < m; j++) s += part[j];
    }
    return s;
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

/* W_sn = W / sigma is used as conv(x / sigma, W): the raw weight keeps
 * its packed copies for the whole step (the discriminator runs six times
 * per step with one weight version but six sigmas), and only the small
 * activation is scaled. The view below carries the rest of the gradient:
 * with G = dL/dW of conv(x / sigma, W) = (dL/dW_sn) / sigma,
 * dL/dW = G - (<G, W> / sigma) u v^T  (u, v held fixed, as PyTorch). */
static void spectral_view_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *w = n->in[0], *gt = n->out->grad;
    if (!w->requires_grad) return;
    int64_t rows = w->shape[0], cols = (int64_t)(w->numel / (size_t)rows);
    const float *u = n->extra, *v = u + rows;
    const int threads = ig_engine_threads(g->e);
    double k = dot_blocked(threads, gt->data, w->data, w->numel) / n->p.d[0];
    /* G becomes dL/dW in place when nothing else holds it; then it is
     * handed over (or added) as is. */
    bool own = ig_t_exclusive(gt);
    float *dst = own ? gt->data : ig_grad_buf(g, w);
    if (!dst) return;
    const float *src = gt->data;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (int t = 0; t < threads; t++) {
        int64_t r0 = rows * t / threads, r1 = rows * (t + 1) / threads;
        if (own) spectral_fix(dst, u, v, r0, r1, cols, k);
        else spectral_grad(src, u, v, r0, r1, cols, k, dst);
    }
    if (own) ig_grad_pass(g, n, w);
}

double ig_spectral_sigma(ig_graph *g, const ig_tensor *w, float *u, float *v, int power_iters,
                         float eps)
{
    if (g->status != I2IG_OK || !w) return 1.0;
    int64_t rows = w->shape[0], cols = (int64_t)(w->numel / (size_t)rows);
    const int threads = ig_engine_threads(g->e);
    double *uu = malloc((size_t)(2 * rows + cols) * sizeof(double));
    if (!uu) {
        ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "spectral norm"));
        return 1.0;
    }
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
    return sigma;
}

ig_tensor *ig_spectral_view(ig_graph *g, ig_tensor *w, double sigma, const float *u,
                            const float *v)
{
    ig_tensor *y = ig_t_detach(g, w);
    if (!y) return NULL;
    int64_t rows = w->shape[0], cols = (int64_t)(w->numel / (size_t)rows);
    ig_node *nd = ig_record(g, y, spectral_view_backward, 1, &w, 0, NULL);
    if (nd) {
        nd->p.d[0] = sigma;
        nd->extra = malloc((size_t)(rows + cols) * sizeof(float));
        if (!nd->extra) return ig_op_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "spectral"), y);
        memcpy(nd->extra, u, (size_t)rows * sizeof(float));
        memcpy((float *)nd->extra + rows, v, (size_t)cols * sizeof(float));
    }
    return y;
}

ig_tensor *ig_spectral_weight(ig_graph *g, ig_tensor *w, float *u, float *v, int power_iters,
                              float eps)
{
    if (!ig_graph_ok(g, 1, w)) return NULL;
    double sigma = ig_spectral_sigma(g, w, u, v, power_iters, eps);
    ig_tensor *view = ig_spectral_view(g, w, sigma, u, v);
    if (!view) return NULL;
    ig_tensor *y = ig_scale(g, view, (float)(1.0 / sigma), 0.0f);
    ig_t_release(view);
    return y;
}
