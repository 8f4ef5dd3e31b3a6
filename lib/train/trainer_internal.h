/* The trainer handle, shared by the public API (trainer.c), the training
 * step (step.c) and checkpoints (checkpoint.c). */
#ifndef IG_TRAIN_TRAINER_INTERNAL_H
#define IG_TRAIN_TRAINER_INTERNAL_H

#include "core/rng.h"
#include "discriminator/discriminator_internal.h"
#include "encoder/encoder_internal.h"
#include "generator/generator_internal.h"
#include "nn/params.h"
#include "train/data.h"

/* Adam moments and per-parameter step counts. A parameter that got no
 * gradient in a step (the discriminator heads of labels not in the batch)
 * is skipped and its count does not advance, as torch.optim.Adam skips
 * parameters whose .grad is None. */
typedef struct ig_adam_state {
    size_t n;
    float **m, **v;
    int64_t *steps;
} ig_adam_state;

typedef struct ig_train_domain {
    size_t gen_index;   /* the domain in the generator */
    float *text;        /* normalised text embedding (embed_dim) */
    ig_pool pool;
} ig_train_domain;

struct i2ig_trainer {
    i2ig_train_config cfg;
    i2ig_encoder *enc;           /* borrowed, frozen */
    i2ig_generator *gen;         /* its engine runs every graph of the trainer */
    i2ig_discriminator *disc;
    ig_params ema;               /* shadow of the generator weights */
    ig_adam_state adam_g, adam_d;
    int64_t step;                /* steps done */
    int64_t pair;                /* next domain pair (round robin) */
    ig_rng rng;
    ig_train_domain *domains;
    size_t n_domains;
    i2ig_reduce_fn reduce;
    void *reduce_user;
};

i2ig_status ig_adam_state_init(ig_adam_state *s, const ig_params *p);
void ig_adam_state_free(ig_adam_state *s);

/* Learning rate of the step that follows `done` steps. */
double ig_train_lr(const i2ig_train_config *c, double lr0, int64_t done);

/* One step (losses may be NULL). */
i2ig_status ig_train_step(i2ig_trainer *t, i2ig_train_losses *losses);

/* Creation shared by i2ig_trainer_create and checkpoint loading: takes
 * ownership of gen and disc. */
i2ig_status ig_trainer_assemble(const i2ig_train_config *c, i2ig_encoder *enc,
                                i2ig_generator *gen, i2ig_discriminator *disc,
                                i2ig_trainer **out);
/* Registers a domain already present in the generator (index) with its
 * pool; computes the normalised text embedding. */
i2ig_status ig_trainer_attach_domain(i2ig_trainer *t, size_t gen_index, ig_pool *pool);

#endif
