/* JPEG pre-check: Debian 12's stb_image (2.27) trusts the code counts of a
 * Huffman table (DHT segment). Counts summing past 256 make
 * stbi__build_huffman and the value loop write past the 257-byte size and
 * 256-byte value arrays of its decoder state: a heap overflow on a 50-byte
 * file (found by fuzz_image_stb; fixed upstream after 2.27, nothings/stb
 * #1289/#1297). The marker stream is walked the way stb reads it, including
 * DHT segments between the scans of a progressive file, and such a table is
 * refused before stb sees the file. Anything else odd is left to stb. */
#include "core/error.h"
#include "image/image_internal.h"

/* stb reads bytes past the end of the buffer as 0. */
static unsigned at(const unsigned char *buf, size_t n, size_t i) { return i < n ? buf[i] : 0; }

/* Checks the tables of a DHT segment whose payload starts at p and holds
 * len bytes, reading them exactly as stbi__process_marker does. */
static i2ig_status check_dht(const unsigned char *buf, size_t n, size_t p, long len,
                             const char *path)
{
    while (len > 0) {
        unsigned count = 0;
        for (size_t i = 0; i < 16; i++) count += at(buf, n, p + 1 + i);
        if (count > 256)
            return ig_fail(I2IG_ERR_IMAGE_FORMAT,
                           "%s: corrupt JPEG: Huffman table at offset %zu defines %u codes "
                           "(at most 256)",
                           path, p, count);
        p += 17 + count;
        len -= 17 + (long)count;
    }
    return I2IG_OK;
}

i2ig_status ig_jpeg_check(const unsigned char *buf, size_t n, const char *path)
{
    size_t p = 2; /* after SOI */
    while (p + 1 < n) {
        if (buf[p] != 0xff) return I2IG_OK; /* not a marker: stb refuses or stops here */
        while (p < n && buf[p] == 0xff) p++; /* fill bytes */
        if (p >= n) return I2IG_OK;
        unsigned m = buf[p++];
        if (m == 0xd9) return I2IG_OK;                              /* EOI */
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd7) || m == 0) continue; /* no length */
        if (p + 2 > n) return I2IG_OK;
        size_t len = (size_t)buf[p] << 8 | buf[p + 1];
        if (len < 2) return I2IG_OK;
        if (m == 0xc4) IG_TRY(check_dht(buf, n, p + 2, (long)len - 2, path));
        p += len;
        if (m == 0xda) {
            /* Entropy-coded data: up to the next marker that is neither a
             * stuffed zero nor a restart marker. */
            while (p + 1 < n && !(buf[p] == 0xff && buf[p + 1] != 0 &&
                                  !(buf[p + 1] >= 0xd0 && buf[p + 1] <= 0xd7)))
                p++;
        }
    }
    return I2IG_OK;
}
