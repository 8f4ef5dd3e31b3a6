/* BMP pre-check: stb_image reads past the end of a truncated BMP as zeros and
 * reports success, so the pixel array is checked against the file size. */
#include "core/error.h"
#include "image/image_internal.h"

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

i2ig_status ig_bmp_check(const unsigned char *buf, size_t n, const char *path)
{
    if (n < 30) return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: BMP truncated inside its header", path);
    uint32_t offset = le32(buf + 10), hsz = le32(buf + 14);
    int64_t w, h;
    uint32_t bpp, compression = 0;
    if (hsz == 12) {
        w = le16(buf + 18);
        h = le16(buf + 20);
        bpp = le16(buf + 24);
    } else {
        if (n < 34) return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: BMP truncated inside its header", path);
        w = (int32_t)le32(buf + 18);
        h = (int32_t)le32(buf + 22); /* negative: rows stored top-down */
        bpp = le16(buf + 28);
        compression = le32(buf + 30);
    }
    if (h < 0) h = -h;
    if (w == 0 || h == 0)
        return ig_fail(I2IG_ERR_DIMENSIONS, "%s: BMP declares %lldx%lld pixels", path,
                       (long long)w, (long long)h);
    /* Only uncompressed and bit-field layouts have a size known in advance;
     * anything else stb_image refuses with its own reason. */
    if (w < 0 || (compression != 0 && compression != 3) || bpp == 0 || bpp > 32) return I2IG_OK;
    uint64_t row_bits = (uint64_t)w * bpp;
    uint64_t stride = (row_bits + 31) / 32 * 4;
    uint64_t need = stride * (uint64_t)(h - 1) + (row_bits + 7) / 8;
    if (offset > n || need > n - offset)
        return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: BMP truncated: %lldx%lld pixels of %u bits "
                       "need %llu bytes from byte %u, the file has %zu bytes", path,
                       (long long)w, (long long)h, bpp, (unsigned long long)need, offset, n);
    return I2IG_OK;
}
