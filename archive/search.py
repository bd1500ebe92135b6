"""Chinese full-text search over the archive: index text and query translation.

Why not a stock tokenizer: SQLite's ``unicode61`` sees a whole unspaced run of
Chinese as one token (so ``校服`` finds nothing inside ``抽查校服质量``), and
``trigram`` cannot match the two-character words journalists mostly type.
And sources mix scripts: a query in simplified must find traditional text.

So the index is built here, in Python, and handed to FTS5 already tokenised:
text is normalised (NFKC, OpenCC ``t2s``, lower case) and written as
space-separated tokens that ``unicode61`` splits on the spaces only.  Plain
SQLite (no plugin, no Python) can therefore still open and MATCH the table.

Token layout of one column (the *main sequence*, then a *unigram tail*):

* a Han run of 2+ characters -> its overlapping bigrams (``质监局`` -> ``质监 监局``);
* a Han run of 1 character    -> that character;
* any other run of letters/digits -> one lower-cased word (``GB18401`` -> ``gb18401``);
* after the whole main sequence: every character of the 2+ runs, once per
  occurrence, so a one-character query still finds them.

Keeping unigrams out of the main sequence keeps phrase adjacency across a
script boundary (``GB18401标准`` -> ``gb18401 标准``).  Bigram and unigram
tokens never collide (different lengths), so no column filters are needed.

A query term goes through the same normalisation and becomes an FTS5 phrase
of its main sequence, so ``校服`` matches the bigram ``校服`` and nothing in
``校园服装``.  Query language (see :func:`parse_query`): whitespace = AND,
``"..."`` (or “...”) = phrase, ``OR`` between two terms, ``-term`` = NOT.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# 〇 (the Chinese zero), Extension A, CJK Unified Ideographs, Compatibility, Extensions B-H.
HAN_RANGES = ((0x3007, 0x3007), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
HAN = "".join(chr(lo) if lo == hi else f"{chr(lo)}-{chr(hi)}" for lo, hi in HAN_RANGES)
_RUN = re.compile(rf"[{HAN}]+|[^\W_{HAN}]+")
_QUERY_BITS = re.compile(r'-?"[^"]*"?|\S+')

# A token the indexer never writes (Han tokens are one or two characters):
# the translation of a query with nothing positive in it.
MATCH_NOTHING = '"一一一"'


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """OpenCC t2s, the same conversion the cleaning chain uses for ``body_simplified``."""
    return _t2s().convert(text) if text else ""


def normalise(text: str) -> str:
    """What both the index and the queries see: NFKC (full-width latin, compat ideographs), t2s, lower case."""
    return to_simplified(unicodedata.normalize("NFKC", text or "")).lower()


def runs(text: str) -> list[str]:
    """Han runs and latin/digit words of already-normalised text, in order."""
    return _RUN.findall(text)


_SPACE, _WORD, _HAN_CLASS = 32, 1, 2


@lru_cache(maxsize=1)
def _char_classes():
    """The class of every BMP code point: 0 neither, ``_WORD`` a letter or digit (``\\w`` but ``_``: what
    ``_RUN``'s second alternative takes), ``_HAN_CLASS`` Han.  A few ms, once."""
    import numpy as np

    classes = np.fromiter(map(str.isalnum, "".join(map(chr, range(0x10000)))), dtype=np.uint8, count=0x10000)
    for lo, hi in HAN_RANGES:
        classes[lo:min(hi, 0xFFFF) + 1] = _HAN_CLASS
    return classes


def _classify(code: int) -> int:
    if any(lo <= code <= hi for lo, hi in HAN_RANGES):
        return _HAN_CLASS
    return _WORD if chr(code).isalnum() else 0


def _token_chars(norm: str):
    """The main sequence and the unigram tail of already-normalised text as arrays of code points, each token
    followed by a space.

    The same tokens as going through ``runs`` run by run, computed over the whole text at once: that loop,
    one bigram string at a time, was three quarters of indexing an article, and the search index is a
    third of storing one.  Each character is classed (Han, letter or digit, neither); a position then writes a
    bigram (it and the next are Han), a lone Han character, or its letter (plus a space when its word ends).
    """
    import numpy as np

    chars = np.frombuffer(norm.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    classes = _char_classes()[np.minimum(chars, 0xFFFF)]
    astral = np.flatnonzero(chars > 0xFFFF)
    if len(astral):
        classes[astral] = [_classify(int(code)) for code in chars[astral]]
    han, word = classes == _HAN_CLASS, classes == _WORD
    han_next, han_prev = np.zeros_like(han), np.zeros_like(han)
    han_next[:-1], han_prev[1:] = han[1:], han[:-1]
    word_end = word.copy()
    word_end[:-1] &= ~word[1:]
    bigram, single = han & han_next, han & ~(han_prev | han_next)
    length = 3 * bigram + 2 * single + word + word_end  # characters each position writes, spaces included
    end = np.cumsum(length)
    start = end - length
    main = np.full(int(end[-1]) if len(end) else 0, _SPACE, dtype="<u4")
    at = np.flatnonzero(bigram)
    main[start[at]], main[start[at] + 1] = chars[at], chars[at + 1]
    for mask in (single, word):
        at = np.flatnonzero(mask)
        main[start[at]] = chars[at]
    in_runs = chars[han & ~single]  # the characters of Han runs of two or more, for the unigram tail
    tail = np.full(2 * len(in_runs), _SPACE, dtype="<u4")
    tail[::2] = in_runs
    return main, tail


def _decode(chars) -> str:
    """Code points with a trailing space as a string without it."""
    return chars[:-1].tobytes().decode("utf-32-le", "surrogatepass") if len(chars) else ""


def _main_tokens(norm: str) -> list[str]:
    return _decode(_token_chars(norm)[0]).split()


def index_text(text: str | None) -> str:
    """The FTS5 column value for ``text``: main sequence, then the unigram tail."""
    import numpy as np

    return _decode(np.concatenate(_token_chars(normalise(text or ""))))


INDEX_FUNCTION = "qsnews_index_text"
# Bump when index_text() changes: a different fingerprint makes the archive rebuild its index.
TOKENIZER_VERSION = 1


def index_fingerprint() -> str:
    """Everything the indexed tokens depend on: this tokenizer and OpenCC's dictionaries."""
    import opencc

    return f"bigram-{TOKENIZER_VERSION} opencc-{getattr(opencc, '__version__', 'unknown')}"


# 1 while the connection's writer indexes new articles itself (archive.store's batches); the insert trigger
# steps aside.  Registered as 0 for everyone else, so any writer with these functions keeps the index current.
INDEX_LATER_FUNCTION = "qsnews_index_later"


def register_functions(conn, index_later=lambda: 0) -> None:
    """``qsnews_index_text(text)`` and ``qsnews_index_later()``, which the index triggers call; without them
    nobody can add an article or change a title or body."""
    conn.create_function(INDEX_FUNCTION, 1, index_text, deterministic=True)
    conn.create_function(INDEX_LATER_FUNCTION, 0, index_later)  # not deterministic: it is read at every row


def term_tokens(term: str) -> list[str]:
    """The tokens a query term must match as a phrase (its main sequence)."""
    return _main_tokens(normalise(term))


@dataclass(frozen=True)
class Query:
    """A parsed user query: ``groups`` are ANDed, the terms inside one group ORed."""

    groups: tuple[tuple[str, ...], ...]
    excluded: tuple[str, ...]

    def positive_terms(self) -> list[str]:
        return [term for group in self.groups for term in group]


def parse_query(text: str) -> Query:
    """Split a search-box string into terms.

    ``OR`` (upper case, as in FTS5 and web search engines) joins its two
    neighbours; ``-term`` excludes; a leading ``-`` on a quoted phrase works
    too.  Curly quotes are accepted because Chinese input methods type them.
    Terms with nothing searchable in them (punctuation) are dropped.
    """
    text = (text or "").replace("“", '"').replace("”", '"').replace("「", '"').replace("」", '"')
    groups: list[list[str]] = []
    excluded: list[str] = []
    join_next = False
    for bit in _QUERY_BITS.findall(text):
        if bit == "OR":
            join_next = bool(groups)
            continue
        negated = bit.startswith("-") and len(bit) > 1
        term = (bit[1:] if negated else bit).strip('"')
        if not term_tokens(term):
            continue
        if negated:
            excluded.append(term)
        elif join_next:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    return Query(tuple(tuple(g) for g in groups), tuple(excluded))


def _phrase(term: str) -> str:
    return '"' + " ".join(term_tokens(term)) + '"'


def to_fts_query(text: str | None) -> str:
    """Translate a search-box string into an FTS5 MATCH expression over the bigram index.

    Registered as this database's ``escape_fts`` in Datasette, so ``?_search=``
    on the articles table goes through it.  Tokens are only letters, digits
    and Han characters, so quoting them can never produce FTS5 syntax errors.
    """
    query = parse_query(text or "")
    if not query.groups:
        return MATCH_NOTHING
    positive = " AND ".join(
        "(" + " OR ".join(_phrase(t) for t in group) + ")" if len(group) > 1 else _phrase(group[0])
        for group in query.groups
    )
    if not query.excluded:
        return positive
    return f"({positive}) NOT ({' OR '.join(_phrase(t) for t in query.excluded)})"
