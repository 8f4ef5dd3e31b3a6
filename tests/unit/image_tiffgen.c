/* Test helper: writes TIFF files through libtiff's own encoder in layouts our
 * writer never produces (tiles, planar separate, LZW/PackBits/JPEG, palette,
 * min-is-white, odd sample formats), so the Python tests can check the reader
 * against the numpy data the file was made from.
 *
 *   image_tiffgen OUT RAW key=value...
 *
 * RAW holds the pixels of every page back to back, contiguous (interleaved)
 * samples, native byte order, rows padded to whole bytes. Keys: w h pages
 * bits spp format(uint|int|float|complexint|complexfloat)
 * photo(minisblack|miniswhite|rgb|palette|ycbcr|separated)
 * planar(contig|separate) comp(none|lzw|deflate|zip|packbits|jpeg)
 * tile=WxH rps=N predictor=N colormap=FILE (3 x 2^bits uint16)
 * res=X,Y,UNIT (UNIT 1 none, 2 inch, 3 cm) extra=N (extra samples, alpha)
 * subfile=P:V (NewSubfileType V on page P). Exit status 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

static void *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static int die(const char *msg)
{
    fprintf(stderr, "image_tiffgen: %s\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3) return die("usage: image_tiffgen OUT RAW key=value...");
    uint32_t w = 0, h = 0, pages = 1, tw = 0, th = 0, rps = 0;
    unsigned bits = 8, spp = 1, extra = 0, predictor = 1;
    int subfile_page = -1;
    uint32_t subfile_value = 0;
    uint16_t fmt = SAMPLEFORMAT_UINT, photo = PHOTOMETRIC_MINISBLACK, planar = PLANARCONFIG_CONTIG;
    uint16_t comp = COMPRESSION_NONE, unit = 0;
    double xres = 0, yres = 0;
    const char *cmap_path = NULL;
    for (int i = 3; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return die("bad argument");
        *eq = 0;
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "w")) w = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(k, "h")) h = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(k, "pages")) pages = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(k, "bits")) bits = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "spp")) spp = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "extra")) extra = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "rps")) rps = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(k, "predictor")) predictor = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "colormap")) cmap_path = v;
        else if (!strcmp(k, "tile")) {
            if (sscanf(v, "%ux%u", &tw, &th) != 2) return die("bad tile");
        } else if (!strcmp(k, "res")) {
            unsigned u;
            if (sscanf(v, "%lf,%lf,%u", &xres, &yres, &u) != 3) return die("bad res");
            unit = (uint16_t)u;
        } else if (!strcmp(k, "subfile")) {
            if (sscanf(v, "%d:%u", &subfile_page, &subfile_value) != 2) return die("bad subfile");
        } else if (!strcmp(k, "format")) {
            fmt = !strcmp(v, "int") ? SAMPLEFORMAT_INT : !strcmp(v, "float") ? SAMPLEFORMAT_IEEEFP
                  : !strcmp(v, "complexint") ? SAMPLEFORMAT_COMPLEXINT
                  : !strcmp(v, "complexfloat") ? SAMPLEFORMAT_COMPLEXIEEEFP : SAMPLEFORMAT_UINT;
        } else if (!strcmp(k, "photo")) {
            photo = !strcmp(v, "miniswhite") ? PHOTOMETRIC_MINISWHITE
                    : !strcmp(v, "rgb") ? PHOTOMETRIC_RGB : !strcmp(v, "palette") ? PHOTOMETRIC_PALETTE
                    : !strcmp(v, "ycbcr") ? PHOTOMETRIC_YCBCR : !strcmp(v, "separated") ? PHOTOMETRIC_SEPARATED
                    : PHOTOMETRIC_MINISBLACK;
        } else if (!strcmp(k, "planar")) {
            planar = !strcmp(v, "separate") ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG;
        } else if (!strcmp(k, "comp")) {
            comp = !strcmp(v, "lzw") ? COMPRESSION_LZW : !strcmp(v, "deflate") ? COMPRESSION_ADOBE_DEFLATE
                   : !strcmp(v, "zip") ? COMPRESSION_DEFLATE : !strcmp(v, "packbits") ? COMPRESSION_PACKBITS
                   : !strcmp(v, "jpeg") ? COMPRESSION_JPEG : COMPRESSION_NONE;
        } else return die("unknown key");
    }
    size_t raw_n;
    unsigned char *raw = slurp(argv[2], &raw_n);
    if (!raw) return die("cannot read RAW");
    size_t row = ((size_t)w * spp * bits + 7) / 8, page = row * h;
    if (raw_n < page * pages) return die("RAW too short");
    TIFF *tif = TIFFOpen(argv[1], "w");
    if (!tif) return die("cannot create OUT");
    uint16_t *cmap = NULL;
    if (cmap_path) {
        size_t cn;
        cmap = slurp(cmap_path, &cn);
        if (!cmap || cn < 3 * sizeof(uint16_t) << bits) return die("colormap too short");
    }
    unsigned es = bits / 8, planes = planar == PLANARCONFIG_SEPARATE ? spp : 1;
    unsigned char *buf = malloc(page + 1);
    for (uint32_t p = 0; p < pages; p++) {
        const unsigned char *src = raw + (size_t)p * page;
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)bits);
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)spp);
        TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, fmt);
        TIFFSetField(tif, TIFFTAG_PLANARCONFIG, planar);
        TIFFSetField(tif, TIFFTAG_COMPRESSION, comp);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, photo);
        if (photo == PHOTOMETRIC_YCBCR) TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
        if (comp == COMPRESSION_JPEG) TIFFSetField(tif, TIFFTAG_JPEGQUALITY, 90);
        if (predictor != 1) TIFFSetField(tif, TIFFTAG_PREDICTOR, (uint16_t)predictor);
        if (extra) {
            uint16_t types[4] = {EXTRASAMPLE_UNASSALPHA, EXTRASAMPLE_UNSPECIFIED,
                                 EXTRASAMPLE_UNSPECIFIED, EXTRASAMPLE_UNSPECIFIED};
            TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)extra, types);
        }
        if (cmap) TIFFSetField(tif, TIFFTAG_COLORMAP, cmap, cmap + (1u << bits), cmap + (2u << bits));
        if (unit) {
            TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, unit);
            TIFFSetField(tif, TIFFTAG_XRESOLUTION, xres);
            TIFFSetField(tif, TIFFTAG_YRESOLUTION, yres);
        }
        if ((int)p == subfile_page) TIFFSetField(tif, TIFFTAG_SUBFILETYPE, subfile_value);
        else if (pages > 1) TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);

        /* Planar separate: plane q holds sample q of every pixel. */
        size_t prow = planes > 1 ? (size_t)w * es : row;
        for (unsigned q = 0; q < planes; q++) {
            if (planes > 1) {
                for (size_t y = 0; y < h; y++)
                    for (size_t x = 0; x < w; x++)
                        memcpy(buf + y * prow + x * es, src + y * row + (x * spp + q) * es, es);
            } else {
                memcpy(buf, src, page);
            }
            if (tw) {
                TIFFSetField(tif, TIFFTAG_TILEWIDTH, tw);
                TIFFSetField(tif, TIFFTAG_TILELENGTH, th);
                tmsize_t tsz = TIFFTileSize(tif);
                size_t trow = (size_t)TIFFTileRowSize(tif);
                unsigned char *tb = malloc((size_t)tsz);
                for (uint32_t ty = 0; ty < h; ty += th)
                    for (uint32_t tx = 0; tx < w; tx += tw) {
                        memset(tb, 0, (size_t)tsz);
                        size_t xoff = (size_t)tx * (planes > 1 ? es : ((size_t)spp * bits / 8));
                        for (uint32_t y = 0; y < th && ty + y < h; y++) {
                            size_t n = trow;
                            if (xoff + n > prow) n = prow - xoff;
                            memcpy(tb + y * trow, buf + (ty + y) * prow + xoff, n);
                        }
                        if (TIFFWriteEncodedTile(tif, TIFFComputeTile(tif, tx, ty, 0, (uint16_t)q),
                                                 tb, tsz) < 0)
                            return die("tile write failed");
                    }
                free(tb);
            } else {
                uint32_t r = rps ? rps : h;
                TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, r);
                uint32_t per_plane = (h + r - 1) / r;
                for (uint32_t s = 0; s < per_plane; s++) {
                    uint32_t rows = h - s * r < r ? h - s * r : r;
                    if (TIFFWriteEncodedStrip(tif, q * per_plane + s, buf + (size_t)s * r * prow,
                                              (tmsize_t)(rows * prow)) < 0)
                        return die("strip write failed");
                }
            }
        }
        if (!TIFFWriteDirectory(tif)) return die("directory write failed");
    }
    TIFFClose(tif);
    free(buf);
    free(raw);
    free(cmap);
    return 0;
}
