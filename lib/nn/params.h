/* A model's named parameters: creation in a fixed order, loading from and
 * saving to weight files by name with exact shape checks, and the flat
 * list the optimiser and the EMA walk over. */
#ifndef IG_NN_PARAMS_H
#define IG_NN_PARAMS_H

#include "nn/tensor.h"

typedef struct ig_param {
    char *name;
    ig_tensor *t;
} ig_param;

typedef struct ig_params {
    ig_engine *e;
    ig_param *items;
    size_t n, cap;
    i2ig_status status; /* sticky: first failure of ig_params_add */
    /* Count-only tables (ig_params_init_count) allocate nothing: adds
     * return NULL and only sum their sizes, so that an architecture read
     * from a file can be sized before anything is allocated for it. */
    bool count_only;
    uint64_t counted; /* scalars added so far (saturates at UINT64_MAX) */
} ig_params;

/* Largest model any constructor builds: 2^31 scalars (8 GiB of f32). */
#define IG_MAX_MODEL_PARAMS ((uint64_t)1 << 31)

void ig_params_init(ig_params *p, ig_engine *e);
void ig_params_init_count(ig_params *p);
void ig_params_free(ig_params *p);
/* Adds a zero-filled parameter named by the printf-style format. Returns
 * the tensor, or NULL (and p->status set) on failure. */
ig_tensor *ig_params_add(ig_params *p, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Index of the parameter called name, or -1. */
long ig_params_find(const ig_params *p, const char *name);
/* Total number of scalars. */
size_t ig_params_numel(const ig_params *p);
/* Checks, before a model of `needed` scalars described by w's metadata is
 * allocated, that w stores about that many values in all its tensors (a
 * file cannot hold weights for a larger model): far more than twice the
 * stored count gives I2IG_ERR_MODEL_MISMATCH naming both numbers. Bounds
 * what a forged architecture can allocate by the real file size. */
i2ig_status ig_params_check_stored(uint64_t needed, const i2ig_weights *w, const char *path,
                                   const char *what);
/* Reads every parameter from prefix + name in w (converting f16/bf16);
 * missing tensors and wrong shapes fail with the file and tensor named. */
i2ig_status ig_params_load(ig_params *p, i2ig_weights *w, const char *prefix);
/* Adds every parameter as prefix + name to the writer, stored as dtype;
 * the data is borrowed: keep p alive until the writer has written. */
i2ig_status ig_params_save(const ig_params *p, i2ig_weights_writer *wr, const char *prefix,
                           i2ig_dtype dtype);
void ig_params_set_requires_grad(ig_params *p, bool on);
/* Bumps every parameter's version (after an in-place update). */
void ig_params_touch(ig_params *p);

#endif
