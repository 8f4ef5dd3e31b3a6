/* LayerNorm (ViT, BERT, transformer blocks) and BatchNormLocal
 * (discriminator heads) on oneDNN's normalisation primitives. */
#include <string.h>

#include "core/error.h"
#include "kernels/onednn_internal.h"

static int64_t fbits(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}

/* Adds tmp into acc (n floats) when acc is given. */
static void add_into(float *acc, const float *tmp, int64_t n)
{
    if (!acc) return;
    for (int64_t i = 0; i < n; i++) acc[i] += tmp[i];
}

/* ---- LayerNorm -------------------------------------------------------------- */

static i2ig_status ln_prim(ig_engine *e, int bwd, int64_t rows, int64_t cols, float eps,
                           unsigned flags, ig_prim **out)
{
    ig_key key = ig_key_make(bwd ? IG_PK_LNORM_BWD : IG_PK_LNORM_FWD);
    key.k[1] = rows;
    key.k[2] = cols;
    key.k[3] = fbits(eps);
    key.k[4] = flags;
    key.k[5] = e->threads;
    if ((*out = ig_prim_find(e, &key))) return I2IG_OK;
    dnnl_memory_desc_t data, stat;
    dnnl_dims_t dd = {rows, cols}, sd = {rows};
    IG_DNNL(dnnl_memory_desc_init_by_tag(&data, 2, dd, dnnl_f32, dnnl_ab), "layernorm md");
    IG_DNNL(dnnl_memory_desc_init_by_tag(&stat, 1, sd, dnnl_f32, dnnl_a), "layernorm stats");
    dnnl_layer_normalization_desc_t fd;
    IG_DNNL(dnnl_layer_normalization_forward_desc_init(&fd, dnnl_forward_training, &data, &stat,
                                                       eps, flags),
            "layernorm descriptor");
    if (!bwd) {
        const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_DST,
                           DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
        return ig_prim_create(e, &key, &fd, NULL, NULL, 6, ids, out);
    }
    ig_prim *fwd;
    IG_TRY(ln_prim(e, 0, rows, cols, eps, flags, &fwd));
    dnnl_layer_normalization_desc_t bd;
    IG_DNNL(dnnl_layer_normalization_backward_desc_init(&bd, dnnl_backward, &data, &data, &stat,
                                                        eps, flags),
            "layernorm backward descriptor");
    /* oneDNN 2.6 lists the shift among the backward inputs although the
     * gradient does not depend on it. */
    const int ids[] = {DNNL_ARG_SRC,      DNNL_ARG_DIFF_DST, DNNL_ARG_SCALE,
                       DNNL_ARG_SHIFT,    DNNL_ARG_MEAN,     DNNL_ARG_VARIANCE,
                       DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT};
    return ig_prim_create(e, &key, &bd, NULL, fwd->pd, 9, ids, out);
}

i2ig_status ig_k_layernorm_fwd(ig_engine *e, int64_t rows, int64_t cols, float eps, const float *x,
                               const float *gamma, const float *beta, float *y, float *mean,
                               float *var)
{
    if (!gamma || !beta) return ig_fail(I2IG_ERR_INTERNAL, "layernorm without affine parameters");
    ig_prim *p;
    IG_TRY(ln_prim(e, 0, rows, cols, eps, dnnl_use_scale | dnnl_use_shift, &p));
    void *ptrs[] = {(void *)x, (void *)gamma, (void *)beta, y, mean, var};
    return ig_prim_exec(e, p, ptrs);
}

i2ig_status ig_k_layernorm_bwd(ig_engine *e, int64_t rows, int64_t cols, float eps, const float *x,
                               const float *dy, const float *gamma, const float *beta,
                               const float *mean,
                               const float *var, float *dx, float *dgamma, float *dbeta)
{
    ig_prim *p;
    IG_TRY(ln_prim(e, 1, rows, cols, eps, dnnl_use_scale | dnnl_use_shift, &p));
    float *tmp = ig_engine_alloc(e, (size_t)(2 * cols));
    if (!tmp) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "layernorm backward");
    void *ptrs[] = {(void *)x, (void *)dy, (void *)gamma, (void *)beta, (void *)mean, (void *)var,
                    dx, tmp, tmp + cols};
    i2ig_status st = ig_prim_exec(e, p, ptrs);
    if (st == I2IG_OK) {
        add_into(dgamma, tmp, cols);
        add_into(dbeta, tmp + cols, cols);
    }
    ig_engine_release(e, tmp, (size_t)(2 * cols));
    return st;
}

/* ---- BatchNormLocal: batch normalisation of one sample at a time ---------- */

static i2ig_status bn_prim(ig_engine *e, int bwd, int64_t t, int64_t c, float eps, ig_prim **out)
{
    ig_key key = ig_key_make(bwd ? IG_PK_BNORM_BWD : IG_PK_BNORM_FWD);
    key.k[1] = t;
    key.k[2] = c;
    key.k[3] = fbits(eps);
    key.k[4] = e->threads;
    if ((*out = ig_prim_find(e, &key))) return I2IG_OK;
    /* One sample: N = 1, C channels, T tokens stored token-major, described
     * as 1 x C x 1 x T channels-last: oneDNN 2.6 runs its JIT batch
     * normalisation on that, but the same data described 3-D (nwc) on its
     * reference kernel (about 6x slower at 196 x 768). */
    dnnl_memory_desc_t data;
    dnnl_dims_t dd = {1, c, 1, t};
    IG_DNNL(dnnl_memory_desc_init_by_tag(&data, 4, dd, dnnl_f32, dnnl_nhwc), "batchnorm md");
    unsigned flags = dnnl_use_scale | dnnl_use_shift;
    dnnl_batch_normalization_desc_t fd;
    IG_DNNL(dnnl_batch_normalization_forward_desc_init(&fd, dnnl_forward_training, &data, eps, flags),
            "batchnorm descriptor");
    if (!bwd) {
        const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_DST,
                           DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
        return ig_prim_create(e, &key, &fd, NULL, NULL, 6, ids, out);
    }
    ig_prim *fwd;
    IG_TRY(bn_prim(e, 0, t, c, eps, &fwd));
    dnnl_batch_normalization_desc_t bd;
    IG_DNNL(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &data, &data, eps, flags),
            "batchnorm backward descriptor");
    /* oneDNN 2.6 lists the shift among the backward inputs although the
     * gradient does not depend on it. */
    const int ids[] = {DNNL_ARG_SRC,      DNNL_ARG_DIFF_DST, DNNL_ARG_SCALE,
                       DNNL_ARG_SHIFT,    DNNL_ARG_MEAN,     DNNL_ARG_VARIANCE,
                       DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT};
    return ig_prim_create(e, &key, &bd, NULL, fwd->pd, 9, ids, out);
}

i2ig_status ig_k_bnlocal_fwd(ig_engine *e, int64_t n, int64_t t, int64_t c, float eps,
                             const float *x, const float *gamma, const float *beta, float *y,
                             float *mean, float *var)
{
    ig_prim *p;
    IG_TRY(bn_prim(e, 0, t, c, eps, &p));
    for (int64_t i = 0; i < n; i++) {
        void *ptrs[] = {(void *)(x + i * t * c), (void *)gamma, (void *)beta, y + i * t * c,
                        mean + i * c, var + i * c};
        IG_TRY(ig_prim_exec(e, p, ptrs));
    }
    return I2IG_OK;
}

i2ig_status ig_k_bnlocal_bwd(ig_engine *e, int64_t n, int64_t t, int64_t c, float eps,
                             const float *x, const float *dy, const float *gamma,
                             const float *beta, const float *mean, const float *var, float *dx,
                             float *dgamma, float *dbeta)
{
    ig_prim *p;
    IG_TRY(bn_prim(e, 1, t, c, eps, &p));
    float *tmp = ig_engine_alloc(e, (size_t)(2 * c));
    if (!tmp) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "batchnorm backward");
    i2ig_status st = I2IG_OK;
    for (int64_t i = 0; i < n && st == I2IG_OK; i++) {
        void *ptrs[] = {(void *)(x + i * t * c), (void *)(dy + i * t * c), (void *)gamma,
                        (void *)beta, (void *)(mean + i * c), (void *)(var + i * c),
                        dx + i * t * c, tmp, tmp + c};
        st = ig_prim_exec(e, p, ptrs);
        if (st == I2IG_OK) {
            add_into(dgamma, tmp, c);
            add_into(dbeta, tmp + c, c);
        }
    }
    ig_engine_release(e, tmp, (size_t)(2 * c));
    return st;
}
