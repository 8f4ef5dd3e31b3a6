/* PNG pre-check before stb_image touches the file (see image_internal.h). */
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "image/image_internal.h"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Bytes of filtered scanlines the IDAT stream must inflate to. */
static uint64_t png_raw_size(uint64_t w, uint64_t h, unsigned bits_per_pixel, int interlaced)
{
    static const unsigned x0[7] = {0, 4, 0, 2, 0, 1, 0}, dx[7] = {8, 8, 4, 4, 2, 2, 1};
    static const unsigned y0[7] = {0, 0, 4, 0, 2, 0, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
    if (!interlaced) return h * (1 + (w * bits_per_pixel + 7) / 8);
    uint64_t total = 0;
    for (int p = 0; p < 7; p++) {
        uint64_t cols = w > x0[p] ? (w - x0[p] + dx[p] - 1) / dx[p] : 0;
        uint64_t rows = h > y0[p] ? (h - y0[p] + dy[p] - 1) / dy[p] : 0;
        if (cols && rows) total += rows * (1 + (cols * bits_per_pixel + 7) / 8);
    }
    return total;
}

static i2ig_status check_ihdr(const unsigned char *d, uint32_t len, const char *path,
                              ig_png_info *info, unsigned *filter_channels, int *interlaced,
                              unsigned *color)
{
    if (len != 13)
        return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: PNG IHDR of %u bytes, expected 13", path, len);
    info->width = be32(d);
    info->height = be32(d + 4);
    info->depth = d[8];
    *color = d[9];
    *interlaced = d[12];
    if (info->width == 0 || info->height == 0)
        return ig_fail(I2IG_ERR_DIMENSIONS, "%s: PNG declares %ux%u pixels", path, info->width,
                       info->height);
    if (info->width > 0x7fffffffu || info->height > 0x7fffffffu)
        return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: PNG declares %ux%u pixels (above 2^31-1)",
                       path, info->width, info->height);
    unsigned dep = info->depth;
    int ok;
    switch (*color) {
    case 0: ok = dep == 1 || dep == 2 || dep == 4 || dep == 8 || dep == 16; *filter_channels = 1; break;
    case 3: ok = dep == 1 || dep == 2 || dep == 4 || dep == 8; *filter_channels = 1; break;
    case 2: ok = dep == 8 || dep == 16; *filter_channels = 3; break;
    case 4: ok = dep == 8 || dep == 16; *filter_channels = 2; break;
    case 6: ok = dep == 8 || dep == 16; *filter_channels = 4; break;
    default: ok = 0;
    }
    if (!ok)
        return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: PNG colour type %u with bit depth %u is invalid",
                       path, *color, dep);
    if (d[10] != 0 || d[11] != 0 || *interlaced > 1)
        return ig_fail(I2IG_ERR_IMAGE_FORMAT,
                       "%s: PNG compression/filter/interlace method %u/%u/%u unknown", path,
                       d[10], d[11], d[12]);
    return I2IG_OK;
}

i2ig_status ig_png_check(const unsigned char *buf, size_t n, const char *path, ig_png_info *info)
{
    memset(info, 0, sizeof *info);
    size_t pos = 8;
    int seen_ihdr = 0, seen_plte = 0, seen_trns = 0, seen_idat = 0, interlaced = 0;
    int stream_open = 0, stream_done = 0;
    unsigned filter_channels = 1, color = 0;
    uint64_t cap = 0;
    z_stream zs;
    unsigned char sink[16384];
    i2ig_status st = I2IG_OK;
    memset(&zs, 0, sizeof zs);

    for (;;) {
        if (n - pos < 12) {
            st = ig_fail(I2IG_ERR_IMAGE_FORMAT,
                         "%s: PNG truncated at byte %zu (no IEND chunk)", path, pos);
            break;
        }
        const unsigned char *c = buf + pos;
        uint32_t len = be32(c);
        char type[5] = {(char)c[4], (char)c[5], (char)c[6], (char)c[7], 0};
        for (int i = 0; i < 4; i++) {
            unsigned char t = c[4 + i];
            if (!((t >= 'A' && t <= 'Z') || (t >= 'a' && t <= 'z'))) {
                st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: PNG chunk at byte %zu has an invalid "
                             "type (corrupt file)", path, pos);
                goto done;
            }
        }
        if (len > 0x7fffffffu || len > n - pos - 12) {
            st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: PNG chunk '%s' at byte %zu declares %u "
                         "bytes, %zu remain (truncated or corrupt)", path, type, pos, len,
                         n - pos - 12);
            break;
        }
        const unsigned char *data = c + 8;
        int critical = !(c[4] & 0x20);
        if (critical) {
            uLong crc = crc32(crc32(0L, Z_NULL, 0), c + 4, len + 4);
            if (crc != be32(data + len)) {
                st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: PNG chunk '%s' at byte %zu: CRC "
                             "mismatch (corrupt file)", path, type, pos);
                break;
            }
        }
        if (!seen_ihdr && strcmp(type, "IHDR") != 0) {
            st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: PNG starts with chunk '%s', not IHDR",
                         path, type);
            break;
        }
        if (!strcmp(type, "IHDR")) {
            if (seen_ihdr) {
                st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: PNG has two IHDR chunks", path);
                break;
            }
            seen_ihdr = 1;
            st = check_ihdr(data, len, path, info, &filter_channels, &interlaced, &color);
            if (st != I2IG_OK) break;
            cap = png_raw_size(info->width, info->height, info->depth * filter_channels,
                               interlaced);
        } else if (!strcmp(type, "PLTE")) {
            seen_plte = 1;
        } else if (!strcmp(type, "tRNS")) {
            if (!seen_idat) seen_trns = 1;
        } else if (!strcmp(type, "pHYs")) {
            if (len == 9 && data[8] == 1) {
                info->ppm_x = be32(data);
                info->ppm_y = be32(data + 4);
            }
        } else if (!strcmp(type, "IDAT")) {
            seen_idat = 1;
            if (!stream_open) {
                if (inflateInit(&zs) != Z_OK) {
                    st = ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: zlib init failed", path);
                    break;
                }
                stream_open = 1;
            }
            zs.next_in = (Bytef *)data;
            zs.avail_in = len;
            while (!stream_done && zs.avail_in > 0) {
                zs.next_out = sink;
                zs.avail_out = sizeof sink;
                int zr = inflate(&zs, Z_NO_FLUSH);
                if (zr == Z_STREAM_END) stream_done = 1;
                else if (zr == Z_BUF_ERROR && zs.avail_out == sizeof sink) break;
                else if (zr != Z_OK) {
                    st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: PNG image data: corrupt zlib "
                                 "stream (%s)", path, zs.msg ? zs.msg : "inflate failed");
                    goto done;
                }
                if (zs.total_out > cap) {
                    st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: PNG image data inflates beyond "
                                 "the %llu bytes a %ux%u image holds (corrupt or hostile "
                                 "file)", path, (unsigned long long)cap, info->width,
                                 info->height);
                    goto done;
                }
            }
        } else if (!strcmp(type, "IEND")) {
            if (!seen_idat)
                st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: PNG has no image data (IDAT)", path);
            else if (!stream_done)
                st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: PNG image data ends early "
                             "(truncated zlib stream)", path);
            else if (color == 3 && !seen_plte)
                st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: palette PNG without PLTE", path);
            break;
        } else if (critical) {
            st = ig_fail(I2IG_ERR_UNSUPPORTED, "%s: PNG critical chunk '%s' is not understood",
                         path, type);
            break;
        }
        pos += (size_t)len + 12;
    }
done:
    if (stream_open) inflateEnd(&zs);
    if (st != I2IG_OK) return st;
    /* Channels as stb_image returns them: palettes expand to RGB(A), a tRNS
     * chunk on grey or RGB adds an alpha channel, samples below 8 bits are
     * scaled to 8. */
    switch (color) {
    case 0: info->channels = seen_trns ? 2 : 1; break;
    case 2: info->channels = seen_trns ? 4 : 3; break;
    case 3: info->channels = seen_trns ? 4 : 3; break;
    case 4: info->channels = 2; break;
    default: info->channels = 4; break;
    }
    return I2IG_OK;
}
