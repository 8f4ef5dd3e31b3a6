/* BERT WordPiece tokenizer (uncased): BasicTokenizer rules (clean text,
 * split on whitespace, lower-case, strip accents via NFD, split punctuation
 * and CJK ideographs) then greedy longest-match-first WordPiece with "##"
 * continuations and [UNK] for words that cannot be pieced (or longer than
 * 100 characters), as HuggingFace's BertTokenizer does for BiomedCLIP's
 * PubMedBERT vocabulary. */
#ifndef IG_ENCODER_WORDPIECE_H
#define IG_ENCODER_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "i2igalip.h"

typedef struct ig_wordpiece ig_wordpiece;

/* Builds the tokenizer from the vocabulary (token i has id i; the
 * vocabulary must contain [PAD], [UNK], [CLS] and [SEP]). The strings are
 * copied. */
i2ig_status ig_wordpiece_create(const char *const *tokens, size_t n, ig_wordpiece **out);
void ig_wordpiece_free(ig_wordpiece *wp);
size_t ig_wordpiece_vocab_size(const ig_wordpiece *wp);

/* Encodes a NUL-terminated UTF-8 text into exactly context_length ids:
 * [CLS] pieces [SEP] then [PAD]. *n_tokens (may be NULL) receives the
 * count including [CLS] and [SEP]. Invalid UTF-8, or a text whose pieces
 * do not fit, gives I2IG_ERR_TEXT with a message saying which. */
i2ig_status ig_wordpiece_encode(const ig_wordpiece *wp, const char *text, int32_t *ids,
                                size_t context_length, size_t *n_tokens);

#endif
