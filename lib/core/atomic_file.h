/* Crash-safe file replacement: write to a temporary file beside the target,
 * fsync it, rename it over the target, fsync the folder. Readers only ever
 * see the old complete file or the new complete file. */
#ifndef IG_CORE_ATOMIC_FILE_H
#define IG_CORE_ATOMIC_FILE_H

#include <stdio.h>

#include "i2igalip.h"

typedef struct ig_atomic_file {
    char *final_path;
    char *temp_path;
    int fd;
} ig_atomic_file;

/* Creates the temporary file (mode 0644 minus umask). */
i2ig_status ig_atomic_begin(ig_atomic_file *af, const char *path);
/* Writes all of buf (retrying short writes); I2IG_ERR_IO names the file and
 * errno (ENOSPC, EFBIG...). */
i2ig_status ig_atomic_write(ig_atomic_file *af, const void *buf, size_t n);
/* fsync + rename + folder fsync; on failure the temporary is removed. */
i2ig_status ig_atomic_commit(ig_atomic_file *af);
/* Removes the temporary file; safe after a failed commit or twice. */
void ig_atomic_abort(ig_atomic_file *af);

#endif
