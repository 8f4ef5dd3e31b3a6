/* Bad inputs to the model loaders and the writers (docs/bad-inputs.md
 * lists every case with its test): forged architectures that would
 * allocate without bound, NaN weights, wrong model kinds, mistyped or
 * mismatched metadata, out-of-memory and disk-full conditions (RLIMIT_AS,
 * RLIMIT_FSIZE in a forked child, so the limits never touch the test
 * runner). Each case asserts the exact status. */
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "i2igalip.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* ---- a small valid model and a copier that edits it ------------------------------ */

static i2ig_generator *small_generator(void)
{
    i2ig_generator_config c = tu_small_generator_config();
    i2ig_generator *g = NULL;
    ck_assert_int_eq(i2ig_generator_create(&c, 7, &g), I2IG_OK);
    float ctx[4 * 8], emb[6];
    for (int i = 0; i < 32; i++) ctx[i] = (float)(i % 5) * 0.25f;
    for (int i = 0; i < 6; i++) emb[i] = (float)i;
    i2ig_intensity_mapping ct = {sizeof ct, I2IG_MAPPING_WINDOW, -1000, 2000, 0, 0};
    i2ig_intensity_mapping mr = {sizeof mr, I2IG_MAPPING_PERCENTILE, 0, 1000, 1, 99};
    ck_assert_int_eq(i2ig_generator_add_domain(g, "CT", "a CT scan", 0, ctx, 4, emb, 6, &ct), I2IG_OK);
    ck_assert_int_eq(i2ig_generator_add_domain(g, "T1", "a T1 MRI", 1, ctx, 4, emb, 6, &mr), I2IG_OK);
    return g;
}

static const char *small_generator_file(void)
{
    static char path[512];
    tu_tmp(path, sizeof path, "bad-small-generator.i2ig");
    i2ig_generator *g = small_generator();
    ck_assert_int_eq(i2ig_generator_save(g, path), I2IG_OK);
    i2ig_generator_free(g);
    return path;
}

static const char *small_discriminator_file(void)
{
    static char path[512];
    tu_tmp(path, sizeof path, "bad-small-discriminator.i2ig");
    i2ig_discriminator_config c;
    c.struct_size = sizeof c;
    ck_assert_int_eq(i2ig_discriminator_config_init(&c), I2IG_OK);
    c.num_classes = 2;
    c.n_taps = 2;
    c.width = 8;
    c.text_dim = 4;
    c.cmap_dim = 4;
    c.kernel_size = 3;
    i2ig_discriminator *d = NULL;
    ck_assert_int_eq(i2ig_discriminator_create(&c, 3, &d), I2IG_OK);
    ck_assert_int_eq(i2ig_discriminator_save(d, path), I2IG_OK);
    i2ig_discriminator_free(d);
    return path;
}

/* One change applied while copying a weight file. */
typedef struct edit {
    const char *key;        /* metadata key, or tensor name for tensor edits */
    char what;              /* 'i' int, 'f' float, 's' string, 'I' int array, 'D' drop key,
                               'N' poison tensor value, 'h' store tensor as f16,
                               'S' reshape tensor to shape[0..n) (data repeated),
                               'A' string array of n names "D0", "D1"... */
    int64_t ints[8];
    size_t n;
    double f;
    const char *s;
} edit;

static const edit *find_edit(const edit *e, size_t ne, const char *key)
{
    for (size_t i = 0; i < ne; i++)
        if (!strcmp(e[i].key, key)) return &e[i];
    return NULL;
}

static void copy_edited(const char *src, const char *dst, const edit *e, size_t ne)
{
    i2ig_weights *w = NULL;
    ck_assert_int_eq(i2ig_weights_open(src, 0, &w), I2IG_OK);
    i2ig_weights_writer *wr = NULL;
    ck_assert_int_eq(i2ig_weights_writer_create(&wr), I2IG_OK);
    for (size_t i = 0; i < i2ig_weights_meta_count(w); i++) {
        const char *key;
        i2ig_meta_type type;
        ck_assert_int_eq(i2ig_weights_meta_entry(w, i, &key, &type), I2IG_OK);
        const edit *x = find_edit(e, ne, key);
        i2ig_status st = I2IG_OK;
        if (x && x->what == 'D') continue;
        if (x && x->what == 'i') st = i2ig_weights_writer_set_int(wr, key, x->ints[0]);
        else if (x && x->what == 'f') st = i2ig_weights_writer_set_float(wr, key, x->f);
        else if (x && x->what == 's') st = i2ig_weights_writer_set_string(wr, key, x->s);
        else if (x && x->what == 'I') st = i2ig_weights_writer_set_int_array(wr, key, x->ints, x->n);
        else if (x && x->what == 'A') {
            char buf[128][8];
            const char *names[128];
            for (size_t k = 0; k < x->n && k < 128; k++) {
                snprintf(buf[k], sizeof buf[k], "D%zu", k);
                names[k] = buf[k];
            }
            st = i2ig_weights_writer_set_string_array(wr, key, names, x->n);
        }
        else if (type == I2IG_META_INT) {
            int64_t v;
            i2ig_weights_meta_int(w, key, &v);
            st = i2ig_weights_writer_set_int(wr, key, v);
        } else if (type == I2IG_META_FLOAT) {
            double v;
            i2ig_weights_meta_float(w, key, &v);
            st = i2ig_weights_writer_set_float(wr, key, v);
        } else if (type == I2IG_META_STRING) {
            const char *v;
            i2ig_weights_meta_string(w, key, &v);
            st = i2ig_weights_writer_set_string(wr, key, v);
        } else if (type == I2IG_META_INT_ARRAY) {
            const int64_t *v;
            size_t n;
            i2ig_weights_meta_int_array(w, key, &v, &n);
            st = i2ig_weights_writer_set_int_array(wr, key, v, n);
        } else if (type == I2IG_META_FLOAT_ARRAY) {
            const double *v;
            size_t n;
            i2ig_weights_meta_float_array(w, key, &v, &n);
            st = i2ig_weights_writer_set_float_array(wr, key, v, n);
        } else {
            const char *const *v;
            size_t n;
            i2ig_weights_meta_string_array(w, key, &v, &n);
            st = i2ig_weights_writer_set_string_array(wr, key, v, n);
        }
        ck_assert_int_eq(st, I2IG_OK);
    }
    for (size_t i = 0; i < i2ig_weights_tensor_count(w); i++) {
        i2ig_tensor_info info;
        info.struct_size = sizeof info;
        ck_assert_int_eq(i2ig_weights_tensor_info(w, i, &info), I2IG_OK);
        const edit *x = find_edit(e, ne, info.name);
        if (x && x->what == 'D') continue;
        size_t numel = 1;
        for (uint32_t d = 0; d < info.ndim; d++) numel *= (size_t)info.shape[d];
        float *data = malloc(numel * sizeof *data);
        ck_assert_ptr_nonnull(data);
        ck_assert_int_eq(i2ig_weights_read_f32(w, info.name, info.ndim, info.shape, data), I2IG_OK);
        i2ig_dtype store = info.dtype;
        uint32_t ndim = info.ndim;
        uint64_t shape[I2IG_MAX_DIMS];
        memcpy(shape, info.shape, sizeof shape);
        if (x && x->what == 'N') data[numel / 2] = NAN;
        if (x && x->what == 'h') store = I2IG_DTYPE_F16;
        if (x && x->what == 'S') {
            size_t n2 = 1;
            ndim = (uint32_t)x->n;
            for (size_t d = 0; d < x->n; d++) n2 *= (size_t)(shape[d] = (uint64_t)x->ints[d]);
            float *d2 = malloc(n2 * sizeof *d2);
            for (size_t k = 0; k < n2; k++) d2[k] = data[k % numel];
            free(data);
            data = d2;
        }
        ck_assert_int_eq(i2ig_weights_writer_add_tensor(wr, info.name, store, ndim, shape,
                                                        I2IG_DTYPE_F32, data, 0),
                         I2IG_OK);
        free(data);
    }
    ck_assert_int_eq(i2ig_weights_writer_write(wr, dst), I2IG_OK);
    i2ig_weights_writer_free(wr);
    i2ig_weights_free(w);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static i2ig_status load_generator(const char *path)
{
    i2ig_generator *g = (i2ig_generator *)1;
    i2ig_status st = i2ig_generator_load(path, &g);
    if (st != I2IG_OK) ck_assert_ptr_null(g);
    i2ig_generator_free(g);
    return st;
}

static i2ig_status load_discriminator(const char *path)
{
    i2ig_discriminator *d = (i2ig_discriminator *)1;
    i2ig_status st = i2ig_discriminator_load(path, &d);
    if (st != I2IG_OK) ck_assert_ptr_null(d);
    i2ig_discriminator_free(d);
    return st;
}

static char *tmp(const char *name)
{
    static char bufs[4][512];
    static int k;
    char *b = bufs[k++ % 4];
    return (char *)tu_tmp(b, 512, name);
}

/* ---- forged architectures -------------------------------------------------------- */

/* 4096 base channels x64 on all 8 levels, 8 ResBlocks each: about 10^14
 * parameters. Found by fuzz_model: the loader allocated (and zeroed) the
 * architecture before reading a single tensor, so a 100 KB file took all
 * memory. Now refused before allocation, quickly. */
START_TEST(generator_file_absurd_architecture)
{
    const char *src = small_generator_file(), *dst = tmp("bad-gen-huge.i2ig");
    edit e[] = {{"generator.model_channels", 'i', {4096}, 1, 0, NULL},
                {"generator.channel_mult", 'I', {64, 64, 64, 64, 64, 64, 64, 64}, 8, 0, NULL},
                {"generator.num_res_blocks", 'i', {8}, 1, 0, NULL}};
    copy_edited(src, dst, e, 3);
    long rss0 = max_rss_kb();
    double t0 = now_s();
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_MODEL_MISMATCH);
    ck_assert_msg(now_s() - t0 < 2.0, "refusal took %.2f s", now_s() - t0);
    ck_assert_msg(max_rss_kb() - rss0 < 64 * 1024, "peak RSS grew by %ld KiB", max_rss_kb() - rss0);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "parameters"));
    /* 16 times the real width: plausible, but far more than the file holds. */
    edit e2[] = {{"generator.model_channels", 'i', {512}, 1, 0, NULL}};
    copy_edited(src, dst, e2, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_MODEL_MISMATCH);
    /* One more class: close enough to report the tensor that differs. */
    edit e3[] = {{"generator.num_classes", 'i', {3}, 1, 0, NULL}};
    copy_edited(src, dst, e3, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "unet.label_emb.weight"));
}
END_TEST

START_TEST(generator_create_absurd_architecture)
{
    i2ig_generator_config c = tu_small_generator_config();
    c.model_channels = 4096;
    c.n_levels = 8;
    for (int i = 0; i < 8; i++) c.channel_mult[i] = 64;
    c.num_res_blocks = 8;
    c.n_attention = 0;
    i2ig_generator *g = (i2ig_generator *)1;
    double t0 = now_s();
    ck_assert_int_eq(i2ig_generator_create(&c, 1, &g), I2IG_ERR_TOO_LARGE);
    ck_assert_ptr_null(g);
    ck_assert(now_s() - t0 < 2.0);
}
END_TEST

/* 8 levels x 8 ResBlocks: 72 skip connections. The U-Net kept their
 * channel counts in an array of 64 (a stack overflow found by fuzz_model
 * under ASan); such a model must build, save, load and run. */
START_TEST(generator_deepest_configuration)
{
    i2ig_generator_config c = tu_small_generator_config();
    c.n_levels = 8;
    for (int i = 0; i < 8; i++) c.channel_mult[i] = 1;
    c.num_res_blocks = 8;
    c.n_attention = 0;
    i2ig_generator *g = NULL;
    ck_assert_int_eq(i2ig_generator_create(&c, 1, &g), I2IG_OK);
    ck_assert_uint_eq(i2ig_generator_size_multiple(g), 128);
    float ctx[8] = {0}, emb[2] = {0};
    i2ig_intensity_mapping m = {sizeof m, I2IG_MAPPING_WINDOW, 0, 1, 0, 0};
    ck_assert_int_eq(i2ig_generator_add_domain(g, "A", "a", 0, ctx, 1, emb, 2, &m), I2IG_OK);
    ck_assert_int_eq(i2ig_generator_add_domain(g, "B", "b", 1, ctx, 1, emb, 2, &m), I2IG_OK);
    const char *path = tmp("bad-gen-deep.i2ig");
    ck_assert_int_eq(i2ig_generator_save(g, path), I2IG_OK);
    i2ig_generator *h = NULL;
    ck_assert_int_eq(i2ig_generator_load(path, &h), I2IG_OK);
    ck_assert_uint_eq(i2ig_generator_parameter_count(h), i2ig_generator_parameter_count(g));
    float in[16 * 16], out[16 * 16];
    for (int i = 0; i < 256; i++) in[i] = (float)(i % 7) / 7.0f;
    ck_assert_int_eq(i2ig_translate(h, "A", "B", I2IG_DTYPE_F32, in, 16, 16, 1, out), I2IG_OK);
    i2ig_generator_free(h);
    i2ig_generator_free(g);
}
END_TEST

START_TEST(discriminator_file_absurd_architecture)
{
    const char *src = small_discriminator_file(), *dst = tmp("bad-disc-huge.i2ig");
    edit e[] = {{"discriminator.width", 'i', {8192}, 1, 0, NULL},
                {"discriminator.kernel_size", 'i', {63}, 1, 0, NULL},
                {"discriminator.num_classes", 'i', {1024}, 1, 0, NULL},
                {"discriminator.n_taps", 'i', {64}, 1, 0, NULL}};
    copy_edited(src, dst, e, 4);
    long rss0 = max_rss_kb();
    double t0 = now_s();
    ck_assert_int_eq(load_discriminator(dst), I2IG_ERR_MODEL_MISMATCH);
    ck_assert(now_s() - t0 < 2.0);
    ck_assert_msg(max_rss_kb() - rss0 < 64 * 1024, "peak RSS grew by %ld KiB", max_rss_kb() - rss0);

    i2ig_discriminator_config c;
    c.struct_size = sizeof c;
    i2ig_discriminator_config_init(&c);
    c.width = 8192;
    c.kernel_size = 63;
    c.num_classes = 1024;
    c.n_taps = 64;
    i2ig_discriminator *d = (i2ig_discriminator *)1;
    ck_assert_int_eq(i2ig_discriminator_create(&c, 1, &d), I2IG_ERR_TOO_LARGE);
    ck_assert_ptr_null(d);
}
END_TEST

/* ---- weights and metadata ------------------------------------------------------------ */

START_TEST(generator_nan_weight)
{
    const char *src = small_generator_file(), *dst = tmp("bad-gen-nan.i2ig");
    edit e[] = {{"unet.input_blocks.1.0.in_layers.2.weight", 'N', {0}, 0, 0, NULL}};
    copy_edited(src, dst, e, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_NOT_FINITE);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "input_blocks.1.0.in_layers.2.weight"));
    /* in a domain's prompt context too */
    edit e2[] = {{"domains.T1.context", 'N', {0}, 0, 0, NULL}};
    copy_edited(src, dst, e2, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_NOT_FINITE);
}
END_TEST

START_TEST(discriminator_nan_weight)
{
    const char *src = small_discriminator_file(), *dst = tmp("bad-disc-nan.i2ig");
    edit e[] = {{"disc.heads.1.0.main.1.fn.0.weight_orig", 'N', {0}, 0, 0, NULL}};
    copy_edited(src, dst, e, 1);
    ck_assert_int_eq(load_discriminator(dst), I2IG_ERR_NOT_FINITE);
}
END_TEST

START_TEST(wrong_model_kind)
{
    const char *gen = small_generator_file(), *disc = small_discriminator_file();
    ck_assert_int_eq(load_generator(disc), I2IG_ERR_MODEL_MISMATCH);
    ck_assert_int_eq(load_discriminator(gen), I2IG_ERR_MODEL_MISMATCH);
    i2ig_encoder *enc = (i2ig_encoder *)1;
    ck_assert_int_eq(i2ig_encoder_load(gen, &enc), I2IG_ERR_MODEL_MISMATCH);
    ck_assert_ptr_null(enc);
    /* a bare weight file without model.kind */
    const char *dst = tmp("bad-gen-nokind.i2ig");
    edit e[] = {{"model.kind", 'D', {0}, 0, 0, NULL}};
    copy_edited(gen, dst, e, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_MODEL_MISMATCH);
}
END_TEST

START_TEST(generator_metadata_mistyped_or_out_of_range)
{
    const char *src = small_generator_file(), *dst = tmp("bad-gen-meta.i2ig");
    edit typed[] = {{"generator.model_channels", 'f', {0}, 0, 32.0, NULL}};
    copy_edited(src, dst, typed, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_METADATA);
    edit negative[] = {{"generator.num_res_blocks", 'i', {-1}, 1, 0, NULL}};
    copy_edited(src, dst, negative, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_METADATA);
    edit huge[] = {{"generator.context_dim", 'i', {INT64_MAX}, 1, 0, NULL}};
    copy_edited(src, dst, huge, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_METADATA);
    edit eps[] = {{"generator.gn_eps", 'f', {0}, 0, NAN, NULL}};
    copy_edited(src, dst, eps, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_METADATA);
    edit levels[] = {{"generator.channel_mult", 'I', {1, 1, 1, 1, 1, 1, 1, 1}, 8, 0, NULL}};
    copy_edited(src, dst, levels, 1); /* 8 levels declared, 2 stored */
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_SHAPE);
    edit zero[] = {{"generator.channel_mult", 'I', {0}, 0, 0, NULL}}; /* no levels */
    copy_edited(src, dst, zero, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_METADATA);
}
END_TEST

START_TEST(generator_tensor_shape_dtype_missing)
{
    const char *src = small_generator_file(), *dst = tmp("bad-gen-tensor.i2ig");
    edit shape[] = {{"unet.out.2.weight", 'S', {1, 32, 3, 2}, 4, 0, NULL}};
    copy_edited(src, dst, shape, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "unet.out.2.weight"));
    edit gone[] = {{"unet.out.2.bias", 'D', {0}, 0, 0, NULL}};
    copy_edited(src, dst, gone, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_MISSING_TENSOR);
    /* f16 storage of a weight is a valid file: converted on load */
    edit half[] = {{"unet.out.2.weight", 'h', {0}, 0, 0, NULL}};
    copy_edited(src, dst, half, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_OK);
    edit ctx[] = {{"domains.CT.context", 'S', {4, 7}, 2, 0, NULL}};
    copy_edited(src, dst, ctx, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_MODEL_MISMATCH);
}
END_TEST

START_TEST(generator_domain_metadata)
{
    const char *src = small_generator_file(), *dst = tmp("bad-gen-domains.i2ig");
    edit label[] = {{"domains.labels", 'I', {0, 5}, 2, 0, NULL}};
    copy_edited(src, dst, label, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_METADATA);
    edit count[] = {{"domains.labels", 'I', {0}, 1, 0, NULL}};
    copy_edited(src, dst, count, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_METADATA);
    edit gone[] = {{"domains.names", 'D', {0}, 0, 0, NULL}};
    copy_edited(src, dst, gone, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_METADATA);

    /* 65 domains (at most 64) */
    edit many[] = {{"domains.names", 'A', {0}, 65, 0, NULL}};
    copy_edited(src, dst, many, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_METADATA);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "at most 64"));
    edit str[] = {{"domains.names", 's', {0}, 0, 0, "x"}}; /* a string, not an array */
    copy_edited(src, dst, str, 1);
    ck_assert_int_eq(load_generator(dst), I2IG_ERR_METADATA);
}
END_TEST

START_TEST(unknown_domain)
{
    i2ig_generator *g = small_generator();
    float in[16], out[16];
    for (int i = 0; i < 16; i++) in[i] = (float)i;
    ck_assert_int_eq(i2ig_translate(g, "CT", "PET", I2IG_DTYPE_F32, in, 4, 4, 1, out),
                     I2IG_ERR_UNKNOWN_DOMAIN);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "T1")); /* lists the known names */
    ck_assert_int_eq(i2ig_translate(g, "pet", "T1", I2IG_DTYPE_F32, in, 4, 4, 1, out),
                     I2IG_ERR_UNKNOWN_DOMAIN);
    ck_assert_int_eq(i2ig_translate(g, "CT", "", I2IG_DTYPE_F32, in, 4, 4, 1, out),
                     I2IG_ERR_UNKNOWN_DOMAIN);
    i2ig_generator_free(g);
}
END_TEST

START_TEST(non_finite_pixels)
{
    i2ig_generator *g = small_generator();
    float in[16], out[16];
    for (int i = 0; i < 16; i++) in[i] = (float)i;
    in[5] = NAN;
    ck_assert_int_eq(i2ig_translate(g, "CT", "T1", I2IG_DTYPE_F32, in, 4, 4, 1, out),
                     I2IG_ERR_NOT_FINITE);
    in[5] = INFINITY;
    ck_assert_int_eq(i2ig_translate(g, "CT", "T1", I2IG_DTYPE_F32, in, 4, 4, 1, out),
                     I2IG_ERR_NOT_FINITE);
    i2ig_generator_free(g);
}
END_TEST

/* ---- resource exhaustion: forked children -------------------------------------------- */

/* Runs fn in a child under a resource limit; returns the child's exit code
 * (the status fn returned), failing the test if the child was killed by a
 * signal (a crash). */
static int in_child(int resource, rlim_t limit, i2ig_status (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN); /* a write past RLIMIT_FSIZE fails with EFBIG */
        struct rlimit rl = {limit, limit};
        if (setrlimit(resource, &rl) != 0) _exit(250);
        _exit((int)fn(arg));
    }
    int ws;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    ck_assert_msg(WIFEXITED(ws), "child killed by signal %d", WIFSIGNALED(ws) ? WTERMSIG(ws) : -1);
    return WEXITSTATUS(ws);
}

static long vm_size_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0;
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1) pages = 0;
        fclose(f);
    }
    return pages * sysconf(_SC_PAGESIZE);
}

static i2ig_status child_load(void *path)
{
    i2ig_generator *g = NULL;
    i2ig_status st = i2ig_generator_load(path, &g);
    i2ig_generator_free(g);
    return st;
}

/* The paper-size generator (14 M parameters, 56 MB) loaded under address
 * space limits from "just what is mapped now" upwards: every child must end
 * with a status (out of memory while too tight, then OK), never a crash. */
START_TEST(out_of_memory_while_loading)
{
#ifdef UNDER_ASAN
    /* ASan reserves terabytes of address space for its shadow memory at
     * start-up: an RLIMIT_AS child cannot even run. Release builds run it. */
    puts("badinput/out_of_memory_while_loading: not run under AddressSanitizer (RLIMIT_AS)");
    return;
#endif
    const char *path = tmp("bad-oom-generator.i2ig");
    i2ig_generator_config c;
    c.struct_size = sizeof c;
    i2ig_generator_config_init(&c);
    i2ig_generator *g = NULL;
    ck_assert_int_eq(i2ig_generator_create(&c, 1, &g), I2IG_OK);
    float *ctx = calloc(16 * 768, sizeof *ctx), emb[512] = {0};
    i2ig_intensity_mapping m = {sizeof m, I2IG_MAPPING_WINDOW, 0, 1, 0, 0};
    ck_assert_int_eq(i2ig_generator_add_domain(g, "A", "a", 0, ctx, 16, emb, 512, &m), I2IG_OK);
    ck_assert_int_eq(i2ig_generator_add_domain(g, "B", "b", 1, ctx, 16, emb, 512, &m), I2IG_OK);
    ck_assert_int_eq(i2ig_generator_save(g, path), I2IG_OK);
    i2ig_generator_free(g);
    free(ctx);
    long base = vm_size_bytes();
    int n_oom = 0, n_ok = 0;
    for (long extra = 0; extra <= 512L << 20; extra += 16L << 20) {
        int code = in_child(RLIMIT_AS, (rlim_t)(base + extra), child_load, (void *)path);
        ck_assert_msg(code == I2IG_OK || code == I2IG_ERR_OUT_OF_MEMORY,
                      "limit +%ld MiB: status %d (%s)", extra >> 20, code,
                      i2ig_status_string((i2ig_status)code));
        n_oom += code == I2IG_ERR_OUT_OF_MEMORY;
        n_ok += code == I2IG_OK;
    }
    ck_assert_int_gt(n_oom, 0);
    ck_assert_int_gt(n_ok, 0);
}
END_TEST

/* A 512 x 512 u16 image (4 slices for TIFF, 1 for PNG) of noise, which
 * no compressor shrinks below the limit. */
static i2ig_status child_save_image(void *path)
{
    i2ig_image *img = NULL;
    size_t slices = strstr(path, ".png") ? 1 : 4;
    i2ig_status st = i2ig_image_create(I2IG_DTYPE_U16, 512, 512, slices, &img);
    if (st != I2IG_OK) return st;
    uint16_t *p = i2ig_image_data(img, 0);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < 512 * 512 * slices; i++) { /* xorshift64 */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint16_t)(x >> 48);
    }
    st = i2ig_image_save(img, path, I2IG_FORMAT_AUTO);
    i2ig_image_free(img);
    return st;
}

static i2ig_status child_save_weights(void *path)
{
    i2ig_generator *g = small_generator();
    i2ig_status st = i2ig_generator_save(g, path);
    i2ig_generator_free(g);
    return st;
}

static int count_entries(const char *dir_path)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir_path);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (f) {
        if (fscanf(f, "%d", &n) != 1) n = -1;
        pclose(f);
    }
    return n;
}

/* Disk full (RLIMIT_FSIZE: the file may not grow past 64 KiB) while
 * writing a TIFF stack, a PNG and a model file: I2IG_ERR_IO, the previous
 * file under that name untouched, no temporary left behind. */
START_TEST(disk_full_while_saving)
{
    char dir[512], name[64];
    snprintf(name, sizeof name, "bad-diskfull-%d", (int)getpid()); /* fresh: counted below */
    tu_tmp(dir, sizeof dir, name);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    const char *names[] = {"stack.tif", "slice.png", "model.i2ig"};
    for (int k = 0; k < 3; k++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        ck_assert_int_eq(tu_write_file(path, "previous", 8), 0);
        int code = in_child(RLIMIT_FSIZE, 64 << 10, k == 2 ? child_save_weights : child_save_image,
                            path);
        ck_assert_msg(code == I2IG_ERR_IO, "%s: status %d", names[k], code);
        size_t n = 0;
        char *back = tu_read_file(path, &n);
        ck_assert_ptr_nonnull(back);
        ck_assert_uint_eq(n, 8);
        ck_assert_int_eq(memcmp(back, "previous", 8), 0);
        free(back);
        ck_assert_int_eq(count_entries(dir), k + 1); /* no temporary files */
    }
}
END_TEST

/* Writes a JPEG made by hand and checks that loading it is refused as
 * corrupt, with no image and a message containing `why`. */
static void expect_jpeg_refused(const char *path, const unsigned char *bytes, size_t n,
                                const char *why)
{
    ck_assert_int_eq(tu_write_file(path, bytes, n), 0);
    i2ig_image *img = (i2ig_image *)1;
    ck_assert_int_eq(i2ig_image_load(path, &img), I2IG_ERR_IMAGE_FORMAT);
    ck_assert_ptr_null(img);
    ck_assert_msg(strstr(i2ig_last_error(), why), "%s", i2ig_last_error());
}

/* A Huffman table whose 16 code counts sum to 4080: Debian's stb_image
 * 2.27 wrote them past its 257-entry arrays (heap overflow, found by
 * fuzz_image_stb). Refused by our pre-check, as is the same table in a
 * progressive file after the first scan. */
START_TEST(jpeg_huffman_table_overflow)
{
    static const unsigned char dht[] = {0xff, 0xd8, 0xff, 0xc4, 0x00, 0x13, 0x00,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xd9};
    const char *path = tmp("bad-dht.jpg");
    expect_jpeg_refused(path, dht, sizeof dht, "4080 codes");
    /* after a scan: frame header, SOS header, entropy bytes (with a stuffed
     * FF 00 and a restart marker), then the bad table */
    static const unsigned char later[] = {0xff, 0xd8, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x08,
                                          0x00, 0x08, 0x01, 0x01, 0x11, 0x00, 0xff, 0xda,
                                          0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x12,
                                          0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xc4,
                                          0x00, 0x13, 0x10, 0x10, 0x20, 0x30, 0x40, 0x50,
                                          0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0,
                                          0xe0, 0xf0, 0xff, 0xff, 0xd9};
    expect_jpeg_refused(path, later, sizeof later, "codes (at most 256)");
    /* a stray byte before the frame header (stb skips it and reads on: the
     * first version of the pre-check stopped there; found again by
     * fuzz_image_stb), then a scan and the bad table */
    static const unsigned char stray[] = {
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0x65, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01,
        0x11, 0x00, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x12, 0x34,
        0xff, 0xc4, 0x00, 0x13, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd9};
    expect_jpeg_refused(path, stray, sizeof stray, "codes (at most 256)");
}
END_TEST

/* A scan decoded with a Huffman table no DHT segment defined: stb 2.27
 * reads the table from uninitialised memory and indexes far outside its
 * arrays (found by fuzz_image_stb: a progressive file whose AC scans come
 * before their AC table; the reproducer is in tests/fuzz/regressions). */
START_TEST(jpeg_scan_with_undefined_huffman_table)
{
    /* frame header (8x8 grey), scan with DC/AC tables 0, entropy bytes */
    static const unsigned char none[] = {0xff, 0xd8, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x08,
                                         0x00, 0x08, 0x01, 0x01, 0x11, 0x00, 0xff, 0xda,
                                         0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x12,
                                         0x34, 0xff, 0xd9};
    const char *path = tmp("undefined-table.jpg");
    expect_jpeg_refused(path, none, sizeof none, "DC Huffman table 0, which no DHT");
    /* DC table 0 defined, AC table 0 not */
    static const unsigned char dc_only[] = {
        0xff, 0xd8, 0xff, 0xc4, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x0b,
        0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00, 0xff, 0xda, 0x00, 0x08, 0x01,
        0x01, 0x00, 0x00, 0x3f, 0x00, 0x12, 0x34, 0xff, 0xd9};
    expect_jpeg_refused(path, dc_only, sizeof dc_only, "AC Huffman table 0, which no DHT");
    /* both defined (AC table 0 after the frame header, as progressive files
     * do): the pre-check lets it through; stb decodes the 8x8 block */
    static const unsigned char both[] = {
        0xff, 0xd8, 0xff, 0xc4, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x0b,
        0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00, 0xff, 0xc4, 0x00, 0x14, 0x10,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x00,
        0xff, 0xd9};
    ck_assert_int_eq(tu_write_file(path, both, sizeof both), 0);
    i2ig_image *img = NULL;
    ck_assert_msg(i2ig_image_load(path, &img) == I2IG_OK, "%s", i2ig_last_error());
    ck_assert_int_eq(i2ig_image_width(img), 8);
    i2ig_image_free(img);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("badinput");
    TCase *arch = tcase_create("architecture");
    tcase_add_test(arch, generator_file_absurd_architecture);
    tcase_add_test(arch, generator_create_absurd_architecture);
    tcase_add_test(arch, generator_deepest_configuration);
    tcase_add_test(arch, discriminator_file_absurd_architecture);
    suite_add_tcase(s, arch);
    TCase *model = tcase_create("model");
    tcase_add_test(model, generator_nan_weight);
    tcase_add_test(model, discriminator_nan_weight);
    tcase_add_test(model, wrong_model_kind);
    tcase_add_test(model, generator_metadata_mistyped_or_out_of_range);
    tcase_add_test(model, generator_tensor_shape_dtype_missing);
    tcase_add_test(model, generator_domain_metadata);
    tcase_add_test(model, unknown_domain);
    tcase_add_test(model, non_finite_pixels);
    tcase_add_test(model, jpeg_huffman_table_overflow);
    tcase_add_test(model, jpeg_scan_with_undefined_huffman_table);
    suite_add_tcase(s, model);
    TCase *res = tcase_create("resources");
    tcase_set_timeout(res, 600);
    tcase_add_test(res, out_of_memory_while_loading);
    tcase_add_test(res, disk_full_while_saving);
    suite_add_tcase(s, res);
    return s;
}

TU_RUN(suite)
