/* The generator handle as the inference and training code see it. */
#ifndef IG_GENERATOR_INTERNAL_H
#define IG_GENERATOR_INTERNAL_H

#include "generator/unet.h"
#include "i2igalip.h"

typedef struct ig_domain {
    char *name;
    char *prompt;
    int label;
    i2ig_intensity_mapping map;
    ig_tensor *context;        /* 1 x S x context_dim */
    float *text_embedding;     /* embed_dim floats */
    size_t embed_dim;
} ig_domain;

struct i2ig_generator {
    ig_engine *e;
    ig_unet *unet;
    ig_domain *domains;
    size_t n_domains;
    int threads;
    i2ig_progress_fn progress;
    void *progress_user;
    char weights_kind[16]; /* which weights unet.* holds: "ema", "raw", "random" */
};

/* Index of the domain called name; I2IG_ERR_UNKNOWN_DOMAIN lists the known
 * names. */
i2ig_status ig_generator_find_domain(const i2ig_generator *g, const char *name, size_t *index);
/* Checks a mapping's numbers (finite, hi > lo, percentiles ordered). */
i2ig_status ig_mapping_check(const i2ig_intensity_mapping *m, const char *domain);

/* A generator of configuration c with zero weights and no domains. */
i2ig_status ig_generator_new(const ig_unet_cfg *c, i2ig_generator **out);
/* Model-file pieces shared with training checkpoints: the architecture and
 * domain metadata (not model.kind: the caller says what the file is), and
 * the domain tensors (borrowed from g). */
i2ig_status ig_generator_write_meta(const i2ig_generator *g, i2ig_weights_writer *wr);
i2ig_status ig_generator_write_domains(const i2ig_generator *g, i2ig_weights_writer *wr);
/* Reads architecture, domains and the U-Net weights stored under prefix
 * ("unet.") from an open file (of any model.kind). */
i2ig_status ig_generator_read(i2ig_weights *w, const char *path, const char *prefix,
                              i2ig_generator **out);

/* Runs the U-Net on x (N,H,W,1 in [0,1]) towards domain index t. */
ig_tensor *ig_generator_run(ig_graph *graph, i2ig_generator *g, ig_tensor *x, size_t t);

#endif
