/* i2ig_image_save: format by argument or by file extension. */
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "image/image_internal.h"

static i2ig_file_format by_extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    if (!dot) return I2IG_FORMAT_AUTO;
    if (!strcasecmp(dot, ".png")) return I2IG_FORMAT_PNG;
    if (!strcasecmp(dot, ".tif") || !strcasecmp(dot, ".tiff")) return I2IG_FORMAT_TIFF;
    return I2IG_FORMAT_AUTO;
}

i2ig_status i2ig_image_save(const i2ig_image *image, const char *path, i2ig_file_format format)
{
    if (!image) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_image_save: image is NULL");
    if (!path || !*path) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_image_save: empty path");
    if (format == I2IG_FORMAT_AUTO) {
        format = by_extension(path);
        if (format == I2IG_FORMAT_AUTO)
            return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "%s: cannot tell the format from the "
                           "extension: use .png, .tif or .tiff, or pass the format", path);
    }
    switch (format) {
    case I2IG_FORMAT_PNG: return ig_png_save(image, path);
    case I2IG_FORMAT_TIFF: return ig_tiff_save(image, path);
    case I2IG_FORMAT_JPEG:
    case I2IG_FORMAT_BMP:
        return ig_fail(I2IG_ERR_UNSUPPORTED, "%s: writing %s is not supported (lossy or no "
                       "16-bit); write PNG or TIFF", path,
                       format == I2IG_FORMAT_JPEG ? "JPEG" : "BMP");
    default:
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "%s: unknown file format %d", path,
                       (int)format);
    }
}
