#define _POSIX_C_SOURCE 200809L
#include "core/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

i2ig_status ig_atomic_begin(ig_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    af->fd = -1;
    if (!path || !*path) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "empty output path");
    size_t n = strlen(path);
    af->final_path = dup_str(path);
    af->temp_path = malloc(n + 16);
    if (!af->final_path || !af->temp_path) {
        free(af->temp_path);
        af->temp_path = NULL;
        ig_atomic_abort(af);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    memcpy(af->temp_path, path, n);
    memcpy(af->temp_path + n, ".tmp.XXXXXX", 12);
    af->fd = mkstemp(af->temp_path);
    if (af->fd < 0) {
        int e = errno;
        free(af->temp_path);
        af->temp_path = NULL;
        ig_atomic_abort(af);
        return ig_fail(I2IG_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(e));
    }
    /* mkstemp makes 0600; a finished output file should look like any other. */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(af->fd, 0666 & ~mask);
    return I2IG_OK;
}

i2ig_status ig_atomic_write(ig_atomic_file *af, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(af->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return ig_fail(I2IG_ERR_IO, "%s: write failed: %s", af->final_path, strerror(errno));
        }
        if (w == 0) return ig_fail(I2IG_ERR_IO, "%s: write made no progress", af->final_path);
        p += w;
        n -= (size_t)w;
    }
    return I2IG_OK;
}

static void fsync_parent(const char *path)
{
    char *dir = dup_str(path);
    if (!dir) return;
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    else strcpy(dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

i2ig_status ig_atomic_commit(ig_atomic_file *af)
{
    i2ig_status st = I2IG_OK;
    if (fsync(af->fd) != 0)
        st = ig_fail(I2IG_ERR_IO, "%s: fsync failed: %s", af->final_path, strerror(errno));
    if (close(af->fd) != 0 && st == I2IG_OK)
        st = ig_fail(I2IG_ERR_IO, "%s: close failed: %s", af->final_path, strerror(errno));
    af->fd = -1;
    if (st == I2IG_OK && rename(af->temp_path, af->final_path) != 0)
        st = ig_fail(I2IG_ERR_IO, "%s: rename failed: %s", af->final_path, strerror(errno));
    if (st != I2IG_OK) {
        ig_atomic_abort(af);
        return st;
    }
    fsync_parent(af->final_path);
    free(af->temp_path);
    af->temp_path = NULL;
    ig_atomic_abort(af);
    return I2IG_OK;
}

void ig_atomic_abort(ig_atomic_file *af)
{
    if (af->fd >= 0) close(af->fd);
    af->fd = -1;
    if (af->temp_path) unlink(af->temp_path);
    free(af->temp_path);
    free(af->final_path);
    af->temp_path = af->final_path = NULL;
}
