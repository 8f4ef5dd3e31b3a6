/* Queries on an open weight file: tensor table, tensor data (checksum
 * verified on first access), f32 reads with shape checks, typed metadata. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "weights/format.h"
#include "weights/half.h"
#include "weights/weights_impl.h"

static int cmp_key_meta(const void *key, const void *elem)
{
    return strcmp(key, (*(ig_meta *const *)elem)->key);
}
static int cmp_key_tensor(const void *key, const void *elem)
{
    return strcmp(key, (*(ig_tensor *const *)elem)->name);
}

size_t ig_weights_lookup_meta(const i2ig_weights *w, const char *key)
{
    ig_meta **hit = bsearch(key, w->meta_by_key, w->meta_count, sizeof *w->meta_by_key, cmp_key_meta);
    return hit ? (size_t)(*hit - w->meta) : SIZE_MAX;
}

size_t ig_weights_lookup_tensor(const i2ig_weights *w, const char *name)
{
    ig_tensor **hit = bsearch(name, w->tensor_by_name, w->tensor_count, sizeof *w->tensor_by_name,
                              cmp_key_tensor);
    return hit ? (size_t)(*hit - w->tensors) : SIZE_MAX;
}

i2ig_status ig_weights_check_tensor(i2ig_weights *w, size_t i)
{
    ig_tensor *t = &w->tensors[i];
    if (atomic_load_explicit(&t->crc_state, memory_order_acquire) == IG_CRC_OK) return I2IG_OK;
    uint32_t crc = ig_crc32(0, w->map + t->offset, (size_t)t->nbytes);
    if (crc != t->crc32)
        return ig_fail(I2IG_ERR_CHECKSUM,
                       "%s: tensor '%s': checksum mismatch (stored %08" PRIx32 ", computed %08" PRIx32
                       "): the tensor data is corrupt",
                       w->path, t->name, t->crc32, crc);
    atomic_store_explicit(&t->crc_state, IG_CRC_OK, memory_order_release);
    return I2IG_OK;
}

i2ig_status i2ig_weights_verify(i2ig_weights *w)
{
    if (!w) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_verify: weights is NULL");
    for (size_t i = 0; i < w->tensor_count; i++) IG_TRY(ig_weights_check_tensor(w, i));
    return I2IG_OK;
}

uint32_t i2ig_weights_format_version(const i2ig_weights *w) { return w ? w->version : 0; }

size_t i2ig_weights_tensor_count(const i2ig_weights *w) { return w ? w->tensor_count : 0; }

i2ig_status i2ig_weights_tensor_info(const i2ig_weights *w, size_t index, i2ig_tensor_info *info)
{
    if (!w || !info)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_tensor_info: NULL argument");
    /* Version 1 of the struct is the first: there is no smaller one to fill. */
    if (info->struct_size < sizeof *info)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                       "%s: i2ig_weights_tensor_info: struct_size %zu, expected at least %zu",
                       w->path, info->struct_size, sizeof *info);
    if (index >= w->tensor_count)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "%s: tensor index %zu out of range (%zu tensors)",
                       w->path, index, w->tensor_count);
    const ig_tensor *t = &w->tensors[index];
    info->name = t->name;
    info->dtype = t->dtype;
    info->ndim = t->ndim;
    memset(info->shape, 0, sizeof info->shape);
    memcpy(info->shape, t->shape, t->ndim * sizeof t->shape[0]);
    info->offset = t->offset;
    info->nbytes = t->nbytes;
    info->crc32 = t->crc32;
    return I2IG_OK;
}

i2ig_status i2ig_weights_find(const i2ig_weights *w, const char *name, size_t *index)
{
    if (!w || !name || !index)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_find: NULL argument");
    size_t i = ig_weights_lookup_tensor(w, name);
    if (i == SIZE_MAX)
        return ig_fail(I2IG_ERR_MISSING_TENSOR, "%s: no tensor named '%s'", w->path, name);
    *index = i;
    return I2IG_OK;
}

i2ig_status i2ig_weights_tensor_data(i2ig_weights *w, size_t index, const void **data)
{
    if (!w || !data)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_tensor_data: NULL argument");
    if (index >= w->tensor_count)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "%s: tensor index %zu out of range (%zu tensors)",
                       w->path, index, w->tensor_count);
    IG_TRY(ig_weights_check_tensor(w, index));
    *data = w->map + w->tensors[index].offset;
    return I2IG_OK;
}

i2ig_status i2ig_weights_read_f32(i2ig_weights *w, const char *name, uint32_t ndim,
                                  const uint64_t *shape, float *dst)
{
    if (!w || !name || !dst || (ndim && !shape))
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_read_f32: NULL argument");
    size_t i = ig_weights_lookup_tensor(w, name);
    if (i == SIZE_MAX) return ig_fail(I2IG_ERR_MISSING_TENSOR, "%s: no tensor named '%s'", w->path, name);
    const ig_tensor *t = &w->tensors[i];
    bool same = ndim == t->ndim;
    for (uint32_t d = 0; same && d < ndim; d++) same = shape[d] == t->shape[d];
    if (!same) {
        char have[200], want[200];
        ig_format_shape(have, sizeof have, t->ndim, t->shape);
        if (ndim > I2IG_MAX_DIMS) snprintf(want, sizeof want, "(%" PRIu32 " dimensions)", ndim);
        else if (ndim == 0) snprintf(want, sizeof want, "(scalar)");
        else ig_format_shape(want, sizeof want, ndim, shape);
        return ig_fail(I2IG_ERR_SHAPE, "%s: tensor '%s': shape %s expected %s", w->path, name, have,
                       want);
    }
    IG_TRY(ig_weights_check_tensor(w, i));
    const void *src = w->map + t->offset;
    size_t n = (size_t)(t->nbytes / i2ig_dtype_size(t->dtype));
    switch (t->dtype) {
    case I2IG_DTYPE_F32: memcpy(dst, src, (size_t)t->nbytes); break;
    case I2IG_DTYPE_F16: ig_f16_to_f32_n(dst, src, n); break;
    case I2IG_DTYPE_BF16: ig_bf16_to_f32_n(dst, src, n); break;
    default: return ig_fail(I2IG_ERR_INTERNAL, "%s: tensor '%s': dtype escaped validation", w->path, name);
    }
    return I2IG_OK;
}

size_t i2ig_weights_meta_count(const i2ig_weights *w) { return w ? w->meta_count : 0; }

i2ig_status i2ig_weights_meta_entry(const i2ig_weights *w, size_t index, const char **key,
                                    i2ig_meta_type *type)
{
    if (!w) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_meta_entry: weights is NULL");
    if (index >= w->meta_count)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "%s: metadata index %zu out of range (%zu entries)",
                       w->path, index, w->meta_count);
    if (key) *key = w->meta[index].key;
    if (type) *type = w->meta[index].type;
    return I2IG_OK;
}

static const char *meta_type_name(i2ig_meta_type t)
{
    switch (t) {
    case I2IG_META_INT: return "int";
    case I2IG_META_FLOAT: return "float";
    case I2IG_META_STRING: return "string";
    case I2IG_META_INT_ARRAY: return "int array";
    case I2IG_META_FLOAT_ARRAY: return "float array";
    case I2IG_META_STRING_ARRAY: return "string array";
    }
    return "?";
}

/* The entry called key if it has type want; otherwise a METADATA failure. */
static i2ig_status get_meta(const i2ig_weights *w, const char *key, i2ig_meta_type want,
                            const void *out, const ig_meta **m)
{
    if (!w || !key || !out)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_meta_%s: NULL argument",
                       meta_type_name(want));
    size_t i = ig_weights_lookup_meta(w, key);
    if (i == SIZE_MAX)
        return ig_fail(I2IG_ERR_METADATA, "%s: metadata '%s' is absent", w->path, key);
    if (w->meta[i].type != want)
        return ig_fail(I2IG_ERR_METADATA, "%s: metadata '%s' is %s, expected %s", w->path, key,
                       meta_type_name(w->meta[i].type), meta_type_name(want));
    *m = &w->meta[i];
    return I2IG_OK;
}

i2ig_status i2ig_weights_meta_int(const i2ig_weights *w, const char *key, int64_t *value)
{
    const ig_meta *m;
    IG_TRY(get_meta(w, key, I2IG_META_INT, value, &m));
    *value = m->v.i;
    return I2IG_OK;
}

i2ig_status i2ig_weights_meta_float(const i2ig_weights *w, const char *key, double *value)
{
    const ig_meta *m;
    IG_TRY(get_meta(w, key, I2IG_META_FLOAT, value, &m));
    *value = m->v.f;
    return I2IG_OK;
}

i2ig_status i2ig_weights_meta_string(const i2ig_weights *w, const char *key, const char **value)
{
    const ig_meta *m;
    IG_TRY(get_meta(w, key, I2IG_META_STRING, value, &m));
    *value = m->v.s;
    return I2IG_OK;
}

i2ig_status i2ig_weights_meta_int_array(const i2ig_weights *w, const char *key,
                                        const int64_t **values, size_t *count)
{
    const ig_meta *m;
    if (!count) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_meta_int_array: count is NULL");
    IG_TRY(get_meta(w, key, I2IG_META_INT_ARRAY, values, &m));
    *values = m->v.ia;
    *count = m->count;
    return I2IG_OK;
}

i2ig_status i2ig_weights_meta_float_array(const i2ig_weights *w, const char *key,
                                          const double **values, size_t *count)
{
    const ig_meta *m;
    if (!count)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_meta_float_array: count is NULL");
    IG_TRY(get_meta(w, key, I2IG_META_FLOAT_ARRAY, values, &m));
    *values = m->v.fa;
    *count = m->count;
    return I2IG_OK;
}

i2ig_status i2ig_weights_meta_string_array(const i2ig_weights *w, const char *key,
                                           const char *const **values, size_t *count)
{
    const ig_meta *m;
    if (!count)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_meta_string_array: count is NULL");
    IG_TRY(get_meta(w, key, I2IG_META_STRING_ARRAY, values, &m));
    *values = (const char *const *)m->v.sa;
    *count = m->count;
    return I2IG_OK;
}
