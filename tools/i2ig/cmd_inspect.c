/* i2ig inspect FILE [--verify]: what a weight file holds (format version,
 * for a generator model a summary of its architecture, domains and
 * provenance, then the metadata, tensor table and totals), through the
 * public API only. */
#include <inttypes.h>
#include <math.h>
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

/* ---- generator summary ----------------------------------------------------------
 * Read from the metadata and the tensor table only, never by loading the
 * model: a file the generator loader would refuse still gets its summary,
 * with "?" where a key is missing or mistyped (the raw tables follow). */

static void summary_label(const char *label) { printf("  %-17s ", label); }

static void summary_int(const i2ig_weights *w, const char *label, const char *key)
{
    int64_t v;
    summary_label(label);
    if (i2ig_weights_meta_int(w, key, &v) == I2IG_OK) printf("%" PRId64 "\n", v);
    else puts("?");
}

static void summary_ints(const i2ig_weights *w, const char *label, const char *key)
{
    const int64_t *v;
    size_t n;
    summary_label(label);
    if (i2ig_weights_meta_int_array(w, key, &v, &n) != I2IG_OK) {
        puts("?");
        return;
    }
    putchar('[');
    for (size_t i = 0; i < n; i++) printf(i ? ", %" PRId64 : "%" PRId64, v[i]);
    puts("]");
}

/* A short identifier-like value without quotes; anything unusual is
 * shown quoted and escaped. */
static void print_unquoted(const char *s)
{
    if (!*s) {
        print_string(s);
        return;
    }
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.') || p - s >= 32) {
            print_string(s);
            return;
        }
    fputs(s, stdout);
}

/* "256x768" for a tensor, "missing" when absent. */
static void tensor_shape_of(const i2ig_weights *w, const char *name, char *buf, size_t n)
{
    size_t idx;
    i2ig_tensor_info ti = {.struct_size = sizeof ti};
    if (i2ig_weights_find(w, name, &idx) != I2IG_OK || i2ig_weights_tensor_info(w, idx, &ti) != I2IG_OK)
        snprintf(buf, n, "missing");
    else
        format_shape(buf, n, &ti);
}

/* Element i of a float array, or NaN (printed "?") when absent or short. */
static double float_at(const double *v, size_t n, size_t i) { return v && i < n ? v[i] : NAN; }

static void print_number(double v)
{
    if (isnan(v)) fputs("?", stdout);
    else print_double(v);
}

static void print_domains(const i2ig_weights *w)
{
    const char *const *names = NULL, *const *prompts = NULL, *const *kinds = NULL;
    const int64_t *labels = NULL;
    const double *lo = NULL, *hi = NULL, *plo = NULL, *phi = NULL;
    size_t n = 0, np = 0, nl = 0, nk = 0, nlo = 0, nhi = 0, nplo = 0, nphi = 0;
    if (i2ig_weights_meta_string_array(w, "domains.names", &names, &n) != I2IG_OK) {
        puts("\ndomains: ? (no 'domains.names' metadata)");
        return;
    }
    (void)i2ig_weights_meta_string_array(w, "domains.prompts", &prompts, &np);
    (void)i2ig_weights_meta_int_array(w, "domains.labels", &labels, &nl);
    (void)i2ig_weights_meta_string_array(w, "domains.mapping", &kinds, &nk);
    (void)i2ig_weights_meta_float_array(w, "domains.lo", &lo, &nlo);
    (void)i2ig_weights_meta_float_array(w, "domains.hi", &hi, &nhi);
    (void)i2ig_weights_meta_float_array(w, "domains.p_lo", &plo, &nplo);
    (void)i2ig_weights_meta_float_array(w, "domains.p_hi", &phi, &nphi);
    int name_w = 1;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if ((int)len > name_w) name_w = len < 32 ? (int)len : 32;
    }
    printf("\ndomains (%zu):\n", n);
    for (size_t i = 0; i < n; i++) {
        printf("  %-*s  label ", name_w, names[i]);
        if (labels && i < nl) printf("%" PRId64, labels[i]);
        else fputs("?", stdout);
        fputs("  ", stdout);
        if (prompts && i < np) print_string(prompts[i]);
        else fputs("prompt ?", stdout);
        printf("\n  %-*s  ", name_w, "");
        const char *kind = kinds && i < nk ? kinds[i] : "?";
        if (!strcmp(kind, "percentile")) {
            fputs("percentile ", stdout);
            print_number(float_at(plo, nplo, i));
            fputs("..", stdout);
            print_number(float_at(phi, nphi, i));
            fputs(" of each slice -> [0,1] -> ", stdout);
        } else {
            printf("%s ", kind);
            print_number(float_at(lo, nlo, i));
            fputs("..", stdout);
            print_number(float_at(hi, nhi, i));
            fputs(" -> [0,1] -> ", stdout);
        }
        print_number(float_at(lo, nlo, i));
        fputs("..", stdout);
        print_number(float_at(hi, nhi, i));
        char key[256], ctx[64], emb[64];
        snprintf(key, sizeof key, "domains.%s.context", names[i]);
        tensor_shape_of(w, key, ctx, sizeof ctx);
        snprintf(key, sizeof key, "domains.%s.text_embedding", names[i]);
        tensor_shape_of(w, key, emb, sizeof emb);
        printf("\n  %-*s  prompt context %s, text embedding %s\n", name_w, "", ctx, emb);
    }
}

static void print_provenance(const i2ig_weights *w)
{
    static const char prefix[] = "provenance.";
    size_t shown = 0;
    puts("\nprovenance:");
    for (size_t i = 0; i < i2ig_weights_meta_count(w); i++) {
        const char *key;
        i2ig_meta_type type;
        if (i2ig_weights_meta_entry(w, i, &key, &type) != I2IG_OK ||
            strncmp(key, prefix, sizeof prefix - 1))
            continue;
        printf("  %-16s ", key + sizeof prefix - 1);
        if (print_meta_value(w, key, type) != I2IG_OK) puts("?");
        shown++;
    }
    if (!shown) puts("  none recorded");
}

static void print_generator_summary(const i2ig_weights *w)
{
    uint64_t params = 0;
    size_t tensors = 0;
    for (size_t i = 0; i < i2ig_weights_tensor_count(w); i++) {
        i2ig_tensor_info ti = {.struct_size = sizeof ti};
        if (i2ig_weights_tensor_info(w, i, &ti) != I2IG_OK || strncmp(ti.name, "unet.", 5)) continue;
        params += ti.nbytes / i2ig_dtype_size(ti.dtype);
        tensors++;
    }
    puts("\nmodel:            generator (I2I-Galip U-Net)");
    const char *which;
    summary_label("weights:");
    if (i2ig_weights_meta_string(w, "generator.weights", &which) != I2IG_OK) {
        puts("?");
    } else {
        print_unquoted(which);
        if (!strcmp(which, "ema")) puts(" (exponential moving average of the trained weights)");
        else if (!strcmp(which, "raw")) puts(" (the trained weights themselves, not their EMA)");
        else if (!strcmp(which, "random")) puts(" (untrained: random initialisation)");
        else putchar('\n');
    }
    summary_label("parameters:");
    printf("%" PRIu64 " in %zu unet.* tensors\n", params, tensors);
    summary_int(w, "in_channels:", "generator.in_channels");
    summary_int(w, "out_channels:", "generator.out_channels");
    summary_int(w, "model_channels:", "generator.model_channels");
    summary_ints(w, "channel_mult:", "generator.channel_mult");
    summary_int(w, "num_res_blocks:", "generator.num_res_blocks");
    summary_ints(w, "attention at ds:", "generator.attention_ds");
    summary_int(w, "head_channels:", "generator.head_channels");
    summary_int(w, "context_dim:", "generator.context_dim");
    summary_int(w, "num_classes:", "generator.num_classes");
    const int64_t *mult;
    size_t levels;
    summary_label("size multiple:");
    if (i2ig_weights_meta_int_array(w, "generator.channel_mult", &mult, &levels) == I2IG_OK &&
        levels >= 1 && levels <= 32)
        printf("%llu (width and height are padded to it)\n", 1ull << (levels - 1));
    else
        puts("?");
    print_domains(w);
    print_provenance(w);
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

    const char *kind;
    if (i2ig_weights_meta_string(w, "model.kind", &kind) == I2IG_OK && !strcmp(kind, "generator"))
        print_generator_summary(w);

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
                   "a generator model is first summarised (hyper-parameters, parameter count,\n"
                   "which weights, domains with prompts and intensity mappings, provenance).\n"
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
