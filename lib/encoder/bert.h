/* The BiomedCLIP text tower: PubMedBERT (HuggingFace BertModel without its
 * pooler, post-norm layers) and open_clip's 'mlp' projection of the [CLS]
 * last hidden state ('cls_last_hidden_state_pooler'). Frozen: its weights
 * never require a gradient. */
#ifndef IG_ENCODER_BERT_H
#define IG_ENCODER_BERT_H

#include <stdint.h>

#include "nn/ops.h"

typedef struct ig_bert_config {
    int vocab_size;     /* 30522 */
    int context_length; /* 256: every prompt is padded to this */
    int width;          /* 768 */
    int depth;          /* 12 */
    int heads;          /* 12 */
    int mlp_dim;        /* 3072 */
    float ln_eps;       /* 1e-12 */
    int max_positions;  /* 512 */
    int type_vocab;     /* 2 */
    int proj_hidden;    /* 640 = (768 + 512) / 2 */
    int embed_dim;      /* 512 */
    int pad_id;         /* 0: padded keys are masked out */
} ig_bert_config;

typedef struct ig_bert_layer {
    ig_tensor *qkv_w, *qkv_b;     /* query, key, value stacked: 3C x C, 3C */
    ig_tensor *attn_out_w, *attn_out_b;
    ig_tensor *attn_ln_w, *attn_ln_b;
    ig_tensor *inter_w, *inter_b; /* mlp x C */
    ig_tensor *out_w, *out_b;     /* C x mlp */
    ig_tensor *out_ln_w, *out_ln_b;
} ig_bert_layer;

typedef struct ig_bert {
    ig_bert_config cfg;
    ig_tensor *word;     /* vocab x C */
    ig_tensor *pos;      /* context_length x C: the rows used (0..L-1) */
    ig_tensor *type0;    /* 1 x C: token type 0 */
    ig_tensor *emb_ln_w, *emb_ln_b;
    ig_bert_layer *layers;
    ig_tensor *proj0_w;  /* proj_hidden x C */
    ig_tensor *proj2_w;  /* embed_dim x proj_hidden */
} ig_bert;

i2ig_status ig_bert_config_check(const ig_bert_config *c, const char *path);

/* ids: n x context_length token ids (each < vocab_size). Fills *context
 * (n x L x C, the last hidden state at every position) and/or *embedding
 * (n x embed_dim); either pointer may be NULL. Returns the graph status. */
i2ig_status ig_bert_forward(ig_graph *g, const ig_bert *m, const int32_t *ids, int n,
                            ig_tensor **context, ig_tensor **embedding);

void ig_bert_free(ig_bert *m);

#endif
