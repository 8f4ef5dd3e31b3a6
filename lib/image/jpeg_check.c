/* JPEG pre-check: Debian 12's stb_image (2.27) trusts the code counts of a
 * Huffman table (DHT segment). Counts summing past 256 make
 * stbi__build_huffman and the value loop write past the 257-byte size and
 * 256-byte value arrays of its decoder state: a heap overflow on a 50-byte
 * file (found by fuzz_image_stb; fixed upstream after 2.27, nothings/stb
 * #1289/#1297). Such a table is refused before stb sees the file.
 *
 * Where stb may read a DHT: up to the frame header it walks segments by
 * their lengths (DQT, DHT, DRI, APPn, COM; anything else stops it) and
 * skips stray bytes up to the next 0xFF; this walk is mirrored exactly, so
 * APPn payloads (EXIF, ICC) are skipped as stb skips them. After the frame
 * header, where stb resumes after entropy-coded data depends on its
 * decoding, so every 0xFF 0xC4 from there on is checked as a DHT segment;
 * valid entropy-coded data never contains that pair (0xFF is stuffed). */
#include "core/error.h"
#include "image/image_internal.h"

/* stb reads bytes past the end of the buffer as 0. */
static unsigned at(const unsigned char *buf, size_t n, size_t i) { return i < n ? buf[i] : 0; }

/* The DHT segment whose length field starts at p, read as
 * stbi__process_marker reads it. */
static i2ig_status check_dht(const unsigned char *buf, size_t n, size_t p, const char *path)
{
    long len = (long)(at(buf, n, p) << 8 | at(buf, n, p + 1)) - 2;
    size_t q = p + 2;
    while (len > 0) {
        unsigned count = 0;
        for (size_t i = 0; i < 16; i++) count += at(buf, n, q + 1 + i);
        if (count > 256)
            return ig_fail(I2IG_ERR_IMAGE_FORMAT,
                           "%s: corrupt JPEG: Huffman table at offset %zu defines %u codes "
                           "(at most 256)",
                           path, q, count);
        q += 17 + count;
        len -= 17 + (long)count;
    }
    return I2IG_OK;
}

i2ig_status ig_jpeg_check(const unsigned char *buf, size_t n, const char *path)
{
    size_t p = 2; /* after SOI */
    for (;;) {
        while (p < n && buf[p] != 0xff) p++; /* stray bytes: stb scans on */
        while (p < n && buf[p] == 0xff) p++; /* fill bytes */
        if (p + 2 >= n) return I2IG_OK;
        unsigned m = buf[p++];
        size_t len = (size_t)buf[p] << 8 | buf[p + 1];
        if (m == 0xc4) {
            IG_TRY(check_dht(buf, n, p, path));
        } else if (m == 0xc0 || m == 0xc1 || m == 0xc2) {
            p += len;
            break; /* frame header: scans follow */
        } else if (!(m == 0xdb || m == 0xdd || (m >= 0xe0 && m <= 0xef) || m == 0xfe)) {
            return I2IG_OK; /* stb stops here with "unknown marker" */
        }
        p += len;
    }
    for (; p + 1 < n; p++)
        if (buf[p] == 0xff && buf[p + 1] == 0xc4) IG_TRY(check_dht(buf, n, p + 2, path));
    return I2IG_OK;
}
