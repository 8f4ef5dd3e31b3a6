"""Pure-Python reference of HuggingFace transformers' slow, uncased
BertTokenizer as open_clip's HFTokenizer calls it for BiomedCLIP:
    tokenizer(texts, max_length=L, padding='max_length', truncation=True)

Written from the logic of (repository huggingface/transformers):
  src/transformers/models/bert/tokenization_bert.py (read at commit
    0232d90c2c9c6d7e800500937159733ba90195d6): load_vocab,
    whitespace_tokenize, BasicTokenizer (tokenize, _clean_text,
    _tokenize_chinese_chars, _is_chinese_char, _run_strip_accents,
    _run_split_on_punc), WordpieceTokenizer.tokenize, BertTokenizer._tokenize,
    _convert_token_to_id, build_inputs_with_special_tokens;
  src/transformers/tokenization_utils.py (read at commit
    0030ccfba87223b1719d73caf94191bc61692557): _is_whitespace, _is_control,
    _is_punctuation and PreTrainedTokenizer.tokenize (the text outside
    special tokens is lower-cased character by character when
    do_lower_case, then split on the no-split special tokens, whose
    neighbours are stripped; each remaining chunk goes to _tokenize).
Each function below names the HF function whose behaviour it reproduces.
Only Python's standard library (unicodedata, re) is used, so the Unicode
tables are those of the running interpreter (unicodedata.unidata_version).

Two deliberate differences from calling HF are kept outside this module:
  - HF truncates silently; encode() returns the untruncated ids and the
    caller decides (the C library refuses a prompt that does not fit);
  - open_clip's HFTokenizer cleans the text first (ftfy.fix_text,
    html.unescape twice, runs of whitespace -> one space); that layer is not
    part of BertTokenizer and is not reproduced here.
"""
import re
import unicodedata

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
MAX_INPUT_CHARS_PER_WORD = 100


def vocab_from_lines(lines):
    """load_vocab: token -> line index; a token listed twice keeps its last
    index (a dict filled in file order)."""
    vocab = {}
    for index, token in enumerate(lines):
        vocab[token] = index
    return vocab


def read_vocab_file(path):
    """load_vocab's reading: text mode (universal newlines: \\r\\n and \\r
    end lines too), each line without its trailing \\n."""
    with open(path, "r", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f.readlines()]


def split_on_whitespace(text):
    """whitespace_tokenize: Python's str.strip() then str.split()."""
    text = text.strip()
    return text.split() if text else []


def is_whitespace(ch):
    """_is_whitespace: space, \\t, \\n, \\r or category Zs."""
    return ch in (" ", "\t", "\n", "\r") or unicodedata.category(ch) == "Zs"


def is_control(ch):
    """_is_control: any category C* except \\t, \\n, \\r."""
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    """_is_punctuation: every ASCII character that is not a letter, digit,
    space or control, and every category P* character."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def is_cjk(cp):
    """BasicTokenizer._is_chinese_char."""
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


def clean_text(text):
    """BasicTokenizer._clean_text: drop NUL, U+FFFD and control characters;
    whitespace characters become a space."""
    out = []
    for ch in text:
        if ord(ch) == 0 or ord(ch) == 0xFFFD or is_control(ch):
            continue
        out.append(" " if is_whitespace(ch) else ch)
    return "".join(out)


def space_cjk(text):
    """BasicTokenizer._tokenize_chinese_chars: a space on both sides of each
    CJK ideograph."""
    return "".join(" " + ch + " " if is_cjk(ord(ch)) else ch for ch in text)


def strip_accents(word):
    """BasicTokenizer._run_strip_accents: NFD, then drop category Mn."""
    return "".join(ch for ch in unicodedata.normalize("NFD", word)
                   if unicodedata.category(ch) != "Mn")


def split_punctuation(word, never_split):
    """BasicTokenizer._run_split_on_punc: each punctuation character is a
    piece of its own; the runs between them are pieces."""
    if word in never_split:
        return [word]
    pieces = []
    new_piece = True
    for ch in word:
        if is_punctuation(ch):
            pieces.append(ch)
            new_piece = True
        else:
            if new_piece:
                pieces.append("")
            pieces[-1] += ch
            new_piece = False
    return pieces


def basic_tokenize(text, never_split=()):
    """BasicTokenizer.tokenize with do_lower_case=True,
    tokenize_chinese_chars=True, strip_accents=None."""
    never_split = set(never_split)
    text = space_cjk(clean_text(text))
    pieces = []
    for word in split_on_whitespace(text):
        if word not in never_split:
            word = strip_accents(word.lower())
        pieces.extend(split_punctuation(word, never_split))
    return split_on_whitespace(" ".join(pieces))


def wordpiece(text, vocab, unk=UNK):
    """WordpieceTokenizer.tokenize: greedy longest match first, "##" before
    every piece but the first; a word longer than 100 characters, or one
    with a rest no vocabulary entry matches, is a single [UNK]."""
    out = []
    for word in split_on_whitespace(text):
        if len(word) > MAX_INPUT_CHARS_PER_WORD:
            out.append(unk)
            continue
        pieces = []
        start = 0
        while start < len(word):
            end = len(word)
            match = None
            while end > start:
                cand = word[start:end] if start == 0 else "##" + word[start:end]
                if cand in vocab:
                    match = cand
                    break
                end -= 1
            if match is None:
                pieces = None
                break
            pieces.append(match)
            start = end
        out.extend([unk] if pieces is None else pieces)
    return out


class RefBertTokenizer:
    """BertTokenizer(do_lower_case=True) from a list of vocabulary lines."""

    def __init__(self, lines):
        self.vocab = vocab_from_lines(lines)
        # BertTokenizer's special tokens; their sorted set is
        # unique_no_split_tokens, all_special_tokens its attribute order.
        self.all_special_tokens = [UNK, SEP, PAD, CLS, MASK]
        self.no_split = sorted(set(self.all_special_tokens))

    def _tokenize(self, text):
        """BertTokenizer._tokenize (never_split = the special tokens)."""
        out = []
        for tok in basic_tokenize(text, never_split=self.all_special_tokens):
            out += wordpiece(tok, self.vocab)
        return out

    def tokenize(self, text):
        """PreTrainedTokenizer.tokenize."""
        # Lower-case everything outside special tokens, one character per
        # match of "(.+?)" (so a final capital sigma becomes σ, never ς).
        pattern = "(" + "|".join(re.escape(t) for t in self.all_special_tokens) + ")|(.+?)"
        text = re.sub(pattern, lambda m: m.groups()[0] or m.groups()[1].lower(), text)
        if not text.strip():
            return []
        chunks = [text]
        for tok in self.no_split:
            nxt = []
            for chunk in chunks:
                nxt += [chunk] if chunk in self.no_split else self._split_on(tok, chunk)
            chunks = nxt
        out = []
        for chunk in chunks:
            out += [chunk] if chunk in self.no_split else self._tokenize(chunk)
        return out

    @staticmethod
    def _split_on(tok, text):
        """split_on_token for a plain-string special token: the text around
        each occurrence is stripped on the side facing the token."""
        parts = text.split(tok)
        out = []
        for i, sub in enumerate(parts):
            if i < len(parts) - 1:
                sub = sub.rstrip()
            if i > 0:
                sub = sub.lstrip()
            if i == 0 and not sub:
                out.append(tok)
            elif i == len(parts) - 1:
                if sub:
                    out.append(sub)
            else:
                if sub:
                    out.append(sub)
                out.append(tok)
        return out

    def token_id(self, token):
        """BertTokenizer._convert_token_to_id."""
        return self.vocab.get(token, self.vocab.get(UNK))

    def encode(self, text):
        """[CLS] + ids + [SEP] (build_inputs_with_special_tokens), not
        truncated and not padded."""
        return [self.token_id(CLS)] + [self.token_id(t) for t in self.tokenize(text)] + \
            [self.token_id(SEP)]

    def encode_padded(self, text, context_length):
        """encode() padded with [PAD] to context_length, or None when it does
        not fit (where HF would truncate)."""
        ids = self.encode(text)
        if len(ids) > context_length:
            return None
        return ids + [self.token_id(PAD)] * (context_length - len(ids))
