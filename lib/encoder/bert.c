/* The text tower: BERT embeddings, post-norm encoder layers with the
 * padding mask HuggingFace builds from the ids, and the MLP projection of
 * the [CLS] state. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "encoder/bert.h"

i2ig_status ig_bert_config_check(const ig_bert_config *c, const char *path)
{
    if (c->vocab_size < 4 || c->vocab_size > 10000000)
        return ig_fail(I2IG_ERR_METADATA, "%s: text vocabulary of %d tokens (4..10000000)", path,
                       c->vocab_size);
    if (c->width < 1 || c->width > 16384 || c->heads < 1 || c->width % c->heads)
        return ig_fail(I2IG_ERR_METADATA, "%s: text width %d is not a multiple of %d heads", path,
                       c->width, c->heads);
    if (c->depth < 1 || c->depth > 256 || c->mlp_dim < 1 || c->mlp_dim > 65536 ||
        c->proj_hidden < 1 || c->proj_hidden > 65536 || c->embed_dim < 1 ||
        c->embed_dim > 16384)
        return ig_fail(I2IG_ERR_METADATA,
                       "%s: text depth %d, mlp %d, projection %d or embedding %d out of range", path,
                       c->depth, c->mlp_dim, c->proj_hidden, c->embed_dim);
    if (c->max_positions < 1 || c->max_positions > 65536 || c->context_length < 2 ||
        c->context_length > c->max_positions)
        return ig_fail(I2IG_ERR_METADATA,
                       "%s: text context length %d does not fit %d positions", path,
                       c->context_length, c->max_positions);
    if (c->type_vocab < 1 || c->type_vocab > 65536)
        return ig_fail(I2IG_ERR_METADATA, "%s: %d token types", path, c->type_vocab);
    if (c->pad_id < 0 || c->pad_id >= c->vocab_size)
        return ig_fail(I2IG_ERR_METADATA, "%s: padding id %d outside the vocabulary", path,
                       c->pad_id);
    if (!(c->ln_eps > 0.0f) || !(c->ln_eps < 1.0f))
        return ig_fail(I2IG_ERR_METADATA, "%s: text LayerNorm eps %g out of range", path,
                       (double)c->ln_eps);
    return I2IG_OK;
}

/* Self-attention sublayer and feed-forward sublayer, each followed by
 * residual + LayerNorm (BertLayer). */
static ig_tensor *layer(ig_graph *g, const ig_bert_config *c, const ig_bert_layer *l,
                        ig_tensor *x, const float *key_bias)
{
    int64_t cw = c->width;
    float scale = 1.0f / sqrtf((float)(cw / c->heads));
    ig_tensor *qkv = ig_linear(g, x, l->qkv_w, l->qkv_b);
    ig_tensor *q = ig_slice_last(g, qkv, 0, cw);
    ig_tensor *k = ig_slice_last(g, qkv, cw, cw);
    ig_tensor *v = ig_slice_last(g, qkv, 2 * cw, cw);
    ig_t_release(qkv);
    ig_tensor *a = ig_attention(g, q, k, v, c->heads, scale, key_bias);
    ig_t_release(q);
    ig_t_release(k);
    ig_t_release(v);
    ig_swap(&a, ig_linear(g, a, l->attn_out_w, l->attn_out_b));
    ig_swap(&a, ig_add(g, a, x));
    ig_tensor *x1 = ig_layernorm(g, a, l->attn_ln_w, l->attn_ln_b, c->ln_eps);
    ig_t_release(a);
    ig_tensor *f = ig_linear(g, x1, l->inter_w, l->inter_b);
    ig_swap(&f, ig_activation(g, f, IG_ACT_GELU, 0.0f));
    ig_swap(&f, ig_linear(g, f, l->out_w, l->out_b));
    ig_swap(&f, ig_add(g, f, x1));
    ig_t_release(x1);
    ig_tensor *y = ig_layernorm(g, f, l->out_ln_w, l->out_ln_b, c->ln_eps);
    ig_t_release(f);
    return y;
}

i2ig_status ig_bert_forward(ig_graph *g, const ig_bert *m, const int32_t *ids, int n,
                            ig_tensor **context, ig_tensor **embedding)
{
    const ig_bert_config *c = &m->cfg;
    if (context) *context = NULL;
    if (embedding) *embedding = NULL;
    if (ig_graph_status(g) != I2IG_OK) return ig_graph_status(g);
    int64_t L = c->context_length, cw = c->width;
    size_t ntok;
    if (n < 1 || !ig_mul_size((size_t)n, (size_t)L, &ntok) || ntok > INT32_MAX)
        return ig_graph_fail(g, ig_fail(I2IG_ERR_INVALID_ARGUMENT, "text tower: %d prompts", n));
    int *tok = malloc(ntok * sizeof *tok);
    float *bias = ig_engine_alloc(g->e, ntok);
    if (!tok || !bias) {
        free(tok);
        if (bias) ig_engine_release(g->e, bias, ntok);
        return ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "text tower"));
    }
    for (size_t i = 0; i < ntok; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab_size) {
            free(tok);
            ig_engine_release(g->e, bias, ntok);
            return ig_graph_fail(g, ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                                            "text tower: token id %d outside the vocabulary "
                                            "(0..%d)", (int)ids[i], c->vocab_size - 1));
        }
        tok[i] = ids[i];
        /* HuggingFace: (1 - mask) * torch.finfo(float32).min */
        bias[i] = ids[i] == c->pad_id ? -FLT_MAX : 0.0f;
    }
    ig_tensor *e = ig_embedding(g, m->word, tok, (int)ntok);
    free(tok);
    int64_t seq[3] = {n, L, cw};
    ig_tensor *x = e ? ig_reshape(g, e, 3, seq) : NULL;
    ig_t_release(e);
    /* (word + token type) + position, in BertEmbeddings' order. */
    if (x) ig_swap(&x, ig_add(g, x, m->type0));
    if (x) ig_swap(&x, ig_add(g, x, m->pos));
    if (x) ig_swap(&x, ig_layernorm(g, x, m->emb_ln_w, m->emb_ln_b, c->ln_eps));
    for (int i = 0; i < c->depth && x; i++) ig_swap(&x, layer(g, c, &m->layers[i], x, bias));
    if (x && embedding) {
        int64_t flat[2] = {n, L * cw};
        ig_tensor *f = ig_reshape(g, x, 2, flat);
        ig_tensor *cls = f ? ig_slice_last(g, f, 0, cw) : NULL;
        ig_t_release(f);
        ig_tensor *h = cls ? ig_linear(g, cls, m->proj0_w, NULL) : NULL;
        ig_t_release(cls);
        if (h) ig_swap(&h, ig_activation(g, h, IG_ACT_GELU, 0.0f));
        if (h) ig_swap(&h, ig_linear(g, h, m->proj2_w, NULL));
        *embedding = h;
    }
    ig_engine_release(g->e, bias, ntok);
    if (context) *context = x;
    else ig_t_release(x);
    if (ig_graph_status(g) != I2IG_OK) {
        if (context) ig_swap(context, NULL);
        if (embedding) ig_swap(embedding, NULL);
    }
    return ig_graph_status(g);
}

void ig_bert_free(ig_bert *m)
{
    ig_tensor *top[] = {m->word, m->pos, m->type0, m->emb_ln_w, m->emb_ln_b, m->proj0_w,
                        m->proj2_w};
    for (size_t j = 0; j < sizeof top / sizeof top[0]; j++) ig_t_release(top[j]);
    if (m->layers) {
        for (int i = 0; i < m->cfg.depth; i++) {
            ig_bert_layer *l = &m->layers[i];
            ig_tensor *all[] = {l->qkv_w,     l->qkv_b,     l->attn_out_w, l->attn_out_b,
                                l->attn_ln_w, l->attn_ln_b, l->inter_w,    l->inter_b,
                                l->out_w,     l->out_b,     l->out_ln_w,   l->out_ln_b};
            for (size_t j = 0; j < sizeof all / sizeof all[0]; j++) ig_t_release(all[j]);
        }
        free(m->layers);
    }
    memset(m, 0, sizeof *m);
}
