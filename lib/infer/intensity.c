#include "infer/intensity.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ig_percentile(const float *v, size_t n, double p, double *scratch)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) scratch[i] = v[i];
    qsort(scratch, n, sizeof *scratch, cmp_double);
    double pos = p / 100.0 * (double)(n - 1);
    size_t i0 = (size_t)floor(pos);
    if (i0 >= n - 1) return scratch[n - 1];
    double f = pos - (double)i0;
    return scratch[i0] + f * (scratch[i0 + 1] - scratch[i0]);
}

void ig_map_to_unit(const i2ig_intensity_mapping *m, const float *v, size_t n, float *x,
                    double *scratch)
{
    double a = m->lo, b = m->hi;
    if (m->kind == I2IG_MAPPING_PERCENTILE) {
        a = ig_percentile(v, n, m->p_lo, scratch);
        b = ig_percentile(v, n, m->p_hi, scratch);
    }
    double span = b - a;
    for (size_t i = 0; i < n; i++) {
        double t = span > 0 ? (v[i] - a) / span : 0.0;
        x[i] = (float)(t < 0 ? 0 : t > 1 ? 1 : t);
    }
}

void ig_map_from_unit(const i2ig_intensity_mapping *m, const float *x, size_t n, float *v)
{
    double span = m->hi - m->lo;
    for (size_t i = 0; i < n; i++) v[i] = (float)(m->lo + (double)x[i] * span);
}

void ig_pixels_to_float(i2ig_dtype dtype, const void *src, size_t n, float *dst)
{
    switch (dtype) {
    case I2IG_DTYPE_U8:
        for (size_t i = 0; i < n; i++) dst[i] = ((const uint8_t *)src)[i];
        break;
    case I2IG_DTYPE_U16:
        for (size_t i = 0; i < n; i++) dst[i] = ((const uint16_t *)src)[i];
        break;
    case I2IG_DTYPE_I16:
        for (size_t i = 0; i < n; i++) dst[i] = ((const int16_t *)src)[i];
        break;
    default:
        for (size_t i = 0; i < n; i++) dst[i] = ((const float *)src)[i];
        break;
    }
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

void ig_pixels_from_float(i2ig_dtype dtype, const float *src, size_t n, void *dst)
{
    switch (dtype) {
    case I2IG_DTYPE_U8:
        for (size_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = (uint8_t)nearbyint(clampd(src[i], 0, 255));
        break;
    case I2IG_DTYPE_U16:
        for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = (uint16_t)nearbyint(clampd(src[i], 0, 65535));
        break;
    case I2IG_DTYPE_I16:
        for (size_t i = 0; i < n; i++)
            ((int16_t *)dst)[i] = (int16_t)nearbyint(clampd(src[i], -32768, 32767));
        break;
    default:
        for (size_t i = 0; i < n; i++) ((float *)dst)[i] = src[i];
        break;
    }
}
