/* TIFF through libtiff: every full-resolution page is one slice.
 *
 * Pixel rules (summarised for users in include/i2igalip.h):
 *  - grey 8/16-bit unsigned -> u8/u16, 16-bit signed -> i16 (CT in HU),
 *    32-bit IEEE float -> f32; MINISWHITE unsigned data is inverted to
 *    min-is-black (max - v); extra samples (alpha) are ignored;
 *  - RGB 8/16-bit (3 or 4 samples; JPEG-compressed YCbCr is converted to RGB
 *    by libtiff) -> one channel by the luma rule of ig_luma, same bit depth;
 *  - 8-bit palette -> u8: each 16-bit colormap entry is brought to 8 bits by
 *    round(v / 257) (exact for the v * 257 that writers store), then luma;
 *  - reduced-resolution and mask pages (NewSubfileType bits 0 and 2:
 *    thumbnails, pyramids) are skipped, they are not slices;
 *  - spacing: X/YResolution with ResolutionUnit CENTIMETER -> 10/res mm,
 *    INCH -> 25.4/res mm; NONE or absent unit -> 0 (unknown).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "image/image_internal.h"
#include "image/tiff_util.h"

/* IFDs walked at most; a stack of more pages than this is not a scan. */
#define IG_TIFF_MAX_PAGES 65536u
/* libtiff's own bookkeeping (strip tables, tag arrays) may need this much
 * even when the caller's pixel limit is tiny. */
#define IG_TIFF_MIN_ALLOC_CAP ((tmsize_t)16 << 20)

enum { K_GREY, K_GREY_INVERT, K_RGB, K_PALETTE };

typedef struct page {
    uint32_t w, h;
    uint16_t spp;
    int separate, tiled, kind;
    uint32_t tw, th, rps;
    unsigned planes_needed; /* separate planes read together (3 for RGB) */
    i2ig_dtype dtype;
    uint8_t lut[256];
} page;

typedef struct reader {
    TIFF *tif;
    const char *path;
    ig_tiff_log log;
    uint64_t max_bytes;
} reader;

static i2ig_status tiff_fail(reader *r, i2ig_status st, unsigned ifd, const char *what)
{
    return ig_fail(st, "%s: page %u: %s: %s", r->path, ifd, what,
                   ig_tiff_why(&r->log, "libtiff gave no reason"));
}

static const char *photometric_name(uint16_t p)
{
    switch (p) {
    case PHOTOMETRIC_SEPARATED: return "separated (CMYK)";
    case PHOTOMETRIC_YCBCR: return "YCbCr";
    case PHOTOMETRIC_CIELAB: case PHOTOMETRIC_ICCLAB: case PHOTOMETRIC_ITULAB: return "CIE L*a*b*";
    case PHOTOMETRIC_LOGL: case PHOTOMETRIC_LOGLUV: return "LogLuv";
    case PHOTOMETRIC_MASK: return "transparency mask";
    case PHOTOMETRIC_CFA: return "colour filter array (raw)";
    default: return "unknown";
    }
}

static int skipped(TIFF *tif)
{
    uint32_t sft = 0;
    return TIFFGetField(tif, TIFFTAG_SUBFILETYPE, &sft) &&
           (sft & (FILETYPE_REDUCEDIMAGE | FILETYPE_MASK));
}

static i2ig_status grey_dtype(const reader *r, unsigned ifd, uint16_t bps, uint16_t fmt,
                              i2ig_dtype *dt)
{
    int is_uint = fmt == SAMPLEFORMAT_UINT || fmt == SAMPLEFORMAT_VOID;
    if (is_uint && bps == 8) *dt = I2IG_DTYPE_U8;
    else if (is_uint && bps == 16) *dt = I2IG_DTYPE_U16;
    else if (fmt == SAMPLEFORMAT_INT && bps == 16) *dt = I2IG_DTYPE_I16;
    else if (fmt == SAMPLEFORMAT_IEEEFP && bps == 32) *dt = I2IG_DTYPE_F32;
    else
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: page %u: %u-bit %s samples are not read "
                       "(supported: 8/16-bit unsigned, 16-bit signed, 32-bit float)", r->path,
                       ifd, bps, fmt == SAMPLEFORMAT_INT ? "signed integer"
                                 : fmt == SAMPLEFORMAT_IEEEFP ? "floating-point" : "unsigned integer");
    return I2IG_OK;
}

static i2ig_status describe(reader *r, unsigned ifd, page *pg)
{
    TIFF *tif = r->tif;
    memset(pg, 0, sizeof *pg);
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &pg->w) ||
        !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &pg->h))
        return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: page %u has no image size", r->path, ifd);
    if (pg->w == 0 || pg->h == 0)
        return ig_fail(I2IG_ERR_DIMENSIONS, "%s: page %u declares %ux%u pixels", r->path, ifd,
                       pg->w, pg->h);
    uint16_t bps = 1, spp = 1, fmt = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG;
    uint16_t photo = 0, comp = COMPRESSION_NONE;
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo))
        photo = spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;

    if (!TIFFIsCODECConfigured(comp))
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: page %u: compression scheme %u is not "
                       "available in this libtiff", r->path, ifd, comp);
    if (fmt == SAMPLEFORMAT_COMPLEXINT || fmt == SAMPLEFORMAT_COMPLEXIEEEFP)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: page %u: complex-valued samples are not read "
                       "(store magnitude or real part as 32-bit float)", r->path, ifd);
    if (spp == 0 || spp > 4)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: page %u: %u samples per pixel (at most 4 are "
                       "read: grey or RGB, plus alpha)", r->path, ifd, spp);
    if (bps != 8 && bps != 16 && bps != 32)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: page %u: %u-bit samples%s are not read "
                       "(supported: 8/16-bit integer, 32-bit float)", r->path, ifd, bps,
                       bps == 1 ? " (bilevel)" : "");
    if (photo == PHOTOMETRIC_YCBCR) {
        if (comp != COMPRESSION_JPEG)
            return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: page %u: YCbCr without JPEG compression "
                           "is not read (store RGB or grey)", r->path, ifd);
        /* libtiff's JPEG codec upsamples and converts to RGB itself. */
        if (!TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB))
            return tiff_fail(r, I2IG_ERR_UNSUPPORTED, ifd, "JPEG YCbCr to RGB");
        photo = PHOTOMETRIC_RGB;
    }
    pg->spp = spp;
    pg->separate = planar == PLANARCONFIG_SEPARATE && spp > 1;
    pg->planes_needed = 1;

    switch (photo) {
    case PHOTOMETRIC_MINISBLACK:
    case PHOTOMETRIC_MINISWHITE:
        IG_TRY(grey_dtype(r, ifd, bps, fmt, &pg->dtype));
        pg->kind = K_GREY;
        if (photo == PHOTOMETRIC_MINISWHITE) {
            if (pg->dtype != I2IG_DTYPE_U8 && pg->dtype != I2IG_DTYPE_U16)
                return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: page %u: min-is-white %s samples "
                               "are not read (only unsigned integers are inverted)", r->path,
                               ifd, i2ig_dtype_name(pg->dtype));
            pg->kind = K_GREY_INVERT;
        }
        break;
    case PHOTOMETRIC_RGB:
        if (spp < 3)
            return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: page %u: RGB with %u samples per pixel",
                           r->path, ifd, spp);
        if ((fmt != SAMPLEFORMAT_UINT && fmt != SAMPLEFORMAT_VOID) || bps == 32)
            return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: page %u: RGB is read as 8 or 16-bit "
                           "unsigned only, this page has %u-bit format %u", r->path, ifd, bps,
                           fmt);
        pg->dtype = bps == 8 ? I2IG_DTYPE_U8 : I2IG_DTYPE_U16;
        pg->kind = K_RGB;
        if (pg->separate) pg->planes_needed = 3;
        break;
    case PHOTOMETRIC_PALETTE: {
        if (bps != 8 || (fmt != SAMPLEFORMAT_UINT && fmt != SAMPLEFORMAT_VOID))
            return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: page %u: %u-bit palette images are not "
                           "read (only 8-bit)", r->path, ifd, bps);
        const uint16_t *cr, *cg, *cb;
        if (!TIFFGetField(tif, TIFFTAG_COLORMAP, &cr, &cg, &cb))
            return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: page %u: palette image without a "
                           "colormap", r->path, ifd);
        for (int i = 0; i < 256; i++)
            pg->lut[i] = (uint8_t)ig_luma((cr[i] + 128u) / 257u, (cg[i] + 128u) / 257u,
                                          (cb[i] + 128u) / 257u);
        pg->dtype = I2IG_DTYPE_U8;
        pg->kind = K_PALETTE;
        break;
    }
    default:
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: page %u: photometric interpretation %u (%s) "
                       "is not read (grey, RGB or palette only)", r->path, ifd, photo,
                       photometric_name(photo));
    }

    uint64_t chunk;
    pg->tiled = TIFFIsTiled(tif);
    if (pg->tiled) {
        if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &pg->tw) ||
            !TIFFGetField(tif, TIFFTAG_TILELENGTH, &pg->th) || !pg->tw || !pg->th)
            return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: page %u: tiles without a tile size",
                           r->path, ifd);
        chunk = TIFFTileSize64(tif);
    } else {
        pg->rps = UINT32_MAX;
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &pg->rps);
        if (pg->rps == 0 || pg->rps > pg->h) pg->rps = pg->h;
        chunk = TIFFStripSize64(tif);
    }
    if (chunk == 0) return tiff_fail(r, I2IG_ERR_IMAGE_FORMAT, ifd, "strip/tile size");
    uint64_t scratch;
    if (!ig_mul_u64(chunk, pg->planes_needed, &scratch) || scratch > r->max_bytes)
        return ig_fail(I2IG_ERR_TOO_LARGE, "%s: page %u: a %s of %llu bytes exceeds the "
                       "decoded-size limit of %llu bytes", r->path, ifd,
                       pg->tiled ? "tile" : "strip", (unsigned long long)chunk,
                       (unsigned long long)r->max_bytes);
    return I2IG_OK;
}

/* Writes n pixels of one row: src[k] points at sample k of the first pixel,
 * step is the distance between pixels in elements. */
#define IG_EMIT_INT(T, MAXV)                                                   \
    do {                                                                       \
        const T *a = (const T *)src[0], *b = (const T *)src[1];                \
        const T *c = (const T *)src[2];                                        \
        T *d = dst;                                                            \
        switch (pg->kind) {                                                    \
        case K_GREY: for (size_t i = 0; i < n; i++) d[i] = a[i * step]; break; \
        case K_GREY_INVERT:                                                    \
            for (size_t i = 0; i < n; i++) d[i] = (T)(MAXV - a[i * step]);     \
            break;                                                             \
        case K_RGB:                                                            \
            for (size_t i = 0; i < n; i++)                                     \
                d[i] = (T)ig_luma(a[i * step], b[i * step], c[i * step]);      \
            break;                                                             \
        default:                                                               \
            for (size_t i = 0; i < n; i++) d[i] = (T)pg->lut[a[i * step]];     \
        }                                                                      \
    } while (0)

static void emit(const page *pg, const unsigned char *const src[3], size_t step, size_t n,
                 void *dst)
{
    switch (pg->dtype) {
    case I2IG_DTYPE_U8: IG_EMIT_INT(uint8_t, 255u); break;
    case I2IG_DTYPE_U16: IG_EMIT_INT(uint16_t, 65535u); break;
    case I2IG_DTYPE_I16: {
        const int16_t *a = (const int16_t *)src[0];
        int16_t *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = a[i * step];
        break;
    }
    default: {
        const float *a = (const float *)src[0];
        float *d = dst;
        for (size_t i = 0; i < n; i++) d[i] = a[i * step];
        break;
    }
    }
}

/* Source pointers for one row starting at byte offset off of each plane. */
static void row_sources(const page *pg, unsigned char *const buf[3], size_t off,
                        const unsigned char *src[3], size_t *step)
{
    size_t es = i2ig_dtype_size(pg->dtype);
    for (unsigned k = 0; k < 3; k++) {
        if (pg->separate) src[k] = buf[k < pg->planes_needed ? k : 0] + off;
        else src[k] = buf[0] + off + (k < pg->spp ? k : 0) * es;
    }
    *step = pg->separate ? 1 : pg->spp;
}

static i2ig_status decode_page(reader *r, unsigned ifd, const page *pg, unsigned char *out)
{
    TIFF *tif = r->tif;
    size_t es = i2ig_dtype_size(pg->dtype);
    tmsize_t chunk = pg->tiled ? TIFFTileSize(tif) : TIFFStripSize(tif);
    tmsize_t rowsz = pg->tiled ? TIFFTileRowSize(tif) : TIFFScanlineSize(tif);
    if (chunk <= 0 || rowsz <= 0) return tiff_fail(r, I2IG_ERR_IMAGE_FORMAT, ifd, "layout");
    unsigned char *buf[3] = {NULL, NULL, NULL};
    i2ig_status st = I2IG_OK;
    for (unsigned p = 0; p < pg->planes_needed; p++)
        if (!(buf[p] = malloc((size_t)chunk))) {
            st = ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: page %u: cannot allocate %lld bytes",
                         r->path, ifd, (long long)chunk);
            goto out;
        }
    const unsigned char *src[3];
    size_t step;
    if (pg->tiled) {
        uint32_t ntiles = TIFFNumberOfTiles(tif);
        for (uint32_t ty = 0; ty < pg->h; ty += pg->th) {
            uint32_t rows = pg->h - ty < pg->th ? pg->h - ty : pg->th;
            for (uint32_t tx = 0; tx < pg->w; tx += pg->tw) {
                uint32_t cols = pg->w - tx < pg->tw ? pg->w - tx : pg->tw;
                for (unsigned p = 0; p < pg->planes_needed; p++) {
                    uint32_t t = TIFFComputeTile(tif, tx, ty, 0, (uint16_t)p);
                    tmsize_t got = t < ntiles ? TIFFReadEncodedTile(tif, t, buf[p], chunk) : -1;
                    if (got < (tmsize_t)rows * rowsz) {
                        st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: page %u: tile %u: %s",
                                     r->path, ifd, t, ig_tiff_why(&r->log, "short or missing tile"));
                        goto out;
                    }
                }
                for (uint32_t y = 0; y < rows; y++) {
                    row_sources(pg, buf, (size_t)y * (size_t)rowsz, src, &step);
                    emit(pg, src, step, cols,
                         out + ((size_t)(ty + y) * pg->w + tx) * es);
                }
            }
        }
    } else {
        uint32_t per_plane = (pg->h - 1) / pg->rps + 1;
        uint32_t nstrips = TIFFNumberOfStrips(tif);
        for (uint32_t s = 0; s < per_plane; s++) {
            uint32_t y0 = s * pg->rps;
            uint32_t rows = pg->h - y0 < pg->rps ? pg->h - y0 : pg->rps;
            tmsize_t need = (tmsize_t)rows * rowsz;
            for (unsigned p = 0; p < pg->planes_needed; p++) {
                uint32_t strip = pg->separate ? p * per_plane + s : s;
                tmsize_t got = strip < nstrips ? TIFFReadEncodedStrip(tif, strip, buf[p], need) : -1;
                if (got < need) {
                    st = ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: page %u: strip %u: %s", r->path,
                                 ifd, strip, ig_tiff_why(&r->log, "short or missing strip"));
                    goto out;
                }
            }
            for (uint32_t y = 0; y < rows; y++) {
                row_sources(pg, buf, (size_t)y * (size_t)rowsz, src, &step);
                emit(pg, src, step, pg->w, out + (size_t)(y0 + y) * pg->w * es);
            }
        }
    }
out:
    for (unsigned p = 0; p < 3; p++) free(buf[p]);
    return st;
}

static void read_spacing(TIFF *tif, double *sx, double *sy)
{
    uint16_t unit = 0;
    float xr = 0, yr = 0;
    *sx = *sy = 0;
    if (!TIFFGetField(tif, TIFFTAG_RESOLUTIONUNIT, &unit) ||
        !TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xr) ||
        !TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yr))
        return;
    double per = unit == RESUNIT_CENTIMETER ? 10.0 : unit == RESUNIT_INCH ? 25.4 : 0.0;
    if (per == 0.0 || !(xr > 0) || !(yr > 0) || !isfinite(xr) || !isfinite(yr)) return;
    *sx = per / xr;
    *sy = per / yr;
}

/* Pass 1: validate every page and count slices before allocating. The
 * chain walk already counted the directories; libtiff must see the same. */
static i2ig_status scan_pages(reader *r, unsigned ifds, page *first, size_t *slices, double *sx,
                              double *sy)
{
    size_t n = 0;
    unsigned ifd = 0;
    for (;;) {
        if (!skipped(r->tif)) {
            page pg;
            IG_TRY(describe(r, ifd, &pg));
            if (n == 0) {
                *first = pg;
                read_spacing(r->tif, sx, sy);
            } else if (pg.w != first->w || pg.h != first->h || pg.dtype != first->dtype) {
                return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: page %u is %ux%u %s but the first "
                               "page is %ux%u %s; every page of a stack must match", r->path,
                               ifd, pg.w, pg.h, i2ig_dtype_name(pg.dtype), first->w, first->h,
                               i2ig_dtype_name(first->dtype));
            }
            n++;
            uint64_t total;
            if (!ig_mul_u64((uint64_t)first->w * first->h, i2ig_dtype_size(first->dtype), &total) ||
                !ig_mul_u64(total, n, &total) || total > r->max_bytes)
                return ig_fail(I2IG_ERR_TOO_LARGE, "%s: %zu page(s) of %ux%u %s exceed the "
                               "decoded-size limit of %llu bytes", r->path, n, first->w,
                               first->h, i2ig_dtype_name(first->dtype),
                               (unsigned long long)r->max_bytes);
        }
        if (++ifd >= ifds) break;
        if (!TIFFReadDirectory(r->tif))
            return tiff_fail(r, I2IG_ERR_IMAGE_FORMAT, ifd, "unreadable directory");
    }
    if (n == 0)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: only reduced-resolution or mask pages",
                       r->path);
    *slices = n;
    return I2IG_OK;
}

/* Pass 2: decode the same pages into their slices. */
static i2ig_status read_pages(reader *r, const page *first, i2ig_image *im)
{
    if (!TIFFSetDirectory(r->tif, 0))
        return tiff_fail(r, I2IG_ERR_IMAGE_FORMAT, 0, "rewinding to the first page");
    size_t k = 0;
    for (unsigned ifd = 0; k < im->slices; ifd++) {
        if (ifd > 0 && !TIFFReadDirectory(r->tif))
            return tiff_fail(r, I2IG_ERR_IMAGE_FORMAT, ifd, "page vanished (file changed?)");
        if (skipped(r->tif)) continue;
        page pg;
        IG_TRY(describe(r, ifd, &pg));
        if (pg.w != first->w || pg.h != first->h || pg.dtype != first->dtype)
            return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: page %u changed while reading", r->path,
                           ifd);
        IG_TRY(decode_page(r, ifd, &pg, i2ig_image_data(im, k)));
        k++;
    }
    return I2IG_OK;
}

i2ig_status ig_tiff_load(int fd, const char *path, uint64_t size, uint64_t max_bytes,
                         i2ig_image **out)
{
    reader r = {.path = path, .max_bytes = max_bytes};
    unsigned ifds = 0;
    i2ig_status st = ig_tiff_walk_chain(fd, path, size, IG_TIFF_MAX_PAGES, &ifds);
    if (st != I2IG_OK) {
        close(fd);
        return st;
    }
    tmsize_t cap = max_bytes > (uint64_t)INT64_MAX ? (tmsize_t)INT64_MAX : (tmsize_t)max_bytes;
    if (cap < IG_TIFF_MIN_ALLOC_CAP) cap = IG_TIFF_MIN_ALLOC_CAP;
    TIFFOpenOptions *opts = ig_tiff_options(&r.log, cap);
    if (!opts) {
        close(fd);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "%s: libtiff options", path);
    }
    /* "m": plain reads, no mmap: a file truncated under us gives an error,
     * not SIGBUS. */
    r.tif = TIFFFdOpenExt(fd, path, "rm", opts);
    TIFFOpenOptionsFree(opts);
    if (!r.tif) {
        close(fd); /* TIFFFdOpen leaves the descriptor open when it fails */
        return ig_fail(I2IG_ERR_IMAGE_FORMAT, "%s: not a readable TIFF: %s", path,
                       ig_tiff_why(&r.log, "libtiff gave no reason"));
    }
    page first = {0};
    size_t slices = 0;
    double sx = 0, sy = 0;
    i2ig_image *im = NULL;
    st = scan_pages(&r, ifds, &first, &slices, &sx, &sy);
    if (st == I2IG_OK) st = ig_image_new(first.dtype, first.w, first.h, slices, false, &im);
    if (st == I2IG_OK) st = read_pages(&r, &first, im);
    TIFFClose(r.tif);
    if (st != I2IG_OK) {
        i2ig_image_free(im);
        return st;
    }
    im->spacing_x = sx;
    im->spacing_y = sy;
    *out = im;
    return I2IG_OK;
}
