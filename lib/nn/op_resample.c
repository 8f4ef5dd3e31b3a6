/* Resolution changes: average pooling, nearest upsampling, and bicubic
 * resizing (with or without antialiasing) as two matrix products. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "nn/ops.h"

/* ---- pooling and nearest upsampling ------------------------------------------- */

static void pool_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0];
    ig_gradw gw;
    float *dx = ig_gradw_begin(g, x, &gw);
    if (dx) {
        int nb = (int)x->shape[0], h = (int)x->shape[1], w = (int)x->shape[2], c = (int)x->shape[3];
        i2ig_status st = n->p.i[0]
                             ? ig_k_upsample2_bwd(g->e, nb, h, w, c, n->out->grad->data, dx)
                             : ig_k_avgpool2_bwd(g->e, nb, h, w, c, n->out->grad->data, dx);
        if (st != I2IG_OK) ig_graph_fail(g, st);
    }
    ig_gradw_end(g, &gw);
}

static ig_tensor *resample2(ig_graph *g, ig_tensor *x, int up)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    if (x->ndim != 4 || (!up && (x->shape[1] % 2 || x->shape[2] % 2)))
        return ig_shape_fail(g, up ? "upsample2" : "avgpool2", x, NULL);
    int nb = (int)x->shape[0], h = (int)x->shape[1], w = (int)x->shape[2], c = (int)x->shape[3];
    int64_t shape[4] = {nb, up ? 2 * h : h / 2, up ? 2 * w : w / 2, c};
    ig_tensor *y = ig_t_new(g, 4, shape);
    if (!y) return NULL;
    i2ig_status st = up ? ig_k_upsample2_fwd(g->e, nb, h, w, c, x->data, y->data)
                        : ig_k_avgpool2_fwd(g->e, nb, h, w, c, x->data, y->data);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    ig_node *nd = ig_record(g, y, pool_backward, 1, &x, 0, NULL);
    if (nd) nd->p.i[0] = up;
    return y;
}

ig_tensor *ig_avgpool2(ig_graph *g, ig_tensor *x) { return resample2(g, x, 0); }
ig_tensor *ig_upsample2(ig_graph *g, ig_tensor *x) { return resample2(g, x, 1); }

/* ---- bicubic resizing ----------------------------------------------------------- */

static double cubic1(double x, double a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
static double cubic2(double x, double a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

static double aa_filter(double x)
{
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return cubic1(x, a);
    if (x < 2) return cubic2(x, a);
    return 0;
}

/* m is out x in, row i = the weights of output sample i. Follows PyTorch
 * 1.13: upsample_bicubic2d (taps clamped to the border) and
 * _upsample_bicubic2d_aa (PIL's filter, support widened by the scale when
 * shrinking, taps outside dropped and the rest renormalised). */
i2ig_status ig_resize_matrix(int in, int out, ig_resize_mode mode, float *m)
{
    if (in < 1 || out < 1) return ig_fail(I2IG_ERR_SHAPE, "resize %d -> %d", in, out);
    memset(m, 0, (size_t)in * (size_t)out * sizeof(float));
    double scale = (double)in / (double)out;
    for (int i = 0; i < out; i++) {
        float *row = m + (size_t)i * (size_t)in;
        if (mode == IG_RESIZE_BICUBIC) {
            double real = scale * (i + 0.5) - 0.5;
            double fl = floor(real), t = real - fl;
            double w[4] = {cubic2(t + 1, -0.75), cubic1(t, -0.75), cubic1(1 - t, -0.75),
                           cubic2(2 - t, -0.75)};
            for (int k = 0; k < 4; k++) {
                long idx = (long)fl - 1 + k;
                if (idx < 0) idx = 0;
                if (idx > in - 1) idx = in - 1;
                row[idx] += (float)w[k];
            }
        } else if (mode == IG_RESIZE_BICUBIC_AA) {
            double support = scale >= 1 ? 2.0 * scale : 2.0;
            double invscale = scale >= 1 ? 1.0 / scale : 1.0;
            double center = scale * (i + 0.5);
            long xmin = (long)(center - support + 0.5);
            if (xmin < 0) xmin = 0;
            long xmax = (long)(center + support + 0.5);
            if (xmax > in) xmax = in;
            double total = 0;
            for (long j = xmin; j < xmax; j++) total += aa_filter((j - center + 0.5) * invscale);
            for (long j = xmin; j < xmax; j++) {
                double w = aa_filter((j - center + 0.5) * invscale);
                row[j] = (float)(total != 0 ? w / total : w);
            }
        } else {
            return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "unknown resize mode %d", (int)mode);
        }
    }
    return I2IG_OK;
}

/* y[n] = Rh x[n] Rw^T, as two products: rows first (x viewed H x W*C), then
 * columns (each output row viewed W x C). */
static i2ig_status resize_apply(ig_graph *g, int adjoint, int64_t nb, int64_t h, int64_t w,
                                int64_t c, int64_t oh, int64_t ow, const float *rh,
                                const float *rw, const float *src, float *dst, int accumulate)
{
    i2ig_status st;
    if (!adjoint) {
        float *tmp = ig_engine_alloc(g->e, (size_t)(nb * oh * w * c));
        if (!tmp) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "resize");
        ig_mm_shape s = ig_mm_plain(nb, oh, w * c, h, 0, 0);
        s.sa[0] = 0;
        st = ig_k_matmul(g->e, &s, rh, src, NULL, tmp);
        if (st == I2IG_OK) {
            s = ig_mm_plain(nb * oh, ow, c, w, 0, 0);
            s.sa[0] = 0;
            s.accumulate = accumulate;
            st = ig_k_matmul(g->e, &s, rw, tmp, NULL, dst);
        }
        ig_engine_release(g->e, tmp, (size_t)(nb * oh * w * c));
        return st;
    }
    /* dx[n] = Rh^T dy[n] Rw */
    float *tmp = ig_engine_alloc(g->e, (size_t)(nb * oh * w * c));
    if (!tmp) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "resize backward");
    ig_mm_shape s = ig_mm_plain(nb * oh, w, c, ow, 1, 0);
    s.sa[0] = 0;
    st = ig_k_matmul(g->e, &s, rw, src, NULL, tmp);
    if (st == I2IG_OK) {
        s = ig_mm_plain(nb, h, w * c, oh, 1, 0);
        s.sa[0] = 0;
        s.accumulate = accumulate;
        st = ig_k_matmul(g->e, &s, rh, tmp, NULL, dst);
    }
    ig_engine_release(g->e, tmp, (size_t)(nb * oh * w * c));
    return st;
}

static void resize_backward(ig_graph *g, ig_node *n)
{
    ig_tensor *x = n->in[0], *y = n->out;
    if (!x->requires_grad) return;
    int acc = x->grad != NULL;
    if (!x->grad && !(x->grad = ig_t_new(g, x->ndim, x->shape))) return;
    i2ig_status st = resize_apply(g, 1, x->shape[0], x->shape[1], x->shape[2], x->shape[3],
                                  y->shape[1], y->shape[2], n->saved[0]->data, n->saved[1]->data,
                                  y->grad->data, x->grad->data, acc);
    if (st != I2IG_OK) ig_graph_fail(g, st);
}

ig_tensor *ig_resize(ig_graph *g, ig_tensor *x, int oh, int ow, ig_resize_mode mode)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    if (x->ndim != 4 || oh < 1 || ow < 1) return ig_shape_fail(g, "resize", x, NULL);
    int64_t h = x->shape[1], w = x->shape[2];
    int64_t sh[2] = {oh, h}, sw[2] = {ow, w};
    ig_tensor *rh = ig_t_new(g, 2, sh), *rw = ig_t_new(g, 2, sw);
    int64_t shape[4] = {x->shape[0], oh, ow, x->shape[3]};
    ig_tensor *y = ig_t_new(g, 4, shape);
    i2ig_status st = g->status;
    if (st == I2IG_OK) st = ig_resize_matrix((int)h, oh, mode, rh->data);
    if (st == I2IG_OK) st = ig_resize_matrix((int)w, ow, mode, rw->data);
    if (st == I2IG_OK)
        st = resize_apply(g, 0, x->shape[0], h, w, x->shape[3], oh, ow, rh->data, rw->data,
                          x->data, y->data, 0);
    if (st == I2IG_OK) {
        ig_tensor *sv[2] = {rh, rw};
        ig_record(g, y, resize_backward, 1, &x, 2, sv);
    }
    ig_t_release(rh);
    ig_t_release(rw);
    if (st != I2IG_OK) return ig_op_fail(g, st, y);
    return y;
}
