/* The .i2ig weight-file format: reader validation against forged files
 * (one file per malformation, exact status, message naming the file),
 * writer round trips, f16/bf16 conversion against IEEE-derived values,
 * canonical layout, atomic replacement, concurrent first access, and a
 * large file that must not be read at open.
 *
 * The byte offsets of header and index fields are computed here from the
 * specification (docs/weight-format.md), not taken from the library. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "i2igalip.h"
#include "testutil.h"
#include "weights/half.h"

/* ---------------------------------------------------------------------- */
/* Little-endian field access, independent of lib/weights/format.h        */

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void wr64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t align64(uint64_t v) { return (v + 63) / 64 * 64; }

/* Header fields (spec: "Header"). */
enum {
    H_VERSION = 8, H_HEADER_SIZE = 12, H_ALIGNMENT = 16, H_FLAGS = 20, H_META_COUNT = 24,
    H_TENSOR_COUNT = 28, H_INDEX_SIZE = 32, H_DATA_OFFSET = 40, H_FILE_SIZE = 48,
    H_RESERVED = 56, H_CRC = 60
};

static uint32_t index_crc(const unsigned char *b)
{
    uLong c = crc32(0L, b, 60);
    return (uint32_t)crc32(c, b + 64, (uInt)rd64(b + H_INDEX_SIZE));
}

/* Offset just past the metadata entry starting at p. */
static size_t skip_meta(const unsigned char *b, size_t p)
{
    p += 4 + rd32(b + p);
    uint32_t type = rd32(b + p);
    p += 4;
    switch (type) {
    case 1:
    case 2: return p + 8;
    case 3: return p + 8 + rd64(b + p);
    case 4:
    case 5: return p + 8 + 8 * rd64(b + p);
    default: {
        uint64_t n = rd64(b + p);
        p += 8;
        for (uint64_t k = 0; k < n; k++) p += 8 + rd64(b + p);
        return p;
    }
    }
}

static size_t meta_entry(const unsigned char *b, unsigned idx)
{
    size_t p = 64;
    for (unsigned i = 0; i < idx; i++) p = skip_meta(b, p);
    return p;
}

typedef struct tfields {
    size_t name, dtype, ndim, dims, offset, nbytes, crc;
} tfields;

static tfields tensor_entry(const unsigned char *b, unsigned idx)
{
    size_t p = meta_entry(b, rd32(b + H_META_COUNT));
    for (unsigned i = 0;; i++) {
        tfields f;
        f.name = p + 4;
        f.dtype = f.name + rd32(b + p);
        f.ndim = f.dtype + 4;
        f.dims = f.ndim + 4;
        f.offset = f.dims + 8 * rd32(b + f.ndim);
        f.nbytes = f.offset + 8;
        f.crc = f.nbytes + 8;
        if (i == idx) return f;
        p = f.crc + 4;
    }
}

/* ---------------------------------------------------------------------- */
/* The base file every malformed case is forged from                      */

/* meta: arch="unet", k1=7, k2=8, fa=[1.5,2.5], sa=["x","yz"]
 * tensors: a f32 4x40, b f16 [4], c bf16 3x1 */
enum { META_ARCH, META_K1, META_K2, META_FA, META_SA };
enum { T_A, T_B, T_C };

static float a_vals[160];

static void write_base(const char *path)
{
    i2ig_weights_writer *w;
    ck_assert_int_eq(i2ig_weights_writer_create(&w), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_string(w, "arch", "unet"), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_int(w, "k1", 7), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_int(w, "k2", 8), I2IG_OK);
    const double fa[] = {1.5, 2.5};
    ck_assert_int_eq(i2ig_weights_writer_set_float_array(w, "fa", fa, 2), I2IG_OK);
    const char *const sa[] = {"x", "yz"};
    ck_assert_int_eq(i2ig_weights_writer_set_string_array(w, "sa", sa, 2), I2IG_OK);
    for (int i = 0; i < 160; i++) a_vals[i] = (float)i * 0.25f - 7.0f;
    const float b_vals[] = {1, 2, 3, 4}, c_vals[] = {1, -2, 0.5f};
    const uint64_t sa_shape[] = {4, 40}, sb[] = {4}, sc[] = {3, 1};
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "a", I2IG_DTYPE_F32, 2, sa_shape,
                                                    I2IG_DTYPE_F32, a_vals, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "b", I2IG_DTYPE_F16, 1, sb, I2IG_DTYPE_F32,
                                                    b_vals, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "c", I2IG_DTYPE_BF16, 2, sc, I2IG_DTYPE_F32,
                                                    c_vals, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_write(w, path), I2IG_OK);
    i2ig_weights_writer_free(w);
}

typedef struct forged {
    unsigned char *b;
    size_t n;
    char path[512];
} forged;

static forged forge(const char *name)
{
    forged f;
    char base[512], fname[128];
    tu_tmp(base, sizeof base, "base.i2ig");
    write_base(base);
    f.b = tu_read_file(base, &f.n);
    ck_assert_ptr_nonnull(f.b);
    f.b = realloc(f.b, f.n + 4096); /* room for appended bytes */
    snprintf(fname, sizeof fname, "bad_%s.i2ig", name);
    tu_tmp(f.path, sizeof f.path, fname);
    return f;
}

static void fix_crc(forged *f) { wr32(f->b + H_CRC, index_crc(f->b)); }

/* Writes the forged bytes, opens them and checks the exact status and that
 * the message starts with the file's path. */
static void expect_open(forged *f, unsigned flags, i2ig_status want)
{
    ck_assert_int_eq(tu_write_file(f->path, f->b, f->n), 0);
    i2ig_weights *w = (i2ig_weights *)&w; /* must be reset to NULL on failure */
    i2ig_status st = i2ig_weights_open(f->path, flags, &w);
    ck_assert_msg(st == want, "%s: got '%s' (%s), expected '%s'", f->path, i2ig_status_string(st),
                  i2ig_last_error(), i2ig_status_string(want));
    if (want != I2IG_OK) {
        ck_assert_ptr_null(w);
        ck_assert_msg(!strncmp(i2ig_last_error(), f->path, strlen(f->path)),
                      "message does not start with the path: %s", i2ig_last_error());
    }
    i2ig_weights_free(w);
}

static void expect_bad(const char *name, void (*patch)(forged *), bool crc, i2ig_status want)
{
    forged f = forge(name);
    patch(&f);
    if (crc) fix_crc(&f);
    expect_open(&f, 0, want);
    free(f.b);
}

static bool error_has(const char *s) { return strstr(i2ig_last_error(), s) != NULL; }

/* ---------------------------------------------------------------------- */
/* Malformed files                                                         */

static void p_magic(forged *f) { f->b[1] = 'X'; }
static void p_magic_last(forged *f) { f->b[7] = 0x1b; }
static void p_text(forged *f)
{
    memcpy(f->b, "hello, this is not a weight file at all ...\n", 44);
    f->n = 44;
}
START_TEST(bad_magic)
{
    expect_bad("magic", p_magic, false, I2IG_ERR_BAD_MAGIC);
    ck_assert(error_has("bad_magic.i2ig"));
    expect_bad("magic_last", p_magic_last, true, I2IG_ERR_BAD_MAGIC);
    expect_bad("text", p_text, false, I2IG_ERR_BAD_MAGIC);
}
END_TEST

static void p_version2(forged *f) { wr32(f->b + H_VERSION, 2); }
static void p_version_max(forged *f) { wr32(f->b + H_VERSION, UINT32_MAX); }
static void p_version0(forged *f) { wr32(f->b + H_VERSION, 0); }
START_TEST(version_newer_and_zero)
{
    expect_bad("version2", p_version2, true, I2IG_ERR_VERSION);
    ck_assert_msg(error_has("version 2") && error_has("(1)"), "%s", i2ig_last_error());
    /* Version is checked before the checksum: a newer layout may differ. */
    expect_bad("version2_nocrc", p_version2, false, I2IG_ERR_VERSION);
    expect_bad("version_max", p_version_max, true, I2IG_ERR_VERSION);
    ck_assert(error_has("4294967295"));
    expect_bad("version0", p_version0, true, I2IG_ERR_VERSION);
    ck_assert(error_has("version 0"));
}
END_TEST

static size_t cut_at;
static void p_cut(forged *f) { f->n = cut_at; }
START_TEST(truncated)
{
    forged f = forge("probe");
    uint64_t data_offset = rd64(f.b + H_DATA_OFFSET), n = f.n;
    tfields c = tensor_entry(f.b, T_C);
    free(f.b);
    const size_t cuts[] = {5, 8, 40, 63, 64 + 20, (size_t)c.crc, (size_t)data_offset,
                           (size_t)data_offset + 10, (size_t)n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "cut%zu", cuts[i]);
        cut_at = cuts[i];
        expect_bad(name, p_cut, false, I2IG_ERR_TRUNCATED);
    }
}
END_TEST

START_TEST(empty_directory_missing)
{
    char path[512];
    tu_tmp(path, sizeof path, "empty.i2ig");
    ck_assert_int_eq(tu_write_file(path, "", 0), 0);
    i2ig_weights *w;
    ck_assert_int_eq(i2ig_weights_open(path, 0, &w), I2IG_ERR_TRUNCATED);
    ck_assert_ptr_null(w);
    ck_assert(!strncmp(i2ig_last_error(), path, strlen(path)));

    tu_tmp(path, sizeof path, "a_directory.i2ig");
    mkdir(path, 0777);
    ck_assert_int_eq(i2ig_weights_open(path, 0, &w), I2IG_ERR_IO);
    ck_assert(!strncmp(i2ig_last_error(), path, strlen(path)));
    ck_assert(error_has("directory"));

    tu_tmp(path, sizeof path, "does_not_exist.i2ig");
    unlink(path);
    ck_assert_int_eq(i2ig_weights_open(path, 0, &w), I2IG_ERR_IO);
    ck_assert(!strncmp(i2ig_last_error(), path, strlen(path)));
    ck_assert(error_has("No such file"));

    ck_assert_int_eq(i2ig_weights_open(NULL, 0, &w), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_weights_open(path, 0x100, &w), I2IG_ERR_INVALID_ARGUMENT);
}
END_TEST

static void p_offset_past_end(forged *f)
{
    wr64(f->b + tensor_entry(f->b, T_C).offset, align64(rd64(f->b + H_FILE_SIZE)) + 64);
}
static void p_offset_in_header(forged *f) { wr64(f->b + tensor_entry(f->b, T_C).offset, 0); }
static void p_size_past_end(forged *f)
{
    tfields c = tensor_entry(f->b, T_C);
    wr64(f->b + c.dims, 300); /* 300x1 bf16: 600 bytes, consistent, past the end */
    wr64(f->b + c.nbytes, 600);
}
START_TEST(out_of_range)
{
    expect_bad("offset_past_end", p_offset_past_end, true, I2IG_ERR_OUT_OF_RANGE);
    ck_assert(error_has("tensor 'c'"));
    expect_bad("offset_in_header", p_offset_in_header, true, I2IG_ERR_OUT_OF_RANGE);
    expect_bad("size_past_end", p_size_past_end, true, I2IG_ERR_OUT_OF_RANGE);
    ck_assert(error_has("tensor 'c'"));
}
END_TEST

static void p_overlap_same(forged *f)
{
    wr64(f->b + tensor_entry(f->b, T_B).offset, rd64(f->b + tensor_entry(f->b, T_A).offset));
}
static void p_overlap_partial(forged *f)
{
    /* a is 640 bytes: an aligned start 64 bytes in lies inside it. */
    wr64(f->b + tensor_entry(f->b, T_C).offset, rd64(f->b + tensor_entry(f->b, T_A).offset) + 64);
}
/* p: 33 f16 = 66 bytes, so an aligned start 64 bytes in shares 2 bytes. */
static void write_two(const char *path)
{
    static const uint16_t p[33];
    static const float q[1];
    const uint64_t sp[] = {33}, sq[] = {1};
    i2ig_weights_writer *w;
    ck_assert_int_eq(i2ig_weights_writer_create(&w), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "p", I2IG_DTYPE_F16, 1, sp, I2IG_DTYPE_F16,
                                                    p, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "q", I2IG_DTYPE_F32, 1, sq, I2IG_DTYPE_F32,
                                                    q, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_write(w, path), I2IG_OK);
    i2ig_weights_writer_free(w);
}

START_TEST(overlap_by_two_bytes)
{
    char path[512];
    tu_tmp(path, sizeof path, "bad_overlap2.i2ig");
    write_two(path);
    size_t n = 0;
    unsigned char *b = tu_read_file(path, &n);
    tfields p = tensor_entry(b, 0), q = tensor_entry(b, 1);
    ck_assert_uint_eq(rd64(b + q.offset), rd64(b + p.offset) + 128); /* canonical */
    wr64(b + q.offset, rd64(b + p.offset) + 64);
    wr32(b + H_CRC, index_crc(b));
    forged f = {b, n, ""};
    snprintf(f.path, sizeof f.path, "%s", path);
    expect_open(&f, 0, I2IG_ERR_OVERLAP);
    ck_assert_msg(error_has("'p'") && error_has("'q'"), "%s", i2ig_last_error());
    free(b);
}
END_TEST

START_TEST(overlapping)
{
    expect_bad("overlap_same", p_overlap_same, true, I2IG_ERR_OVERLAP);
    ck_assert_msg(error_has("'a'") && error_has("'b'"), "%s", i2ig_last_error());
    expect_bad("overlap_partial", p_overlap_partial, true, I2IG_ERR_OVERLAP);
    ck_assert_msg(error_has("'a'") && error_has("'c'"), "%s", i2ig_last_error());
}
END_TEST

static void p_dup_tensor(forged *f) { f->b[tensor_entry(f->b, T_B).name] = 'a'; }
static void p_dup_meta(forged *f) { f->b[meta_entry(f->b, META_K2) + 4 + 1] = '1'; }
START_TEST(duplicates)
{
    expect_bad("dup_tensor", p_dup_tensor, true, I2IG_ERR_DUPLICATE);
    ck_assert(error_has("'a'"));
    expect_bad("dup_meta", p_dup_meta, true, I2IG_ERR_DUPLICATE);
    ck_assert(error_has("'k1'"));
}
END_TEST

static void p_align96(forged *f) { wr32(f->b + H_ALIGNMENT, 96); }
static void p_align32(forged *f) { wr32(f->b + H_ALIGNMENT, 32); }
static void p_align0(forged *f) { wr32(f->b + H_ALIGNMENT, 0); }
static void p_unaligned_tensor(forged *f)
{
    size_t o = tensor_entry(f->b, T_B).offset;
    wr64(f->b + o, rd64(f->b + o) + 8);
}
static void p_unaligned_data(forged *f) { wr64(f->b + H_DATA_OFFSET, rd64(f->b + H_DATA_OFFSET) + 8); }
START_TEST(alignment)
{
    expect_bad("align96", p_align96, true, I2IG_ERR_ALIGNMENT);
    ck_assert(error_has("96"));
    expect_bad("align32", p_align32, true, I2IG_ERR_ALIGNMENT);
    expect_bad("align0", p_align0, true, I2IG_ERR_ALIGNMENT);
    expect_bad("unaligned_tensor", p_unaligned_tensor, true, I2IG_ERR_ALIGNMENT);
    ck_assert(error_has("tensor 'b'"));
    expect_bad("unaligned_data", p_unaligned_data, true, I2IG_ERR_ALIGNMENT);
}
END_TEST

static void p_dim0(forged *f) { wr64(f->b + tensor_entry(f->b, T_A).dims + 8, 0); }
static void p_ndim9(forged *f) { wr32(f->b + tensor_entry(f->b, T_A).ndim, 9); }
static void p_ndim0(forged *f) { wr32(f->b + tensor_entry(f->b, T_A).ndim, 0); }
static void p_count_overflow(forged *f)
{
    tfields a = tensor_entry(f->b, T_A);
    wr64(f->b + a.dims, (uint64_t)1 << 33);
    wr64(f->b + a.dims + 8, (uint64_t)1 << 32);
}
static void p_bytes_overflow(forged *f)
{
    tfields a = tensor_entry(f->b, T_A);
    wr64(f->b + a.dims, (uint64_t)1 << 31); /* 2^62 elements fit, 2^64 bytes do not */
    wr64(f->b + a.dims + 8, (uint64_t)1 << 31);
}
static void p_nbytes_more(forged *f)
{
    size_t o = tensor_entry(f->b, T_A).nbytes;
    wr64(f->b + o, rd64(f->b + o) + 4);
}
static void p_nbytes_less(forged *f)
{
    size_t o = tensor_entry(f->b, T_B).nbytes;
    wr64(f->b + o, rd64(f->b + o) - 2);
}
START_TEST(absurd_dimensions)
{
    expect_bad("dim0", p_dim0, true, I2IG_ERR_DIMENSIONS);
    ck_assert(error_has("tensor 'a'"));
    expect_bad("ndim9", p_ndim9, true, I2IG_ERR_DIMENSIONS);
    expect_bad("ndim0", p_ndim0, true, I2IG_ERR_DIMENSIONS);
    expect_bad("count_overflow", p_count_overflow, true, I2IG_ERR_DIMENSIONS);
    ck_assert(error_has("overflow"));
    expect_bad("bytes_overflow", p_bytes_overflow, true, I2IG_ERR_DIMENSIONS);
    ck_assert(error_has("overflow"));
    expect_bad("nbytes_more", p_nbytes_more, true, I2IG_ERR_DIMENSIONS);
    ck_assert(error_has("644"));
    expect_bad("nbytes_less", p_nbytes_less, true, I2IG_ERR_DIMENSIONS);
}
END_TEST

static void p_tensor_count_huge(forged *f) { wr32(f->b + H_TENSOR_COUNT, UINT32_MAX); }
static void p_meta_count_huge(forged *f) { wr32(f->b + H_META_COUNT, 1u << 30); }
static void p_array_count_huge(forged *f)
{
    size_t e = meta_entry(f->b, META_FA);
    wr64(f->b + e + 4 + 2 + 4, (uint64_t)1 << 60);
}
static void p_string_array_count_huge(forged *f)
{
    size_t e = meta_entry(f->b, META_SA);
    wr64(f->b + e + 4 + 2 + 4, UINT64_MAX);
}
/* "fa" count such that its elements would need (room/8 + extra) * 8
 * bytes of the room left after the count field. */
static uint64_t count_extra;
static void p_array_count_boundary(forged *f)
{
    size_t at = meta_entry(f->b, META_FA) + 4 + 2 + 4;
    uint64_t room = 64 + rd64(f->b + H_INDEX_SIZE) - (at + 8);
    wr64(f->b + at, room / 8 + count_extra);
}
START_TEST(counts_that_cannot_fit)
{
    count_extra = 1; /* one element more than the index can hold */
    expect_bad("array_count_plus1", p_array_count_boundary, true, I2IG_ERR_DIMENSIONS);
    count_extra = 0; /* fits, but then the entries after it are missing */
    expect_bad("array_count_exact", p_array_count_boundary, true, I2IG_ERR_OUT_OF_RANGE);
    expect_bad("tensor_count_huge", p_tensor_count_huge, true, I2IG_ERR_DIMENSIONS);
    expect_bad("meta_count_huge", p_meta_count_huge, true, I2IG_ERR_DIMENSIONS);
    expect_bad("array_count_huge", p_array_count_huge, true, I2IG_ERR_DIMENSIONS);
    ck_assert(error_has("'fa'"));
    expect_bad("string_array_count_huge", p_string_array_count_huge, true, I2IG_ERR_DIMENSIONS);
}
END_TEST

static uint32_t dtype_value;
static void p_dtype(forged *f) { wr32(f->b + tensor_entry(f->b, T_B).dtype, dtype_value); }
START_TEST(unknown_dtype)
{
    const uint32_t bad[] = {0, I2IG_DTYPE_U8, I2IG_DTYPE_U16, I2IG_DTYPE_I16, 99, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "dtype%" PRIu32, bad[i]);
        dtype_value = bad[i];
        expect_bad(name, p_dtype, true, I2IG_ERR_DTYPE);
        ck_assert(error_has("tensor 'b'"));
    }
}
END_TEST

static uint32_t meta_type_value;
static void p_meta_type(forged *f) { wr32(f->b + meta_entry(f->b, META_K1) + 4 + 2, meta_type_value); }
START_TEST(unknown_meta_type)
{
    const uint32_t bad[] = {0, 7, 1000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "metatype%" PRIu32, bad[i]);
        meta_type_value = bad[i];
        expect_bad(name, p_meta_type, true, I2IG_ERR_METADATA);
        ck_assert(error_has("'k1'"));
    }
}
END_TEST

static void p_name_invalid_utf8(forged *f) { f->b[tensor_entry(f->b, T_B).name] = 0xff; }
static void p_name_nul(forged *f) { f->b[tensor_entry(f->b, T_B).name] = 0; }
static void p_key_overlong(forged *f)
{
    size_t e = meta_entry(f->b, META_K1);
    f->b[e + 4] = 0xC1; /* 0xC1 0xB1: overlong encoding of '1'... */
    f->b[e + 5] = 0xB1;
}
static void p_value_surrogate(forged *f)
{
    size_t e = meta_entry(f->b, META_ARCH); /* "arch" string "unet" */
    memcpy(f->b + e + 4 + 4 + 4 + 8, "u\xed\xa0\x80", 4); /* U+D800 */
}
static void p_key_empty(forged *f) { wr32(f->b + meta_entry(f->b, META_ARCH), 0); }
static void p_string_array_nul(forged *f)
{
    size_t e = meta_entry(f->b, META_SA); /* key "sa", 2 strings: "x", "yz" */
    f->b[e + 4 + 2 + 4 + 8 + 8] = 0;
}
START_TEST(bad_names)
{
    expect_bad("name_utf8", p_name_invalid_utf8, true, I2IG_ERR_METADATA);
    ck_assert(error_has("tensor entry 1") && error_has("UTF-8"));
    expect_bad("name_nul", p_name_nul, true, I2IG_ERR_METADATA);
    expect_bad("key_overlong", p_key_overlong, true, I2IG_ERR_METADATA);
    expect_bad("value_surrogate", p_value_surrogate, true, I2IG_ERR_METADATA);
    ck_assert(error_has("'arch'"));
    expect_bad("key_empty", p_key_empty, true, I2IG_ERR_METADATA);
    expect_bad("string_array_nul", p_string_array_nul, true, I2IG_ERR_METADATA);
    ck_assert(error_has("'sa' element 0"));
}
END_TEST

static void p_flip_name(forged *f) { f->b[tensor_entry(f->b, T_C).name] ^= 0x01; }
static void p_flip_file_size(forged *f) { f->b[H_FILE_SIZE] ^= 0x40; }
static void p_flip_crc(forged *f) { f->b[H_CRC + 3] ^= 0x80; }
START_TEST(index_checksum)
{
    expect_bad("crc_name", p_flip_name, false, I2IG_ERR_CHECKSUM);
    ck_assert(error_has("checksum"));
    expect_bad("crc_file_size", p_flip_file_size, false, I2IG_ERR_CHECKSUM);
    expect_bad("crc_stored", p_flip_crc, false, I2IG_ERR_CHECKSUM);
}
END_TEST

static void p_reserved(forged *f) { f->b[H_RESERVED + 2] = 1; }
static void p_flags(forged *f) { wr32(f->b + H_FLAGS, 1); }
static void p_flags_high(forged *f) { wr32(f->b + H_FLAGS, 0x80000000u); }
static void p_header_size(forged *f) { wr32(f->b + H_HEADER_SIZE, 72); }
START_TEST(reserved_flags_header_size)
{
    expect_bad("reserved", p_reserved, true, I2IG_ERR_UNSUPPORTED);
    ck_assert(error_has("reserved"));
    expect_bad("flags", p_flags, true, I2IG_ERR_UNSUPPORTED);
    ck_assert(error_has("0x00000001"));
    expect_bad("flags_high", p_flags_high, true, I2IG_ERR_UNSUPPORTED);
    expect_bad("header_size", p_header_size, true, I2IG_ERR_UNSUPPORTED);
}
END_TEST

static void p_trailing(forged *f)
{
    memset(f->b + f->n, 0, 64);
    f->n += 64;
}
static void p_data_offset_in_index(forged *f) { wr64(f->b + H_DATA_OFFSET, 64); }
static void p_data_offset_past_end(forged *f)
{
    wr64(f->b + H_DATA_OFFSET, align64(rd64(f->b + H_FILE_SIZE)) + 64);
}
static void p_drop_last_tensor(forged *f) { wr32(f->b + H_TENSOR_COUNT, 2); }
static void p_key_len_huge(forged *f) { wr32(f->b + meta_entry(f->b, META_ARCH), 0xfffffff0u); }
START_TEST(file_and_index_extent)
{
    expect_bad("trailing", p_trailing, false, I2IG_ERR_OUT_OF_RANGE);
    ck_assert(error_has("trailing"));
    expect_bad("data_offset_in_index", p_data_offset_in_index, true, I2IG_ERR_OUT_OF_RANGE);
    expect_bad("data_offset_past_end", p_data_offset_past_end, true, I2IG_ERR_OUT_OF_RANGE);
    expect_bad("index_unused_bytes", p_drop_last_tensor, true, I2IG_ERR_OUT_OF_RANGE);
    expect_bad("key_len_huge", p_key_len_huge, true, I2IG_ERR_OUT_OF_RANGE);
    ck_assert(error_has("metadata entry 0"));
}
END_TEST

START_TEST(tensor_checksum)
{
    forged f = forge("tensor_crc");
    f.b[rd64(f.b + tensor_entry(f.b, T_B).offset) + 1] ^= 0x10;
    /* The index is intact: open succeeds without looking at tensor data. */
    expect_open(&f, 0, I2IG_OK);
    i2ig_weights *w;
    ck_assert_int_eq(i2ig_weights_open(f.path, 0, &w), I2IG_OK);
    size_t ia, ib;
    ck_assert_int_eq(i2ig_weights_find(w, "a", &ia), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_find(w, "b", &ib), I2IG_OK);
    const void *data = NULL;
    ck_assert_int_eq(i2ig_weights_tensor_data(w, ia, &data), I2IG_OK);
    ck_assert_ptr_nonnull(data);
    for (int k = 0; k < 2; k++) { /* a failure is not cached as success */
        data = NULL;
        ck_assert_int_eq(i2ig_weights_tensor_data(w, ib, &data), I2IG_ERR_CHECKSUM);
        ck_assert_ptr_null(data);
        ck_assert(!strncmp(i2ig_last_error(), f.path, strlen(f.path)));
        ck_assert(error_has("tensor 'b'"));
    }
    float buf[4];
    const uint64_t shape[] = {4};
    ck_assert_int_eq(i2ig_weights_read_f32(w, "b", 1, shape, buf), I2IG_ERR_CHECKSUM);
    ck_assert(error_has("tensor 'b'"));
    ck_assert_int_eq(i2ig_weights_verify(w), I2IG_ERR_CHECKSUM);
    ck_assert(error_has("tensor 'b'"));
    i2ig_weights_free(w);
    expect_open(&f, I2IG_OPEN_VERIFY_ALL, I2IG_ERR_CHECKSUM);
    ck_assert(error_has("tensor 'b'"));
    free(f.b);
}
END_TEST

START_TEST(missing_tensor_and_wrong_shape)
{
    char path[512];
    tu_tmp(path, sizeof path, "shape.i2ig");
    write_base(path);
    i2ig_weights *w;
    ck_assert_int_eq(i2ig_weights_open(path, 0, &w), I2IG_OK);
    float buf[200];
    const uint64_t good[] = {4, 40}, bad[] = {4, 41}, bad3[] = {4, 40, 1};
    size_t idx;
    ck_assert_int_eq(i2ig_weights_find(w, "zz", &idx), I2IG_ERR_MISSING_TENSOR);
    ck_assert_int_eq(i2ig_weights_read_f32(w, "zz", 2, good, buf), I2IG_ERR_MISSING_TENSOR);
    ck_assert(!strncmp(i2ig_last_error(), path, strlen(path)));
    ck_assert(error_has("'zz'"));

    ck_assert_int_eq(i2ig_weights_read_f32(w, "a", 2, bad, buf), I2IG_ERR_SHAPE);
    char expect[700];
    snprintf(expect, sizeof expect, "%s: tensor 'a': shape 4x40 expected 4x41", path);
    ck_assert_str_eq(i2ig_last_error(), expect);
    ck_assert_int_eq(i2ig_weights_read_f32(w, "a", 3, bad3, buf), I2IG_ERR_SHAPE);
    snprintf(expect, sizeof expect, "%s: tensor 'a': shape 4x40 expected 4x40x1", path);
    ck_assert_str_eq(i2ig_last_error(), expect);

    ck_assert_int_eq(i2ig_weights_read_f32(w, "a", 2, good, buf), I2IG_OK);
    ck_assert_int_eq(memcmp(buf, a_vals, sizeof(float) * 160), 0);
    const uint64_t sc[] = {3, 1};
    ck_assert_int_eq(i2ig_weights_read_f32(w, "c", 2, sc, buf), I2IG_OK);
    ck_assert(buf[0] == 1.0f && buf[1] == -2.0f && buf[2] == 0.5f);
    i2ig_weights_free(w);
}
END_TEST

START_TEST(tensor_info_and_arguments)
{
    char path[512];
    tu_tmp(path, sizeof path, "info.i2ig");
    write_base(path);
    i2ig_weights *w;
    ck_assert_int_eq(i2ig_weights_open(path, I2IG_OPEN_VERIFY_ALL, &w), I2IG_OK);
    ck_assert_uint_eq(i2ig_weights_format_version(w), 1);
    ck_assert_uint_eq(i2ig_weights_tensor_count(w), 3);
    ck_assert_uint_eq(i2ig_weights_meta_count(w), 5);
    i2ig_tensor_info ti = {.struct_size = sizeof ti};
    ck_assert_int_eq(i2ig_weights_tensor_info(w, 0, &ti), I2IG_OK);
    ck_assert_str_eq(ti.name, "a");
    ck_assert_int_eq(ti.dtype, I2IG_DTYPE_F32);
    ck_assert_uint_eq(ti.ndim, 2);
    ck_assert(ti.shape[0] == 4 && ti.shape[1] == 40 && ti.shape[2] == 0);
    ck_assert_uint_eq(ti.nbytes, 640);
    ck_assert_uint_eq(ti.offset % 64, 0);
    ck_assert_uint_eq(ti.crc32, (uint32_t)crc32(0L, (const Bytef *)a_vals, 640));
    ck_assert_int_eq(i2ig_weights_tensor_info(w, 2, &ti), I2IG_OK);
    ck_assert_str_eq(ti.name, "c");
    ck_assert_int_eq(ti.dtype, I2IG_DTYPE_BF16);
    ck_assert_int_eq(i2ig_weights_tensor_info(w, 3, &ti), I2IG_ERR_INVALID_ARGUMENT);
    ti.struct_size = 8;
    ck_assert_int_eq(i2ig_weights_tensor_info(w, 0, &ti), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert(!strncmp(i2ig_last_error(), path, strlen(path)));
    const void *data;
    ck_assert_int_eq(i2ig_weights_tensor_data(w, 3, &data), I2IG_ERR_INVALID_ARGUMENT);
    const char *key;
    i2ig_meta_type type;
    ck_assert_int_eq(i2ig_weights_meta_entry(w, 4, &key, &type), I2IG_OK);
    ck_assert_str_eq(key, "sa");
    ck_assert_int_eq(type, I2IG_META_STRING_ARRAY);
    ck_assert_int_eq(i2ig_weights_meta_entry(w, 5, &key, &type), I2IG_ERR_INVALID_ARGUMENT);
    i2ig_weights_free(w);
    i2ig_weights_free(NULL);
    i2ig_weights_writer_free(NULL);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Half precision: spec values and exhaustive IEEE properties              */

static float fbits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t bitsf(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

START_TEST(half_spec_values)
{
    /* f32 bits -> expected f16 bits, worked out from IEEE 754 binary16. */
    static const struct { uint32_t f; uint16_t h; } f16[] = {
        {0x00000000, 0x0000}, {0x80000000, 0x8000}, {0x3f800000, 0x3c00}, /* 1 */
        {0xbf800000, 0xbc00}, {0x477fe000, 0x7bff},                       /* 65504 */
        {0x477fefff, 0x7bff},                                             /* just below 65520 */
        {0x477ff000, 0x7c00},                                             /* 65520 ties to inf */
        {0x7f7fffff, 0x7c00}, {0x7f800000, 0x7c00}, {0xff800000, 0xfc00},
        {0x33800000, 0x0001}, /* 2^-24, smallest subnormal */
        {0x33000000, 0x0000}, /* 2^-25: tie between 0 and 2^-24 -> even 0 */
        {0x33000001, 0x0001}, /* just above the tie */
        {0x33c00000, 0x0002}, /* 3*2^-25: tie between 1 and 2 units -> 2 */
        {0x38800000, 0x0400}, /* 2^-14, smallest normal */
        {0x387fc000, 0x03ff}, /* largest subnormal, 1023 * 2^-24 */
        {0x387fe000, 0x0400}, /* 1023.5 units: tie with 2^-14 (0x400) -> even */
        {0x387fdfff, 0x03ff}, /* just below that tie */
        {0x3f801000, 0x3c00}, /* 1 + 2^-11: tie -> even 1.0 */
        {0x3f803000, 0x3c02}, /* 1 + 3*2^-11: tie -> even 1+2^-9 */
        {0x3f801001, 0x3c01}, /* just above a tie */
        {0x3eaaaaab, 0x3555}, /* 1/3 */
        {0x00000001, 0x0000}, /* f32 subnormal -> 0 */
        {0x7fc00000, 0x7e00}, /* quiet NaN */
        {0xffc00000, 0xfe00}, /* negative quiet NaN keeps its sign */
        {0x7f800001, 0x7e00}, /* payload only in low bits: quiet bit set */
        {0x7fa02000, 0x7d01}, /* signalling NaN with top payload bits: kept */
    };
    for (size_t i = 0; i < sizeof f16 / sizeof f16[0]; i++)
        ck_assert_msg(ig_f32_to_f16(fbits(f16[i].f)) == f16[i].h, "f16(%08x) = %04x, expected %04x",
                      f16[i].f, ig_f32_to_f16(fbits(f16[i].f)), f16[i].h);

    static const struct { uint32_t f; uint16_t b; } bf[] = {
        {0x3f800000, 0x3f80}, {0x3f808000, 0x3f80}, /* 1 + 2^-8: tie -> even */
        {0x3f818000, 0x3f82},                       /* 1 + 3*2^-8: tie -> even */
        {0x3f808001, 0x3f81}, {0x3f807fff, 0x3f80}, {0xc0490fdb, 0xc049}, /* -pi */
        {0x7f7fffff, 0x7f80},                       /* FLT_MAX rounds to inf */
        {0x7f7f7fff, 0x7f7f}, {0x00000001, 0x0000}, {0x80000000, 0x8000},
        {0x7f800000, 0x7f80}, {0xff800000, 0xff80},
        {0x7fc00000, 0x7fc0}, {0xff800001, 0xffc0}, {0x7f810000, 0x7f81},
    };
    for (size_t i = 0; i < sizeof bf / sizeof bf[0]; i++)
        ck_assert_msg(ig_f32_to_bf16(fbits(bf[i].f)) == bf[i].b, "bf16(%08x) = %04x, expected %04x",
                      bf[i].f, ig_f32_to_bf16(fbits(bf[i].f)), bf[i].b);

    ck_assert(ig_f16_to_f32(0x0001) == 0x1p-24f);
    ck_assert(ig_f16_to_f32(0x03ff) == 0x3ffp-24f);
    ck_assert(ig_f16_to_f32(0x7bff) == 65504.0f);
    ck_assert(ig_f16_to_f32(0xc000) == -2.0f);
    ck_assert_uint_eq(bitsf(ig_f16_to_f32(0x8000)), 0x80000000u);
    ck_assert_uint_eq(bitsf(ig_f16_to_f32(0x7d01)), 0x7fa02000u);
    ck_assert(ig_bf16_to_f32(0xc049) == -3.140625f);
}
END_TEST

/* For every pair of adjacent finite values of the small format, the f32
 * midpoint (exact: it needs one more significand bit than the small format)
 * must round to the one with the even encoding, and the f32 neighbours of
 * the midpoint to the nearer one; every value converts back exactly. */
static void check_rounding(uint16_t (*down)(float), float (*up)(uint16_t), uint16_t max_finite,
                           const char *name)
{
    for (uint32_t h = 0; h <= max_finite; h++) {
        for (uint32_t sign = 0; sign <= 0x8000; sign += 0x8000) {
            uint16_t lo = (uint16_t)(h | sign);
            float v = up(lo);
            ck_assert_msg(down(v) == lo, "%s: %04x does not round-trip", name, lo);
            if (h == max_finite) continue;
            uint16_t hi = (uint16_t)((h + 1) | sign);
            float mid = v + (up(hi) - v) * 0.5f; /* v + up(hi) could overflow */
            ck_assert_msg(mid != v && mid != up(hi), "%s: midpoint not representable", name);
            uint16_t even = (lo & 1) ? hi : lo;
            ck_assert_msg(down(mid) == even, "%s: tie %04x/%04x -> %04x", name, lo, hi, down(mid));
            ck_assert_msg(down(nextafterf(mid, 0.0f)) == lo, "%s: below tie %04x", name, lo);
            ck_assert_msg(down(nextafterf(mid, sign ? -INFINITY : INFINITY)) == hi,
                          "%s: above tie %04x", name, lo);
        }
    }
    /* Every NaN stays a NaN and converts back to the same bits. */
    for (uint32_t h = max_finite + 2u; h < 0x8000u; h++) {
        float v = up((uint16_t)h);
        ck_assert(isnan(v));
        ck_assert_uint_eq(down(v), h);
        ck_assert_uint_eq(down(-v), h | 0x8000u);
    }
}

START_TEST(half_exhaustive_rounding)
{
    check_rounding(ig_f32_to_f16, ig_f16_to_f32, 0x7bff, "f16");
    check_rounding(ig_f32_to_bf16, ig_bf16_to_f32, 0x7f7f, "bf16");
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Writer                                                                  */

START_TEST(roundtrip_all_meta_types)
{
    char path[512];
    tu_tmp(path, sizeof path, "meta.i2ig");
    i2ig_weights_writer *w;
    ck_assert_int_eq(i2ig_weights_writer_create(&w), I2IG_OK);
    const int64_t ints[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    const double floats[] = {0.1, -0.0, INFINITY, -INFINITY, NAN, 5e-324, 1.7976931348623157e308};
    const char *const strs[] = {"T1", "", "this MRI is T2-weighted", "\xce\xb1\xce\xb2 \xf0\x9f\xa7\xa0"};
    ck_assert_int_eq(i2ig_weights_writer_set_int(w, "int.min", INT64_MIN), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_int(w, "int.max", INT64_MAX), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_float(w, "float", -0.1), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_float(w, "nan", NAN), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_string(w, "str", "this MRI is T1-weighted"), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_string(w, "empty", ""), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_int_array(w, "ints", ints, 5), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_float_array(w, "floats", floats, 7), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_string_array(w, "strs", strs, 4), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_int_array(w, "no.ints", NULL, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_float_array(w, "no.floats", NULL, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_string_array(w, "no.strs", NULL, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_write(w, path), I2IG_OK);
    i2ig_weights_writer_free(w);

    i2ig_weights *r;
    ck_assert_int_eq(i2ig_weights_open(path, 0, &r), I2IG_OK);
    static const char *keys[] = {"int.min", "int.max", "float", "nan", "str", "empty", "ints",
                                 "floats", "strs", "no.ints", "no.floats", "no.strs"};
    static const i2ig_meta_type types[] = {1, 1, 2, 2, 3, 3, 4, 5, 6, 4, 5, 6};
    ck_assert_uint_eq(i2ig_weights_meta_count(r), 12);
    for (size_t i = 0; i < 12; i++) { /* insertion order is file order */
        const char *key;
        i2ig_meta_type type;
        ck_assert_int_eq(i2ig_weights_meta_entry(r, i, &key, &type), I2IG_OK);
        ck_assert_str_eq(key, keys[i]);
        ck_assert_int_eq(type, types[i]);
    }
    int64_t iv;
    double dv;
    const char *sv;
    ck_assert_int_eq(i2ig_weights_meta_int(r, "int.min", &iv), I2IG_OK);
    ck_assert(iv == INT64_MIN);
    ck_assert_int_eq(i2ig_weights_meta_int(r, "int.max", &iv), I2IG_OK);
    ck_assert(iv == INT64_MAX);
    ck_assert_int_eq(i2ig_weights_meta_float(r, "float", &dv), I2IG_OK);
    ck_assert(dv == -0.1);
    ck_assert_int_eq(i2ig_weights_meta_float(r, "nan", &dv), I2IG_OK);
    ck_assert(isnan(dv));
    ck_assert_int_eq(i2ig_weights_meta_string(r, "str", &sv), I2IG_OK);
    ck_assert_str_eq(sv, "this MRI is T1-weighted");
    ck_assert_int_eq(i2ig_weights_meta_string(r, "empty", &sv), I2IG_OK);
    ck_assert_str_eq(sv, "");
    const int64_t *ia;
    const double *fa;
    const char *const *sa;
    size_t n;
    ck_assert_int_eq(i2ig_weights_meta_int_array(r, "ints", &ia, &n), I2IG_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(memcmp(ia, ints, sizeof ints), 0);
    ck_assert_int_eq(i2ig_weights_meta_float_array(r, "floats", &fa, &n), I2IG_OK);
    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(memcmp(fa, floats, sizeof floats), 0); /* bit-exact, -0 and NaN too */
    ck_assert_int_eq(i2ig_weights_meta_string_array(r, "strs", &sa, &n), I2IG_OK);
    ck_assert_uint_eq(n, 4);
    for (size_t i = 0; i < 4; i++) ck_assert_str_eq(sa[i], strs[i]);
    ck_assert_int_eq(i2ig_weights_meta_int_array(r, "no.ints", &ia, &n), I2IG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(i2ig_weights_meta_float_array(r, "no.floats", &fa, &n), I2IG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(i2ig_weights_meta_string_array(r, "no.strs", &sa, &n), I2IG_OK);
    ck_assert_uint_eq(n, 0);

    /* Wrong type and absent keys: METADATA naming file and key. */
    ck_assert_int_eq(i2ig_weights_meta_int(r, "str", &iv), I2IG_ERR_METADATA);
    ck_assert(!strncmp(i2ig_last_error(), path, strlen(path)));
    ck_assert(error_has("'str' is string, expected int"));
    ck_assert_int_eq(i2ig_weights_meta_string(r, "nope", &sv), I2IG_ERR_METADATA);
    ck_assert(error_has("'nope' is absent"));
    ck_assert_int_eq(i2ig_weights_meta_float_array(r, "ints", &fa, &n), I2IG_ERR_METADATA);
    i2ig_weights_free(r);
}
END_TEST

START_TEST(roundtrip_dtypes)
{
    char path[512];
    tu_tmp(path, sizeof path, "dtypes.i2ig");
    /* Values with known f16 / bf16 encodings (see half_spec_values):
     * 1+3*2^-11 ties to f16 1+2^-9; 1+3*2^-8 is exact in f16 and ties to
     * bf16 1+2^-6; 65504 rounds up to bf16 65536. */
    const float src[] = {1.0f, -2.0f, 65504.0f, 0x1p-24f, fbits(0x3f803000), fbits(0x3f818000),
                         INFINITY, NAN};
    const uint16_t want16[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x3c02, 0x3c0c, 0x7c00, 0x7e00};
    const uint16_t wantb[] = {0x3f80, 0xc000, 0x4780, 0x3380, 0x3f80, 0x3f82, 0x7f80, 0x7fc0};
    const uint64_t shape[] = {2, 4};
    i2ig_weights_writer *w;
    ck_assert_int_eq(i2ig_weights_writer_create(&w), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "f32", I2IG_DTYPE_F32, 2, shape,
                                                    I2IG_DTYPE_F32, src, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "f16", I2IG_DTYPE_F16, 2, shape,
                                                    I2IG_DTYPE_F32, src, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "bf16", I2IG_DTYPE_BF16, 2, shape,
                                                    I2IG_DTYPE_F32, src, I2IG_ADD_BORROW), I2IG_OK);
    /* Source already in the stored dtype, and f16 -> bf16 through f32. */
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "f16.copy", I2IG_DTYPE_F16, 2, shape,
                                                    I2IG_DTYPE_F16, want16, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "f16.to.bf16", I2IG_DTYPE_BF16, 2, shape,
                                                    I2IG_DTYPE_F16, want16, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_write(w, path), I2IG_OK);
    i2ig_weights_writer_free(w);

    i2ig_weights *r;
    ck_assert_int_eq(i2ig_weights_open(path, I2IG_OPEN_VERIFY_ALL, &r), I2IG_OK);
    const void *data;
    size_t i;
    ck_assert_int_eq(i2ig_weights_find(r, "f32", &i), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_tensor_data(r, i, &data), I2IG_OK);
    ck_assert_int_eq(memcmp(data, src, sizeof src), 0);
    ck_assert_uint_eq((uintptr_t)data % 64, 0); /* usable in place */
    ck_assert_int_eq(i2ig_weights_find(r, "f16", &i), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_tensor_data(r, i, &data), I2IG_OK);
    ck_assert_int_eq(memcmp(data, want16, sizeof want16), 0);
    ck_assert_int_eq(i2ig_weights_find(r, "f16.copy", &i), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_tensor_data(r, i, &data), I2IG_OK);
    ck_assert_int_eq(memcmp(data, want16, sizeof want16), 0);
    ck_assert_int_eq(i2ig_weights_find(r, "bf16", &i), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_tensor_data(r, i, &data), I2IG_OK);
    ck_assert_int_eq(memcmp(data, wantb, sizeof wantb), 0);
    ck_assert_int_eq(i2ig_weights_find(r, "f16.to.bf16", &i), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_tensor_data(r, i, &data), I2IG_OK);
    const uint16_t *b16 = data;
    ck_assert_uint_eq(b16[0], 0x3f80);
    ck_assert_uint_eq(b16[2], 0x4780);
    ck_assert_uint_eq(b16[3], 0x3380);
    ck_assert_uint_eq(b16[4], 0x3f80); /* 1+2^-9 in bf16: below the 1+2^-8 midpoint */

    /* read_f32 converts exactly: f16 1+2^-9 etc. */
    float out[8];
    ck_assert_int_eq(i2ig_weights_read_f32(r, "f16", 2, shape, out), I2IG_OK);
    const float back16[] = {1.0f, -2.0f, 65504.0f, 0x1p-24f, 1.0f + 0x1p-9f, 1.0f + 3 * 0x1p-8f,
                            INFINITY};
    for (int k = 0; k < 7; k++) ck_assert_msg(out[k] == back16[k], "f16 element %d: %a", k, out[k]);
    ck_assert(isnan(out[7]));
    ck_assert_int_eq(i2ig_weights_read_f32(r, "bf16", 2, shape, out), I2IG_OK);
    const float backb[] = {1.0f, -2.0f, 65536.0f, 0x1p-24f, 1.0f, 1.0f + 0x1p-6f, INFINITY};
    for (int k = 0; k < 7; k++) ck_assert_msg(out[k] == backb[k], "bf16 element %d: %a", k, out[k]);
    ck_assert(isnan(out[7]));
    i2ig_weights_free(r);
}
END_TEST

START_TEST(borrow_versus_copy)
{
    char path[512];
    tu_tmp(path, sizeof path, "borrow.i2ig");
    float copied[3] = {1, 2, 3}, borrowed[3] = {1, 2, 3};
    const uint64_t shape[] = {3};
    i2ig_weights_writer *w;
    ck_assert_int_eq(i2ig_weights_writer_create(&w), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "copied", I2IG_DTYPE_F32, 1, shape,
                                                    I2IG_DTYPE_F32, copied, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "borrowed", I2IG_DTYPE_F32, 1, shape,
                                                    I2IG_DTYPE_F32, borrowed, I2IG_ADD_BORROW),
                     I2IG_OK);
    copied[1] = 20;
    borrowed[1] = 20;
    ck_assert_int_eq(i2ig_weights_writer_write(w, path), I2IG_OK);
    i2ig_weights_writer_free(w);
    i2ig_weights *r;
    float out[3];
    ck_assert_int_eq(i2ig_weights_open(path, 0, &r), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_read_f32(r, "copied", 1, shape, out), I2IG_OK);
    ck_assert(out[1] == 2.0f);
    ck_assert_int_eq(i2ig_weights_read_f32(r, "borrowed", 1, shape, out), I2IG_OK);
    ck_assert(out[1] == 20.0f);
    i2ig_weights_free(r);
}
END_TEST

START_TEST(writer_rejects_bad_input)
{
    char path[512];
    tu_tmp(path, sizeof path, "rejects.i2ig");
    i2ig_weights_writer *w;
    ck_assert_int_eq(i2ig_weights_writer_create(&w), I2IG_OK);
    const float v[4] = {1, 2, 3, 4};
    const uint64_t s4[] = {4}, s0[] = {4, 0}, big[] = {1ull << 40, 1ull << 40},
                   nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 4};
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "t", I2IG_DTYPE_F32, 1, s4, I2IG_DTYPE_F32, v, 0),
                     I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "t", I2IG_DTYPE_F16, 1, s4, I2IG_DTYPE_F32, v, 0),
                     I2IG_ERR_DUPLICATE);
    ck_assert(error_has("'t'"));
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "", I2IG_DTYPE_F32, 1, s4, I2IG_DTYPE_F32, v, 0),
                     I2IG_ERR_METADATA);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "\xff", I2IG_DTYPE_F32, 1, s4, I2IG_DTYPE_F32,
                                                    v, 0), I2IG_ERR_METADATA);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "z", I2IG_DTYPE_F32, 2, s0, I2IG_DTYPE_F32, v, 0),
                     I2IG_ERR_DIMENSIONS);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "z", I2IG_DTYPE_F32, 0, s4, I2IG_DTYPE_F32, v, 0),
                     I2IG_ERR_DIMENSIONS);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "z", I2IG_DTYPE_F32, 9, nine, I2IG_DTYPE_F32,
                                                    v, 0), I2IG_ERR_DIMENSIONS);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "z", I2IG_DTYPE_F32, 2, big, I2IG_DTYPE_F32, v,
                                                    I2IG_ADD_BORROW), I2IG_ERR_DIMENSIONS);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "z", I2IG_DTYPE_U8, 1, s4, I2IG_DTYPE_F32, v, 0),
                     I2IG_ERR_DTYPE);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "z", I2IG_DTYPE_F32, 1, s4, I2IG_DTYPE_I16, v, 0),
                     I2IG_ERR_DTYPE);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "z", (i2ig_dtype)77, 1, s4, I2IG_DTYPE_F32, v,
                                                    0), I2IG_ERR_DTYPE);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "z", I2IG_DTYPE_F32, 1, s4, I2IG_DTYPE_F32,
                                                    NULL, 0), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "z", I2IG_DTYPE_F32, 1, s4, I2IG_DTYPE_F32, v,
                                                    0x80), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, NULL, I2IG_DTYPE_F32, 1, s4, I2IG_DTYPE_F32, v,
                                                    0), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_weights_writer_set_int(w, "k", 1), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_float(w, "k", 1.0), I2IG_ERR_DUPLICATE);
    ck_assert(error_has("'k'"));
    ck_assert_int_eq(i2ig_weights_writer_set_string(w, "", "x"), I2IG_ERR_METADATA);
    ck_assert_int_eq(i2ig_weights_writer_set_string(w, "s", "\xc0\x80"), I2IG_ERR_METADATA);
    const char *const bad_strs[] = {"ok", "\xed\xa0\x80"};
    ck_assert_int_eq(i2ig_weights_writer_set_string_array(w, "sa", bad_strs, 2), I2IG_ERR_METADATA);
    ck_assert(error_has("element 1"));
    ck_assert_int_eq(i2ig_weights_writer_set_int_array(w, "ia", NULL, 3), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_weights_writer_set_int(NULL, "x", 1), I2IG_ERR_INVALID_ARGUMENT);
    /* Failed calls left nothing behind: the keys are still free. */
    ck_assert_int_eq(i2ig_weights_writer_set_string(w, "s", "fine"), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_int_array(w, "sa", NULL, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_write(w, path), I2IG_OK);
    i2ig_weights_writer_free(w);
    i2ig_weights *r;
    ck_assert_int_eq(i2ig_weights_open(path, I2IG_OPEN_VERIFY_ALL, &r), I2IG_OK);
    ck_assert_uint_eq(i2ig_weights_tensor_count(r), 1);
    ck_assert_uint_eq(i2ig_weights_meta_count(r), 3);
    i2ig_weights_free(r);
}
END_TEST

/* Layout checked against the specification, field by field. */
START_TEST(canonical_layout)
{
    char path[512], path2[512];
    tu_tmp(path, sizeof path, "layout.i2ig");
    tu_tmp(path2, sizeof path2, "layout2.i2ig");
    write_base(path);
    write_base(path2);
    size_t n = 0, n2 = 0;
    unsigned char *b = tu_read_file(path, &n), *b2 = tu_read_file(path2, &n2);
    ck_assert_uint_eq(n, n2);
    ck_assert_int_eq(memcmp(b, b2, n), 0); /* deterministic */
    ck_assert_int_eq(memcmp(b, "\x89I2IG\r\n\x1a", 8), 0);
    ck_assert_uint_eq(rd32(b + H_VERSION), 1);
    ck_assert_uint_eq(rd32(b + H_HEADER_SIZE), 64);
    ck_assert_uint_eq(rd32(b + H_ALIGNMENT), 64);
    ck_assert_uint_eq(rd32(b + H_FLAGS), 0);
    ck_assert_uint_eq(rd32(b + H_META_COUNT), 5);
    ck_assert_uint_eq(rd32(b + H_TENSOR_COUNT), 3);
    ck_assert_uint_eq(rd32(b + H_RESERVED), 0);
    /* Index size by hand: meta arch (4+4+4+8+4) k1 (4+2+4+8) k2 (18)
     * fa (4+2+4+8+16) sa (4+2+4+8+(8+1)+(8+2)); tensors a (4+1+4+4+16+20)
     * b (4+1+4+4+8+20) c (4+1+4+4+16+20). */
    uint64_t index_size = 24 + 18 + 18 + 34 + 37 + 49 + 41 + 49;
    ck_assert_uint_eq(rd64(b + H_INDEX_SIZE), index_size);
    uint64_t data_offset = align64(64 + index_size);
    ck_assert_uint_eq(rd64(b + H_DATA_OFFSET), data_offset);
    uint64_t oa = data_offset, ob = align64(oa + 640), oc = align64(ob + 8);
    ck_assert_uint_eq(rd64(b + tensor_entry(b, T_A).offset), oa);
    ck_assert_uint_eq(rd64(b + tensor_entry(b, T_B).offset), ob);
    ck_assert_uint_eq(rd64(b + tensor_entry(b, T_C).offset), oc);
    ck_assert_uint_eq(rd64(b + H_FILE_SIZE), oc + 6);
    ck_assert_uint_eq(n, oc + 6);
    ck_assert_uint_eq(rd32(b + H_CRC), index_crc(b));
    ck_assert_uint_eq(rd32(b + tensor_entry(b, T_B).crc), (uint32_t)crc32(0L, b + ob, 8));
    /* f16 of 1,2,3,4 and bf16 of 1,-2,0.5, little-endian */
    ck_assert_int_eq(memcmp(b + ob, "\x00\x3c\x00\x40\x00\x42\x00\x44", 8), 0);
    ck_assert_int_eq(memcmp(b + oc, "\x80\x3f\x00\xc0\x00\x3f", 6), 0);
    /* every padding byte is zero */
    for (uint64_t p = 64 + index_size; p < data_offset; p++) ck_assert_uint_eq(b[p], 0);
    for (uint64_t p = oa + 640; p < ob; p++) ck_assert_uint_eq(b[p], 0);
    for (uint64_t p = ob + 8; p < oc; p++) ck_assert_uint_eq(b[p], 0);
    free(b);
    free(b2);
}
END_TEST

START_TEST(empty_writer)
{
    char path[512];
    tu_tmp(path, sizeof path, "nothing.i2ig");
    i2ig_weights_writer *w;
    ck_assert_int_eq(i2ig_weights_writer_create(&w), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_write(w, path), I2IG_OK);
    i2ig_weights_writer_free(w);
    size_t n;
    unsigned char *b = tu_read_file(path, &n);
    ck_assert_uint_eq(n, 64);
    ck_assert_uint_eq(rd64(b + H_DATA_OFFSET), 64);
    free(b);
    i2ig_weights *r;
    ck_assert_int_eq(i2ig_weights_open(path, I2IG_OPEN_VERIFY_ALL, &r), I2IG_OK);
    ck_assert_uint_eq(i2ig_weights_tensor_count(r), 0);
    ck_assert_uint_eq(i2ig_weights_meta_count(r), 0);
    i2ig_weights_free(r);
}
END_TEST

static bool temp_left(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d) return false;
    bool found = false;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix))) found = true;
    closedir(d);
    return found;
}

START_TEST(failed_write_keeps_old_file)
{
    char path[512], dir[512];
    tu_tmp(path, sizeof path, "atomic_w.i2ig");
    tu_tmp(dir, sizeof dir, "");
    write_base(path);
    size_t old_n;
    unsigned char *old = tu_read_file(path, &old_n);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Child: the file-size limit makes the write fail half-way with EFBIG. */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {16384, 16384};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(90);
        static float big[65536];
        const uint64_t shape[] = {65536};
        i2ig_weights_writer *w;
        if (i2ig_weights_writer_create(&w) != I2IG_OK) _exit(91);
        i2ig_weights_writer_set_string(w, "arch", "new");
        i2ig_weights_writer_add_tensor(w, "big", I2IG_DTYPE_F32, 1, shape, I2IG_DTYPE_F32, big, 0);
        i2ig_status st = i2ig_weights_writer_write(w, path);
        if (st != I2IG_ERR_IO) _exit(92);
        if (!strstr(i2ig_last_error(), path)) _exit(93);
        if (!strstr(i2ig_last_error(), strerror(EFBIG))) _exit(94);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    size_t n = 0;
    unsigned char *now = tu_read_file(path, &n);
    ck_assert_uint_eq(n, old_n);
    ck_assert_int_eq(memcmp(now, old, n), 0);
    ck_assert_msg(!temp_left(dir, "atomic_w.i2ig.tmp."), "temporary file left behind");
    i2ig_weights *r;
    ck_assert_int_eq(i2ig_weights_open(path, I2IG_OPEN_VERIFY_ALL, &r), I2IG_OK);
    i2ig_weights_free(r);

    /* A folder that does not exist: I/O error naming the path. */
    i2ig_weights_writer *w;
    ck_assert_int_eq(i2ig_weights_writer_create(&w), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_write(w, "/nonexistent-dir/x.i2ig"), I2IG_ERR_IO);
    ck_assert(error_has("/nonexistent-dir/x.i2ig"));
    i2ig_weights_writer_free(w);
    free(old);
    free(now);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Concurrent first access and a large file                                */

typedef struct thread_arg {
    i2ig_weights *w;
    int failures;
    const void *ptr[3];
} thread_arg;

static void *reader_thread(void *p)
{
    thread_arg *a = p;
    for (size_t i = 0; i < 3; i++)
        if (i2ig_weights_tensor_data(a->w, i, &a->ptr[i]) != I2IG_OK) a->failures++;
    return NULL;
}

START_TEST(concurrent_first_access)
{
    char path[512];
    tu_tmp(path, sizeof path, "threads.i2ig");
    const size_t n = 1 << 20;
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (float)i;
    const uint64_t shape[] = {n};
    i2ig_weights_writer *w;
    ck_assert_int_eq(i2ig_weights_writer_create(&w), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "x", I2IG_DTYPE_F32, 1, shape, I2IG_DTYPE_F32,
                                                    v, I2IG_ADD_BORROW), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "y", I2IG_DTYPE_F16, 1, shape, I2IG_DTYPE_F32,
                                                    v, I2IG_ADD_BORROW), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "z", I2IG_DTYPE_BF16, 1, shape,
                                                    I2IG_DTYPE_F32, v, I2IG_ADD_BORROW), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_write(w, path), I2IG_OK);
    i2ig_weights_writer_free(w);
    free(v);
    i2ig_weights *r;
    ck_assert_int_eq(i2ig_weights_open(path, 0, &r), I2IG_OK);
    enum { NT = 8 };
    pthread_t th[NT];
    thread_arg args[NT];
    for (int t = 0; t < NT; t++) {
        args[t] = (thread_arg){r, 0, {0}};
        ck_assert_int_eq(pthread_create(&th[t], NULL, reader_thread, &args[t]), 0);
    }
    for (int t = 0; t < NT; t++) {
        pthread_join(th[t], NULL);
        ck_assert_int_eq(args[t].failures, 0);
        for (int i = 0; i < 3; i++) ck_assert_ptr_eq(args[t].ptr[i], args[0].ptr[i]);
    }
    i2ig_weights_free(r);
    unlink(path);
}
END_TEST

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kib = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kib;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

START_TEST(large_file_is_mapped_not_read)
{
    char path[512];
    tu_tmp(path, sizeof path, "large.i2ig");
    const size_t n = (size_t)84 << 20; /* 84 Mi floats = 336 MiB */
    float *v = malloc(n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++) v[i] = (float)(i & 0xffff);
    const uint64_t shape[] = {n / 4096, 4096}, small_shape[] = {16};
    i2ig_weights_writer *w;
    ck_assert_int_eq(i2ig_weights_writer_create(&w), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "small", I2IG_DTYPE_F32, 1, small_shape,
                                                    I2IG_DTYPE_F32, v, 0), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, "big", I2IG_DTYPE_F32, 2, shape,
                                                    I2IG_DTYPE_F32, v, I2IG_ADD_BORROW), I2IG_OK);
    double t0 = now_s();
    ck_assert_int_eq(i2ig_weights_writer_write(w, path), I2IG_OK);
    double t_write = now_s() - t0;
    i2ig_weights_writer_free(w);
    free(v);

    long rss0 = rss_kib();
    i2ig_weights *r;
    t0 = now_s();
    ck_assert_int_eq(i2ig_weights_open(path, 0, &r), I2IG_OK);
    double t_open = now_s() - t0;
    float small[16];
    ck_assert_int_eq(i2ig_weights_read_f32(r, "small", 1, small_shape, small), I2IG_OK);
    ck_assert(small[15] == 15.0f);
    long rss1 = rss_kib();
    t0 = now_s();
    ck_assert_int_eq(i2ig_weights_verify(r), I2IG_OK);
    double t_verify = now_s() - t0;
    i2ig_weights_free(r);
    unlink(path);
    fprintf(stderr,
            "large file: %zu MiB written in %.2f s; open %.2f ms, RSS +%ld KiB after open and a small "
            "read; verify %.0f MB/s\n",
            n * 4 >> 20, t_write, t_open * 1e3, rss1 - rss0, (double)n * 4 / t_verify / 1e6);
    ck_assert_msg(t_open < 0.2, "open took %.3f s", t_open);
    ck_assert_msg(rss1 - rss0 < 8192, "RSS grew by %ld KiB", rss1 - rss0);
}
END_TEST

static Suite *weights_suite(void)
{
    Suite *s = suite_create("weights");
    TCase *bad = tcase_create("malformed");
    tcase_add_test(bad, bad_magic);
    tcase_add_test(bad, version_newer_and_zero);
    tcase_add_test(bad, truncated);
    tcase_add_test(bad, empty_directory_missing);
    tcase_add_test(bad, out_of_range);
    tcase_add_test(bad, overlapping);
    tcase_add_test(bad, overlap_by_two_bytes);
    tcase_add_test(bad, duplicates);
    tcase_add_test(bad, alignment);
    tcase_add_test(bad, absurd_dimensions);
    tcase_add_test(bad, counts_that_cannot_fit);
    tcase_add_test(bad, unknown_dtype);
    tcase_add_test(bad, unknown_meta_type);
    tcase_add_test(bad, bad_names);
    tcase_add_test(bad, index_checksum);
    tcase_add_test(bad, reserved_flags_header_size);
    tcase_add_test(bad, file_and_index_extent);
    tcase_add_test(bad, tensor_checksum);
    tcase_add_test(bad, missing_tensor_and_wrong_shape);
    tcase_add_test(bad, tensor_info_and_arguments);
    suite_add_tcase(s, bad);

    TCase *half = tcase_create("half");
    tcase_add_test(half, half_spec_values);
    tcase_add_test(half, half_exhaustive_rounding);
    suite_add_tcase(s, half);

    TCase *wr = tcase_create("writer");
    tcase_add_test(wr, roundtrip_all_meta_types);
    tcase_add_test(wr, roundtrip_dtypes);
    tcase_add_test(wr, borrow_versus_copy);
    tcase_add_test(wr, writer_rejects_bad_input);
    tcase_add_test(wr, canonical_layout);
    tcase_add_test(wr, empty_writer);
    tcase_add_test(wr, failed_write_keeps_old_file);
    suite_add_tcase(s, wr);

    TCase *big = tcase_create("scale");
    tcase_add_test(big, concurrent_first_access);
    tcase_add_test(big, large_file_is_mapped_not_read);
    tcase_set_timeout(big, 300);
    suite_add_tcase(s, big);
    return s;
}

TU_RUN(weights_suite)
