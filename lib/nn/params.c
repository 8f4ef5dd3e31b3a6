#include "nn/params.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

void ig_params_init(ig_params *p, ig_engine *e)
{
    memset(p, 0, sizeof *p);
    p->e = e;
}

void ig_params_free(ig_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].name);
        ig_t_release(p->items[i].t);
    }
    free(p->items);
    memset(p, 0, sizeof *p);
}

void ig_params_init_count(ig_params *p)
{
    memset(p, 0, sizeof *p);
    p->count_only = true;
}

ig_tensor *ig_params_add(ig_params *p, int ndim, const int64_t *shape, const char *fmt, ...)
{
    if (p->status != I2IG_OK) return NULL;
    if (p->count_only) {
        uint64_t n = 1;
        for (int i = 0; i < ndim; i++)
            if (shape[i] < 0 || !ig_mul_u64(n, (uint64_t)shape[i], &n)) n = UINT64_MAX;
        if (__builtin_add_overflow(p->counted, n, &p->counted)) p->counted = UINT64_MAX;
        return NULL;
    }
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        ig_param *ni = realloc(p->items, cap * sizeof *ni);
        if (!ni) {
            p->status = ig_fail(I2IG_ERR_OUT_OF_MEMORY, "parameter table");
            return NULL;
        }
        p->items = ni;
        p->cap = cap;
    }
    ig_tensor *t = ig_t_param(p->e, ndim, shape);
    char *nm = malloc(strlen(name) + 1);
    if (!t || !nm) {
        ig_t_release(t);
        free(nm);
        char b[96];
        /* ig_t_param fails on a bad shape or a failed allocation. */
        bool bad_shape = ndim < 1 || ndim > IG_MAXDIM || ig_shape_numel(ndim, shape) == 0;
        p->status = ig_fail(bad_shape ? I2IG_ERR_DIMENSIONS : I2IG_ERR_OUT_OF_MEMORY,
                            "parameter '%s' of shape %s", name, ig_shape_str(b, sizeof b, ndim, shape));
        return NULL;
    }
    strcpy(nm, name);
    p->items[p->n].name = nm;
    p->items[p->n].t = t;
    p->n++;
    return t;
}

long ig_params_find(const ig_params *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->items[i].name, name)) return (long)i;
    return -1;
}

size_t ig_params_numel(const ig_params *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) n += p->items[i].t->numel;
    return n;
}

i2ig_status ig_params_check_stored(uint64_t needed, const i2ig_weights *w, const char *path,
                                   const char *what)
{
    uint64_t stored = 0;
    size_t n = i2ig_weights_tensor_count(w);
    for (size_t i = 0; i < n; i++) {
        i2ig_tensor_info info;
        info.struct_size = sizeof info;
        IG_TRY(i2ig_weights_tensor_info(w, i, &info));
        /* Tensors lie inside the mapped file: this sum cannot overflow. */
        stored += info.nbytes / i2ig_dtype_size(info.dtype);
    }
    /* Slack: a near miss is left to the per-tensor shape checks, whose
     * messages name the tensor; allocation stays within a few times the
     * file size. */
    uint64_t allowed = stored > (UINT64_MAX >> 2) ? UINT64_MAX : 2 * stored + (1u << 20);
    if (needed > allowed)
        return ig_fail(I2IG_ERR_MODEL_MISMATCH,
                       "%s: the %s described by the metadata has %" PRIu64
                       " parameters, but the file stores only %" PRIu64
                       " values: metadata and tensors do not belong together",
                       path, what, needed, stored);
    return I2IG_OK;
}

i2ig_status ig_params_load(ig_params *p, i2ig_weights *w, const char *prefix)
{
    if (p->status != I2IG_OK) return p->status;
    char name[512];
    for (size_t i = 0; i < p->n; i++) {
        ig_tensor *t = p->items[i].t;
        uint64_t shape[IG_MAXDIM];
        for (int d = 0; d < t->ndim; d++) shape[d] = (uint64_t)t->shape[d];
        snprintf(name, sizeof name, "%s%s", prefix, p->items[i].name);
        IG_TRY(i2ig_weights_read_f32(w, name, (uint32_t)t->ndim, shape, t->data));
        t->version++;
    }
    return I2IG_OK;
}

i2ig_status ig_params_save(const ig_params *p, i2ig_weights_writer *wr, const char *prefix,
                           i2ig_dtype dtype)
{
    char name[512];
    for (size_t i = 0; i < p->n; i++) {
        const ig_tensor *t = p->items[i].t;
        uint64_t shape[IG_MAXDIM];
        for (int d = 0; d < t->ndim; d++) shape[d] = (uint64_t)t->shape[d];
        snprintf(name, sizeof name, "%s%s", prefix, p->items[i].name);
        IG_TRY(i2ig_weights_writer_add_tensor(wr, name, dtype, (uint32_t)t->ndim, shape,
                                              I2IG_DTYPE_F32, t->data,
                                              dtype == I2IG_DTYPE_F32 ? I2IG_ADD_BORROW : 0));
    }
    return I2IG_OK;
}

void ig_params_set_requires_grad(ig_params *p, bool on)
{
    for (size_t i = 0; i < p->n; i++) p->items[i].t->requires_grad = on;
}

void ig_params_touch(ig_params *p)
{
    for (size_t i = 0; i < p->n; i++) p->items[i].t->version++;
}
