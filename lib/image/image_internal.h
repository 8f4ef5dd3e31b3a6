/* Private parts of the image module: the handle layout and the decoders and
 * encoders that i2ig_image_load / i2ig_image_save dispatch to. */
#ifndef IG_IMAGE_INTERNAL_H
#define IG_IMAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "i2igalip.h"

struct i2ig_image {
    i2ig_dtype dtype;
    size_t width, height, slices;
    size_t slice_bytes; /* width * height * element size */
    double spacing_x, spacing_y; /* mm, 0 = unknown */
    void *data;         /* slices * slice_bytes, 64-byte aligned */
};

/* True for the pixel dtypes an image may hold (u8, u16, i16, f32). */
bool ig_image_dtype_ok(i2ig_dtype dtype);

/* Allocates an image; zero selects a zero-filled buffer (decoders that
 * overwrite every pixel skip it). Sizes are overflow-checked. */
i2ig_status ig_image_new(i2ig_dtype dtype, size_t width, size_t height, size_t slices,
                         bool zero, i2ig_image **out);

/* Format recognised from the first bytes of a file. I2IG_FORMAT_AUTO when
 * unknown; *unsupported_name is set for formats we recognise but do not read
 * (GIF, DICOM, ...), NULL otherwise. */
i2ig_file_format ig_sniff_format(const unsigned char *head, size_t n,
                                 const char **unsupported_name);

/* Decoders. Both take ownership of fd (closed on every path); size is the
 * file size from fstat. */
i2ig_status ig_stb_load(int fd, const char *path, uint64_t size, i2ig_file_format format,
                        uint64_t max_bytes, i2ig_image **out);
i2ig_status ig_tiff_load(int fd, const char *path, uint64_t size, uint64_t max_bytes,
                         i2ig_image **out);

/* Walks the IFD chain with plain reads (see tiff_chain.c): every directory,
 * next pointer and out-of-line tag value inside the file, no loop, no zero
 * width/height, at most max_pages directories. *pages = directories seen. */
i2ig_status ig_tiff_walk_chain(int fd, const char *path, uint64_t size, unsigned max_pages,
                               unsigned *pages);

/* What the PNG pre-check learns from the chunk stream. */
typedef struct ig_png_info {
    uint32_t width, height;
    unsigned depth;       /* bits per sample: 1, 2, 4, 8 or 16 */
    unsigned channels;    /* samples per pixel stb_image will return */
    double ppm_x, ppm_y;  /* pHYs pixels per metre, 0 if absent or unitless */
} ig_png_info;

/* Walks the PNG chunk stream of buf without decoding pixels: every chunk
 * inside the file, critical chunks' CRCs right, IHDR sane, and the IDAT zlib
 * stream inflating to no more than the image needs. This keeps stb_image
 * (which trusts chunk lengths and grows its buffers on demand) away from
 * forged lengths and zlib bombs. */
i2ig_status ig_png_check(const unsigned char *buf, size_t n, const char *path,
                         ig_png_info *info);

/* Pixel array inside the file: stb_image decodes a truncated BMP into
 * zero-filled pixels without complaint (its JPEG decoder does refuse
 * truncated files). */
i2ig_status ig_bmp_check(const unsigned char *buf, size_t n, const char *path);

/* Huffman tables that stb_image 2.27 would overflow on (jpeg_check.c). */
i2ig_status ig_jpeg_check(const unsigned char *buf, size_t n, const char *path);

/* Encoders: write the whole image to path atomically. */
i2ig_status ig_png_save(const i2ig_image *image, const char *path);
i2ig_status ig_tiff_save(const i2ig_image *image, const char *path);

/* Luma of one RGB pixel, Y = 0.299 R + 0.587 G + 0.114 B rounded half up.
 * Integer arithmetic keeps the rounding exact (the weights are exact
 * thousandths), so every decoder gives the same value for the same RGB. */
static inline uint32_t ig_luma(uint32_t r, uint32_t g, uint32_t b)
{
    return (299u * r + 587u * g + 114u * b + 500u) / 1000u;
}

#endif
