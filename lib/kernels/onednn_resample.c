/* The U-Net's resolution changes: 2x2 average pooling (down) and
 * nearest-neighbour x2 (up), channels-last. */
#include "core/error.h"
#include "kernels/onednn_internal.h"

static i2ig_status mds(int n, int h, int w, int c, int up, dnnl_memory_desc_t *src,
                       dnnl_memory_desc_t *dst)
{
    int oh = up ? 2 * h : h / 2, ow = up ? 2 * w : w / 2;
    dnnl_dims_t sd = {n, c, h, w}, dd = {n, c, oh, ow};
    IG_DNNL(dnnl_memory_desc_init_by_tag(src, 4, sd, dnnl_f32, dnnl_nhwc), "resample src");
    IG_DNNL(dnnl_memory_desc_init_by_tag(dst, 4, dd, dnnl_f32, dnnl_nhwc), "resample dst");
    return I2IG_OK;
}

static i2ig_status pool_prim(ig_engine *e, int bwd, int n, int h, int w, int c, ig_prim **out)
{
    ig_key key = ig_key_make(bwd ? IG_PK_POOL_BWD : IG_PK_POOL_FWD);
    key.k[1] = n; key.k[2] = h; key.k[3] = w; key.k[4] = c; key.k[5] = e->threads;
    if ((*out = ig_prim_find(e, &key))) return I2IG_OK;
    if (h % 2 || w % 2 || h < 2 || w < 2)
        return ig_fail(I2IG_ERR_SHAPE, "average pooling needs even sizes, got %dx%d", h, w);
    dnnl_memory_desc_t src, dst;
    IG_TRY(mds(n, h, w, c, 0, &src, &dst));
    dnnl_dims_t st = {2, 2}, k = {2, 2}, dil = {0, 0}, pad = {0, 0};
    dnnl_pooling_v2_desc_t fd;
    IG_DNNL(dnnl_pooling_v2_forward_desc_init(&fd, dnnl_forward_training,
                                              dnnl_pooling_avg_exclude_padding, &src, &dst, st, k,
                                              dil, pad, pad),
            "pooling descriptor");
    if (!bwd) {
        const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_DST};
        return ig_prim_create(e, &key, &fd, NULL, NULL, 2, ids, out);
    }
    ig_prim *fwd;
    IG_TRY(pool_prim(e, 0, n, h, w, c, &fwd));
    dnnl_pooling_v2_desc_t bd;
    IG_DNNL(dnnl_pooling_v2_backward_desc_init(&bd, dnnl_pooling_avg_exclude_padding, &src, &dst,
                                               st, k, dil, pad, pad),
            "pooling backward descriptor");
    const int ids[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC};
    return ig_prim_create(e, &key, &bd, NULL, fwd->pd, 2, ids, out);
}

static i2ig_status up_prim(ig_engine *e, int bwd, int n, int h, int w, int c, ig_prim **out)
{
    ig_key key = ig_key_make(bwd ? IG_PK_RESAMPLE_BWD : IG_PK_RESAMPLE_FWD);
    key.k[1] = n; key.k[2] = h; key.k[3] = w; key.k[4] = c; key.k[5] = e->threads;
    if ((*out = ig_prim_find(e, &key))) return I2IG_OK;
    dnnl_memory_desc_t src, dst;
    IG_TRY(mds(n, h, w, c, 1, &src, &dst));
    dnnl_resampling_desc_t fd;
    IG_DNNL(dnnl_resampling_forward_desc_init(&fd, dnnl_forward_training, dnnl_resampling_nearest,
                                              NULL, &src, &dst),
            "resampling descriptor");
    if (!bwd) {
        const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_DST};
        return ig_prim_create(e, &key, &fd, NULL, NULL, 2, ids, out);
    }
    ig_prim *fwd;
    IG_TRY(up_prim(e, 0, n, h, w, c, &fwd));
    dnnl_resampling_desc_t bd;
    IG_DNNL(dnnl_resampling_backward_desc_init(&bd, dnnl_resampling_nearest, NULL, &src, &dst),
            "resampling backward descriptor");
    const int ids[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC};
    return ig_prim_create(e, &key, &bd, NULL, fwd->pd, 2, ids, out);
}

i2ig_status ig_k_avgpool2_fwd(ig_engine *e, int n, int h, int w, int c, const float *x, float *y)
{
    ig_prim *p;
    IG_TRY(pool_prim(e, 0, n, h, w, c, &p));
    void *ptrs[] = {(void *)x, y};
    return ig_prim_exec(e, p, ptrs);
}

i2ig_status ig_k_avgpool2_bwd(ig_engine *e, int n, int h, int w, int c, const float *dy, float *dx)
{
    ig_prim *p;
    IG_TRY(pool_prim(e, 1, n, h, w, c, &p));
    void *ptrs[] = {(void *)dy, dx};
    return ig_prim_exec(e, p, ptrs);
}

i2ig_status ig_k_upsample2_fwd(ig_engine *e, int n, int h, int w, int c, const float *x, float *y)
{
    ig_prim *p;
    IG_TRY(up_prim(e, 0, n, h, w, c, &p));
    void *ptrs[] = {(void *)x, y};
    return ig_prim_exec(e, p, ptrs);
}

i2ig_status ig_k_upsample2_bwd(ig_engine *e, int n, int h, int w, int c, const float *dy, float *dx)
{
    ig_prim *p;
    IG_TRY(up_prim(e, 1, n, h, w, c, &p));
    void *ptrs[] = {(void *)dy, dx};
    return ig_prim_exec(e, p, ptrs);
}
