/* Gradient accumulation, dst += src: the tape's most frequent memory pass
 * (every tensor read by two operations gets its gradient summed), and its
 * relatives (first copies, the split of a concatenation's gradient). One
 * element-wise operation per element, so the result does not depend on how
 * the range is split between threads. */
#include <omp.h>
#include <string.h>

#include "kernels/cpu_simd.h"
#include "kernels/onednn_internal.h"

IG_CPU_CLONES static void add_range(float *restrict dst, const float *restrict src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* Below ~256 KB a second thread costs more than it saves. */
static int chunks_for(ig_engine *e, size_t n)
{
    return n >= ((size_t)1 << 16) ? ig_engine_threads(e) : 1;
}

void ig_k_add_into(ig_engine *e, size_t n, float *dst, const float *src)
{
    int chunks = chunks_for(e, n);
#pragma omp parallel for schedule(static) num_threads(chunks) if (chunks > 1)
    for (int c = 0; c < chunks; c++) {
        size_t a = n * (size_t)c / (size_t)chunks, b = n * (size_t)(c + 1) / (size_t)chunks;
        add_range(dst + a, src + a, b - a);
    }
}

void ig_k_copy(ig_engine *e, size_t n, float *dst, const float *src)
{
    int chunks = chunks_for(e, n);
#pragma omp parallel for schedule(static) num_threads(chunks) if (chunks > 1)
    for (int c = 0; c < chunks; c++) {
        size_t a = n * (size_t)c / (size_t)chunks, b = n * (size_t)(c + 1) / (size_t)chunks;
        memcpy(dst + a, src + a, (b - a) * sizeof(float));
    }
}

/* rows [r0, r1) of the column block [c0, c0 + w) of src (row length ld)
 * into dst (row length w): copied, or added when acc */
IG_CPU_CLONES static void cols_range(const float *restrict src, int64_t ld, int64_t c0, int64_t w,
                                     float *restrict dst, int acc, int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) {
        const float *s = src + r * ld + c0;
        float *d = dst + r * w;
        if (acc) {
            for (int64_t j = 0; j < w; j++) d[j] += s[j];
        } else {
            memcpy(d, s, (size_t)w * sizeof(float));
        }
    }
}

void ig_k_split_last(ig_engine *e, int64_t rows, int64_t ca, int64_t cb, const float *src,
                     float *a, int acc_a, float *b, int acc_b)
{
    int chunks = chunks_for(e, (size_t)rows * (size_t)(ca + cb));
#pragma omp parallel for schedule(static) num_threads(chunks) if (chunks > 1)
    for (int c = 0; c < chunks; c++) {
        int64_t r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks;
        if (a) cols_range(src, ca + cb, 0, ca, a, acc_a, r0, r1);
        if (b) cols_range(src, ca + cb, ca, cb, b, acc_b, r0, r1);
    }
}
