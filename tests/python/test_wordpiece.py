"""The C WordPiece tokenizer (lib/encoder/wordpiece.c) against the pure-Python
transcription of HuggingFace's BertTokenizer (ref_wordpiece.py): medical
prompts, random prompts, every Unicode code point, the context-length and
UTF-8 errors, vocabulary checks. Runs under /usr/bin/python3."""
import ctypes
import os
import random
import sys
import time
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_wordpiece as ref  # noqa: E402

I2IG_OK, I2IG_ERR_INVALID_ARGUMENT, I2IG_ERR_METADATA, I2IG_ERR_TEXT = 0, 1, 16, 22
CTX = 256

_lib = None


def lib():
    global _lib
    if _lib is None:
        path = os.path.join(os.environ.get("I2IG_BUILD_DIR", "build"), "tests", "shim",
                            "libi2ig_wpshim.so")
        _lib = ctypes.CDLL(path)
        _lib.wpt_create.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
                                    ctypes.POINTER(ctypes.c_void_p)]
        _lib.wpt_free.argtypes = [ctypes.c_void_p]
        _lib.wpt_vocab_size.argtypes = [ctypes.c_void_p]
        _lib.wpt_vocab_size.restype = ctypes.c_size_t
        _lib.wpt_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                    ctypes.POINTER(ctypes.c_int32), ctypes.c_size_t,
                                    ctypes.POINTER(ctypes.c_size_t)]
        _lib.wpt_last_error.restype = ctypes.c_char_p
        _lib.wpt_unicode_version.restype = ctypes.c_char_p
        _lib.wpt_category.argtypes = [ctypes.c_int32]
        _lib.wpt_category.restype = ctypes.c_char_p
        _lib.wpt_nfd.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_int32), ctypes.c_int]
        _lib.wpt_tolower.argtypes = [ctypes.c_int32]
        _lib.wpt_tolower.restype = ctypes.c_int32
    return _lib


def last_error():
    return lib().wpt_last_error().decode()


class CTokenizer:
    def __init__(self, lines):
        arr = (ctypes.c_char_p * len(lines))(*[t.encode("utf-8") for t in lines])
        h = ctypes.c_void_p()
        st = lib().wpt_create(arr, len(lines), ctypes.byref(h))
        if st != I2IG_OK:
            raise ValueError(st, last_error())
        self.h = h

    def __del__(self):
        if getattr(self, "h", None):
            lib().wpt_free(self.h)

    def encode_raw(self, data, ctx=CTX):
        """(status, ids, n_tokens) for the UTF-8 bytes data."""
        ids = (ctypes.c_int32 * ctx)()
        n = ctypes.c_size_t(12345)
        st = lib().wpt_encode(self.h, data, ids, ctx, ctypes.byref(n))
        return st, list(ids), n.value

    def encode(self, text, ctx=CTX):
        return self.encode_raw(text.encode("utf-8"), ctx)


# -------------------------------------------------------------------------
# Test vocabulary: special tokens first, then single characters and "##"
# continuations, medical words and sub-words, accented/CJK/other scripts,
# and one duplicate ("mri" again at the end: HF keeps the last index).
# -------------------------------------------------------------------------
def build_vocab():
    v = [ref.PAD, "[unused0]", "[unused1]", ref.UNK, ref.CLS, ref.SEP, ref.MASK]
    for c in map(chr, range(33, 127)):
        if not ("A" <= c <= "Z"):
            v.append(c)
    for c in "abcdefghijklmnopqrstuvwxyz0123456789":
        v.append("##" + c)
    v += ["this", "is", "mri", "t1", "t2", "weighted", "##weight", "##ed", "##ing", "flair", "pd",
          "pelvis", "ct", "scan", "brain", "axial", "sagittal", "coronal", "image", "of", "the",
          "with", "contrast", "gad", "##olin", "##ium", "resume", "angstrom", "cafe", "naive",
          "##mm", "mm", "##ms", "ms", "te", "tr", "##/", "dwi", "adc", "b", "##0", "1000", "fat",
          "sat", "##ura", "##tion", "t", "##1", "##2", "un", "##aff", "##able", "x", "##ray",
          "head", "neck", "lesion", "tumor", "tumour", "in", "and", "to", "a", "an", "de",
          "patient", "year", "old", "male", "female", "kg", "cm", "°", "±", "µ", "×", "–", "—",
          "“", "”", "‘", "’", "«", "»", "¿", "¡", "§", "¶", "·", "•", "…", "€", "£", "¥", "©",
          "脑", "部", "豈", "廓", "##\U0001d165", "##\U0001d16d", "\U0001d165", "磁", "共", "振", "影", "像", "骨", "盆", "丽",
          "ο", "##δ", "##ο", "##σ", "##ς", "οδοσ", "μ", "α", "β", "γ", "##α", "##β",
          "한", "##국", "국", "ᄒ", "##ᅡ", "##ᆫ", "##ᄀ", "##ᅮ", "##ᆨ",
          "и", "##и", "мрт", "с", "##н", "##и", "##м", "##о", "##к",
          "ß", "æ", "##æ", "ø", "œ", "ł", "đ", "i", "ı", "ǆ", "##ǆ",
          "ﬁ", "##ﬁ", "ｔ", "##１", "①", "²", "##²", "½", "ⅱ",
          "😀", "🧠"]
    v += ["mri"]  # duplicate: the last index wins
    return v


PROMPTS = [
    # the reference prompts of I2I-Galip
    "this MRI is T1-weighted",
    "this MRI is T2-weighted",
    "this MRI is PD-weighted",
    "this MRI is Flair-weighted",
    "this is pelvis ct",
    "this is pelvis mri",
    # punctuation, digits, units
    "Axial T1-weighted MRI, gadolinium-enhanced (0.1 mmol/kg).",
    "TE=100ms; TR=2000ms; b=1000 s/mm²",
    "DWI/ADC: b0 & b1000 @ 3T!",
    "lesion 12.5×8.0 cm ± 0.3 cm at 37°C",
    "a 45-year-old male, 70 kg; CT head w/o contrast?",
    "\"quoted\" 'single' `back` ^caret^ $dollar ~tilde~ |pipe| {brace} [bracket] <angle>",
    "x-ray: AP/lateral … follow-up — “normal” ‘ok’ «bien» ¿qué? ¡sí!",
    "§1 ¶2 · item • bullet © 2024 €5 £3 ¥7",
    # accents, case, other scripts
    "Résumé of the CAFÉ patient: naïve MRI",
    "Ångström-scale Å Å",
    "ΟΔΟΣ οδος ΣΣ Σ",
    "µ-mm μ α-β-γ",
    "Straße ÆØŒ æøœ Łódź Đakovo ǅ Ǆ",
    "İstanbul ıı İI",
    "한국 국 韓國 MRI",
    "МРТ с контрастом",
    "脑部磁共振影像 骨盆CT",
    "CT骨盆mri丽",
    "\uf900mri\ufa10ct\uf9fbx",
    # two spacing marks out of canonical order: NFD reorders them
    "x\U0001d16d\U0001d165 x\U0001d165\U0001d16d x\U0001d16d\u0301\U0001d165",
    "ﬁbrosis ｔ１ ① ² ½ ⅱ",
    # tabs, newlines, control and format characters, odd spaces
    "this\tMRI\nis\r\nT1-weighted",
    "T1\x01\x02\x7f\x1b-weighted\u200b\u200dflair\ufeff",
    "pelvis\u00a0ct\u2003mri\u3000scan\u2028brain\u2029axial\u0085coronal",
    "MRI\x1cscan\x1dhead\x1eneck\x1fsat\x0bfat\x0cfat",
    "\ufffdMRI\ufffd \ue000private\U000F0000use",
    "e\u0301 e\u0323\u0301 e\u0301\u0323 \u0301\u0301 a\u0328\u0301",
    "\u1fef\u1fedx \u037ex \u1ffd",
    # emoji and symbols
    "brain 🧠 scan 😀 ok 👍🏽 🇩🇪",
    "arrow → ≤ ≥ ≠ ∑ √",
    # unknown words, words that cannot be pieced, long words
    "unaffable weightedx T1-weightedness zzz",
    "qwertyuiop asdfghjkl",
    "a" * 100,
    "a" * 101,
    "b" * 99 + "é",
    "Ab" * 60,
    "-" * 150,
    "é" * 101,
    # special tokens written in the text
    "[CLS] this [SEP] is [MASK] [PAD] [UNK]",
    "x[MASK]y[SEP]z",
    "[cls] [Sep] [ MASK ] [[MASK]] [MASK",
    "[SE\x01P] [C\u0301LS]",
    # empty and blank prompts
    "",
    " ",
    "\t\n\r \u3000",
    "\x01\x02",
    "-",
]


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def test_prompts(c, r):
    n = 0
    for p in PROMPTS:
        want = r.encode_padded(p, CTX)
        st, ids, ntok = c.encode(p)
        check(want is not None, f"reference: {p!r} does not fit")
        check(st == I2IG_OK, f"{p!r}: status {st}: {last_error()}")
        check(ids == want, f"{p!r}:\n C  {ids[:40]}\n py {want[:40]}")
        check(ntok == len(r.encode(p)), f"{p!r}: n_tokens {ntok}")
        n += 1
    check(n >= 30, "at least 30 prompts")
    # A C string ends at NUL; HF would drop the NUL and read on.
    st, ids, ntok = c.encode("T1\x00weighted")
    check(st == I2IG_OK and ids == r.encode_padded("T1", CTX), "text ends at NUL")
    # The reference prompts, spelled out against the vocabulary (an
    # independent hand check of the reference itself).
    v = r.vocab
    want = [v["[CLS]"], v["this"], v["mri"], v["is"], v["t1"], v["-"], v["weighted"],
            v["[SEP]"]]
    check(r.encode("this MRI is T1-weighted") == want, "reference prompt by hand")
    check(v["mri"] == len(build_vocab()) - 1, "duplicate keeps the last index")
    return n


ALPHABET = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 3 +
            list(" \t\n\r-.,;:/()[]#'\"!?&@^`~|{}<>") +
            ["é", "É", "\u0301", "\u0323", "Å", "ß", "İ", "ı", "Σ", "ς", "σ", "脑", "部",
             "\U00020000", "\uf900", "\U0001d165", "\U0001d16d", "한", "ᄒ", "\u200b", "\x01", "\x7f", "\u00a0", "\u3000", "\u2028",
             "\ufffd", "\ue000", "😀", "🧠", "µ", "²", "ﬁ", "–", "“", "«", "·", "\u1fef",
             "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[cls]", "[", "]",
             "mri", "MRI", "weighted", "##", "t1", "T2"])


def test_random(c, r, count=3000, seed=1234):
    rng = random.Random(seed)
    for i in range(count):
        p = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
        want = r.encode(p)
        ctx = max(2, len(want)) if i % 3 == 0 else CTX
        st, ids, ntok = c.encode(p, ctx)
        check(st == I2IG_OK, f"{p!r}: status {st}: {last_error()}")
        check(ids == want + [r.token_id(ref.PAD)] * (ctx - len(want)),
              f"{p!r}:\n C  {ids[:len(want) + 2]}\n py {want}")
        check(ntok == len(want), f"{p!r}: n_tokens")
    return count


def python_unassigned(cp):
    return unicodedata.category(chr(cp)) == "Cn"


def test_every_code_point():
    """Every code point (but NUL and the surrogates) through both
    tokenizers, alone and glued between two letters ("c aca"), with a
    vocabulary holding every single-character result of the reference (also
    as a "##" continuation), so each id names the exact normalised string
    and the glued form shows how the character splits words. Only code
    points unassigned in Python's Unicode tables may differ (utf8proc's
    tables are newer)."""
    cps = [cp for cp in range(1, 0x110000) if not 0xD800 <= cp <= 0xDFFF]
    results = {"a"}
    for cp in cps:
        results.update(ref.basic_tokenize(chr(cp)))
    specials = [ref.PAD, ref.UNK, ref.CLS, ref.SEP, ref.MASK]
    results -= set(specials)
    lines = specials + sorted(results) + sorted("##" + t for t in results)
    r = ref.RefBertTokenizer(lines)
    c = CTokenizer(lines)

    def item(cp):
        return f"{chr(cp)} a{chr(cp)}a"

    def same(text):
        want = r.encode(text)
        st, ids, ntok = c.encode(text, len(want) + 8)
        return st == I2IG_OK and ids[:len(want)] == want and ntok == len(want)

    batch = 64
    bad = []
    for b in range(0, len(cps), batch):
        group = cps[b:b + batch]
        if not same(" ".join(map(item, group))):
            bad += [cp for cp in group if not same(item(cp))]
    unexplained = [cp for cp in bad if not python_unassigned(cp)]
    check(not unexplained, "code points that differ although Python's tables assign them: " +
          " ".join(f"U+{cp:04X}" for cp in unexplained[:50]))
    # Where they differ, utf8proc must know the character (newer Unicode).
    newer = [cp for cp in bad if lib().wpt_category(cp) == b"Cn"]
    check(not newer, f"differences on code points utf8proc does not assign: {newer[:20]}")
    return len(cps), bad


def test_unicode_properties():
    """utf8proc against unicodedata on every character the prompts use:
    category, canonical decomposition, lower-case mapping."""
    chars = sorted({ch for p in PROMPTS + ALPHABET for ch in p} |
                   {ch for t in build_vocab() for ch in t})
    out = (ctypes.c_int32 * 8)()
    for ch in chars:
        cp = ord(ch)
        if cp == 0:
            continue
        cat = lib().wpt_category(cp).decode()
        check(cat == unicodedata.category(ch), f"U+{cp:04X}: category {cat} vs "
              f"{unicodedata.category(ch)}")
        n = lib().wpt_nfd(cp, out, 8)
        got = "".join(chr(out[i]) for i in range(n))
        check(got == unicodedata.normalize("NFD", ch), f"U+{cp:04X}: NFD {got!r}")
        low = chr(lib().wpt_tolower(cp))
        want = ch.lower()
        if cp == 0x130:  # the one full (two-character) mapping, handled in C
            check(want == "i\u0307" and low == "i", "U+0130")
        else:
            check(low == want, f"U+{cp:04X}: lower {low!r} vs {want!r}")
    return len(chars)


def test_context_length(c, r):
    # Empty prompt: [CLS] [SEP] then padding.
    st, ids, n = c.encode("")
    v = r.vocab
    check(st == I2IG_OK and ids == [v["[CLS]"], v["[SEP]"]] + [v["[PAD]"]] * (CTX - 2) and n == 2,
          "empty prompt")
    # Exactly filling the context, then one token too many.
    words = " ".join(["mri"] * (CTX - 2))
    st, ids, n = c.encode(words)
    check(st == I2IG_OK and n == CTX and ids == r.encode(words), "exactly full context")
    st, ids, n = c.encode(words + " ct")
    check(st == I2IG_ERR_TEXT, f"one token too many: status {st}")
    msg = last_error()
    check(str(CTX + 1) in msg and str(CTX) in msg, f"message gives both counts: {msg}")
    check(n == CTX + 1, f"n_tokens on overflow {n}")
    # A piece split across the boundary: "unaffable" is 3 pieces.
    p = " ".join(["mri"] * (CTX - 4)) + " unaffable"
    st, ids, n = c.encode(p)
    check(st == I2IG_ERR_TEXT and n == CTX + 1, "multi-piece word over the boundary")
    st, ids, n = c.encode(p, CTX + 1)
    check(st == I2IG_OK and ids == r.encode(p), "same prompt with room")
    # Too small a context for [CLS] and [SEP].
    st, _, _ = c.encode("", 1)
    check(st == I2IG_ERR_INVALID_ARGUMENT, "context length 1")
    st, ids, n = c.encode("", 2)
    check(st == I2IG_OK and n == 2, "context length 2")
    return 8


INVALID_UTF8 = [
    (b"\xc0\xaf", 0), (b"ok \xc1\xbf", 3), (b"\xe0\x80\xaf", 0), (b"ab\xe0\x9f\xbf", 2),
    (b"\xf0\x80\x80\xaf", 0), (b"\xf0\x8f\xbf\xbf", 0), (b"mri \xed\xa0\x80", 4),
    (b"\xed\xbf\xbf", 0), (b"\xf4\x90\x80\x80", 0), (b"x\xf5\x80\x80\x80", 1),
    (b"\xff", 0), (b"T1\x80", 2), (b"ab\xe2\x82", 2), (b"\xe2\x28\xa1", 0),
    (b"\xf0\x9f\x98", 0), (b"caf\xc3", 3), (b"\xc3\xa9\xc3", 2), (b"ok\xf8\x88\x80\x80\x80", 2),
]


def test_invalid_utf8(c):
    for data, offset in INVALID_UTF8:
        # Python's own decoder agrees that the bytes are not UTF-8, and
        # where.
        try:
            data.decode("utf-8")
            raise AssertionError(f"{data!r} decodes in Python")
        except UnicodeDecodeError as e:
            check(e.start == offset, f"{data!r}: Python says offset {e.start}")
        st, _, _ = c.encode_raw(data)
        check(st == I2IG_ERR_TEXT, f"{data!r}: status {st}")
        check(f"byte offset {offset}" in last_error(), f"{data!r}: {last_error()}")
    # The largest valid forms of each length still pass.
    for ok in ["\x7f", "\u07ff", "\uffff", "\U0010ffff", "\ud7ff", "\ue000"]:
        st, _, _ = c.encode(ok)
        check(st == I2IG_OK, f"valid {ok!r}")
    return len(INVALID_UTF8)


def test_vocab_errors():
    base = build_vocab()
    for missing in (ref.UNK, ref.CLS, ref.SEP, ref.PAD):
        lines = [t for t in base if t != missing]
        try:
            CTokenizer(lines)
            raise AssertionError(f"vocabulary without {missing} accepted")
        except ValueError as e:
            st, msg = e.args
            check(st == I2IG_ERR_METADATA and missing in msg, f"{missing}: {st} {msg}")
    # Duplicates of the special tokens: the last index is used, as in HF.
    lines = base + [ref.PAD, ref.CLS]
    c, r = CTokenizer(lines), ref.RefBertTokenizer(lines)
    st, ids, _ = c.encode("this MRI")
    check(st == I2IG_OK and ids == r.encode_padded("this MRI", CTX), "duplicate specials")
    check(ids[0] == len(lines) - 1 and ids[-1] == len(lines) - 2, "last index of [CLS]/[PAD]")
    check(lib().wpt_vocab_size(c.h) == len(lines), "vocab size counts every line")
    return 6


def test_vocab_file(tmp):
    """HF reads vocab.txt in text mode: \\r\\n and a lone \\r end lines too."""
    path = os.path.join(tmp, "vocab_crlf.txt")
    base = build_vocab()
    with open(path, "wb") as f:
        f.write("\r\n".join(base).encode("utf-8") + b"\r\n")
    lines = ref.read_vocab_file(path)
    check(lines == base, "CRLF vocabulary reads back as the lines")


def test_speed(c):
    lines = build_vocab()
    # A vocabulary the size of PubMedBERT's (30522 entries).
    rng = random.Random(5)
    while len(lines) < 30522:
        w = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 12)))
        lines.append(w if rng.random() < 0.6 else "##" + w)
    big = CTokenizer(lines)
    ids = (ctypes.c_int32 * CTX)()
    n = ctypes.c_size_t()
    data = "this MRI is T1-weighted".encode()
    reps = 20000
    t0 = time.perf_counter()
    for _ in range(reps):
        lib().wpt_encode(big.h, data, ids, CTX, ctypes.byref(n))
    dt = (time.perf_counter() - t0) / reps
    return dt


def main():
    vocab = build_vocab()
    r = ref.RefBertTokenizer(vocab)
    c = CTokenizer(vocab)
    counts = {}
    counts["prompts"] = test_prompts(c, r)
    counts["random prompts"] = test_random(c, r)
    counts["context-length cases"] = test_context_length(c, r)
    counts["invalid UTF-8 cases"] = test_invalid_utf8(c)
    counts["vocabulary cases"] = test_vocab_errors()
    tmp = os.environ.get("I2IG_TEST_TMP") or os.path.join(os.environ.get("I2IG_BUILD_DIR", "/tmp"),
                                                         "tests", "python")
    os.makedirs(tmp, exist_ok=True)
    test_vocab_file(tmp)
    counts["characters with utf8proc = unicodedata"] = test_unicode_properties()
    n_cps, bad = test_every_code_point()
    counts["code points"] = n_cps
    dt = test_speed(c)
    for k, n in counts.items():
        print(f"  {n:8d} {k}")
    print(f"utf8proc Unicode {lib().wpt_unicode_version().decode()}, Python unicodedata "
          f"{unicodedata.unidata_version}: {len(bad)} code points differ, all unassigned in "
          f"Python's tables (first: {' '.join(f'U+{cp:04X}' for cp in bad[:6])})")
    print(f"encode 'this MRI is T1-weighted' with a 30522-token vocabulary: "
          f"{dt * 1e6:.2f} us per call (ctypes included)")
    check(dt < 200e-6, "tokenizing a prompt takes microseconds")
    print("test_wordpiece: all passed")


if __name__ == "__main__":
    main()
