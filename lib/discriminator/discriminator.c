/* The public discriminator handle and its model files: architecture in the
 * metadata, "disc.<reference name>" tensors (parameters and the
 * spectral-norm u, v state). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "discriminator/discriminator_internal.h"
#include "nn/ops.h"

void i2ig_discriminator_free(i2ig_discriminator *d)
{
    if (!d) return;
    ig_disc_free(d->disc);
    ig_engine_free(d->e);
    free(d);
}

i2ig_status i2ig_discriminator_config_init(i2ig_discriminator_config *c)
{
    if (!c || c->struct_size != sizeof *c)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "discriminator config: struct_size must be %zu",
                       sizeof *c);
    ig_disc_cfg d = ig_disc_default_cfg();
    c->num_classes = d.num_classes;
    c->n_taps = d.n_taps;
    c->width = d.width;
    c->text_dim = d.text_dim;
    c->cmap_dim = d.cmap_dim;
    c->kernel_size = d.kernel_size;
    c->sum_channels = d.sum_channels;
    return I2IG_OK;
}

i2ig_status ig_discriminator_new(const ig_disc_cfg *c, i2ig_discriminator **out)
{
    *out = NULL;
    i2ig_discriminator *d = calloc(1, sizeof *d);
    if (!d) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "discriminator");
    i2ig_status st = ig_engine_create(1, &d->e);
    if (st == I2IG_OK) st = ig_disc_create(c, d->e, &d->disc);
    if (st != I2IG_OK) {
        i2ig_discriminator_free(d);
        return st;
    }
    *out = d;
    return I2IG_OK;
}

i2ig_status i2ig_discriminator_create(const i2ig_discriminator_config *config, uint64_t seed,
                                      i2ig_discriminator **out)
{
    if (!out || !config || config->struct_size != sizeof *config)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "discriminator_create: bad arguments");
    ig_disc_cfg c = ig_disc_default_cfg();
    c.num_classes = config->num_classes;
    c.n_taps = config->n_taps;
    c.width = config->width;
    c.text_dim = config->text_dim;
    c.cmap_dim = config->cmap_dim;
    c.kernel_size = config->kernel_size;
    c.sum_channels = config->sum_channels;
    IG_TRY(ig_discriminator_new(&c, out));
    ig_rng r;
    ig_rng_seed(&r, seed);
    ig_disc_init_random((*out)->disc, &r);
    return I2IG_OK;
}

i2ig_status i2ig_discriminator_set_threads(i2ig_discriminator *d, int threads)
{
    if (!d || threads < 1 || threads > 1024)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "discriminator: threads must be 1..1024");
    ig_engine_set_threads(d->e, threads);
    return I2IG_OK;
}

size_t i2ig_discriminator_parameter_count(const i2ig_discriminator *d)
{
    return d ? ig_params_numel(ig_disc_params(d->disc)) : 0;
}

/* ---- files ------------------------------------------------------------------------ */

i2ig_status ig_discriminator_write(const i2ig_discriminator *d, i2ig_weights_writer *wr)
{
    const ig_disc_cfg *c = ig_disc_cfg_of(d->disc);
    IG_TRY(i2ig_weights_writer_set_int(wr, "discriminator.num_classes", c->num_classes));
    IG_TRY(i2ig_weights_writer_set_int(wr, "discriminator.n_taps", c->n_taps));
    IG_TRY(i2ig_weights_writer_set_int(wr, "discriminator.width", c->width));
    IG_TRY(i2ig_weights_writer_set_int(wr, "discriminator.text_dim", c->text_dim));
    IG_TRY(i2ig_weights_writer_set_int(wr, "discriminator.cmap_dim", c->cmap_dim));
    IG_TRY(i2ig_weights_writer_set_int(wr, "discriminator.kernel_size", c->kernel_size));
    IG_TRY(i2ig_weights_writer_set_int(wr, "discriminator.sum_channels", c->sum_channels));
    IG_TRY(ig_params_save(ig_disc_params(d->disc), wr, "disc.", I2IG_DTYPE_F32));
    return ig_params_save(ig_disc_state(d->disc), wr, "disc.", I2IG_DTYPE_F32);
}

i2ig_status ig_discriminator_read(i2ig_weights *w, const char *path, i2ig_discriminator **out)
{
    *out = NULL;
    ig_disc_cfg c = ig_disc_default_cfg();
    struct {
        const char *key;
        int *dst;
    } fields[] = {{"discriminator.num_classes", &c.num_classes}, {"discriminator.n_taps", &c.n_taps},
                  {"discriminator.width", &c.width},             {"discriminator.text_dim", &c.text_dim},
                  {"discriminator.cmap_dim", &c.cmap_dim},       {"discriminator.kernel_size", &c.kernel_size},
                  {"discriminator.sum_channels", &c.sum_channels}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        int64_t v;
        if (i2ig_weights_meta_int(w, fields[i].key, &v) != I2IG_OK)
            return ig_fail(I2IG_ERR_METADATA, "%s: metadata '%s' missing or not an integer", path,
                           fields[i].key);
        if (v < 0 || v > 1 << 20)
            return ig_fail(I2IG_ERR_METADATA, "%s: metadata '%s' = %lld", path, fields[i].key, (long long)v);
        *fields[i].dst = (int)v;
    }
    i2ig_status st = ig_disc_check_cfg(&c);
    if (st != I2IG_OK) return ig_fail_context(st, "%s", path);
    uint64_t need;
    IG_TRY(ig_disc_count_params(&c, &need));
    IG_TRY(ig_params_check_stored(need, w, path, "discriminator"));
    i2ig_discriminator *d;
    IG_TRY(ig_discriminator_new(&c, &d));
    st = ig_params_load(ig_disc_params(d->disc), w, "disc.");
    if (st == I2IG_OK) st = ig_params_load(ig_disc_state(d->disc), w, "disc.");
    for (int k = 0; st == I2IG_OK && k < 2; k++) {
        ig_params *p = k ? ig_disc_state(d->disc) : ig_disc_params(d->disc);
        for (size_t i = 0; i < p->n && st == I2IG_OK; i++)
            for (size_t j = 0; j < p->items[i].t->numel; j++)
                if (!isfinite(p->items[i].t->data[j])) {
                    st = ig_fail(I2IG_ERR_NOT_FINITE, "%s: tensor 'disc.%s' holds a NaN or infinity",
                                 path, p->items[i].name);
                    break;
                }
    }
    if (st != I2IG_OK) {
        i2ig_discriminator_free(d);
        return st;
    }
    *out = d;
    return I2IG_OK;
}

i2ig_status i2ig_discriminator_save(const i2ig_discriminator *d, const char *path)
{
    if (!d || !path) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "discriminator_save: NULL argument");
    i2ig_weights_writer *wr;
    IG_TRY(i2ig_weights_writer_create(&wr));
    i2ig_status st = i2ig_weights_writer_set_string(wr, "model.kind", "discriminator");
    if (st == I2IG_OK) st = ig_discriminator_write(d, wr);
    if (st == I2IG_OK) st = i2ig_weights_writer_write(wr, path);
    i2ig_weights_writer_free(wr);
    return st;
}

i2ig_status i2ig_discriminator_load(const char *path, i2ig_discriminator **out)
{
    if (!path || !out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "discriminator_load: NULL argument");
    *out = NULL;
    i2ig_weights *w;
    IG_TRY(i2ig_weights_open(path, 0, &w));
    const char *kind;
    i2ig_status st = I2IG_OK;
    if (i2ig_weights_meta_string(w, "model.kind", &kind) != I2IG_OK)
        st = ig_fail(I2IG_ERR_MODEL_MISMATCH, "%s: no 'model.kind' metadata: not a model file", path);
    else if (strcmp(kind, "discriminator") && strcmp(kind, "checkpoint"))
        st = ig_fail(I2IG_ERR_MODEL_MISMATCH, "%s: this is a '%s' file, not a discriminator", path, kind);
    if (st == I2IG_OK) st = ig_discriminator_read(w, path, out);
    i2ig_weights_free(w);
    return st;
}

/* ---- forward / backward ------------------------------------------------------------ */

/* Validates the arguments; normalised text embeddings into txt (n x dim). */
static i2ig_status prepare(i2ig_discriminator *d, const float *features, size_t n, size_t tokens,
                           const int *labels, const float *text, float **txt)
{
    if (!d || !features || !labels || !text)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "discriminator: NULL argument");
    const ig_disc_cfg *c = ig_disc_cfg_of(d->disc);
    if (n < 1 || n > IG_NODE_MAXIN || tokens < 1 || tokens > 65536)
        return ig_fail(I2IG_ERR_SHAPE, "discriminator: %zu samples of %zu tokens (1..%d samples)", n,
                       tokens, IG_NODE_MAXIN);
    size_t nf = n * (size_t)c->n_taps * tokens * (size_t)c->width;
    for (size_t i = 0; i < nf; i++)
        if (!isfinite(features[i]))
            return ig_fail(I2IG_ERR_NOT_FINITE, "discriminator: feature %zu is not finite", i);
    *txt = malloc(n * (size_t)c->text_dim * sizeof(float));
    if (!*txt) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "discriminator");
    for (size_t i = 0; i < n; i++) {
        const float *src = text + i * (size_t)c->text_dim;
        double s = 0;
        for (int j = 0; j < c->text_dim; j++) s += (double)src[j] * src[j];
        double nrm = sqrt(s);
        if (!isfinite(nrm)) {
            free(*txt);
            return ig_fail(I2IG_ERR_NOT_FINITE, "discriminator: text embedding %zu is not finite", i);
        }
        if (nrm < 1e-12) nrm = 1e-12; /* F.normalize's eps */
        for (int j = 0; j < c->text_dim; j++) (*txt)[i * (size_t)c->text_dim + (size_t)j] = (float)(src[j] / nrm);
    }
    return I2IG_OK;
}

static i2ig_status run(i2ig_discriminator *d, const float *features, size_t n, size_t tokens,
                       const int *labels, const float *text, int update_state, float *logits,
                       const float *d_logits, float *d_features)
{
    float *txt = NULL;
    IG_TRY(prepare(d, features, n, tokens, labels, text, &txt));
    const ig_disc_cfg *c = ig_disc_cfg_of(d->disc);
    ig_thread_scope ts = ig_engine_enter(d->e);
    ig_graph g;
    ig_graph_init(&g, d->e, d_logits != NULL);
    int64_t fs[4] = {(int64_t)n, c->n_taps, (int64_t)tokens, c->width};
    ig_tensor *x = ig_t_wrap((float *)features, 4, fs);
    if (!x) ig_graph_fail(&g, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "discriminator"));
    else x->requires_grad = d_logits != NULL;
    ig_tensor *y = ig_disc_forward(&g, d->disc, x, labels, txt, update_state ? 1 : 0);
    if (y && logits) memcpy(logits, y->data, y->numel * sizeof(float));
    if (y && d_logits) {
        if (ig_backward_from(&g, y, d_logits) == I2IG_OK)
            memcpy(d_features, x->grad->data, x->numel * sizeof(float));
    }
    i2ig_status st = ig_graph_status(&g);
    ig_t_release(y);
    ig_graph_clear(&g);
    ig_t_release(x);
    ig_engine_leave(ts);
    free(txt);
    return st;
}

i2ig_status i2ig_discriminator_forward(i2ig_discriminator *d, const float *features, size_t n,
                                       size_t tokens, const int *labels, const float *text,
                                       int update_state, float *logits)
{
    if (!logits) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "discriminator_forward: logits is NULL");
    return run(d, features, n, tokens, labels, text, update_state, logits, NULL, NULL);
}

i2ig_status i2ig_discriminator_backward(i2ig_discriminator *d, const float *features, size_t n,
                                        size_t tokens, const int *labels, const float *text,
                                        const float *d_logits, float *d_features)
{
    if (!d_logits || !d_features)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "discriminator_backward: NULL gradient buffer");
    return run(d, features, n, tokens, labels, text, 0, NULL, d_logits, d_features);
}
