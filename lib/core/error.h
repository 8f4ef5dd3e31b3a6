/* Status reporting shared by every part of the library.
 * A failing function records a detail message in thread-local storage and
 * returns its status in one step: `return ig_fail(I2IG_ERR_IO, "%s: %s", ...)`. */
#ifndef IG_CORE_ERROR_H
#define IG_CORE_ERROR_H

#include "i2igalip.h"

#if defined(__GNUC__)
#define IG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define IG_PRINTF(f, a)
#endif

/* Records the message (printf-style) as this thread's last error; returns st. */
i2ig_status ig_fail(i2ig_status st, const char *fmt, ...) IG_PRINTF(2, 3);

/* Prefixes the current message with "prefix: " (for callers that add where
 * a nested failure happened); returns st unchanged. */
i2ig_status ig_fail_context(i2ig_status st, const char *fmt, ...) IG_PRINTF(2, 3);

/* Propagates a failing status: IG_TRY(f(x)); */
#define IG_TRY(expr)                                                           \
    do {                                                                       \
        i2ig_status ig_try_st_ = (expr);                                       \
        if (ig_try_st_ != I2IG_OK) return ig_try_st_;                          \
    } while (0)

#endif
