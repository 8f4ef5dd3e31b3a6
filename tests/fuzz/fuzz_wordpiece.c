/* WordPiece tokenizer: a fixed vocabulary (special tokens, whole words,
 * "##" pieces, accented and CJK entries), the prompt is the input. Checks
 * the contract on every input: I2IG_OK fills exactly context_length ids
 * ([CLS] first, [SEP] last, [PAD] after), every id is inside the
 * vocabulary (special-token strings in the prompt map to their ids, as in
 * HF); a failure is I2IG_ERR_TEXT only. The same
 * prompt is also encoded with a short context, which must fail or agree
 * with the long one's first ids. */
#include <string.h>

#include "encoder/wordpiece.h"
#include "fuzz_common.h"

static const char *const VOCAB[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "this", "is", "mri", "t1", "-", "weighted",
    "##weight", "##ed", "flair", "pd", "pelvis", "ct", "t2", "resume", "angstrom", ".", ",",
    "un", "##aff", "##able", "\xe8\x84\x91", "a", "##a", "[", "]", "mask", "(", ")", "$", "^",
    "\xcf\x83", "i", "##i", "##s", "##ing", "brain", "head", "scan", "of", "the", "and",
    "##1", "##2", "1", "2", "e", "##e", "\xc3\xa9", "##\xc3\xa9", "x", "##x", "##"};
#define NV (sizeof VOCAB / sizeof VOCAB[0])

static ig_wordpiece *wp;
static char *text;
static size_t text_cap;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (ig_wordpiece_create(VOCAB, NV, &wp) != I2IG_OK) abort();
    return 0;
}

enum { CTX = 256, SHORT = 8 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size + 1 > text_cap) {
        free(text);
        text = malloc(size + 1);
        text_cap = text ? size + 1 : 0;
        if (!text) return 0;
    }
    memcpy(text, data, size);
    text[size] = 0; /* an embedded NUL simply ends the prompt early */
    int32_t ids[CTX], ids2[SHORT];
    size_t n = 0, n2 = 0;
    i2ig_status st = ig_wordpiece_encode(wp, text, ids, CTX, &n);
    if (st != I2IG_OK && st != I2IG_ERR_TEXT) abort();
    if (st == I2IG_OK) {
        if (n < 2 || n > CTX || ids[0] != 2 || ids[n - 1] != 3) abort();
        for (size_t i = 0; i < CTX; i++) {
            if (ids[i] < 0 || (size_t)ids[i] >= NV) abort();
            if (i >= n && ids[i] != 0) abort();
        }
    }
    i2ig_status st2 = ig_wordpiece_encode(wp, text, ids2, SHORT, &n2);
    if (st2 != I2IG_OK && st2 != I2IG_ERR_TEXT) abort();
    if (st2 == I2IG_OK) {
        if (st != I2IG_OK || n2 != n || memcmp(ids, ids2, n * sizeof ids[0])) abort();
    } else if (st == I2IG_OK && n <= SHORT) {
        abort(); /* fits in the short context, yet refused there */
    }
    return 0;
}
