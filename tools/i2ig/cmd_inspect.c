/* i2ig inspect FILE [--verify]: what a weight file holds (format version,
 * metadata, tensor table, totals), through the public API only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "i2igalip.h"
#include "commands.h"

/* Arrays longer than this are shown by their first elements only. */
enum { SHOW_NUMBERS = 8, SHOW_STRINGS = 4, SHOW_STRING_BYTES = 80 };

static int fail(i2ig_status st)
{
    fprintf(stderr, "i2ig inspect: %s: %s\n", i2ig_status_string(st), i2ig_last_error());
    return 1;
}

/* Shortest %g form that reads back as the same double. */
static void print_double(double v)
{
    char buf[40];
    /* Starting at the integer digit count keeps 10 from printing as 1e+01. */
    int digits = 1;
    for (double x = v < 0 ? -v : v; x >= 10 && digits < 17; x /= 10) digits++;
    for (int prec = digits; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, stdout);
}

/* Quoted, with control characters escaped; long strings cut at a UTF-8
 * character boundary. */
static void print_string(const char *s)
{
    size_t n = strlen(s), show = n;
    if (n > SHOW_STRING_BYTES) {
        show = SHOW_STRING_BYTES;
        while (show > 0 && ((unsigned char)s[show] & 0xC0) == 0x80) show--;
    }
    putchar('"');
    for (size_t i = 0; i < show; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    putchar('"');
    if (show < n) printf("... (%zu bytes)", n);
}

static i2ig_status print_meta_value(const i2ig_weights *w, const char *key, i2ig_meta_type type)
{
    i2ig_status st = I2IG_OK;
    size_t n = 0;
    switch (type) {
    case I2IG_META_INT: {
        int64_t v;
        if ((st = i2ig_weights_meta_int(w, key, &v)) == I2IG_OK) printf("%" PRId64, v);
        break;
    }
    case I2IG_META_FLOAT: {
        double v;
        if ((st = i2ig_weights_meta_float(w, key, &v)) == I2IG_OK) print_double(v);
        break;
    }
    case I2IG_META_STRING: {
        const char *v;
        if ((st = i2ig_weights_meta_string(w, key, &v)) == I2IG_OK) print_string(v);
        break;
    }
    case I2IG_META_INT_ARRAY: {
        const int64_t *v;
        if ((st = i2ig_weights_meta_int_array(w, key, &v, &n)) != I2IG_OK) break;
        putchar('[');
        for (size_t i = 0; i < n && i < SHOW_NUMBERS; i++) printf(i ? ", %" PRId64 : "%" PRId64, v[i]);
        break;
    }
    case I2IG_META_FLOAT_ARRAY: {
        const double *v;
        if ((st = i2ig_weights_meta_float_array(w, key, &v, &n)) != I2IG_OK) break;
        putchar('[');
        for (size_t i = 0; i < n && i < SHOW_NUMBERS; i++) {
            if (i) fputs(", ", stdout);
            print_double(v[i]);
        }
        break;
    }
    case I2IG_META_STRING_ARRAY: {
        const char *const *v;
        if ((st = i2ig_weights_meta_string_array(w, key, &v, &n)) != I2IG_OK) break;
        putchar('[');
        for (size_t i = 0; i < n && i < SHOW_STRINGS; i++) {
            if (i) fputs(", ", stdout);
            print_string(v[i]);
        }
        break;
    }
    }
    if (st != I2IG_OK) return st;
    if (type == I2IG_META_INT_ARRAY || type == I2IG_META_FLOAT_ARRAY) {
        printf(n > SHOW_NUMBERS ? ", ... (%zu values)]" : "]", n);
    } else if (type == I2IG_META_STRING_ARRAY) {
        printf(n > SHOW_STRINGS ? ", ... (%zu values)]" : "]", n);
    }
    putchar('\n');
    return I2IG_OK;
}

static const char *meta_type_name(i2ig_meta_type t)
{
    switch (t) {
    case I2IG_META_INT: return "int";
    case I2IG_META_FLOAT: return "float";
    case I2IG_META_STRING: return "string";
    case I2IG_META_INT_ARRAY: return "int[]";
    case I2IG_META_FLOAT_ARRAY: return "float[]";
    case I2IG_META_STRING_ARRAY: return "string[]";
    }
    return "?";
}

static void format_shape(char *buf, size_t n, const i2ig_tensor_info *ti)
{
    size_t used = 0;
    buf[0] = 0;
    for (uint32_t d = 0; d < ti->ndim && used < n; d++) {
        int k = snprintf(buf + used, n - used, d ? "x%" PRIu64 : "%" PRIu64, ti->shape[d]);
        if (k < 0) break;
        used += (size_t)k;
    }
}

static int inspect(const char *path, int verify)
{
    i2ig_weights *w;
    i2ig_status st = i2ig_weights_open(path, 0, &w);
    if (st != I2IG_OK) return fail(st);
    struct stat sb;
    long long file_size = stat(path, &sb) == 0 ? (long long)sb.st_size : -1;

    printf("file:           %s\n", path);
    printf("format version: %" PRIu32 "\n", i2ig_weights_format_version(w));
    printf("file size:      %lld bytes\n", file_size);

    size_t nmeta = i2ig_weights_meta_count(w), key_w = 3;
    for (size_t i = 0; i < nmeta; i++) {
        const char *key;
        if ((st = i2ig_weights_meta_entry(w, i, &key, NULL)) != I2IG_OK) goto out;
        size_t len = strlen(key);
        if (len > key_w) key_w = len < 48 ? len : 48;
    }
    printf("\nmetadata (%zu entries):\n", nmeta);
    for (size_t i = 0; i < nmeta; i++) {
        const char *key;
        i2ig_meta_type type;
        if ((st = i2ig_weights_meta_entry(w, i, &key, &type)) != I2IG_OK) goto out;
        printf("  %-*s  %-8s  ", (int)key_w, key, meta_type_name(type));
        if ((st = print_meta_value(w, key, type)) != I2IG_OK) goto out;
    }

    size_t nt = i2ig_weights_tensor_count(w), name_w = 4;
    uint64_t params = 0, bytes = 0;
    for (size_t i = 0; i < nt; i++) {
        i2ig_tensor_info ti = {.struct_size = sizeof ti};
        if ((st = i2ig_weights_tensor_info(w, i, &ti)) != I2IG_OK) goto out;
        size_t len = strlen(ti.name);
        if (len > name_w) name_w = len < 64 ? len : 64;
    }
    printf("\ntensors (%zu):\n", nt);
    printf("  %-*s  %-5s  %-20s  %12s  %12s  %s\n", (int)name_w, "name", "dtype", "shape", "offset",
           "bytes", "crc32");
    for (size_t i = 0; i < nt; i++) {
        i2ig_tensor_info ti = {.struct_size = sizeof ti};
        if ((st = i2ig_weights_tensor_info(w, i, &ti)) != I2IG_OK) goto out;
        char shape[256];
        format_shape(shape, sizeof shape, &ti);
        printf("  %-*s  %-5s  %-20s  %12" PRIu64 "  %12" PRIu64 "  %08" PRIx32 "\n", (int)name_w, ti.name,
               i2ig_dtype_name(ti.dtype), shape, ti.offset, ti.nbytes, ti.crc32);
        params += ti.nbytes / i2ig_dtype_size(ti.dtype);
        bytes += ti.nbytes;
    }
    printf("\ntotals: %zu tensors, %" PRIu64 " parameters, %" PRIu64 " bytes of tensor data\n", nt,
           params, bytes);

    if (verify) {
        if ((st = i2ig_weights_verify(w)) != I2IG_OK) goto out;
        printf("checksums: all %zu tensors verified\n", nt);
    }
out:
    i2ig_weights_free(w);
    fflush(stdout);
    return st == I2IG_OK ? 0 : fail(st);
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    int verify = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--verify")) verify = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: i2ig inspect FILE [--verify]\n"
                   "Prints the format version, metadata, tensor table and totals of a weight file;\n"
                   "--verify also checks every tensor checksum.\n");
            return 0;
        } else if (!path && argv[i][0] != '-') path = argv[i];
        else {
            fprintf(stderr, "usage: i2ig inspect FILE [--verify]\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: i2ig inspect FILE [--verify]\n");
        return 2;
    }
    return inspect(path, verify);
}
