#include "train/optim.h"

#include <math.h>

void ig_adam_update(const ig_adam_cfg *cfg, int64_t step, size_t n, float *p, const float *g,
                    float *m, float *v, int threads)
{
    /* Bias corrections as PyTorch computes them (in double, then used as
     * Python floats) so that the step matches torch.optim.Adam. */
    double bc1 = 1.0 - pow(cfg->beta1, (double)step);
    double bc2 = 1.0 - pow(cfg->beta2, (double)step);
    const float step_size = (float)(cfg->lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    const float b1 = (float)cfg->beta1, b2 = (float)cfg->beta2, eps = (float)cfg->eps;
    const float a1 = (float)(1.0 - cfg->beta1), a2 = (float)(1.0 - cfg->beta2);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        /* The operation order of ATen's add_, addcmul_ and addcdiv_ kernels:
         * m*b1 + a1*g; v*b2 + (a2*g)*g; p + (-step*m)/denom. */
        m[i] = m[i] * b1 + a1 * gi;
        v[i] = v[i] * b2 + (a2 * gi) * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] = p[i] + (-step_size * m[i]) / denom;
    }
}

void ig_ema_update(float decay, size_t n, float *shadow, const float *p, int threads)
{
    const float k = 1.0f - decay;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t i = 0; i < n; i++) shadow[i] -= k * (shadow[i] - p[i]);
}
