/* TIFF writer: one page per slice, deflate, any pixel dtype. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "image/image_internal.h"
#include "image/tiff_util.h"

/* Strips of about this many bytes: big enough for deflate to find matches,
 * small enough that a reader decoding one strip stays cheap. */
#define IG_TIFF_STRIP_BYTES ((size_t)64 << 10)
/* Above this much raw data switch to BigTIFF: classic TIFF offsets are
 * 32-bit and deflate may not shrink noisy data. */
#define IG_TIFF_BIG_THRESHOLD ((uint64_t)3 << 30)

static i2ig_status write_fail(const char *path, const ig_tiff_log *log, int err,
                              const char *what)
{
    return ig_fail(I2IG_ERR_IO, "%s: %s: %s%s%s", path, what,
                   ig_tiff_why(log, "libtiff gave no reason"), err ? "; system error: " : "",
                   err ? strerror(err) : "");
}

static i2ig_status write_page(TIFF *tif, const i2ig_image *im, size_t k, const char *path,
                              const ig_tiff_log *log, unsigned char *scratch, uint32_t rps)
{
    uint16_t bits = (uint16_t)(8 * i2ig_dtype_size(im->dtype));
    uint16_t fmt = im->dtype == I2IG_DTYPE_I16   ? SAMPLEFORMAT_INT
                   : im->dtype == I2IG_DTYPE_F32 ? SAMPLEFORMAT_IEEEFP
                                                 : SAMPLEFORMAT_UINT;
    int ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)im->width) &&
             TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)im->height) &&
             TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, bits) &&
             TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)1) &&
             TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, fmt) &&
             TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK) &&
             TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
             TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE) &&
             TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rps) &&
             TIFFSetField(tif, TIFFTAG_SOFTWARE, "libi2igalip " IG_VERSION_STRING);
    /* Horizontal differencing shrinks smooth integer scans a lot; the float
     * predictor is left out because common readers (tifffile without
     * imagecodecs) cannot undo it. */
    if (ok && im->dtype != I2IG_DTYPE_F32)
        ok = TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
    if (ok && im->slices > 1)
        ok = TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE) &&
             TIFFSetField(tif, TIFFTAG_PAGENUMBER, (uint16_t)(k < 65535 ? k : 65535),
                          (uint16_t)(im->slices < 65535 ? im->slices : 65535));
    if (ok && im->spacing_x > 0 && im->spacing_y > 0)
        ok = TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER) &&
             TIFFSetField(tif, TIFFTAG_XRESOLUTION, 10.0 / im->spacing_x) &&
             TIFFSetField(tif, TIFFTAG_YRESOLUTION, 10.0 / im->spacing_y);
    if (!ok) return ig_fail(I2IG_ERR_INTERNAL, "%s: page %zu: libtiff refused a tag: %s", path,
                            k, ig_tiff_why(log, "no reason"));

    size_t rowbytes = im->width * i2ig_dtype_size(im->dtype);
    const unsigned char *src = i2ig_image_const_data(im, k);
    uint32_t strip = 0;
    for (size_t y = 0; y < im->height; y += rps, strip++) {
        size_t rows = im->height - y < rps ? im->height - y : rps;
        /* libtiff's predictor encodes in place: hand it a copy. */
        memcpy(scratch, src + y * rowbytes, rows * rowbytes);
        errno = 0;
        if (TIFFWriteEncodedStrip(tif, strip, scratch, (tmsize_t)(rows * rowbytes)) < 0)
            return write_fail(path, log, errno, "writing a strip failed");
    }
    errno = 0;
    if (!TIFFWriteDirectory(tif)) return write_fail(path, log, errno, "writing a page failed");
    return I2IG_OK;
}

i2ig_status ig_tiff_save(const i2ig_image *im, const char *path)
{
    if (im->width > UINT32_MAX || im->height > UINT32_MAX)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: TIFF dimensions are limited to 2^32-1, "
                       "image is %zux%zu", path, im->width, im->height);
    size_t rowbytes = im->width * i2ig_dtype_size(im->dtype);
    size_t rps = IG_TIFF_STRIP_BYTES / rowbytes;
    if (rps == 0) rps = 1;
    if (rps > im->height) rps = im->height;
    unsigned char *scratch = malloc(rps * rowbytes);
    if (!scratch) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: strip buffer", path);

    ig_atomic_file af;
    i2ig_status st = ig_atomic_begin(&af, path);
    if (st != I2IG_OK) {
        free(scratch);
        return st;
    }
    ig_tiff_log log;
    TIFFOpenOptions *opts = ig_tiff_options(&log, 0);
    /* libtiff closes the descriptor it is given; the atomic file keeps its
     * own for fsync and rename. */
    int fd = opts ? dup(af.fd) : -1;
    TIFF *tif = NULL;
    if (fd >= 0) {
        uint64_t raw = (uint64_t)im->slices * im->slice_bytes;
        tif = TIFFFdOpenExt(fd, path, raw > IG_TIFF_BIG_THRESHOLD ? "w8" : "w", opts);
        if (!tif) close(fd);
    }
    if (opts) TIFFOpenOptionsFree(opts);
    if (!tif) {
        st = opts ? write_fail(path, &log, errno, "cannot start the TIFF")
                  : ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: libtiff options", path);
    } else {
        for (size_t k = 0; st == I2IG_OK && k < im->slices; k++)
            st = write_page(tif, im, k, path, &log, scratch, (uint32_t)rps);
        errno = 0;
        if (st == I2IG_OK && !TIFFFlush(tif)) st = write_fail(path, &log, errno, "flush failed");
        TIFFClose(tif);
        if (st == I2IG_OK && log.errors) st = write_fail(path, &log, 0, "libtiff reported");
    }
    free(scratch);
    if (st == I2IG_OK) return ig_atomic_commit(&af);
    ig_atomic_abort(&af);
    return st;
}
