/* Training checkpoints: one .i2ig file (model.kind = "checkpoint") holding
 * everything a bit-exact resume needs. Layout (docs/model-files.md):
 *   generator metadata + "unet.*" (trained weights), "ema.unet.*" (EMA),
 *     "domains.<name>.*" (prompt contexts, text embeddings);
 *   discriminator metadata + "disc.*" (weights and spectral-norm state);
 *   "adam.g.m.*", "adam.g.v.*", "adam.d.m.*", "adam.d.v.*" and the
 *     per-parameter step counts "adam.g.steps", "adam.d.steps";
 *   "train.*" metadata: configuration, step, next pair, random state,
 *     domain order, each pool's pass order and position;
 *   "train.pool.<i>.<k>": the [0,1] training slices.
 * Written through the atomic writer: a crash (or kill -9) during the write
 * leaves the previous checkpoint intact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/trainer_internal.h"

/* ---- writing ---------------------------------------------------------------------- */

static i2ig_status put_adam(i2ig_weights_writer *wr, const char *tag, const ig_params *p,
                            const ig_adam_state *s)
{
    char key[512];
    for (size_t i = 0; i < p->n; i++) {
        const ig_tensor *t = p->items[i].t;
        uint64_t shape[IG_MAXDIM];
        for (int d = 0; d < t->ndim; d++) shape[d] = (uint64_t)t->shape[d];
        snprintf(key, sizeof key, "adam.%s.m.%s", tag, p->items[i].name);
        IG_TRY(i2ig_weights_writer_add_tensor(wr, key, I2IG_DTYPE_F32, (uint32_t)t->ndim, shape,
                                              I2IG_DTYPE_F32, s->m[i], I2IG_ADD_BORROW));
        snprintf(key, sizeof key, "adam.%s.v.%s", tag, p->items[i].name);
        IG_TRY(i2ig_weights_writer_add_tensor(wr, key, I2IG_DTYPE_F32, (uint32_t)t->ndim, shape,
                                              I2IG_DTYPE_F32, s->v[i], I2IG_ADD_BORROW));
    }
    snprintf(key, sizeof key, "adam.%s.steps", tag);
    return i2ig_weights_writer_set_int_array(wr, key, s->steps, s->n);
}

static i2ig_status put_config(i2ig_weights_writer *wr, const i2ig_train_config *c)
{
    const struct {
        const char *k;
        int64_t v;
    } ints[] = {{"train.batch_size", c->batch_size}, {"train.crop_size", c->crop_size},
                {"train.flip", c->flip},             {"train.seed", (int64_t)c->seed},
                {"train.total_steps", c->total_steps}, {"train.decay_start", c->decay_start},
                {"train.threads", c->threads}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        IG_TRY(i2ig_weights_writer_set_int(wr, ints[i].k, ints[i].v));
    const struct {
        const char *k;
        double v;
    } fl[] = {{"train.lr_generator", c->lr_generator}, {"train.lr_discriminator", c->lr_discriminator},
              {"train.beta1", c->beta1},               {"train.beta2", c->beta2},
              {"train.ema_decay", c->ema_decay},       {"train.w_adversarial", c->w_adversarial},
              {"train.w_cycle", c->w_cycle},           {"train.w_identity", c->w_identity},
              {"train.w_clip", c->w_clip},             {"train.w_encoding", c->w_encoding}};
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++)
        IG_TRY(i2ig_weights_writer_set_float(wr, fl[i].k, fl[i].v));
    return I2IG_OK;
}

static i2ig_status put_pools(i2ig_weights_writer *wr, const i2ig_trainer *t)
{
    int64_t *gidx = malloc((t->n_domains + 1) * sizeof *gidx);
    if (!gidx) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "checkpoint");
    for (size_t i = 0; i < t->n_domains; i++) gidx[i] = (int64_t)t->domains[i].gen_index;
    i2ig_status st = i2ig_weights_writer_set_int_array(wr, "train.domains", gidx, t->n_domains);
    free(gidx);
    char key[128];
    for (size_t i = 0; i < t->n_domains && st == I2IG_OK; i++) {
        const ig_pool *p = &t->domains[i].pool;
        int64_t *v = malloc((2 * p->n + 1) * sizeof *v);
        if (!v) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "checkpoint");
        for (size_t k = 0; k < p->n; k++) v[k] = p->order[k];
        snprintf(key, sizeof key, "train.pool.%zu.order", i);
        st = i2ig_weights_writer_set_int_array(wr, key, v, p->n);
        snprintf(key, sizeof key, "train.pool.%zu.pos", i);
        if (st == I2IG_OK) st = i2ig_weights_writer_set_int(wr, key, (int64_t)p->pos);
        free(v);
        for (size_t k = 0; k < p->n && st == I2IG_OK; k++) {
            uint64_t shape[2] = {(uint64_t)p->s[k].h, (uint64_t)p->s[k].w};
            snprintf(key, sizeof key, "train.pool.%zu.%zu", i, k);
            st = i2ig_weights_writer_add_tensor(wr, key, I2IG_DTYPE_F32, 2, shape, I2IG_DTYPE_F32,
                                                p->s[k].px, I2IG_ADD_BORROW);
        }
    }
    return st;
}

i2ig_status i2ig_trainer_save_checkpoint(const i2ig_trainer *t, const char *path)
{
    if (!t || !path) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "save_checkpoint: NULL argument");
    i2ig_weights_writer *wr;
    IG_TRY(i2ig_weights_writer_create(&wr));
    i2ig_trainer *mt = (i2ig_trainer *)t;
    i2ig_status st = i2ig_weights_writer_set_string(wr, "model.kind", "checkpoint");
    if (st == I2IG_OK) st = ig_generator_write_meta(t->gen, wr);
    if (st == I2IG_OK) st = ig_params_save(ig_unet_params(t->gen->unet), wr, "unet.", I2IG_DTYPE_F32);
    if (st == I2IG_OK) st = ig_params_save(&mt->ema, wr, "ema.unet.", I2IG_DTYPE_F32);
    if (st == I2IG_OK) st = ig_generator_write_domains(t->gen, wr);
    if (st == I2IG_OK) st = ig_discriminator_write(t->disc, wr);
    if (st == I2IG_OK) st = put_adam(wr, "g", ig_unet_params(t->gen->unet), &t->adam_g);
    if (st == I2IG_OK) st = put_adam(wr, "d", ig_disc_params(t->disc->disc), &t->adam_d);
    if (st == I2IG_OK) st = put_config(wr, &t->cfg);
    if (st == I2IG_OK) st = i2ig_weights_writer_set_int(wr, "train.step", t->step);
    if (st == I2IG_OK) st = i2ig_weights_writer_set_int(wr, "train.pair", t->pair);
    int64_t rs[4];
    for (int i = 0; i < 4; i++) rs[i] = (int64_t)t->rng.s[i];
    if (st == I2IG_OK) st = i2ig_weights_writer_set_int_array(wr, "train.rng", rs, 4);
    if (st == I2IG_OK) st = put_pools(wr, t);
    if (st == I2IG_OK) st = i2ig_weights_writer_write(wr, path);
    i2ig_weights_writer_free(wr);
    return st;
}

/* ---- reading ------------------------------------------------------------------------ */

static i2ig_status get_int(i2ig_weights *w, const char *path, const char *key, int64_t *v)
{
    if (i2ig_weights_meta_int(w, key, v) != I2IG_OK)
        return ig_fail(I2IG_ERR_METADATA, "%s: checkpoint metadata '%s' missing", path, key);
    return I2IG_OK;
}

static i2ig_status get_config(i2ig_weights *w, const char *path, i2ig_train_config *c)
{
    c->struct_size = sizeof *c;
    i2ig_train_config_init(c);
    int64_t v;
    IG_TRY(get_int(w, path, "train.batch_size", &v));
    c->batch_size = (int)v;
    IG_TRY(get_int(w, path, "train.crop_size", &v));
    c->crop_size = (int)v;
    IG_TRY(get_int(w, path, "train.flip", &v));
    c->flip = (int)v;
    IG_TRY(get_int(w, path, "train.seed", &v));
    c->seed = (uint64_t)v;
    IG_TRY(get_int(w, path, "train.total_steps", &c->total_steps));
    IG_TRY(get_int(w, path, "train.decay_start", &c->decay_start));
    IG_TRY(get_int(w, path, "train.threads", &v));
    c->threads = (int)v;
    struct {
        const char *k;
        double *d;
    } fl[] = {{"train.lr_generator", &c->lr_generator}, {"train.lr_discriminator", &c->lr_discriminator},
              {"train.beta1", &c->beta1},               {"train.beta2", &c->beta2},
              {"train.ema_decay", &c->ema_decay},       {"train.w_adversarial", &c->w_adversarial},
              {"train.w_cycle", &c->w_cycle},           {"train.w_identity", &c->w_identity},
              {"train.w_clip", &c->w_clip},             {"train.w_encoding", &c->w_encoding}};
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++)
        if (i2ig_weights_meta_float(w, fl[i].k, fl[i].d) != I2IG_OK)
            return ig_fail(I2IG_ERR_METADATA, "%s: checkpoint metadata '%s' missing", path, fl[i].k);
    return I2IG_OK;
}

static i2ig_status get_adam(i2ig_weights *w, const char *path, const char *tag, const ig_params *p,
                            ig_adam_state *s)
{
    char key[512];
    for (size_t i = 0; i < p->n; i++) {
        const ig_tensor *t = p->items[i].t;
        uint64_t shape[IG_MAXDIM];
        for (int d = 0; d < t->ndim; d++) shape[d] = (uint64_t)t->shape[d];
        snprintf(key, sizeof key, "adam.%s.m.%s", tag, p->items[i].name);
        IG_TRY(i2ig_weights_read_f32(w, key, (uint32_t)t->ndim, shape, s->m[i]));
        snprintf(key, sizeof key, "adam.%s.v.%s", tag, p->items[i].name);
        IG_TRY(i2ig_weights_read_f32(w, key, (uint32_t)t->ndim, shape, s->v[i]));
    }
    const int64_t *steps;
    size_t n;
    snprintf(key, sizeof key, "adam.%s.steps", tag);
    if (i2ig_weights_meta_int_array(w, key, &steps, &n) != I2IG_OK || n != s->n)
        return ig_fail(I2IG_ERR_METADATA, "%s: checkpoint metadata '%s' missing or of the wrong length",
                       path, key);
    memcpy(s->steps, steps, n * sizeof *steps);
    return I2IG_OK;
}

static i2ig_status get_pool(i2ig_weights *w, const char *path, size_t i, ig_pool *p)
{
    char key[128];
    const int64_t *order;
    size_t n;
    snprintf(key, sizeof key, "train.pool.%zu.order", i);
    if (i2ig_weights_meta_int_array(w, key, &order, &n) != I2IG_OK || n == 0 || n > (1u << 24))
        return ig_fail(I2IG_ERR_METADATA, "%s: checkpoint metadata '%s' missing or invalid", path, key);
    int64_t pos;
    snprintf(key, sizeof key, "train.pool.%zu.pos", i);
    IG_TRY(get_int(w, path, key, &pos));
    if (pos < 0 || (uint64_t)pos > n) return ig_fail(I2IG_ERR_METADATA, "%s: '%s' out of range", path, key);
    p->s = calloc(n, sizeof *p->s);
    p->order = malloc(n * sizeof *p->order);
    if (!p->s || !p->order) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: training pool", path);
    for (size_t k = 0; k < n; k++) {
        if (order[k] < 0 || (uint64_t)order[k] >= n)
            return ig_fail(I2IG_ERR_METADATA, "%s: pool %zu order entry %zu out of range", path, i, k);
        p->order[k] = (uint32_t)order[k];
    }
    p->pos = (size_t)pos;
    for (size_t k = 0; k < n; k++) {
        snprintf(key, sizeof key, "train.pool.%zu.%zu", i, k);
        size_t ti;
        i2ig_status st = i2ig_weights_find(w, key, &ti);
        if (st != I2IG_OK) return ig_fail(st, "%s: tensor '%s' missing", path, key);
        i2ig_tensor_info info;
        info.struct_size = sizeof info;
        IG_TRY(i2ig_weights_tensor_info(w, ti, &info));
        if (info.ndim != 2 || info.shape[0] < 1 || info.shape[1] < 1 || info.shape[0] > 16384 ||
            info.shape[1] > 16384)
            return ig_fail(I2IG_ERR_SHAPE, "%s: tensor '%s' is not a training slice", path, key);
        p->s[k].h = (int)info.shape[0];
        p->s[k].w = (int)info.shape[1];
        p->s[k].px = malloc(info.shape[0] * info.shape[1] * sizeof(float));
        p->n = k + 1;
        if (!p->s[k].px) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: training pool", path);
        IG_TRY(i2ig_weights_read_f32(w, key, 2, info.shape, p->s[k].px));
        if (p->s[k].w > p->max_w) p->max_w = p->s[k].w;
        if (p->s[k].h > p->max_h) p->max_h = p->s[k].h;
    }
    return I2IG_OK;
}

/* The checkpoint's prompt contexts must be what this encoder makes of the
 * prompts: anything else is another encoder. (Compared with a tolerance: a
 * different thread count may change the last bits.) */
static int differ(const float *a, const float *b, size_t n)
{
    double scale = 0, diff = 0;
    for (size_t i = 0; i < n; i++) {
        double x = a[i] < 0 ? -a[i] : a[i], d = a[i] - b[i];
        if (x > scale) scale = x;
        if (d < 0) d = -d;
        if (d > diff) diff = d;
    }
    return !(diff <= 1e-3 * scale);
}

static i2ig_status check_encoder(i2ig_trainer *t, const char *path)
{
    for (size_t i = 0; i < t->gen->n_domains; i++) {
        const ig_domain *d = &t->gen->domains[i];
        size_t n = d->context->numel;
        float *ctx = malloc(n * sizeof(float)), *emb = malloc(d->embed_dim * sizeof(float));
        i2ig_status st = (ctx && emb) ? i2ig_encoder_encode_text(t->enc, d->prompt, ctx, emb)
                                      : ig_fail(I2IG_ERR_OUT_OF_MEMORY, "checkpoint");
        if (st == I2IG_OK && (differ(ctx, d->context->data, n) ||
                              differ(emb, d->text_embedding, d->embed_dim)))
            st = ig_fail(I2IG_ERR_MODEL_MISMATCH,
                         "%s: domain '%s': this encoder encodes the prompt differently from the "
                         "encoder the checkpoint was made with", path, d->name);
        free(ctx);
        free(emb);
        IG_TRY(st);
    }
    return I2IG_OK;
}

static i2ig_status load(i2ig_weights *w, const char *path, i2ig_encoder *enc, i2ig_trainer **out)
{
    const char *kind;
    if (i2ig_weights_meta_string(w, "model.kind", &kind) != I2IG_OK || strcmp(kind, "checkpoint"))
        return ig_fail(I2IG_ERR_MODEL_MISMATCH, "%s: not a training checkpoint", path);
    i2ig_train_config cfg;
    IG_TRY(get_config(w, path, &cfg));
    i2ig_generator *gen;
    IG_TRY(ig_generator_read(w, path, "unet.", &gen));
    i2ig_discriminator *disc;
    i2ig_status st = ig_discriminator_read(w, path, &disc);
    if (st != I2IG_OK) {
        i2ig_generator_free(gen);
        return st;
    }
    i2ig_trainer *t;
    IG_TRY(ig_trainer_assemble(&cfg, enc, gen, disc, &t));
    st = ig_params_load(&t->ema, w, "ema.unet.");
    if (st == I2IG_OK) st = get_adam(w, path, "g", ig_unet_params(t->gen->unet), &t->adam_g);
    if (st == I2IG_OK) st = get_adam(w, path, "d", ig_disc_params(t->disc->disc), &t->adam_d);
    if (st == I2IG_OK) st = get_int(w, path, "train.step", &t->step);
    if (st == I2IG_OK) st = get_int(w, path, "train.pair", &t->pair);
    const int64_t *rs, *gidx;
    size_t n;
    if (st == I2IG_OK && (i2ig_weights_meta_int_array(w, "train.rng", &rs, &n) != I2IG_OK || n != 4))
        st = ig_fail(I2IG_ERR_METADATA, "%s: checkpoint metadata 'train.rng' missing", path);
    if (st == I2IG_OK)
        for (int i = 0; i < 4; i++) t->rng.s[i] = (uint64_t)rs[i];
    if (st == I2IG_OK && (i2ig_weights_meta_int_array(w, "train.domains", &gidx, &n) != I2IG_OK ||
                          n > t->gen->n_domains))
        st = ig_fail(I2IG_ERR_METADATA, "%s: checkpoint metadata 'train.domains' missing or invalid", path);
    for (size_t i = 0; st == I2IG_OK && i < n; i++) {
        if (gidx[i] < 0 || (uint64_t)gidx[i] >= t->gen->n_domains) {
            st = ig_fail(I2IG_ERR_METADATA, "%s: 'train.domains' entry %zu out of range", path, i);
            break;
        }
        ig_pool pool;
        memset(&pool, 0, sizeof pool);
        st = get_pool(w, path, i, &pool);
        if (st == I2IG_OK) st = ig_trainer_attach_domain(t, (size_t)gidx[i], &pool);
        ig_pool_free(&pool);
    }
    if (st == I2IG_OK) st = check_encoder(t, path);
    if (st != I2IG_OK) {
        i2ig_trainer_free(t);
        return st;
    }
    *out = t;
    return I2IG_OK;
}

i2ig_status i2ig_trainer_load_checkpoint(const char *path, i2ig_encoder *encoder, i2ig_trainer **out)
{
    if (!path || !encoder || !out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "load_checkpoint: NULL argument");
    *out = NULL;
    i2ig_weights *w;
    IG_TRY(i2ig_weights_open(path, I2IG_OPEN_VERIFY_ALL, &w));
    i2ig_status st = load(w, path, encoder, out);
    i2ig_weights_free(w);
    return st;
}
