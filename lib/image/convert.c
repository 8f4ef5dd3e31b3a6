/* i2ig_image_convert: linear intensity mapping between pixel dtypes. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "image/image_internal.h"

static double load_value(const void *data, i2ig_dtype dtype, size_t i)
{
    switch (dtype) {
    case I2IG_DTYPE_U8: return ((const uint8_t *)data)[i];
    case I2IG_DTYPE_U16: return ((const uint16_t *)data)[i];
    case I2IG_DTYPE_I16: return ((const int16_t *)data)[i];
    case I2IG_DTYPE_F32: return ((const float *)data)[i];
    default: return 0.0;
    }
}

/* Integer targets: value = tmin + (v - lo) * (tmax - tmin) / (hi - lo).
 * The product is formed before the single division so that for integer
 * sources the result is correctly rounded and exact halves stay exact
 * (they round up). NaN goes to the low end, infinities clamp. */
static double map_int(double v, double lo, double hi, double tmin, double tmax)
{
    if (isnan(v)) return tmin;
    double x = tmin + floor(((v - lo) * (tmax - tmin)) / (hi - lo) + 0.5);
    if (!(x >= tmin)) return tmin;
    if (x > tmax) return tmax;
    return x;
}

i2ig_status i2ig_image_convert(const i2ig_image *image, i2ig_dtype dtype, double lo, double hi,
                               i2ig_image **out)
{
    if (!out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_image_convert: out is NULL");
    *out = NULL;
    if (!image) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_image_convert: image is NULL");
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi) || !isfinite(hi - lo))
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                       "intensity window [%g, %g]: needs finite lo < hi", lo, hi);
    i2ig_image *im = NULL;
    IG_TRY(ig_image_new(dtype, image->width, image->height, image->slices, false, &im));
    im->spacing_x = image->spacing_x;
    im->spacing_y = image->spacing_y;
    size_t n = image->width * image->height * image->slices; /* checked by ig_image_new */
    const void *src = image->data;
    switch (dtype) {
    case I2IG_DTYPE_U8: {
        uint8_t *d = im->data;
        for (size_t i = 0; i < n; i++)
            d[i] = (uint8_t)map_int(load_value(src, image->dtype, i), lo, hi, 0, 255);
        break;
    }
    case I2IG_DTYPE_U16: {
        uint16_t *d = im->data;
        for (size_t i = 0; i < n; i++)
            d[i] = (uint16_t)map_int(load_value(src, image->dtype, i), lo, hi, 0, 65535);
        break;
    }
    case I2IG_DTYPE_I16: {
        int16_t *d = im->data;
        for (size_t i = 0; i < n; i++)
            d[i] = (int16_t)map_int(load_value(src, image->dtype, i), lo, hi, -32768, 32767);
        break;
    }
    case I2IG_DTYPE_F32: {
        float *d = im->data;
        for (size_t i = 0; i < n; i++) {
            double v = load_value(src, image->dtype, i);
            double x = isnan(v) ? 0.0 : (v - lo) / (hi - lo);
            d[i] = (float)(x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x);
        }
        break;
    }
    default:
        i2ig_image_free(im);
        return ig_fail(I2IG_ERR_INTERNAL, "i2ig_image_convert: dtype %d passed checks", dtype);
    }
    *out = im;
    return I2IG_OK;
}
