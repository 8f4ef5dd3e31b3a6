/* Broadcasting element-wise arithmetic, concatenation and strided copies
 * (reductions: cpu_reduce.c). */
#include <string.h>

#include "core/error.h"
#include "kernels/onednn_internal.h"

#define IG_BIN_MAXDIM 6

static i2ig_status dense_md(dnnl_memory_desc_t *md, int ndim, const int64_t *dims)
{
    dnnl_dims_t d, s;
    int64_t stride = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        d[i] = dims[i];
        s[i] = stride;
        stride *= dims[i];
    }
    IG_DNNL(dnnl_memory_desc_init_by_strides(md, ndim, d, dnnl_f32, s), "dense md");
    return I2IG_OK;
}

static i2ig_status check_dims(int ndim, const int64_t *dims, const int64_t *bdims)
{
    if (ndim < 1 || ndim > IG_BIN_MAXDIM)
        return ig_fail(I2IG_ERR_INTERNAL, "binary op with %d dimensions", ndim);
    for (int i = 0; i < ndim; i++)
        if (dims[i] < 1 || (bdims[i] != 1 && bdims[i] != dims[i]))
            return ig_fail(I2IG_ERR_SHAPE, "binary op: dimension %d is %lld, operand has %lld", i,
                           (long long)dims[i], (long long)bdims[i]);
    return I2IG_OK;
}

i2ig_status ig_k_binary(ig_engine *e, ig_binop op, int ndim, const int64_t *dims,
                        const int64_t *bdims, const float *a, const float *b, float *c)
{
    IG_TRY(check_dims(ndim, dims, bdims));
    ig_key key = ig_key_make(IG_PK_BINARY);
    key.k[1] = op;
    key.k[2] = ndim;
    key.k[3] = e->threads;
    for (int i = 0; i < ndim; i++) {
        key.k[4 + i] = dims[i];
        key.k[4 + IG_BIN_MAXDIM + i] = bdims[i];
    }
    ig_prim *p = ig_prim_find(e, &key);
    if (!p) {
        dnnl_memory_desc_t amd, bmd;
        IG_TRY(dense_md(&amd, ndim, dims));
        IG_TRY(dense_md(&bmd, ndim, bdims));
        dnnl_binary_desc_t bd;
        IG_DNNL(dnnl_binary_desc_init(&bd, op == IG_BIN_ADD ? dnnl_binary_add : dnnl_binary_mul,
                                      &amd, &bmd, &amd),
                "binary descriptor");
        const int ids[] = {DNNL_ARG_SRC_0, DNNL_ARG_SRC_1, DNNL_ARG_DST};
        IG_TRY(ig_prim_create(e, &key, &bd, NULL, NULL, 3, ids, &p));
    }
    void *ptrs[] = {(void *)a, (void *)b, c};
    return ig_prim_exec(e, p, ptrs);
}

i2ig_status ig_k_concat_last(ig_engine *e, int64_t rows, int64_t ca, int64_t cb, const float *a,
                             const float *b, float *out)
{
    ig_key key = ig_key_make(IG_PK_CONCAT);
    key.k[1] = rows;
    key.k[2] = ca;
    key.k[3] = cb;
    key.k[4] = e->threads;
    ig_prim *p = ig_prim_find(e, &key);
    if (!p) {
        dnnl_memory_desc_t src[2], dst;
        int64_t da[2] = {rows, ca}, db[2] = {rows, cb}, dd[2] = {rows, ca + cb};
        IG_TRY(dense_md(&src[0], 2, da));
        IG_TRY(dense_md(&src[1], 2, db));
        IG_TRY(dense_md(&dst, 2, dd));
        dnnl_primitive_attr_t attr;
        IG_TRY(ig_attr_create(&attr, 1.0f, 0));
        dnnl_primitive_desc_t pd;
        dnnl_status_t s = dnnl_concat_primitive_desc_create(&pd, &dst, 2, 1, src, attr, e->eng);
        dnnl_primitive_attr_destroy(attr);
        if (s != dnnl_success) return ig_dnnl_fail(s, "concat descriptor");
        const int ids[] = {DNNL_ARG_MULTIPLE_SRC, DNNL_ARG_MULTIPLE_SRC + 1, DNNL_ARG_DST};
        IG_TRY(ig_prim_create_from_pd(e, &key, pd, 3, ids, &p));
    }
    void *ptrs[] = {(void *)a, (void *)b, out};
    return ig_prim_exec(e, p, ptrs);
}

i2ig_status ig_k_copy_strided(ig_engine *e, int ndim, const int64_t *dims, const int64_t *sstrides,
                              const float *src, float *dst)
{
    if (ndim < 1 || ndim > DNNL_MAX_NDIMS) return ig_fail(I2IG_ERR_INTERNAL, "copy of %d dims", ndim);
    dnnl_memory_desc_t smd, dmd;
    dnnl_dims_t d, s;
    for (int i = 0; i < ndim; i++) {
        d[i] = dims[i];
        s[i] = sstrides[i];
    }
    IG_DNNL(dnnl_memory_desc_init_by_strides(&smd, ndim, d, dnnl_f32, s), "strided source");
    IG_TRY(dense_md(&dmd, ndim, dims));
    return ig_reorder(e, &smd, src, &dmd, dst);
}
