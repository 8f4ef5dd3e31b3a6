/* Writing weight files in the canonical layout (docs/weight-format.md):
 * metadata and tensors in insertion order, alignment 64, minimal aligned
 * offsets, zero padding. The same content therefore always gives the same
 * bytes, whichever writer (this one or the Python one) produced them.
 *
 * Tensor data is streamed: the header and index are written as zeros
 * first, the tensors are converted and checksummed chunk by chunk as they
 * go out, and the real header and index are written over the zeros at the
 * end, all inside an atomic temporary file. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/mem.h"
#include "weights/format.h"
#include "weights/half.h"
#include "weights/weights_impl.h"

typedef struct wtensor {
    char *name;
    i2ig_dtype store;
    i2ig_dtype src; /* dtype of data (== store once copied) */
    uint32_t ndim;
    uint64_t shape[I2IG_MAX_DIMS];
    uint64_t count;
    uint64_t nbytes; /* stored size */
    const void *data;
    void *owned;
} wtensor;

struct i2ig_weights_writer {
    ig_meta *meta;
    size_t nmeta, cap_meta;
    wtensor *t;
    size_t nt, cap_t;
};

i2ig_status i2ig_weights_writer_create(i2ig_weights_writer **out)
{
    if (!out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_writer_create: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "weights writer: out of memory");
    return I2IG_OK;
}

void i2ig_weights_writer_free(i2ig_weights_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->nmeta; i++) ig_meta_clear(&w->meta[i]);
    for (size_t i = 0; i < w->nt; i++) {
        free(w->t[i].name);
        free(w->t[i].owned);
    }
    free(w->meta);
    free(w->t);
    free(w);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static i2ig_status check_name(const char *name, const char *what)
{
    if (!name) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "weights writer: %s is NULL", what);
    size_t n = strlen(name);
    if (n == 0) return ig_fail(I2IG_ERR_METADATA, "weights writer: empty %s", what);
    if (n > UINT32_MAX)
        return ig_fail(I2IG_ERR_METADATA, "weights writer: %s longer than 4 GiB", what);
    if (!ig_utf8_valid(name, n))
        return ig_fail(I2IG_ERR_METADATA, "weights writer: %s is not valid UTF-8", what);
    return I2IG_OK;
}

/* Makes room for one more element in a growing array. */
static bool grow(void **arr, size_t *cap, size_t used, size_t elem)
{
    if (used < *cap) return true;
    size_t ncap = *cap ? *cap * 2 : 16, bytes;
    if (!ig_mul_size(ncap, elem, &bytes)) return false;
    void *p = realloc(*arr, bytes);
    if (!p) return false;
    *arr = p;
    *cap = ncap;
    return true;
}

/* Validates key and reserves its slot; the caller fills the value and
 * then bumps nmeta. */
static i2ig_status begin_meta(i2ig_weights_writer *w, const char *key, ig_meta **slot)
{
    if (!w) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "weights writer: writer is NULL");
    IG_TRY(check_name(key, "metadata key"));
    for (size_t i = 0; i < w->nmeta; i++)
        if (!strcmp(w->meta[i].key, key))
            return ig_fail(I2IG_ERR_DUPLICATE, "weights writer: metadata key '%s' is already set", key);
    if (w->nmeta >= UINT32_MAX)
        return ig_fail(I2IG_ERR_TOO_LARGE, "weights writer: too many metadata entries");
    if (!grow((void **)&w->meta, &w->cap_meta, w->nmeta, sizeof *w->meta))
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "weights writer: out of memory");
    ig_meta *m = &w->meta[w->nmeta];
    memset(m, 0, sizeof *m);
    m->key = dup_str(key);
    if (!m->key) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "weights writer: out of memory");
    *slot = m;
    return I2IG_OK;
}

static i2ig_status commit_meta(i2ig_weights_writer *w, ig_meta *m, i2ig_status st)
{
    if (st != I2IG_OK) {
        ig_meta_clear(m);
        memset(m, 0, sizeof *m);
        return st;
    }
    w->nmeta++;
    return I2IG_OK;
}

i2ig_status i2ig_weights_writer_set_int(i2ig_weights_writer *w, const char *key, int64_t value)
{
    ig_meta *m;
    IG_TRY(begin_meta(w, key, &m));
    m->type = I2IG_META_INT;
    m->v.i = value;
    return commit_meta(w, m, I2IG_OK);
}

i2ig_status i2ig_weights_writer_set_float(i2ig_weights_writer *w, const char *key, double value)
{
    ig_meta *m;
    IG_TRY(begin_meta(w, key, &m));
    m->type = I2IG_META_FLOAT;
    m->v.f = value;
    return commit_meta(w, m, I2IG_OK);
}

static i2ig_status copy_text(const char *key, const char *value, size_t index, bool in_array,
                             char **out)
{
    if (!value) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "weights writer: metadata '%s': NULL string", key);
    if (!ig_utf8_valid(value, strlen(value))) {
        if (in_array)
            return ig_fail(I2IG_ERR_METADATA,
                           "weights writer: metadata '%s' element %zu is not valid UTF-8", key, index);
        return ig_fail(I2IG_ERR_METADATA, "weights writer: metadata '%s' is not valid UTF-8", key);
    }
    *out = dup_str(value);
    return *out ? I2IG_OK : ig_fail(I2IG_ERR_OUT_OF_MEMORY, "weights writer: out of memory");
}

i2ig_status i2ig_weights_writer_set_string(i2ig_weights_writer *w, const char *key, const char *value)
{
    ig_meta *m;
    IG_TRY(begin_meta(w, key, &m));
    m->type = I2IG_META_STRING;
    return commit_meta(w, m, copy_text(key, value, 0, false, &m->v.s));
}

static i2ig_status set_numbers(i2ig_weights_writer *w, const char *key, i2ig_meta_type type,
                               const void *values, size_t count)
{
    ig_meta *m;
    IG_TRY(begin_meta(w, key, &m));
    m->type = type;
    i2ig_status st = I2IG_OK;
    size_t bytes;
    void *copy = NULL;
    if (count && !values)
        st = ig_fail(I2IG_ERR_INVALID_ARGUMENT, "weights writer: metadata '%s': NULL values", key);
    else if (!ig_mul_size(count, 8, &bytes))
        st = ig_fail(I2IG_ERR_DIMENSIONS, "weights writer: metadata '%s': %zu values overflow", key,
                     count);
    else if (!(copy = malloc(count ? bytes : 8)))
        st = ig_fail(I2IG_ERR_OUT_OF_MEMORY, "weights writer: out of memory");
    else if (count)
        memcpy(copy, values, bytes);
    m->count = count;
    if (type == I2IG_META_INT_ARRAY) m->v.ia = copy;
    else m->v.fa = copy;
    return commit_meta(w, m, st);
}

i2ig_status i2ig_weights_writer_set_int_array(i2ig_weights_writer *w, const char *key,
                                              const int64_t *values, size_t count)
{
    return set_numbers(w, key, I2IG_META_INT_ARRAY, values, count);
}

i2ig_status i2ig_weights_writer_set_float_array(i2ig_weights_writer *w, const char *key,
                                                const double *values, size_t count)
{
    return set_numbers(w, key, I2IG_META_FLOAT_ARRAY, values, count);
}

i2ig_status i2ig_weights_writer_set_string_array(i2ig_weights_writer *w, const char *key,
                                                 const char *const *values, size_t count)
{
    ig_meta *m;
    IG_TRY(begin_meta(w, key, &m));
    m->type = I2IG_META_STRING_ARRAY;
    if (count && !values)
        return commit_meta(w, m, ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                                         "weights writer: metadata '%s': NULL values", key));
    size_t slots;
    if (!ig_add_size(count, 1, &slots) || !(m->v.sa = calloc(slots, sizeof(char *))))
        return commit_meta(w, m, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "weights writer: out of memory"));
    m->count = count;
    i2ig_status st = I2IG_OK;
    for (size_t k = 0; k < count && st == I2IG_OK; k++)
        st = copy_text(key, values[k], k, true, &m->v.sa[k]);
    return commit_meta(w, m, st);
}

/* Converts n elements between the three weight dtypes. */
static void convert(void *dst, i2ig_dtype dt, const void *src, i2ig_dtype st, size_t n)
{
    if (dt == st) {
        memcpy(dst, src, n * i2ig_dtype_size(dt));
    } else if (st == I2IG_DTYPE_F32) {
        if (dt == I2IG_DTYPE_F16) ig_f32_to_f16_n(dst, src, n);
        else ig_f32_to_bf16_n(dst, src, n);
    } else if (dt == I2IG_DTYPE_F32) {
        if (st == I2IG_DTYPE_F16) ig_f16_to_f32_n(dst, src, n);
        else ig_bf16_to_f32_n(dst, src, n);
    } else {
        /* f16 <-> bf16 through f32, which holds either exactly: one rounding. */
        float tmp[512];
        for (size_t done = 0; done < n;) {
            size_t k = n - done < 512 ? n - done : 512;
            convert(tmp, I2IG_DTYPE_F32, (const uint16_t *)src + done, st, k);
            convert((uint16_t *)dst + done, dt, tmp, I2IG_DTYPE_F32, k);
            done += k;
        }
    }
}

i2ig_status i2ig_weights_writer_add_tensor(i2ig_weights_writer *w, const char *name,
                                           i2ig_dtype store_dtype, uint32_t ndim,
                                           const uint64_t *shape, i2ig_dtype src_dtype,
                                           const void *data, unsigned flags)
{
    if (!w) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "weights writer: writer is NULL");
    IG_TRY(check_name(name, "tensor name"));
    if (!data || (ndim && !shape))
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "weights writer: tensor '%s': NULL %s", name,
                       data ? "shape" : "data");
    if (flags & ~I2IG_ADD_BORROW)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "weights writer: tensor '%s': unknown flags 0x%x",
                       name, flags);
    for (size_t i = 0; i < w->nt; i++)
        if (!strcmp(w->t[i].name, name))
            return ig_fail(I2IG_ERR_DUPLICATE, "weights writer: tensor '%s' is already added", name);
    if (!ig_w_dtype_ok((uint32_t)store_dtype) || !ig_w_dtype_ok((uint32_t)src_dtype))
        return ig_fail(I2IG_ERR_DTYPE,
                       "weights writer: tensor '%s': dtype %s -> %s (weights hold f32, f16, bf16)",
                       name, i2ig_dtype_name(src_dtype), i2ig_dtype_name(store_dtype));
    if (ndim < 1 || ndim > I2IG_MAX_DIMS)
        return ig_fail(I2IG_ERR_DIMENSIONS, "weights writer: tensor '%s': %" PRIu32
                       " dimensions (must be 1..%d)", name, ndim, I2IG_MAX_DIMS);
    uint64_t count = 1, nbytes, src_bytes;
    for (uint32_t d = 0; d < ndim; d++) {
        if (shape[d] == 0)
            return ig_fail(I2IG_ERR_DIMENSIONS, "weights writer: tensor '%s': dimension %" PRIu32 " is 0",
                           name, d);
        if (!ig_mul_u64(count, shape[d], &count))
            return ig_fail(I2IG_ERR_DIMENSIONS, "weights writer: tensor '%s': element count overflows",
                           name);
    }
    if (!ig_mul_u64(count, i2ig_dtype_size(store_dtype), &nbytes) ||
        !ig_mul_u64(count, i2ig_dtype_size(src_dtype), &src_bytes) || nbytes > SIZE_MAX ||
        src_bytes > SIZE_MAX)
        return ig_fail(I2IG_ERR_DIMENSIONS, "weights writer: tensor '%s': byte size overflows", name);
    if (w->nt >= UINT32_MAX)
        return ig_fail(I2IG_ERR_TOO_LARGE, "weights writer: too many tensors");
    if (!grow((void **)&w->t, &w->cap_t, w->nt, sizeof *w->t))
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "weights writer: out of memory");

    wtensor t = {0};
    t.store = store_dtype;
    t.src = src_dtype;
    t.ndim = ndim;
    memcpy(t.shape, shape, ndim * sizeof *shape);
    t.count = count;
    t.nbytes = nbytes;
    t.data = data;
    t.name = dup_str(name);
    if (!t.name) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "weights writer: out of memory");
    if (!(flags & I2IG_ADD_BORROW)) {
        /* Keep the copy in the stored dtype: converted once, and smaller. */
        t.owned = malloc((size_t)nbytes);
        if (!t.owned) {
            free(t.name);
            return ig_fail(I2IG_ERR_OUT_OF_MEMORY,
                           "weights writer: tensor '%s': cannot copy %" PRIu64 " bytes", name, nbytes);
        }
        convert(t.owned, store_dtype, data, src_dtype, (size_t)count);
        t.data = t.owned;
        t.src = store_dtype;
    }
    w->t[w->nt++] = t;
    return I2IG_OK;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

static uint64_t meta_entry_size(const ig_meta *m)
{
    uint64_t n = 4 + strlen(m->key) + 4;
    switch (m->type) {
    case I2IG_META_INT:
    case I2IG_META_FLOAT: return n + 8;
    case I2IG_META_STRING: return n + 8 + strlen(m->v.s);
    case I2IG_META_INT_ARRAY:
    case I2IG_META_FLOAT_ARRAY: return n + 8 + 8 * (uint64_t)m->count;
    case I2IG_META_STRING_ARRAY:
        n += 8;
        for (size_t k = 0; k < m->count; k++) n += 8 + strlen(m->v.sa[k]);
        return n;
    }
    return n;
}

static uint64_t tensor_entry_size(const wtensor *t)
{
    return 4 + strlen(t->name) + 4 + 4 + 8 * (uint64_t)t->ndim + 8 + 8 + 4;
}

static unsigned char *put_bytes(unsigned char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
static unsigned char *put32(unsigned char *p, uint32_t v)
{
    ig_wr32(p, v);
    return p + 4;
}
static unsigned char *put64(unsigned char *p, uint64_t v)
{
    ig_wr64(p, v);
    return p + 8;
}
static unsigned char *put_text(unsigned char *p, const char *s, bool wide)
{
    size_t n = strlen(s);
    p = wide ? put64(p, n) : put32(p, (uint32_t)n);
    return put_bytes(p, s, n);
}

static void fill_index(const i2ig_weights_writer *w, unsigned char *p, const uint64_t *offsets,
                       const uint32_t *crcs)
{
    for (size_t i = 0; i < w->nmeta; i++) {
        const ig_meta *m = &w->meta[i];
        p = put_text(p, m->key, false);
        p = put32(p, (uint32_t)m->type);
        uint64_t bits;
        switch (m->type) {
        case I2IG_META_INT: p = put64(p, (uint64_t)m->v.i); break;
        case I2IG_META_FLOAT:
            memcpy(&bits, &m->v.f, 8);
            p = put64(p, bits);
            break;
        case I2IG_META_STRING: p = put_text(p, m->v.s, true); break;
        case I2IG_META_INT_ARRAY:
        case I2IG_META_FLOAT_ARRAY:
            p = put64(p, m->count);
            for (size_t k = 0; k < m->count; k++) {
                memcpy(&bits, (const char *)(m->type == I2IG_META_INT_ARRAY ? (const void *)m->v.ia
                                                                            : (const void *)m->v.fa) +
                                  8 * k,
                       8);
                p = put64(p, bits);
            }
            break;
        case I2IG_META_STRING_ARRAY:
            p = put64(p, m->count);
            for (size_t k = 0; k < m->count; k++) p = put_text(p, m->v.sa[k], true);
            break;
        }
    }
    for (size_t i = 0; i < w->nt; i++) {
        const wtensor *t = &w->t[i];
        p = put_text(p, t->name, false);
        p = put32(p, (uint32_t)t->store);
        p = put32(p, t->ndim);
        for (uint32_t d = 0; d < t->ndim; d++) p = put64(p, t->shape[d]);
        p = put64(p, offsets[i]);
        p = put64(p, t->nbytes);
        p = put32(p, crcs[i]);
    }
}

static const unsigned char zeros[4096];

static i2ig_status write_zeros(ig_atomic_file *af, uint64_t n)
{
    while (n) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        IG_TRY(ig_atomic_write(af, zeros, k));
        n -= k;
    }
    return I2IG_OK;
}

enum { CHUNK_ELEMS = 1 << 16 };

/* Streams one tensor in its stored dtype, returning its CRC-32. */
static i2ig_status write_tensor(ig_atomic_file *af, const wtensor *t, unsigned char *buf,
                                uint32_t *crc_out)
{
    uint32_t crc = 0;
    size_t ssize = i2ig_dtype_size(t->src), dsize = i2ig_dtype_size(t->store);
    for (uint64_t done = 0; done < t->count;) {
        size_t k = t->count - done < CHUNK_ELEMS ? (size_t)(t->count - done) : CHUNK_ELEMS;
        const unsigned char *src = (const unsigned char *)t->data + done * ssize;
        const unsigned char *out = src;
        if (t->src != t->store) {
            convert(buf, t->store, src, t->src, k);
            out = buf;
        }
        crc = ig_crc32(crc, out, k * dsize);
        IG_TRY(ig_atomic_write(af, out, k * dsize));
        done += k;
    }
    *crc_out = crc;
    return I2IG_OK;
}

static i2ig_status write_all(const i2ig_weights_writer *w, ig_atomic_file *af, uint64_t index_size,
                             uint64_t *offsets, uint32_t *crcs, unsigned char *buf,
                             unsigned char *head)
{
    const uint64_t align = IG_W_DEFAULT_ALIGNMENT;
    uint64_t data_offset = align_up(IG_W_HEADER_SIZE + index_size, align);
    uint64_t pos = data_offset;
    IG_TRY(write_zeros(af, data_offset));
    for (size_t i = 0; i < w->nt; i++) {
        uint64_t off = align_up(pos, align);
        IG_TRY(write_zeros(af, off - pos));
        offsets[i] = off;
        IG_TRY(write_tensor(af, &w->t[i], buf, &crcs[i]));
        pos = off + w->t[i].nbytes;
    }

    memset(head, 0, IG_W_HEADER_SIZE);
    memcpy(head + IG_WH_MAGIC, IG_W_MAGIC, IG_W_MAGIC_LEN);
    ig_wr32(head + IG_WH_VERSION, I2IG_WEIGHTS_FORMAT_VERSION);
    ig_wr32(head + IG_WH_HEADER_SIZE, IG_W_HEADER_SIZE);
    ig_wr32(head + IG_WH_ALIGNMENT, (uint32_t)align);
    ig_wr32(head + IG_WH_FLAGS, 0);
    ig_wr32(head + IG_WH_META_COUNT, (uint32_t)w->nmeta);
    ig_wr32(head + IG_WH_TENSOR_COUNT, (uint32_t)w->nt);
    ig_wr64(head + IG_WH_INDEX_SIZE, index_size);
    ig_wr64(head + IG_WH_DATA_OFFSET, data_offset);
    ig_wr64(head + IG_WH_FILE_SIZE, pos);
    fill_index(w, head + IG_W_HEADER_SIZE, offsets, crcs);
    uint32_t crc = ig_crc32(ig_crc32(0, head, IG_WH_INDEX_CRC), head + IG_W_HEADER_SIZE, (size_t)index_size);
    ig_wr32(head + IG_WH_INDEX_CRC, crc);

    if (lseek(af->fd, 0, SEEK_SET) != 0)
        return ig_fail(I2IG_ERR_IO, "%s: cannot seek back to the header", af->final_path);
    return ig_atomic_write(af, head, (size_t)(IG_W_HEADER_SIZE + index_size));
}

i2ig_status i2ig_weights_writer_write(i2ig_weights_writer *w, const char *path)
{
    if (!w || !path)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_writer_write: NULL argument");
    uint64_t index_size = 0;
    for (size_t i = 0; i < w->nmeta; i++) index_size += meta_entry_size(&w->meta[i]);
    for (size_t i = 0; i < w->nt; i++) index_size += tensor_entry_size(&w->t[i]);
    /* Everything in the index was copied into memory already, so its size
     * cannot overflow; the limit guards 32-bit hosts. */
    if (index_size > SIZE_MAX - 2 * IG_W_HEADER_SIZE)
        return ig_fail(I2IG_ERR_TOO_LARGE, "%s: index of %" PRIu64 " bytes too large", path, index_size);

    uint64_t *offsets = calloc(w->nt ? w->nt : 1, sizeof *offsets);
    uint32_t *crcs = calloc(w->nt ? w->nt : 1, sizeof *crcs);
    unsigned char *buf = malloc((size_t)CHUNK_ELEMS * 4);
    unsigned char *head = malloc((size_t)(IG_W_HEADER_SIZE + index_size));
    i2ig_status st;
    if (!offsets || !crcs || !buf || !head) {
        st = ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    } else {
        ig_atomic_file af;
        st = ig_atomic_begin(&af, path);
        if (st == I2IG_OK) {
            st = write_all(w, &af, index_size, offsets, crcs, buf, head);
            if (st == I2IG_OK) st = ig_atomic_commit(&af);
            else ig_atomic_abort(&af);
        }
    }
    free(offsets);
    free(crcs);
    free(buf);
    free(head);
    return st;
}
