/* PNG writer (grey 8/16-bit, one slice) with zlib. stb_image_write cannot
 * write 16-bit samples, which medical slices need. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/mem.h"
#include "image/image_internal.h"

/* IDAT chunk size: any size is valid; 1 MiB keeps chunks readable by
 * decoders with small fixed buffers. */
#define IG_PNG_IDAT_CHUNK ((size_t)1 << 20)

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static i2ig_status write_chunk(ig_atomic_file *af, const char *type, const unsigned char *data,
                               size_t len)
{
    unsigned char head[8], tail[4];
    put_be32(head, (uint32_t)len);
    memcpy(head + 4, type, 4);
    uLong crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)type, 4);
    if (len) crc = crc32(crc, data, (uInt)len);
    put_be32(tail, (uint32_t)crc);
    IG_TRY(ig_atomic_write(af, head, 8));
    if (len) IG_TRY(ig_atomic_write(af, data, len));
    return ig_atomic_write(af, tail, 4);
}

static unsigned paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return (unsigned)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

/* Filtered byte of filter type f at column i (bpp = bytes per pixel). */
static unsigned char filt(int f, const unsigned char *cur, const unsigned char *prev, size_t i,
                          size_t bpp)
{
    unsigned a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
    switch (f) {
    case 1: return (unsigned char)(cur[i] - a);
    case 2: return (unsigned char)(cur[i] - b);
    case 3: return (unsigned char)(cur[i] - ((a + b) >> 1));
    case 4: return (unsigned char)(cur[i] - paeth((int)a, (int)b, (int)c));
    default: return cur[i];
    }
}

/* Filter choice by the minimum sum of absolute differences, the heuristic
 * the PNG specification recommends for grey images. */
static void filter_row(const unsigned char *cur, const unsigned char *prev, size_t n, size_t bpp,
                       unsigned char *out)
{
    int best = 0;
    uint64_t best_sum = UINT64_MAX;
    for (int f = 0; f < 5; f++) {
        uint64_t sum = 0;
        for (size_t i = 0; i < n && sum < best_sum; i++)
            sum += (uint64_t)abs((int)(signed char)filt(f, cur, prev, i, bpp));
        if (sum < best_sum) best_sum = sum, best = f;
    }
    out[0] = (unsigned char)best;
    for (size_t i = 0; i < n; i++) out[1 + i] = filt(best, cur, prev, i, bpp);
}

static i2ig_status encode(const i2ig_image *im, const char *path, unsigned char **zout,
                          size_t *zlen)
{
    size_t es = i2ig_dtype_size(im->dtype), rowbytes = im->width * es, stride, raw_len;
    if (!ig_add_size(rowbytes, 1, &stride) || !ig_mul_size(stride, im->height, &raw_len))
        return ig_fail(I2IG_ERR_DIMENSIONS, "%s: PNG size overflows", path);
    unsigned char *raw = malloc(raw_len), *rows = calloc(2, rowbytes);
    uLong bound = compressBound((uLong)raw_len);
    unsigned char *z = malloc(bound);
    if (!raw || !rows || !z) {
        free(raw), free(rows), free(z);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: cannot allocate the PNG buffers", path);
    }
    unsigned char *prev = rows, *cur = rows + rowbytes;
    for (size_t y = 0; y < im->height; y++) {
        const unsigned char *src = (const unsigned char *)im->data + y * rowbytes;
        if (es == 1) {
            memcpy(cur, src, rowbytes);
        } else { /* PNG stores 16-bit samples big-endian */
            const uint16_t *s16 = (const uint16_t *)(const void *)src;
            for (size_t x = 0; x < im->width; x++) {
                cur[2 * x] = (unsigned char)(s16[x] >> 8);
                cur[2 * x + 1] = (unsigned char)s16[x];
            }
        }
        filter_row(cur, prev, rowbytes, es, raw + y * stride);
        unsigned char *t = prev;
        prev = cur;
        cur = t;
    }
    free(rows);
    uLongf out_len = bound;
    int zr = compress2(z, &out_len, raw, (uLong)raw_len, 6);
    free(raw);
    if (zr != Z_OK) {
        free(z);
        return ig_fail(zr == Z_MEM_ERROR ? I2IG_ERR_OUT_OF_MEMORY : I2IG_ERR_INTERNAL,
                       "%s: zlib compress2 failed (%d)", path, zr);
    }
    *zout = z;
    *zlen = out_len;
    return I2IG_OK;
}

i2ig_status ig_png_save(const i2ig_image *im, const char *path)
{
    if (im->slices != 1)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: PNG holds one slice, this image has %zu; "
                       "save one with i2ig_image_extract_slice or write TIFF", path, im->slices);
    if (im->dtype != I2IG_DTYPE_U8 && im->dtype != I2IG_DTYPE_U16)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: PNG holds u8 or u16 pixels, this image is "
                       "%s; map it with i2ig_image_convert or write TIFF", path,
                       i2ig_dtype_name(im->dtype));
    if (im->width > 0x7fffffffu || im->height > 0x7fffffffu)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: PNG dimensions are limited to 2^31-1, "
                       "image is %zux%zu", path, im->width, im->height);
    unsigned char *z = NULL;
    size_t zlen = 0;
    IG_TRY(encode(im, path, &z, &zlen));

    unsigned char ihdr[13];
    put_be32(ihdr, (uint32_t)im->width);
    put_be32(ihdr + 4, (uint32_t)im->height);
    ihdr[8] = im->dtype == I2IG_DTYPE_U8 ? 8 : 16;
    ihdr[9] = 0; /* grey */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;

    ig_atomic_file af;
    i2ig_status st = ig_atomic_begin(&af, path);
    if (st != I2IG_OK) {
        free(z);
        return st;
    }
    st = ig_atomic_write(&af, "\x89PNG\r\n\x1a\n", 8);
    if (st == I2IG_OK) st = write_chunk(&af, "IHDR", ihdr, sizeof ihdr);
    if (st == I2IG_OK && im->spacing_x > 0 && im->spacing_y > 0) {
        double px = floor(1000.0 / im->spacing_x + 0.5), py = floor(1000.0 / im->spacing_y + 0.5);
        if (px >= 1 && py >= 1 && px <= 0x7fffffff && py <= 0x7fffffff) {
            unsigned char phys[9];
            put_be32(phys, (uint32_t)px);
            put_be32(phys + 4, (uint32_t)py);
            phys[8] = 1; /* unit: metre */
            st = write_chunk(&af, "pHYs", phys, sizeof phys);
        }
    }
    for (size_t off = 0; st == I2IG_OK && off < zlen; off += IG_PNG_IDAT_CHUNK)
        st = write_chunk(&af, "IDAT", z + off,
                         zlen - off < IG_PNG_IDAT_CHUNK ? zlen - off : IG_PNG_IDAT_CHUNK);
    free(z);
    if (st == I2IG_OK) st = write_chunk(&af, "IEND", NULL, 0);
    if (st == I2IG_OK) return ig_atomic_commit(&af);
    ig_atomic_abort(&af);
    return st;
}
