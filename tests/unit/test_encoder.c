/* The encoder handle on tiny encoder files written here with the C writer:
 * loading and its refusals, the outputs of a model whose blocks are the
 * identity (hand-computable), repeated calls creating no oneDNN primitive,
 * and argument checks. The numerics against PyTorch live in
 * tests/python/test_encoder*.py. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "i2igalip.h"
#include "encoder/encoder_internal.h"
#include "kernels/kernels.h"
#include "testutil.h"

/* Tiny architecture: vision 16x16, patch 8 (4 tokens), width 8, 2 blocks
 * (both tapped), 2 heads, mlp 16, embedding 4; text 1 layer, width 8,
 * 2 heads, context 8 of 10 positions, 12 tokens, projection 6. */
enum { IMG = 16, P = 8, T = 4, C = 8, DEPTH = 2, M = 16, E = 4 };
enum { V = 12, L = 8, MAXPOS = 10, TC = 8, TM = 16, PH = 6 };
static const char *const VOCAB[V] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "this",
                                     "is",    "mri",   "t1",    "-",     "weighted", "a"};

typedef struct variant {
    const char *omit_tensor;  /* leave this tensor out */
    const char *bad_tensor;   /* store this one with one row too many */
    const char *omit_meta;    /* leave this metadata key out */
    int identity;             /* zero every block weight: blocks are x -> x */
} variant;

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

/* Known values for the identity model: conv bias, class token, positions,
 * head weight (seeded as the writer adds them). */
static float g_patch_b[C], g_cls[C], g_pos[(T + 1) * C], g_head[E * C];

static void add(i2ig_weights_writer *w, const variant *v, const char *name, int ndim,
                uint64_t d0, uint64_t d1, uint64_t d2, uint64_t d3, float scale, float offset,
                float *keep)
{
    if (v->omit_tensor && strcmp(name, v->omit_tensor) == 0) return;
    uint64_t shape[4] = {d0, d1, d2, d3};
    if (v->bad_tensor && strcmp(name, v->bad_tensor) == 0) shape[0]++;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    float *data = malloc(n * sizeof *data);
    int zero = v->identity && strstr(name, "visual.trunk.blocks.") &&
               (strstr(name, "qkv") || strstr(name, "proj") || strstr(name, "fc"));
    if (strstr(name, "patch_embed.proj.weight") && v->identity) zero = 1;
    for (size_t i = 0; i < n; i++) data[i] = zero ? 0.0f : offset + scale * frand();
    if (keep) memcpy(keep, data, n * sizeof *data);
    ck_assert_int_eq(i2ig_weights_writer_add_tensor(w, name, I2IG_DTYPE_F32, (uint32_t)ndim, shape,
                                                    I2IG_DTYPE_F32, data, 0),
                     I2IG_OK);
    free(data);
}

static void meta_int(i2ig_weights_writer *w, const variant *v, const char *key, int64_t val)
{
    if (v->omit_meta && strcmp(key, v->omit_meta) == 0) return;
    ck_assert_int_eq(i2ig_weights_writer_set_int(w, key, val), I2IG_OK);
}

static void meta_float(i2ig_weights_writer *w, const variant *v, const char *key, double val)
{
    if (v->omit_meta && strcmp(key, v->omit_meta) == 0) return;
    ck_assert_int_eq(i2ig_weights_writer_set_float(w, key, val), I2IG_OK);
}

static const char *write_encoder(const char *file, const variant *v)
{
    static char path[512];
    tu_tmp(path, sizeof path, file);
    i2ig_weights_writer *w;
    ck_assert_int_eq(i2ig_weights_writer_create(&w), I2IG_OK);
    if (!v->omit_meta || strcmp(v->omit_meta, "model.kind"))
        ck_assert_int_eq(i2ig_weights_writer_set_string(w, "model.kind", "encoder"), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_string(w, "preprocess.resize",
                                                    IG_ENCODER_RESIZE_MODE), I2IG_OK);
    meta_int(w, v, "encoder.embed_dim", E);
    meta_int(w, v, "vision.image_size", IMG);
    meta_int(w, v, "vision.patch_size", P);
    meta_int(w, v, "vision.width", C);
    meta_int(w, v, "vision.depth", DEPTH);
    meta_int(w, v, "vision.heads", 2);
    meta_int(w, v, "vision.mlp_dim", M);
    meta_float(w, v, "vision.ln_eps", 1e-6);
    meta_int(w, v, "vision.n_cls", 2);
    int64_t taps[2] = {0, 1};
    ck_assert_int_eq(i2ig_weights_writer_set_int_array(w, "vision.taps", taps, 2), I2IG_OK);
    double mean[3] = {0.48145466, 0.4578275, 0.40821073}, sd[3] = {0.26862954, 0.26130258,
                                                                   0.27577711};
    ck_assert_int_eq(i2ig_weights_writer_set_float_array(w, "preprocess.mean", mean, 3), I2IG_OK);
    ck_assert_int_eq(i2ig_weights_writer_set_float_array(w, "preprocess.std", sd, 3), I2IG_OK);
    meta_int(w, v, "text.context_length", L);
    meta_int(w, v, "text.width", TC);
    meta_int(w, v, "text.depth", 1);
    meta_int(w, v, "text.heads", 2);
    meta_int(w, v, "text.mlp_dim", TM);
    meta_float(w, v, "text.ln_eps", 1e-12);
    meta_int(w, v, "text.max_positions", MAXPOS);
    meta_int(w, v, "text.type_vocab", 2);
    meta_int(w, v, "text.proj_hidden", PH);
    meta_int(w, v, "text.pad_id", 0);
    ck_assert_int_eq(i2ig_weights_writer_set_string_array(w, "text.vocab", VOCAB, V), I2IG_OK);

    float wc = 1.0f / sqrtf((float)C);
    add(w, v, "visual.trunk.patch_embed.proj.weight", 4, C, 3, P, P, 0.1f, 0, NULL);
    add(w, v, "visual.trunk.patch_embed.proj.bias", 1, C, 0, 0, 0, 0.5f, 0, g_patch_b);
    add(w, v, "visual.trunk.cls_token", 3, 1, 1, C, 0, 0.5f, 0, g_cls);
    add(w, v, "visual.trunk.pos_embed", 3, 1, T + 1, C, 0, 0.5f, 0, g_pos);
    char nm[128];
    for (int i = 0; i < DEPTH; i++) {
#define VB(leaf) (snprintf(nm, sizeof nm, "visual.trunk.blocks.%d.%s", i, leaf), nm)
        add(w, v, VB("norm1.weight"), 1, C, 0, 0, 0, 0.2f, 1, NULL);
        add(w, v, VB("norm1.bias"), 1, C, 0, 0, 0, 0.1f, 0, NULL);
        add(w, v, VB("attn.qkv.weight"), 2, 3 * C, C, 0, 0, wc, 0, NULL);
        add(w, v, VB("attn.qkv.bias"), 1, 3 * C, 0, 0, 0, 0.1f, 0, NULL);
        add(w, v, VB("attn.proj.weight"), 2, C, C, 0, 0, wc, 0, NULL);
        add(w, v, VB("attn.proj.bias"), 1, C, 0, 0, 0, 0.1f, 0, NULL);
        add(w, v, VB("norm2.weight"), 1, C, 0, 0, 0, 0.2f, 1, NULL);
        add(w, v, VB("norm2.bias"), 1, C, 0, 0, 0, 0.1f, 0, NULL);
        add(w, v, VB("mlp.fc1.weight"), 2, M, C, 0, 0, wc, 0, NULL);
        add(w, v, VB("mlp.fc1.bias"), 1, M, 0, 0, 0, 0.1f, 0, NULL);
        add(w, v, VB("mlp.fc2.weight"), 2, C, M, 0, 0, 0.25f, 0, NULL);
        add(w, v, VB("mlp.fc2.bias"), 1, C, 0, 0, 0, 0.1f, 0, NULL);
#undef VB
    }
    /* The final norm is the identity affine map in every variant, so the
     * hand computation below needs no gamma/beta. */
    add(w, v, "visual.trunk.norm.weight", 1, C, 0, 0, 0, 0, 1, NULL);
    add(w, v, "visual.trunk.norm.bias", 1, C, 0, 0, 0, 0, 0, NULL);
    add(w, v, "visual.head.proj.weight", 2, E, C, 0, 0, wc, 0, g_head);

    const char *e = "text.transformer.embeddings.";
#define TE(leaf) (snprintf(nm, sizeof nm, "%s%s", e, leaf), nm)
    add(w, v, TE("word_embeddings.weight"), 2, V, TC, 0, 0, 1, 0, NULL);
    add(w, v, TE("position_embeddings.weight"), 2, MAXPOS, TC, 0, 0, 0.5f, 0, NULL);
    add(w, v, TE("token_type_embeddings.weight"), 2, 2, TC, 0, 0, 0.5f, 0, NULL);
    add(w, v, TE("LayerNorm.weight"), 1, TC, 0, 0, 0, 0.2f, 1, NULL);
    add(w, v, TE("LayerNorm.bias"), 1, TC, 0, 0, 0, 0.1f, 0, NULL);
#undef TE
#define TL(leaf) (snprintf(nm, sizeof nm, "text.transformer.encoder.layer.0.%s", leaf), nm)
    const char *parts[3] = {"query", "key", "value"};
    for (int p = 0; p < 3; p++) {
        char leaf[64];
        snprintf(leaf, sizeof leaf, "attention.self.%s.weight", parts[p]);
        add(w, v, TL(leaf), 2, TC, TC, 0, 0, wc, 0, NULL);
        snprintf(leaf, sizeof leaf, "attention.self.%s.bias", parts[p]);
        add(w, v, TL(leaf), 1, TC, 0, 0, 0, 0.1f, 0, NULL);
    }
    add(w, v, TL("attention.output.dense.weight"), 2, TC, TC, 0, 0, wc, 0, NULL);
    add(w, v, TL("attention.output.dense.bias"), 1, TC, 0, 0, 0, 0.1f, 0, NULL);
    add(w, v, TL("attention.output.LayerNorm.weight"), 1, TC, 0, 0, 0, 0.2f, 1, NULL);
    add(w, v, TL("attention.output.LayerNorm.bias"), 1, TC, 0, 0, 0, 0.1f, 0, NULL);
    add(w, v, TL("intermediate.dense.weight"), 2, TM, TC, 0, 0, wc, 0, NULL);
    add(w, v, TL("intermediate.dense.bias"), 1, TM, 0, 0, 0, 0.1f, 0, NULL);
    add(w, v, TL("output.dense.weight"), 2, TC, TM, 0, 0, 0.25f, 0, NULL);
    add(w, v, TL("output.dense.bias"), 1, TC, 0, 0, 0, 0.1f, 0, NULL);
    add(w, v, TL("output.LayerNorm.weight"), 1, TC, 0, 0, 0, 0.2f, 1, NULL);
    add(w, v, TL("output.LayerNorm.bias"), 1, TC, 0, 0, 0, 0.1f, 0, NULL);
#undef TL
    add(w, v, "text.proj.0.weight", 2, PH, TC, 0, 0, wc, 0, NULL);
    add(w, v, "text.proj.2.weight", 2, E, PH, 0, 0, 0.4f, 0, NULL);
    ck_assert_int_eq(i2ig_weights_writer_write(w, path), I2IG_OK);
    i2ig_weights_writer_free(w);
    return path;
}

static i2ig_encoder *load_ok(const char *file, const variant *v)
{
    i2ig_encoder *h = NULL;
    const char *path = write_encoder(file, v);
    ck_assert_msg(i2ig_encoder_load(path, &h) == I2IG_OK, "%s", i2ig_last_error());
    return h;
}

/* LayerNorm without affine, in double: the hand computation. */
static void ln(const float *x, double *y, int n, double eps)
{
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++) mean += x[i];
    mean /= n;
    for (int i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= n;
    for (int i = 0; i < n; i++) y[i] = (x[i] - mean) / sqrt(var + eps);
}

START_TEST(info_after_load)
{
    variant v = {0};
    i2ig_encoder *h = load_ok("enc_info.i2ig", &v);
    i2ig_encoder_info info;
    memset(&info, 0xff, sizeof info);
    info.struct_size = sizeof info;
    ck_assert_int_eq(i2ig_encoder_get_info(h, &info), I2IG_OK);
    ck_assert_int_eq(info.image_size, IMG);
    ck_assert_int_eq(info.patch_size, P);
    ck_assert_int_eq(info.vision_width, C);
    ck_assert_int_eq(info.vision_depth, DEPTH);
    ck_assert_int_eq(info.vision_heads, 2);
    ck_assert_int_eq(info.tokens, T);
    ck_assert_int_eq(info.embed_dim, E);
    ck_assert_int_eq(info.n_taps, 2);
    ck_assert_int_eq(info.taps[0], 0);
    ck_assert_int_eq(info.taps[1], 1);
    ck_assert_int_eq(info.taps[2], 0);
    ck_assert_int_eq(info.n_cls, 2);
    ck_assert_int_eq(info.context_length, L);
    ck_assert_int_eq(info.text_width, TC);
    ck_assert_int_eq(info.text_depth, 1);
    ck_assert_int_eq(info.vocab_size, V);
    i2ig_encoder_free(h);
}
END_TEST

/* Identity blocks, zero patch weights: every patch token is conv bias +
 * its position embedding, the class token is cls + pos[0]; each output is
 * the (affine-free) final LayerNorm of those, whatever the image. */
START_TEST(identity_blocks_by_hand)
{
    variant v = {0};
    v.identity = 1;
    i2ig_encoder *h = load_ok("enc_identity.i2ig", &v);
    float img[2 * 20 * 24];
    for (size_t i = 0; i < sizeof img / sizeof img[0]; i++) img[i] = 0.5f + 0.5f * frand();
    float emb[2 * E], taps[2 * 2 * T * C], cls[2 * 2 * C];
    ck_assert_int_eq(i2ig_encoder_encode_image(h, img, 2, 24, 20, emb, taps, cls), I2IG_OK);
    double ref[C], emb_ref[E];
    float tok[C];
    for (int j = 0; j < C; j++) tok[j] = g_cls[j] + g_pos[j];
    ln(tok, ref, C, 1e-6);
    for (int k = 0; k < E; k++) {
        emb_ref[k] = 0;
        for (int j = 0; j < C; j++) emb_ref[k] += g_head[k * C + j] * ref[j];
    }
    for (int b = 0; b < 2; b++) {
        for (int k = 0; k < E; k++) ck_assert_double_eq_tol(emb[b * E + k], emb_ref[k], 1e-5);
        for (int r = 0; r < 2; r++)
            for (int j = 0; j < C; j++)
                ck_assert_double_eq_tol(cls[(b * 2 + r) * C + j], ref[j], 1e-5);
        for (int t = 0; t < T; t++) {
            double pref[C];
            for (int j = 0; j < C; j++) tok[j] = g_patch_b[j] + g_pos[(1 + t) * C + j];
            ln(tok, pref, C, 1e-6);
            for (int tap = 0; tap < 2; tap++)
                for (int j = 0; j < C; j++)
                    ck_assert_double_eq_tol(taps[((b * 2 + tap) * T + t) * C + j], pref[j], 1e-5);
        }
    }
    /* Nothing depends on the image: its gradient is exactly zero. */
    float d_img[2 * 20 * 24];
    ck_assert_int_eq(i2ig_encoder_image_grad(h, img, 2, 24, 20, emb, taps, cls, d_img), I2IG_OK);
    for (size_t i = 0; i < sizeof d_img / sizeof d_img[0]; i++) ck_assert_float_eq(d_img[i], 0.0f);
    i2ig_encoder_free(h);
}
END_TEST

START_TEST(second_call_creates_no_primitive)
{
    variant v = {0};
    i2ig_encoder *h = load_ok("enc_prims.i2ig", &v);
    ck_assert_int_eq(i2ig_encoder_set_threads(h, 2), I2IG_OK);
    ig_engine *e = ig_encoder_engine(h);
    enum { N = 2, H = 21, W = 19 };
    float img[N * H * W], emb[N * E], taps[N * 2 * T * C], cls[N * 2 * C], d_img[N * H * W];
    for (int i = 0; i < N * H * W; i++) img[i] = 0.5f + 0.5f * frand();
    float ctx[L * TC], temb[E];

    ck_assert_int_eq(i2ig_encoder_encode_image(h, img, N, W, H, emb, taps, cls), I2IG_OK);
    uint64_t before = ig_engine_primitives_created(e);
    ck_assert_uint_gt(before, 0);
    ck_assert_int_eq(i2ig_encoder_encode_image(h, img, N, W, H, emb, taps, cls), I2IG_OK);
    ck_assert_uint_eq(ig_engine_primitives_created(e), before);

    ck_assert_int_eq(i2ig_encoder_image_grad(h, img, N, W, H, emb, taps, cls, d_img), I2IG_OK);
    before = ig_engine_primitives_created(e);
    ck_assert_int_eq(i2ig_encoder_image_grad(h, img, N, W, H, emb, taps, cls, d_img), I2IG_OK);
    ck_assert_uint_eq(ig_engine_primitives_created(e), before);

    ck_assert_int_eq(i2ig_encoder_encode_text(h, "this mri is t1-weighted", ctx, temb), I2IG_OK);
    before = ig_engine_primitives_created(e);
    ck_assert_int_eq(i2ig_encoder_encode_text(h, "a mri", ctx, temb), I2IG_OK);
    ck_assert_uint_eq(ig_engine_primitives_created(e), before);
    /* And the image path still creates none after the others ran. */
    ck_assert_int_eq(i2ig_encoder_encode_image(h, img, N, W, H, emb, taps, cls), I2IG_OK);
    ck_assert_uint_eq(ig_engine_primitives_created(e), before);
    i2ig_encoder_free(h);
}
END_TEST

START_TEST(tokenize_and_padding)
{
    variant v = {0};
    i2ig_encoder *h = load_ok("enc_tok.i2ig", &v);
    int32_t ids[L];
    size_t n = 0;
    ck_assert_int_eq(i2ig_encoder_tokenize(h, "This MRI is T1-weighted", ids, &n), I2IG_OK);
    const int32_t want[L] = {2, 5, 7, 6, 8, 9, 10, 3};
    for (int i = 0; i < L; i++) ck_assert_int_eq(ids[i], want[i]);
    ck_assert_uint_eq(n, 8);
    ck_assert_int_eq(i2ig_encoder_tokenize(h, "a", ids, NULL), I2IG_OK);
    const int32_t want2[L] = {2, 11, 3, 0, 0, 0, 0, 0};
    for (int i = 0; i < L; i++) ck_assert_int_eq(ids[i], want2[i]);
    ck_assert_int_eq(i2ig_encoder_tokenize(h, "this mri is t1-weighted a", ids, &n), I2IG_ERR_TEXT);
    ck_assert_int_eq(i2ig_encoder_tokenize(h, "mri \xff", ids, &n), I2IG_ERR_TEXT);
    float ctx[L * TC];
    ck_assert_int_eq(i2ig_encoder_encode_text(h, "\xc3\x28", ctx, NULL), I2IG_ERR_TEXT);
    i2ig_encoder_free(h);
}
END_TEST

/* Every position of the context is filled (padding included: the
 * generator attends to all of them) with finite values. */
START_TEST(text_outputs_finite)
{
    variant v = {0};
    i2ig_encoder *h = load_ok("enc_text.i2ig", &v);
    float ctx[L * TC], emb[E];
    for (int i = 0; i < L * TC; i++) ctx[i] = NAN;
    for (int i = 0; i < E; i++) emb[i] = NAN;
    ck_assert_int_eq(i2ig_encoder_encode_text(h, "a", ctx, emb), I2IG_OK);
    for (int i = 0; i < L * TC; i++) ck_assert(isfinite(ctx[i]));
    for (int i = 0; i < E; i++) ck_assert(isfinite(emb[i]));
    /* Padding positions 3..7 all hold the same word ([PAD]) but different
     * position embeddings: their states differ. */
    ck_assert(memcmp(ctx + 3 * TC, ctx + 4 * TC, TC * sizeof(float)) != 0);
    i2ig_encoder_free(h);
}
END_TEST

START_TEST(load_refusals)
{
    i2ig_encoder *h = (i2ig_encoder *)&h;
    variant v = {0};
    v.omit_tensor = "visual.trunk.blocks.1.mlp.fc2.bias";
    const char *path = write_encoder("enc_missing.i2ig", &v);
    ck_assert_int_eq(i2ig_encoder_load(path, &h), I2IG_ERR_MISSING_TENSOR);
    ck_assert_ptr_null(h);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), path));
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "'visual.trunk.blocks.1.mlp.fc2.bias'"));

    memset(&v, 0, sizeof v);
    v.bad_tensor = "text.transformer.encoder.layer.0.attention.self.value.weight";
    path = write_encoder("enc_shape.i2ig", &v);
    ck_assert_int_eq(i2ig_encoder_load(path, &h), I2IG_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), path));
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "shape 9x8 expected 8x8"));

    memset(&v, 0, sizeof v);
    v.omit_meta = "text.heads";
    path = write_encoder("enc_meta.i2ig", &v);
    ck_assert_int_eq(i2ig_encoder_load(path, &h), I2IG_ERR_METADATA);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "'text.heads'"));

    memset(&v, 0, sizeof v);
    v.omit_meta = "model.kind";
    path = write_encoder("enc_kind.i2ig", &v);
    ck_assert_int_eq(i2ig_encoder_load(path, &h), I2IG_ERR_METADATA);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "model.kind"));

    ck_assert_int_eq(i2ig_encoder_load(NULL, &h), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_encoder_load(path, NULL), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_encoder_load("/nonexistent/enc.i2ig", &h), I2IG_ERR_IO);
}
END_TEST

START_TEST(bad_calls)
{
    variant v = {0};
    i2ig_encoder *h = load_ok("enc_calls.i2ig", &v);
    float img[64], out[4096], d[64];
    for (int i = 0; i < 64; i++) img[i] = 0.5f;
    ck_assert_int_eq(i2ig_encoder_encode_image(NULL, img, 1, 8, 8, out, NULL, NULL),
                     I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_encoder_encode_image(h, NULL, 1, 8, 8, out, NULL, NULL),
                     I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_encoder_encode_image(h, img, 0, 8, 8, out, NULL, NULL),
                     I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_encoder_encode_image(h, img, 1, 0, 8, out, NULL, NULL),
                     I2IG_ERR_INVALID_ARGUMENT);
    /* Refused on the dimensions alone: the 64-float buffer is never read
     * past its end. */
    ck_assert_int_eq(i2ig_encoder_encode_image(h, img, 1, 16385, 1, out, NULL, NULL),
                     I2IG_ERR_TOO_LARGE);
    ck_assert_int_eq(i2ig_encoder_encode_image(h, img, 4097, 1, 1, out, NULL, NULL),
                     I2IG_ERR_TOO_LARGE);
    img[17] = NAN;
    ck_assert_int_eq(i2ig_encoder_encode_image(h, img, 1, 8, 8, out, NULL, NULL),
                     I2IG_ERR_NOT_FINITE);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "x 1, y 2"));
    img[17] = INFINITY;
    ck_assert_int_eq(i2ig_encoder_image_grad(h, img, 1, 8, 8, out, NULL, NULL, d),
                     I2IG_ERR_NOT_FINITE);
    img[17] = 0.5f;
    ck_assert_int_eq(i2ig_encoder_image_grad(h, img, 1, 8, 8, out, NULL, NULL, NULL),
                     I2IG_ERR_INVALID_ARGUMENT);
    /* No output gradient: the input gradient is zero. */
    for (int i = 0; i < 64; i++) d[i] = NAN;
    ck_assert_int_eq(i2ig_encoder_image_grad(h, img, 1, 8, 8, NULL, NULL, NULL, d), I2IG_OK);
    for (int i = 0; i < 64; i++) ck_assert_float_eq(d[i], 0.0f);
    ck_assert_int_eq(i2ig_encoder_set_threads(h, 0), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_encoder_set_threads(NULL, 1), I2IG_ERR_INVALID_ARGUMENT);
    i2ig_encoder_info info;
    info.struct_size = sizeof info - 1;
    ck_assert_int_eq(i2ig_encoder_get_info(h, &info), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_encoder_get_info(NULL, &info), I2IG_ERR_INVALID_ARGUMENT);
    int32_t ids[L];
    ck_assert_int_eq(i2ig_encoder_tokenize(NULL, "a", ids, NULL), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_encoder_tokenize(h, NULL, ids, NULL), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_encoder_tokenize(h, "a", NULL, NULL), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_encoder_encode_text(NULL, "a", out, NULL), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(i2ig_encoder_encode_text(h, NULL, out, NULL), I2IG_ERR_INVALID_ARGUMENT);
    i2ig_encoder_free(h);
    i2ig_encoder_free(NULL);
}
END_TEST

static Suite *encoder_suite(void)
{
    Suite *s = suite_create("encoder");
    TCase *tc = tcase_create("encoder");
    tcase_add_test(tc, info_after_load);
    tcase_add_test(tc, identity_blocks_by_hand);
    tcase_add_test(tc, second_call_creates_no_primitive);
    tcase_add_test(tc, tokenize_and_padding);
    tcase_add_test(tc, text_outputs_finite);
    tcase_add_test(tc, load_refusals);
    tcase_add_test(tc, bad_calls);
    suite_add_tcase(s, tc);
    return s;
}

TU_RUN(encoder_suite)
