/* Structural walk of a TIFF's IFD chain before libtiff decodes it.
 *
 * libtiff is lenient where a medical stack must not be: an IFD whose "next"
 * pointer lies past the end of a truncated file ends the chain silently (the
 * stack loses its last slices without a word), an IFD loop is a warning, and
 * a tag whose data is cut off is dropped. This walk reads only the IFDs and
 * refuses all of that, counts the pages (bounded), and reports zero image
 * dimensions as such (libtiff only says "bad value"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "image/image_internal.h"

typedef struct chain {
    int fd;
    const char *path;
    uint64_t size;
    int big_endian, bigtiff;
} chain;

static int read_at(const chain *c, uint64_t off, void *buf, size_t n)
{
    if (off > c->size || n > c->size - off) return 0;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(c->fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        done += (size_t)r;
    }
    return 1;
}

static uint64_t get(const chain *c, const unsigned char *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[c->big_endian ? i : n - 1 - i] << (8 * (n - 1 - i));
    return v;
}

static unsigned type_size(unsigned type)
{
    static const unsigned char sizes[19] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8};
    return type < 19 ? sizes[type] : 0;
}

/* Checks one IFD at off; sets *next. */
static i2ig_status check_ifd(const chain *c, unsigned page, uint64_t off, uint64_t *next)
{
    unsigned cnt_sz = c->bigtiff ? 8 : 2, ent_sz = c->bigtiff ? 20 : 12, ptr_sz = c->bigtiff ? 8 : 4;
    unsigned char hdr[8];
    if (!read_at(c, off, hdr, cnt_sz))
        return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: page %u: directory at byte %llu lies outside "
                       "the %llu-byte file (truncated or corrupt)", c->path, page,
                       (unsigned long long)off, (unsigned long long)c->size);
    uint64_t n = get(c, hdr, cnt_sz);
    if (n == 0 || n > 65535)
        return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: page %u: directory with %llu entries "
                       "(corrupt)", c->path, page, (unsigned long long)n);
    size_t bytes = (size_t)n * ent_sz + ptr_sz;
    unsigned char *e = malloc(bytes);
    if (!e) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: page %u: directory buffer", c->path, page);
    if (!read_at(c, off + cnt_sz, e, bytes)) {
        free(e);
        return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: page %u: directory at byte %llu is cut off "
                       "(truncated file)", c->path, page, (unsigned long long)off);
    }
    i2ig_status st = I2IG_OK;
    for (uint64_t i = 0; i < n && st == I2IG_OK; i++) {
        const unsigned char *p = e + i * ent_sz;
        unsigned tag = (unsigned)get(c, p, 2), type = (unsigned)get(c, p + 2, 2);
        uint64_t count = get(c, p + 4, c->bigtiff ? 8 : 4);
        const unsigned char *val = p + (c->bigtiff ? 12 : 8);
        unsigned ts = type_size(type);
        if (ts == 0) continue; /* unknown type: libtiff skips the tag */
        if ((tag == 256 || tag == 257) && count == 1 && (ts == 2 || ts == 4 || ts == 8) &&
            get(c, val, ts) == 0)
            st = ig_fail(I2IG_ERR_DIMENSIONS, "%s: page %u declares an image %s of 0", c->path,
                         page, tag == 256 ? "width" : "height");
        if (count > UINT64_MAX / ts) {
            st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: page %u: tag %u count overflows", c->path,
                         page, tag);
        } else if (count * ts > ptr_sz) {
            uint64_t at = get(c, val, ptr_sz);
            if (at > c->size || count * ts > c->size - at)
                st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: page %u: tag %u: %llu bytes at byte "
                             "%llu lie outside the %llu-byte file (truncated or corrupt)",
                             c->path, page, tag, (unsigned long long)(count * ts),
                             (unsigned long long)at, (unsigned long long)c->size);
        }
    }
    *next = get(c, e + n * ent_sz, ptr_sz);
    free(e);
    return st;
}

i2ig_status ig_tiff_walk_chain(int fd, const char *path, uint64_t size, unsigned max_pages,
                               unsigned *pages)
{
    chain c = {.fd = fd, .path = path, .size = size};
    unsigned char h[16];
    if (!read_at(&c, 0, h, 8))
        return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: TIFF header cut off", path);
    c.big_endian = h[0] == 'M';
    c.bigtiff = get(&c, h + 2, 2) == 43;
    uint64_t off;
    if (c.bigtiff) {
        if (!read_at(&c, 0, h, 16) || get(&c, h + 4, 2) != 8)
            return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: BigTIFF header cut off or corrupt", path);
        off = get(&c, h + 8, 8);
    } else {
        off = get(&c, h + 4, 4);
    }
    if (off == 0) return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: TIFF without any page", path);
    /* Brent's cycle detection: the offset saved at each power of two steps
     * comes round again only if the chain loops. */
    uint64_t saved = off;
    unsigned n = 0, lap = 0, lap_len = 1;
    while (off != 0) {
        if (n >= max_pages)
            return ig_fail(I2IG_ERR_TOO_LARGE, "%s: more than %u pages", path, max_pages);
        uint64_t next = 0;
        IG_TRY(check_ifd(&c, n, off, &next));
        n++;
        if (next == saved)
            return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: the directory chain loops (found "
                           "walking page %u; corrupt file)", path, n - 1);
        if (++lap == lap_len) {
            saved = next;
            lap = 0;
            lap_len *= 2;
        }
        off = next;
    }
    *pages = n;
    return I2IG_OK;
}
