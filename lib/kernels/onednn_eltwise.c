/* Element-wise activations (GELU-erf, SiLU, leaky ReLU, sigmoid). */
#include "core/error.h"
#include "kernels/onednn_internal.h"

static i2ig_status act_alg(ig_act act, float alpha, dnnl_alg_kind_t *alg, float *a)
{
    switch (act) {
    case IG_ACT_GELU: *alg = dnnl_eltwise_gelu_erf; *a = 0.0f; return I2IG_OK;
    case IG_ACT_SILU: *alg = dnnl_eltwise_swish; *a = 1.0f; return I2IG_OK;
    case IG_ACT_LRELU: *alg = dnnl_eltwise_relu; *a = alpha; return I2IG_OK;
    case IG_ACT_SIGMOID: *alg = dnnl_eltwise_logistic; *a = 0.0f; return I2IG_OK;
    }
    return ig_fail(I2IG_ERR_INTERNAL, "unknown activation %d", (int)act);
}

static i2ig_status act_prim(ig_engine *e, int bwd, ig_act act, float alpha, size_t n, ig_prim **out)
{
    ig_key key = ig_key_make(bwd ? IG_PK_ELTWISE_BWD : IG_PK_ELTWISE_FWD);
    union {
        float f;
        int32_t i;
    } u = {alpha};
    key.k[1] = act;
    key.k[2] = u.i;
    key.k[3] = (int64_t)n;
    key.k[4] = e->threads;
    if ((*out = ig_prim_find(e, &key))) return I2IG_OK;
    dnnl_alg_kind_t alg = dnnl_eltwise_relu;
    float a = 0.0f;
    IG_TRY(act_alg(act, alpha, &alg, &a));
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {(dnnl_dim_t)n};
    IG_DNNL(dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_f32, dnnl_a), "eltwise md");
    dnnl_eltwise_desc_t fd;
    IG_DNNL(dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training, alg, &md, a, 0.0f),
            "eltwise descriptor");
    if (!bwd) {
        const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_DST};
        return ig_prim_create(e, &key, &fd, NULL, NULL, 2, ids, out);
    }
    ig_prim *fwd;
    IG_TRY(act_prim(e, 0, act, alpha, n, &fwd));
    dnnl_eltwise_desc_t bd;
    IG_DNNL(dnnl_eltwise_backward_desc_init(&bd, alg, &md, &md, a, 0.0f), "eltwise backward");
    const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC};
    return ig_prim_create(e, &key, &bd, NULL, fwd->pd, 3, ids, out);
}

i2ig_status ig_k_act_fwd(ig_engine *e, ig_act act, float alpha, size_t n, const float *x, float *y)
{
    ig_prim *p;
    IG_TRY(act_prim(e, 0, act, alpha, n, &p));
    void *ptrs[] = {(void *)x, y};
    return ig_prim_exec(e, p, ptrs);
}

i2ig_status ig_k_act_bwd(ig_engine *e, ig_act act, float alpha, size_t n, const float *x,
                         const float *dy, float *dx)
{
    ig_prim *p;
    IG_TRY(act_prim(e, 1, act, alpha, n, &p));
    void *ptrs[] = {(void *)x, (void *)dy, dx};
    return ig_prim_exec(e, p, ptrs);
}
