/* The BiomedCLIP vision tower (timm vit_base_patch16_224 inside open_clip)
 * as a function of an ig_graph, so that the same code serves the encoder
 * handle (forward, or forward + input gradient) and the trainer (which
 * records the tape with a generated image that requires a gradient).
 *
 * The weights are leaves that never require a gradient: the tower is
 * frozen, so a backward pass computes only the input gradient.
 */
#ifndef IG_ENCODER_VIT_H
#define IG_ENCODER_VIT_H

#include "nn/ops.h"

#define IG_VIT_MAX_TAPS 8
/* Largest accepted input side: a caller bug or a hostile file is refused
 * before anything of that size is allocated. */
#define IG_VIT_MAX_SIDE 16384

typedef struct ig_vit_config {
    int image_size;   /* input side after preprocessing (224) */
    int patch_size;   /* 16 */
    int width;        /* 768 */
    int depth;        /* 12 */
    int heads;        /* 12 */
    int mlp_dim;      /* 3072 */
    float ln_eps;     /* 1e-6 */
    int n_taps;       /* 4 */
    int taps[IG_VIT_MAX_TAPS]; /* 2, 5, 8, 11 */
    int n_cls;        /* 4: class tokens of blocks depth-1 down to depth-n_cls */
    int embed_dim;    /* 512 */
    float mean[3], std[3]; /* CLIP normalisation */
} ig_vit_config;

typedef struct ig_vit_block {
    ig_tensor *norm1_w, *norm1_b;
    ig_tensor *qkv_w, *qkv_b;   /* 3C x C, 3C: rows q, k, v */
    ig_tensor *proj_w, *proj_b;
    ig_tensor *norm2_w, *norm2_b;
    ig_tensor *fc1_w, *fc1_b;
    ig_tensor *fc2_w, *fc2_b;
} ig_vit_block;

typedef struct ig_vit {
    ig_vit_config cfg;
    ig_tensor *patch_w;     /* C x 3 x P x P (the patch-embedding conv) */
    ig_tensor *patch_b;     /* C */
    ig_tensor *cls_token;   /* 1 x 1 x C */
    ig_tensor *pos_embed;   /* 1 x (1 + T) x C */
    ig_vit_block *blocks;   /* depth */
    ig_tensor *norm_w, *norm_b;
    ig_tensor *head_w;      /* embed_dim x C (no bias) */
} ig_vit;

/* Which outputs ig_vit_forward computes. */
#define IG_VIT_WANT_EMBEDDING 0x1u
#define IG_VIT_WANT_TAPS 0x2u
#define IG_VIT_WANT_CLS 0x4u
#define IG_VIT_WANT_ALL 0x7u

typedef struct ig_vit_out {
    ig_tensor *embedding;                /* N x embed_dim */
    ig_tensor *taps[IG_VIT_MAX_TAPS];    /* N x T x C each, after the final LN */
    ig_tensor *cls;                      /* N x n_cls x C, last block first */
} ig_vit_out;

/* Checks the numbers of a configuration (from a file) for consistency and
 * sane ranges; the message names the file. */
i2ig_status ig_vit_config_check(const ig_vit_config *c, const char *path);
/* Patch tokens per image: (image_size / patch_size)^2. */
int ig_vit_tokens(const ig_vit_config *c);

/* Height and width of the resized image before the centre crop, as
 * torchvision's Resize(image_size) computes them (shorter side to
 * image_size, the longer one scaled and truncated). */
void ig_vit_resize_dims(const ig_vit_config *c, int h, int w, int *rh, int *rw);

/* images: N x H x W x 1 in [0, 1] (any H, W from 1 to IG_VIT_MAX_SIDE).
 * Preprocesses exactly as BiomedCLIP (resize of the shorter side to
 * image_size, antialiased bicubic; centre crop; tiled to three channels and
 * normalised), runs the tower once and fills the wanted outputs (new
 * references, release with ig_vit_out_release). Returns the graph status. */
i2ig_status ig_vit_forward(ig_graph *g, const ig_vit *m, ig_tensor *images, unsigned want,
                           ig_vit_out *out);
void ig_vit_out_release(ig_vit_out *out);

/* Runs the recorded tape backwards from the outputs, given the gradients
 * of a loss with respect to them in the public layouts (embedding N x E;
 * taps N x n_taps x T x C; cls N x n_cls x C; any may be NULL = zero).
 * Gradients accumulate into every leaf that requires one (the images). */
i2ig_status ig_vit_backward(ig_graph *g, const ig_vit *m, const ig_vit_out *out,
                            const float *d_embedding, const float *d_taps, const float *d_cls);

/* Releases every weight tensor and the block array (not m itself). */
void ig_vit_free(ig_vit *m);

#endif
