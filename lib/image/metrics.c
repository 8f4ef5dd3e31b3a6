/* i2ig_image_compare: PSNR, SSIM and MAE as the I2I-Galip evaluation
 * (utils/psnr.py) computes them with scikit-image, in double precision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "i2igalip.h"
#include "infer/intensity.h"

#define SSIM_RADIUS 5 /* int(3.5 * 1.5 + 0.5), scipy's truncate 3.5 */

/* scipy.ndimage "reflect" (half-sample symmetric: d c b a | a b c d | d c b a) */
static long reflect(long i, long n)
{
    long period = 2 * n;
    long j = i % period;
    if (j < 0) j += period;
    return j < n ? j : period - 1 - j;
}

/* Separable Gaussian filter (sigma 1.5, radius 5) along rows then columns,
 * as scipy.ndimage.gaussian_filter applies its 1-D passes. */
static void gauss2d(const double *in, double *tmp, double *out, long w, long h, const double *k)
{
    for (long y = 0; y < h; y++)
        for (long x = 0; x < w; x++) {
            double s = 0;
            for (long d = -SSIM_RADIUS; d <= SSIM_RADIUS; d++)
                s += k[d + SSIM_RADIUS] * in[reflect(y + d, h) * w + x];
            tmp[y * w + x] = s;
        }
    for (long y = 0; y < h; y++)
        for (long x = 0; x < w; x++) {
            double s = 0;
            for (long d = -SSIM_RADIUS; d <= SSIM_RADIUS; d++)
                s += k[d + SSIM_RADIUS] * tmp[y * w + reflect(x + d, w)];
            out[y * w + x] = s;
        }
}

static i2ig_status normalised(const i2ig_image *im, size_t slice, double *v, size_t n, const char *what)
{
    float *f = malloc(n * sizeof *f);
    if (!f) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "compare");
    ig_pixels_to_float(i2ig_image_dtype(im), i2ig_image_const_data(im, slice), n, f);
    double mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        v[i] = f[i];
        if (!isfinite(v[i])) {
            free(f);
            return ig_fail(I2IG_ERR_NOT_FINITE, "compare: the %s slice holds NaN or infinity", what);
        }
        if (v[i] > mx) mx = v[i];
    }
    free(f);
    if (!(mx > 0))
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                       "compare: the %s slice's maximum is %g; it cannot be scaled by it", what, mx);
    for (size_t i = 0; i < n; i++) v[i] /= mx;
    return I2IG_OK;
}

i2ig_status i2ig_image_compare(const i2ig_image *test, const i2ig_image *reference, size_t slice,
                               i2ig_metrics *m)
{
    if (!test || !reference || !m || m->struct_size != sizeof *m)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "compare: NULL argument or bad struct_size");
    size_t w = i2ig_image_width(test), h = i2ig_image_height(test);
    if (w != i2ig_image_width(reference) || h != i2ig_image_height(reference))
        return ig_fail(I2IG_ERR_SHAPE, "compare: %zux%zu against %zux%zu", w, h,
                       i2ig_image_width(reference), i2ig_image_height(reference));
    if (slice >= i2ig_image_slices(test) || slice >= i2ig_image_slices(reference))
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "compare: no slice %zu", slice);
    if (w < 2 * SSIM_RADIUS + 1 || h < 2 * SSIM_RADIUS + 1)
        return ig_fail(I2IG_ERR_DIMENSIONS, "compare: %zux%zu is smaller than the 11x11 SSIM window", w, h);
    size_t n = w * h;
    double *buf = malloc(9 * n * sizeof *buf);
    if (!buf) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "compare");
    double *x = buf, *y = buf + n, *tmp = buf + 2 * n, *ux = buf + 3 * n, *uy = buf + 4 * n,
           *uxx = buf + 5 * n, *uyy = buf + 6 * n, *uxy = buf + 7 * n, *prod = buf + 8 * n;
    i2ig_status st = normalised(test, slice, x, n, "test");
    if (st == I2IG_OK) st = normalised(reference, slice, y, n, "reference");
    if (st != I2IG_OK) {
        free(buf);
        return st;
    }
    double se = 0, ae = 0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - y[i];
        se += d * d;
        ae += fabs(d);
    }
    double mse = se / (double)n;
    m->psnr = 10.0 * log10(1.0 / mse);
    m->mae = ae / (double)n;

    double k[2 * SSIM_RADIUS + 1], ks = 0;
    for (int d = -SSIM_RADIUS; d <= SSIM_RADIUS; d++) ks += k[d + SSIM_RADIUS] = exp(-0.5 * d * d / (1.5 * 1.5));
    for (int d = 0; d < 2 * SSIM_RADIUS + 1; d++) k[d] /= ks;
    long W = (long)w, H = (long)h;
    gauss2d(x, tmp, ux, W, H, k);
    gauss2d(y, tmp, uy, W, H, k);
    for (size_t i = 0; i < n; i++) prod[i] = x[i] * x[i];
    gauss2d(prod, tmp, uxx, W, H, k);
    for (size_t i = 0; i < n; i++) prod[i] = y[i] * y[i];
    gauss2d(prod, tmp, uyy, W, H, k);
    for (size_t i = 0; i < n; i++) prod[i] = x[i] * y[i];
    gauss2d(prod, tmp, uxy, W, H, k);
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
    double sum = 0;
    for (long r = SSIM_RADIUS; r < H - SSIM_RADIUS; r++)
        for (long q = SSIM_RADIUS; q < W - SSIM_RADIUS; q++) {
            size_t i = (size_t)(r * W + q);
            double vx = uxx[i] - ux[i] * ux[i], vy = uyy[i] - uy[i] * uy[i], vxy = uxy[i] - ux[i] * uy[i];
            double a1 = 2 * ux[i] * uy[i] + c1, a2 = 2 * vxy + c2;
            double b1 = ux[i] * ux[i] + uy[i] * uy[i] + c1, b2 = vx + vy + c2;
            sum += (a1 * a2) / (b1 * b2);
        }
    m->ssim = sum / (double)((H - 2 * SSIM_RADIUS) * (W - 2 * SSIM_RADIUS));
    free(buf);
    return I2IG_OK;
}
