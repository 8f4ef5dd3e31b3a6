/* Optimiser updates on flat parameter arrays: Adam (torch.optim.Adam
 * semantics, no weight decay) and the exponential moving average of the
 * generator weights used for inference. */
#ifndef IG_TRAIN_OPTIM_H
#define IG_TRAIN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

/* Hyper-parameters in double, as PyTorch holds them (Python floats): the
 * float32 constants used in the update are derived from these exactly as
 * torch.optim.Adam derives its own. */
typedef struct ig_adam_cfg {
    double lr, beta1, beta2, eps;
} ig_adam_cfg;

/* One Adam step number `step` (1-based) on n parameters:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
 * with threads OpenMP threads (results independent of the thread count:
 * every element is updated on its own). */
void ig_adam_update(const ig_adam_cfg *cfg, int64_t step, size_t n, float *p, const float *g,
                    float *m, float *v, int threads);

/* shadow -= (1 - decay) * (shadow - p) */
void ig_ema_update(float decay, size_t n, float *shadow, const float *p, int threads);

#endif
