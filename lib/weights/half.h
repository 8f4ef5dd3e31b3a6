/* IEEE binary16 (f16) and bfloat16 (bf16) <-> binary32 conversions.
 *
 * f32 -> f16/bf16 rounds to nearest, ties to even; values beyond the
 * largest finite result become infinity, tiny ones become subnormals or
 * signed zero. A NaN stays a NaN of the same sign: the top mantissa bits are
 * kept and, if they are all zero, the quiet bit is set (so a NaN that came
 * from f16/bf16 converts back to exactly the same bits).
 * f16/bf16 -> f32 is exact, NaN payloads included. */
#ifndef IG_WEIGHTS_HALF_H
#define IG_WEIGHTS_HALF_H

#include <stddef.h>
#include <stdint.h>

uint16_t ig_f32_to_f16(float f);
float ig_f16_to_f32(uint16_t h);
uint16_t ig_f32_to_bf16(float f);
float ig_bf16_to_f32(uint16_t h);

void ig_f32_to_f16_n(uint16_t *dst, const float *src, size_t n);
void ig_f16_to_f32_n(float *dst, const uint16_t *src, size_t n);
void ig_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n);
void ig_bf16_to_f32_n(float *dst, const uint16_t *src, size_t n);

#endif
