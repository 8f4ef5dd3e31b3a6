#include "train/optim.h"

#include <math.h>

#include "kernels/cpu_simd.h"

/* The update of elements [i0, i1): per element and independent, so the
 * split over threads does not change any bit. Multi-versioned (cpu_simd.h;
 * the library is built with -fno-math-errno so that sqrtf vectorises). */
IG_CPU_CLONES static void adam_range(size_t i0, size_t i1, float *restrict p,
                                     const float *restrict g, float *restrict m,
                                     float *restrict v, const float k[7])
{
    const float b1 = k[0], a1 = k[1], b2 = k[2], a2 = k[3], step_size = k[4], bc2_sqrt = k[5],
                eps = k[6];
    for (size_t i = i0; i < i1; i++) {
        float gi = g[i];
        /* The operation order of ATen's add_, addcmul_ and addcdiv_ kernels:
         * m*b1 + a1*g; v*b2 + (a2*g)*g; p + (-step*m)/denom. */
        m[i] = m[i] * b1 + a1 * gi;
        v[i] = v[i] * b2 + (a2 * gi) * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] = p[i] + (-step_size * m[i]) / denom;
    }
}

void ig_adam_update(const ig_adam_cfg *cfg, int64_t step, size_t n, float *p, const float *g,
                    float *m, float *v, int threads)
{
    /* Bias corrections as PyTorch computes them (in double, then used as
     * Python floats) so that the step matches torch.optim.Adam. */
    double bc1 = 1.0 - pow(cfg->beta1, (double)step);
    double bc2 = 1.0 - pow(cfg->beta2, (double)step);
    const float k[7] = {(float)cfg->beta1, (float)(1.0 - cfg->beta1), (float)cfg->beta2,
                        (float)(1.0 - cfg->beta2), (float)(cfg->lr / bc1), (float)sqrt(bc2),
                        (float)cfg->eps};
    if (threads < 1) threads = 1;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; t++)
        adam_range(n * (size_t)t / (size_t)threads, n * (size_t)(t + 1) / (size_t)threads, p, g, m,
                   v, k);
}

IG_CPU_CLONES static void ema_range(size_t i0, size_t i1, float k, float *restrict shadow,
                                    const float *restrict p)
{
    for (size_t i = i0; i < i1; i++) shadow[i] -= k * (shadow[i] - p[i]);
}

void ig_ema_update(float decay, size_t n, float *shadow, const float *p, int threads)
{
    const float k = 1.0f - decay;
    if (threads < 1) threads = 1;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; t++)
        ema_range(n * (size_t)t / (size_t)threads, n * (size_t)(t + 1) / (size_t)threads, k,
                  shadow, p);
}
