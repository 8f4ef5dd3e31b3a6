#include "toolutil.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

double tool_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int tool_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

int tool_parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int tool_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

int tool_usage(const char *usage, const char *msg)
{
    fprintf(stderr, "i2ig: %s\n\n%s", msg, usage);
    return 2;
}

void tool_error(const char *cmd, i2ig_status st)
{
    fprintf(stderr, "i2ig %s: %s: %s\n", cmd, i2ig_status_string(st), i2ig_last_error());
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

const char *tool_output_format_problem(const char *path, i2ig_dtype dtype, size_t slices)
{
    if (ends_with(path, ".tif") || ends_with(path, ".tiff")) return NULL;
    if (ends_with(path, ".png")) {
        if (slices == 1 && (dtype == I2IG_DTYPE_U8 || dtype == I2IG_DTYPE_U16)) return NULL;
        return "PNG holds one 8- or 16-bit unsigned slice: write a .tif for stacks, signed or "
               "float data";
    }
    return "the output name must end in .png, .tif or .tiff";
}

double tool_pixel(const i2ig_image *image, size_t slice, size_t i)
{
    const void *p = i2ig_image_const_data(image, slice);
    switch (i2ig_image_dtype(image)) {
    case I2IG_DTYPE_U8: return ((const uint8_t *)p)[i];
    case I2IG_DTYPE_U16: return ((const uint16_t *)p)[i];
    case I2IG_DTYPE_I16: return ((const int16_t *)p)[i];
    default: return ((const float *)p)[i];
    }
}
