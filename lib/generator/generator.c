#include <stdlib.h>

#include "i2igalip.h"

/* The handle grows with the generator issue; for now it only owns itself. */
struct i2ig_generator {
    int unused;
};

void i2ig_generator_free(i2ig_generator *h) { free(h); }
