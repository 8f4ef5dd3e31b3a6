/* The public trainer: configuration, domains, stepping, the reduce seam,
 * exporting the generator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ops.h"
#include "train/trainer_internal.h"

i2ig_status i2ig_train_config_init(i2ig_train_config *c)
{
    if (!c || c->struct_size != sizeof *c)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "train config: struct_size must be %zu", sizeof *c);
    size_t sz = c->struct_size;
    memset(c, 0, sizeof *c);
    c->struct_size = sz;
    c->batch_size = 4;
    c->crop_size = 256;
    c->flip = 0;
    c->seed = 40;
    c->lr_generator = 2e-4;
    c->lr_discriminator = 2e-4;
    c->beta1 = 0.5;
    c->beta2 = 0.99;
    c->total_steps = 100000;
    c->decay_start = 50000;
    c->ema_decay = 0.99;
    c->w_adversarial = 1;
    c->w_cycle = 10;
    c->w_identity = 1;
    c->w_clip = 1;
    c->w_encoding = 1;
    c->threads = 1;
    return I2IG_OK;
}

static i2ig_status check_config(const i2ig_train_config *c)
{
    if (!c || c->struct_size != sizeof *c)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "train config: struct_size must be %zu", sizeof *c);
    const double w[] = {c->lr_generator, c->lr_discriminator, c->beta1, c->beta2, c->ema_decay,
                        c->w_adversarial, c->w_cycle, c->w_identity, c->w_clip, c->w_encoding};
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        if (!isfinite(w[i]) || w[i] < 0)
            return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "train config: negative or non-finite value");
    if (c->batch_size < 1 || c->batch_size > 16)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "train config: batch size %d outside 1..16", c->batch_size);
    if (c->crop_size < 0 || c->crop_size > 4096)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "train config: crop size %d", c->crop_size);
    if (c->beta1 >= 1 || c->beta2 >= 1 || c->ema_decay > 1)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "train config: betas and EMA decay must be < 1");
    if (c->total_steps < 1 || c->decay_start < 0 || c->decay_start > c->total_steps)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                       "train config: need total_steps >= 1 and 0 <= decay_start <= total_steps");
    if (c->threads < 1 || c->threads > 1024)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "train config: threads %d", c->threads);
    return I2IG_OK;
}

double ig_train_lr(const i2ig_train_config *c, double lr0, int64_t done)
{
    if (done < c->decay_start) return lr0;
    int64_t span = c->total_steps - c->decay_start;
    if (span <= 0) return 0;
    double f = 1.0 - (double)(done - c->decay_start) / (double)span;
    return f > 0 ? lr0 * f : 0;
}

/* ---- Adam state -------------------------------------------------------------------- */

i2ig_status ig_adam_state_init(ig_adam_state *s, const ig_params *p)
{
    memset(s, 0, sizeof *s);
    s->n = p->n;
    s->m = calloc(p->n, sizeof *s->m);
    s->v = calloc(p->n, sizeof *s->v);
    s->steps = calloc(p->n, sizeof *s->steps);
    if (!s->m || !s->v || !s->steps) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "optimiser state");
    for (size_t i = 0; i < p->n; i++) {
        s->m[i] = calloc(p->items[i].t->numel, sizeof(float));
        s->v[i] = calloc(p->items[i].t->numel, sizeof(float));
        if (!s->m[i] || !s->v[i]) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "optimiser state");
    }
    return I2IG_OK;
}

void ig_adam_state_free(ig_adam_state *s)
{
    for (size_t i = 0; s->m && i < s->n; i++) {
        free(s->m[i]);
        free(s->v[i]);
    }
    free(s->m);
    free(s->v);
    free(s->steps);
    memset(s, 0, sizeof *s);
}

/* ---- lifetime ------------------------------------------------------------------------- */

void i2ig_trainer_free(i2ig_trainer *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_domains; i++) {
        free(t->domains[i].text);
        ig_pool_free(&t->domains[i].pool);
    }
    free(t->domains);
    ig_adam_state_free(&t->adam_g);
    ig_adam_state_free(&t->adam_d);
    ig_params_free(&t->ema);
    i2ig_discriminator_free(t->disc);
    i2ig_generator_free(t->gen);
    free(t);
}

i2ig_status ig_trainer_assemble(const i2ig_train_config *c, i2ig_encoder *enc,
                                i2ig_generator *gen, i2ig_discriminator *disc,
                                i2ig_trainer **out)
{
    *out = NULL;
    i2ig_trainer *t = calloc(1, sizeof *t);
    if (!t) {
        i2ig_generator_free(gen);
        i2ig_discriminator_free(disc);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "trainer");
    }
    t->cfg = *c;
    t->enc = enc;
    t->gen = gen;
    t->disc = disc;
    ig_rng_seed(&t->rng, c->seed);
    i2ig_generator_set_threads(gen, c->threads);
    i2ig_discriminator_set_threads(disc, c->threads);
    ig_params *gp = ig_unet_params(gen->unet);
    ig_params_init(&t->ema, gen->e);
    i2ig_status st = I2IG_OK;
    for (size_t i = 0; i < gp->n && st == I2IG_OK; i++) {
        const ig_tensor *p = gp->items[i].t;
        ig_tensor *s = ig_params_add(&t->ema, p->ndim, p->shape, "%s", gp->items[i].name);
        if (!s) st = t->ema.status;
        else memcpy(s->data, p->data, p->numel * sizeof(float));
    }
    if (st == I2IG_OK) st = ig_adam_state_init(&t->adam_g, gp);
    if (st == I2IG_OK) st = ig_adam_state_init(&t->adam_d, ig_disc_params(disc->disc));
    if (st != I2IG_OK) {
        i2ig_trainer_free(t);
        return st;
    }
    *out = t;
    return I2IG_OK;
}

i2ig_status i2ig_trainer_create(const i2ig_train_config *config,
                                const i2ig_generator_config *generator, i2ig_encoder *encoder,
                                i2ig_trainer **out)
{
    if (!out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "trainer_create: out is NULL");
    *out = NULL;
    if (!generator || !encoder) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "trainer_create: NULL argument");
    IG_TRY(check_config(config));
    i2ig_encoder_info info;
    info.struct_size = sizeof info;
    IG_TRY(i2ig_encoder_get_info(encoder, &info));
    if (info.text_width != generator->context_dim)
        return ig_fail(I2IG_ERR_MODEL_MISMATCH,
                       "the encoder's text width is %d but the generator attends to %d-wide context",
                       info.text_width, generator->context_dim);
    i2ig_generator *gen;
    IG_TRY(i2ig_generator_create(generator, config->seed, &gen));
    strcpy(gen->weights_kind, "raw");
    i2ig_discriminator_config dc;
    dc.struct_size = sizeof dc;
    i2ig_discriminator_config_init(&dc);
    dc.num_classes = generator->num_classes;
    dc.n_taps = info.n_taps;
    dc.width = info.vision_width;
    dc.text_dim = info.embed_dim;
    i2ig_discriminator *disc;
    i2ig_status st = i2ig_discriminator_create(&dc, config->seed + 1, &disc);
    if (st != I2IG_OK) {
        i2ig_generator_free(gen);
        return st;
    }
    return ig_trainer_assemble(config, encoder, gen, disc, out);
}

/* ---- domains ---------------------------------------------------------------------------- */

i2ig_status ig_trainer_attach_domain(i2ig_trainer *t, size_t gen_index, ig_pool *pool)
{
    const ig_domain *d = &t->gen->domains[gen_index];
    const ig_disc_cfg *dc = ig_disc_cfg_of(t->disc->disc);
    if (d->embed_dim != (size_t)dc->text_dim)
        return ig_fail(I2IG_ERR_MODEL_MISMATCH, "domain '%s': text embedding of %zu, the discriminator takes %d",
                       d->name, d->embed_dim, dc->text_dim);
    if (d->label >= dc->num_classes)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "domain '%s': label %d but the discriminator has %d head sets",
                       d->name, d->label, dc->num_classes);
    ig_train_domain *nd = realloc(t->domains, (t->n_domains + 1) * sizeof *nd);
    if (!nd) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "trainer domains");
    t->domains = nd;
    ig_train_domain *td = &t->domains[t->n_domains];
    memset(td, 0, sizeof *td);
    td->gen_index = gen_index;
    td->text = malloc(d->embed_dim * sizeof(float));
    if (!td->text) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "trainer domains");
    /* F.normalize(text_embedding, dim=-1) */
    double s = 0;
    for (size_t i = 0; i < d->embed_dim; i++) s += (double)d->text_embedding[i] * d->text_embedding[i];
    double n = sqrt(s);
    if (n < 1e-12) n = 1e-12;
    for (size_t i = 0; i < d->embed_dim; i++) td->text[i] = (float)(d->text_embedding[i] / n);
    td->pool = *pool;
    memset(pool, 0, sizeof *pool);
    t->n_domains++;
    return I2IG_OK;
}

i2ig_status i2ig_trainer_add_domain(i2ig_trainer *t, const char *name, const char *prompt,
                                    int label, const i2ig_intensity_mapping *mapping,
                                    const i2ig_image *const *images, size_t n_images)
{
    if (!t || !name || !prompt || !mapping || (!images && n_images))
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "trainer_add_domain: NULL argument");
    if (n_images == 0) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "domain '%s': no images", name);
    if (mapping->struct_size != sizeof *mapping)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "trainer_add_domain: bad mapping struct_size");
    size_t idx;
    if (ig_generator_find_domain(t->gen, name, &idx) == I2IG_OK)
        return ig_fail(I2IG_ERR_DUPLICATE, "domain '%s' was already added", name);
    IG_TRY(ig_mapping_check(mapping, name));
    ig_pool pool;
    memset(&pool, 0, sizeof pool);
    i2ig_status st = I2IG_OK;
    for (size_t i = 0; i < n_images && st == I2IG_OK; i++)
        st = images[i] ? ig_pool_add_image(&pool, images[i], mapping)
                       : ig_fail(I2IG_ERR_INVALID_ARGUMENT, "domain '%s': image %zu is NULL", name, i);
    if (st == I2IG_OK)
        st = i2ig_generator_add_domain_encoded(t->gen, t->enc, name, prompt, label, mapping);
    if (st == I2IG_OK) st = ig_generator_find_domain(t->gen, name, &idx);
    if (st == I2IG_OK) st = ig_trainer_attach_domain(t, idx, &pool);
    ig_pool_free(&pool);
    return st;
}

/* ---- running ------------------------------------------------------------------------------ */

i2ig_status i2ig_trainer_step(i2ig_trainer *t, i2ig_train_losses *losses)
{
    if (!t) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "trainer is NULL");
    if (losses && losses->struct_size != sizeof *losses)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "train losses: struct_size must be %zu", sizeof *losses);
    if (t->n_domains < 2) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "training needs at least two domains");
    return ig_train_step(t, losses);
}

i2ig_status i2ig_trainer_run(i2ig_trainer *t, i2ig_train_progress_fn progress, void *user,
                             volatile const int *cancel)
{
    if (!t) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "trainer is NULL");
    while (t->step < t->cfg.total_steps) {
        if (cancel && *cancel)
            return ig_fail(I2IG_ERR_CANCELLED, "training cancelled after step %lld", (long long)t->step);
        i2ig_train_losses l;
        l.struct_size = sizeof l;
        IG_TRY(i2ig_trainer_step(t, &l));
        if (progress && progress(user, &l))
            return ig_fail(I2IG_ERR_CANCELLED, "training stopped by the progress callback at step %lld",
                           (long long)t->step);
    }
    return I2IG_OK;
}

i2ig_status i2ig_trainer_set_reduce_hook(i2ig_trainer *t, i2ig_reduce_fn fn, void *user)
{
    if (!t) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "trainer is NULL");
    t->reduce = fn;
    t->reduce_user = user;
    return I2IG_OK;
}

int64_t i2ig_trainer_steps_done(const i2ig_trainer *t) { return t ? t->step : 0; }

i2ig_status i2ig_trainer_get_config(const i2ig_trainer *t, i2ig_train_config *config)
{
    if (!t || !config || config->struct_size != sizeof *config)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "trainer_get_config: bad arguments");
    *config = t->cfg;
    return I2IG_OK;
}

size_t i2ig_trainer_domain_count(const i2ig_trainer *t) { return t ? t->n_domains : 0; }

const char *i2ig_trainer_domain_name(const i2ig_trainer *t, size_t index)
{
    return (t && index < t->n_domains) ? t->gen->domains[t->domains[index].gen_index].name : NULL;
}

i2ig_status i2ig_trainer_export_generator(const i2ig_trainer *t, const char *path, int use_ema)
{
    if (!t || !path) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "export_generator: NULL argument");
    i2ig_weights_writer *wr;
    IG_TRY(i2ig_weights_writer_create(&wr));
    char saved[16];
    memcpy(saved, t->gen->weights_kind, sizeof saved);
    strcpy(t->gen->weights_kind, use_ema ? "ema" : "raw");
    i2ig_status st = i2ig_weights_writer_set_string(wr, "model.kind", "generator");
    if (st == I2IG_OK) st = ig_generator_write_meta(t->gen, wr);
    memcpy(t->gen->weights_kind, saved, sizeof saved);
    if (st == I2IG_OK) st = i2ig_weights_writer_set_int(wr, "provenance.train_steps", t->step);
    if (st == I2IG_OK)
        st = ig_params_save(use_ema ? (ig_params *)&t->ema : ig_unet_params(t->gen->unet), wr,
                            "unet.", I2IG_DTYPE_F32);
    if (st == I2IG_OK) st = ig_generator_write_domains(t->gen, wr);
    if (st == I2IG_OK) st = i2ig_weights_writer_write(wr, path);
    i2ig_weights_writer_free(wr);
    return st;
}

/* ---- preview ------------------------------------------------------------------------------ */

/* Exchanges the generator's weights with the EMA shadow (pointers only;
 * the version bump makes the kernels repack). */
static void swap_ema(i2ig_trainer *t)
{
    ig_params *gp = ig_unet_params(t->gen->unet);
    for (size_t i = 0; i < gp->n; i++) {
        ig_tensor *a = gp->items[i].t, *b = t->ema.items[i].t;
        ig_storage *sa = a->storage;
        float *da = a->data;
        a->storage = b->storage;
        a->data = b->data;
        b->storage = sa;
        b->data = da;
        a->version++;
        b->version++;
    }
}

static i2ig_status find_train_domain(const i2ig_trainer *t, const char *name, size_t *index)
{
    size_t g = 0;
    IG_TRY(ig_generator_find_domain(t->gen, name, &g));
    for (size_t i = 0; i < t->n_domains; i++)
        if (t->domains[i].gen_index == g) {
            *index = i;
            return I2IG_OK;
        }
    return ig_fail(I2IG_ERR_UNKNOWN_DOMAIN, "domain '%s' has no training images", name);
}

size_t i2ig_trainer_domain_slices(const i2ig_trainer *t, size_t index)
{
    return (t && index < t->n_domains) ? t->domains[index].pool.n : 0;
}

/* slices == NULL: the first n. */
static i2ig_status preview(i2ig_trainer *t, const char *source, const char *target,
                           const size_t *slices, size_t n, int use_ema, size_t *side, float *input,
                           float *translation, float *cycle)
{
    if (!t || !source || !target || !side)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "trainer_preview: NULL argument");
    size_t si = 0, ti = 0;
    IG_TRY(find_train_domain(t, source, &si));
    IG_TRY(find_train_domain(t, target, &ti));
    ig_pool *pool = &t->domains[si].pool;
    int mult = ig_unet_size_multiple(ig_unet_cfg_of(t->gen->unet));
    int s = ig_pool_patch_side(pool, t->cfg.crop_size, mult);
    *side = (size_t)s;
    if (!input) return I2IG_OK;
    if (!translation || !cycle || n < 1 || (!slices && n > pool->n) || n > 64)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "trainer_preview: %zu samples (pool has %zu, at most 64)",
                       n, pool->n);
    for (size_t i = 0; slices && i < n; i++)
        if (slices[i] >= pool->n)
            return ig_fail(I2IG_ERR_OUT_OF_RANGE, "trainer_preview: slice %zu of domain '%s', which has %zu",
                           slices[i], source, pool->n);
    /* The chosen slices, centred: a private pool view with its own order so
     * the training passes are untouched. */
    ig_pool view = *pool;
    uint32_t *order = malloc(n * sizeof *order);
    if (!order) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "preview");
    for (size_t i = 0; i < n; i++) order[i] = (uint32_t)(slices ? slices[i] : i);
    view.order = order;
    view.pos = 0;
    ig_rng unused;
    ig_rng_seed(&unused, 0);
    ig_pool_next_batch(&view, &unused, (int)n, s, 0, 0, input);
    free(order);
    if (use_ema) swap_ema(t);
    ig_thread_scope ts = ig_engine_enter(t->gen->e);
    ig_graph g;
    ig_graph_init(&g, t->gen->e, false);
    int64_t shape[4] = {(int64_t)n, s, s, 1};
    ig_tensor *x = ig_t_wrap(input, 4, shape);
    ig_tensor *y = ig_generator_run(&g, t->gen, x, t->domains[ti].gen_index);
    ig_tensor *c = ig_generator_run(&g, t->gen, y, t->domains[si].gen_index);
    if (y && c) {
        memcpy(translation, y->data, y->numel * sizeof(float));
        memcpy(cycle, c->data, c->numel * sizeof(float));
    }
    i2ig_status st = ig_graph_status(&g);
    ig_t_release(c);
    ig_t_release(y);
    ig_t_release(x);
    ig_graph_clear(&g);
    ig_engine_leave(ts);
    if (use_ema) swap_ema(t);
    return st;
}

i2ig_status i2ig_trainer_preview(i2ig_trainer *t, const char *source, const char *target, size_t n,
                                 int use_ema, size_t *side, float *input, float *translation,
                                 float *cycle)
{
    return preview(t, source, target, NULL, n, use_ema, side, input, translation, cycle);
}

i2ig_status i2ig_trainer_preview_slices(i2ig_trainer *t, const char *source, const char *target,
                                        const size_t *slices, size_t n, int use_ema, size_t *side,
                                        float *input, float *translation, float *cycle)
{
    if (input && !slices) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "trainer_preview_slices: NULL slices");
    return preview(t, source, target, slices, n, use_ema, side, input, translation, cycle);
}
