#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Thread-local so that concurrent handles never see each other's messages;
 * this is the only per-thread state of the library. */
static _Thread_local char last_error[1024];

const char *i2ig_status_string(i2ig_status status)
{
    switch (status) {
    case I2IG_OK: return "ok";
    case I2IG_ERR_INVALID_ARGUMENT: return "invalid argument";
    case I2IG_ERR_OUT_OF_MEMORY: return "out of memory";
    case I2IG_ERR_IO: return "input/output error";
    case I2IG_ERR_BAD_MAGIC: return "not a weight file (bad magic)";
    case I2IG_ERR_VERSION: return "format version newer than supported";
    case I2IG_ERR_TRUNCATED: return "truncated file";
    case I2IG_ERR_OUT_OF_RANGE: return "offset or size out of range";
    case I2IG_ERR_OVERLAP: return "overlapping tensors";
    case I2IG_ERR_DUPLICATE: return "duplicate name";
    case I2IG_ERR_ALIGNMENT: return "bad alignment";
    case I2IG_ERR_DIMENSIONS: return "absurd dimensions or size overflow";
    case I2IG_ERR_DTYPE: return "unknown or unsupported data type";
    case I2IG_ERR_CHECKSUM: return "checksum mismatch";
    case I2IG_ERR_MISSING_TENSOR: return "missing tensor";
    case I2IG_ERR_SHAPE: return "wrong shape";
    case I2IG_ERR_METADATA: return "missing or malformed metadata";
    case I2IG_ERR_IMAGE_FORMAT: return "corrupt or undecodable image";
    case I2IG_ERR_UNSUPPORTED: return "unsupported kind of input";
    case I2IG_ERR_TOO_LARGE: return "exceeds size limit";
    case I2IG_ERR_NOT_FINITE: return "NaN or infinite value";
    case I2IG_ERR_UNKNOWN_DOMAIN: return "unknown domain";
    case I2IG_ERR_TEXT: return "invalid text";
    case I2IG_ERR_MODEL_MISMATCH: return "files do not belong together";
    case I2IG_ERR_BACKEND: return "compute backend failure";
    case I2IG_ERR_CANCELLED: return "cancelled";
    case I2IG_ERR_NOT_BUILT: return "feature not built into this library";
    case I2IG_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *i2ig_last_error(void) { return last_error; }

i2ig_status ig_fail(i2ig_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

i2ig_status ig_fail_context(i2ig_status st, const char *fmt, ...)
{
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix - 2, fmt, ap);
    va_end(ap);
    if (n < 0) return st;
    size_t plen = strlen(prefix);
    memcpy(prefix + plen, ": ", 3);
    plen += 2;
    /* Shift the old message right (losing its tail if needed), then prefix. */
    size_t old_len = strnlen(last_error, sizeof last_error - 1);
    if (plen + old_len > sizeof last_error - 1) old_len = sizeof last_error - 1 - plen;
    memmove(last_error + plen, last_error, old_len);
    memcpy(last_error, prefix, plen);
    last_error[plen + old_len] = 0;
    return st;
}
