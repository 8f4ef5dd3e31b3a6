/* A small, fast, seedable random generator (xoshiro256**, seeded through
 * splitmix64) whose whole state is four 64-bit words, so that training
 * checkpoints can store it and a resumed run draws the same numbers. */
#ifndef IG_CORE_RNG_H
#define IG_CORE_RNG_H

#include <stdint.h>

typedef struct ig_rng {
    uint64_t s[4];
} ig_rng;

void ig_rng_seed(ig_rng *r, uint64_t seed);
uint64_t ig_rng_u64(ig_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double ig_rng_uniform(ig_rng *r);
/* Uniform integer in [0, n) without modulo bias (n >= 1). */
uint64_t ig_rng_below(ig_rng *r, uint64_t n);
/* Standard normal (Box-Muller; one value per call, no cached state). */
double ig_rng_normal(ig_rng *r);

#endif
