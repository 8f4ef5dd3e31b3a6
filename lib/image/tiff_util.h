/* libtiff plumbing shared by the TIFF reader and writer: per-call message
 * capture (no global handler, nothing printed) and open options. */
#ifndef IG_IMAGE_TIFF_UTIL_H
#define IG_IMAGE_TIFF_UTIL_H

#include <tiffio.h>

typedef struct ig_tiff_log {
    char first_error[512]; /* "module: text" of the first libtiff error, "" if none */
    int errors;
} ig_tiff_log;

/* Open options routing libtiff's errors into log and silencing its
 * warnings, with a cap on any single allocation libtiff makes. NULL when
 * out of memory. Free with TIFFOpenOptionsFree. */
TIFFOpenOptions *ig_tiff_options(ig_tiff_log *log, tmsize_t max_single_alloc);

/* The captured error text, or fallback when libtiff said nothing. */
const char *ig_tiff_why(const ig_tiff_log *log, const char *fallback);

#endif
