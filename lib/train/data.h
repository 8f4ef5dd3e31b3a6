/* A domain's pool of unpaired training slices, mapped to [0,1], and the
 * seeded sampling of batches from it (shuffled passes, random crops and
 * flips). Every random draw comes from the trainer's ig_rng, whose state
 * is checkpointed, so a resumed run draws the same batches. */
#ifndef IG_TRAIN_DATA_H
#define IG_TRAIN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "i2igalip.h"

typedef struct ig_slice {
    int w, h;
    float *px; /* h x w, values in [0,1] */
} ig_slice;

typedef struct ig_pool {
    ig_slice *s;
    size_t n;
    uint32_t *order; /* current pass: a permutation of 0..n-1 */
    size_t pos;      /* next index into order */
    int max_w, max_h;
} ig_pool;

/* Appends every slice of image, mapped with m. */
i2ig_status ig_pool_add_image(ig_pool *p, const i2ig_image *image, const i2ig_intensity_mapping *m);
void ig_pool_free(ig_pool *p);

/* Side of the training patches: crop when crop > 0, else the pool's
 * largest side rounded up to multiple. */
int ig_pool_patch_side(const ig_pool *p, int crop, int multiple);

/* Fills out (batch x side x side, one patch after the other) with the next
 * batch: slices in shuffled passes (a new permutation when a pass ends),
 * each reflection-padded to at least side, cropped at a random offset (the
 * centre when crop == 0) and flipped left-right with probability 1/2 when
 * flip. */
void ig_pool_next_batch(ig_pool *p, ig_rng *rng, int batch, int side, int crop, int flip, float *out);

#endif
