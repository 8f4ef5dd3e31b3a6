/* Small helpers shared by the i2ig sub-commands. */
#ifndef I2IG_TOOL_UTIL_H
#define I2IG_TOOL_UTIL_H

#include <stddef.h>

#include "i2igalip.h"

double tool_now(void);
/* The number of online CPUs (at least 1). */
int tool_default_threads(void);
/* Parses a whole decimal integer in [lo, hi]; 0 on success. */
int tool_parse_int(const char *s, long lo, long hi, int *out);
int tool_parse_double(const char *s, double *out);
/* Prints "i2ig: msg" and the usage text to stderr; returns 2. */
int tool_usage(const char *usage, const char *msg);
/* Prints "i2ig CMD: <status>: <detail>" to stderr. */
void tool_error(const char *cmd, i2ig_status st);
/* NULL when OUTPUT's extension names a format that can hold an image of
 * this dtype and slice count (PNG: one u8/u16 slice; TIFF: anything), else
 * why not (static text). */
const char *tool_output_format_problem(const char *path, i2ig_dtype dtype, size_t slices);
/* Pixel i of a slice as a number (images hold u8, u16, i16 or f32). */
double tool_pixel(const i2ig_image *image, size_t slice, size_t i);

#endif
