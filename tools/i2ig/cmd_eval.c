/* i2ig eval: PSNR, SSIM and MAE between two image sets, slice by slice, as
 * the I2I-Galip evaluation computes them (i2ig_image_compare). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "i2igalip.h"
#include "toolutil.h"

static const char usage_text[] =
    "usage: i2ig eval [--csv FILE] TEST REFERENCE\n"
    "\n"
    "TEST and REFERENCE are two images (stacks are compared slice by slice) or two\n"
    "folders whose images are paired in name order. Each slice is divided by its own\n"
    "maximum, then PSNR (data range 1), SSIM (scikit-image: Gaussian window sigma 1.5,\n"
    "population covariance, data range 1) and MAE are computed; the means over all\n"
    "slices are printed last.\n";

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The file list of a path: itself, or the images of a folder in name order. */
static char **list_files(const char *path, size_t *n)
{
    struct stat sb;
    *n = 0;
    if (stat(path, &sb) != 0) return NULL;
    if (!S_ISDIR(sb.st_mode)) {
        char **one = malloc(sizeof *one);
        if (one && (one[0] = strdup(path))) *n = 1;
        return one;
    }
    DIR *d = opendir(path);
    if (!d) return NULL;
    char **v = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *dot = strrchr(de->d_name, '.');
        if (!dot || (strcasecmp(dot, ".tif") && strcasecmp(dot, ".tiff") && strcasecmp(dot, ".png") &&
                     strcasecmp(dot, ".jpg") && strcasecmp(dot, ".jpeg") && strcasecmp(dot, ".bmp")))
            continue;
        char **nv = realloc(v, (*n + 1) * sizeof *nv);
        if (!nv) break;
        v = nv;
        v[*n] = malloc(strlen(path) + strlen(de->d_name) + 2);
        if (!v[*n]) break;
        sprintf(v[(*n)++], "%s/%s", path, de->d_name);
    }
    closedir(d);
    if (v) qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

int cmd_eval(int argc, char **argv)
{
    const char *csv_path = NULL, *a = NULL, *b = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) csv_path = argv[++i];
        else if (argv[i][0] == '-') return tool_usage(usage_text, "unknown option");
        else if (!a) a = argv[i];
        else if (!b) b = argv[i];
        else return tool_usage(usage_text, "too many arguments");
    }
    if (!a || !b) return tool_usage(usage_text, "need TEST and REFERENCE");
    size_t na, nb;
    char **fa = list_files(a, &na), **fb = list_files(b, &nb);
    if (!na || na != nb) {
        fprintf(stderr, "i2ig eval: %zu test image(s) against %zu reference image(s)\n", na, nb);
        free_list(fa, na);
        free_list(fb, nb);
        return 1;
    }
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv_path && !csv) {
        fprintf(stderr, "i2ig eval: cannot write %s\n", csv_path);
        free_list(fa, na);
        free_list(fb, nb);
        return 1;
    }
    if (csv) fprintf(csv, "test,reference,slice,psnr,ssim,mae\n");
    double s[3] = {0}, s2[3] = {0};
    size_t count = 0;
    i2ig_status st = I2IG_OK;
    for (size_t k = 0; k < na && st == I2IG_OK; k++) {
        i2ig_image *ia = NULL, *ib = NULL;
        st = i2ig_image_load(fa[k], &ia);
        if (st == I2IG_OK) st = i2ig_image_load(fb[k], &ib);
        if (st == I2IG_OK && i2ig_image_slices(ia) != i2ig_image_slices(ib)) {
            fprintf(stderr, "i2ig eval: %s has %zu slices, %s %zu\n", fa[k], i2ig_image_slices(ia),
                    fb[k], i2ig_image_slices(ib));
            st = I2IG_ERR_SHAPE;
        }
        for (size_t z = 0; st == I2IG_OK && z < i2ig_image_slices(ia); z++) {
            i2ig_metrics m;
            m.struct_size = sizeof m;
            st = i2ig_image_compare(ia, ib, z, &m);
            if (st != I2IG_OK) break;
            const double v[3] = {m.psnr, m.ssim, m.mae};
            for (int j = 0; j < 3; j++) {
                s[j] += v[j];
                s2[j] += v[j] * v[j];
            }
            count++;
            if (csv) fprintf(csv, "%s,%s,%zu,%.17g,%.17g,%.17g\n", fa[k], fb[k], z, m.psnr, m.ssim, m.mae);
        }
        if (st != I2IG_OK && st != I2IG_ERR_SHAPE) fprintf(stderr, "i2ig eval: %s: ", fa[k]);
        i2ig_image_free(ia);
        i2ig_image_free(ib);
    }
    if (csv) fclose(csv);
    free_list(fa, na);
    free_list(fb, nb);
    if (st != I2IG_OK) {
        tool_error("eval", st);
        return 1;
    }
    const char *names[3] = {"PSNR (dB)", "SSIM", "MAE"};
    printf("%zu slice pairs\n", count);
    for (int j = 0; j < 3; j++) {
        double mean = s[j] / (double)count, var = s2[j] / (double)count - mean * mean;
        printf("%-10s mean %.6f  std %.6f\n", names[j], mean, var > 0 ? sqrt(var) : 0.0);
    }
    return 0;
}
