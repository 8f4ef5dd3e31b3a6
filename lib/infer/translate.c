/* The inference entry point: native slices in, native slices out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "generator/generator_internal.h"
#include "infer/intensity.h"
#include "nn/ops.h"

/* Largest side accepted (the U-Net's activations at 32 channels for a
 * 16384^2 slice already take 32 GiB). */
#define IG_MAX_SIDE 16384

/* Index into [0, n) of position i of a reflection-padded axis (mirror
 * without repeating the edge, periodic when the padding exceeds n). */
static size_t reflect(long i, size_t n)
{
    if (n == 1) return 0;
    long period = 2 * (long)n - 2;
    long j = i % period;
    if (j < 0) j += period;
    return (size_t)(j < (long)n ? j : period - j);
}

static i2ig_status pick_domains(i2ig_generator *g, const char *source, const char *target,
                                size_t *s, size_t *t)
{
    IG_TRY(ig_generator_find_domain(g, target, t));
    if (source) return ig_generator_find_domain(g, source, s);
    if (g->n_domains != 2)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                       "name the source domain: the model has %zu domains, not 2", g->n_domains);
    *s = 1 - *t;
    return I2IG_OK;
}

i2ig_status i2ig_translate(i2ig_generator *g, const char *source, const char *target,
                           i2ig_dtype dtype, const void *in, size_t width, size_t height,
                           size_t slices, void *out)
{
    if (!g || !in || !out || !target) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "translate: NULL argument");
    if (dtype != I2IG_DTYPE_U8 && dtype != I2IG_DTYPE_U16 && dtype != I2IG_DTYPE_I16 &&
        dtype != I2IG_DTYPE_F32)
        return ig_fail(I2IG_ERR_DTYPE, "translate: pixels must be u8, u16, i16 or f32, not %s",
                       i2ig_dtype_name(dtype));
    if (width == 0 || height == 0 || slices == 0)
        return ig_fail(I2IG_ERR_DIMENSIONS, "translate: empty image %zux%zu x %zu slices", width,
                       height, slices);
    if (width > IG_MAX_SIDE || height > IG_MAX_SIDE)
        return ig_fail(I2IG_ERR_TOO_LARGE, "translate: %zux%zu exceeds the %d-pixel side limit",
                       width, height, IG_MAX_SIDE);
    const ig_unet_cfg *c = ig_unet_cfg_of(g->unet);
    if (c->in_channels != 1 || c->out_channels != 1)
        return ig_fail(I2IG_ERR_UNSUPPORTED, "translate: the model is not single-channel");
    size_t s = 0, t = 0;
    IG_TRY(pick_domains(g, source, target, &s, &t));
    size_t m = (size_t)ig_unet_size_multiple(c);
    size_t pw = (width + m - 1) / m * m, ph = (height + m - 1) / m * m;
    size_t left = (pw - width) / 2, top = (ph - height) / 2;
    size_t n = width * height, esize = i2ig_dtype_size(dtype);
    float *v = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float));
    double *scratch = malloc(n * sizeof(double));
    i2ig_status st = (v && x && scratch) ? I2IG_OK : ig_fail(I2IG_ERR_OUT_OF_MEMORY, "translate buffers");
    ig_thread_scope ts = ig_engine_enter(g->e);
    int64_t shape[4] = {1, (int64_t)ph, (int64_t)pw, 1};
    for (size_t k = 0; k < slices && st == I2IG_OK; k++) {
        ig_pixels_to_float(dtype, (const char *)in + k * n * esize, n, v);
        if (dtype == I2IG_DTYPE_F32)
            for (size_t i = 0; i < n; i++)
                if (!isfinite(v[i])) {
                    st = ig_fail(I2IG_ERR_NOT_FINITE, "translate: slice %zu pixel (%zu, %zu) is not finite",
                                 k, i % width, i / width);
                    break;
                }
        if (st != I2IG_OK) break;
        ig_map_to_unit(&g->domains[s].map, v, n, x, scratch);
        ig_engine_plan_begin(g->e);
        ig_graph graph;
        ig_graph_init(&graph, g->e, false);
        ig_tensor *xp = ig_t_new(&graph, 4, shape);
        if (xp)
            for (size_t r = 0; r < ph; r++) {
                size_t sr = reflect((long)r - (long)top, height);
                for (size_t q = 0; q < pw; q++)
                    xp->data[r * pw + q] = x[sr * width + reflect((long)q - (long)left, width)];
            }
        ig_tensor *y = ig_generator_run(&graph, g, xp, t);
        if (y) {
            for (size_t r = 0; r < height; r++)
                memcpy(x + r * width, y->data + (r + top) * pw + left, width * sizeof(float));
            ig_map_from_unit(&g->domains[t].map, x, n, v);
            ig_pixels_from_float(dtype, v, n, (char *)out + k * n * esize);
        }
        st = ig_graph_status(&graph);
        ig_t_release(y);
        ig_t_release(xp);
        ig_graph_clear(&graph);
        ig_engine_plan_end(g->e);
        if (st == I2IG_OK && g->progress && g->progress(g->progress_user, k + 1, slices))
            st = ig_fail(I2IG_ERR_CANCELLED, "translate: cancelled after %zu of %zu slices", k + 1, slices);
    }
    ig_engine_leave(ts);
    free(v);
    free(x);
    free(scratch);
    return st;
}

i2ig_status i2ig_translate_image(i2ig_generator *g, const char *source, const char *target,
                                 const i2ig_image *in, i2ig_image **out)
{
    if (!in || !out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "translate_image: NULL argument");
    *out = NULL;
    i2ig_image *o;
    IG_TRY(i2ig_image_create(i2ig_image_dtype(in), i2ig_image_width(in), i2ig_image_height(in),
                             i2ig_image_slices(in), &o));
    double sx, sy;
    i2ig_image_spacing(in, &sx, &sy);
    i2ig_status st = I2IG_OK;
    if (sx > 0 && sy > 0) st = i2ig_image_set_spacing(o, sx, sy);
    if (st == I2IG_OK)
        st = i2ig_translate(g, source, target, i2ig_image_dtype(in), i2ig_image_const_data(in, 0),
                            i2ig_image_width(in), i2ig_image_height(in), i2ig_image_slices(in),
                            i2ig_image_data(o, 0));
    if (st != I2IG_OK) {
        i2ig_image_free(o);
        return st;
    }
    *out = o;
    return I2IG_OK;
}
