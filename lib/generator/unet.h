/* The I2I-Galip generator: a thinned latent-diffusion U-Net without
 * timestep, conditioned on the target domain by a label embedding added in
 * every ResBlock and by cross-attention to the target prompt's token
 * states. Parameter names are the reference implementation's
 * (networks/unet.py of I2I-Galip: input_blocks.*, middle_block.*,
 * output_blocks.*, out.*, label_emb.*), so reference checkpoints map one to
 * one. */
#ifndef IG_GENERATOR_UNET_H
#define IG_GENERATOR_UNET_H

#include "core/rng.h"
#include "nn/params.h"

#define IG_UNET_MAX_LEVELS 8
#define IG_UNET_MAX_RES_BLOCKS 8

typedef struct ig_unet_cfg {
    int in_channels, out_channels, model_channels;
    int n_levels;
    int channel_mult[IG_UNET_MAX_LEVELS];
    int num_res_blocks;
    int n_attn;
    int attention_ds[IG_UNET_MAX_LEVELS]; /* down-sampling factors with attention */
    int head_channels;
    int context_dim;
    int num_classes;
    int groups;            /* GroupNorm groups (32)                    */
    float gn_eps;          /* ResBlock / output GroupNorm (1e-5)      */
    float st_gn_eps;       /* SpatialTransformer GroupNorm (1e-6)     */
    float ln_eps;          /* transformer LayerNorms (1e-5)           */
} ig_unet_cfg;

/* The paper configuration: 14,127,617 parameters with context 768. */
ig_unet_cfg ig_unet_paper_cfg(void);
/* Checks a configuration for consistency (channels divisible by the
 * GroupNorm groups and the head size, limits); I2IG_ERR_METADATA names the
 * first problem. */
i2ig_status ig_unet_check_cfg(const ig_unet_cfg *c);
/* Input side must be a multiple of this (2^(levels-1)). */
int ig_unet_size_multiple(const ig_unet_cfg *c);

typedef struct ig_unet ig_unet;

/* Number of scalar weights of configuration c, computed without
 * allocating them (the constructor's own walk in count-only mode). */
i2ig_status ig_unet_count_params(const ig_unet_cfg *c, uint64_t *n);
/* Creates the model with zero weights on engine e; configurations of more
 * than IG_MAX_MODEL_PARAMS scalars give I2IG_ERR_TOO_LARGE, before any
 * allocation. */
i2ig_status ig_unet_create(const ig_unet_cfg *c, ig_engine *e, ig_unet **out);
void ig_unet_free(ig_unet *u);
const ig_unet_cfg *ig_unet_cfg_of(const ig_unet *u);
ig_params *ig_unet_params(ig_unet *u);
/* The reference initialisation (UNetModel.init_weights after
 * construction): Xavier-normal gain 0.02 on every conv weight, conv biases
 * zero where LDM zero-initialises the module and PyTorch's default
 * uniform elsewhere, Linear Xavier-uniform with zero bias, norms 1/0,
 * the label embedding N(0, 1). */
void ig_unet_init_random(ig_unet *u, ig_rng *rng);

/* x: N,H,W,in_channels (H, W multiples of ig_unet_size_multiple);
 * labels: N target labels; context: N,S,context_dim. Returns N,H,W,out. */
ig_tensor *ig_unet_forward(ig_graph *g, ig_unet *u, ig_tensor *x, const int *labels,
                           ig_tensor *context);

#endif
