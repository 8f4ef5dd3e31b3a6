/* The vision tower: BiomedCLIP preprocessing, patch embedding, pre-norm
 * transformer blocks and the three outputs (taps, class tokens, image
 * embedding) of one pass. Matches timm's VisionTransformer with
 * get_intermediate_layers(norm=True) and open_clip's TimmModel head. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "encoder/vit.h"

int ig_vit_tokens(const ig_vit_config *c)
{
    int g = c->image_size / c->patch_size;
    return g * g;
}

i2ig_status ig_vit_config_check(const ig_vit_config *c, const char *path)
{
    if (c->image_size < 1 || c->image_size > 4096 || c->patch_size < 1 ||
        c->patch_size > c->image_size || c->image_size % c->patch_size)
        return ig_fail(I2IG_ERR_METADATA,
                       "%s: vision image size %d and patch size %d do not fit (1..4096, a "
                       "multiple of the patch)", path, c->image_size, c->patch_size);
    if (c->width < 1 || c->width > 16384 || c->heads < 1 || c->width % c->heads)
        return ig_fail(I2IG_ERR_METADATA, "%s: vision width %d is not a multiple of %d heads",
                       path, c->width, c->heads);
    if (c->depth < 1 || c->depth > 256 || c->mlp_dim < 1 || c->mlp_dim > 65536 ||
        c->embed_dim < 1 || c->embed_dim > 16384)
        return ig_fail(I2IG_ERR_METADATA,
                       "%s: vision depth %d, mlp %d or embedding %d out of range", path, c->depth,
                       c->mlp_dim, c->embed_dim);
    if (!(c->ln_eps > 0.0f) || !(c->ln_eps < 1.0f))
        return ig_fail(I2IG_ERR_METADATA, "%s: vision LayerNorm eps %g out of range", path,
                       (double)c->ln_eps);
    if (c->n_taps < 1 || c->n_taps > IG_VIT_MAX_TAPS)
        return ig_fail(I2IG_ERR_METADATA, "%s: %d vision taps (1..%d)", path, c->n_taps,
                       IG_VIT_MAX_TAPS);
    for (int i = 0; i < c->n_taps; i++)
        if (c->taps[i] < 0 || c->taps[i] >= c->depth)
            return ig_fail(I2IG_ERR_METADATA, "%s: vision tap %d is not a block (0..%d)", path,
                           c->taps[i], c->depth - 1);
    if (c->n_cls < 1 || c->n_cls > c->depth)
        return ig_fail(I2IG_ERR_METADATA, "%s: %d class tokens from %d blocks", path, c->n_cls,
                       c->depth);
    for (int i = 0; i < 3; i++)
        if (!isfinite(c->mean[i]) || !isfinite(c->std[i]) || !(c->std[i] > 0.0f))
            return ig_fail(I2IG_ERR_METADATA, "%s: preprocessing mean/std %d not usable", path, i);
    return I2IG_OK;
}

void ig_vit_resize_dims(const ig_vit_config *c, int h, int w, int *rh, int *rw)
{
    /* torchvision _compute_resized_output_size: int(size * long / short) in
     * double precision, like Python's true division. */
    int s = c->image_size;
    int shorter = w <= h ? w : h, longer = w <= h ? h : w;
    int nl = (int)((double)s * (double)longer / (double)shorter);
    *rw = w <= h ? s : nl;
    *rh = w <= h ? nl : s;
}

/* Python's int(round(d / 2.0)) for an integer d >= 0: halves go to even. */
static int half_round_even(int d)
{
    int k = d / 2;
    if ((d & 1) && (k & 1)) k++;
    return k;
}

/* Grey N,H,W,1 -> normalised N,S,S,3, in the order of the reference
 * (resize, centre crop, tile, normalise). Resizing the grey plane before
 * tiling is the same linear map, three times cheaper. */
static ig_tensor *preprocess(ig_graph *g, const ig_vit_config *c, ig_tensor *x)
{
    int64_t n = x->shape[0];
    int h = (int)x->shape[1], w = (int)x->shape[2], s = c->image_size, rh, rw;
    ig_vit_resize_dims(c, h, w, &rh, &rw);
    ig_tensor *r = (rh == h && rw == w) ? ig_t_retain(x)
                                       : ig_resize(g, x, rh, rw, IG_RESIZE_BICUBIC_AA);
    if (r && rw > s) {
        int64_t sh[3] = {n, rh, rw};
        ig_tensor *v = ig_reshape(g, r, 3, sh);
        ig_swap(&r, ig_slice_last(g, v, half_round_even(rw - s), s));
        ig_t_release(v);
        rw = s;
    }
    if (r && rh > s) {
        /* Whole rows: the crop is one contiguous range per image. */
        int64_t sh[2] = {n, (int64_t)rh * rw};
        ig_tensor *v = ig_reshape(g, r, 2, sh);
        ig_swap(&r, ig_slice_last(g, v, (int64_t)half_round_even(rh - s) * rw, (int64_t)s * rw));
        ig_t_release(v);
    }
    int64_t sq[4] = {n, s, s, 1};
    ig_tensor *sqv = r ? ig_reshape(g, r, 4, sq) : NULL;
    ig_t_release(r);
    float scale[3], shift[3];
    for (int i = 0; i < 3; i++) {
        scale[i] = 1.0f / c->std[i];
        shift[i] = -c->mean[i] / c->std[i];
    }
    ig_tensor *y = sqv ? ig_channel_expand(g, sqv, 3, scale, shift) : NULL;
    ig_t_release(sqv);
    return y;
}

/* Patch embedding, class token, position embedding: N,S,S,3 -> N,1+T,C. */
static ig_tensor *embed(ig_graph *g, const ig_vit *m, ig_tensor *img)
{
    const ig_vit_config *c = &m->cfg;
    int64_t n = img->shape[0], t = ig_vit_tokens(c), cw = c->width;
    /* The stride-P PxP convolution as patchify + one product: each patch
     * laid out as (channel, row, column), PyTorch's weight order. oneDNN's
     * convolution with 3 input channels runs at a quarter of the
     * product's speed. */
    int64_t gs = c->image_size / c->patch_size, ps = c->patch_size, k = 3 * ps * ps;
    int64_t split[6] = {n, gs, ps, gs, ps, 3}, patches[3] = {n, t, k}, w2[2] = {cw, k};
    static const int perm[6] = {0, 1, 3, 5, 2, 4};
    ig_tensor *v = ig_reshape(g, img, 6, split);
    ig_tensor *pm = v ? ig_permute(g, v, perm) : NULL;
    ig_t_release(v);
    ig_tensor *pv = pm ? ig_reshape(g, pm, 3, patches) : NULL;
    ig_t_release(pm);
    ig_tensor *wv = pv ? ig_reshape(g, m->patch_w, 2, w2) : NULL;
    ig_tensor *p = wv ? ig_linear(g, pv, wv, m->patch_b) : NULL;
    ig_t_release(pv);
    ig_t_release(wv);
    int64_t flat[2] = {n, t * cw}, rows[2] = {n, cw}, seq[3] = {n, t + 1, cw};
    ig_tensor *pf = p ? ig_reshape(g, p, 2, flat) : NULL;
    ig_t_release(p);
    ig_tensor *cls = ig_t_new(g, 2, rows);
    if (cls)
        for (int64_t i = 0; i < n; i++)
            memcpy(cls->data + i * cw, m->cls_token->data, (size_t)cw * sizeof(float));
    ig_tensor *cat = (cls && pf) ? ig_concat_last(g, cls, pf) : NULL;
    ig_t_release(cls);
    ig_t_release(pf);
    ig_tensor *x = cat ? ig_reshape(g, cat, 3, seq) : NULL;
    ig_t_release(cat);
    ig_tensor *y = x ? ig_add(g, x, m->pos_embed) : NULL;
    ig_t_release(x);
    return y;
}

/* x + attn(norm1(x)), then + mlp(norm2(.)): one timm Block. */
static ig_tensor *block(ig_graph *g, const ig_vit_config *c, const ig_vit_block *b, ig_tensor *x)
{
    int64_t cw = c->width;
    float scale = 1.0f / sqrtf((float)(cw / c->heads));
    ig_tensor *h = ig_layernorm(g, x, b->norm1_w, b->norm1_b, c->ln_eps);
    ig_tensor *qkv = ig_linear(g, h, b->qkv_w, b->qkv_b);
    ig_t_release(h);
    ig_tensor *q = ig_slice_last(g, qkv, 0, cw);
    ig_tensor *k = ig_slice_last(g, qkv, cw, cw);
    ig_tensor *v = ig_slice_last(g, qkv, 2 * cw, cw);
    ig_t_release(qkv);
    ig_tensor *a = ig_attention(g, q, k, v, c->heads, scale, NULL);
    ig_t_release(q);
    ig_t_release(k);
    ig_t_release(v);
    ig_tensor *o = ig_linear(g, a, b->proj_w, b->proj_b);
    ig_t_release(a);
    ig_tensor *x1 = ig_add(g, x, o);
    ig_t_release(o);
    h = ig_layernorm(g, x1, b->norm2_w, b->norm2_b, c->ln_eps);
    ig_tensor *f = ig_linear(g, h, b->fc1_w, b->fc1_b);
    ig_t_release(h);
    ig_swap(&f, ig_activation(g, f, IG_ACT_GELU, 0.0f));
    ig_swap(&f, ig_linear(g, f, b->fc2_w, b->fc2_b));
    ig_tensor *y = ig_add(g, x1, f);
    ig_t_release(x1);
    ig_t_release(f);
    return y;
}

static int tap_index(const ig_vit_config *c, int blk)
{
    for (int i = 0; i < c->n_taps; i++)
        if (c->taps[i] == blk) return i;
    return -1;
}

/* The final LayerNorm applied to block output x: fills the tap slot (patch
 * tokens) and/or returns the normed class token (N x C). LayerNorm works
 * row by row, so normalising only the class row when no tap needs the
 * patch tokens gives the same numbers. */
static ig_tensor *final_norm(ig_graph *g, const ig_vit *m, ig_tensor *x, ig_tensor **tap,
                             int want_cls)
{
    const ig_vit_config *c = &m->cfg;
    int64_t n = x->shape[0], t = ig_vit_tokens(c), cw = c->width;
    int64_t flat[2] = {n, (t + 1) * cw}, seq[3] = {n, t, cw};
    ig_tensor *cls = NULL;
    if (tap) {
        ig_tensor *nx = ig_layernorm(g, x, m->norm_w, m->norm_b, c->ln_eps);
        ig_tensor *f = nx ? ig_reshape(g, nx, 2, flat) : NULL;
        ig_t_release(nx);
        if (want_cls) cls = f ? ig_slice_last(g, f, 0, cw) : NULL;
        ig_tensor *pt = f ? ig_slice_last(g, f, cw, t * cw) : NULL;
        ig_t_release(f);
        *tap = pt ? ig_reshape(g, pt, 3, seq) : NULL;
        ig_t_release(pt);
    } else if (want_cls) {
        ig_tensor *f = ig_reshape(g, x, 2, flat);
        ig_tensor *row = f ? ig_slice_last(g, f, 0, cw) : NULL;
        ig_t_release(f);
        cls = row ? ig_layernorm(g, row, m->norm_w, m->norm_b, c->ln_eps) : NULL;
        ig_t_release(row);
    }
    return cls;
}

void ig_vit_out_release(ig_vit_out *out)
{
    ig_t_release(out->embedding);
    for (int i = 0; i < IG_VIT_MAX_TAPS; i++) ig_t_release(out->taps[i]);
    ig_t_release(out->cls);
    memset(out, 0, sizeof *out);
}

i2ig_status ig_vit_forward(ig_graph *g, const ig_vit *m, ig_tensor *images, unsigned want,
                           ig_vit_out *out)
{
    const ig_vit_config *c = &m->cfg;
    memset(out, 0, sizeof *out);
    if (!ig_graph_ok(g, 1, images)) return ig_graph_status(g);
    if (images->ndim != 4 || images->shape[3] != 1 || images->shape[1] < 1 ||
        images->shape[2] < 1 || images->shape[1] > IG_VIT_MAX_SIDE ||
        images->shape[2] > IG_VIT_MAX_SIDE) {
        ig_shape_fail(g, "vision tower input (N x H x W x 1, sides 1..16384)", images, NULL);
        return ig_graph_status(g);
    }
    int64_t n = images->shape[0], cw = c->width;
    /* Blocks past the last one an output needs are not run. */
    int last = -1;
    if (want & (IG_VIT_WANT_EMBEDDING | IG_VIT_WANT_CLS)) last = c->depth - 1;
    if (want & IG_VIT_WANT_TAPS)
        for (int i = 0; i < c->n_taps; i++)
            if (c->taps[i] > last) last = c->taps[i];
    if (last < 0) return ig_graph_status(g);

    ig_tensor *clsrows[256] = {0};
    ig_tensor *img = preprocess(g, c, images);
    ig_tensor *x = img ? embed(g, m, img) : NULL;
    ig_t_release(img);
    for (int b = 0; b <= last && x; b++) {
        ig_swap(&x, block(g, c, &m->blocks[b], x));
        if (!x) break;
        int ti = (want & IG_VIT_WANT_TAPS) ? tap_index(c, b) : -1;
        int need_cls = ((want & IG_VIT_WANT_CLS) && b >= c->depth - c->n_cls) ||
                       ((want & IG_VIT_WANT_EMBEDDING) && b == c->depth - 1);
        if (ti < 0 && !need_cls) continue;
        ig_tensor *cls = final_norm(g, m, x, ti >= 0 ? &out->taps[ti] : NULL, need_cls);
        if (need_cls) clsrows[c->depth - 1 - b] = cls;
    }
    ig_t_release(x);
    if ((want & IG_VIT_WANT_EMBEDDING) && clsrows[0])
        out->embedding = ig_linear(g, clsrows[0], m->head_w, NULL);
    if ((want & IG_VIT_WANT_CLS) && clsrows[0]) {
        ig_tensor *acc = ig_t_retain(clsrows[0]);
        for (int i = 1; i < c->n_cls && acc; i++) ig_swap(&acc, ig_concat_last(g, acc, clsrows[i]));
        int64_t sh[3] = {n, c->n_cls, cw};
        out->cls = acc ? ig_reshape(g, acc, 3, sh) : NULL;
        ig_t_release(acc);
    }
    for (int i = 0; i < c->depth && i < 256; i++) ig_t_release(clsrows[i]);
    if (ig_graph_status(g) != I2IG_OK) ig_vit_out_release(out);
    return ig_graph_status(g);
}

i2ig_status ig_vit_backward(ig_graph *g, const ig_vit *m, const ig_vit_out *out,
                            const float *d_embedding, const float *d_taps, const float *d_cls)
{
    const ig_vit_config *c = &m->cfg;
    if (ig_graph_status(g) != I2IG_OK) return ig_graph_status(g);
    ig_tensor *ts[IG_VIT_MAX_TAPS + 2];
    const float *gs[IG_VIT_MAX_TAPS + 2];
    float *owned[IG_VIT_MAX_TAPS + 2] = {0};
    int nt = 0;
    i2ig_status st = I2IG_OK;
    if (d_embedding && out->embedding) {
        ts[nt] = out->embedding;
        gs[nt++] = d_embedding;
    }
    if (d_cls && out->cls) {
        ts[nt] = out->cls;
        gs[nt++] = d_cls;
    }
    /* Tap gradients arrive interleaved per image (N x n_taps x T x C); each
     * tap tensor wants its own N x T x C block. */
    for (int i = 0; d_taps && i < c->n_taps; i++) {
        ig_tensor *t = out->taps[i];
        if (!t) continue;
        float *buf = ig_engine_alloc(g->e, t->numel);
        if (!buf) {
            st = ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "vision tower backward"));
            break;
        }
        int64_t n = t->shape[0];
        size_t one = t->numel / (size_t)n;
        for (int64_t b = 0; b < n; b++)
            memcpy(buf + (size_t)b * one,
                   d_taps + ((size_t)b * (size_t)c->n_taps + (size_t)i) * one, one * sizeof(float));
        owned[nt] = buf;
        ts[nt] = t;
        gs[nt++] = buf;
    }
    if (st == I2IG_OK && nt == 0) ig_graph_clear(g);
    if (st == I2IG_OK && nt > 0) {
        for (int i = 0; i < nt - 1; i++) ig_grad_add(g, ts[i], gs[i]);
        st = ig_backward_from(g, ts[nt - 1], gs[nt - 1]);
    }
    for (int i = 0; i < nt; i++)
        if (owned[i]) ig_engine_release(g->e, owned[i], ts[i]->numel);
    return st;
}

void ig_vit_free(ig_vit *m)
{
    ig_t_release(m->patch_w);
    ig_t_release(m->patch_b);
    ig_t_release(m->cls_token);
    ig_t_release(m->pos_embed);
    if (m->blocks) {
        for (int i = 0; i < m->cfg.depth; i++) {
            ig_vit_block *b = &m->blocks[i];
            ig_tensor *all[] = {b->norm1_w, b->norm1_b, b->qkv_w, b->qkv_b, b->proj_w, b->proj_b,
                                b->norm2_w, b->norm2_b, b->fc1_w, b->fc1_b, b->fc2_w, b->fc2_b};
            for (size_t j = 0; j < sizeof all / sizeof all[0]; j++) ig_t_release(all[j]);
        }
        free(m->blocks);
    }
    ig_t_release(m->norm_w);
    ig_t_release(m->norm_b);
    ig_t_release(m->head_w);
    memset(m, 0, sizeof *m);
}
