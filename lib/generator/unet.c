/* U-Net structure (the reference's module tree and parameter names) and its
 * forward pass on channels-last tensors. */
#include "generator/unet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ops.h"

/* Two tensors derived from weights for inference, valid while key (the
 * uids and versions they came from) is unchanged: a decoder block's 1x1
 * skip weight split into its column blocks [0, c1) and [c1, cin) (key: c1,
 * uid, version), a cross-attention's keys and values of a domain's prompt
 * context (key: the context's and both weights' uids and versions). */
typedef struct derived_pair {
    uint64_t key[6];
    ig_tensor *t[2];
} derived_pair;

typedef struct resblock {
    int cin, cout, updown; /* updown: 0, -1 (avg-pool 2), +1 (nearest x2) */
    ig_tensor *gn1_w, *gn1_b, *conv1_w, *conv1_b, *emb_w, *emb_b;
    ig_tensor *gn2_w, *gn2_b, *conv2_w, *conv2_b, *skip_w, *skip_b;
    derived_pair split;
} resblock;

typedef struct attn_weights {
    ig_tensor *q, *k, *v, *o_w, *o_b;
    derived_pair kv;
} attn_weights;

typedef struct stblock {
    int ch, heads;
    ig_tensor *gn_w, *gn_b, *pin_w, *pin_b;
    attn_weights a1, a2;
    ig_tensor *ff1_w, *ff1_b, *ff2_w, *ff2_b;
    ig_tensor *ln_w[3], *ln_b[3];
    ig_tensor *pout_w, *pout_b;
} stblock;

enum { L_CONV = 1, L_RES, L_ST };

typedef struct layer {
    int kind;
    resblock res;
    stblock st;
    ig_tensor *conv_w, *conv_b;
} layer;

typedef struct block {
    int n;
    layer l[3];
} block;

struct ig_unet {
    ig_unet_cfg cfg;
    ig_params params;
    ig_tensor *label_emb;
    block *in;
    int n_in;
    block mid;
    block *out;
    int n_out;
    ig_tensor *out_gn_w, *out_gn_b, *out_conv_w, *out_conv_b;
};

ig_unet_cfg ig_unet_paper_cfg(void)
{
    ig_unet_cfg c;
    memset(&c, 0, sizeof c);
    c.in_channels = 1;
    c.out_channels = 1;
    c.model_channels = 32;
    c.n_levels = 6;
    const int mult[6] = {1, 1, 2, 2, 4, 4};
    memcpy(c.channel_mult, mult, sizeof mult);
    c.num_res_blocks = 2;
    c.n_attn = 3;
    c.attention_ds[0] = 8;
    c.attention_ds[1] = 16;
    c.attention_ds[2] = 32;
    c.head_channels = 32;
    c.context_dim = 768;
    c.num_classes = 3;
    c.groups = 32;
    c.gn_eps = 1e-5f;
    c.st_gn_eps = 1e-6f;
    c.ln_eps = 1e-5f;
    return c;
}

int ig_unet_size_multiple(const ig_unet_cfg *c) { return 1 << (c->n_levels - 1); }

static bool has_attn(const ig_unet_cfg *c, int ds)
{
    for (int i = 0; i < c->n_attn; i++)
        if (c->attention_ds[i] == ds) return true;
    return false;
}

i2ig_status ig_unet_check_cfg(const ig_unet_cfg *c)
{
#define BAD(...) return ig_fail(I2IG_ERR_METADATA, "generator configuration: " __VA_ARGS__)
    if (c->in_channels < 1 || c->in_channels > 16 || c->out_channels < 1 || c->out_channels > 16)
        BAD("in/out channels %d/%d outside 1..16", c->in_channels, c->out_channels);
    if (c->model_channels < 1 || c->model_channels > 4096) BAD("model_channels %d", c->model_channels);
    if (c->n_levels < 1 || c->n_levels > IG_UNET_MAX_LEVELS) BAD("%d levels", c->n_levels);
    if (c->num_res_blocks < 1 || c->num_res_blocks > IG_UNET_MAX_RES_BLOCKS)
        BAD("num_res_blocks %d", c->num_res_blocks);
    if (c->groups < 1) BAD("groups %d", c->groups);
    if (c->head_channels < 1) BAD("head_channels %d", c->head_channels);
    if (c->context_dim < 1 || c->context_dim > 8192) BAD("context_dim %d", c->context_dim);
    if (c->num_classes < 1 || c->num_classes > 1024) BAD("num_classes %d", c->num_classes);
    if (c->n_attn < 0 || c->n_attn > IG_UNET_MAX_LEVELS) BAD("%d attention levels", c->n_attn);
    if (!(c->gn_eps > 0) || !(c->st_gn_eps > 0) || !(c->ln_eps > 0)) BAD("non-positive epsilon");
    if (c->model_channels % c->groups) BAD("model_channels %d not divisible by %d groups", c->model_channels, c->groups);
    for (int l = 0; l < c->n_levels; l++) {
        int m = c->channel_mult[l];
        if (m < 1 || m > 64) BAD("channel_mult[%d] = %d", l, m);
        int ch = m * c->model_channels;
        if (ch % c->groups) BAD("%d channels not divisible by %d groups", ch, c->groups);
        if (has_attn(c, 1 << l) && ch % c->head_channels)
            BAD("%d channels not divisible into heads of %d", ch, c->head_channels);
    }
#undef BAD
    return I2IG_OK;
}

/* ---- construction -------------------------------------------------------------- */

static ig_tensor *vec(ig_params *p, int n, const char *pre, const char *name)
{
    int64_t s[1] = {n};
    return ig_params_add(p, 1, s, "%s.%s", pre, name);
}

static ig_tensor *mat(ig_params *p, int o, int i, const char *pre, const char *name)
{
    int64_t s[2] = {o, i};
    return ig_params_add(p, 2, s, "%s.%s", pre, name);
}

static ig_tensor *conv(ig_params *p, int o, int i, int k, const char *pre, const char *name)
{
    int64_t s[4] = {o, i, k, k};
    return ig_params_add(p, 4, s, "%s.%s", pre, name);
}

static void make_res(ig_params *p, const ig_unet_cfg *c, resblock *r, int cin, int cout, int updown,
                     const char *pre)
{
    int emb = 4 * c->model_channels;
    r->cin = cin;
    r->cout = cout;
    r->updown = updown;
    r->gn1_w = vec(p, cin, pre, "in_layers.0.weight");
    r->gn1_b = vec(p, cin, pre, "in_layers.0.bias");
    r->conv1_w = conv(p, cout, cin, 3, pre, "in_layers.2.weight");
    r->conv1_b = vec(p, cout, pre, "in_layers.2.bias");
    r->emb_w = mat(p, cout, emb, pre, "emb_layers.1.weight");
    r->emb_b = vec(p, cout, pre, "emb_layers.1.bias");
    r->gn2_w = vec(p, cout, pre, "out_layers.0.weight");
    r->gn2_b = vec(p, cout, pre, "out_layers.0.bias");
    r->conv2_w = conv(p, cout, cout, 3, pre, "out_layers.3.weight");
    r->conv2_b = vec(p, cout, pre, "out_layers.3.bias");
    if (cin != cout) {
        r->skip_w = conv(p, cout, cin, 1, pre, "skip_connection.weight");
        r->skip_b = vec(p, cout, pre, "skip_connection.bias");
    }
}

static void make_attn(ig_params *p, attn_weights *a, int ch, int ctx, const char *pre,
                      const char *which)
{
    char b[256];
    snprintf(b, sizeof b, "%s.transformer_blocks.0.%s", pre, which);
    a->q = mat(p, ch, ch, b, "to_q.weight");
    a->k = mat(p, ch, ctx, b, "to_k.weight");
    a->v = mat(p, ch, ctx, b, "to_v.weight");
    a->o_w = mat(p, ch, ch, b, "to_out.0.weight");
    a->o_b = vec(p, ch, b, "to_out.0.bias");
}

static void make_st(ig_params *p, const ig_unet_cfg *c, stblock *s, int ch, const char *pre)
{
    char b[256];
    s->ch = ch;
    s->heads = ch / c->head_channels;
    s->gn_w = vec(p, ch, pre, "norm.weight");
    s->gn_b = vec(p, ch, pre, "norm.bias");
    s->pin_w = conv(p, ch, ch, 1, pre, "proj_in.weight");
    s->pin_b = vec(p, ch, pre, "proj_in.bias");
    make_attn(p, &s->a1, ch, ch, pre, "attn1");
    snprintf(b, sizeof b, "%s.transformer_blocks.0.ff.net", pre);
    s->ff1_w = mat(p, 8 * ch, ch, b, "0.proj.weight");
    s->ff1_b = vec(p, 8 * ch, b, "0.proj.bias");
    s->ff2_w = mat(p, ch, 4 * ch, b, "2.weight");
    s->ff2_b = vec(p, ch, b, "2.bias");
    make_attn(p, &s->a2, ch, c->context_dim, pre, "attn2");
    for (int i = 0; i < 3; i++) {
        char n[64];
        snprintf(b, sizeof b, "%s.transformer_blocks.0", pre);
        snprintf(n, sizeof n, "norm%d.weight", i + 1);
        s->ln_w[i] = vec(p, ch, b, n);
        snprintf(n, sizeof n, "norm%d.bias", i + 1);
        s->ln_b[i] = vec(p, ch, b, n);
    }
    s->pout_w = conv(p, ch, ch, 1, pre, "proj_out.weight");
    s->pout_b = vec(p, ch, pre, "proj_out.bias");
}

/* Builds the module tree; with count_only its parameter table allocates
 * nothing and only sums the sizes (ig_unet_count_params). */
static i2ig_status build(const ig_unet_cfg *c, ig_engine *e, bool count_only, ig_unet **out)
{
    *out = NULL;
    IG_TRY(ig_unet_check_cfg(c));
    ig_unet *u = calloc(1, sizeof *u);
    int levels = c->n_levels, nrb = c->num_res_blocks;
    int n_in = 1 + levels * nrb + (levels - 1), n_out = levels * (nrb + 1);
    if (u) {
        u->in = calloc((size_t)n_in, sizeof *u->in);
        u->out = calloc((size_t)n_out, sizeof *u->out);
    }
    if (!u || !u->in || !u->out) {
        if (u) {
            free(u->in);
            free(u->out);
            free(u);
        }
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "generator");
    }
    u->cfg = *c;
    ig_params *p = &u->params;
    if (count_only) ig_params_init_count(p);
    else ig_params_init(p, e);
    char pre[128];
    int mc = c->model_channels, emb = 4 * mc;
    {
        int64_t s[2] = {c->num_classes, emb};
        u->label_emb = ig_params_add(p, 2, s, "label_emb.weight");
    }
    /* input blocks */
    int bi = 0, ch = mc, ds = 1;
    int chans[1 + IG_UNET_MAX_LEVELS * (IG_UNET_MAX_RES_BLOCKS + 1)], nch = 0;
    u->in[bi].n = 1;
    u->in[bi].l[0].kind = L_CONV;
    u->in[bi].l[0].conv_w = conv(p, mc, c->in_channels, 3, "input_blocks.0", "0.weight");
    u->in[bi].l[0].conv_b = vec(p, mc, "input_blocks.0", "0.bias");
    chans[nch++] = mc;
    bi++;
    for (int l = 0; l < levels; l++) {
        for (int r = 0; r < nrb; r++) {
            block *b = &u->in[bi];
            int cout = c->channel_mult[l] * mc;
            snprintf(pre, sizeof pre, "input_blocks.%d.0", bi);
            b->l[b->n].kind = L_RES;
            make_res(p, c, &b->l[b->n++].res, ch, cout, 0, pre);
            ch = cout;
            if (has_attn(c, ds)) {
                snprintf(pre, sizeof pre, "input_blocks.%d.1", bi);
                b->l[b->n].kind = L_ST;
                make_st(p, c, &b->l[b->n++].st, ch, pre);
            }
            chans[nch++] = ch;
            bi++;
        }
        if (l != levels - 1) {
            block *b = &u->in[bi];
            snprintf(pre, sizeof pre, "input_blocks.%d.0", bi);
            b->l[b->n].kind = L_RES;
            make_res(p, c, &b->l[b->n++].res, ch, ch, -1, pre);
            chans[nch++] = ch;
            ds *= 2;
            bi++;
        }
    }
    u->n_in = bi;
    /* middle */
    u->mid.n = 3;
    u->mid.l[0].kind = L_RES;
    make_res(p, c, &u->mid.l[0].res, ch, ch, 0, "middle_block.0");
    u->mid.l[1].kind = L_ST;
    make_st(p, c, &u->mid.l[1].st, ch, "middle_block.1");
    u->mid.l[2].kind = L_RES;
    make_res(p, c, &u->mid.l[2].res, ch, ch, 0, "middle_block.2");
    /* output blocks */
    int bo = 0;
    for (int l = levels - 1; l >= 0; l--) {
        for (int i = 0; i <= nrb; i++) {
            block *b = &u->out[bo];
            int ich = chans[--nch], cout = mc * c->channel_mult[l];
            snprintf(pre, sizeof pre, "output_blocks.%d.0", bo);
            b->l[b->n].kind = L_RES;
            make_res(p, c, &b->l[b->n++].res, ch + ich, cout, 0, pre);
            ch = cout;
            if (has_attn(c, ds)) {
                snprintf(pre, sizeof pre, "output_blocks.%d.%d", bo, b->n);
                b->l[b->n].kind = L_ST;
                make_st(p, c, &b->l[b->n++].st, ch, pre);
            }
            if (l && i == nrb) {
                snprintf(pre, sizeof pre, "output_blocks.%d.%d", bo, b->n);
                b->l[b->n].kind = L_RES;
                make_res(p, c, &b->l[b->n++].res, ch, ch, +1, pre);
                ds /= 2;
            }
            bo++;
        }
    }
    u->n_out = bo;
    u->out_gn_w = vec(p, ch, "out", "0.weight");
    u->out_gn_b = vec(p, ch, "out", "0.bias");
    u->out_conv_w = conv(p, c->out_channels, mc, 3, "out", "2.weight");
    u->out_conv_b = vec(p, c->out_channels, "out", "2.bias");
    if (p->status != I2IG_OK) {
        i2ig_status st = p->status;
        ig_unet_free(u);
        return st;
    }
    *out = u;
    return I2IG_OK;
}

i2ig_status ig_unet_count_params(const ig_unet_cfg *c, uint64_t *n)
{
    ig_unet *u;
    IG_TRY(build(c, NULL, true, &u));
    *n = u->params.counted;
    ig_unet_free(u);
    return I2IG_OK;
}

i2ig_status ig_unet_create(const ig_unet_cfg *c, ig_engine *e, ig_unet **out)
{
    *out = NULL;
    uint64_t n;
    IG_TRY(ig_unet_count_params(c, &n));
    if (n > IG_MAX_MODEL_PARAMS)
        return ig_fail(I2IG_ERR_TOO_LARGE,
                       "generator configuration: %llu parameters (at most %llu are built)",
                       (unsigned long long)n, (unsigned long long)IG_MAX_MODEL_PARAMS);
    return build(c, e, false, out);
}

static void derived_pair_clear(derived_pair *d)
{
    ig_t_release(d->t[0]);
    ig_t_release(d->t[1]);
    memset(d, 0, sizeof *d);
}

static void blocks_clear_caches(block *b, int n)
{
    for (int i = 0; b && i < n; i++)
        for (int j = 0; j < b[i].n; j++) {
            if (b[i].l[j].kind == L_ST) derived_pair_clear(&b[i].l[j].st.a2.kv);
            if (b[i].l[j].kind == L_RES) derived_pair_clear(&b[i].l[j].res.split);
        }
}

void ig_unet_free(ig_unet *u)
{
    if (!u) return;
    blocks_clear_caches(u->in, u->n_in);
    blocks_clear_caches(&u->mid, 1);
    blocks_clear_caches(u->out, u->n_out);
    ig_params_free(&u->params);
    free(u->in);
    free(u->out);
    free(u);
}

const ig_unet_cfg *ig_unet_cfg_of(const ig_unet *u) { return &u->cfg; }
ig_params *ig_unet_params(ig_unet *u) { return &u->params; }

/* ---- initialisation ---------------------------------------------------------------- */

static void fill_normal(ig_tensor *t, ig_rng *r, double std)
{
    for (size_t i = 0; i < t->numel; i++) t->data[i] = (float)(ig_rng_normal(r) * std);
}

static void fill_uniform(ig_tensor *t, ig_rng *r, double bound)
{
    for (size_t i = 0; i < t->numel; i++) t->data[i] = (float)((2 * ig_rng_uniform(r) - 1) * bound);
}

static void fill_const(ig_tensor *t, float v)
{
    if (!t) return;
    for (size_t i = 0; i < t->numel; i++) t->data[i] = v;
}

/* Conv: Xavier-normal gain 0.02; bias PyTorch default, or 0 (zeroed). */
static void init_conv(ig_tensor *w, ig_tensor *b, int zero_bias, ig_rng *r)
{
    if (!w) return;
    int64_t rf = w->shape[2] * w->shape[3];
    double fan_in = (double)(w->shape[1] * rf), fan_out = (double)(w->shape[0] * rf);
    fill_normal(w, r, 0.02 * sqrt(2.0 / (fan_in + fan_out)));
    if (zero_bias) fill_const(b, 0.0f);
    else fill_uniform(b, r, 1.0 / sqrt(fan_in));
}

static void init_linear(ig_tensor *w, ig_tensor *b, ig_rng *r)
{
    double fan_in = (double)w->shape[1], fan_out = (double)w->shape[0];
    fill_uniform(w, r, sqrt(6.0 / (fan_in + fan_out)));
    fill_const(b, 0.0f);
}

static void init_res(resblock *rb, ig_rng *r)
{
    fill_const(rb->gn1_w, 1);
    fill_const(rb->gn1_b, 0);
    init_conv(rb->conv1_w, rb->conv1_b, 0, r);
    init_linear(rb->emb_w, rb->emb_b, r);
    fill_const(rb->gn2_w, 1);
    fill_const(rb->gn2_b, 0);
    init_conv(rb->conv2_w, rb->conv2_b, 1, r);
    init_conv(rb->skip_w, rb->skip_b, 0, r);
}

static void init_attn(attn_weights *a, ig_rng *r)
{
    init_linear(a->q, NULL, r);
    init_linear(a->k, NULL, r);
    init_linear(a->v, NULL, r);
    init_linear(a->o_w, a->o_b, r);
}

static void init_st(stblock *s, ig_rng *r)
{
    fill_const(s->gn_w, 1);
    fill_const(s->gn_b, 0);
    init_conv(s->pin_w, s->pin_b, 0, r);
    init_attn(&s->a1, r);
    init_linear(s->ff1_w, s->ff1_b, r);
    init_linear(s->ff2_w, s->ff2_b, r);
    init_attn(&s->a2, r);
    for (int i = 0; i < 3; i++) {
        fill_const(s->ln_w[i], 1);
        fill_const(s->ln_b[i], 0);
    }
    init_conv(s->pout_w, s->pout_b, 1, r);
}

static void init_block(block *b, ig_rng *r)
{
    for (int i = 0; i < b->n; i++) {
        layer *l = &b->l[i];
        if (l->kind == L_CONV) init_conv(l->conv_w, l->conv_b, 0, r);
        else if (l->kind == L_RES) init_res(&l->res, r);
        else init_st(&l->st, r);
    }
}

void ig_unet_init_random(ig_unet *u, ig_rng *r)
{
    fill_normal(u->label_emb, r, 1.0);
    for (int i = 0; i < u->n_in; i++) init_block(&u->in[i], r);
    init_block(&u->mid, r);
    for (int i = 0; i < u->n_out; i++) init_block(&u->out[i], r);
    fill_const(u->out_gn_w, 1);
    fill_const(u->out_gn_b, 0);
    init_conv(u->out_conv_w, u->out_conv_b, 1, r);
    ig_params_touch(&u->params);
}

/* ---- forward ------------------------------------------------------------------------ */

/* A 1x1 convolution on channels-last data is a linear layer over pixels. */
static ig_tensor *conv1x1(ig_graph *g, ig_tensor *x, ig_tensor *w, ig_tensor *b)
{
    int64_t s[2] = {w->shape[0], w->shape[1]};
    ig_tensor *wl = ig_reshape(g, w, 2, s);
    ig_tensor *y = ig_linear(g, x, wl, b);
    ig_t_release(wl);
    return y;
}

/* Columns [c0, c0 + n) of the out x in matrix w as a new dense matrix. */
static ig_tensor *columns(ig_graph *g, const ig_tensor *w, int64_t c0, int64_t n)
{
    int64_t out = w->shape[0], in = w->shape[1], shape[2] = {out, n};
    ig_tensor *t = ig_t_param(g->e, 2, shape);
    if (!t) {
        ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "skip projection"));
        return NULL;
    }
    for (int64_t o = 0; o < out; o++)
        memcpy(t->data + o * n, w->data + o * in + c0, (size_t)n * sizeof(float));
    return t;
}

/* The decoder's 1x1 skip projection of [a | b] (inference only). */
static ig_tensor *conv1x1_cat(ig_graph *g, resblock *r, ig_tensor *a, ig_tensor *b)
{
    ig_tensor *w = r->skip_w;
    int64_t c1 = a->shape[a->ndim - 1], cin = w->shape[1];
    const uint64_t key[6] = {(uint64_t)c1, w->uid, w->version};
    derived_pair *sc = &r->split;
    if (!sc->t[0] || memcmp(key, sc->key, sizeof key) != 0) {
        derived_pair_clear(sc);
        int64_t s[2] = {w->shape[0], cin};
        ig_tensor *wl = ig_reshape(g, w, 2, s);
        sc->t[0] = wl && c1 < cin ? columns(g, wl, 0, c1) : NULL;
        sc->t[1] = sc->t[0] ? columns(g, wl, c1, cin - c1) : NULL;
        ig_t_release(wl);
        if (!sc->t[1]) {
            derived_pair_clear(sc);
            if (g->status == I2IG_OK) ig_shape_fail(g, "skip projection", a, w);
            return NULL;
        }
        memcpy(sc->key, key, sizeof key);
    }
    return ig_linear_cat(g, a, b, sc->t[0], sc->t[1], r->skip_b);
}

/* Between the two normalisations of a ResBlock: h (GroupNorm + SiLU of the
 * input, resampled) -> conv1 + Linear(SiLU(emb)) -> GroupNorm + SiLU.
 * Consumes h. */
static ig_tensor *res_middle(ig_graph *g, const ig_unet_cfg *c, resblock *r, ig_tensor *h,
                             ig_tensor *semb)
{
    /* + Linear(SiLU(emb)) broadcast over the pixels. Without a tape and for
     * one image it is a per-channel constant: folded into the convolution's
     * bias, which saves a pass over the feature map. (Folding it on a tape
     * too is equivalent in exact arithmetic and saves that pass in training,
     * but its different rounding sent the bundled demo recipe, which is
     * chaotic from about step 16, into a degenerate run: identity loss ~0.8
     * throughout; the demo is trained without it.) */
    ig_tensor *e = ig_linear(g, semb, r->emb_w, r->emb_b);
    if (e && e->shape[0] == 1 && !g->recording) {
        int64_t s1[1] = {e->shape[1]};
        ig_swap(&e, ig_reshape(g, e, 1, s1));
        ig_swap(&e, ig_add(g, e, r->conv1_b));
        ig_swap(&h, ig_conv2d(g, h, r->conv1_w, e, 1, 1));
    } else {
        ig_swap(&h, ig_conv2d(g, h, r->conv1_w, r->conv1_b, 1, 1));
        if (e) {
            int64_t s4[4] = {e->shape[0], 1, 1, e->shape[1]};
            ig_swap(&e, ig_reshape(g, e, 4, s4));
        }
        ig_swap(&h, ig_add(g, h, e));
    }
    ig_t_release(e);
    ig_swap(&h, ig_groupnorm(g, h, r->gn2_w, r->gn2_b, c->groups, c->gn_eps, 1));
    return h;
}

static ig_tensor *res_forward(ig_graph *g, const ig_unet_cfg *c, resblock *r, ig_tensor *x,
                              ig_tensor *semb)
{
    ig_tensor *h = ig_groupnorm(g, x, r->gn1_w, r->gn1_b, c->groups, c->gn_eps, 1);
    ig_tensor *xs = ig_t_retain(x);
    if (r->updown < 0) {
        ig_swap(&h, ig_avgpool2(g, h));
        ig_swap(&xs, ig_avgpool2(g, xs));
    } else if (r->updown > 0) {
        ig_swap(&h, ig_upsample2(g, h));
        ig_swap(&xs, ig_upsample2(g, xs));
    }
    h = res_middle(g, c, r, h, semb);
    if (r->skip_w) ig_swap(&xs, conv1x1(g, xs, r->skip_w, r->skip_b));
    /* skip + conv2(h); accumulates into the projected skip when it can */
    ig_tensor *y = ig_conv2d_residual(g, h, r->conv2_w, r->conv2_b, 1, 1, xs);
    ig_t_release(h);
    return y;
}

/* A decoder ResBlock on [x | skip]; takes over both references. Without a
 * tape the concatenation is never formed: GroupNorm and the 1x1 skip
 * projection read both parts (the concatenations took 12 ms of a 256^2
 * pass of the paper generator, the split projection costs back 2), and the
 * parts go as soon as the projection has read them. */
static ig_tensor *res_forward_cat(ig_graph *g, const ig_unet_cfg *c, resblock *r, ig_tensor *x,
                                  ig_tensor *skip, ig_tensor *semb)
{
    ig_tensor *deps[6] = {x, skip, r->gn1_w, r->gn1_b, r->skip_w, r->skip_b};
    if (r->updown || !r->skip_w || ig_needs_tape(g, 6, deps)) {
        ig_tensor *cat = ig_concat_last(g, x, skip);
        ig_t_release(x);
        ig_t_release(skip);
        ig_tensor *y = res_forward(g, c, r, cat, semb);
        ig_t_release(cat);
        return y;
    }
    ig_tensor *h = ig_groupnorm_cat(g, x, skip, r->gn1_w, r->gn1_b, c->groups, c->gn_eps, 1);
    h = res_middle(g, c, r, h, semb);
    ig_tensor *xs = conv1x1_cat(g, r, x, skip);
    ig_t_release(x);
    ig_t_release(skip);
    ig_tensor *y = ig_conv2d_residual(g, h, r->conv2_w, r->conv2_b, 1, 1, xs);
    ig_t_release(h);
    return y;
}

/* ctx . w^T into a new long-lived tensor (outside the graph's buffers, so
 * that passes with and without the cache request the same buffers). */
static ig_tensor *project_kept(ig_graph *g, ig_tensor *ctx, ig_tensor *w)
{
    int64_t shape[3] = {ctx->shape[0], ctx->shape[1], w->shape[0]};
    ig_tensor *t = ig_t_param(g->e, 3, shape);
    if (!t) {
        ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "cross-attention keys"));
        return NULL;
    }
    ig_mm_shape s = ig_mm_plain(1, ctx->shape[0] * ctx->shape[1], w->shape[0], w->shape[1], 0, 1);
    i2ig_status st = ig_k_matmul(g->e, &s, ctx->data, w->data, NULL, t->data);
    if (st != I2IG_OK) {
        ig_graph_fail(g, st);
        ig_t_release(t);
        return NULL;
    }
    return t;
}

/* A domain's prompt context does not change between calls: without a tape
 * the keys and values of each cross-attention are computed once per
 * context and weights (7 ms of a 256^2 pass of the paper generator). */
static bool cached_kv(ig_graph *g, attn_weights *a, ig_tensor *ctx, ig_tensor **k, ig_tensor **v)
{
    ig_tensor *deps[3] = {ctx, a->k, a->v};
    if (!ctx->uid || ctx->ndim != 3 || a->k->ndim != 2 || a->v->ndim != 2 ||
        ctx->shape[2] != a->k->shape[1] || ctx->shape[2] != a->v->shape[1] ||
        ig_needs_tape(g, 3, deps))
        return false;
    const uint64_t key[6] = {ctx->uid, ctx->version, a->k->uid, a->k->version, a->v->uid,
                             a->v->version};
    if (!a->kv.t[0] || memcmp(key, a->kv.key, sizeof key) != 0) {
        derived_pair_clear(&a->kv);
        ig_tensor *nk = project_kept(g, ctx, a->k), *nv = nk ? project_kept(g, ctx, a->v) : NULL;
        if (!nv) {
            ig_t_release(nk);
            return false;
        }
        a->kv.t[0] = nk;
        a->kv.t[1] = nv;
        memcpy(a->kv.key, key, sizeof key);
    }
    *k = ig_t_retain(a->kv.t[0]);
    *v = ig_t_retain(a->kv.t[1]);
    return true;
}

static ig_tensor *attn_forward(ig_graph *g, attn_weights *a, ig_tensor *x, ig_tensor *ctx,
                               int heads, float scale)
{
    ig_tensor *q = ig_linear(g, x, a->q, NULL);
    ig_tensor *k = NULL, *v = NULL;
    if (ctx == x || !cached_kv(g, a, ctx, &k, &v)) {
        k = ig_linear(g, ctx, a->k, NULL);
        v = ig_linear(g, ctx, a->v, NULL);
    }
    ig_tensor *o = ig_attention(g, q, k, v, heads, scale, NULL);
    ig_t_release(q);
    ig_t_release(k);
    ig_t_release(v);
    ig_swap(&o, ig_linear(g, o, a->o_w, a->o_b));
    return o;
}

static ig_tensor *st_forward(ig_graph *g, const ig_unet_cfg *c, stblock *s, ig_tensor *x,
                             ig_tensor *ctx)
{
    if (!ig_graph_ok(g, 1, x)) return NULL;
    int64_t n = x->shape[0], hh = x->shape[1], ww = x->shape[2];
    float scale = 1.0f / sqrtf((float)c->head_channels);
    ig_tensor *t = ig_groupnorm(g, x, s->gn_w, s->gn_b, c->groups, c->st_gn_eps, 0);
    ig_swap(&t, conv1x1(g, t, s->pin_w, s->pin_b));
    int64_t tok[3] = {n, hh * ww, s->ch};
    ig_swap(&t, ig_reshape(g, t, 3, tok));
    /* self-attention, cross-attention, GEGLU feed-forward; residual each */
    ig_tensor *a = ig_layernorm(g, t, s->ln_w[0], s->ln_b[0], c->ln_eps);
    ig_swap(&a, attn_forward(g, &s->a1, a, a, s->heads, scale));
    ig_swap(&t, ig_add(g, a, t));
    ig_swap(&a, ig_layernorm(g, t, s->ln_w[1], s->ln_b[1], c->ln_eps));
    ig_swap(&a, attn_forward(g, &s->a2, a, ctx, s->heads, scale));
    ig_swap(&t, ig_add(g, a, t));
    ig_swap(&a, ig_layernorm(g, t, s->ln_w[2], s->ln_b[2], c->ln_eps));
    ig_swap(&a, ig_linear(g, a, s->ff1_w, s->ff1_b));
    ig_swap(&a, ig_geglu(g, a));
    ig_swap(&a, ig_linear(g, a, s->ff2_w, s->ff2_b));
    ig_swap(&t, ig_add(g, a, t));
    ig_t_release(a);
    int64_t img[4] = {n, hh, ww, s->ch};
    ig_swap(&t, ig_reshape(g, t, 4, img));
    ig_swap(&t, conv1x1(g, t, s->pout_w, s->pout_b));
    ig_swap(&t, ig_add(g, t, x));
    return t;
}

/* Takes over the reference h (and *skip, which decoder blocks join to h in
 * their first layer), so that each goes as soon as it has been read. */
static ig_tensor *block_forward(ig_graph *g, const ig_unet_cfg *c, block *b, ig_tensor *h,
                                ig_tensor **skip, ig_tensor *semb, ig_tensor *ctx)
{
    ig_tensor *x = h;
    ig_tensor *x2 = skip ? *skip : NULL;
    if (skip) *skip = NULL;
    if (x2 && (b->n == 0 || b->l[0].kind != L_RES)) {
        ig_swap(&x, ig_concat_last(g, x, x2));
        ig_swap(&x2, NULL);
    }
    for (int i = 0; i < b->n; i++) {
        layer *l = &b->l[i];
        if (l->kind == L_CONV) {
            ig_swap(&x, ig_conv2d(g, x, l->conv_w, l->conv_b, 1, 1));
        } else if (l->kind == L_RES && x2) {
            x = res_forward_cat(g, c, &l->res, x, x2, semb);
            x2 = NULL;
        } else if (l->kind == L_RES) {
            ig_swap(&x, res_forward(g, c, &l->res, x, semb));
        } else {
            ig_swap(&x, st_forward(g, c, &l->st, x, ctx));
        }
    }
    return x;
}

ig_tensor *ig_unet_forward(ig_graph *g, ig_unet *u, ig_tensor *x, const int *labels,
                           ig_tensor *context)
{
    const ig_unet_cfg *c = &u->cfg;
    if (!ig_graph_ok(g, 2, x, context)) return NULL;
    int mult = ig_unet_size_multiple(c);
    if (x->ndim != 4 || x->shape[3] != c->in_channels || x->shape[1] % mult || x->shape[2] % mult ||
        context->ndim != 3 || context->shape[0] != x->shape[0] || context->shape[2] != c->context_dim) {
        ig_shape_fail(g, "generator input", x, context);
        return NULL;
    }
    int n = (int)x->shape[0];
    ig_tensor *semb = ig_embedding(g, u->label_emb, labels, n);
    ig_swap(&semb, ig_activation(g, semb, IG_ACT_SILU, 0.0f));
    ig_tensor **hs = calloc((size_t)u->n_in, sizeof *hs);
    if (!hs) {
        ig_t_release(semb);
        ig_graph_fail(g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "generator"));
        return NULL;
    }
    ig_tensor *h = ig_t_retain(x);
    for (int i = 0; i < u->n_in; i++) {
        h = block_forward(g, c, &u->in[i], h, NULL, semb, context);
        hs[i] = ig_t_retain(h);
    }
    h = block_forward(g, c, &u->mid, h, NULL, semb, context);
    for (int i = 0; i < u->n_out; i++)
        h = block_forward(g, c, &u->out[i], h, &hs[u->n_in - 1 - i], semb, context);
    free(hs);
    ig_t_release(semb);
    ig_swap(&h, ig_groupnorm(g, h, u->out_gn_w, u->out_gn_b, c->groups, c->gn_eps, 1));
    ig_swap(&h, ig_conv2d(g, h, u->out_conv_w, u->out_conv_b, 1, 1));
    return h;
}
