/* The engine: oneDNN engine and stream, the primitive cache, the packed
 * weights, the scratchpad and the buffer pool of one handle. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "kernels/onednn_internal.h"

#define IG_NBUCKETS 1024

/* Reorders are keyed by their two memory descriptors, which do not fit the
 * fixed-size key: they get their own list, compared with
 * dnnl_memory_desc_equal. */
struct ig_reorder_entry {
    dnnl_memory_desc_t src_md, dst_md;
    ig_prim prim;
    struct ig_reorder_entry *next;
};


i2ig_status ig_dnnl_fail(dnnl_status_t s, const char *what)
{
    const char *name = "error";
    switch (s) {
    case dnnl_out_of_memory: return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "oneDNN: %s: out of memory", what);
    case dnnl_invalid_arguments: name = "invalid arguments"; break;
    case dnnl_unimplemented: name = "unimplemented"; break;
    case dnnl_runtime_error: name = "runtime error"; break;
    default: break;
    }
    return ig_fail(I2IG_ERR_BACKEND, "oneDNN: %s: %s (status %d)", what, name, (int)s);
}

i2ig_status ig_engine_create(int threads, ig_engine **out)
{
    *out = NULL;
    ig_engine *e = calloc(1, sizeof *e);
    if (!e) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "engine: out of memory");
    e->nbuckets = IG_NBUCKETS;
    e->buckets = calloc(IG_NBUCKETS, sizeof *e->buckets);
    if (!e->buckets) {
        free(e);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "engine: out of memory");
    }
    dnnl_status_t s = dnnl_engine_create(&e->eng, dnnl_cpu, 0);
    if (s == dnnl_success) s = dnnl_stream_create(&e->stream, e->eng, dnnl_stream_default_flags);
    if (s != dnnl_success) {
        ig_engine_free(e);
        return ig_dnnl_fail(s, "creating the CPU engine");
    }
    e->threads = threads > 0 ? threads : 1;
    e->next_uid = 1;
    *out = e;
    return I2IG_OK;
}

static void prim_destroy(ig_prim *p)
{
    for (int i = 0; i < p->nargs; i++)
        if (p->mem[i]) dnnl_memory_destroy(p->mem[i]);
    if (p->scratch) dnnl_memory_destroy(p->scratch);
    if (p->prim) dnnl_primitive_destroy(p->prim);
    if (p->pd) dnnl_primitive_desc_destroy(p->pd);
}

void ig_engine_free(ig_engine *e)
{
    if (!e) return;
    if (e->buckets) {
        for (size_t b = 0; b < e->nbuckets; b++) {
            ig_prim *p = e->buckets[b];
            while (p) {
                ig_prim *n = p->next;
                prim_destroy(p);
                free(p);
                p = n;
            }
        }
        ig_reorder_entry *r = e->reorders;
        while (r) {
            ig_reorder_entry *n = r->next;
            prim_destroy(&r->prim);
            free(r);
            r = n;
        }
        free(e->buckets);
    }
    for (ig_packed *p = e->packed; p;) {
        ig_packed *n = p->next;
        ig_free_aligned(p->data);
        free(p);
        p = n;
    }
    ig_engine_trim(e);
    ig_plan_free(&e->plan);
    free(e->pool);
    ig_free_aligned(e->scratch);
    if (e->stream) dnnl_stream_destroy(e->stream);
    if (e->eng) dnnl_engine_destroy(e->eng);
    free(e);
}

void ig_engine_set_threads(ig_engine *e, int threads) { e->threads = threads > 0 ? threads : 1; }
int ig_engine_threads(const ig_engine *e) { return e->threads; }
uint64_t ig_engine_primitives_created(const ig_engine *e) { return e->created; }
uint64_t ig_engine_new_uid(ig_engine *e) { return e->next_uid++; }

void ig_engine_forget_uid(ig_engine *e, uint64_t uid)
{
    ig_packed **pp = &e->packed;
    while (*pp) {
        ig_packed *p = *pp;
        if (p->uid == uid && p->owner == e) {
            *pp = p->next;
            ig_free_aligned(p->data);
            free(p);
        } else {
            pp = &p->next;
        }
    }
}

ig_thread_scope ig_engine_enter(const ig_engine *e)
{
    ig_thread_scope s = {omp_get_max_threads()};
    omp_set_num_threads(e->threads);
    return s;
}

void ig_engine_leave(ig_thread_scope s) { omp_set_num_threads(s.saved); }

/* ---- buffer pool ---------------------------------------------------------- */

float *ig_engine_alloc(ig_engine *e, size_t nfloats)
{
    size_t bytes;
    if (nfloats == 0) nfloats = 1;
    if (!ig_mul_size(nfloats, sizeof(float), &bytes)) return NULL;
    if (ig_plan_serves(&e->plan, bytes)) {
        float *p = ig_plan_alloc(&e->plan, bytes);
        if (p) e->bytes_in_use += bytes;
        return p;
    }
    for (size_t i = 0; i < e->npool; i++) {
        ig_pool_bucket *b = &e->pool[i];
        if (b->nfloats == nfloats && b->count > 0) {
            e->bytes_pooled -= bytes;
            e->bytes_in_use += bytes;
            return b->items[--b->count];
        }
    }
    float *p = ig_alloc_aligned(bytes);
    if (p) e->bytes_in_use += bytes;
    return p;
}

void ig_engine_release(ig_engine *e, float *p, size_t nfloats)
{
    if (!p) return;
    if (nfloats == 0) nfloats = 1;
    size_t bytes = nfloats * sizeof(float);
    e->bytes_in_use -= bytes;
    if (ig_plan_release(&e->plan, p)) return;
    ig_pool_bucket *b = NULL;
    for (size_t i = 0; i < e->npool; i++)
        if (e->pool[i].nfloats == nfloats) b = &e->pool[i];
    if (!b) {
        if (e->npool == e->pool_cap) {
            size_t cap = e->pool_cap ? e->pool_cap * 2 : 32;
            ig_pool_bucket *nb = realloc(e->pool, cap * sizeof *nb);
            if (!nb) {
                ig_free_aligned(p);
                return;
            }
            e->pool = nb;
            e->pool_cap = cap;
        }
        b = &e->pool[e->npool++];
        memset(b, 0, sizeof *b);
        b->nfloats = nfloats;
    }
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4;
        float **ni = realloc(b->items, cap * sizeof *ni);
        if (!ni) {
            ig_free_aligned(p);
            return;
        }
        b->items = ni;
        b->cap = cap;
    }
    b->items[b->count++] = p;
    e->bytes_pooled += bytes;
}

void ig_engine_plan_begin(ig_engine *e)
{
    ig_plan_begin(&e->plan);
    /* A pass about to be recorded maps its own buffers: what the pool still
     * holds from earlier unplanned work would only add to the peak. */
    if (e->plan.mode == IG_PLAN_RECORD) ig_engine_trim(e);
}
void ig_engine_plan_end(ig_engine *e) { ig_plan_end(&e->plan); }

void ig_engine_trim(ig_engine *e)
{
    for (size_t i = 0; i < e->npool; i++) {
        for (size_t j = 0; j < e->pool[i].count; j++) ig_free_aligned(e->pool[i].items[j]);
        free(e->pool[i].items);
    }
    e->npool = 0;
    e->bytes_pooled = 0;
}

size_t ig_engine_bytes_in_use(const ig_engine *e) { return e->bytes_in_use; }
size_t ig_engine_bytes_pooled(const ig_engine *e) { return e->bytes_pooled; }

/* ---- primitive cache -------------------------------------------------------- */

static size_t key_hash(const ig_key *k)
{
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)k->k;
    for (size_t i = 0; i < sizeof k->k; i++) h = (h ^ p[i]) * 1099511628211ull;
    return (size_t)h;
}

ig_prim *ig_prim_find(ig_engine *e, const ig_key *key)
{
    ig_prim *p = e->buckets[key_hash(key) % e->nbuckets];
    for (; p; p = p->next)
        if (!memcmp(p->key.k, key->k, sizeof key->k)) return p;
    return NULL;
}

i2ig_status ig_attr_create(dnnl_primitive_attr_t *attr, float out_scale, int sum_post_op)
{
    IG_DNNL(dnnl_primitive_attr_create(attr), "creating attributes");
    dnnl_status_t s = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && out_scale != 1.0f)
        s = dnnl_primitive_attr_set_output_scales(*attr, 1, 0, &out_scale);
    if (s == dnnl_success && sum_post_op) {
        dnnl_post_ops_t po;
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success) {
            s = dnnl_post_ops_append_sum(po, 1.0f);
            if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(*attr, po);
            dnnl_post_ops_destroy(po);
        }
    }
    if (s != dnnl_success) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
        return ig_dnnl_fail(s, "setting attributes");
    }
    return I2IG_OK;
}

static i2ig_status grow_scratch(ig_engine *e, const dnnl_primitive_desc_t pd)
{
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t need = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (need <= e->scratch_bytes) return I2IG_OK;
    void *n = ig_alloc_aligned(need);
    if (!n) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "oneDNN scratchpad of %zu bytes", need);
    ig_free_aligned(e->scratch);
    e->scratch = n;
    e->scratch_bytes = need;
    return I2IG_OK;
}

static i2ig_status prim_finish(ig_engine *e, ig_prim *p, int nargs, const int *arg_ids)
{
    if (nargs > IG_MAX_ARGS) return ig_fail(I2IG_ERR_INTERNAL, "primitive with %d arguments", nargs);
    i2ig_status st = grow_scratch(e, p->pd);
    if (st != I2IG_OK) return st;
    IG_DNNL(dnnl_primitive_create(&p->prim, p->pd), "creating a primitive");
    e->created++;
    p->nargs = nargs;
    for (int i = 0; i < nargs; i++) {
        p->arg_ids[i] = arg_ids[i];
        const dnnl_memory_desc_t *md =
            dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md, arg_ids[i]);
        if (!md) return ig_fail(I2IG_ERR_INTERNAL, "primitive has no argument %d", arg_ids[i]);
        IG_DNNL(dnnl_memory_create(&p->mem[i], md, e->eng, DNNL_MEMORY_NONE), "memory object");
    }
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0);
    if (smd && dnnl_memory_desc_get_size(smd) > 0)
        IG_DNNL(dnnl_memory_create(&p->scratch, smd, e->eng, DNNL_MEMORY_NONE), "scratchpad");
    return I2IG_OK;
}

static void prim_insert(ig_engine *e, ig_prim *p)
{
    size_t b = key_hash(&p->key) % e->nbuckets;
    p->next = e->buckets[b];
    e->buckets[b] = p;
}

i2ig_status ig_prim_create_from_pd(ig_engine *e, const ig_key *key, dnnl_primitive_desc_t pd,
                                   int nargs, const int *arg_ids, ig_prim **out)
{
    ig_prim *p = calloc(1, sizeof *p);
    if (!p) {
        dnnl_primitive_desc_destroy(pd);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "primitive cache: out of memory");
    }
    p->key = *key;
    p->pd = pd;
    i2ig_status st = prim_finish(e, p, nargs, arg_ids);
    if (st != I2IG_OK) {
        prim_destroy(p);
        free(p);
        return st;
    }
    prim_insert(e, p);
    *out = p;
    return I2IG_OK;
}

i2ig_status ig_prim_create(ig_engine *e, const ig_key *key, const void *op_desc,
                           dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint,
                           int nargs, const int *arg_ids, ig_prim **out)
{
    dnnl_primitive_attr_t own = NULL;
    if (!attr) {
        IG_TRY(ig_attr_create(&own, 1.0f, 0));
        attr = own;
    }
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_primitive_desc_create(&pd, op_desc, attr, e->eng, hint);
    if (own) dnnl_primitive_attr_destroy(own);
    if (s != dnnl_success) return ig_dnnl_fail(s, "creating a primitive descriptor");
    return ig_prim_create_from_pd(e, key, pd, nargs, arg_ids, out);
}

i2ig_status ig_prim_exec(ig_engine *e, ig_prim *p, void *const *ptrs)
{
    dnnl_exec_arg_t args[IG_MAX_ARGS + 1];
    int n = 0;
    for (int i = 0; i < p->nargs; i++) {
        IG_DNNL(dnnl_memory_set_data_handle(p->mem[i], ptrs[i]), "binding a buffer");
        args[n].arg = p->arg_ids[i];
        args[n].memory = p->mem[i];
        n++;
    }
    if (p->scratch) {
        IG_DNNL(dnnl_memory_set_data_handle(p->scratch, e->scratch), "binding the scratchpad");
        args[n].arg = DNNL_ARG_SCRATCHPAD;
        args[n].memory = p->scratch;
        n++;
    }
    IG_DNNL(dnnl_primitive_execute(p->prim, e->stream, n, args), "executing a primitive");
    IG_DNNL(dnnl_stream_wait(e->stream), "waiting for the stream");
    return I2IG_OK;
}

const dnnl_memory_desc_t *ig_prim_md(const ig_prim *p, int arg_id)
{
    return dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md, arg_id);
}

/* ---- reorders and packed weights ------------------------------------------ */

i2ig_status ig_reorder(ig_engine *e, const dnnl_memory_desc_t *src_md, const void *src,
                       const dnnl_memory_desc_t *dst_md, void *dst)
{
    ig_reorder_entry **head = &e->reorders, *r;
    for (r = *head; r; r = r->next)
        if (dnnl_memory_desc_equal(&r->src_md, src_md) && dnnl_memory_desc_equal(&r->dst_md, dst_md))
            break;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "reorder cache: out of memory");
        r->src_md = *src_md;
        r->dst_md = *dst_md;
        dnnl_primitive_attr_t attr;
        i2ig_status st = ig_attr_create(&attr, 1.0f, 0);
        if (st != I2IG_OK) {
            free(r);
            return st;
        }
        dnnl_status_t s = dnnl_reorder_primitive_desc_create(&r->prim.pd, src_md, e->eng, dst_md,
                                                             e->eng, attr);
        dnnl_primitive_attr_destroy(attr);
        if (s != dnnl_success) {
            free(r);
            return ig_dnnl_fail(s, "creating a reorder");
        }
        static const int ids[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
        st = prim_finish(e, &r->prim, 2, ids);
        if (st != I2IG_OK) {
            prim_destroy(&r->prim);
            free(r);
            return st;
        }
        r->next = *head;
        *head = r;
    }
    void *ptrs[2] = {(void *)src, dst};
    return ig_prim_exec(e, &r->prim, ptrs);
}

/* A packed copy of w itself (no derived variant) at its current version, in
 * any layout, or NULL. */
static const ig_packed *current_packed(const ig_engine *e, ig_wref w)
{
    if (!w.uid) return NULL;
    for (const ig_packed *p = e->packed; p; p = p->next)
        if (p->uid == w.uid && p->owner == w.owner && p->version == w.version && !p->variant)
            return p;
    return NULL;
}

int ig_engine_has_packed(const ig_engine *e, ig_wref w) { return current_packed(e, w) != NULL; }

i2ig_status ig_engine_unpack(ig_engine *e, ig_wref w, float *dst)
{
    const ig_packed *p = current_packed(e, w);
    if (!p) return ig_fail(I2IG_ERR_INTERNAL, "weight %llu: no packed copy to restore it from",
                           (unsigned long long)w.uid);
    dnnl_memory_desc_t plain;
    static const dnnl_format_tag_t tags[] = {dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde};
    int nd = p->md.ndims;
    if (nd < 1 || nd > 5) return ig_fail(I2IG_ERR_INTERNAL, "packed weight of %d dimensions", nd);
    IG_DNNL(dnnl_memory_desc_init_by_tag(&plain, nd, p->md.dims, dnnl_f32, tags[nd - 1]),
            "plain weight layout");
    return ig_reorder(e, &p->md, p->data, &plain, dst);
}

static i2ig_status pack(ig_engine *e, ig_wref w, int variant, const dnnl_memory_desc_t *user_md,
                        const dnnl_memory_desc_t *want, ig_derive_fn derive, const void *ctx,
                        const float **out)
{
    /* Without its plain data (an inference handle dropped it once packed),
     * a weight is repacked from the packed copy it has. */
    const ig_packed *from = w.data ? NULL : current_packed(e, w);
    if (!w.data && !from)
        return ig_fail(I2IG_ERR_INTERNAL, "weight %llu has neither plain data nor a packed copy",
                       (unsigned long long)w.uid);
    ig_packed *p;
    for (p = e->packed; p; p = p->next)
        if (p->uid == w.uid && p->owner == w.owner && p->variant == variant &&
            dnnl_memory_desc_equal(&p->md, want))
            break;
    if (p && w.uid && p->version == w.version) {
        *out = p->data;
        return I2IG_OK;
    }
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "packed weights: out of memory");
        p->md = *want;
        p->bytes = dnnl_memory_desc_get_size(want);
        p->data = ig_alloc_aligned(p->bytes);
        if (!p->data) {
            size_t bytes = p->bytes;
            free(p);
            return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "packed weights of %zu bytes", bytes);
        }
        p->uid = w.uid;
        p->owner = w.owner;
        p->variant = variant;
        /* Uncached packings (uid 0) are kept on the list too and overwritten
         * by the next uncached use of the same layout. */
        p->next = e->packed;
        e->packed = p;
    }
    i2ig_status st;
    if (derive) {
        size_t bytes = dnnl_memory_desc_get_size(user_md);
        float *tmp = ig_engine_alloc(e, bytes / sizeof(float));
        if (!tmp) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "packed weights of %zu bytes", bytes);
        derive(w.data, tmp, ctx);
        st = ig_reorder(e, user_md, tmp, want, p->data);
        ig_engine_release(e, tmp, bytes / sizeof(float));
    } else {
        st = from ? ig_reorder(e, &from->md, from->data, want, p->data)
                  : ig_reorder(e, user_md, w.data, want, p->data);
    }
    if (st != I2IG_OK) return st;
    p->version = w.version;
    *out = p->data;
    return I2IG_OK;
}

i2ig_status ig_pack_weights(ig_engine *e, ig_wref w, const dnnl_memory_desc_t *user_md,
                            const dnnl_memory_desc_t *want, const float **out)
{
    if (w.data && dnnl_memory_desc_equal(user_md, want)) {
        *out = w.data;
        return I2IG_OK;
    }
    return pack(e, w, 0, user_md, want, NULL, NULL, out);
}

i2ig_status ig_pack_derived(ig_engine *e, ig_wref w, int variant, const dnnl_memory_desc_t *user_md,
                            const dnnl_memory_desc_t *want, ig_derive_fn derive, const void *ctx,
                            const float **out)
{
    if (!w.data || variant < 1)
        return ig_fail(I2IG_ERR_INTERNAL, "derived packing of weight %llu: %s",
                       (unsigned long long)w.uid, w.data ? "variant 0" : "no plain data");
    return pack(e, w, variant, user_md, want, derive, ctx, out);
}
