/* BERT WordPiece tokenizer (uncased) reproducing HuggingFace transformers'
 * slow BertTokenizer as open_clip's HFTokenizer calls it for BiomedCLIP
 * (src/transformers/tokenization_utils.py PreTrainedTokenizer.tokenize,
 * src/transformers/models/bert/tokenization_bert.py BasicTokenizer and
 * WordpieceTokenizer). The steps, in HF's order:
 *   1. exact special-token strings ([CLS], [SEP], [PAD], [UNK], [MASK]) in
 *      the raw text become their ids; the text between them is tokenized on
 *      its own (PreTrainedTokenizer.tokenize's no-split tokens);
 *   2. drop NUL, U+FFFD and every category-C character except \t \n \r;
 *      whitespace (\t \n \r, Zs) separates words, and so do U+2028/U+2029,
 *      which _clean_text keeps but Python's str.split() splits on;
 *   3. every CJK ideograph is a word of its own;
 *   4. per word: lower-case, NFD, drop Mn, split off each punctuation
 *      character (ASCII non-alphanumerics and category P*);
 *   5. greedy longest-match-first WordPiece with "##" continuations; a
 *      piece of more than 100 characters, or one that cannot be covered by
 *      vocabulary entries, becomes a single [UNK].
 * Unicode properties come from utf8proc, so the Unicode version is
 * utf8proc's (see tests/python/test_wordpiece.py for where it differs from
 * the Python that ran the reference). */
#include "encoder/wordpiece.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "core/error.h"
#include "core/mem.h"

#define WP_MAX_CHARS 100
/* Worst-case bytes of a piece WordPiece looks up: 100 characters of 4
 * bytes. */
#define WP_PIECE_BYTES (WP_MAX_CHARS * 4)

enum { SP_PAD, SP_UNK, SP_CLS, SP_SEP, SP_MASK, SP_COUNT };
static const char *const special_names[SP_COUNT] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                    "[MASK]"};

struct ig_wordpiece {
    size_t n;             /* number of ids */
    char *arena;          /* every token's bytes, NUL-terminated */
    size_t *off;          /* token i starts at arena + off[i] */
    uint32_t *len;        /* its length in bytes */
    uint32_t *slots;      /* open-addressing table of id + 1 (0: empty) */
    size_t mask;          /* slot count - 1 (a power of two minus one) */
    size_t max_len;       /* longest token in bytes: longer pieces cannot match */
    int32_t special[SP_COUNT]; /* ids, -1 where absent ([MASK] only) */
};

/* FNV-1a, 64 bit; `prefixed` hashes "##" before the bytes so that a
 * continuation is looked up without building the string. */
static uint64_t hash_bytes(const char *s, size_t n, bool prefixed)
{
    uint64_t h = 1469598103934665603ull;
    if (prefixed) {
        h = (h ^ (uint8_t)'#') * 1099511628211ull;
        h = (h ^ (uint8_t)'#') * 1099511628211ull;
    }
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static bool token_equals(const ig_wordpiece *wp, uint32_t id, const char *s, size_t n,
                         bool prefixed)
{
    size_t want = n + (prefixed ? 2 : 0);
    if (wp->len[id] != want) return false;
    const char *t = wp->arena + wp->off[id];
    if (prefixed) {
        if (t[0] != '#' || t[1] != '#') return false;
        t += 2;
    }
    return memcmp(t, s, n) == 0;
}

/* Id of the token ("##" + s when prefixed), or -1. */
static int32_t lookup(const ig_wordpiece *wp, const char *s, size_t n, bool prefixed)
{
    if (n + (prefixed ? 2 : 0) > wp->max_len) return -1;
    size_t i = (size_t)hash_bytes(s, n, prefixed) & wp->mask;
    for (;;) {
        uint32_t v = wp->slots[i];
        if (v == 0) return -1;
        if (token_equals(wp, v - 1, s, n, prefixed)) return (int32_t)(v - 1);
        i = (i + 1) & wp->mask;
    }
}

/* ---------------------------------------------------------------------- */
/* UTF-8                                                                    */
/* ---------------------------------------------------------------------- */

/* Decodes one well-formed scalar value at s (n bytes left); returns its
 * length, or 0 with *why set when the bytes are not well-formed UTF-8
 * (Unicode 15, table 3-7: no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated sequence). */
static size_t utf8_decode(const unsigned char *s, size_t n, int32_t *cp, const char **why)
{
    unsigned b = s[0];
    if (b < 0x80) {
        *cp = (int32_t)b;
        return 1;
    }
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    int32_t v;
    if (b >= 0x80 && b <= 0xBF) {
        *why = "continuation byte without a lead byte";
        return 0;
    } else if (b == 0xC0 || b == 0xC1) {
        *why = "overlong 2-byte sequence";
        return 0;
    } else if (b <= 0xDF) {
        len = 2;
        v = (int32_t)(b & 0x1F);
    } else if (b <= 0xEF) {
        len = 3;
        v = (int32_t)(b & 0x0F);
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b <= 0xF4) {
        len = 4;
        v = (int32_t)(b & 0x07);
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        *why = "byte 0xF5-0xFF never occurs in UTF-8";
        return 0;
    }
    for (size_t k = 1; k < len; k++) {
        if (k >= n || (s[k] & 0xC0) != 0x80) {
            *why = "truncated multi-byte sequence";
            return 0;
        }
        unsigned c = s[k];
        if (k == 1 && (c < lo || c > hi)) {
            *why = b == 0xE0 || b == 0xF0 ? "overlong multi-byte sequence"
                   : b == 0xED            ? "UTF-16 surrogate encoded in UTF-8"
                                          : "code point above U+10FFFF";
            return 0;
        }
        v = (v << 6) | (int32_t)(c & 0x3F);
    }
    *cp = v;
    return len;
}

static size_t utf8_encode(int32_t cp, char *out)
{
    return (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)out);
}

/* Finds the first byte of s (n bytes) that does not start a well-formed
 * UTF-8 sequence; false if there is none. */
static bool find_bad_utf8(const char *s, size_t n, size_t *at, const char **why)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = utf8_decode(u + i, n - i, &cp, why);
        if (k == 0) {
            *at = i;
            return true;
        }
        i += k;
    }
    return false;
}

/* ---------------------------------------------------------------------- */
/* Vocabulary                                                               */
/* ---------------------------------------------------------------------- */

void ig_wordpiece_free(ig_wordpiece *wp)
{
    if (!wp) return;
    free(wp->arena);
    free(wp->off);
    free(wp->len);
    free(wp->slots);
    free(wp);
}

size_t ig_wordpiece_vocab_size(const ig_wordpiece *wp) { return wp ? wp->n : 0; }

/* A duplicate token keeps its last index, as HF's load_vocab (a dict
 * filled in file order) does. */
static void insert(ig_wordpiece *wp, uint32_t id)
{
    const char *s = wp->arena + wp->off[id];
    size_t n = wp->len[id];
    size_t i = (size_t)hash_bytes(s, n, false) & wp->mask;
    while (wp->slots[i] != 0) {
        if (token_equals(wp, wp->slots[i] - 1, s, n, false)) break;
        i = (i + 1) & wp->mask;
    }
    wp->slots[i] = id + 1;
}

i2ig_status ig_wordpiece_create(const char *const *tokens, size_t n, ig_wordpiece **out)
{
    if (!out) return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "wordpiece: NULL output handle");
    *out = NULL;
    if (!tokens || n == 0)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "wordpiece: empty vocabulary");
    /* Ids are int32 and the table stores id + 1 in 32 bits. */
    if (n > (size_t)INT32_MAX)
        return ig_fail(I2IG_ERR_TOO_LARGE, "wordpiece: vocabulary of %zu tokens exceeds %d", n,
                       INT32_MAX);

    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!tokens[i])
            return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "wordpiece: vocabulary token %zu is NULL", i);
        size_t l = strlen(tokens[i]);
        if (l > UINT32_MAX)
            return ig_fail(I2IG_ERR_TOO_LARGE, "wordpiece: vocabulary token %zu is %zu bytes long",
                           i, l);
        size_t at;
        const char *why;
        if (find_bad_utf8(tokens[i], l, &at, &why))
            return ig_fail(I2IG_ERR_METADATA,
                           "wordpiece: vocabulary token %zu: invalid UTF-8 at byte offset %zu: %s", i,
                           at, why);
        if (!ig_add_size(total, l + 1, &total))
            return ig_fail(I2IG_ERR_TOO_LARGE, "wordpiece: vocabulary size overflows");
    }

    size_t cap = 16;
    while (cap < n * 2) cap *= 2; /* n <= INT32_MAX: no overflow */
    size_t off_bytes, len_bytes, slot_bytes;
    if (!ig_mul_size(n, sizeof(size_t), &off_bytes) || !ig_mul_size(n, sizeof(uint32_t), &len_bytes) ||
        !ig_mul_size(cap, sizeof(uint32_t), &slot_bytes))
        return ig_fail(I2IG_ERR_TOO_LARGE, "wordpiece: vocabulary of %zu tokens too large", n);

    ig_wordpiece *wp = calloc(1, sizeof *wp);
    if (!wp) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "wordpiece: handle");
    wp->arena = malloc(total);
    wp->off = malloc(off_bytes);
    wp->len = malloc(len_bytes);
    wp->slots = calloc(cap, sizeof(uint32_t));
    if (!wp->arena || !wp->off || !wp->len || !wp->slots) {
        ig_wordpiece_free(wp);
        return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "wordpiece: vocabulary of %zu tokens (%zu bytes)", n,
                       total);
    }
    wp->n = n;
    wp->mask = cap - 1;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(tokens[i]);
        memcpy(wp->arena + pos, tokens[i], l + 1);
        wp->off[i] = pos;
        wp->len[i] = (uint32_t)l;
        if (l > wp->max_len) wp->max_len = l;
        pos += l + 1;
        insert(wp, (uint32_t)i);
    }
    for (int k = 0; k < SP_COUNT; k++) {
        const char *name = special_names[k];
        wp->special[k] = lookup(wp, name, strlen(name), false);
        if (wp->special[k] < 0 && k != SP_MASK) {
            ig_wordpiece_free(wp);
            return ig_fail(I2IG_ERR_METADATA,
                           "wordpiece: vocabulary of %zu tokens has no '%s' token", n, name);
        }
    }
    *out = wp;
    return I2IG_OK;
}

/* ---------------------------------------------------------------------- */
/* Character classes (HF's _is_control, _is_whitespace, _is_punctuation,    */
/* _is_chinese_char)                                                        */
/* ---------------------------------------------------------------------- */

typedef enum { CH_DROP, CH_SPACE, CH_CJK, CH_WORD } char_class;

static bool is_cjk(int32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static char_class classify(int32_t cp)
{
    if (cp == 0 || cp == 0xFFFD) return CH_DROP;
    if (cp == '\t' || cp == '\n' || cp == '\r' || cp == ' ') return CH_SPACE;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN: return CH_DROP;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: return CH_SPACE;
    default: break;
    }
    return is_cjk(cp) ? CH_CJK : CH_WORD;
}

static bool is_punct(int32_t cp)
{
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
        (cp >= 123 && cp <= 126))
        return true;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: return true;
    default: return false;
    }
}

/* ---------------------------------------------------------------------- */
/* Encoding                                                                 */
/* ---------------------------------------------------------------------- */

typedef struct {
    const ig_wordpiece *wp;
    int32_t *ids;
    size_t ctx;
    size_t pieces;  /* emitted so far, without [CLS] and [SEP] */
    int32_t *raw;   /* the current word as written */
    size_t n_raw, cap_raw;
    int32_t *norm;  /* the word lower-cased, NFD, without Mn */
    size_t cap_norm;
} encoder_state;

/* Writes a piece id after [CLS] while there is room for it and [SEP];
 * beyond that only counts, so the error can say how many were needed. */
static void emit(encoder_state *st, int32_t id)
{
    if (st->pieces + 2 < st->ctx) st->ids[1 + st->pieces] = id;
    st->pieces++;
}

static i2ig_status push_raw(encoder_state *st, int32_t cp)
{
    if (st->n_raw == st->cap_raw) {
        size_t cap = st->cap_raw ? st->cap_raw * 2 : 64, bytes;
        if (!ig_mul_size(cap, sizeof(int32_t), &bytes))
            return ig_fail(I2IG_ERR_TOO_LARGE, "wordpiece: word too long");
        int32_t *p = realloc(st->raw, bytes);
        if (!p) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "wordpiece: word buffer of %zu bytes", bytes);
        st->raw = p;
        st->cap_raw = cap;
    }
    st->raw[st->n_raw++] = cp;
    return I2IG_OK;
}

/* WordpieceTokenizer.tokenize on one punctuation-free piece (or one
 * punctuation character) of cps. */
static void wordpiece(encoder_state *st, const int32_t *cps, size_t n)
{
    const ig_wordpiece *wp = st->wp;
    int32_t unk = wp->special[SP_UNK];
    if (n == 0) return;
    if (n > WP_MAX_CHARS) {
        emit(st, unk);
        return;
    }
    char buf[WP_PIECE_BYTES];
    size_t at[WP_MAX_CHARS + 1]; /* byte offset of each character */
    at[0] = 0;
    for (size_t i = 0; i < n; i++) at[i + 1] = at[i] + utf8_encode(cps[i], buf + at[i]);

    /* The pieces are only emitted once the whole word is covered: a word
     * with an uncoverable rest is one [UNK]. */
    int32_t found[WP_MAX_CHARS];
    size_t n_found = 0;
    for (size_t start = 0; start < n;) {
        int32_t id = -1;
        size_t end = n;
        for (; end > start; end--) {
            id = lookup(wp, buf + at[start], at[end] - at[start], start > 0);
            if (id >= 0) break;
        }
        if (id < 0) {
            emit(st, unk);
            return;
        }
        found[n_found++] = id;
        start = end;
    }
    for (size_t i = 0; i < n_found; i++) emit(st, found[i]);
}

/* Stable sort of each run of non-starters by canonical combining class
 * (the canonical ordering step of NFD). */
static void canonical_order(int32_t *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int32_t c = s[i];
        int cc = utf8proc_get_property(c)->combining_class;
        if (cc == 0) continue;
        size_t j = i;
        while (j > 0) {
            int pc = utf8proc_get_property(s[j - 1])->combining_class;
            if (pc <= cc) break;
            s[j] = s[j - 1];
            j--;
        }
        s[j] = c;
    }
}

/* BasicTokenizer on one whitespace-delimited word, then WordPiece. */
static i2ig_status flush_word(encoder_state *st)
{
    size_t n = st->n_raw;
    if (n == 0) return I2IG_OK;
    st->n_raw = 0;
    /* Lower-casing gives at most 2 code points (U+0130), each of which
     * decomposes into at most 4. */
    size_t need;
    if (!ig_mul_size(n, 8, &need) || !ig_mul_size(need, sizeof(int32_t), &need))
        return ig_fail(I2IG_ERR_TOO_LARGE, "wordpiece: word too long");
    if (need / sizeof(int32_t) > st->cap_norm) {
        int32_t *p = realloc(st->norm, need);
        if (!p) return ig_fail(I2IG_ERR_OUT_OF_MEMORY, "wordpiece: word buffer of %zu bytes", need);
        st->norm = p;
        st->cap_norm = need / sizeof(int32_t);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        /* Python's str.lower(): the simple lower-case mapping except
         * U+0130, whose full mapping is "i" + U+0307. */
        int32_t low[2];
        int n_low = 1;
        if (st->raw[i] == 0x130) {
            low[0] = 0x69;
            low[1] = 0x307;
            n_low = 2;
        } else {
            low[0] = utf8proc_tolower(st->raw[i]);
        }
        for (int k = 0; k < n_low; k++) {
            utf8proc_ssize_t r =
                utf8proc_decompose_char(low[k], st->norm + m, 4, UTF8PROC_DECOMPOSE, NULL);
            if (r < 0 || r > 4)
                return ig_fail(I2IG_ERR_INTERNAL, "wordpiece: decomposition of U+%04X failed",
                               (unsigned)low[k]);
            m += (size_t)r;
        }
    }
    canonical_order(st->norm, m);
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (utf8proc_category(st->norm[i]) != UTF8PROC_CATEGORY_MN) st->norm[k++] = st->norm[i];
    m = k;

    size_t start = 0;
    for (size_t i = 0; i < m; i++) {
        if (!is_punct(st->norm[i])) continue;
        wordpiece(st, st->norm + start, i - start);
        wordpiece(st, st->norm + i, 1);
        start = i + 1;
    }
    wordpiece(st, st->norm + start, m - start);
    return I2IG_OK;
}

/* The special token whose exact string starts at s, or -1. Only tokens
 * the vocabulary has are recognised. */
static int special_at(const ig_wordpiece *wp, const char *s)
{
    if (*s != '[') return -1;
    for (int k = 0; k < SP_COUNT; k++) {
        size_t l = strlen(special_names[k]);
        if (wp->special[k] >= 0 && strncmp(s, special_names[k], l) == 0) return k;
    }
    return -1;
}

static i2ig_status tokenize(encoder_state *st, const char *text, size_t len)
{
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        int sp = special_at(st->wp, text + i);
        if (sp >= 0) {
            IG_TRY(flush_word(st));
            emit(st, st->wp->special[sp]);
            i += strlen(special_names[sp]);
            continue;
        }
        int32_t cp;
        const char *why;
        i += utf8_decode(u + i, len - i, &cp, &why); /* validated before */
        switch (classify(cp)) {
        case CH_DROP: break;
        case CH_SPACE: IG_TRY(flush_word(st)); break;
        case CH_CJK:
            IG_TRY(flush_word(st));
            IG_TRY(push_raw(st, cp));
            IG_TRY(flush_word(st));
            break;
        case CH_WORD: IG_TRY(push_raw(st, cp)); break;
        }
    }
    return flush_word(st);
}

i2ig_status ig_wordpiece_encode(const ig_wordpiece *wp, const char *text, int32_t *ids,
                                size_t context_length, size_t *n_tokens)
{
    if (n_tokens) *n_tokens = 0;
    if (!wp || !text || !ids)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT, "wordpiece: NULL %s",
                       !wp ? "tokenizer" : !text ? "text" : "ids");
    if (context_length < 2)
        return ig_fail(I2IG_ERR_INVALID_ARGUMENT,
                       "wordpiece: context length %zu cannot hold [CLS] and [SEP]", context_length);
    size_t len = strlen(text), at;
    const char *why;
    if (find_bad_utf8(text, len, &at, &why))
        return ig_fail(I2IG_ERR_TEXT, "prompt: invalid UTF-8 at byte offset %zu (0x%02X): %s", at,
                       (unsigned)(unsigned char)text[at], why);

    encoder_state st = {.wp = wp, .ids = ids, .ctx = context_length};
    i2ig_status s = tokenize(&st, text, len);
    free(st.raw);
    free(st.norm);
    if (s != I2IG_OK) return s;

    size_t total = st.pieces + 2;
    if (n_tokens) *n_tokens = total;
    if (total > context_length)
        return ig_fail(I2IG_ERR_TEXT,
                       "prompt: %zu tokens with [CLS] and [SEP] exceed the context length %zu",
                       total, context_length);
    ids[0] = wp->special[SP_CLS];
    ids[total - 1] = wp->special[SP_SEP];
    for (size_t i = total; i < context_length; i++) ids[i] = wp->special[SP_PAD];
    return I2IG_OK;
}
