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

i2ig_status ig_k_conv_bwd_data(ig_engine *e, const ig_conv_shape *s, const float *dy, ig_wref w,
                               float *dx)
{
    IG_TRY(check_shape(s));
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

i2ig_status ig_k_conv_bwd_weights(ig_engine *e, const ig_conv_shape *s, const float *x,
                                  const float *dy, float *dw, float *db, int accumulate)
{
    IG_TRY(check_shape(s));
    int has_bias = db != NULL;
    ig_key key = conv_key(IG_PK_CONV_BWD_WEIGHTS, s, has_bias, e->threads);
    ig_prim *p = ig_prim_find(e, &key);
    conv_mds m;
    IG_TRY(conv_mds_init(s, &m));
    if (!p) {
        ig_prim *fwd;
        IG_TRY(conv_fwd_prim(e, s, has_bias, 0, &fwd));
        dnnl_convolution_desc_t cd;
        IG_DNNL(dnnl_convolution_backward_weights_desc_init(
                    &cd, dnnl_convolution_direct, &m.src, &m.wany, has_bias ? &m.bias : NULL,
                    &m.dst, m.strides, m.pad, m.pad),
                "convolution backward-weights descriptor");
        const int ids_b[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS,
                             DNNL_ARG_DIFF_BIAS};
        IG_TRY(ig_prim_create(e, &key, &cd, NULL, fwd->pd, has_bias ? 4 : 3, ids_b, &p));
    }
    const dnnl_memory_desc_t *dw_md = ig_prim_md(p, DNNL_ARG_DIFF_WEIGHTS);
    size_t nw = (size_t)s->co * s->ci * s->kh * s->kw;
    int direct = dnnl_memory_desc_equal(dw_md, &m.wplain) && !accumulate;
    float *tmp = NULL, *tmp_plain = NULL, *tmp_b = NULL;
    i2ig_status st = I2IG_OK;
    if (!direct) {
        tmp = ig_engine_alloc(e, dnnl_memory_desc_get_size(dw_md) / sizeof(float));
        tmp_plain = accumulate ? ig_engine_alloc(e, nw) : NULL;
        if (!tmp || (accumulate && !tmp_plain)) st = ig_fail(I2IG_ERR_OUT_OF_MEMORY, "conv grad");
    }
    if (st == I2IG_OK && has_bias && accumulate) {
        tmp_b = ig_engine_alloc(e, (size_t)s->co);
        if (!tmp_b) st = ig_fail(I2IG_ERR_OUT_OF_MEMORY, "conv grad");
    }
    if (st == I2IG_OK) {
        void *ptrs[] = {(void *)x, (void *)dy, direct ? (void *)dw : (void *)tmp,
                        tmp_b ? (void *)tmp_b : (void *)db};
        st = ig_prim_exec(e, p, ptrs);
    }
    if (st == I2IG_OK && !direct) {
        float *target = accumulate ? tmp_plain : dw;
        if (dnnl_memory_desc_equal(dw_md, &m.wplain)) memcpy(target, tmp, nw * sizeof(float));
        else st = ig_reorder(e, dw_md, tmp, &m.wplain, target);
        if (st == I2IG_OK && accumulate) ig_k_add_into(e, nw, dw, tmp_plain);
    }
    if (st == I2IG_OK && tmp_b)
        for (int i = 0; i < s->co; i++) db[i] += tmp_b[i];
    if (tmp) ig_engine_release(e, tmp, dnnl_memory_desc_get_size(dw_md) / sizeof(float));
    ig_engine_release(e, tmp_plain, nw);
    ig_engine_release(e, tmp_b, (size_t)s->co);
    return st;
}
