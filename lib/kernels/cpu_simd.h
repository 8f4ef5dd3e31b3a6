/* Vectorisation helpers for the hand-written kernels (lib/kernels/cpu_*.c).
 *
 * The library is built for baseline x86-64 (SSE2) so that one binary runs
 * on any x86-64 CPU. The hot loops of the plain-C kernels are compiled a
 * second and third time for AVX2 and AVX-512 machines and picked at load
 * time (GCC/Clang function multi-versioning through an ifunc). The build is
 * ISO C (-std=c11), which turns floating-point contraction off, so every
 * version performs the same IEEE operations in the same order: results are
 * bit-identical whichever version runs. */
#ifndef IG_CPU_SIMD_H
#define IG_CPU_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(IG_NO_TARGET_CLONES)
#define IG_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define IG_CPU_CLONES
#endif

/* The clamping range of ig_expf_vec, made opaque to the optimiser: with
 * literal bounds GCC evaluates the clamped ends as constants and emits the
 * whole computation once per range under masks (three divisions per vector
 * in SiLU, twice the time). Take it once, before the loop. */
typedef struct ig_exp_bounds {
    float lo, hi;
} ig_exp_bounds;

static inline ig_exp_bounds ig_exp_bounds_get(void)
{
    ig_exp_bounds b = {-87.0f, 88.0f};
#if defined(__GNUC__)
    __asm__("" : "+m"(b));
#endif
    return b;
}

/* exp(x) for float, branch-free so that loops calling it vectorise (libm's
 * expf is an opaque call). Range reduction x = n ln2 + r, |r| <= ln2/2, and
 * Cephes' degree-6 polynomial for exp(r): within 2 ulp of the exact value
 * on [-87, 88]; inputs are clamped to that range (exp(-87) = 1.6e-38,
 * exp(88) = 1.7e38; lo and hi come from ig_exp_bounds_get()). */
static inline float ig_expf_vec(float x, float lo, float hi)
{
    x = x < lo ? lo : x;
    x = x > hi ? hi : x;
    /* Adding 1.5 * 2^23 rounds x*log2(e) to an integer held in the low
     * mantissa bits of t. */
    const float shifter = 12582912.0f;
    float t = x * 1.44269504088896341f + shifter;
    float n = t - shifter;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    uint32_t sb = (tb - 0x4B400000u + 127u) << 23; /* 2^n as float bits */
    float scale;
    memcpy(&scale, &sb, sizeof scale);
    return p * scale;
}

/* SiLU(v) = v * sigmoid(v); bounds from ig_exp_bounds_get(). */
static inline float ig_silu_vec(float v, const ig_exp_bounds *b)
{
    return v / (1.0f + ig_expf_vec(-v, b->lo, b->hi));
}

/* dL/dz of y = SiLU(z) given dL/dy: dy * s (1 + z (1 - s)), s = sigmoid(z);
 * bounds from ig_exp_bounds_get(). */
static inline float ig_silu_grad_vec(float dy, float z, const ig_exp_bounds *b)
{
    float s = 1.0f / (1.0f + ig_expf_vec(-z, b->lo, b->hi));
    return dy * (s * (1.0f + z * (1.0f - s)));
}

#endif
