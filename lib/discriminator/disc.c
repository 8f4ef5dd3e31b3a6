/* Discriminator heads: structure, initialisation, forward. */
#include "discriminator/disc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ops.h"

/* A spectrally normalised convolution: weight_orig, bias, u, v. */
typedef struct snconv {
    ig_tensor *w, *b, *u, *v;
} snconv;

typedef struct head {
    snconv c0, c1, cls;
    ig_tensor *bn0_w, *bn0_b, *bn1_w, *bn1_b;
    ig_tensor *map_w, *map_b;
} head;

struct ig_disc {
    ig_disc_cfg cfg;
    ig_params params, state;
    head *heads; /* num_classes * n_taps, label-major */
};

ig_disc_cfg ig_disc_default_cfg(void)
{
    ig_disc_cfg c = {3, 4, 768, 512, 64, 9, 0, 1e-5f, 1e-12f, 0.2f};
    return c;
}

i2ig_status ig_disc_check_cfg(const ig_disc_cfg *c)
{
    if (c->num_classes < 1 || c->num_classes > 1024 || c->n_taps < 1 || c->n_taps > 64 ||
        c->width < 1 || c->width > 8192 || c->text_dim < 1 || c->text_dim > 8192 ||
        c->cmap_dim < 1 || c->cmap_dim > 8192 || c->kernel_size < 1 || c->kernel_size > 63 ||
        c->kernel_size % 2 == 0 || (c->sum_channels != 0 && c->sum_channels != 1) ||
        !(c->bn_eps > 0) || !(c->sn_eps > 0) || !(c->slope >= 0))
        return ig_fail(I2IG_ERR_METADATA,
                       "discriminator configuration: classes %d, taps %d, width %d, text %d, "
                       "cmap %d, kernel %d (odd)", c->num_classes, c->n_taps, c->width,
                       c->text_dim, c->cmap_dim, c->kernel_size);
    return I2IG_OK;
}

static void make_snconv(ig_disc *d, snconv *s, int out, int in, int k, const char *pre)
{
    int64_t ws[3] = {out, in, k}, bs[1] = {out}, us[1] = {out}, vs[1] = {(int64_t)in * k};
    s->w = ig_params_add(&d->params, 3, ws, "%s.weight_orig", pre);
    s->b = ig_params_add(&d->params, 1, bs, "%s.bias", pre);
    s->u = ig_params_add(&d->state, 1, us, "%s.weight_u", pre);
    s->v = ig_params_add(&d->state, 1, vs, "%s.weight_v", pre);
}

/* Builds the heads; with count_only the parameter tables allocate nothing
 * and only sum the sizes (ig_disc_count_params). */
static i2ig_status build(const ig_disc_cfg *c, ig_engine *e, bool count_only, ig_disc **out)
{
    *out = NULL;
    IG_TRY(ig_disc_check_cfg(c));
    ig_disc *d = calloc(1, sizeof *d);
    size_t nh = (size_t)c->num_classes * (size_t)c->n_taps;
    if (d) d->heads = calloc(nh, sizeof *d->heads);
    if (!d || !d->heads) {
        free(d);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "discriminator");
    }
    d->cfg = *c;
    if (count_only) {
        ig_params_init_count(&d->params);
        ig_params_init_count(&d->state);
    } else {
        ig_params_init(&d->params, e);
        ig_params_init(&d->state, e);
    }
    int w = c->width;
    int64_t vec[1] = {w}, mw[2] = {c->cmap_dim, c->text_dim}, mb[1] = {c->cmap_dim};
    for (int l = 0; l < c->num_classes; l++)
        for (int k = 0; k < c->n_taps; k++) {
            head *h = &d->heads[l * c->n_taps + k];
            char pre[96];
            snprintf(pre, sizeof pre, "heads.%d.%d.main.0.0", l, k);
            make_snconv(d, &h->c0, w, w, 1, pre);
            h->bn0_w = ig_params_add(&d->params, 1, vec, "heads.%d.%d.main.0.1.weight", l, k);
            h->bn0_b = ig_params_add(&d->params, 1, vec, "heads.%d.%d.main.0.1.bias", l, k);
            snprintf(pre, sizeof pre, "heads.%d.%d.main.1.fn.0", l, k);
            make_snconv(d, &h->c1, w, w, c->kernel_size, pre);
            h->bn1_w = ig_params_add(&d->params, 1, vec, "heads.%d.%d.main.1.fn.1.weight", l, k);
            h->bn1_b = ig_params_add(&d->params, 1, vec, "heads.%d.%d.main.1.fn.1.bias", l, k);
            h->map_w = ig_params_add(&d->params, 2, mw, "heads.%d.%d.cmapper.linear_layer.weight", l, k);
            h->map_b = ig_params_add(&d->params, 1, mb, "heads.%d.%d.cmapper.linear_layer.bias", l, k);
            snprintf(pre, sizeof pre, "heads.%d.%d.cls", l, k);
            make_snconv(d, &h->cls, c->cmap_dim, w, 1, pre);
        }
    i2ig_status st = d->params.status != I2IG_OK ? d->params.status : d->state.status;
    if (st != I2IG_OK) {
        ig_disc_free(d);
        return st;
    }
    *out = d;
    return I2IG_OK;
}

i2ig_status ig_disc_count_params(const ig_disc_cfg *c, uint64_t *n)
{
    ig_disc *d;
    IG_TRY(build(c, NULL, true, &d));
    uint64_t a = d->params.counted, b = d->state.counted;
    *n = a > UINT64_MAX - b ? UINT64_MAX : a + b;
    ig_disc_free(d);
    return I2IG_OK;
}

i2ig_status ig_disc_create(const ig_disc_cfg *c, ig_engine *e, ig_disc **out)
{
    *out = NULL;
    uint64_t n;
    IG_TRY(ig_disc_count_params(c, &n));
    if (n > IG_MAX_MODEL_PARAMS)
        return ig_fail(I2IG_ERR_TOO_LARGE,
                       "discriminator configuration: %llu parameters and state values (at most "
                       "%llu are built)",
                       (unsigned long long)n, (unsigned long long)IG_MAX_MODEL_PARAMS);
    return build(c, e, false, out);
}

void ig_disc_free(ig_disc *d)
{
    if (!d) return;
    ig_params_free(&d->params);
    ig_params_free(&d->state);
    free(d->heads);
    free(d);
}

const ig_disc_cfg *ig_disc_cfg_of(const ig_disc *d) { return &d->cfg; }
ig_params *ig_disc_params(ig_disc *d) { return &d->params; }
ig_params *ig_disc_state(ig_disc *d) { return &d->state; }

int64_t ig_disc_values_per_head(const ig_disc *d, int64_t tokens)
{
    return d->cfg.sum_channels ? tokens : tokens * d->cfg.cmap_dim;
}

/* ---- initialisation ------------------------------------------------------------ */

static void uniform(ig_tensor *t, ig_rng *r, double bound)
{
    for (size_t i = 0; i < t->numel; i++) t->data[i] = (float)((2 * ig_rng_uniform(r) - 1) * bound);
}

static void normal_unit(ig_tensor *t, ig_rng *r, double eps)
{
    double s = 0;
    for (size_t i = 0; i < t->numel; i++) {
        t->data[i] = (float)ig_rng_normal(r);
        s += (double)t->data[i] * t->data[i];
    }
    double n = sqrt(s);
    if (n < eps) n = eps;
    for (size_t i = 0; i < t->numel; i++) t->data[i] = (float)(t->data[i] / n);
}

static void init_snconv(snconv *s, ig_rng *r, double eps)
{
    double bound = 1.0 / sqrt((double)(s->w->shape[1] * s->w->shape[2]));
    uniform(s->w, r, bound);
    uniform(s->b, r, bound);
    normal_unit(s->u, r, eps);
    normal_unit(s->v, r, eps);
}

static void fill(ig_tensor *t, float v)
{
    for (size_t i = 0; i < t->numel; i++) t->data[i] = v;
}

void ig_disc_init_random(ig_disc *d, ig_rng *r)
{
    size_t nh = (size_t)d->cfg.num_classes * (size_t)d->cfg.n_taps;
    for (size_t i = 0; i < nh; i++) {
        head *h = &d->heads[i];
        init_snconv(&h->c0, r, d->cfg.sn_eps);
        init_snconv(&h->c1, r, d->cfg.sn_eps);
        init_snconv(&h->cls, r, d->cfg.sn_eps);
        fill(h->bn0_w, 1);
        fill(h->bn0_b, 0);
        fill(h->bn1_w, 1);
        fill(h->bn1_b, 0);
        double bound = 1.0 / sqrt((double)d->cfg.text_dim);
        uniform(h->map_w, r, bound);
        uniform(h->map_b, r, bound);
    }
    ig_params_touch(&d->params);
    ig_params_touch(&d->state);
}

/* ---- forward ------------------------------------------------------------------------ */

/* conv(x, W / sigma) + b, computed as conv(x / sigma, W) + b (see
 * ig_spectral_view): the raw weight's packed copies serve every call of a
 * step, the scaling touches only the 196 x 768 activation. */
static ig_tensor *sn_conv(ig_graph *g, const ig_disc_cfg *c, snconv *s, ig_tensor *x,
                          int power_iters)
{
    double sigma = ig_spectral_sigma(g, s->w, s->u->data, s->v->data, power_iters, c->sn_eps);
    ig_tensor *xs = ig_scale(g, x, (float)(1.0 / sigma), 0.0f);
    ig_tensor *w = ig_spectral_view(g, s->w, sigma, s->u->data, s->v->data);
    ig_tensor *y = ig_conv1d_circular(g, xs, w, s->b);
    ig_t_release(xs);
    ig_t_release(w);
    return y;
}

/* One head on one sample: x 1,T,W -> 1,T,cmap (or 1,T,1). */
static ig_tensor *head_forward(ig_graph *g, const ig_disc_cfg *c, head *h, ig_tensor *x,
                               ig_tensor *text, int power_iters)
{
    ig_tensor *t = sn_conv(g, c, &h->c0, x, power_iters);
    ig_swap(&t, ig_bnlocal(g, t, h->bn0_w, h->bn0_b, c->bn_eps));
    ig_swap(&t, ig_activation(g, t, IG_ACT_LRELU, c->slope));
    /* residual block: (f(t) + t) / sqrt(2) */
    ig_tensor *f = sn_conv(g, c, &h->c1, t, power_iters);
    ig_swap(&f, ig_bnlocal(g, f, h->bn1_w, h->bn1_b, c->bn_eps));
    ig_swap(&f, ig_activation(g, f, IG_ACT_LRELU, c->slope));
    const float r2 = (float)(1.0 / sqrt(2.0));
    ig_swap(&t, ig_axpby(g, r2, f, r2, t));
    ig_t_release(f);
    ig_swap(&t, sn_conv(g, c, &h->cls, t, power_iters));
    /* cmap = cmapper(text) scales each projection channel, / sqrt(cmap) */
    ig_tensor *cmap = ig_linear(g, text, h->map_w, h->map_b);
    ig_swap(&cmap, ig_scale(g, cmap, (float)(1.0 / sqrt((double)c->cmap_dim)), 0.0f));
    ig_swap(&t, ig_mul(g, t, cmap));
    ig_t_release(cmap);
    if (c->sum_channels && t) {
        /* StyleGAN-T: sum over the channels -> one value per token */
        int64_t ones_shape[2] = {1, c->cmap_dim};
        ig_tensor *ones = ig_t_new(g, 2, ones_shape);
        if (ones)
            for (int i = 0; i < c->cmap_dim; i++) ones->data[i] = 1.0f;
        ig_swap(&t, ig_linear(g, t, ones, NULL));
        ig_t_release(ones);
    }
    return t;
}

ig_tensor *ig_disc_forward(ig_graph *g, ig_disc *d, ig_tensor *features, const int *labels,
                           const float *text, int power_iters)
{
    const ig_disc_cfg *c = &d->cfg;
    if (!ig_graph_ok(g, 1, features)) return NULL;
    if (features->ndim != 4 || features->shape[1] != c->n_taps || features->shape[3] != c->width ||
        features->shape[0] > IG_NODE_MAXIN) {
        ig_shape_fail(g, "discriminator features", features, NULL);
        return NULL;
    }
    int64_t n = features->shape[0], t = features->shape[2];
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= c->num_classes) {
            ig_graph_fail(g, ig_fail(I2IG_ERR_UNKNOWN_DOMAIN, "discriminator: label %d outside 0..%d",
                                     labels[i], c->num_classes - 1));
            return NULL;
        }
    ig_tensor *per_sample[IG_NODE_MAXIN] = {0};
    for (int64_t i = 0; i < n && g->status == I2IG_OK; i++) {
        int64_t ts[2] = {1, c->text_dim};
        ig_tensor *txt = ig_t_new(g, 2, ts);
        if (txt) memcpy(txt->data, text + i * c->text_dim, (size_t)c->text_dim * sizeof(float));
        ig_tensor *per_tap[IG_NODE_MAXIN] = {0};
        for (int k = 0; k < c->n_taps && g->status == I2IG_OK; k++) {
            int64_t xs[3] = {1, t, c->width};
            size_t off = ((size_t)i * (size_t)c->n_taps + (size_t)k) * (size_t)t * (size_t)c->width;
            ig_tensor *x = ig_view_range(g, features, off, 3, xs);
            ig_tensor *y = head_forward(g, c, &d->heads[labels[i] * c->n_taps + k], x, txt, power_iters);
            ig_t_release(x);
            if (y) {
                int64_t ys[2] = {t, y->shape[2]};
                ig_swap(&y, ig_reshape(g, y, 2, ys));
            }
            per_tap[k] = y;
        }
        ig_t_release(txt);
        per_sample[i] = g->status == I2IG_OK ? ig_stack(g, per_tap, c->n_taps) : NULL;
        for (int k = 0; k < c->n_taps; k++) ig_t_release(per_tap[k]);
    }
    ig_tensor *out = g->status == I2IG_OK ? ig_stack(g, per_sample, (int)n) : NULL;
    for (int64_t i = 0; i < n; i++) ig_t_release(per_sample[i]);
    return out;
}
