/* PNG, JPEG and BMP through Debian's stb_image (the system header, compiled
 * here as a private implementation: no stb symbol leaves this file). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "image/image_internal.h"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
/* stb's asserts guard its own invariants; the library must never abort. */
#define STBI_ASSERT(x) ((void)0)
#if defined(__GNUC__)
/* Declared-but-unused stb functions are reported at the end of the file. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#endif
#include <stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

static const char *format_name(i2ig_file_format f)
{
    return f == I2IG_FORMAT_PNG ? "PNG" : f == I2IG_FORMAT_JPEG ? "JPEG" : "BMP";
}

/* Reads the whole file (stb decodes from memory). */
static i2ig_status read_all(int fd, const char *path, size_t size, unsigned char **out)
{
    unsigned char *buf = malloc(size);
    if (!buf) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, size);
    size_t done = 0;
    while (done < size) {
        ssize_t r = pread(fd, buf + done, size - done, (off_t)done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            return ig_fail(I2IG_ERR_IO, "%s: read failed: %s", path, strerror(e));
        }
        if (r == 0) {
            free(buf);
            return ig_fail(I2IG_ERR_IO, "%s: file shrank while being read", path);
        }
        done += (size_t)r;
    }
    *out = buf;
    return I2IG_OK;
}

static i2ig_status stb_failure(const char *path, i2ig_file_format fmt)
{
    const char *why = stbi_failure_reason();
    if (!why) why = "unknown reason";
    if (!strcmp(why, "too large"))
        return ig_fail(I2IG_ERR_TOO_LARGE, "%s: %s too large for stb_image (%s)", path,
                       format_name(fmt), why);
    if (!strcmp(why, "outofmem"))
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: stb_image ran out of memory", path);
    return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: corrupt or unsupported %s (stb_image: %s)", path,
                   format_name(fmt), why);
}

/* One channel from the decoded samples: grey as is, grey+alpha -> grey,
 * RGB(A) -> luma in the file's bit depth. */
#define IG_TO_GREY(T)                                                          \
    do {                                                                       \
        const T *s = (const T *)pix;                                           \
        T *d = (T *)i2ig_image_data(im, 0);                                    \
        for (size_t i = 0; i < npix; i++, s += ch)                             \
            d[i] = ch >= 3 ? (T)ig_luma(s[0], s[1], s[2]) : s[0];              \
    } while (0)

i2ig_status ig_stb_load(int fd, const char *path, uint64_t size, i2ig_file_format fmt,
                        uint64_t max_bytes, i2ig_image **out)
{
    /* A PNG, JPEG or BMP is never much larger than its pixels; the cap keeps
     * a huge non-image from being read into memory. stb takes an int length. */
    uint64_t file_cap = max_bytes > (UINT64_MAX - (16u << 20)) / 2 ? UINT64_MAX
                                                                   : 2 * max_bytes + (16u << 20);
    if (size > file_cap || size > INT_MAX) {
        close(fd);
        return ig_fail(I2IG_ERR_TOO_LARGE, "%s: %s file of %llu bytes exceeds the reader's "
                       "limit (%llu bytes, from the decoded-size limit %llu)", path,
                       format_name(fmt), (unsigned long long)size,
                       (unsigned long long)(file_cap < INT_MAX ? file_cap : INT_MAX),
                       (unsigned long long)max_bytes);
    }
    unsigned char *buf = NULL;
    i2ig_status st = read_all(fd, path, (size_t)size, &buf);
    close(fd);
    if (st != I2IG_OK) return st;
    int len = (int)size;

    ig_png_info png = {0};
    int w = 0, h = 0, comp = 0, is16 = 0;
    if (fmt == I2IG_FORMAT_PNG) {
        st = ig_png_check(buf, (size_t)len, path, &png);
        w = (int)png.width;
        h = (int)png.height;
        comp = (int)png.channels;
        is16 = png.depth == 16;
    } else {
        if (fmt == I2IG_FORMAT_BMP) st = ig_bmp_check(buf, (size_t)len, path);
        if (fmt == I2IG_FORMAT_JPEG) st = ig_jpeg_check(buf, (size_t)len, path);
        if (st == I2IG_OK && !stbi_info_from_memory(buf, len, &w, &h, &comp))
            st = stb_failure(path, fmt);
    }
    if (st != I2IG_OK) {
        free(buf);
        return st;
    }
    if (w <= 0 || h <= 0) {
        free(buf);
        return ig_fail(I2IG_ERR_DIMENSIONS, "%s: %s declares %dx%d pixels", path,
                       format_name(fmt), w, h);
    }
    /* The limit bounds stb's decode buffer, which holds every channel of the
     * file; the one-channel result is never larger. */
    uint64_t need;
    if (!ig_mul_u64((uint64_t)w * (uint64_t)h, (uint64_t)comp * (is16 ? 2u : 1u), &need) ||
        need > max_bytes) {
        free(buf);
        return ig_fail(I2IG_ERR_TOO_LARGE, "%s: %s of %dx%d pixels, %d channel(s) of %d bits "
                       "decodes to %llu bytes, above the limit of %llu", path, format_name(fmt),
                       w, h, comp, is16 ? 16 : 8, (unsigned long long)need,
                       (unsigned long long)max_bytes);
    }

    int x = 0, y = 0, ch = 0;
    void *pix = is16 ? (void *)stbi_load_16_from_memory(buf, len, &x, &y, &ch, 0)
                     : (void *)stbi_load_from_memory(buf, len, &x, &y, &ch, 0);
    free(buf);
    if (!pix) return stb_failure(path, fmt);
    if (x != w || y != h || ch < 1 || ch > 4 || ch > comp) {
        stbi_image_free(pix);
        return ig_fail(I2IG_ERR_INTERNAL, "%s: stb_image decoded %dx%dx%d, header said %dx%dx%d",
                       path, x, y, ch, w, h, comp);
    }
    i2ig_image *im;
    st = ig_image_new(is16 ? I2IG_DTYPE_U16 : I2IG_DTYPE_U8, (size_t)w, (size_t)h, 1, false, &im);
    if (st != I2IG_OK) {
        stbi_image_free(pix);
        return ig_fail_context(st, "%s", path);
    }
    size_t npix = (size_t)w * (size_t)h;
    if (is16) IG_TO_GREY(uint16_t);
    else IG_TO_GREY(uint8_t);
    stbi_image_free(pix);
    if (png.ppm_x > 0 && png.ppm_y > 0) {
        im->spacing_x = 1000.0 / png.ppm_x;
        im->spacing_y = 1000.0 / png.ppm_y;
    }
    *out = im;
    return I2IG_OK;
}
