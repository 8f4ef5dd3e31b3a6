/* Helpers shared by the Check suites. */
#ifndef I2IG_TESTUTIL_H
#define I2IG_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "i2igalip.h"

/* Path of a bundled real scan (examples/data/NAME). Static buffer. */
static inline const char *tu_data(const char *name)
{
    static char buf[4096];
    const char *d = getenv("I2IG_DATA_DIR");
    snprintf(buf, sizeof buf, "%s/%s", d ? d : "examples/data", name);
    return buf;
}

/* Path NAME inside the scratch folder (created on demand). Static buffer
 * per call site is not needed: copies into out. */
static inline const char *tu_tmp(char *out, size_t n, const char *name)
{
    const char *d = getenv("I2IG_TEST_TMP");
    if (!d) d = "/tmp";
    mkdir(d, 0777);
    snprintf(out, n, "%s/%s", d, name);
    return out;
}

/* Writes n bytes to path; returns 0 on success. */
static inline int tu_write_file(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(buf, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* Reads a whole file into a malloc'd buffer; *n gets its size. */
static inline void *tu_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (n) *n = (size_t)len;
    return buf;
}

/* A small generator configuration (2 levels, 32 channels, attention at
 * the second level, 8-wide context, 2 labels) that builds in milliseconds. */
static inline i2ig_generator_config tu_small_generator_config(void)
{
    i2ig_generator_config c;
    c.struct_size = sizeof c;
    ck_assert_int_eq(i2ig_generator_config_init(&c), I2IG_OK);
    c.model_channels = 32; /* GroupNorm has 32 groups */
    c.n_levels = 2;
    c.channel_mult[0] = 1;
    c.channel_mult[1] = 2;
    c.num_res_blocks = 1;
    c.n_attention = 1;
    c.attention_ds[0] = 2;
    c.head_channels = 16;
    c.context_dim = 8;
    c.num_classes = 2;
    return c;
}

#define TU_RUN(suite_fn)                                                      \
    int main(void)                                                             \
    {                                                                          \
        SRunner *sr = srunner_create(suite_fn());                              \
        srunner_run_all(sr, CK_NORMAL);                                        \
        int failed = srunner_ntests_failed(sr);                                \
        srunner_free(sr);                                                      \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                           \
    }

#endif
