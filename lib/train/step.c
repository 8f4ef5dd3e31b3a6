/* One training step, in the reference's order (training_engine.py of
 * I2I-Galip): the four translations and cycles, the CLIP guidance and
 * encoding losses on the fakes, the identities, the discriminator losses on
 * detached fakes and on reals, the adversarial losses; then the generator
 * step and its EMA, then the discriminator step (its loss was computed with
 * the fakes of the generator before its update). Two tapes: one for the
 * generator's loss, one for the discriminator's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/ops.h"
#include "train/optim.h"
#include "train/trainer_internal.h"

/* Everything one direction needs: the real batch of a domain, its fake in
 * the other domain, the encoder outputs. */
typedef struct side {
    const ig_train_domain *d;
    int label;
    ig_tensor *x;            /* real batch, B,S,S,1 */
    ig_tensor *fake;         /* G(x of the other side, this domain) */
    ig_vit_out vit_fake, vit_real;
    ig_tensor *feat_fake, *feat_real; /* B, n_taps, T, C */
    float *text;             /* B rows of the normalised text embedding */
} side;

static ig_tensor *batch_tensor(ig_graph *g, i2ig_trainer *t, ig_train_domain *d, int side_len)
{
    int b = t->cfg.batch_size;
    int64_t shape[4] = {b, side_len, side_len, 1};
    ig_tensor *x = ig_t_new(g, 4, shape);
    if (x) ig_pool_next_batch(&d->pool, &t->rng, b, side_len, t->cfg.crop_size, t->cfg.flip, x->data);
    return x;
}

/* B,n_taps,T,C from the tap list (each B,T,C). */
static ig_tensor *stack_taps(ig_graph *g, const ig_vit_out *o, int n_taps)
{
    ig_tensor *s = ig_stack(g, o->taps, n_taps);
    const int perm[4] = {1, 0, 2, 3};
    ig_tensor *f = ig_permute(g, s, perm);
    ig_t_release(s);
    return f;
}

/* mean over rows of (sign * cos(a_r, b_r) + offset) */
static ig_tensor *cos_loss(ig_graph *g, ig_tensor *a, ig_tensor *b, float sign, float offset)
{
    ig_tensor *c = ig_cos_rows(g, a, b);
    ig_tensor *m = ig_mean(g, c);
    ig_t_release(c);
    ig_tensor *l = ig_scale(g, m, sign, offset);
    ig_t_release(m);
    return l;
}

/* Flattens N,... to N,rest (a view). */
static ig_tensor *flat_rows(ig_graph *g, ig_tensor *x)
{
    if (!x) return NULL;
    int64_t s[2] = {x->shape[0], (int64_t)(x->numel / (size_t)x->shape[0])};
    return ig_reshape(g, x, 2, s);
}

/* acc = acc + w * l (acc may start NULL) */
static ig_tensor *accumulate(ig_graph *g, ig_tensor *acc, ig_tensor *l, double w)
{
    if (!l) return acc;
    if (!acc) return ig_scale(g, l, (float)w, 0.0f);
    ig_tensor *r = ig_axpby(g, 1.0f, acc, (float)w, l);
    ig_t_release(acc);
    return r;
}

static double value(const ig_tensor *t) { return t ? (double)t->data[0] : NAN; }

/* Packs the gradients of the parameters that got one, calls the reduce
 * hook, unpacks. */
static i2ig_status reduce(i2ig_trainer *t, int model, ig_params *p)
{
    if (!t->reduce) return I2IG_OK;
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].t->grad) n += p->items[i].t->numel;
    float *buf = malloc((n ? n : 1) * sizeof(float));
    if (!buf) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "gradient reduction buffer");
    size_t off = 0;
    for (size_t i = 0; i < p->n; i++) {
        ig_tensor *x = p->items[i].t;
        if (!x->grad) continue;
        memcpy(buf + off, x->grad->data, x->numel * sizeof(float));
        off += x->numel;
    }
    i2ig_status st = t->reduce(t->reduce_user, model, buf, n);
    if (st == I2IG_OK) {
        off = 0;
        for (size_t i = 0; i < p->n; i++) {
            ig_tensor *x = p->items[i].t;
            if (!x->grad) continue;
            memcpy(x->grad->data, buf + off, x->numel * sizeof(float));
            off += x->numel;
        }
    } else if (st != I2IG_OK) {
        st = ig_fail_context(st, "the reduce hook failed");
    }
    free(buf);
    return st;
}

static void adam(i2ig_trainer *t, ig_params *p, ig_adam_state *s, double lr)
{
    ig_adam_cfg c = {lr, t->cfg.beta1, t->cfg.beta2, 1e-8};
    for (size_t i = 0; i < p->n; i++) {
        ig_tensor *x = p->items[i].t;
        if (!x->grad) continue; /* torch.optim.Adam skips params without .grad */
        s->steps[i]++;
        ig_adam_update(&c, s->steps[i], x->numel, x->data, x->grad->data, s->m[i], s->v[i],
                       t->cfg.threads);
        x->version++;
    }
}

static void drop_grads(ig_params *p)
{
    for (size_t i = 0; i < p->n; i++) {
        ig_t_release(p->items[i].t->grad);
        p->items[i].t->grad = NULL;
    }
}

static void side_release(side *s)
{
    ig_t_release(s->x);
    ig_t_release(s->fake);
    ig_vit_out_release(&s->vit_fake);
    ig_vit_out_release(&s->vit_real);
    ig_t_release(s->feat_fake);
    ig_t_release(s->feat_real);
    free(s->text);
}

i2ig_status ig_train_step(i2ig_trainer *t, i2ig_train_losses *L)
{
    const i2ig_train_config *cfg = &t->cfg;
    i2ig_generator *gen = t->gen;
    ig_engine *e = gen->e;
    const ig_vit *vit = ig_encoder_vit(t->enc);
    ig_disc *disc = t->disc->disc;
    ig_params *gp = ig_unet_params(gen->unet), *dp = ig_disc_params(disc);
    const int B = cfg->batch_size, n_taps = vit->cfg.n_taps, text_dim = ig_disc_cfg_of(disc)->text_dim;

    /* The domain pair of this step: all unordered pairs in turn. */
    size_t nd = t->n_domains, npairs = nd * (nd - 1) / 2, k = (size_t)(t->pair % (int64_t)npairs), a = 0, b = 1;
    for (size_t i = 0, c = 0; i < nd; i++)
        for (size_t j = i + 1; j < nd; j++, c++)
            if (c == k) {
                a = i;
                b = j;
            }
    side s[2];
    memset(s, 0, sizeof s);
    s[0].d = &t->domains[a];
    s[1].d = &t->domains[b];
    int mult = ig_unet_size_multiple(ig_unet_cfg_of(gen->unet));

    ig_thread_scope ts = ig_engine_enter(e);
    ig_graph gG, gD, gN;
    ig_graph_init(&gG, e, true);
    ig_graph_init(&gD, e, true);
    ig_graph_init(&gN, e, false);
    ig_params_set_requires_grad(gp, true);
    for (int i = 0; i < 2; i++) {
        s[i].label = gen->domains[s[i].d->gen_index].label;
        int side_len = ig_pool_patch_side(&s[i].d->pool, cfg->crop_size, mult);
        s[i].x = batch_tensor(&gN, t, (ig_train_domain *)s[i].d, side_len);
        s[i].text = malloc((size_t)B * (size_t)text_dim * sizeof(float));
        if (!s[i].text) ig_graph_fail(&gN, ig_fail(I2IG_ERR_OUT_OF_MEMORY, "text rows"));
        for (int r = 0; s[i].text && r < B; r++)
            memcpy(s[i].text + (size_t)r * (size_t)text_dim, s[i].d->text, (size_t)text_dim * sizeof(float));
    }
    i2ig_status st = ig_graph_status(&gN);
    size_t g0 = s[0].d->gen_index, g1 = s[1].d->gen_index;

    /* Translations and cycles: fake of domain 1 from x0, and back. */
    ig_tensor *rec0 = NULL, *rec1 = NULL, *id0 = NULL, *id1 = NULL;
    if (st == I2IG_OK) {
        s[1].fake = ig_generator_run(&gG, gen, s[0].x, g1);
        rec0 = ig_generator_run(&gG, gen, s[1].fake, g0);
        s[0].fake = ig_generator_run(&gG, gen, s[1].x, g0);
        rec1 = ig_generator_run(&gG, gen, s[0].fake, g1);
        st = ig_graph_status(&gG);
    }
    /* The frozen encoder on the fakes (with the tape) and on the reals. */
    for (int i = 0; i < 2 && st == I2IG_OK; i++) {
        st = ig_vit_forward(&gG, vit, s[i].fake, IG_VIT_WANT_ALL, &s[i].vit_fake);
        if (st == I2IG_OK) st = ig_vit_forward(&gN, vit, s[i].x, IG_VIT_WANT_TAPS | IG_VIT_WANT_CLS, &s[i].vit_real);
    }
    ig_tensor *loss_clip = NULL, *loss_enc = NULL, *loss_cyc = NULL, *loss_id = NULL, *loss_adv = NULL;
    double v_clip = 0, v_enc = 0, v_cyc = 0, v_id = 0, v_adv = 0, v_disc = 0;
    if (st == I2IG_OK) {
        for (int i = 0; i < 2; i++) {
            /* CLIP guidance: -cos(image embedding of the fake, its text) */
            int64_t ts2[2] = {B, text_dim};
            ig_tensor *txt = ig_t_wrap(s[i].text, 2, ts2);
            ig_tensor *l = cos_loss(&gG, s[i].vit_fake.embedding, txt, -1.0f, 0.0f);
            ig_t_release(txt);
            v_clip += value(l);
            loss_clip = accumulate(&gG, loss_clip, l, 1.0);
            ig_t_release(l);
            /* CLIP encoding: 1 - cos(class tokens of the fake, of a real of
             * the same domain) */
            ig_tensor *cf = flat_rows(&gG, s[i].vit_fake.cls), *cr = flat_rows(&gN, s[i].vit_real.cls);
            l = cos_loss(&gG, cf, cr, -1.0f, 1.0f);
            ig_t_release(cf);
            ig_t_release(cr);
            v_enc += value(l);
            loss_enc = accumulate(&gG, loss_enc, l, 1.0);
            ig_t_release(l);
        }
        ig_tensor *l = ig_l1_loss(&gG, rec0, s[0].x);
        v_cyc += value(l);
        loss_cyc = accumulate(&gG, loss_cyc, l, 1.0);
        ig_t_release(l);
        l = ig_l1_loss(&gG, rec1, s[1].x);
        v_cyc += value(l);
        loss_cyc = accumulate(&gG, loss_cyc, l, 1.0);
        ig_t_release(l);
        id0 = ig_generator_run(&gG, gen, s[0].x, g0);
        id1 = ig_generator_run(&gG, gen, s[1].x, g1);
        l = ig_l1_loss(&gG, s[0].x, id0);
        v_id += value(l);
        loss_id = accumulate(&gG, loss_id, l, 1.0);
        ig_t_release(l);
        l = ig_l1_loss(&gG, s[1].x, id1);
        v_id += value(l);
        loss_id = accumulate(&gG, loss_id, l, 1.0);
        ig_t_release(l);
        for (int i = 0; i < 2; i++) {
            s[i].feat_fake = stack_taps(&gG, &s[i].vit_fake, n_taps);
            s[i].feat_real = stack_taps(&gN, &s[i].vit_real, n_taps);
        }
        st = ig_graph_status(&gG) != I2IG_OK ? ig_graph_status(&gG) : ig_graph_status(&gN);
    }
    /* Discriminator: LSGAN on detached fakes (0) then on reals (1), the
     * reference's call order (every call runs one power iteration). */
    ig_tensor *loss_disc = NULL;
    if (st == I2IG_OK) {
        ig_params_set_requires_grad(dp, true);
        int labels[2][16];
        for (int i = 0; i < 2; i++)
            for (int r = 0; r < B; r++) labels[i][r] = s[i].label;
        for (int i = 0; i < 2; i++) {
            ig_tensor *fd = ig_t_detach(&gD, s[i].feat_fake);
            ig_tensor *y = ig_disc_forward(&gD, disc, fd, labels[i], s[i].text, 1);
            ig_tensor *l = ig_mse_const(&gD, y, 0.0f);
            v_disc += value(l);
            loss_disc = accumulate(&gD, loss_disc, l, 1.0);
            ig_t_release(fd);
            ig_t_release(y);
            ig_t_release(l);
        }
        for (int i = 0; i < 2; i++) {
            ig_tensor *y = ig_disc_forward(&gD, disc, s[i].feat_real, labels[i], s[i].text, 1);
            ig_tensor *l = ig_mse_const(&gD, y, 1.0f);
            v_disc += value(l);
            loss_disc = accumulate(&gD, loss_disc, l, 1.0);
            ig_t_release(y);
            ig_t_release(l);
        }
        /* Adversarial: the generator wants its fakes called real; the
         * discriminator's weights take no gradient from this loss. */
        ig_params_set_requires_grad(dp, false);
        for (int i = 0; i < 2; i++) {
            ig_tensor *y = ig_disc_forward(&gG, disc, s[i].feat_fake, labels[i], s[i].text, 1);
            ig_tensor *l = ig_mse_const(&gG, y, 1.0f);
            v_adv += value(l);
            loss_adv = accumulate(&gG, loss_adv, l, 1.0);
            ig_t_release(y);
            ig_t_release(l);
        }
        st = ig_graph_status(&gG) != I2IG_OK ? ig_graph_status(&gG) : ig_graph_status(&gD);
    }
    ig_tensor *total = NULL;
    if (st == I2IG_OK) {
        total = accumulate(&gG, total, loss_cyc, cfg->w_cycle);
        total = accumulate(&gG, total, loss_clip, cfg->w_clip);
        total = accumulate(&gG, total, loss_enc, cfg->w_encoding);
        total = accumulate(&gG, total, loss_adv, cfg->w_adversarial);
        total = accumulate(&gG, total, loss_id, cfg->w_identity);
        st = ig_graph_status(&gG);
    }
    double v_total = value(total), lr_g = ig_train_lr(cfg, cfg->lr_generator, t->step),
           lr_d = ig_train_lr(cfg, cfg->lr_discriminator, t->step);
    if (st == I2IG_OK && (!isfinite(v_total) || !isfinite(v_disc)))
        st = ig_fail(I2IG_ERR_NOT_FINITE, "training step %lld: a loss is not finite (generator %g, "
                     "discriminator %g)", (long long)t->step + 1, v_total, v_disc);
    /* Generator step, EMA, then discriminator step. */
    if (st == I2IG_OK) st = ig_backward(&gG, total, 1.0f);
    if (st == I2IG_OK) st = reduce(t, 0, gp);
    if (st == I2IG_OK) {
        adam(t, gp, &t->adam_g, lr_g);
        for (size_t i = 0; i < gp->n; i++)
            ig_ema_update((float)cfg->ema_decay, gp->items[i].t->numel, t->ema.items[i].t->data,
                          gp->items[i].t->data, cfg->threads);
        ig_params_touch(&t->ema);
    }
    ig_params_set_requires_grad(dp, true);
    if (st == I2IG_OK) st = ig_backward(&gD, loss_disc, 1.0f);
    if (st == I2IG_OK) st = reduce(t, 1, dp);
    if (st == I2IG_OK) adam(t, dp, &t->adam_d, lr_d);
    drop_grads(gp);
    drop_grads(dp);
    ig_params_set_requires_grad(gp, false);
    ig_params_set_requires_grad(dp, false);
    ig_tensor *tmp[] = {rec0, rec1, id0, id1, loss_clip, loss_enc, loss_cyc, loss_id, loss_adv,
                        loss_disc, total};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) ig_t_release(tmp[i]);
    side_release(&s[0]);
    side_release(&s[1]);
    ig_graph_clear(&gG);
    ig_graph_clear(&gD);
    ig_graph_clear(&gN);
    ig_engine_leave(ts);
    if (st != I2IG_OK) return st;
    t->step++;
    t->pair++;
    if (L) {
        L->step = t->step;
        L->generator = v_total;
        L->discriminator = v_disc;
        L->adversarial = v_adv;
        L->cycle = v_cyc;
        L->identity = v_id;
        L->clip = v_clip;
        L->encoding = v_enc;
        L->lr = lr_g;
    }
    return I2IG_OK;
}
