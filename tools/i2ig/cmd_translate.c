/* i2ig translate: translate a slice or a stack of slices between domains. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "i2igalip.h"
#include "toolutil.h"

static const char usage_text[] =
    "usage: i2ig translate --model MODEL.i2ig --to DOMAIN [--from DOMAIN] [--threads N]\n"
    "                      [--quiet] INPUT OUTPUT\n"
    "\n"
    "Translates every slice of INPUT (PNG, JPEG, BMP or TIFF; a multi-page TIFF is a\n"
    "stack) from the source domain to the target domain and writes OUTPUT (.png or\n"
    ".tif) with the input's pixel type (8/16-bit, signed 16-bit, float). --from may\n"
    "be left out when the model has two domains. The output file appears only when\n"
    "every slice is done.\n";

typedef struct progress {
    int quiet;
    double start;
} progress;

static int on_progress(void *user, size_t done, size_t total)
{
    progress *p = user;
    if (p->quiet) return 0;
    double el = tool_now() - p->start;
    double eta = done ? el / (double)done * (double)(total - done) : 0;
    fprintf(stderr, "\rslice %zu/%zu  %.1f s elapsed  %.2f s/slice  ETA %.0f s   ", done, total,
            el, el / (double)done, eta);
    if (done == total) fputc('\n', stderr);
    return 0;
}

int cmd_translate(int argc, char **argv)
{
    const char *model = NULL, *to = NULL, *from = NULL, *in = NULL, *out = NULL;
    int threads = tool_default_threads(), quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--model") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(a, "--to") && i + 1 < argc) {
            to = argv[++i];
        } else if (!strcmp(a, "--from") && i + 1 < argc) {
            from = argv[++i];
        } else if (!strcmp(a, "--threads") && i + 1 < argc) {
            if (tool_parse_int(argv[++i], 1, 1024, &threads)) return tool_usage(usage_text, "bad --threads");
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            return tool_usage(usage_text, "unknown option");
        } else if (!in) {
            in = a;
        } else if (!out) {
            out = a;
        } else {
            return tool_usage(usage_text, "too many arguments");
        }
    }
    if (!model || !to || !in || !out) return tool_usage(usage_text, "missing arguments");

    i2ig_generator *g = NULL;
    i2ig_image *img = NULL, *res = NULL;
    int rc = 1;
    i2ig_status st = i2ig_generator_load(model, &g);
    if (st == I2IG_OK) st = i2ig_generator_set_threads(g, threads);
    if (st == I2IG_OK) st = i2ig_image_load(in, &img);
    /* Refuse an output format that cannot hold the result before spending
     * minutes on the translation. */
    const char *why = st == I2IG_OK ? tool_output_format_problem(out, i2ig_image_dtype(img),
                                                                 i2ig_image_slices(img))
                                    : NULL;
    if (why) {
        fprintf(stderr, "i2ig translate: %s: %s\n", out, why);
        i2ig_image_free(img);
        i2ig_generator_free(g);
        return 1;
    }
    progress pr = {quiet, tool_now()};
    if (st == I2IG_OK) st = i2ig_generator_set_progress(g, on_progress, &pr);
    if (st == I2IG_OK) st = i2ig_translate_image(g, from, to, img, &res);
    if (st == I2IG_OK) st = i2ig_image_save(res, out, I2IG_FORMAT_AUTO);
    if (st == I2IG_OK) {
        rc = 0;
        if (!quiet)
            fprintf(stderr, "wrote %s: %zu slice(s) %zux%zu %s, %s -> %s, %.2f s\n", out,
                    i2ig_image_slices(res), i2ig_image_width(res), i2ig_image_height(res),
                    i2ig_dtype_name(i2ig_image_dtype(res)), from ? from : "(other domain)", to,
                    tool_now() - pr.start);
    } else {
        if (!quiet) fputc('\n', stderr);
        tool_error("translate", st);
    }
    i2ig_image_free(res);
    i2ig_image_free(img);
    i2ig_generator_free(g);
    return rc;
}
