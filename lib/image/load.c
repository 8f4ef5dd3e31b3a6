/* i2ig_image_load: open the file once, recognise it by content, dispatch. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "image/image_internal.h"

i2ig_status i2ig_image_load(const char *path, i2ig_image **out)
{
    return i2ig_image_load_limited(path, I2IG_IMAGE_DEFAULT_MAX_BYTES, out);
}

i2ig_status i2ig_image_load_limited(const char *path, uint64_t max_bytes, i2ig_image **out)
{
    if (!out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_image_load: out is NULL");
    *out = NULL;
    if (!path || !*path) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_image_load: empty path");
    if (max_bytes == 0)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "%s: decoded-size limit of 0 bytes", path);

    /* One descriptor for sniffing and decoding: the file checked is the
     * file decoded, even if the path is replaced meanwhile. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ig_fail(I2IG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ig_fail(I2IG_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return ig_fail(I2IG_ERR_IO, "%s: is a directory, not an image file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ig_fail(I2IG_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: empty file", path);
    }

    unsigned char head[512];
    ssize_t got;
    do got = pread(fd, head, sizeof head, 0);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        int e = errno;
        close(fd);
        return ig_fail(I2IG_ERR_IO, "%s: read failed: %s", path, strerror(e));
    }
    const char *other;
    i2ig_file_format fmt = ig_sniff_format(head, (size_t)got, &other);
    switch (fmt) {
    case I2IG_FORMAT_TIFF:
        return ig_tiff_load(fd, path, (uint64_t)st.st_size, max_bytes, out);
    case I2IG_FORMAT_PNG:
    case I2IG_FORMAT_JPEG:
    case I2IG_FORMAT_BMP:
        return ig_stb_load(fd, path, (uint64_t)st.st_size, fmt, max_bytes, out);
    default:
        close(fd);
        if (other)
            return ig_fail(I2IG_ERR_UNSUPPORTED,
                           "%s: %s files are not read; convert to TIFF (stacks) or PNG", path,
                           other);
        return ig_fail(I2IG_ERR_IMAGE_FORMAT,
                       "%s: not a PNG, JPEG, BMP or TIFF file (unrecognised first bytes)", path);
    }
}
