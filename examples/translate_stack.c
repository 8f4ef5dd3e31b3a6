/*
 * translate_stack: translate every slice of an image stack to another domain
 * with libi2igalip's public API only.
 *
 *   translate_stack MODEL.i2ig INPUT OUTPUT.tif TARGET [SOURCE [THREADS]]
 *
 * INPUT is a PNG/JPEG/BMP slice or a (multi-page) TIFF stack; OUTPUT is
 * written as TIFF with the input's pixel type, one page per slice. SOURCE may
 * be "-" (or left out) when the model has exactly two domains.
 *
 * Build against an installed library:
 *   cc -std=c11 translate_stack.c $(pkg-config --cflags --libs i2igalip)
 *
 * Copyright 2026 the libi2igalip authors. SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <i2igalip.h>

/* Progress callback: the library calls it after each slice; returning
 * non-zero would cancel the translation. */
static int show_progress(void *user, size_t done, size_t total)
{
    const char *name = user;
    fprintf(stderr, "\r%s: slice %zu/%zu", name, done, total);
    if (done == total) fputc('\n', stderr);
    return 0;
}

/* Prints the status name and the library's detail message of the call that
 * just failed on this thread. */
static int fail(const char *what, i2ig_status st)
{
    fprintf(stderr, "translate_stack: %s: %s: %s\n", what, i2ig_status_string(st),
            i2ig_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 7) {
        fprintf(stderr, "usage: %s MODEL.i2ig INPUT OUTPUT.tif TARGET [SOURCE [THREADS]]\n",
                argv[0]);
        return 2;
    }
    const char *model = argv[1], *input = argv[2], *output = argv[3], *target = argv[4];
    const char *source = argc > 5 && strcmp(argv[5], "-") ? argv[5] : NULL;
    int threads = argc > 6 ? atoi(argv[6]) : 1;

    /* The header and the loaded library must agree on the major version. */
    if (i2ig_version() / 10000 != I2IG_VERSION_MAJOR) {
        fprintf(stderr, "translate_stack: built for libi2igalip %d.x, running with %s\n",
                I2IG_VERSION_MAJOR, i2ig_version_string());
        return 1;
    }

    i2ig_generator *gen = NULL;
    i2ig_image *in = NULL, *out = NULL;
    int rc = 1;
    i2ig_status st = i2ig_generator_load(model, &gen);
    if (st != I2IG_OK) {
        rc = fail(model, st);
        goto done;
    }
    fprintf(stderr, "model %s: %zu parameters, domains:", model,
            i2ig_generator_parameter_count(gen));
    for (size_t i = 0; i < i2ig_generator_domain_count(gen); i++)
        fprintf(stderr, " %s", i2ig_generator_domain_name(gen, i));
    fputc('\n', stderr);

    if ((st = i2ig_generator_set_threads(gen, threads)) != I2IG_OK) {
        rc = fail("threads", st);
        goto done;
    }
    if ((st = i2ig_image_load(input, &in)) != I2IG_OK) {
        rc = fail(input, st);
        goto done;
    }
    fprintf(stderr, "input %s: %zu slice(s) of %zux%zu %s\n", input, i2ig_image_slices(in),
            i2ig_image_width(in), i2ig_image_height(in), i2ig_dtype_name(i2ig_image_dtype(in)));

    i2ig_generator_set_progress(gen, show_progress, (void *)input);
    /* Maps each slice to [0,1] with the source domain's intensity mapping,
     * pads, translates, crops and maps back to the target's native range;
     * the result has the input's dtype, size and pixel spacing. */
    if ((st = i2ig_translate_image(gen, source, target, in, &out)) != I2IG_OK) {
        rc = fail("translate", st);
        goto done;
    }
    /* Written atomically: OUTPUT appears complete or not at all. */
    if ((st = i2ig_image_save(out, output, I2IG_FORMAT_TIFF)) != I2IG_OK) {
        rc = fail(output, st);
        goto done;
    }
    fprintf(stderr, "wrote %s (%s -> %s)\n", output, source ? source : "other domain", target);
    rc = 0;
done:
    /* Every *_free accepts NULL. */
    i2ig_image_free(out);
    i2ig_image_free(in);
    i2ig_generator_free(gen);
    return rc;
}
