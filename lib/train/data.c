#include "train/data.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "infer/intensity.h"

i2ig_status ig_pool_add_image(ig_pool *p, const i2ig_image *image, const i2ig_intensity_mapping *m)
{
    size_t w = i2ig_image_width(image), h = i2ig_image_height(image), k = i2ig_image_slices(image);
    if (w < 1 || h < 1 || w > 16384 || h > 16384)
        return ig_fail(I2IG_ERR_DIMENSIONS, "training image of %zux%zu", w, h);
    size_t n = w * h;
    ig_slice *ns = realloc(p->s, (p->n + k) * sizeof *ns);
    uint32_t *no = realloc(p->order, (p->n + k) * sizeof *no);
    if (ns) p->s = ns;
    if (no) p->order = no;
    float *v = malloc(n * sizeof *v);
    double *scratch = malloc(n * sizeof *scratch);
    if (!ns || !no || !v || !scratch) {
        free(v);
        free(scratch);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "training pool");
    }
    i2ig_dtype dt = i2ig_image_dtype(image);
    i2ig_status st = I2IG_OK;
    for (size_t i = 0; i < k && st == I2IG_OK; i++) {
        float *px = malloc(n * sizeof *px);
        if (!px) {
            st = ig_fail(I2IG_ERR_OUT_OF_MEMORY, "training pool");
            break;
        }
        ig_pixels_to_float(dt, i2ig_image_const_data(image, i), n, v);
        for (size_t j = 0; j < n; j++)
            if (v[j] != v[j] || v[j] - v[j] != 0) {
                st = ig_fail(I2IG_ERR_NOT_FINITE, "training image slice %zu holds NaN or infinity", i);
                break;
            }
        if (st != I2IG_OK) {
            free(px);
            break;
        }
        ig_map_to_unit(m, v, n, px, scratch);
        p->s[p->n].w = (int)w;
        p->s[p->n].h = (int)h;
        p->s[p->n].px = px;
        p->order[p->n] = (uint32_t)p->n;
        p->n++;
        if ((int)w > p->max_w) p->max_w = (int)w;
        if ((int)h > p->max_h) p->max_h = (int)h;
    }
    /* A new image restarts the pass in file order; the first batch
     * shuffles. */
    p->pos = p->n;
    free(v);
    free(scratch);
    return st;
}

void ig_pool_free(ig_pool *p)
{
    for (size_t i = 0; i < p->n; i++) free(p->s[i].px);
    free(p->s);
    free(p->order);
    memset(p, 0, sizeof *p);
}

int ig_pool_patch_side(const ig_pool *p, int crop, int multiple)
{
    if (crop > 0) return crop;
    int side = p->max_w > p->max_h ? p->max_w : p->max_h;
    return (side + multiple - 1) / multiple * multiple;
}

static int reflect(int i, int n)
{
    if (n == 1) return 0;
    int period = 2 * n - 2;
    int j = i % period;
    if (j < 0) j += period;
    return j < n ? j : period - j;
}

static void shuffle(ig_pool *p, ig_rng *rng)
{
    for (size_t i = 0; i < p->n; i++) p->order[i] = (uint32_t)i;
    for (size_t i = p->n; i > 1; i--) {
        size_t j = (size_t)ig_rng_below(rng, i);
        uint32_t t = p->order[i - 1];
        p->order[i - 1] = p->order[j];
        p->order[j] = t;
    }
    p->pos = 0;
}

void ig_pool_next_batch(ig_pool *p, ig_rng *rng, int batch, int side, int crop, int flip, float *out)
{
    for (int b = 0; b < batch; b++) {
        if (p->pos >= p->n) shuffle(p, rng);
        const ig_slice *s = &p->s[p->order[p->pos++]];
        /* Offsets into the slice's reflection-padded plane. */
        int y0, x0;
        if (crop > 0) {
            y0 = s->h > side ? (int)ig_rng_below(rng, (uint64_t)(s->h - side + 1)) : -(side - s->h) / 2;
            x0 = s->w > side ? (int)ig_rng_below(rng, (uint64_t)(s->w - side + 1)) : -(side - s->w) / 2;
        } else {
            y0 = -(side - s->h) / 2;
            x0 = -(side - s->w) / 2;
        }
        int mirror = flip ? (int)ig_rng_below(rng, 2) : 0;
        float *o = out + (size_t)b * (size_t)side * (size_t)side;
        for (int y = 0; y < side; y++) {
            const float *row = s->px + (size_t)reflect(y0 + y, s->h) * (size_t)s->w;
            for (int x = 0; x < side; x++) {
                int xx = mirror ? side - 1 - x : x;
                o[(size_t)y * (size_t)side + (size_t)x] = row[reflect(x0 + xx, s->w)];
            }
        }
    }
}
