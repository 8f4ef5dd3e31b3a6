/* Model loading with hostile metadata: a structure-aware harness. The
 * input does not become the file; it is a list of edits applied to a small
 * VALID model (generator, discriminator or encoder), which the C writer
 * then writes as a well-formed .i2ig file: metadata values replaced by
 * absurd ones (negative, zero, huge, NaN...), arrays lengthened or cut,
 * keys retyped or dropped, tensors reshaped, re-typed to f16/bf16, poisoned
 * with NaN/Inf, dropped or renamed. The file is handed to one of
 * i2ig_generator_load, i2ig_discriminator_load, i2ig_encoder_load (not
 * always the one that matches: mismatches are inputs too). A model that
 * loads is then run once on a tiny input.
 *
 * Input: byte 0 = base model (bits 0-1) and loader (bits 2-3), bit 4 = run
 * the loaded model; then 12-byte edits: op, a, b, c, value (8 bytes LE).
 * The tiny encoder is tests/fuzz/models/encoder-tiny.i2ig (make_models.py). */
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "i2igalip.h"

#ifndef FUZZ_MODEL_DIR
#error "FUZZ_MODEL_DIR must name the folder of encoder-tiny.i2ig"
#endif

enum { MAX_ARRAY = 16, MAX_NUMEL = 1 << 16, MAX_EDITS = 24 };

typedef struct meta {
    char key[96];
    i2ig_meta_type type;
    size_t count;
    int64_t *iv;
    double *fv;
    char **sv; /* strings are owned by the base, or by the table below */
    int dropped;
} meta;

typedef struct tensor {
    char name[160];
    i2ig_dtype store;
    uint32_t ndim;
    uint64_t shape[I2IG_MAX_DIMS];
    size_t numel;
    float *data; /* base data, or a per-input copy when owned */
    int owned, dropped;
} tensor;

typedef struct model {
    meta *m;
    size_t nm;
    tensor *t;
    size_t nt;
} model;

static model base[3];
static char dir[128], file_path[160];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_model init: %s: %s\n", what, i2ig_last_error());
    abort();
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

/* Reads every metadata entry and tensor (as f32) of a valid file. */
static void read_model(const char *path, model *md)
{
    i2ig_weights *w;
    if (i2ig_weights_open(path, I2IG_OPEN_VERIFY_ALL, &w) != I2IG_OK) die(path);
    md->nm = i2ig_weights_meta_count(w);
    md->m = calloc(md->nm, sizeof *md->m);
    for (size_t i = 0; i < md->nm; i++) {
        meta *m = &md->m[i];
        const char *key;
        if (i2ig_weights_meta_entry(w, i, &key, &m->type) != I2IG_OK) die("meta");
        snprintf(m->key, sizeof m->key, "%s", key);
        const int64_t *ia;
        const double *fa;
        const char *const *sa;
        const char *s;
        switch (m->type) {
        case I2IG_META_INT:
            m->count = 1;
            m->iv = malloc(sizeof *m->iv);
            i2ig_weights_meta_int(w, key, m->iv);
            break;
        case I2IG_META_FLOAT:
            m->count = 1;
            m->fv = malloc(sizeof *m->fv);
            i2ig_weights_meta_float(w, key, m->fv);
            break;
        case I2IG_META_STRING:
            m->count = 1;
            m->sv = malloc(sizeof *m->sv);
            i2ig_weights_meta_string(w, key, &s);
            m->sv[0] = xstrdup(s);
            break;
        case I2IG_META_INT_ARRAY:
            i2ig_weights_meta_int_array(w, key, &ia, &m->count);
            m->iv = malloc((m->count + 1) * sizeof *m->iv);
            memcpy(m->iv, ia, m->count * sizeof *ia);
            break;
        case I2IG_META_FLOAT_ARRAY:
            i2ig_weights_meta_float_array(w, key, &fa, &m->count);
            m->fv = malloc((m->count + 1) * sizeof *m->fv);
            memcpy(m->fv, fa, m->count * sizeof *fa);
            break;
        case I2IG_META_STRING_ARRAY:
            i2ig_weights_meta_string_array(w, key, &sa, &m->count);
            m->sv = malloc((m->count + 1) * sizeof *m->sv);
            for (size_t k = 0; k < m->count; k++) m->sv[k] = xstrdup(sa[k]);
            break;
        }
    }
    md->nt = i2ig_weights_tensor_count(w);
    md->t = calloc(md->nt, sizeof *md->t);
    for (size_t i = 0; i < md->nt; i++) {
        tensor *t = &md->t[i];
        i2ig_tensor_info info;
        info.struct_size = sizeof info;
        if (i2ig_weights_tensor_info(w, i, &info) != I2IG_OK) die("tensor");
        snprintf(t->name, sizeof t->name, "%s", info.name);
        t->store = info.dtype;
        t->ndim = info.ndim;
        memcpy(t->shape, info.shape, sizeof t->shape);
        t->numel = 1;
        for (uint32_t d = 0; d < t->ndim; d++) t->numel *= (size_t)t->shape[d];
        t->data = malloc(t->numel * sizeof(float));
        if (i2ig_weights_read_f32(w, t->name, t->ndim, t->shape, t->data) != I2IG_OK) die("read");
    }
    i2ig_weights_free(w);
}

static void make_base(void)
{
    /* Generator: the paper's layout shrunk (32 channels because the
     * GroupNorm has 32 groups; two levels; attention at the second). */
    i2ig_generator_config gc;
    gc.struct_size = sizeof gc;
    i2ig_generator_config_init(&gc);
    gc.model_channels = 32;
    gc.n_levels = 2;
    gc.channel_mult[0] = 1;
    gc.channel_mult[1] = 1;
    gc.num_res_blocks = 1;
    gc.n_attention = 1;
    gc.attention_ds[0] = 2;
    gc.head_channels = 16;
    gc.context_dim = 8;
    gc.num_classes = 2;
    i2ig_generator *g;
    if (i2ig_generator_create(&gc, 1, &g) != I2IG_OK) die("generator_create");
    float ctx[3 * 8], emb[4];
    for (int i = 0; i < 24; i++) ctx[i] = (float)i / 24.0f;
    for (int i = 0; i < 4; i++) emb[i] = (float)i;
    i2ig_intensity_mapping ct = {sizeof ct, I2IG_MAPPING_WINDOW, -1000, 2000, 0, 0};
    i2ig_intensity_mapping mr = {sizeof mr, I2IG_MAPPING_PERCENTILE, 0, 1000, 1, 99};
    if (i2ig_generator_add_domain(g, "CT", "a CT scan", 0, ctx, 3, emb, 4, &ct) != I2IG_OK ||
        i2ig_generator_add_domain(g, "T1", "a T1-weighted MRI", 1, ctx, 3, emb, 4, &mr) != I2IG_OK)
        die("add_domain");
    snprintf(file_path, sizeof file_path, "%s/base-generator.i2ig", dir);
    if (i2ig_generator_save(g, file_path) != I2IG_OK) die("generator_save");
    i2ig_generator_free(g);
    read_model(file_path, &base[0]);

    i2ig_discriminator_config dc;
    dc.struct_size = sizeof dc;
    i2ig_discriminator_config_init(&dc);
    dc.num_classes = 2;
    dc.n_taps = 2;
    dc.width = 8;
    dc.text_dim = 4;
    dc.cmap_dim = 4;
    dc.kernel_size = 3;
    i2ig_discriminator *d;
    if (i2ig_discriminator_create(&dc, 2, &d) != I2IG_OK) die("discriminator_create");
    snprintf(file_path, sizeof file_path, "%s/base-discriminator.i2ig", dir);
    if (i2ig_discriminator_save(d, file_path) != I2IG_OK) die("discriminator_save");
    i2ig_discriminator_free(d);
    read_model(file_path, &base[1]);

    read_model(FUZZ_MODEL_DIR "/encoder-tiny.i2ig", &base[2]);
    snprintf(file_path, sizeof file_path, "%s/model.i2ig", dir);
}

/* The scratch folder goes when the process exits normally. */
static void clean_up(void)
{
    static const char *const names[] = {"base-generator.i2ig", "base-discriminator.i2ig",
                                        "model.i2ig"};
    char p[300];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    atexit(clean_up);
    const char *shm = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/i2ig-fuzz-model-%d", shm, (int)getpid());
    if (mkdir(dir, 0700) != 0) die(dir);
    make_base();
    return 0;
}

/* ---- edits --------------------------------------------------------------------- */

static const int64_t INTS[] = {0, 1, 2, 3, -1, -2, 7, 8, 9, 16, 31, 32, 33, 63, 64, 65, 255, 256,
                               4096, 4097, 8192, 65536, 1 << 20, INT32_MAX, (int64_t)INT32_MAX + 1,
                               INT32_MIN, INT64_MAX, INT64_MIN, 1000000000000LL};
static const double FLOATS[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e-5, 1e-12, 1e-45, 1e300, -1e300,
                                NAN, INFINITY, -INFINITY, 2.0, 1e38, 1e39};
static const char *const STRINGS[] = {"", "generator", "discriminator", "encoder", "checkpoint",
                                      "window", "percentile", "CT", "T1", "[PAD]", "[UNK]",
                                      "bicubic-antialias-shorter-side+center-crop", "a b",
                                      "x/../y", "ema", "raw",
                                      "\xc3\xa9\xe8\x84\x91", "##", "domains"};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int64_t pick_int(uint8_t c, uint64_t v)
{
    return (c & 1) ? INTS[v % N_OF(INTS)] : (int64_t)(v % 4 == 0 ? v : (v & 0xff) - 16);
}
static double pick_float(uint8_t c, uint64_t v)
{
    if (c & 1) return FLOATS[v % N_OF(FLOATS)];
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}
static char *pick_string(uint64_t v) { return (char *)STRINGS[v % N_OF(STRINGS)]; }

/* Per-input state: copies of the base entries that edits may change. */
typedef struct work {
    meta m[160];
    size_t nm;
    tensor t[256];
    size_t nt;
    /* Arrays replaced by an edit: freed after the input. */
    void *owned[MAX_EDITS * 2];
    size_t n_owned;
} work;

static void *own(work *wk, size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) abort();
    wk->owned[wk->n_owned++] = p;
    return p;
}

/* Gives entry m its own value arrays (count elements, at least one). */
static void own_values(work *wk, meta *m, size_t count)
{
    size_t keep = m->count < count ? m->count : count;
    switch (m->type) {
    case I2IG_META_INT:
    case I2IG_META_INT_ARRAY: {
        int64_t *n = own(wk, (count + 1) * sizeof *n);
        if (m->iv) memcpy(n, m->iv, keep * sizeof *n);
        for (size_t k = keep; k < count; k++) n[k] = keep ? n[keep - 1] : 1;
        m->iv = n;
        break;
    }
    case I2IG_META_FLOAT:
    case I2IG_META_FLOAT_ARRAY: {
        double *n = own(wk, (count + 1) * sizeof *n);
        if (m->fv) memcpy(n, m->fv, keep * sizeof *n);
        for (size_t k = keep; k < count; k++) n[k] = keep ? n[keep - 1] : 1.0;
        m->fv = n;
        break;
    }
    default: {
        char **n = own(wk, (count + 1) * sizeof *n);
        if (m->sv) memcpy(n, m->sv, keep * sizeof *n);
        for (size_t k = keep; k < count; k++) n[k] = keep ? n[keep - 1] : pick_string(k);
        m->sv = n;
        break;
    }
    }
    m->count = count;
}

static int is_array(i2ig_meta_type t)
{
    return t == I2IG_META_INT_ARRAY || t == I2IG_META_FLOAT_ARRAY || t == I2IG_META_STRING_ARRAY;
}

static void edit(work *wk, const uint8_t *e)
{
    uint8_t op = e[0] % 10, a = e[1], b = e[2], c = e[3];
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | e[4 + i];
    meta *m = wk->nm ? &wk->m[a % wk->nm] : NULL;
    tensor *t = wk->nt ? &wk->t[a % wk->nt] : NULL;
    if (wk->n_owned + 2 > N_OF(wk->owned)) return;
    switch (op) {
    case 0: /* one value */
        if (!m) return;
        own_values(wk, m, m->count ? m->count : 1);
        {
            size_t k = b % m->count;
            if (m->type == I2IG_META_INT || m->type == I2IG_META_INT_ARRAY) m->iv[k] = pick_int(c, v);
            else if (m->type == I2IG_META_FLOAT || m->type == I2IG_META_FLOAT_ARRAY)
                m->fv[k] = pick_float(c, v);
            else m->sv[k] = pick_string(v);
        }
        return;
    case 1: /* array length */
        if (!m || !is_array(m->type)) return;
        own_values(wk, m, b % MAX_ARRAY);
        return;
    case 2: /* another type, same key */
        if (!m) return;
        m->type = (i2ig_meta_type)(b % 6 + 1);
        m->iv = NULL;
        m->fv = NULL;
        m->sv = NULL;
        m->count = 0;
        own_values(wk, m, is_array(m->type) ? (c % 4) : 1);
        if (m->type == I2IG_META_INT || m->type == I2IG_META_INT_ARRAY)
            for (size_t k = 0; k < m->count; k++) m->iv[k] = pick_int(c, v + k);
        return;
    case 3:
        if (m) m->dropped = 1;
        return;
    case 4: /* reshape */
        if (!t) return;
        {
            uint32_t nd = b % 4 + 1;
            uint64_t sh[I2IG_MAX_DIMS];
            size_t numel = 1;
            for (uint32_t d = 0; d < nd; d++) {
                /* mostly neighbours of the real sizes, sometimes anything small */
                uint64_t real = d < t->ndim ? t->shape[d] : 1;
                uint8_t x = (uint8_t)(v >> (8 * d));
                sh[d] = (c & 1) ? (uint64_t)x + 1 : (x % 3 == 0 ? real + 1 : x % 3 == 1 ? real : (real > 1 ? real - 1 : 2));
                numel *= (size_t)sh[d];
            }
            if (numel > MAX_NUMEL) return;
            float *n = own(wk, numel * sizeof *n);
            for (size_t k = 0; k < numel; k++) n[k] = t->data[k % t->numel];
            t->ndim = nd;
            memcpy(t->shape, sh, sizeof sh);
            t->numel = numel;
            t->data = n;
            t->owned = 1;
        }
        return;
    case 5:
        if (t) t->store = (i2ig_dtype)(b % 3 + 1);
        return;
    case 6: /* poison one value */
        if (!t) return;
        {
            static const float bad[] = {NAN, INFINITY, -INFINITY, 3e38f, 1e-45f};
            float *n = own(wk, t->numel * sizeof *n);
            memcpy(n, t->data, t->numel * sizeof *n);
            n[v % t->numel] = bad[b % N_OF(bad)];
            t->data = n;
        }
        return;
    case 7:
        if (t) t->dropped = 1;
        return;
    case 8: /* swap two tensors' names */
        if (t && wk->nt > 1) {
            tensor *o = &wk->t[b % wk->nt];
            char tmp[sizeof t->name];
            memcpy(tmp, t->name, sizeof tmp);
            memcpy(t->name, o->name, sizeof tmp);
            memcpy(o->name, tmp, sizeof tmp);
        }
        return;
    case 9: /* swap two keys (types then disagree with what the key means) */
        if (m && wk->nm > 1) {
            meta *o = &wk->m[b % wk->nm];
            char tmp[sizeof m->key];
            memcpy(tmp, m->key, sizeof tmp);
            memcpy(m->key, o->key, sizeof tmp);
            memcpy(o->key, tmp, sizeof tmp);
        }
        return;
    }
}

static i2ig_status write_model(const work *wk)
{
    i2ig_weights_writer *wr;
    i2ig_status st = i2ig_weights_writer_create(&wr);
    if (st != I2IG_OK) return st;
    for (size_t i = 0; i < wk->nm && st == I2IG_OK; i++) {
        const meta *m = &wk->m[i];
        if (m->dropped) continue;
        switch (m->type) {
        case I2IG_META_INT: st = i2ig_weights_writer_set_int(wr, m->key, m->iv[0]); break;
        case I2IG_META_FLOAT: st = i2ig_weights_writer_set_float(wr, m->key, m->fv[0]); break;
        case I2IG_META_STRING: st = i2ig_weights_writer_set_string(wr, m->key, m->sv[0]); break;
        case I2IG_META_INT_ARRAY:
            st = i2ig_weights_writer_set_int_array(wr, m->key, m->iv, m->count);
            break;
        case I2IG_META_FLOAT_ARRAY:
            st = i2ig_weights_writer_set_float_array(wr, m->key, m->fv, m->count);
            break;
        case I2IG_META_STRING_ARRAY:
            st = i2ig_weights_writer_set_string_array(wr, m->key, (const char *const *)m->sv,
                                                      m->count);
            break;
        }
    }
    for (size_t i = 0; i < wk->nt && st == I2IG_OK; i++) {
        const tensor *t = &wk->t[i];
        if (t->dropped) continue;
        st = i2ig_weights_writer_add_tensor(wr, t->name, t->store, t->ndim, t->shape,
                                            I2IG_DTYPE_F32, t->data, I2IG_ADD_BORROW);
    }
    if (st == I2IG_OK) st = i2ig_weights_writer_write(wr, file_path);
    i2ig_weights_writer_free(wr);
    return st;
}

/* ---- loading and a short run ------------------------------------------------------ */

static void run_generator(i2ig_generator *g)
{
    size_t n = i2ig_generator_domain_count(g);
    if (n < 1) return;
    size_t side = i2ig_generator_size_multiple(g);
    if (side < 4) side = 4;
    if (side > 32) return;
    float in[32 * 32], out[32 * 32];
    for (size_t i = 0; i < side * side; i++) in[i] = (float)(i % 17) * 60.0f;
    const char *src = i2ig_generator_domain_name(g, 0);
    const char *dst = i2ig_generator_domain_name(g, n - 1);
    (void)i2ig_translate(g, src, dst, I2IG_DTYPE_F32, in, side, side, 1, out);
    (void)i2ig_translate(g, src, "no such domain", I2IG_DTYPE_F32, in, side, side, 1, out);
}

static void run_encoder(i2ig_encoder *e)
{
    i2ig_encoder_info info;
    info.struct_size = sizeof info;
    if (i2ig_encoder_get_info(e, &info) != I2IG_OK) abort();
    if (info.context_length > 64 || info.text_width > 64 || info.embed_dim > 64) return;
    int32_t ids[64];
    (void)i2ig_encoder_tokenize(e, "this mri is t1-weighted", ids, NULL);
    float ctx[64 * 64], emb[64];
    (void)i2ig_encoder_encode_text(e, "a ct scan of the pelvis", ctx, emb);
    if (info.image_size > 32 || info.vision_width > 64 || info.tokens > 64) return;
    float img[16 * 16], embv[64];
    for (int i = 0; i < 256; i++) img[i] = (float)(i % 13) / 13.0f;
    (void)i2ig_encoder_encode_image(e, img, 1, 16, 16, embv, NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const model *bm = &base[data[0] % 3];
    int loader = (data[0] >> 2) & 3, run = (data[0] >> 4) & 1;
    static work wk;
    memset(&wk, 0, sizeof wk);
    if (bm->nm > N_OF(wk.m) || bm->nt > N_OF(wk.t)) abort();
    wk.nm = bm->nm;
    wk.nt = bm->nt;
    memcpy(wk.m, bm->m, bm->nm * sizeof *bm->m);
    memcpy(wk.t, bm->t, bm->nt * sizeof *bm->t);
    size_t edits = (size - 1) / 12;
    if (edits > MAX_EDITS) edits = MAX_EDITS;
    for (size_t i = 0; i < edits; i++) edit(&wk, data + 1 + 12 * i);

    if (write_model(&wk) == I2IG_OK) {
        if (loader == 3) loader = data[0] % 3; /* the matching loader */
        if (loader == 0) {
            i2ig_generator *g = NULL;
            if (i2ig_generator_load(file_path, &g) == I2IG_OK && run) run_generator(g);
            i2ig_generator_free(g);
        } else if (loader == 1) {
            i2ig_discriminator *d = NULL;
            (void)i2ig_discriminator_load(file_path, &d);
            i2ig_discriminator_free(d);
        } else {
            i2ig_encoder *e = NULL;
            if (i2ig_encoder_load(file_path, &e) == I2IG_OK && run) run_encoder(e);
            i2ig_encoder_free(e);
        }
    }
    for (size_t i = 0; i < wk.n_owned; i++) free(wk.owned[i]);
    return 0;
}
