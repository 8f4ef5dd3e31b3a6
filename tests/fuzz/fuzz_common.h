/* Shared by the libFuzzer harnesses: the loaders under test read paths, so
 * each input is handed to them as a file. An anonymous memory file
 * (memfd) reached through /proc/self/fd keeps that off the disk and needs
 * no clean-up. */
#ifndef I2IG_FUZZ_COMMON_H
#define I2IG_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A memfd holding the current input; its path stays valid for the
 * process' life and is rewritten (truncated + written) for each input. */
typedef struct fz_file {
    int fd;
    char path[64];
} fz_file;

static inline void fz_file_init(fz_file *f, const char *name)
{
    f->fd = memfd_create(name, MFD_CLOEXEC);
    if (f->fd < 0) {
        perror("memfd_create");
        abort(); /* the harness, not the library: no input can cause this */
    }
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
}

static inline void fz_file_set(fz_file *f, const uint8_t *data, size_t n)
{
    if (ftruncate(f->fd, 0) != 0) abort();
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(f->fd, data + done, n - done, (off_t)done);
        if (w <= 0) abort();
        done += (size_t)w;
    }
}

/* Keeps a value alive so that reads of tensor data are not optimised away. */
static inline void fz_use(const void *p, size_t n)
{
    volatile unsigned char acc = 0;
    for (size_t i = 0; i < n; i++) acc ^= ((const unsigned char *)p)[i];
    (void)acc;
}

#endif
