/* Convolutions on channels-last activations, weights in PyTorch order
 * repacked into whatever layout oneDNN picks (format_tag_any). */
#include <string.h>

#include "core/error.h"
#include "kernels/onednn_internal.h"

static ig_key conv_key(int kind, const ig_conv_shape *s, int has_bias, int threads)
{
    ig_key k = ig_key_make(kind);
    const int v[] = {s->n, s->h, s->w, s->ci, s->co, s->kh, s->kw, s->sh, s->sw, s->ph, s->pw,
                     has_bias, threads};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) k.k[1 + i] = v[i];
    return k;
}

typedef struct conv_mds {
    dnnl_memory_desc_t src, dst, wplain, wany, bias;
    dnnl_dims_t strides, pad;
} conv_mds;

static i2ig_status conv_mds_init(const ig_conv_shape *s, conv_mds *m)
{
    int oh = ig_conv_out_h(s), ow = ig_conv_out_w(s);
    dnnl_dims_t sd = {s->n, s->ci, s->h, s->w}, dd = {s->n, s->co, oh, ow};
    dnnl_dims_t wd = {s->co, s->ci, s->kh, s->kw}, bd = {s->co};
    IG_DNNL(dnnl_memory_desc_init_by_tag(&m->src, 4, sd, dnnl_f32, dnnl_nhwc), "conv src");
    IG_DNNL(dnnl_memory_desc_init_by_tag(&m->dst, 4, dd, dnnl_f32, dnnl_nhwc), "conv dst");
    IG_DNNL(dnnl_memory_desc_init_by_tag(&m->wplain, 4, wd, dnnl_f32, dnnl_oihw), "conv w");
    IG_DNNL(dnnl_memory_desc_init_by_tag(&m->wany, 4, wd, dnnl_f32, dnnl_format_tag_any), "conv w");
    IG_DNNL(dnnl_memory_desc_init_by_tag(&m->bias, 1, bd, dnnl_f32, dnnl_x), "conv bias");
    m->strides[0] = s->sh;
    m->strides[1] = s->sw;
    m->pad[0] = s->ph;
    m->pad[1] = s->pw;
    return I2IG_OK;
}

/* sum = 1 adds the result to what dst holds (oneDNN's sum post-op). */
static i2ig_status conv_fwd_prim(ig_engine *e, const ig_conv_shape *s, int has_bias, int sum,
                                 ig_prim **out)
{
    ig_key key = conv_key(IG_PK_CONV_FWD, s, has_bias + 2 * sum, e->threads);
    if ((*out = ig_prim_find(e, &key))) return I2IG_OK;
    conv_mds m;
    IG_TRY(conv_mds_init(s, &m));
    dnnl_convolution_desc_t cd;
    IG_DNNL(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
                                               &m.src, &m.wany, has_bias ? &m.bias : NULL, &m.dst,
                                               m.strides, m.pad, m.pad),
            "convolution descriptor");
    const int ids_b[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
    const int ids_nb[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    dnnl_primitive_attr_t attr = NULL;
    if (sum) IG_TRY(ig_attr_create(&attr, 1.0f, 1));
    i2ig_status st = ig_prim_create(e, &key, &cd, attr, NULL, has_bias ? 4 : 3,
                                    has_bias ? ids_b : ids_nb, out);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

static i2ig_status check_shape(const ig_conv_shape *s)
{
    if (s->n < 1 || s->h < 1 || s->w < 1 || s->ci < 1 || s->co < 1 || s->kh < 1 || s->kw < 1 ||
        s->sh < 1 || s->sw < 1 || s->ph < 0 || s->pw < 0 || ig_conv_out_h(s) < 1 ||
        ig_conv_out_w(s) < 1)
        return ig_fail(I2IG_ERR_SHAPE, "convolution: invalid shape %dx%dx%dx%d kernel %dx%d",
                       s->n, s->h, s->w, s->ci, s->kh, s->kw);
    return I2IG_OK;
}

static i2ig_status conv_fwd(ig_engine *e, const ig_conv_shape *s, const float *x, ig_wref w,
                            const float *b, float *y, int sum)
{
    IG_TRY(check_shape(s));
    ig_prim *p;
    IG_TRY(conv_fwd_prim(e, s, b != NULL, sum, &p));
    conv_mds m;
    IG_TRY(conv_mds_init(s, &m));
    const float *wp;
    IG_TRY(ig_pack_weights(e, w, &m.wplain, ig_prim_md(p, DNNL_ARG_WEIGHTS), &wp));
    void *ptrs_b[] = {(void *)x, (void *)wp, (void *)b, y};
    void *ptrs_nb[] = {(void *)x, (void *)wp, y};
    return ig_prim_exec(e, p, b ? ptrs_b : ptrs_nb);
}

i2ig_status ig_k_conv_fwd(ig_engine *e, const ig_conv_shape *s, const float *x, ig_wref w,
                          const float *b, float *y)
{
    return conv_fwd(e, s, x, w, b, y, 0);
}

i2ig_status ig_k_conv_fwd_acc(ig_engine *e, const ig_conv_shape *s, const float *x, ig_wref w,
                              const float *b, float *y)
{
    return conv_fwd(e, s, x, w, b, y, 1);
}

typedef struct flip_ctx {
    const ig_conv_shape *s;
    int threads;
} flip_ctx;

/* wt[i][o][a][b] = w[o][i][kh-1-a][kw-1-b]; redone after every weight update,
 * hence on all threads. */
static void flip_transpose(const float *w, float *wt, const void *ctx)
{
    const flip_ctx *c = ctx;
    const ig_conv_shape *s = c->s;
    const size_t k = (size_t)s->kh * (size_t)s->kw;
#pragma omp parallel for schedule(static) num_threads(c->threads) if (c->threads > 1)
    for (int i = 0; i < s->ci; i++)
        for (int o = 0; o < s->co; o++) {
            const float *src = w + ((size_t)o * (size_t)s->ci + (size_t)i) * k;
            float *dst = wt + ((size_t)i * (size_t)s->co + (size_t)o) * k;
            for (size_t j = 0; j < k; j++) dst[j] = src[k - 1 - j];
        }
}

/* With stride 1 the input gradient is itself a forward convolution: of dy,
 * with the weight flipped and transposed, padded by k - 1 - p. Measured side
 * by side on the generator's 3x3 shapes (tools/bench/bench_layers), oneDNN's
 * forward kernel did this 1.0-1.7x faster than its backward-data kernel
 * (13 % less time over one generator backward), except with a single output
 * channel (dy of one channel: 0.88x), which keeps the backward kernel. */
static i2ig_status bwd_data_as_fwd(ig_engine *e, const ig_conv_shape *s, const float *dy,
                                   ig_wref w, float *dx)
{
    ig_conv_shape t = {s->n, ig_conv_out_h(s), ig_conv_out_w(s), s->co, s->ci, s->kh, s->kw,
                       1, 1, s->kh - 1 - s->ph, s->kw - 1 - s->pw};
    ig_prim *p;
    IG_TRY(conv_fwd_prim(e, &t, 0, 0, &p));
    conv_mds m;
    IG_TRY(conv_mds_init(&t, &m));
    const float *wp;
    flip_ctx fc = {s, e->threads};
    IG_TRY(ig_pack_derived(e, w, 1, &m.wplain, ig_prim_md(p, DNNL_ARG_WEIGHTS), flip_transpose,
                           &fc, &wp));
    void *ptrs[] = {(void *)dy, (void *)wp, dx};
    return ig_prim_exec(e, p, ptrs);
}

i2ig_status ig_k_conv_bwd_data(ig_engine *e, const ig_conv_shape *s, const float *dy, ig_wref w,
                               float *dx)
{
    IG_TRY(check_shape(s));
    if (s->sh == 1 && s->sw == 1 && s->ph < s->kh && s->pw < s->kw && s->co > 1 && w.data)
        return bwd_data_as_fwd(e, s, dy, w, dx);
    ig_key key = conv_key(IG_PK_CONV_BWD_DATA, s, 0, e->threads);
    ig_prim *p = ig_prim_find(e, &key);
    conv_mds m;
    IG_TRY(conv_mds_init(s, &m));
    if (!p) {
        ig_prim *fwd;
        IG_TRY(conv_fwd_prim(e, s, 0, 0, &fwd));
        dnnl_convolution_desc_t cd;
        IG_DNNL(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &m.src,
                                                         &m.wany, &m.dst, m.strides, m.pad, m.pad),
                "convolution backward-data descriptor");
        const int ids[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
        IG_TRY(ig_prim_create(e, &key, &cd, NULL, fwd->pd, 3, ids, &p));
    }
    const float *wp;
    IG_TRY(ig_pack_weights(e, w, &m.wplain, ig_prim_md(p, DNNL_ARG_WEIGHTS), &wp));
    void *ptrs[] = {(void *)dy, (void *)wp, dx};
    return ig_prim_exec(e, p, ptrs);
}

static i2ig_status bwd_weights_prim(ig_engine *e, const ig_conv_shape *s, int has_bias,
                                    ig_prim **out)
{
    IG_TRY(check_shape(s));
    ig_key key = conv_key(IG_PK_CONV_BWD_WEIGHTS, s, has_bias, e->threads);
    if ((*out = ig_prim_find(e, &key))) return I2IG_OK;
    conv_mds m;
    IG_TRY(conv_mds_init(s, &m));
    ig_prim *fwd;
    IG_TRY(conv_fwd_prim(e, s, has_bias, 0, &fwd));
    dnnl_convolution_desc_t cd;
    IG_DNNL(dnnl_convolution_backward_weights_desc_init(
                &cd, dnnl_convolution_direct, &m.src, &m.wany, has_bias ? &m.bias : NULL, &m.dst,
                m.strides, m.pad, m.pad),
            "convolution backward-weights descriptor");
    const int ids_b[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS};
    return ig_prim_create(e, &key, &cd, NULL, fwd->pd, has_bias ? 4 : 3, ids_b, out);
}

static size_t wgrad_floats(const ig_prim *p)
{
    return dnnl_memory_desc_get_size(ig_prim_md(p, DNNL_ARG_DIFF_WEIGHTS)) / sizeof(float);
}

/* dw (in p's layout) and db: written, or added to through a temporary
 * (oneDNN's backward-weights primitive has no accumulating mode). */
static i2ig_status bwd_weights_exec(ig_engine *e, ig_prim *p, const ig_conv_shape *s,
                                    const float *x, const float *dy, float *dw, int acc_w,
                                    float *db, int acc_b)
{
    size_t nw = wgrad_floats(p);
    float *tmp_w = acc_w ? ig_engine_alloc(e, nw) : NULL;
    float *tmp_b = db && acc_b ? ig_engine_alloc(e, (size_t)s->co) : NULL;
    i2ig_status st = I2IG_OK;
    if ((acc_w && !tmp_w) || (db && acc_b && !tmp_b))
        st = ig_fail(I2IG_ERR_OUT_OF_MEMORY, "convolution weight gradient");
    if (st == I2IG_OK) {
        void *ptrs[] = {(void *)x, (void *)dy, tmp_w ? tmp_w : dw, tmp_b ? tmp_b : db};
        st = ig_prim_exec(e, p, ptrs);
    }
    if (st == I2IG_OK && tmp_w) ig_k_add_into(e, nw, dw, tmp_w);
    if (st == I2IG_OK && tmp_b) ig_k_add_into(e, (size_t)s->co, db, tmp_b);
    ig_engine_release(e, tmp_w, nw);
    ig_engine_release(e, tmp_b, (size_t)s->co);
    return st;
}

i2ig_status ig_k_conv_wgrad_size(ig_engine *e, const ig_conv_shape *s, int has_bias,
                                 size_t *nfloats)
{
    ig_prim *p;
    IG_TRY(bwd_weights_prim(e, s, has_bias != 0, &p));
    *nfloats = wgrad_floats(p);
    return I2IG_OK;
}

i2ig_status ig_k_conv_wgrad_same_layout(ig_engine *e, const ig_conv_shape *a, int bias_a,
                                        const ig_conv_shape *b, int bias_b, int *same)
{
    ig_prim *pa, *pb;
    IG_TRY(bwd_weights_prim(e, a, bias_a != 0, &pa));
    IG_TRY(bwd_weights_prim(e, b, bias_b != 0, &pb));
    *same = dnnl_memory_desc_equal(ig_prim_md(pa, DNNL_ARG_DIFF_WEIGHTS),
                                   ig_prim_md(pb, DNNL_ARG_DIFF_WEIGHTS));
    return I2IG_OK;
}

i2ig_status ig_k_conv_bwd_weights_blocked(ig_engine *e, const ig_conv_shape *s, const float *x,
                                          const float *dy, float *dw_blocked, int acc_w,
                                          float *db, int acc_b)
{
    ig_prim *p;
    IG_TRY(bwd_weights_prim(e, s, db != NULL, &p));
    return bwd_weights_exec(e, p, s, x, dy, dw_blocked, acc_w, db, acc_b);
}

i2ig_status ig_k_conv_wgrad_unblock(ig_engine *e, const ig_conv_shape *s, int has_bias,
                                    const float *dw_blocked, float *dw, int accumulate)
{
    ig_prim *p;
    IG_TRY(bwd_weights_prim(e, s, has_bias != 0, &p));
    conv_mds m;
    IG_TRY(conv_mds_init(s, &m));
    const dnnl_memory_desc_t *md = ig_prim_md(p, DNNL_ARG_DIFF_WEIGHTS);
    size_t nw = (size_t)s->co * s->ci * s->kh * s->kw;
    float *target = accumulate ? ig_engine_alloc(e, nw) : dw;
    if (!target) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "convolution weight gradient");
    i2ig_status st = I2IG_OK;
    if (dnnl_memory_desc_equal(md, &m.wplain)) memcpy(target, dw_blocked, nw * sizeof(float));
    else st = ig_reorder(e, md, dw_blocked, &m.wplain, target);
    if (accumulate) {
        if (st == I2IG_OK) ig_k_add_into(e, nw, dw, target);
        ig_engine_release(e, target, nw);
    }
    return st;
}

i2ig_status ig_k_conv_bwd_weights(ig_engine *e, const ig_conv_shape *s, const float *x,
                                  const float *dy, float *dw, float *db, int accumulate)
{
    int has_bias = db != NULL;
    ig_prim *p;
    IG_TRY(bwd_weights_prim(e, s, has_bias, &p));
    conv_mds m;
    IG_TRY(conv_mds_init(s, &m));
    if (!accumulate && dnnl_memory_desc_equal(ig_prim_md(p, DNNL_ARG_DIFF_WEIGHTS), &m.wplain))
        return bwd_weights_exec(e, p, s, x, dy, dw, 0, db, 0);
    size_t nb = wgrad_floats(p);
    float *blk = ig_engine_alloc(e, nb);
    if (!blk) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "convolution weight gradient");
    i2ig_status st = bwd_weights_exec(e, p, s, x, dy, blk, 0, db, accumulate);
    if (st == I2IG_OK) st = ig_k_conv_wgrad_unblock(e, s, has_bias, blk, dw, accumulate);
    ig_engine_release(e, blk, nb);
    return st;
}
