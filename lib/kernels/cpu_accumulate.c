/* Gradient accumulation, dst += src: the tape's most frequent memory pass
 * (every tensor read by two operations gets its gradient summed). One
 * element-wise add per element, so the result does not depend on how the
 * range is split between threads. */
#include <omp.h>

#include "kernels/cpu_simd.h"
#include "kernels/onednn_internal.h"

IG_CPU_CLONES static void add_range(float *restrict dst, const float *restrict src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

void ig_k_add_into(ig_engine *e, size_t n, float *dst, const float *src)
{
    /* Below ~256 KB a second thread costs more than it saves. */
    int chunks = n >= ((size_t)1 << 16) ? ig_engine_threads(e) : 1;
    if (chunks < 2) {
        add_range(dst, src, n);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(chunks)
    for (int c = 0; c < chunks; c++) {
        size_t a = n * (size_t)c / (size_t)chunks, b = n * (size_t)(c + 1) / (size_t)chunks;
        add_range(dst + a, src + a, b - a);
    }
}
