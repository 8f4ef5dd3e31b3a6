/* Test-only shared library: the WordPiece tokenizer and the utf8proc
 * properties it relies on, for tests/python/test_wordpiece.py. Not
 * installed, not part of the library's ABI. */
#include <stdint.h>
#include <string.h>

#include <utf8proc.h>

#include "encoder/wordpiece.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT int wpt_create(const char *const *tokens, size_t n, ig_wordpiece **out);
EXPORT void wpt_free(ig_wordpiece *wp);
EXPORT size_t wpt_vocab_size(const ig_wordpiece *wp);
EXPORT int wpt_encode(const ig_wordpiece *wp, const char *text, int32_t *ids, size_t ctx,
                      size_t *n_tokens);
EXPORT const char *wpt_last_error(void);
EXPORT const char *wpt_unicode_version(void);
EXPORT const char *wpt_category(int32_t cp);
EXPORT int wpt_nfd(int32_t cp, int32_t *out, int cap);
EXPORT int32_t wpt_tolower(int32_t cp);

int wpt_create(const char *const *tokens, size_t n, ig_wordpiece **out)
{
    return (int)ig_wordpiece_create(tokens, n, out);
}
void wpt_free(ig_wordpiece *wp) { ig_wordpiece_free(wp); }
size_t wpt_vocab_size(const ig_wordpiece *wp) { return ig_wordpiece_vocab_size(wp); }
int wpt_encode(const ig_wordpiece *wp, const char *text, int32_t *ids, size_t ctx,
               size_t *n_tokens)
{
    return (int)ig_wordpiece_encode(wp, text, ids, ctx, n_tokens);
}
const char *wpt_last_error(void) { return i2ig_last_error(); }
const char *wpt_unicode_version(void) { return utf8proc_unicode_version(); }

/* Two-letter general category, as Python's unicodedata.category. */
const char *wpt_category(int32_t cp)
{
    static const char *const names[] = {"Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd",
                                        "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm",
                                        "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"};
    unsigned c = (unsigned)utf8proc_category(cp);
    return c < sizeof names / sizeof names[0] ? names[c] : "??";
}

/* Canonical decomposition of one code point (no reordering needed for a
 * single character's decomposition). */
int wpt_nfd(int32_t cp, int32_t *out, int cap)
{
    return (int)utf8proc_decompose_char(cp, out, cap, UTF8PROC_DECOMPOSE, NULL);
}
int32_t wpt_tolower(int32_t cp) { return utf8proc_tolower(cp); }
