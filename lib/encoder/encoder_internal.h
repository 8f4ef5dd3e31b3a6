/* The encoder handle behind the public i2ig_encoder_* functions, shared by
 * the loader (encoder_load.c), the public API (encoder.c) and the trainer,
 * which calls the towers directly on its own graph. */
#ifndef IG_ENCODER_INTERNAL_H
#define IG_ENCODER_INTERNAL_H

#include "encoder/bert.h"
#include "encoder/vit.h"
#include "encoder/wordpiece.h"

/* Preprocessing the loader accepts (metadata preprocess.resize). */
#define IG_ENCODER_RESIZE_MODE "bicubic-antialias-shorter-side+center-crop"
/* Per-call input limits of the public image functions (each side is also
 * at most IG_VIT_MAX_SIDE). */
#define IG_ENCODER_MAX_BATCH 4096
#define IG_ENCODER_MAX_PIXELS ((size_t)1 << 30)

struct i2ig_encoder {
    ig_engine *e;     /* owns every weight tensor's packed copies and the pool */
    ig_vit vit;
    ig_bert bert;
    ig_wordpiece *wp;
};

/* Reads the architecture and every weight of an open encoder file into h
 * (whose engine exists); on failure h holds what was read so far, to be
 * freed by the caller. */
i2ig_status ig_encoder_load_weights(i2ig_encoder *h, i2ig_weights *w, const char *path);

/* The handle's engine (tests count its primitive creations). */
ig_engine *ig_encoder_engine(const i2ig_encoder *h);
const ig_vit *ig_encoder_vit(const i2ig_encoder *h);
const ig_bert *ig_encoder_bert(const i2ig_encoder *h);

#endif
