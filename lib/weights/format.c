#include "weights/format.h"

#include <inttypes.h>
#include <stdio.h>
#include <zlib.h>

bool ig_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c == 0) return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;      /* overlong */
            else if (c == 0xED) hi = 0x9F; /* UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;      /* overlong */
            else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
        } else
            return false;
        if (len > n - i) return false;
        if (s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return false;
        i += len;
    }
    return true;
}

uint32_t ig_crc32(uint32_t crc, const void *buf, size_t n)
{
    return (uint32_t)crc32_z(crc, buf, n);
}

void ig_format_shape(char *buf, size_t n, uint32_t ndim, const uint64_t *shape)
{
    size_t used = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < ndim && used < n; i++) {
        int w = snprintf(buf + used, n - used, i ? "x%" PRIu64 : "%" PRIu64, shape[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}
