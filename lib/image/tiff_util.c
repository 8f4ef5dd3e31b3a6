#include "image/tiff_util.h"

#include <stdio.h>
#include <string.h>

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    ig_tiff_log *log = user;
    /* The first error is the cause; later ones are consequences. */
    if (log->errors++ == 0) {
        int n = snprintf(log->first_error, sizeof log->first_error, "%s: ",
                         module ? module : "libtiff");
        if (n < 0 || (size_t)n >= sizeof log->first_error) n = 0;
        vsnprintf(log->first_error + n, sizeof log->first_error - (size_t)n, fmt, ap);
    }
    return 1; /* handled: keeps libtiff's global handler (stderr) out of it */
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
    return 1;
}

TIFFOpenOptions *ig_tiff_options(ig_tiff_log *log, tmsize_t max_single_alloc)
{
    memset(log, 0, sizeof *log);
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (!o) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(o, on_error, log);
    TIFFOpenOptionsSetWarningHandlerExtR(o, on_warning, log);
    TIFFOpenOptionsSetMaxSingleMemAlloc(o, max_single_alloc);
    return o;
}

const char *ig_tiff_why(const ig_tiff_log *log, const char *fallback)
{
    return log->errors ? log->first_error : fallback;
}
