#include <stdlib.h>

#include "i2igalip.h"

/* The handle grows with the encoder issue; for now it only owns itself. */
struct i2ig_encoder {
    int unused;
};

void i2ig_encoder_free(i2ig_encoder *h) { free(h); }
