/* Softmax over the last dimension (attention probabilities). */
#include "core/error.h"
#include "kernels/onednn_internal.h"

static i2ig_status sm_prim(ig_engine *e, int bwd, int64_t rows, int64_t cols, ig_prim **out)
{
    ig_key key = ig_key_make(bwd ? IG_PK_SOFTMAX_BWD : IG_PK_SOFTMAX_FWD);
    key.k[1] = rows;
    key.k[2] = cols;
    key.k[3] = e->threads;
    if ((*out = ig_prim_find(e, &key))) return I2IG_OK;
    dnnl_memory_desc_t md;
    dnnl_dims_t dd = {rows, cols};
    IG_DNNL(dnnl_memory_desc_init_by_tag(&md, 2, dd, dnnl_f32, dnnl_ab), "softmax md");
    dnnl_softmax_v2_desc_t fd;
    IG_DNNL(dnnl_softmax_v2_forward_desc_init(&fd, dnnl_forward_training, dnnl_softmax_accurate,
                                              &md, &md, 1),
            "softmax descriptor");
    if (!bwd) {
        const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_DST};
        return ig_prim_create(e, &key, &fd, NULL, NULL, 2, ids, out);
    }
    ig_prim *fwd;
    IG_TRY(sm_prim(e, 0, rows, cols, &fwd));
    dnnl_softmax_v2_desc_t bd;
    IG_DNNL(dnnl_softmax_v2_backward_desc_init(&bd, dnnl_softmax_accurate, &md, &md, &md, 1),
            "softmax backward descriptor");
    const int ids[] = {DNNL_ARG_DST, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC};
    return ig_prim_create(e, &key, &bd, NULL, fwd->pd, 3, ids, out);
}

i2ig_status ig_k_softmax_fwd(ig_engine *e, int64_t rows, int64_t cols, const float *x, float *y)
{
    ig_prim *p;
    IG_TRY(sm_prim(e, 0, rows, cols, &p));
    void *ptrs[] = {(void *)x, y};
    return ig_prim_exec(e, p, ptrs);
}

i2ig_status ig_k_softmax_bwd(ig_engine *e, int64_t rows, int64_t cols, const float *y,
                             const float *dy, float *dx)
{
    ig_prim *p;
    IG_TRY(sm_prim(e, 1, rows, cols, &p));
    void *ptrs[] = {(void *)y, (void *)dy, dx};
    return ig_prim_exec(e, p, ptrs);
}
