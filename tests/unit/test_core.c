/* Version, status strings, error messages, handle frees. */
#include <string.h>

#include "i2igalip.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "testutil.h"

START_TEST(version_matches_header)
{
    ck_assert_uint_eq(i2ig_version(), I2IG_VERSION_NUMBER);
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", I2IG_VERSION_MAJOR, I2IG_VERSION_MINOR,
             I2IG_VERSION_PATCH);
    ck_assert_str_eq(i2ig_version_string(), expect);
}
END_TEST

START_TEST(status_strings_distinct)
{
    for (int a = 0; a <= I2IG_ERR_INTERNAL; a++) {
        ck_assert_str_ne(i2ig_status_string((i2ig_status)a), "unknown status");
        for (int b = a + 1; b <= I2IG_ERR_INTERNAL; b++)
            ck_assert_str_ne(i2ig_status_string((i2ig_status)a), i2ig_status_string((i2ig_status)b));
    }
    ck_assert_str_eq(i2ig_status_string((i2ig_status)9999), "unknown status");
    /* Pinned values: renumbering any of these breaks every user. */
    ck_assert_int_eq(I2IG_ERR_CHECKSUM, 13);
    ck_assert_int_eq(I2IG_ERR_INTERNAL, 27);
}
END_TEST

START_TEST(error_message_and_context)
{
    ck_assert_int_eq(ig_fail(I2IG_ERR_SHAPE, "tensor '%s': bad", "w"), I2IG_ERR_SHAPE);
    ck_assert_str_eq(i2ig_last_error(), "tensor 'w': bad");
    ig_fail_context(I2IG_ERR_SHAPE, "file.i2ig");
    ck_assert_str_eq(i2ig_last_error(), "file.i2ig: tensor 'w': bad");
    /* A very long message is cut, never overflowed. */
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ig_fail(I2IG_ERR_IO, "%s", big);
    ig_fail_context(I2IG_ERR_IO, "%s", big);
    ck_assert_uint_lt(strlen(i2ig_last_error()), 1024);
}
END_TEST

START_TEST(free_null_is_noop)
{
    i2ig_encoder_free(NULL);
    i2ig_generator_free(NULL);
    i2ig_discriminator_free(NULL);
}
END_TEST

START_TEST(atomic_file_replaces_whole)
{
    char path[512];
    tu_tmp(path, sizeof path, "atomic.bin");
    ck_assert_int_eq(tu_write_file(path, "old", 3), 0);
    ig_atomic_file af;
    ck_assert_int_eq(ig_atomic_begin(&af, path), I2IG_OK);
    ck_assert_int_eq(ig_atomic_write(&af, "new!", 4), I2IG_OK);
    /* Before commit the old file is untouched. */
    size_t n;
    char *got = tu_read_file(path, &n);
    ck_assert_uint_eq(n, 3);
    free(got);
    ck_assert_int_eq(ig_atomic_commit(&af), I2IG_OK);
    got = tu_read_file(path, &n);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(memcmp(got, "new!", 4), 0);
    free(got);
    /* Abort leaves the old file and no temporary behind. */
    ck_assert_int_eq(ig_atomic_begin(&af, path), I2IG_OK);
    ck_assert_int_eq(ig_atomic_write(&af, "zz", 2), I2IG_OK);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", af.temp_path);
    ig_atomic_abort(&af);
    struct stat sb;
    ck_assert_int_ne(stat(tmp, &sb), 0);
    got = tu_read_file(path, &n);
    ck_assert_uint_eq(n, 4);
    free(got);
    /* A folder that does not exist: clear I/O status. */
    ck_assert_int_eq(ig_atomic_begin(&af, "/nonexistent-dir/x.bin"), I2IG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "/nonexistent-dir/x.bin"));
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, status_strings_distinct);
    tcase_add_test(tc, error_message_and_context);
    tcase_add_test(tc, free_null_is_noop);
    tcase_add_test(tc, atomic_file_replaces_whole);
    suite_add_tcase(s, tc);
    return s;
}

TU_RUN(core_suite)
