/* WordPiece tokenizer: ids worked out by hand from BertTokenizer's rules on
 * a small vocabulary, context-length and UTF-8 errors, vocabulary checks,
 * speed with a PubMedBERT-sized vocabulary. (tests/python/test_wordpiece.py
 * compares against a Python transcription of HF on many more inputs.) */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "encoder/wordpiece.h"
#include "testutil.h"

/* Ids are the indices in this list. */
static const char *const VOCAB[] = {
    "[PAD]",    /* 0 */
    "[UNK]",    /* 1 */
    "[CLS]",    /* 2 */
    "[SEP]",    /* 3 */
    "[MASK]",   /* 4 */
    "this",     /* 5 */
    "is",       /* 6 */
    "mri",      /* 7 */
    "t1",       /* 8 */
    "-",        /* 9 */
    "weighted", /* 10 */
    "##weight", /* 11 */
    "##ed",     /* 12 */
    "flair",    /* 13 */
    "pd",       /* 14 */
    "pelvis",   /* 15 */
    "ct",       /* 16 */
    "t2",       /* 17 */
    "resume",   /* 18 */
    "angstrom", /* 19 */
    ".",        /* 20 */
    ",",        /* 21 */
    "un",       /* 22 */
    "##aff",    /* 23 */
    "##able",   /* 24 */
    "\xe8\x84\x91", /* 25: 脑 */
    "a",        /* 26 */
    "##a",      /* 27 */
    "[",        /* 28 */
    "]",        /* 29 */
    "mask",     /* 30 */
    "(",        /* 31 */
    ")",        /* 32 */
    "$",        /* 33 */
    "^",        /* 34 */
    "\xcf\x83", /* 35: σ */
    "i",        /* 36 */
    "##i",      /* 37 */
};
#define NV (sizeof VOCAB / sizeof VOCAB[0])
enum { PAD = 0, UNK = 1, CLS = 2, SEP = 3, MASK = 4 };

static ig_wordpiece *make(void)
{
    ig_wordpiece *wp = NULL;
    ck_assert_int_eq(ig_wordpiece_create(VOCAB, NV, &wp), I2IG_OK);
    ck_assert_ptr_nonnull(wp);
    return wp;
}

/* Encodes text into ctx ids and checks them against want (n ids, then
 * padding). */
static void expect(ig_wordpiece *wp, const char *text, size_t ctx, const int32_t *want, size_t n)
{
    int32_t ids[300];
    size_t got_n = 999;
    ck_assert_uint_le(ctx, 300);
    i2ig_status st = ig_wordpiece_encode(wp, text, ids, ctx, &got_n);
    ck_assert_msg(st == I2IG_OK, "'%s': status %d: %s", text, st, i2ig_last_error());
    ck_assert_uint_eq(got_n, n);
    for (size_t i = 0; i < ctx; i++)
        ck_assert_msg(ids[i] == (i < n ? want[i] : PAD), "'%s': id %zu is %d, expected %d", text,
                      i, ids[i], i < n ? want[i] : PAD);
}
#define EXPECT(wp, text, ...)                                                                     \
    do {                                                                                          \
        const int32_t w_[] = {__VA_ARGS__};                                                       \
        expect(wp, text, 16, w_, sizeof w_ / sizeof w_[0]);                                       \
    } while (0)

START_TEST(reference_prompts)
{
    ig_wordpiece *wp = make();
    ck_assert_uint_eq(ig_wordpiece_vocab_size(wp), NV);
    EXPECT(wp, "this MRI is T1-weighted", CLS, 5, 7, 6, 8, 9, 10, SEP);
    EXPECT(wp, "this MRI is T2-weighted", CLS, 5, 7, 6, 17, 9, 10, SEP);
    EXPECT(wp, "this MRI is PD-weighted", CLS, 5, 7, 6, 14, 9, 10, SEP);
    EXPECT(wp, "this MRI is Flair-weighted", CLS, 5, 7, 6, 13, 9, 10, SEP);
    EXPECT(wp, "this is pelvis ct", CLS, 5, 6, 15, 16, SEP);
    EXPECT(wp, "this is pelvis mri", CLS, 5, 6, 15, 7, SEP);
    ig_wordpiece_free(wp);
}
END_TEST

START_TEST(basic_rules)
{
    ig_wordpiece *wp = make();
    /* Greedy longest match with "##" continuations. */
    EXPECT(wp, "unaffable", CLS, 22, 23, 24, SEP);
    /* A rest that no entry covers makes the whole word [UNK]. */
    EXPECT(wp, "unaffablex mri", CLS, UNK, 7, SEP);
    /* "weighted" is an entry, so "##weight" + "##ed" only follows a
     * prefix. */
    EXPECT(wp, "T1weighted", CLS, 8, 11, 12, SEP);
    /* Accents: lower-case, NFD, drop Mn (precomposed and combining). */
    EXPECT(wp, "R\xc3\xa9sum\xc3\xa9 Re\xcc\x81SUME\xcc\x81", CLS, 18, 18, SEP);
    EXPECT(wp, "\xc3\x85ngstr\xc3\xb6m \xe2\x84\xab" "ngstr\xc3\xb6m", CLS, 19, 19, SEP);
    /* U+0130 lowers to "i" + U+0307, which NFD keeps and Mn stripping drops. */
    EXPECT(wp, "\xc4\xb0\xc4\xb0", CLS, 36, 37, SEP);
    /* CJK ideographs are words of their own; punctuation splits. */
    EXPECT(wp, "\xe8\x84\x91MRI,ct.", CLS, 25, 7, 21, 16, 20, SEP);
    /* ASCII symbols that are not Unicode punctuation still split ($ ^). */
    EXPECT(wp, "$mri^(ct)", CLS, 33, 7, 34, 31, 16, 32, SEP);
    /* Whitespace, control and format characters: \t \n \r and NBSP
     * separate; \x01, DEL, ZWSP (Cf) and U+FFFD vanish and join. */
    EXPECT(wp, "\tthis\nis\r\xc2\xa0mri", CLS, 5, 6, 7, SEP);
    EXPECT(wp, "m\x01r\x7fi\xe2\x80\x8b\xef\xbf\xbd", CLS, 7, SEP);
    /* LINE SEPARATOR is kept by the cleaning but splits like a space. */
    EXPECT(wp, "mri\xe2\x80\xa8" "ct", CLS, 7, 16, SEP);
    /* Each character lower-cased alone: a final capital sigma gives σ. */
    EXPECT(wp, "\xce\xa3", CLS, 35, SEP);
    /* Emoji: a word with no entry. */
    EXPECT(wp, "mri \xf0\x9f\xa7\xa0", CLS, 7, UNK, SEP);
    /* Blank prompts. */
    EXPECT(wp, "", CLS, SEP);
    EXPECT(wp, " \t\n\x01", CLS, SEP);
    ig_wordpiece_free(wp);
}
END_TEST

START_TEST(long_words)
{
    ig_wordpiece *wp = make();
    char text[256];
    int32_t want[110];
    /* 100 characters are pieced ("a" then 99 x "##a"); 101 are one [UNK]. */
    memset(text, 'a', 100);
    text[100] = 0;
    want[0] = CLS;
    want[1] = 26;
    for (int i = 2; i <= 100; i++) want[i] = 27;
    want[101] = SEP;
    expect(wp, text, 102, want, 102);
    text[100] = 'A';
    text[101] = 0;
    const int32_t unk[] = {CLS, UNK, SEP};
    expect(wp, text, 8, unk, 3);
    /* The limit counts characters, not bytes: 100 x "é" (200 bytes) are
     * 100 characters after stripping accents. */
    for (int i = 0; i < 100; i++) memcpy(text + 2 * i, "\xc3\xa1", 2);
    text[200] = 0;
    expect(wp, text, 102, want, 102);
    ig_wordpiece_free(wp);
}
END_TEST

START_TEST(special_tokens_in_text)
{
    ig_wordpiece *wp = make();
    /* Exact special strings map to their ids; neighbours are split off. */
    EXPECT(wp, "[MASK] is[SEP]mri [CLS][PAD] [UNK]", CLS, MASK, 6, SEP, 7, CLS, PAD, UNK, SEP);
    /* Any other spelling is ordinary text. */
    EXPECT(wp, "[mask] [Mask]", CLS, 28, 30, 29, 28, 30, 29, SEP);
    ig_wordpiece_free(wp);

    /* Without [MASK] in the vocabulary "[MASK]" is ordinary text too. */
    const char *v2[NV];
    memcpy(v2, VOCAB, sizeof VOCAB);
    v2[MASK] = "unused";
    ck_assert_int_eq(ig_wordpiece_create(v2, NV, &wp), I2IG_OK);
    EXPECT(wp, "[MASK]", CLS, 28, 30, 29, SEP);
    ig_wordpiece_free(wp);
}
END_TEST

START_TEST(context_length)
{
    ig_wordpiece *wp = make();
    int32_t ids[8];
    size_t n = 0;
    /* Exactly full: [CLS] + 6 pieces + [SEP] in 8. */
    const int32_t want[] = {CLS, 5, 7, 6, 8, 9, 10, SEP};
    expect(wp, "this MRI is T1-weighted", 8, want, 8);
    /* One more: an error giving both counts, and the count. */
    ck_assert_int_eq(ig_wordpiece_encode(wp, "this MRI is T1-weighted ct", ids, 8, &n), I2IG_ERR_TEXT);
    ck_assert_uint_eq(n, 9);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "9 tokens"));
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "context length 8"));
    /* Nothing is written past the context, however long the prompt. */
    int32_t guarded[5] = {-7, -7, -7, -7, -7};
    ck_assert_int_eq(ig_wordpiece_encode(wp, "mri mri mri mri mri mri", guarded, 4, &n),
                     I2IG_ERR_TEXT);
    ck_assert_uint_eq(n, 8);
    ck_assert_int_eq(guarded[4], -7);
    /* A multi-piece word crossing the end. */
    ck_assert_int_eq(ig_wordpiece_encode(wp, "this mri is unaffable", ids, 7, &n), I2IG_ERR_TEXT);
    ck_assert_uint_eq(n, 8);
    /* Empty prompt in the smallest context; a context of 1 is refused. */
    const int32_t empty[] = {CLS, SEP};
    expect(wp, "", 2, empty, 2);
    ck_assert_int_eq(ig_wordpiece_encode(wp, "", ids, 1, &n), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ig_wordpiece_encode(wp, "mri", ids, 2, NULL), I2IG_ERR_TEXT);
    /* NULL arguments. */
    ck_assert_int_eq(ig_wordpiece_encode(NULL, "", ids, 8, &n), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ig_wordpiece_encode(wp, NULL, ids, 8, &n), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ig_wordpiece_encode(wp, "", NULL, 8, &n), I2IG_ERR_INVALID_ARGUMENT);
    ig_wordpiece_free(wp);
}
END_TEST

START_TEST(invalid_utf8)
{
    static const struct {
        const char *text;
        size_t offset;
        const char *why;
    } cases[] = {
        {"\xc0\xaf", 0, "overlong"},           {"ok \xc1\xbf", 3, "overlong"},
        {"\xe0\x80\xaf", 0, "overlong"},       {"\xf0\x8f\xbf\xbf", 0, "overlong"},
        {"mri \xed\xa0\x80", 4, "surrogate"},  {"\xed\xbf\xbf", 0, "surrogate"},
        {"\xf4\x90\x80\x80", 0, "U+10FFFF"},   {"x\xf5\x80\x80\x80", 1, "0xF5"},
        {"\xff", 0, "0xF5"},                   {"T1\x80", 2, "continuation"},
        {"ab\xe2\x82", 2, "truncated"},        {"\xe2\x28\xa1", 0, "truncated"},
        {"caf\xc3", 3, "truncated"},           {"\xf0\x9f\x98 x", 0, "truncated"},
    };
    ig_wordpiece *wp = make();
    int32_t ids[16];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(ig_wordpiece_encode(wp, cases[i].text, ids, 16, NULL), I2IG_ERR_TEXT);
        char where[64];
        snprintf(where, sizeof where, "byte offset %zu ", cases[i].offset);
        ck_assert_msg(strstr(i2ig_last_error(), where) && strstr(i2ig_last_error(), cases[i].why),
                      "case %zu: %s", i, i2ig_last_error());
    }
    /* The extreme valid forms pass: U+007F, U+07FF, U+D7FF, U+E000,
     * U+FFFF, U+10FFFF. */
    ck_assert_int_eq(ig_wordpiece_encode(wp, "\x7f\xdf\xbf\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
                                             "\xf4\x8f\xbf\xbf", ids, 16, NULL),
                     I2IG_OK);
    ig_wordpiece_free(wp);
}
END_TEST

START_TEST(vocabulary_checks)
{
    ig_wordpiece *wp = (ig_wordpiece *)1;
    const char *v[NV + 2];
    /* Each required token missing in turn. */
    for (int k = 0; k < 4; k++) {
        memcpy(v, VOCAB, sizeof VOCAB);
        v[k] = "unused";
        ck_assert_int_eq(ig_wordpiece_create(v, NV, &wp), I2IG_ERR_METADATA);
        ck_assert_ptr_null(wp);
        ck_assert_ptr_nonnull(strstr(i2ig_last_error(), VOCAB[k]));
    }
    /* Duplicates keep the last index (HF's load_vocab fills a dict). */
    memcpy(v, VOCAB, sizeof VOCAB);
    v[NV] = "mri";
    v[NV + 1] = "[CLS]";
    ck_assert_int_eq(ig_wordpiece_create(v, NV + 2, &wp), I2IG_OK);
    ck_assert_uint_eq(ig_wordpiece_vocab_size(wp), NV + 2);
    EXPECT(wp, "this mri", (int32_t)NV + 1, 5, (int32_t)NV, SEP);
    ig_wordpiece_free(wp);
    /* Invalid UTF-8 in an entry, NULL entries, empty vocabulary. */
    memcpy(v, VOCAB, sizeof VOCAB);
    v[7] = "mr\xc3";
    ck_assert_int_eq(ig_wordpiece_create(v, NV, &wp), I2IG_ERR_METADATA);
    ck_assert_ptr_nonnull(strstr(i2ig_last_error(), "token 7"));
    v[7] = NULL;
    ck_assert_int_eq(ig_wordpiece_create(v, NV, &wp), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ig_wordpiece_create(VOCAB, 0, &wp), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ig_wordpiece_create(NULL, 3, &wp), I2IG_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(ig_wordpiece_create(VOCAB, NV, NULL), I2IG_ERR_INVALID_ARGUMENT);
    ig_wordpiece_free(NULL);
}
END_TEST

START_TEST(speed_full_vocabulary)
{
    /* 30522 entries like PubMedBERT's, the real ones among them. */
    enum { N = 30522 };
    static char store[N][16];
    static const char *v[N];
    for (size_t i = 0; i < NV; i++) v[i] = VOCAB[i];
    unsigned x = 12345;
    for (size_t i = NV; i < N; i++) {
        size_t len = 2 + i % 10, p = 0;
        if (i % 3 == 0) {
            store[i][p++] = '#';
            store[i][p++] = '#';
        }
        for (size_t k = 0; k < len; k++) {
            x = x * 1103515245u + 12345u;
            store[i][p++] = (char)('a' + (x >> 16) % 26);
        }
        store[i][p] = 0;
        v[i] = store[i];
    }
    ig_wordpiece *wp = NULL;
    ck_assert_int_eq(ig_wordpiece_create(v, N, &wp), I2IG_OK);
    const char *prompts[] = {"this MRI is T1-weighted", "this MRI is Flair-weighted",
                             "this is pelvis ct", "R\xc3\xa9sum\xc3\xa9 of an unaffable MRI"};
    int32_t ids[256];
    struct timespec t0, t1;
    enum { REPS = 20000 };
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int r = 0; r < REPS; r++)
        ck_assert_int_eq(ig_wordpiece_encode(wp, prompts[r % 4], ids, 256, NULL), I2IG_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / REPS;
    printf("wordpiece: %.2f us per prompt with a %d-token vocabulary\n", us, N);
    ck_assert_double_lt(us, 500.0); /* a linear vocabulary scan would take milliseconds */
    ig_wordpiece_free(wp);
}
END_TEST

static Suite *wordpiece_suite(void)
{
    Suite *s = suite_create("wordpiece");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, reference_prompts);
    tcase_add_test(tc, basic_rules);
    tcase_add_test(tc, long_words);
    tcase_add_test(tc, special_tokens_in_text);
    tcase_add_test(tc, context_length);
    tcase_add_test(tc, invalid_utf8);
    tcase_add_test(tc, vocabulary_checks);
    tcase_add_test(tc, speed_full_vocabulary);
    suite_add_tcase(s, tc);
    return s;
}

TU_RUN(wordpiece_suite)
