#include <stdlib.h>

#include "i2igalip.h"

/* The handle grows with the discriminator issue; for now it only owns itself. */
struct i2ig_discriminator {
    int unused;
};

void i2ig_discriminator_free(i2ig_discriminator *h) { free(h); }
