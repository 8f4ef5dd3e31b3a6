/* Batched, strided matrix products on oneDNN's matmul primitive. Linear
 * layers and attention both go through here: transposes and head splits are
 * expressed as strides, so no operand is ever copied or repacked. Weight
 * gradients (A^T B) go to dnnl_sgemm instead (ig_k_matmul_at_b). */
#include <omp.h>
#include <string.h>

#include "core/error.h"
#include "kernels/onednn_internal.h"

ig_mm_shape ig_mm_plain(int64_t batch, int64_t m, int64_t n, int64_t k, int trans_a, int trans_b)
{
    ig_mm_shape s;
    memset(&s, 0, sizeof s);
    s.batch[0] = batch;
    s.batch[1] = 1;
    s.m = m;
    s.n = n;
    s.k = k;
    s.trans_a = trans_a;
    s.trans_b = trans_b;
    s.lda = trans_a ? m : k;
    s.ldb = trans_b ? k : n;
    s.ldc = n;
    s.sa[0] = m * k;
    s.sb[0] = k * n;
    s.sc[0] = m * n;
    s.alpha = 1.0f;
    return s;
}

static int64_t f2bits(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}

/* oneDNN derives the layout from the strides: a size-1 batch dimension with
 * stride 0 makes a plain operand look permuted ("acdb"), and then only the
 * slow reference kernel accepts it. Size-1 dimensions get the stride of a
 * dense outermost dimension instead (their stride never addresses data). */
static void outer_unit_strides(const dnnl_dims_t dims, dnnl_dims_t strides)
{
    for (int d = 1; d >= 0; d--) {
        if (dims[d] != 1) continue;
        int64_t s = 1;
        for (int j = d + 1; j < 4; j++)
            if (strides[j] * dims[j] > s) s = strides[j] * dims[j];
        strides[d] = s;
    }
}

static i2ig_status operand_md(dnnl_memory_desc_t *md, const int64_t *batch, const int64_t *bs,
                              int64_t rows, int64_t cols, int trans, int64_t ld)
{
    /* Logical rows x cols; stored transposed when trans. A batch stride of 0
     * broadcasts the operand: oneDNN wants that dimension to be 1. */
    dnnl_dims_t dims = {bs[0] ? batch[0] : 1, bs[1] ? batch[1] : 1, rows, cols};
    dnnl_dims_t strides = {bs[0], bs[1], trans ? 1 : ld, trans ? ld : 1};
    outer_unit_strides(dims, strides);
    IG_DNNL(dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides), "matmul operand");
    return I2IG_OK;
}

i2ig_status ig_k_matmul(ig_engine *e, const ig_mm_shape *s, const float *a, const float *b,
                        const float *bias, float *c)
{
    if (s->m < 1 || s->n < 1 || s->k < 1 || s->batch[0] < 1 || s->batch[1] < 1)
        return ig_fail(I2IG_ERR_SHAPE, "matmul: invalid shape %lldx%lldx%lld",
                       (long long)s->m, (long long)s->k, (long long)s->n);
    ig_key key = ig_key_make(IG_PK_MATMUL);
    const int64_t v[] = {s->batch[0], s->batch[1], s->m, s->n, s->k, s->trans_a, s->trans_b,
                         s->lda, s->ldb, s->ldc, s->sa[0], s->sa[1], s->sb[0], s->sb[1],
                         s->sc[0], s->sc[1], f2bits(s->alpha), s->accumulate, bias != NULL,
                         e->threads};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) key.k[1 + i] = v[i];
    ig_prim *p = ig_prim_find(e, &key);
    if (!p) {
        dnnl_memory_desc_t amd, bmd, cmd, biasmd;
        IG_TRY(operand_md(&amd, s->batch, s->sa, s->m, s->k, s->trans_a, s->lda));
        IG_TRY(operand_md(&bmd, s->batch, s->sb, s->k, s->n, s->trans_b, s->ldb));
        /* The result always has every batch dimension. */
        dnnl_dims_t cdims = {s->batch[0], s->batch[1], s->m, s->n};
        dnnl_dims_t cstrides = {s->sc[0], s->sc[1], s->ldc, 1};
        outer_unit_strides(cdims, cstrides);
        IG_DNNL(dnnl_memory_desc_init_by_strides(&cmd, 4, cdims, dnnl_f32, cstrides), "matmul dst");
        dnnl_dims_t bdims = {1, 1, 1, s->n};
        IG_DNNL(dnnl_memory_desc_init_by_tag(&biasmd, 4, bdims, dnnl_f32, dnnl_abcd), "matmul bias");
        dnnl_matmul_desc_t md;
        IG_DNNL(dnnl_matmul_desc_init(&md, &amd, &bmd, bias ? &biasmd : NULL, &cmd),
                "matmul descriptor");
        dnnl_primitive_attr_t attr;
        IG_TRY(ig_attr_create(&attr, s->alpha, s->accumulate));
        const int ids_b[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
        const int ids_nb[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
        i2ig_status st = ig_prim_create(e, &key, &md, attr, NULL, bias ? 4 : 3,
                                        bias ? ids_b : ids_nb, &p);
        dnnl_primitive_attr_destroy(attr);
        IG_TRY(st);
    }
    void *ptrs_b[] = {(void *)a, (void *)b, (void *)bias, c};
    void *ptrs_nb[] = {(void *)a, (void *)b, c};
    return ig_prim_exec(e, p, bias ? ptrs_b : ptrs_nb);
}

i2ig_status ig_k_matmul_at_b(ig_engine *e, int64_t m, int64_t n, int64_t k, const float *a,
                             const float *b, int accumulate, float *c)
{
    if (m < 1 || n < 1 || k < 1)
        return ig_fail(I2IG_ERR_SHAPE, "matmul: invalid shape %lldx%lldx%lld", (long long)m,
                       (long long)k, (long long)n);
    /* dnnl_sgemm takes its thread count from OpenMP: hold it to the engine's
     * (results depend on it) whether or not the caller entered the engine. */
    int saved = omp_get_max_threads();
    if (saved != e->threads) omp_set_num_threads(e->threads);
    dnnl_status_t r = dnnl_sgemm('T', 'N', m, n, k, 1.0f, a, m, b, n, accumulate ? 1.0f : 0.0f,
                                 c, n);
    if (saved != e->threads) omp_set_num_threads(saved);
    if (r != dnnl_success)
        return ig_fail(I2IG_ERR_INTERNAL, "sgemm %lldx%lldx%lld failed (oneDNN status %d)",
                       (long long)m, (long long)k, (long long)n, (int)r);
    return I2IG_OK;
}

i2ig_status ig_k_matmul_packed_b(ig_engine *e, int64_t m, int64_t n, int64_t k, const float *a,
                                 ig_wref b, int accumulate, float *c)
{
    if (m < 1 || n < 1 || k < 1)
        return ig_fail(I2IG_ERR_SHAPE, "matmul: invalid shape %lldx%lldx%lld", (long long)m,
                       (long long)k, (long long)n);
    ig_key key = ig_key_make(IG_PK_MATMUL_PACKED_B);
    const int64_t v[] = {m, n, k, accumulate, e->threads};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) key.k[1 + i] = v[i];
    dnnl_memory_desc_t amd, bplain, bany, cmd;
    dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n};
    IG_DNNL(dnnl_memory_desc_init_by_tag(&amd, 2, ad, dnnl_f32, dnnl_ab), "matmul src");
    IG_DNNL(dnnl_memory_desc_init_by_tag(&bplain, 2, bd, dnnl_f32, dnnl_ab), "matmul weights");
    IG_DNNL(dnnl_memory_desc_init_by_tag(&bany, 2, bd, dnnl_f32, dnnl_format_tag_any),
            "matmul weights");
    IG_DNNL(dnnl_memory_desc_init_by_tag(&cmd, 2, cd, dnnl_f32, dnnl_ab), "matmul dst");
    ig_prim *p = ig_prim_find(e, &key);
    if (!p) {
        dnnl_matmul_desc_t md;
        IG_DNNL(dnnl_matmul_desc_init(&md, &amd, &bany, NULL, &cmd), "matmul descriptor");
        dnnl_primitive_attr_t attr;
        IG_TRY(ig_attr_create(&attr, 1.0f, accumulate));
        const int ids[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
        i2ig_status st = ig_prim_create(e, &key, &md, attr, NULL, 3, ids, &p);
        dnnl_primitive_attr_destroy(attr);
        IG_TRY(st);
    }
    const float *bp;
    IG_TRY(ig_pack_weights(e, b, &bplain, ig_prim_md(p, DNNL_ARG_WEIGHTS), &bp));
    void *ptrs[] = {(void *)a, (void *)bp, c};
    return ig_prim_exec(e, p, ptrs);
}

i2ig_status ig_k_sgemm(ig_engine *e, int64_t n, const float *a, const float *b, float *c)
{
    (void)e;
    IG_DNNL(dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c, n), "sgemm");
    return I2IG_OK;
}
