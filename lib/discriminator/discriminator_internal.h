/* The discriminator handle as the training code sees it. */
#ifndef IG_DISCRIMINATOR_INTERNAL_H
#define IG_DISCRIMINATOR_INTERNAL_H

#include "discriminator/disc.h"
#include "i2igalip.h"

struct i2ig_discriminator {
    ig_engine *e;
    ig_disc *disc;
};

/* A discriminator of configuration c with zero weights. */
i2ig_status ig_discriminator_new(const ig_disc_cfg *c, i2ig_discriminator **out);
/* Its architecture and "disc.*" tensors into / out of a weight file (shared
 * with training checkpoints); tensors are borrowed until the writer writes. */
i2ig_status ig_discriminator_write(const i2ig_discriminator *d, i2ig_weights_writer *wr);
i2ig_status ig_discriminator_read(i2ig_weights *w, const char *path, i2ig_discriminator **out);

#endif
