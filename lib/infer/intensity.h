/* Native pixel values <-> the generator's [0,1] range, per domain. */
#ifndef IG_INFER_INTENSITY_H
#define IG_INFER_INTENSITY_H

#include <stddef.h>

#include "i2igalip.h"

/* The p-th percentile (0..100) of v[0..n) with numpy's default linear
 * interpolation; scratch holds n doubles. */
double ig_percentile(const float *v, size_t n, double p, double *scratch);

/* x[i] = clamp((v[i] - a) / (b - a), 0, 1), with (a, b) = (lo, hi) for a
 * window or this slice's percentiles for a percentile mapping. A constant
 * slice maps to 0. scratch: n doubles (percentile mappings only). */
void ig_map_to_unit(const i2ig_intensity_mapping *m, const float *v, size_t n, float *x,
                    double *scratch);
/* v[i] = lo + x[i] (hi - lo) */
void ig_map_from_unit(const i2ig_intensity_mapping *m, const float *x, size_t n, float *v);

/* Converts n pixels of dtype to float / back (rounded to nearest, ties to
 * even, and clamped to the dtype's range). */
void ig_pixels_to_float(i2ig_dtype dtype, const void *src, size_t n, float *dst);
void ig_pixels_from_float(i2ig_dtype dtype, const float *src, size_t n, void *dst);

#endif
