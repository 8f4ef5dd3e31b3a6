/* On-disk layout of .i2ig weight files, version 1 (docs/weight-format.md is
 * the specification; this header is its C transcription). Every field is
 * little-endian and decoded byte by byte, so the index never needs to be
 * aligned in memory. */
#ifndef IG_WEIGHTS_FORMAT_H
#define IG_WEIGHTS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "i2igalip.h"

/* Tensor data is handed out in place from the mapping: only a
 * little-endian host sees the stored values as native numbers. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the .i2ig reader maps little-endian data in place");

#define IG_W_MAGIC "\x89I2IG\r\n\x1a"
#define IG_W_MAGIC_LEN 8
#define IG_W_HEADER_SIZE 64
#define IG_W_DEFAULT_ALIGNMENT 64u
/* Bits of the header's flags field understood by this version: none. */
#define IG_W_KNOWN_FLAGS 0u

/* Byte offsets of the header fields. */
enum {
    IG_WH_MAGIC = 0,
    IG_WH_VERSION = 8,
    IG_WH_HEADER_SIZE = 12,
    IG_WH_ALIGNMENT = 16,
    IG_WH_FLAGS = 20,
    IG_WH_META_COUNT = 24,
    IG_WH_TENSOR_COUNT = 28,
    IG_WH_INDEX_SIZE = 32,
    IG_WH_DATA_OFFSET = 40,
    IG_WH_FILE_SIZE = 48,
    IG_WH_RESERVED = 56,
    IG_WH_INDEX_CRC = 60
};

/* Smallest possible entries (one-byte name, smallest value / one
 * dimension): a count larger than index_size / these cannot be genuine. */
#define IG_W_MIN_META_ENTRY (4 + 1 + 4 + 8)
#define IG_W_MIN_TENSOR_ENTRY (4 + 1 + 4 + 4 + 8 + 8 + 8 + 4)

static inline uint32_t ig_rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t ig_rd64(const unsigned char *p)
{
    return (uint64_t)ig_rd32(p) | (uint64_t)ig_rd32(p + 4) << 32;
}
static inline void ig_wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void ig_wr64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static inline bool ig_is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

/* Tensor element types a weight file may hold. */
static inline bool ig_w_dtype_ok(uint32_t dt)
{
    return dt == I2IG_DTYPE_F32 || dt == I2IG_DTYPE_F16 || dt == I2IG_DTYPE_BF16;
}
static inline bool ig_w_meta_type_ok(uint32_t t)
{
    return t >= I2IG_META_INT && t <= I2IG_META_STRING_ARRAY;
}

/* True if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF) and contains no NUL byte. */
bool ig_utf8_valid(const char *s, size_t n);

/* zlib CRC-32 over buffers of any length (zlib's crc32 takes 32-bit sizes). */
uint32_t ig_crc32(uint32_t crc, const void *buf, size_t n);

/* "2x3x4" into buf (always NUL-terminated). */
void ig_format_shape(char *buf, size_t n, uint32_t ndim, const uint64_t *shape);

#endif
