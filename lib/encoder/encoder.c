/* The public encoder handle: loading, threads, and the image and text
 * entry points, each a thin shell that validates its arguments, runs a
 * tower on a fresh graph and copies the results out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "encoder/encoder_internal.h"

ig_engine *ig_encoder_engine(const i2ig_encoder *h) { return h->e; }
const ig_vit *ig_encoder_vit(const i2ig_encoder *h) { return &h->vit; }
const ig_bert *ig_encoder_bert(const i2ig_encoder *h) { return &h->bert; }

void i2ig_encoder_free(i2ig_encoder *h)
{
    if (!h) return;
    ig_vit_free(&h->vit);
    ig_bert_free(&h->bert);
    ig_wordpiece_free(h->wp);
    ig_engine_free(h->e);
    free(h);
}

i2ig_status i2ig_encoder_load(const char *path, i2ig_encoder **out)
{
    if (!out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_encoder_load: out is NULL");
    *out = NULL;
    if (!path) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_encoder_load: path is NULL");
    i2ig_weights *w;
    IG_TRY(i2ig_weights_open(path, 0, &w));
    i2ig_encoder *h = calloc(1, sizeof *h);
    i2ig_status st = h ? ig_engine_create(1, &h->e)
                       : ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: encoder handle", path);
    if (st == I2IG_OK) st = ig_encoder_load_weights(h, w, path);
    i2ig_weights_free(w);
    if (st != I2IG_OK) {
        i2ig_encoder_free(h);
        return st;
    }
    *out = h;
    return I2IG_OK;
}

i2ig_status i2ig_encoder_set_threads(i2ig_encoder *h, int threads)
{
    if (!h) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_encoder_set_threads: encoder is NULL");
    if (threads < 1 || threads > 1024)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                       "i2ig_encoder_set_threads: %d threads (1..1024)", threads);
    ig_engine_set_threads(h->e, threads);
    return I2IG_OK;
}

i2ig_status i2ig_encoder_get_info(const i2ig_encoder *h, i2ig_encoder_info *info)
{
    if (!h || !info)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_encoder_get_info: NULL argument");
    /* Version 1 of the struct is the first: there is no smaller one to fill. */
    if (info->struct_size < sizeof *info)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                       "i2ig_encoder_get_info: struct_size %zu, expected at least %zu",
                       info->struct_size, sizeof *info);
    const ig_vit_config *v = &h->vit.cfg;
    const ig_bert_config *t = &h->bert.cfg;
    size_t size = info->struct_size;
    memset(info, 0, sizeof *info);
    info->struct_size = size;
    info->image_size = v->image_size;
    info->patch_size = v->patch_size;
    info->vision_width = v->width;
    info->vision_depth = v->depth;
    info->vision_heads = v->heads;
    info->tokens = ig_vit_tokens(v);
    info->embed_dim = v->embed_dim;
    info->n_taps = v->n_taps;
    for (int i = 0; i < v->n_taps; i++) info->taps[i] = v->taps[i];
    info->n_cls = v->n_cls;
    info->context_length = t->context_length;
    info->text_width = t->width;
    info->text_depth = t->depth;
    info->vocab_size = t->vocab_size;
    return I2IG_OK;
}

/* ---- images -------------------------------------------------------------------- */

static i2ig_status check_images(const char *fn, const float *images, size_t n, size_t width,
                                size_t height)
{
    if (n == 0 || width == 0 || height == 0)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "%s: empty input (%zu images of %zu x %zu)", fn,
                       n, width, height);
    if (width > IG_VIT_MAX_SIDE || height > IG_VIT_MAX_SIDE)
        return ig_fail(I2IG_ERR_TOO_LARGE, "%s: image of %zu x %zu pixels (at most %d per side)",
                       fn, width, height, IG_VIT_MAX_SIDE);
    size_t px;
    if (n > IG_ENCODER_MAX_BATCH || !ig_mul_size(n, width * height, &px) ||
        px > IG_ENCODER_MAX_PIXELS)
        return ig_fail(I2IG_ERR_TOO_LARGE,
                       "%s: %zu images of %zu x %zu pixels (at most %d images, %zu pixels per call)",
                       fn, n, width, height, IG_ENCODER_MAX_BATCH, IG_ENCODER_MAX_PIXELS);
    for (size_t i = 0; i < px; i++)
        if (!isfinite(images[i])) {
            size_t img = i / (width * height), r = i % (width * height);
            return ig_fail(I2IG_ERR_NOT_FINITE, "%s: image %zu, pixel (x %zu, y %zu) is %s", fn,
                           img, r % width, r / width, isnan(images[i]) ? "NaN" : "infinite");
        }
    return I2IG_OK;
}

static void copy_outputs(const i2ig_encoder *h, const ig_vit_out *o, size_t n, float *embedding,
                         float *taps, float *cls)
{
    const ig_vit_config *c = &h->vit.cfg;
    if (embedding) memcpy(embedding, o->embedding->data, o->embedding->numel * sizeof(float));
    if (cls) memcpy(cls, o->cls->data, o->cls->numel * sizeof(float));
    if (taps) {
        size_t one = (size_t)ig_vit_tokens(c) * (size_t)c->width;
        for (size_t b = 0; b < n; b++)
            for (int i = 0; i < c->n_taps; i++)
                memcpy(taps + (b * (size_t)c->n_taps + (size_t)i) * one,
                       o->taps[i]->data + b * one, one * sizeof(float));
    }
}

i2ig_status i2ig_encoder_encode_image(i2ig_encoder *h, const float *images, size_t n,
                                      size_t width, size_t height, float *embedding, float *taps,
                                      float *cls)
{
    static const char fn[] = "i2ig_encoder_encode_image";
    if (!h || !images) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    IG_TRY(check_images(fn, images, n, width, height));
    unsigned want = (embedding ? IG_VIT_WANT_EMBEDDING : 0) | (taps ? IG_VIT_WANT_TAPS : 0) |
                    (cls ? IG_VIT_WANT_CLS : 0);
    if (!want) return I2IG_OK;
    ig_thread_scope scope = ig_engine_enter(h->e);
    ig_graph g;
    ig_graph_init(&g, h->e, false);
    int64_t shape[4] = {(int64_t)n, (int64_t)height, (int64_t)width, 1};
    /* Read only: the tower never writes its input. */
    ig_tensor *x = ig_t_wrap((float *)images, 4, shape);
    ig_vit_out o;
    memset(&o, 0, sizeof o);
    i2ig_status st = x ? ig_vit_forward(&g, &h->vit, x, want, &o)
                       : ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: input tensor", fn);
    if (st == I2IG_OK) copy_outputs(h, &o, n, embedding, taps, cls);
    ig_vit_out_release(&o);
    ig_t_release(x);
    ig_graph_clear(&g);
    ig_engine_leave(scope);
    return st;
}

i2ig_status i2ig_encoder_image_grad(i2ig_encoder *h, const float *images, size_t n, size_t width,
                                    size_t height, const float *d_embedding, const float *d_taps,
                                    const float *d_cls, float *d_images)
{
    static const char fn[] = "i2ig_encoder_image_grad";
    if (!h || !images || !d_images)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    IG_TRY(check_images(fn, images, n, width, height));
    size_t px = n * width * height;
    unsigned want = (d_embedding ? IG_VIT_WANT_EMBEDDING : 0) | (d_taps ? IG_VIT_WANT_TAPS : 0) |
                    (d_cls ? IG_VIT_WANT_CLS : 0);
    if (!want) {
        memset(d_images, 0, px * sizeof(float));
        return I2IG_OK;
    }
    ig_thread_scope scope = ig_engine_enter(h->e);
    ig_graph g;
    ig_graph_init(&g, h->e, true);
    int64_t shape[4] = {(int64_t)n, (int64_t)height, (int64_t)width, 1};
    ig_tensor *x = ig_t_wrap((float *)images, 4, shape);
    ig_vit_out o;
    memset(&o, 0, sizeof o);
    i2ig_status st = I2IG_OK;
    if (!x) st = ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: input tensor", fn);
    if (st == I2IG_OK) {
        x->requires_grad = true;
        st = ig_vit_forward(&g, &h->vit, x, want, &o);
    }
    if (st == I2IG_OK) st = ig_vit_backward(&g, &h->vit, &o, d_embedding, d_taps, d_cls);
    if (st == I2IG_OK) {
        if (x->grad) memcpy(d_images, x->grad->data, px * sizeof(float));
        else memset(d_images, 0, px * sizeof(float));
    }
    ig_vit_out_release(&o);
    ig_graph_clear(&g);
    ig_t_release(x);
    ig_engine_leave(scope);
    return st;
}

/* ---- text ------------------------------------------------------------------------- */

i2ig_status i2ig_encoder_tokenize(const i2ig_encoder *h, const char *prompt, int32_t *ids,
                                  size_t *n_tokens)
{
    if (!h || !prompt || !ids)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_encoder_tokenize: NULL argument");
    return ig_wordpiece_encode(h->wp, prompt, ids, (size_t)h->bert.cfg.context_length, n_tokens);
}

i2ig_status i2ig_encoder_encode_text(i2ig_encoder *h, const char *prompt, float *context,
                                     float *embedding)
{
    if (!h || !prompt)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_encoder_encode_text: NULL argument");
    size_t L = (size_t)h->bert.cfg.context_length;
    int32_t *ids = malloc(L * sizeof *ids);
    if (!ids) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "i2ig_encoder_encode_text: token ids");
    i2ig_status st = i2ig_encoder_tokenize(h, prompt, ids, NULL);
    if (st != I2IG_OK || (!context && !embedding)) {
        free(ids);
        return st;
    }
    ig_thread_scope scope = ig_engine_enter(h->e);
    ig_graph g;
    ig_graph_init(&g, h->e, false);
    ig_tensor *ctx = NULL, *emb = NULL;
    st = ig_bert_forward(&g, &h->bert, ids, 1, context ? &ctx : NULL, embedding ? &emb : NULL);
    if (st == I2IG_OK && context) memcpy(context, ctx->data, ctx->numel * sizeof(float));
    if (st == I2IG_OK && embedding) memcpy(embedding, emb->data, emb->numel * sizeof(float));
    ig_t_release(ctx);
    ig_t_release(emb);
    ig_graph_clear(&g);
    ig_engine_leave(scope);
    free(ids);
    return st;
}
