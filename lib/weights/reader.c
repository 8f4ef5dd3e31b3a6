/* Opening a weight file: map it, then validate the header and the whole
 * index (parsing metadata into heap copies) before any tensor byte is
 * looked at. Check order follows docs/weight-format.md ("Reader checks"). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "weights/format.h"
#include "weights/weights_impl.h"

/* Cursor over the index; positions are file offsets so that messages can
 * be matched against a hex dump. */
typedef struct cur {
    const unsigned char *p; /* start of the file */
    uint64_t pos, end;
    const char *path;
} cur;

static i2ig_status need(const cur *c, uint64_t n, const char *where, const char *field)
{
    if (n <= c->end - c->pos) return I2IG_OK;
    return ig_fail(I2IG_ERR_OUT_OF_RANGE,
                   "%s: %s: %s (%" PRIu64 " bytes at offset %" PRIu64
                   ") runs past the end of the index at offset %" PRIu64,
                   c->path, where, field, n, c->pos, c->end);
}

static uint32_t take32(cur *c)
{
    uint32_t v = ig_rd32(c->p + c->pos);
    c->pos += 4;
    return v;
}

static uint64_t take64(cur *c)
{
    uint64_t v = ig_rd64(c->p + c->pos);
    c->pos += 8;
    return v;
}

/* Copies len bytes of UTF-8 text (no NUL inside) into a new C string. */
static i2ig_status take_text(cur *c, uint64_t len, const char *where, const char *field,
                             bool allow_empty, char **out)
{
    if (len == 0 && !allow_empty)
        return ig_fail(I2IG_ERR_METADATA, "%s: %s: empty %s", c->path, where, field);
    IG_TRY(need(c, len, where, field));
    const char *s = (const char *)c->p + c->pos;
    if (!ig_utf8_valid(s, (size_t)len))
        return ig_fail(I2IG_ERR_METADATA, "%s: %s: %s is not valid UTF-8 or contains a NUL byte",
                       c->path, where, field);
    char *d = malloc((size_t)len + 1);
    if (!d) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: out of memory", c->path);
    memcpy(d, s, (size_t)len);
    d[len] = 0;
    c->pos += len;
    *out = d;
    return I2IG_OK;
}

/* Reads an array count and checks that count elements of at least elem
 * bytes each fit in what is left of the index. */
static i2ig_status take_count(cur *c, uint64_t elem, const char *where, uint64_t *count)
{
    IG_TRY(need(c, 8, where, "element count"));
    uint64_t n = take64(c);
    if (n > (c->end - c->pos) / elem)
        return ig_fail(I2IG_ERR_DIMENSIONS,
                       "%s: %s: %" PRIu64 " elements cannot fit in the %" PRIu64
                       " bytes left of the index",
                       c->path, where, n, c->end - c->pos);
    *count = n;
    return I2IG_OK;
}

static i2ig_status parse_meta(cur *c, size_t i, ig_meta *m)
{
    char where[300];
    snprintf(where, sizeof where, "metadata entry %zu", i);
    IG_TRY(need(c, 4, where, "key length"));
    uint32_t klen = take32(c);
    IG_TRY(take_text(c, klen, where, "key", false, &m->key));
    snprintf(where, sizeof where, "metadata '%.200s'", m->key);
    IG_TRY(need(c, 4, where, "type"));
    uint32_t type = take32(c);
    if (!ig_w_meta_type_ok(type))
        return ig_fail(I2IG_ERR_METADATA, "%s: %s: unknown metadata type %" PRIu32 " (known: 1..6)",
                       c->path, where, type);
    m->type = (i2ig_meta_type)type;
    uint64_t n = 0;
    switch (m->type) {
    case I2IG_META_INT:
        IG_TRY(need(c, 8, where, "value"));
        m->v.i = (int64_t)take64(c);
        return I2IG_OK;
    case I2IG_META_FLOAT: {
        IG_TRY(need(c, 8, where, "value"));
        uint64_t bits = take64(c);
        memcpy(&m->v.f, &bits, 8);
        return I2IG_OK;
    }
    case I2IG_META_STRING:
        IG_TRY(need(c, 8, where, "string length"));
        n = take64(c);
        return take_text(c, n, where, "value", true, &m->v.s);
    case I2IG_META_INT_ARRAY:
    case I2IG_META_FLOAT_ARRAY: {
        IG_TRY(take_count(c, 8, where, &n));
        /* n <= index size <= file size, which fits size_t. */
        void *arr = malloc(n ? (size_t)n * 8 : 8);
        if (!arr) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: out of memory", c->path);
        m->count = (size_t)n;
        for (size_t k = 0; k < n; k++) {
            uint64_t bits = take64(c);
            memcpy((char *)arr + 8 * k, &bits, 8);
        }
        if (m->type == I2IG_META_INT_ARRAY) m->v.ia = arr;
        else m->v.fa = arr;
        return I2IG_OK;
    }
    case I2IG_META_STRING_ARRAY: {
        IG_TRY(take_count(c, 8, where, &n));
        m->v.sa = calloc((size_t)n + 1, sizeof(char *));
        if (!m->v.sa) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: out of memory", c->path);
        m->count = (size_t)n;
        for (size_t k = 0; k < n; k++) {
            char elem[340];
            snprintf(elem, sizeof elem, "%s element %zu", where, k);
            IG_TRY(need(c, 8, elem, "string length"));
            uint64_t len = take64(c);
            IG_TRY(take_text(c, len, elem, "value", true, &m->v.sa[k]));
        }
        return I2IG_OK;
    }
    }
    return I2IG_ERR_INTERNAL;
}

static i2ig_status parse_tensor(cur *c, size_t i, const i2ig_weights *w, uint64_t file_size,
                                ig_tensor *t)
{
    char where[300];
    snprintf(where, sizeof where, "tensor entry %zu", i);
    IG_TRY(need(c, 4, where, "name length"));
    uint32_t nlen = take32(c);
    IG_TRY(take_text(c, nlen, where, "name", false, &t->name));
    snprintf(where, sizeof where, "tensor '%.200s'", t->name);

    IG_TRY(need(c, 8, where, "dtype and ndim"));
    uint32_t dtype = take32(c);
    if (!ig_w_dtype_ok(dtype))
        return ig_fail(I2IG_ERR_DTYPE, "%s: %s: dtype %" PRIu32
                       " is not a weight type (f32 = 1, f16 = 2, bf16 = 3)",
                       c->path, where, dtype);
    t->dtype = (i2ig_dtype)dtype;
    uint32_t ndim = take32(c);
    if (ndim < 1 || ndim > I2IG_MAX_DIMS)
        return ig_fail(I2IG_ERR_DIMENSIONS, "%s: %s: %" PRIu32 " dimensions (must be 1..%d)",
                       c->path, where, ndim, I2IG_MAX_DIMS);
    t->ndim = ndim;
    IG_TRY(need(c, 8 * (uint64_t)ndim, where, "shape"));
    uint64_t count = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        t->shape[d] = take64(c);
        if (t->shape[d] == 0)
            return ig_fail(I2IG_ERR_DIMENSIONS, "%s: %s: dimension %" PRIu32 " is 0", c->path,
                           where, d);
        if (!ig_mul_u64(count, t->shape[d], &count))
            return ig_fail(I2IG_ERR_DIMENSIONS, "%s: %s: element count overflows 64 bits",
                           c->path, where);
    }
    IG_TRY(need(c, 20, where, "offset, size and checksum"));
    t->offset = take64(c);
    t->nbytes = take64(c);
    t->crc32 = take32(c);

    char shape[200];
    uint64_t expect;
    if (!ig_mul_u64(count, i2ig_dtype_size(t->dtype), &expect))
        return ig_fail(I2IG_ERR_DIMENSIONS, "%s: %s: byte size overflows 64 bits", c->path, where);
    if (t->nbytes != expect) {
        ig_format_shape(shape, sizeof shape, t->ndim, t->shape);
        return ig_fail(I2IG_ERR_DIMENSIONS,
                       "%s: %s: size %" PRIu64 " bytes, but shape %s of %s needs %" PRIu64,
                       c->path, where, t->nbytes, shape, i2ig_dtype_name(t->dtype), expect);
    }
    if (t->offset % w->alignment)
        return ig_fail(I2IG_ERR_ALIGNMENT,
                       "%s: %s: offset %" PRIu64 " is not a multiple of the alignment %" PRIu32,
                       c->path, where, t->offset, w->alignment);
    if (t->offset < w->data_offset || t->offset > file_size || t->nbytes > file_size - t->offset)
        return ig_fail(I2IG_ERR_OUT_OF_RANGE,
                       "%s: %s: %" PRIu64 " bytes at offset %" PRIu64
                       " lie outside the data area [%" PRIu64 ", %" PRIu64 ")",
                       c->path, where, t->nbytes, t->offset, w->data_offset, file_size);
    return I2IG_OK;
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp((*(ig_meta *const *)a)->key, (*(ig_meta *const *)b)->key);
}
static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(ig_tensor *const *)a)->name, (*(ig_tensor *const *)b)->name);
}
static int cmp_tensor_offset(const void *a, const void *b)
{
    uint64_t x = (*(ig_tensor *const *)a)->offset, y = (*(ig_tensor *const *)b)->offset;
    return (x > y) - (x < y);
}

static i2ig_status check_names(i2ig_weights *w)
{
    w->meta_by_key = malloc((w->meta_count ? w->meta_count : 1) * sizeof *w->meta_by_key);
    w->tensor_by_name = malloc((w->tensor_count ? w->tensor_count : 1) * sizeof *w->tensor_by_name);
    if (!w->meta_by_key || !w->tensor_by_name)
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: out of memory", w->path);
    for (size_t i = 0; i < w->meta_count; i++) w->meta_by_key[i] = &w->meta[i];
    for (size_t i = 0; i < w->tensor_count; i++) w->tensor_by_name[i] = &w->tensors[i];
    qsort(w->meta_by_key, w->meta_count, sizeof *w->meta_by_key, cmp_meta);
    qsort(w->tensor_by_name, w->tensor_count, sizeof *w->tensor_by_name, cmp_tensor_name);
    for (size_t i = 1; i < w->meta_count; i++)
        if (!strcmp(w->meta_by_key[i - 1]->key, w->meta_by_key[i]->key))
            return ig_fail(I2IG_ERR_DUPLICATE, "%s: metadata key '%s' appears more than once",
                           w->path, w->meta_by_key[i]->key);
    for (size_t i = 1; i < w->tensor_count; i++)
        if (!strcmp(w->tensor_by_name[i - 1]->name, w->tensor_by_name[i]->name))
            return ig_fail(I2IG_ERR_DUPLICATE, "%s: tensor name '%s' appears more than once",
                           w->path, w->tensor_by_name[i]->name);
    return I2IG_OK;
}

static i2ig_status check_overlap(const i2ig_weights *w)
{
    if (w->tensor_count < 2) return I2IG_OK;
    ig_tensor **by_off = malloc(w->tensor_count * sizeof *by_off);
    if (!by_off) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: out of memory", w->path);
    for (size_t i = 0; i < w->tensor_count; i++) by_off[i] = &w->tensors[i];
    qsort(by_off, w->tensor_count, sizeof *by_off, cmp_tensor_offset);
    i2ig_status st = I2IG_OK;
    for (size_t i = 1; i < w->tensor_count && st == I2IG_OK; i++) {
        const ig_tensor *a = by_off[i - 1], *b = by_off[i];
        /* Both ranges were checked to lie inside the file: no overflow. */
        if (a->offset + a->nbytes > b->offset)
            st = ig_fail(I2IG_ERR_OVERLAP,
                         "%s: tensors '%s' (bytes %" PRIu64 "..%" PRIu64 ") and '%s' (bytes %" PRIu64
                         "..%" PRIu64 ") overlap",
                         w->path, a->name, a->offset, a->offset + a->nbytes, b->name, b->offset,
                         b->offset + b->nbytes);
    }
    free(by_off);
    return st;
}

static i2ig_status validate(i2ig_weights *w, uint64_t size)
{
    const unsigned char *m = w->map;
    const char *path = w->path;

    size_t pre = size < IG_W_MAGIC_LEN ? (size_t)size : IG_W_MAGIC_LEN;
    if (memcmp(m, IG_W_MAGIC, pre) != 0) {
        char got[3 * IG_W_MAGIC_LEN + 1] = "";
        for (size_t i = 0; i < pre; i++) snprintf(got + 3 * i, 4, " %02x", m[i]);
        return ig_fail(I2IG_ERR_BAD_MAGIC,
                       "%s: not an .i2ig weight file (starts with%s, expected 89 49 32 49 47 0d 0a 1a)",
                       path, got);
    }
    if (size < IG_W_HEADER_SIZE)
        return ig_fail(I2IG_ERR_TRUNCATED,
                       "%s: file is %" PRIu64 " bytes, shorter than the %d-byte header", path, size,
                       IG_W_HEADER_SIZE);

    w->version = ig_rd32(m + IG_WH_VERSION);
    if (w->version == 0)
        return ig_fail(I2IG_ERR_VERSION, "%s: format version 0 is invalid (versions start at 1)",
                       path);
    if (w->version > I2IG_WEIGHTS_FORMAT_VERSION)
        return ig_fail(I2IG_ERR_VERSION,
                       "%s: format version %" PRIu32
                       " is newer than this library supports (%d); use a newer libi2igalip",
                       path, w->version, I2IG_WEIGHTS_FORMAT_VERSION);

    uint64_t index_size = ig_rd64(m + IG_WH_INDEX_SIZE);
    if (index_size > size - IG_W_HEADER_SIZE)
        return ig_fail(I2IG_ERR_TRUNCATED,
                       "%s: the %" PRIu64 "-byte index runs past the end of the file (%" PRIu64
                       " bytes)",
                       path, index_size, size);
    uint32_t crc = ig_crc32(ig_crc32(0, m, IG_WH_INDEX_CRC), m + IG_W_HEADER_SIZE, (size_t)index_size);
    uint32_t stored = ig_rd32(m + IG_WH_INDEX_CRC);
    if (crc != stored)
        return ig_fail(I2IG_ERR_CHECKSUM,
                       "%s: header/index checksum mismatch (stored %08" PRIx32 ", computed %08" PRIx32
                       "): the file is corrupt",
                       path, stored, crc);

    uint32_t header_size = ig_rd32(m + IG_WH_HEADER_SIZE);
    if (header_size != IG_W_HEADER_SIZE)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: header size %" PRIu32 " (version 1 headers are %d bytes)",
                       path, header_size, IG_W_HEADER_SIZE);
    uint32_t flags = ig_rd32(m + IG_WH_FLAGS);
    if (flags & ~IG_W_KNOWN_FLAGS)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: unknown header flags 0x%08" PRIx32, path, flags);
    if (ig_rd32(m + IG_WH_RESERVED) != 0)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: reserved header bytes 56..59 are not zero", path);

    w->alignment = ig_rd32(m + IG_WH_ALIGNMENT);
    if (!ig_is_pow2(w->alignment) || w->alignment < IG_W_DEFAULT_ALIGNMENT)
        return ig_fail(I2IG_ERR_ALIGNMENT,
                       "%s: alignment %" PRIu32 " is not a power of two >= %u", path, w->alignment,
                       IG_W_DEFAULT_ALIGNMENT);

    uint64_t file_size = ig_rd64(m + IG_WH_FILE_SIZE);
    if (file_size > size)
        return ig_fail(I2IG_ERR_TRUNCATED,
                       "%s: file is %" PRIu64 " bytes but its header says %" PRIu64 " (truncated)",
                       path, size, file_size);
    if (file_size < size)
        return ig_fail(I2IG_ERR_OUT_OF_RANGE,
                       "%s: file is %" PRIu64 " bytes but its header says %" PRIu64
                       " (unexpected trailing bytes)",
                       path, size, file_size);

    w->data_offset = ig_rd64(m + IG_WH_DATA_OFFSET);
    if (w->data_offset % w->alignment)
        return ig_fail(I2IG_ERR_ALIGNMENT,
                       "%s: data offset %" PRIu64 " is not a multiple of the alignment %" PRIu32,
                       path, w->data_offset, w->alignment);
    if (w->data_offset < IG_W_HEADER_SIZE + index_size || w->data_offset > file_size)
        return ig_fail(I2IG_ERR_OUT_OF_RANGE,
                       "%s: data offset %" PRIu64 " is not between the end of the index (%" PRIu64
                       ") and the end of the file (%" PRIu64 ")",
                       path, w->data_offset, IG_W_HEADER_SIZE + index_size, file_size);

    uint32_t meta_count = ig_rd32(m + IG_WH_META_COUNT);
    uint32_t tensor_count = ig_rd32(m + IG_WH_TENSOR_COUNT);
    if ((uint64_t)meta_count * IG_W_MIN_META_ENTRY + (uint64_t)tensor_count * IG_W_MIN_TENSOR_ENTRY >
        index_size)
        return ig_fail(I2IG_ERR_DIMENSIONS,
                       "%s: %" PRIu32 " metadata entries and %" PRIu32
                       " tensors cannot fit in a %" PRIu64 "-byte index",
                       path, meta_count, tensor_count, index_size);

    /* Both counts are now bounded by the real file size. */
    w->meta = calloc(meta_count ? meta_count : 1, sizeof *w->meta);
    w->tensors = calloc(tensor_count ? tensor_count : 1, sizeof *w->tensors);
    if (!w->meta || !w->tensors) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: out of memory", path);

    cur c = {m, IG_W_HEADER_SIZE, IG_W_HEADER_SIZE + index_size, path};
    for (uint32_t i = 0; i < meta_count; i++) {
        w->meta_count = (size_t)i + 1; /* so that a failure frees what was parsed */
        IG_TRY(parse_meta(&c, i, &w->meta[i]));
    }
    for (uint32_t i = 0; i < tensor_count; i++) {
        w->tensor_count = (size_t)i + 1;
        IG_TRY(parse_tensor(&c, i, w, file_size, &w->tensors[i]));
        atomic_init(&w->tensors[i].crc_state, IG_CRC_UNCHECKED);
    }
    if (c.pos != c.end)
        return ig_fail(I2IG_ERR_OUT_OF_RANGE,
                       "%s: the index is %" PRIu64 " bytes but its entries end after %" PRIu64,
                       path, index_size, c.pos - IG_W_HEADER_SIZE);
    IG_TRY(check_names(w));
    return check_overlap(w);
}

i2ig_status i2ig_weights_open(const char *path, unsigned flags, i2ig_weights **out)
{
    if (!out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_open: out is NULL");
    *out = NULL;
    if (!path) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_weights_open: path is NULL");
    if (flags & ~I2IG_OPEN_VERIFY_ALL)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "%s: unknown open flags 0x%x", path, flags);

    /* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ig_fail(I2IG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return ig_fail(I2IG_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ig_fail(I2IG_ERR_IO, "%s: %s", path,
                       S_ISDIR(sb.st_mode) ? "is a directory, not a weight file"
                                           : "is not a regular file");
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size == 0) {
        close(fd);
        return ig_fail(I2IG_ERR_TRUNCATED, "%s: empty file (a weight file starts with a %d-byte header)",
                       path, IG_W_HEADER_SIZE);
    }
    if (size > SIZE_MAX) {
        close(fd);
        return ig_fail(I2IG_ERR_TOO_LARGE, "%s: %" PRIu64 " bytes do not fit the address space",
                       path, size);
    }
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED)
        return ig_fail(map_errno == ENOMEM ? I2IG_ERR_OUT_OF_MEMORY : I2IG_ERR_IO,
                       "%s: cannot map: %s", path, strerror(map_errno));

    i2ig_weights *w = calloc(1, sizeof *w);
    char *p = w ? strdup(path) : NULL;
    if (!p) {
        free(w);
        munmap(map, (size_t)size);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    w->path = p;
    w->map = map;
    w->map_size = (size_t)size;
    i2ig_status st = validate(w, size);
    if (st == I2IG_OK && (flags & I2IG_OPEN_VERIFY_ALL)) st = i2ig_weights_verify(w);
    if (st != I2IG_OK) {
        i2ig_weights_free(w);
        return st;
    }
    *out = w;
    return I2IG_OK;
}

void ig_meta_clear(ig_meta *m)
{
    free(m->key);
    switch (m->type) {
    case I2IG_META_STRING: free(m->v.s); break;
    case I2IG_META_INT_ARRAY: free(m->v.ia); break;
    case I2IG_META_FLOAT_ARRAY: free(m->v.fa); break;
    case I2IG_META_STRING_ARRAY:
        if (m->v.sa)
            for (size_t k = 0; k < m->count; k++) free(m->v.sa[k]);
        free(m->v.sa);
        break;
    default: break;
    }
}

void i2ig_weights_free(i2ig_weights *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->meta_count; i++) ig_meta_clear(&w->meta[i]);
    for (size_t i = 0; i < w->tensor_count; i++) free(w->tensors[i].name);
    free(w->meta);
    free(w->tensors);
    free(w->meta_by_key);
    free(w->tensor_by_name);
    if (w->map) munmap((void *)w->map, w->map_size);
    free(w->path);
    free(w);
}
