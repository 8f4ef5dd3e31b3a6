/* The open-file handle shared by the reader (reader.c: open + validation)
 * and its accessors (access.c). */
#ifndef IG_WEIGHTS_IMPL_H
#define IG_WEIGHTS_IMPL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "i2igalip.h"

/* Metadata value, parsed into heap copies (the index is not aligned). */
typedef struct ig_meta {
    char *key;
    i2ig_meta_type type;
    size_t count; /* arrays: number of elements */
    union {
        int64_t i;
        double f;
        char *s;
        int64_t *ia;
        double *fa;
        char **sa;
    } v;
} ig_meta;

/* Checksum state of a tensor: verified once, by whichever thread gets
 * there first (two threads may both compute it; both store the same). */
enum { IG_CRC_UNCHECKED = 0, IG_CRC_OK = 1 };

typedef struct ig_tensor {
    char *name;
    i2ig_dtype dtype;
    uint32_t ndim;
    uint64_t shape[I2IG_MAX_DIMS];
    uint64_t offset;
    uint64_t nbytes;
    uint32_t crc32;
    atomic_uchar crc_state;
} ig_tensor;

struct i2ig_weights {
    char *path; /* as given by the caller: every message starts with it */
    const unsigned char *map;
    size_t map_size;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    size_t meta_count;
    ig_meta *meta;
    size_t tensor_count;
    ig_tensor *tensors;
    /* Entries sorted by name, for duplicate detection and lookup. */
    ig_meta **meta_by_key;
    ig_tensor **tensor_by_name;
};

/* Frees what a parsed or writer-owned entry holds (not m itself). */
void ig_meta_clear(ig_meta *m);
/* Index (file order) of the entry called name, or SIZE_MAX if absent. */
size_t ig_weights_lookup_meta(const i2ig_weights *w, const char *key);
size_t ig_weights_lookup_tensor(const i2ig_weights *w, const char *name);
/* Verifies the checksum of tensor i once; later calls are free. */
i2ig_status ig_weights_check_tensor(i2ig_weights *w, size_t i);

#endif
