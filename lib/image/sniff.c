/* Image format by magic bytes (file names lie; contents do not). */
#include <string.h>

#include "image/image_internal.h"

static int starts(const unsigned char *h, size_t n, size_t at, const void *magic, size_t m)
{
    return n >= at + m && memcmp(h + at, magic, m) == 0;
}

i2ig_file_format ig_sniff_format(const unsigned char *h, size_t n, const char **unsupported_name)
{
    *unsupported_name = NULL;
    if (starts(h, n, 0, "\x89PNG\r\n\x1a\n", 8)) return I2IG_FORMAT_PNG;
    if (starts(h, n, 0, "\xff\xd8\xff", 3)) return I2IG_FORMAT_JPEG;
    if (starts(h, n, 0, "BM", 2)) return I2IG_FORMAT_BMP;
    /* Classic TIFF (42) and BigTIFF (43), both byte orders. */
    if (starts(h, n, 0, "II*\0", 4) || starts(h, n, 0, "MM\0*", 4) ||
        starts(h, n, 0, "II+\0", 4) || starts(h, n, 0, "MM\0+", 4))
        return I2IG_FORMAT_TIFF;

    /* Formats users plausibly try; naming them beats "unknown format". */
    if (starts(h, n, 0, "GIF87a", 6) || starts(h, n, 0, "GIF89a", 6)) *unsupported_name = "GIF";
    else if (starts(h, n, 128, "DICM", 4)) *unsupported_name = "DICOM";
    else if (starts(h, n, 344, "n+1\0", 4) || starts(h, n, 344, "ni1\0", 4))
        *unsupported_name = "NIfTI-1";
    else if (starts(h, n, 4, "n+2\0", 4)) *unsupported_name = "NIfTI-2";
    else if (starts(h, n, 0, "\x1f\x8b", 2)) *unsupported_name = "gzip-compressed data";
    else if (starts(h, n, 0, "\0\0\0\x0cjP  ", 8) || starts(h, n, 0, "\xff\x4f\xff\x51", 4))
        *unsupported_name = "JPEG 2000";
    else if (starts(h, n, 0, "RIFF", 4) && starts(h, n, 8, "WEBP", 4)) *unsupported_name = "WebP";
    return I2IG_FORMAT_AUTO;
}
