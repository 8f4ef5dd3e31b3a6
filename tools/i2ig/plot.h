/* Small raster drawings the tool writes as PNG through the library's image
 * API: loss curves (one panel per series, since the PNG writer is grey) and
 * sample grids. */
#ifndef I2IG_TOOL_PLOT_H
#define I2IG_TOOL_PLOT_H

#include <stddef.h>

#include "i2igalip.h"

/* Writes a PNG of n_series panels, panel k plotting y[k][0..n) against
 * x[0..n), titled names[k] with its last value. */
i2ig_status plot_series(const char *path, const char *const *names, int n_series,
                        const double *x, const double *const *y, size_t n);

/* Writes a PNG grid: rows x cols tiles of side x side floats in [0,1]
 * (tile (r, c) at tiles[(r * cols + c) * side * side]), 2-pixel gaps. */
i2ig_status plot_grid(const char *path, const float *tiles, int rows, int cols, size_t side);

#endif
