/* Allocation with overflow-checked sizes. Every size computed from file or
 * caller input goes through ig_mul_size / ig_add_size before it reaches an
 * allocator, so a forged dimension can never wrap into a small buffer. */
#ifndef IG_CORE_MEM_H
#define IG_CORE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Alignment of every tensor buffer: one AVX-512 register / cache line. */
#define IG_ALIGN 64

/* a*b into *out; false on overflow. */
static inline bool ig_mul_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool ig_add_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}
static inline bool ig_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* 64-byte aligned allocation (NULL on failure or zero size overflow);
 * release with ig_free_aligned. */
void *ig_alloc_aligned(size_t bytes);
void *ig_calloc_aligned(size_t bytes);
void ig_free_aligned(void *p);

#endif
