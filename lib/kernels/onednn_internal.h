/* Shared by the onednn_*.c files only: the engine internals, the primitive
 * cache and the helpers that turn oneDNN statuses into ours. */
#ifndef IG_KERNELS_ONEDNN_INTERNAL_H
#define IG_KERNELS_ONEDNN_INTERNAL_H

#include <oneapi/dnnl/dnnl.h>

#include "kernels/buffer_plan.h"
#include "kernels/kernels.h"

#define IG_KEY_WORDS 28
#define IG_MAX_ARGS 12

/* Cache key: kind in k[0], then whatever parameters define the primitive.
 * Always built from a zeroed ig_key so that unused words compare equal. */
typedef struct ig_key {
    int64_t k[IG_KEY_WORDS];
} ig_key;

enum ig_prim_kind {
    IG_PK_CONV_FWD = 1,
    IG_PK_CONV_BWD_DATA,
    IG_PK_CONV_BWD_WEIGHTS,
    IG_PK_MATMUL,
    IG_PK_MATMUL_PACKED_B,
    IG_PK_ELTWISE_FWD,
    IG_PK_ELTWISE_BWD,
    IG_PK_LNORM_FWD,
    IG_PK_LNORM_BWD,
    IG_PK_BNORM_FWD,
    IG_PK_BNORM_BWD,
    IG_PK_SOFTMAX_FWD,
    IG_PK_SOFTMAX_BWD,
    IG_PK_POOL_FWD,
    IG_PK_POOL_BWD,
    IG_PK_RESAMPLE_FWD,
    IG_PK_RESAMPLE_BWD,
    IG_PK_BINARY,
    IG_PK_CONCAT,
    IG_PK_REORDER
};

/* One created primitive with its memory objects (re-pointed per call). */
typedef struct ig_prim {
    ig_key key;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    int nargs;
    int arg_ids[IG_MAX_ARGS];
    dnnl_memory_t mem[IG_MAX_ARGS];
    dnnl_memory_t scratch;
    struct ig_prim *next;
} ig_prim;

/* A weight repacked into a primitive's preferred layout. */
typedef struct ig_packed {
    const ig_engine *owner;
    uint64_t uid;
    uint64_t version;
    int variant; /* 0: the weight itself; else a derived weight (ig_pack_derived) */
    dnnl_memory_desc_t md;
    float *data;
    size_t bytes;
    struct ig_packed *next;
} ig_packed;

typedef struct ig_reorder_entry ig_reorder_entry;

typedef struct ig_pool_bucket {
    size_t nfloats;
    float **items;
    size_t count, cap;
} ig_pool_bucket;

struct ig_engine {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    int threads;
    uint64_t created;
    uint64_t next_uid;
    ig_prim **buckets;
    size_t nbuckets;
    ig_packed *packed;
    ig_reorder_entry *reorders;
    void *scratch;
    size_t scratch_bytes;
    ig_pool_bucket *pool;
    size_t npool, pool_cap;
    size_t bytes_in_use, bytes_pooled;
    ig_plan plan;
};

static inline ig_key ig_key_make(int kind)
{
    ig_key k;
    for (int i = 0; i < IG_KEY_WORDS; i++) k.k[i] = 0;
    k.k[0] = kind;
    return k;
}

/* Converts a failing oneDNN status into I2IG_ERR_BACKEND naming the call. */
i2ig_status ig_dnnl_fail(dnnl_status_t s, const char *what);
#define IG_DNNL(call, what)                                                    \
    do {                                                                       \
        dnnl_status_t ig_dnnl_s_ = (call);                                     \
        if (ig_dnnl_s_ != dnnl_success) return ig_dnnl_fail(ig_dnnl_s_, what); \
    } while (0)

/* Looks the key up; NULL if absent. */
ig_prim *ig_prim_find(ig_engine *e, const ig_key *key);
/* Creates and caches a primitive from an op descriptor (op_desc is one of
 * the dnnl_*_desc_t; hint may be NULL). arg_ids lists the execute
 * arguments in the order ig_prim_exec receives their pointers. Uses user
 * scratchpad mode (one engine-owned buffer). */
i2ig_status ig_prim_create(ig_engine *e, const ig_key *key, const void *op_desc,
                           dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint,
                           int nargs, const int *arg_ids, ig_prim **out);
/* Creates and caches a primitive from an already created primitive
 * descriptor (concat, reorder); takes ownership of pd. */
i2ig_status ig_prim_create_from_pd(ig_engine *e, const ig_key *key, dnnl_primitive_desc_t pd,
                                   int nargs, const int *arg_ids, ig_prim **out);
/* Executes with ptrs[i] as the buffer of arg_ids[i]. */
i2ig_status ig_prim_exec(ig_engine *e, ig_prim *p, void *const *ptrs);
/* Memory descriptor the primitive expects for an execute argument. */
const dnnl_memory_desc_t *ig_prim_md(const ig_prim *p, int arg_id);
/* Primitive attribute with user scratchpad (and optional output scale). */
i2ig_status ig_attr_create(dnnl_primitive_attr_t *attr, float out_scale, int sum_post_op);

/* Returns a pointer to w in layout want: w.data itself when user_md already
 * equals want, else a cached copy, repacked whenever w.version changed (one
 * copy per layout: forward and backward primitives may want different ones). */
i2ig_status ig_pack_weights(ig_engine *e, ig_wref w, const dnnl_memory_desc_t *user_md,
                            const dnnl_memory_desc_t *want, const float **out);
/* Writes, in PyTorch order, a weight derived from w (ctx: what it needs). */
typedef void (*ig_derive_fn)(const float *w, float *out, const void *ctx);
/* As ig_pack_weights for a weight derived from w (a convolution's weight
 * flipped and transposed for its input gradient): derive writes it in
 * user_md's layout into a scratch buffer, only when the cached copy is older
 * than w. variant (>= 1) keeps each kind of derived copy apart from w's own
 * packings, whose layouts can coincide. Needs w's plain data. */
i2ig_status ig_pack_derived(ig_engine *e, ig_wref w, int variant, const dnnl_memory_desc_t *user_md,
                            const dnnl_memory_desc_t *want, ig_derive_fn derive, const void *ctx,
                            const float **out);
/* dst(dst_md) = src(src_md), through a cached reorder primitive. */
i2ig_status ig_reorder(ig_engine *e, const dnnl_memory_desc_t *src_md, const void *src,
                       const dnnl_memory_desc_t *dst_md, void *dst);

#endif
