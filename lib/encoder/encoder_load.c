/* Loading an encoder file: architecture from the metadata, then every
 * tensor by its open_clip state-dict name. Two passes over the tensors:
 * the first checks that each is present with exactly the shape the
 * metadata implies (so nothing is allocated on the word of the metadata
 * alone), the second allocates and reads. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "encoder/encoder_internal.h"

typedef struct loader {
    i2ig_weights *w;
    const char *path;
    ig_engine *e;
    int load; /* 0: check shapes, 1: allocate and read */
} loader;

/* ---- metadata -------------------------------------------------------------- */

static i2ig_status meta_i(const loader *ld, const char *key, int *out)
{
    int64_t v;
    IG_TRY(i2ig_weights_meta_int(ld->w, key, &v));
    if (v < INT32_MIN || v > INT32_MAX)
        return ig_fail(I2IG_ERR_METADATA, "%s: metadata '%s' = %" PRId64 " out of range",
                       ld->path, key, v);
    *out = (int)v;
    return I2IG_OK;
}

static i2ig_status meta_f(const loader *ld, const char *key, float *out)
{
    double v;
    IG_TRY(i2ig_weights_meta_float(ld->w, key, &v));
    *out = (float)v;
    return I2IG_OK;
}

static i2ig_status meta_f3(const loader *ld, const char *key, float *out)
{
    const double *v;
    size_t n;
    IG_TRY(i2ig_weights_meta_float_array(ld->w, key, &v, &n));
    if (n != 3)
        return ig_fail(I2IG_ERR_METADATA, "%s: metadata '%s' has %zu values, expected 3", ld->path,
                       key, n);
    for (int i = 0; i < 3; i++) out[i] = (float)v[i];
    return I2IG_OK;
}

static i2ig_status read_config(const loader *ld, ig_vit_config *vc, ig_bert_config *tc)
{
    const char *kind, *resize;
    IG_TRY(i2ig_weights_meta_string(ld->w, "model.kind", &kind));
    if (strcmp(kind, "encoder") != 0)
        return ig_fail(I2IG_ERR_MODEL_MISMATCH, "%s: model.kind is '%s', not an encoder file",
                       ld->path, kind);
    IG_TRY(i2ig_weights_meta_string(ld->w, "preprocess.resize", &resize));
    if (strcmp(resize, IG_ENCODER_RESIZE_MODE) != 0)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: preprocess.resize '%s' (supported: '%s')",
                       ld->path, resize, IG_ENCODER_RESIZE_MODE);
    memset(vc, 0, sizeof *vc);
    memset(tc, 0, sizeof *tc);
    int embed = 0;
    IG_TRY(meta_i(ld, "encoder.embed_dim", &embed));
    vc->embed_dim = tc->embed_dim = embed;
    IG_TRY(meta_i(ld, "vision.image_size", &vc->image_size));
    IG_TRY(meta_i(ld, "vision.patch_size", &vc->patch_size));
    IG_TRY(meta_i(ld, "vision.width", &vc->width));
    IG_TRY(meta_i(ld, "vision.depth", &vc->depth));
    IG_TRY(meta_i(ld, "vision.heads", &vc->heads));
    IG_TRY(meta_i(ld, "vision.mlp_dim", &vc->mlp_dim));
    IG_TRY(meta_f(ld, "vision.ln_eps", &vc->ln_eps));
    IG_TRY(meta_i(ld, "vision.n_cls", &vc->n_cls));
    const int64_t *taps;
    size_t ntaps;
    IG_TRY(i2ig_weights_meta_int_array(ld->w, "vision.taps", &taps, &ntaps));
    if (ntaps < 1 || ntaps > IG_VIT_MAX_TAPS)
        return ig_fail(I2IG_ERR_METADATA, "%s: vision.taps lists %zu blocks (1..%d)", ld->path,
                       ntaps, IG_VIT_MAX_TAPS);
    vc->n_taps = (int)ntaps;
    for (size_t i = 0; i < ntaps; i++)
        vc->taps[i] = (taps[i] < -1 || taps[i] > 100000) ? -1 : (int)taps[i];
    IG_TRY(meta_f3(ld, "preprocess.mean", vc->mean));
    IG_TRY(meta_f3(ld, "preprocess.std", vc->std));
    IG_TRY(ig_vit_config_check(vc, ld->path));

    IG_TRY(meta_i(ld, "text.context_length", &tc->context_length));
    IG_TRY(meta_i(ld, "text.width", &tc->width));
    IG_TRY(meta_i(ld, "text.depth", &tc->depth));
    IG_TRY(meta_i(ld, "text.heads", &tc->heads));
    IG_TRY(meta_i(ld, "text.mlp_dim", &tc->mlp_dim));
    IG_TRY(meta_f(ld, "text.ln_eps", &tc->ln_eps));
    IG_TRY(meta_i(ld, "text.max_positions", &tc->max_positions));
    IG_TRY(meta_i(ld, "text.type_vocab", &tc->type_vocab));
    IG_TRY(meta_i(ld, "text.proj_hidden", &tc->proj_hidden));
    IG_TRY(meta_i(ld, "text.pad_id", &tc->pad_id));
    const char *const *vocab;
    size_t nvocab;
    IG_TRY(i2ig_weights_meta_string_array(ld->w, "text.vocab", &vocab, &nvocab));
    tc->vocab_size = nvocab > 10000000 ? -1 : (int)nvocab;
    IG_TRY(ig_bert_config_check(tc, ld->path));
    return I2IG_OK;
}

/* ---- tensors ------------------------------------------------------------------ */

/* Check pass: presence and exact shape. A mismatch is reported by
 * i2ig_weights_read_f32 itself, which checks the shape before it writes. */
static i2ig_status check_tensor(const loader *ld, const char *name, uint32_t ndim,
                                const uint64_t *shape)
{
    size_t idx;
    IG_TRY(i2ig_weights_find(ld->w, name, &idx));
    i2ig_tensor_info info;
    info.struct_size = sizeof info;
    IG_TRY(i2ig_weights_tensor_info(ld->w, idx, &info));
    bool same = info.ndim == ndim;
    for (uint32_t i = 0; same && i < ndim; i++) same = info.shape[i] == shape[i];
    if (same) return I2IG_OK;
    float dummy;
    i2ig_status st = i2ig_weights_read_f32(ld->w, name, ndim, shape, &dummy);
    return st != I2IG_OK ? st
                         : ig_fail(I2IG_ERR_INTERNAL, "%s: tensor '%s': shape check disagreed",
                                   ld->path, name);
}

static void to_u64(int ndim, const int64_t *s, uint64_t *u)
{
    for (int i = 0; i < ndim; i++) u[i] = (uint64_t)s[i];
}

/* A tensor stored exactly as the model uses it. */
static i2ig_status param(const loader *ld, ig_tensor **slot, const char *name, int ndim,
                         const int64_t *shape)
{
    uint64_t u[4];
    to_u64(ndim, shape, u);
    if (!ld->load) return check_tensor(ld, name, (uint32_t)ndim, u);
    *slot = ig_t_param(ld->e, ndim, shape);
    if (!*slot) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: tensor '%s'", ld->path, name);
    return i2ig_weights_read_f32(ld->w, name, (uint32_t)ndim, u, (*slot)->data);
}

/* Into part of an already allocated tensor (dst), or just checked. */
static i2ig_status piece(const loader *ld, float *dst, const char *name, int ndim,
                         const int64_t *shape)
{
    uint64_t u[4];
    to_u64(ndim, shape, u);
    if (!ld->load) return check_tensor(ld, name, (uint32_t)ndim, u);
    return i2ig_weights_read_f32(ld->w, name, (uint32_t)ndim, u, dst);
}

/* The first `keep` rows of a rows x cols tensor. */
static i2ig_status leading_rows(const loader *ld, ig_tensor **slot, const char *name, int64_t rows,
                                int64_t cols, int64_t keep)
{
    int64_t full[2] = {rows, cols}, kept[2] = {keep, cols};
    if (!ld->load) return piece(ld, NULL, name, 2, full);
    size_t n = (size_t)rows * (size_t)cols;
    float *tmp = malloc(n * sizeof *tmp);
    *slot = ig_t_param(ld->e, 2, kept);
    i2ig_status st = (!tmp || !*slot)
                         ? ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: tensor '%s'", ld->path, name)
                         : piece(ld, tmp, name, 2, full);
    if (st == I2IG_OK) memcpy((*slot)->data, tmp, (size_t)keep * (size_t)cols * sizeof(float));
    free(tmp);
    return st;
}

static char *fmt_name(char *buf, size_t n, const char *fmt, int i, const char *leaf)
{
    snprintf(buf, n, fmt, i, leaf);
    return buf;
}

static i2ig_status vit_tensors(const loader *ld, ig_vit *m)
{
    const ig_vit_config *c = &m->cfg;
    int64_t C = c->width, P = c->patch_size, M = c->mlp_dim, T = ig_vit_tokens(c);
    int64_t s_pw[4] = {C, 3, P, P}, s_c[1] = {C}, s_cls[3] = {1, 1, C}, s_pos[3] = {1, T + 1, C};
    int64_t s_qkv[2] = {3 * C, C}, s_3c[1] = {3 * C}, s_cc[2] = {C, C}, s_mc[2] = {M, C},
            s_m[1] = {M}, s_cm[2] = {C, M}, s_head[2] = {c->embed_dim, C};
    IG_TRY(param(ld, &m->patch_w, "visual.trunk.patch_embed.proj.weight", 4, s_pw));
    IG_TRY(param(ld, &m->patch_b, "visual.trunk.patch_embed.proj.bias", 1, s_c));
    IG_TRY(param(ld, &m->cls_token, "visual.trunk.cls_token", 3, s_cls));
    IG_TRY(param(ld, &m->pos_embed, "visual.trunk.pos_embed", 3, s_pos));
    char nm[160];
    const char *f = "visual.trunk.blocks.%d.%s";
    for (int i = 0; i < c->depth; i++) {
        ig_vit_block *b = &m->blocks[i];
        IG_TRY(param(ld, &b->norm1_w, fmt_name(nm, sizeof nm, f, i, "norm1.weight"), 1, s_c));
        IG_TRY(param(ld, &b->norm1_b, fmt_name(nm, sizeof nm, f, i, "norm1.bias"), 1, s_c));
        IG_TRY(param(ld, &b->qkv_w, fmt_name(nm, sizeof nm, f, i, "attn.qkv.weight"), 2, s_qkv));
        IG_TRY(param(ld, &b->qkv_b, fmt_name(nm, sizeof nm, f, i, "attn.qkv.bias"), 1, s_3c));
        IG_TRY(param(ld, &b->proj_w, fmt_name(nm, sizeof nm, f, i, "attn.proj.weight"), 2, s_cc));
        IG_TRY(param(ld, &b->proj_b, fmt_name(nm, sizeof nm, f, i, "attn.proj.bias"), 1, s_c));
        IG_TRY(param(ld, &b->norm2_w, fmt_name(nm, sizeof nm, f, i, "norm2.weight"), 1, s_c));
        IG_TRY(param(ld, &b->norm2_b, fmt_name(nm, sizeof nm, f, i, "norm2.bias"), 1, s_c));
        IG_TRY(param(ld, &b->fc1_w, fmt_name(nm, sizeof nm, f, i, "mlp.fc1.weight"), 2, s_mc));
        IG_TRY(param(ld, &b->fc1_b, fmt_name(nm, sizeof nm, f, i, "mlp.fc1.bias"), 1, s_m));
        IG_TRY(param(ld, &b->fc2_w, fmt_name(nm, sizeof nm, f, i, "mlp.fc2.weight"), 2, s_cm));
        IG_TRY(param(ld, &b->fc2_b, fmt_name(nm, sizeof nm, f, i, "mlp.fc2.bias"), 1, s_c));
    }
    IG_TRY(param(ld, &m->norm_w, "visual.trunk.norm.weight", 1, s_c));
    IG_TRY(param(ld, &m->norm_b, "visual.trunk.norm.bias", 1, s_c));
    IG_TRY(param(ld, &m->head_w, "visual.head.proj.weight", 2, s_head));
    return I2IG_OK;
}

/* BERT's separate query/key/value linears, stacked into one 3C x C weight
 * and 3C bias so that a layer runs one product for all three. */
static i2ig_status bert_qkv(const loader *ld, ig_bert_layer *l, int i, int64_t C)
{
    static const char *const parts[3] = {"query", "key", "value"};
    int64_t s_w[2] = {3 * C, C}, s_b[1] = {3 * C}, s_cc[2] = {C, C}, s_c[1] = {C};
    if (ld->load) {
        l->qkv_w = ig_t_param(ld->e, 2, s_w);
        l->qkv_b = ig_t_param(ld->e, 1, s_b);
        if (!l->qkv_w || !l->qkv_b)
            return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: text layer %d attention", ld->path, i);
    }
    char nm[200];
    for (int p = 0; p < 3; p++) {
        snprintf(nm, sizeof nm, "text.transformer.encoder.layer.%d.attention.self.%s.weight", i,
                 parts[p]);
        IG_TRY(piece(ld, ld->load ? l->qkv_w->data + p * C * C : NULL, nm, 2, s_cc));
        snprintf(nm, sizeof nm, "text.transformer.encoder.layer.%d.attention.self.%s.bias", i,
                 parts[p]);
        IG_TRY(piece(ld, ld->load ? l->qkv_b->data + p * C : NULL, nm, 1, s_c));
    }
    return I2IG_OK;
}

static i2ig_status bert_tensors(const loader *ld, ig_bert *m)
{
    const ig_bert_config *c = &m->cfg;
    int64_t C = c->width, M = c->mlp_dim, H = c->proj_hidden;
    int64_t s_word[2] = {c->vocab_size, C}, s_c[1] = {C}, s_cc[2] = {C, C}, s_mc[2] = {M, C},
            s_m[1] = {M}, s_cm[2] = {C, M}, s_p0[2] = {H, C}, s_p2[2] = {c->embed_dim, H};
    IG_TRY(param(ld, &m->word, "text.transformer.embeddings.word_embeddings.weight", 2, s_word));
    IG_TRY(leading_rows(ld, &m->pos, "text.transformer.embeddings.position_embeddings.weight",
                        c->max_positions, C, c->context_length));
    IG_TRY(leading_rows(ld, &m->type0, "text.transformer.embeddings.token_type_embeddings.weight",
                        c->type_vocab, C, 1));
    IG_TRY(param(ld, &m->emb_ln_w, "text.transformer.embeddings.LayerNorm.weight", 1, s_c));
    IG_TRY(param(ld, &m->emb_ln_b, "text.transformer.embeddings.LayerNorm.bias", 1, s_c));
    char nm[200];
    const char *f = "text.transformer.encoder.layer.%d.%s";
    for (int i = 0; i < c->depth; i++) {
        ig_bert_layer *l = &m->layers[i];
        IG_TRY(bert_qkv(ld, l, i, C));
        IG_TRY(param(ld, &l->attn_out_w,
                     fmt_name(nm, sizeof nm, f, i, "attention.output.dense.weight"), 2, s_cc));
        IG_TRY(param(ld, &l->attn_out_b,
                     fmt_name(nm, sizeof nm, f, i, "attention.output.dense.bias"), 1, s_c));
        IG_TRY(param(ld, &l->attn_ln_w,
                     fmt_name(nm, sizeof nm, f, i, "attention.output.LayerNorm.weight"), 1, s_c));
        IG_TRY(param(ld, &l->attn_ln_b,
                     fmt_name(nm, sizeof nm, f, i, "attention.output.LayerNorm.bias"), 1, s_c));
        IG_TRY(param(ld, &l->inter_w, fmt_name(nm, sizeof nm, f, i, "intermediate.dense.weight"),
                     2, s_mc));
        IG_TRY(param(ld, &l->inter_b, fmt_name(nm, sizeof nm, f, i, "intermediate.dense.bias"),
                     1, s_m));
        IG_TRY(param(ld, &l->out_w, fmt_name(nm, sizeof nm, f, i, "output.dense.weight"), 2,
                     s_cm));
        IG_TRY(param(ld, &l->out_b, fmt_name(nm, sizeof nm, f, i, "output.dense.bias"), 1, s_c));
        IG_TRY(param(ld, &l->out_ln_w, fmt_name(nm, sizeof nm, f, i, "output.LayerNorm.weight"),
                     1, s_c));
        IG_TRY(param(ld, &l->out_ln_b, fmt_name(nm, sizeof nm, f, i, "output.LayerNorm.bias"),
                     1, s_c));
    }
    IG_TRY(param(ld, &m->proj0_w, "text.proj.0.weight", 2, s_p0));
    IG_TRY(param(ld, &m->proj2_w, "text.proj.2.weight", 2, s_p2));
    return I2IG_OK;
}

i2ig_status ig_encoder_load_weights(i2ig_encoder *h, i2ig_weights *w, const char *path)
{
    loader ld = {w, path, h->e, 0};
    IG_TRY(read_config(&ld, &h->vit.cfg, &h->bert.cfg));
    /* Dimensions are range-checked: these counts cannot overflow. */
    h->vit.blocks = calloc((size_t)h->vit.cfg.depth, sizeof *h->vit.blocks);
    h->bert.layers = calloc((size_t)h->bert.cfg.depth, sizeof *h->bert.layers);
    if (!h->vit.blocks || !h->bert.layers)
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: encoder layers", path);
    for (ld.load = 0; ld.load < 2; ld.load++) {
        IG_TRY(vit_tensors(&ld, &h->vit));
        IG_TRY(bert_tensors(&ld, &h->bert));
    }
    const char *const *vocab;
    size_t nvocab;
    IG_TRY(i2ig_weights_meta_string_array(w, "text.vocab", &vocab, &nvocab));
    /* The padding mask is built from pad_id (HuggingFace's pad_token_id) and
     * the tokenizer pads with [PAD]: they must be the same token. */
    if (strcmp(vocab[h->bert.cfg.pad_id], "[PAD]") != 0)
        return ig_fail(I2IG_ERR_METADATA, "%s: text.pad_id %d is '%s', not '[PAD]'", path,
                       h->bert.cfg.pad_id, vocab[h->bert.cfg.pad_id]);
    i2ig_status st = ig_wordpiece_create(vocab, nvocab, &h->wp);
    if (st != I2IG_OK) return ig_fail_context(st, "%s: text.vocab", path);
    return I2IG_OK;
}
