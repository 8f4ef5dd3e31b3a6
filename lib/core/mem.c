#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

void *ig_alloc_aligned(size_t bytes)
{
    size_t rounded;
    if (!ig_add_size(bytes, IG_ALIGN - 1, &rounded)) return NULL;
    rounded &= ~(size_t)(IG_ALIGN - 1);
    if (rounded == 0) rounded = IG_ALIGN;
    return aligned_alloc(IG_ALIGN, rounded);
}

void *ig_calloc_aligned(size_t bytes)
{
    void *p = ig_alloc_aligned(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void ig_free_aligned(void *p) { free(p); }
