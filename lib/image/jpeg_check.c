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
 * valid entropy-coded data never contains that pair (0xFF is stuffed).
 *
 * stb also decodes a scan with a Huffman table no DHT has defined: its
 * decoder state comes from malloc, so the table is whatever the heap held
 * and the symbol index it computes reads far outside the 256-entry arrays
 * (found by fuzz_image_stb: a progressive file whose AC scans precede their
 * AC table). A second pass follows the markers after the frame header in
 * the order stb processes them and refuses a scan that uses a table not
 * defined before it. stb leaves entropy-coded data only at a 0xFF followed
 * by a byte that is not 0x00 (stuffing) or a restart marker; a stop at one
 * of those makes stb fail, so this walk sees every segment stb acts on. */
#include "core/error.h"
#include "image/image_internal.h"

/* stb reads bytes past the end of the buffer as 0. */
static unsigned at(const unsigned char *buf, size_t n, size_t i) { return i < n ? buf[i] : 0; }

/* The DHT segment whose length field starts at p, read as
 * stbi__process_marker reads it: refuses a table of more than 256 codes and
 * marks in *defined the tables it defines, bit (class * 4 + id). */
static i2ig_status read_dht(const unsigned char *buf, size_t n, size_t p, unsigned *defined,
                            const char *path)
{
    long len = (long)(at(buf, n, p) << 8 | at(buf, n, p + 1)) - 2;
    size_t q = p + 2;
    while (len > 0) {
        unsigned tc = at(buf, n, q), count = 0;
        for (size_t i = 0; i < 16; i++) count += at(buf, n, q + 1 + i);
        if (count > 256)
            return ig_fail(I2IG_ERR_IMAGE_FORMAT,
                           "%s: corrupt JPEG: Huffman table at offset %zu defines %u codes "
                           "(at most 256)",
                           path, q, count);
        if (tc >> 4 <= 1 && (tc & 15) <= 3) *defined |= 1u << ((tc >> 4) * 4 + (tc & 15));
        q += 17 + count;
        len -= 17 + (long)count;
    }
    return I2IG_OK;
}

/* The scan header whose length field starts at p: every table its
 * components decode with must be defined. Progressive DC scans (spectral
 * start 0) use the DC tables, progressive AC scans the AC tables,
 * sequential scans both. */
static i2ig_status check_scan(const unsigned char *buf, size_t n, size_t p, unsigned defined,
                              int progressive, const char *path)
{
    unsigned ns = at(buf, n, p + 2);
    unsigned ss = at(buf, n, p + 3 + 2 * ns);
    for (unsigned i = 0; i < ns; i++) {
        unsigned t = at(buf, n, p + 4 + 2 * i), dc = t >> 4, ac = t & 15;
        if (dc > 3 || ac > 3) return I2IG_OK; /* stb refuses the scan */
        int need_dc = !progressive || ss == 0, need_ac = !progressive || ss != 0;
        if ((need_dc && !(defined & 1u << dc)) || (need_ac && !(defined & 1u << (4 + ac))))
            return ig_fail(I2IG_ERR_IMAGE_FORMAT,
                           "%s: corrupt JPEG: the scan at offset %zu decodes with %s Huffman "
                           "table %u, which no DHT segment before it defines",
                           path, p - 2, need_dc && !(defined & 1u << dc) ? "DC" : "AC",
                           need_dc && !(defined & 1u << dc) ? dc : ac);
    }
    return I2IG_OK;
}

/* Segments after the frame header, in stb's order, up to where stb stops. */
static i2ig_status check_scans(const unsigned char *buf, size_t n, size_t p, unsigned defined,
                               int progressive, const char *path)
{
    for (;;) {
        if (p >= n || buf[p] != 0xff) return I2IG_OK; /* stb: "expected marker" */
        while (p < n && buf[p] == 0xff) p++;
        if (p + 2 >= n) return I2IG_OK;
        unsigned m = buf[p++];
        size_t len = (size_t)buf[p] << 8 | buf[p + 1];
        if (m == 0xd9) return I2IG_OK;
        if (m == 0xda) {
            IG_TRY(check_scan(buf, n, p, defined, progressive, path));
            /* entropy-coded data up to the next marker */
            for (p += len; p + 1 < n; p++) {
                if (buf[p] != 0xff) continue;
                size_t q = p + 1;
                while (q < n && buf[q] == 0xff) q++;
                if (q >= n) return I2IG_OK;
                if (buf[q] != 0x00 && (buf[q] < 0xd0 || buf[q] > 0xd7)) break;
                p = q;
            }
            continue;
        }
        if (m == 0xdc) {
            p += 4; /* DNL: length and height, read as two fixed fields */
            continue;
        }
        if (m == 0xc4)
            IG_TRY(read_dht(buf, n, p, &defined, path));
        else if (!(m == 0xdb || m == 0xdd || (m >= 0xe0 && m <= 0xef) || m == 0xfe))
            return I2IG_OK; /* stb stops with "unknown marker" */
        p += len;
    }
}

i2ig_status ig_jpeg_check(const unsigned char *buf, size_t n, const char *path)
{
    unsigned defined = 0;
    int progressive = -1;
    size_t p = 2; /* after SOI */
    for (;;) {
        while (p < n && buf[p] != 0xff) p++; /* stray bytes: stb scans on */
        while (p < n && buf[p] == 0xff) p++; /* fill bytes */
        if (p + 2 >= n) return I2IG_OK;
        unsigned m = buf[p++];
        size_t len = (size_t)buf[p] << 8 | buf[p + 1];
        if (m == 0xc4) {
            IG_TRY(read_dht(buf, n, p, &defined, path));
        } else if (m == 0xc0 || m == 0xc1 || m == 0xc2) {
            progressive = m == 0xc2;
            p += len;
            break; /* frame header: scans follow */
        } else if (!(m == 0xdb || m == 0xdd || (m >= 0xe0 && m <= 0xef) || m == 0xfe)) {
            return I2IG_OK; /* stb stops here with "unknown marker" */
        }
        p += len;
    }
    size_t frame_end = p;
    unsigned ignored = 0; /* a pair here may be payload stb skips: count check only */
    for (; p + 1 < n; p++)
        if (buf[p] == 0xff && buf[p + 1] == 0xc4) IG_TRY(read_dht(buf, n, p + 2, &ignored, path));
    return check_scans(buf, n, frame_end, defined, progressive, path);
}
