/* The projected multi-domain discriminator of I2I-Galip (StyleGAN-T heads
 * on frozen BiomedCLIP features): one set of heads per domain label, one
 * head per tapped ViT block. Parameter names are the reference's
 * (networks/stylegan_disc.py: heads.<label>.<tap>.main.0.0.weight_orig,
 * ..., cls.weight_u, cmapper.linear_layer.weight). */
#ifndef IG_DISCRIMINATOR_DISC_H
#define IG_DISCRIMINATOR_DISC_H

#include "core/rng.h"
#include "nn/params.h"

typedef struct ig_disc_cfg {
    int num_classes;   /* label head-sets (3) */
    int n_taps;        /* heads per label, one per tapped block (4) */
    int width;         /* feature channels (768) */
    int text_dim;      /* text embedding size (512) */
    int cmap_dim;      /* projection size (64) */
    int kernel_size;   /* residual block convolution (9, circular) */
    int sum_channels;  /* 0: the reference's element-wise output (cmap x tokens
                          values per head); 1: StyleGAN-T's projection summed
                          over the cmap channels (tokens values per head) */
    float bn_eps;      /* BatchNormLocal (1e-5) */
    float sn_eps;      /* spectral norm (1e-12) */
    float slope;       /* LeakyReLU (0.2) */
} ig_disc_cfg;

ig_disc_cfg ig_disc_default_cfg(void);
i2ig_status ig_disc_check_cfg(const ig_disc_cfg *c);

typedef struct ig_disc ig_disc;

/* Scalars of configuration c (parameters and spectral-norm state),
 * computed without allocating them. */
i2ig_status ig_disc_count_params(const ig_disc_cfg *c, uint64_t *n);
/* Configurations of more than IG_MAX_MODEL_PARAMS scalars give
 * I2IG_ERR_TOO_LARGE before any allocation. */
i2ig_status ig_disc_create(const ig_disc_cfg *c, ig_engine *e, ig_disc **out);
void ig_disc_free(ig_disc *d);
const ig_disc_cfg *ig_disc_cfg_of(const ig_disc *d);
/* Trainable parameters (weight_orig, biases, BatchNormLocal affine,
 * cmapper). */
ig_params *ig_disc_params(ig_disc *d);
/* Spectral-norm state (weight_u, weight_v): saved with the model, never
 * trained. */
ig_params *ig_disc_state(ig_disc *d);
/* PyTorch's default initialisation of Conv1d/Linear (uniform +-1/sqrt(fan
 * in) for weights and biases), BatchNormLocal 1/0, u and v normalised
 * normal draws, as spectral_norm() makes them. */
void ig_disc_init_random(ig_disc *d, ig_rng *rng);
/* Values per head and sample: cmap_dim x tokens, or tokens when summed. */
int64_t ig_disc_values_per_head(const ig_disc *d, int64_t tokens);

/* features: N, n_taps, T, width (patch tokens, token-major); labels: N;
 * text: N, text_dim, already L2-normalised (no gradient flows into it).
 * power_iters: spectral-norm power iterations per head call (1 in
 * training as the reference's train mode, 0 to use u, v as they are).
 * As the reference, every sample runs through its label's heads on its own.
 * Returns N, n_taps, T, cmap_dim (or N, n_taps, T, 1 when summed). */
ig_tensor *ig_disc_forward(ig_graph *g, ig_disc *d, ig_tensor *features, const int *labels,
                           const float *text, int power_iters);

#endif
