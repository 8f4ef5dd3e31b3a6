#include "weights/half.h"

#include <string.h>

static inline uint32_t f32_bits(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    return x;
}
static inline float bits_f32(uint32_t x)
{
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* q = mant / 2^shift rounded to nearest, ties to even. */
static inline uint32_t shift_rne(uint32_t mant, unsigned shift)
{
    uint32_t q = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return q;
}

uint16_t ig_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) {
        uint32_t m = (ax >> 13) & 0x3ffu;
        return (uint16_t)(sign | 0x7c00u | (m ? m : 0x200u));
    }
    /* 65520 is the tie between 65504 (odd mantissa) and 65536: even = inf. */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) /* normal in f16: rebias exponent 127 -> 15 */
        return (uint16_t)(sign | shift_rne(ax - 0x38000000u, 13));
    /* f16 subnormal (units of 2^-24) or zero; a rounding carry into 0x400
     * is exactly the smallest normal's encoding. */
    unsigned e = ax >> 23;
    if (e < 102) return (uint16_t)sign; /* below 2^-25: rounds to zero */
    uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
    return (uint16_t)(sign | shift_rne(mant, 126 - e));
}

float ig_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return bits_f32(sign | 0x7f800000u | m << 13);
    if (e) return bits_f32(sign | (e + 112) << 23 | m << 13);
    /* Subnormal or zero: m * 2^-24 is exact in f32. */
    return bits_f32(sign | f32_bits((float)m * 0x1p-24f));
}

uint16_t ig_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) {
        uint32_t h = x >> 16;
        return (uint16_t)((h & 0x7fu) ? h : h | 0x40u);
    }
    /* Adding 0x7fff (+1 if the kept lsb is odd) carries exactly when the
     * discarded half is above the midpoint, or at it with an odd lsb; a
     * carry out of the largest finite value lands on infinity as it should. */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float ig_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

void ig_f32_to_f16_n(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = ig_f32_to_f16(src[i]);
}
void ig_f16_to_f32_n(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = ig_f16_to_f32(src[i]);
}
void ig_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = ig_f32_to_bf16(src[i]);
}
void ig_bf16_to_f32_n(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = ig_bf16_to_f32(src[i]);
}
