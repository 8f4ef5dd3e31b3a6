/* The image handle: creation, accessors, spacing, slice extraction. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "image/image_internal.h"

bool ig_image_dtype_ok(i2ig_dtype dtype)
{
    return dtype == I2IG_DTYPE_U8 || dtype == I2IG_DTYPE_U16 || dtype == I2IG_DTYPE_I16 ||
           dtype == I2IG_DTYPE_F32;
}

i2ig_status ig_image_new(i2ig_dtype dtype, size_t width, size_t height, size_t slices,
                         bool zero, i2ig_image **out)
{
    if (!ig_image_dtype_ok(dtype))
        return ig_fail(I2IG_ERR_DTYPE, "image dtype %d (%s): images hold u8, u16, i16 or f32",
                       (int)dtype, i2ig_dtype_name(dtype));
    if (width == 0 || height == 0 || slices == 0)
        return ig_fail(I2IG_ERR_DIMENSIONS, "image of %zux%zu pixels x %zu slices: "
                       "every dimension must be at least 1", width, height, slices);
    size_t pixels, slice_bytes, total;
    if (!ig_mul_size(width, height, &pixels) ||
        !ig_mul_size(pixels, i2ig_dtype_size(dtype), &slice_bytes) ||
        !ig_mul_size(slice_bytes, slices, &total))
        return ig_fail(I2IG_ERR_DIMENSIONS, "image of %zux%zu pixels x %zu slices of %s: "
                       "size overflows", width, height, slices, i2ig_dtype_name(dtype));
    i2ig_image *im = calloc(1, sizeof *im);
    if (!im) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "image handle: out of memory");
    im->data = zero ? ig_calloc_aligned(total) : ig_alloc_aligned(total);
    if (!im->data) {
        free(im);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "image of %zux%zu x %zu slices of %s: "
                       "cannot allocate %zu bytes", width, height, slices,
                       i2ig_dtype_name(dtype), total);
    }
    im->dtype = dtype;
    im->width = width;
    im->height = height;
    im->slices = slices;
    im->slice_bytes = slice_bytes;
    *out = im;
    return I2IG_OK;
}

i2ig_status i2ig_image_create(i2ig_dtype dtype, size_t width, size_t height, size_t slices,
                              i2ig_image **out)
{
    if (!out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_image_create: out is NULL");
    *out = NULL;
    return ig_image_new(dtype, width, height, slices, true, out);
}

void i2ig_image_free(i2ig_image *image)
{
    if (!image) return;
    ig_free_aligned(image->data);
    free(image);
}

i2ig_dtype i2ig_image_dtype(const i2ig_image *image)
{
    return image ? image->dtype : (i2ig_dtype)0;
}

size_t i2ig_image_width(const i2ig_image *image) { return image ? image->width : 0; }
size_t i2ig_image_height(const i2ig_image *image) { return image ? image->height : 0; }
size_t i2ig_image_slices(const i2ig_image *image) { return image ? image->slices : 0; }

void *i2ig_image_data(i2ig_image *image, size_t slice)
{
    if (!image || slice >= image->slices) return NULL;
    return (unsigned char *)image->data + slice * image->slice_bytes;
}

const void *i2ig_image_const_data(const i2ig_image *image, size_t slice)
{
    if (!image || slice >= image->slices) return NULL;
    return (const unsigned char *)image->data + slice * image->slice_bytes;
}

void i2ig_image_spacing(const i2ig_image *image, double *x_mm, double *y_mm)
{
    if (x_mm) *x_mm = image ? image->spacing_x : 0.0;
    if (y_mm) *y_mm = image ? image->spacing_y : 0.0;
}

i2ig_status i2ig_image_set_spacing(i2ig_image *image, double x_mm, double y_mm)
{
    if (!image) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_image_set_spacing: image is NULL");
    if (!isfinite(x_mm) || !isfinite(y_mm) || x_mm < 0 || y_mm < 0)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                       "pixel spacing %g x %g mm: must be finite and >= 0 (0 = unknown)", x_mm,
                       y_mm);
    image->spacing_x = x_mm;
    image->spacing_y = y_mm;
    return I2IG_OK;
}

i2ig_status i2ig_image_extract_slice(const i2ig_image *image, size_t slice, i2ig_image **out)
{
    if (!out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_image_extract_slice: out is NULL");
    *out = NULL;
    if (!image)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "i2ig_image_extract_slice: image is NULL");
    if (slice >= image->slices)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "slice %zu of an image with %zu slices", slice,
                       image->slices);
    i2ig_image *im = NULL;
    IG_TRY(ig_image_new(image->dtype, image->width, image->height, 1, false, &im));
    memcpy(im->data, i2ig_image_const_data(image, slice), image->slice_bytes);
    im->spacing_x = image->spacing_x;
    im->spacing_y = image->spacing_y;
    *out = im;
    return I2IG_OK;
}
